package reports

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/noderoll/noderoll/analysis"
	"github.com/noderoll/noderoll/plan"
	"github.com/noderoll/noderoll/remediate"
	"github.com/noderoll/noderoll/sim"
)

// Report is what the HTML and Markdown reports show: one simulation
// result per strategy run, and what is known about them besides.
type Report struct {
	// Title heads the page; empty means "Node OS replacement".
	Title string
	// Results has one result per strategy run, in the order given (the
	// page ranks them itself, see Rank).
	Results []*sim.Result
	// Preflight is the static analysis of the snapshot; nil leaves its
	// section out.
	Preflight *analysis.Report
	// Bands are Monte Carlo duration bands, by Label of the result.
	Bands map[string]analysis.Band
	// Sweep is a batch-size sweep (rolling results that differ only by
	// batch size); nil means the rolling results among Results when there
	// are three or more.
	Sweep []*sim.Result
	// Findings are what a comparison measured (analysis.Findings), shown
	// under the comparison table.
	Findings []string
	// Fixes, when set, is the fix search for one strategy: the report then
	// has a "Before / after fixes" section, and its headline names the run
	// that can be approved once the fixes are made.
	Fixes *remediate.Outcome
}

// Label names a result as the CLI names a strategy run: "rolling:10%",
// "migration", with the order when it is not the default ("rolling:5%
// order=zone").
func Label(r *sim.Result) string {
	l := r.Strategy
	if b := r.Params["batchSize"]; b != "" {
		l += ":" + b
	}
	var extra []string
	for _, k := range sortedKeys(r.Params) {
		if k == "batchSize" || (k == "order" && r.Params[k] == "name") {
			continue
		}
		extra = append(extra, k+"="+r.Params[k])
	}
	if len(extra) > 0 {
		l += " " + strings.Join(extra, " ")
	}
	return l
}

// Safe reports whether a result shows none of what a change board refuses
// (analysis.Safe).
func Safe(r *sim.Result) bool { return analysis.Safe(r) }

// Rank returns the indexes of results, best first: the comparison's own
// ranking (analysis.RankOrder), so that the verdict, the tables and
// `compare` agree.
func Rank(results []*sim.Result) []int { return analysis.RankOrder(results) }

// Verdict is the one sentence a change board reads first, built from the
// numbers: which run to approve and why, or why none should be.
func Verdict(results []*sim.Result) string { return verdict(results, nil) }

// verdict is Verdict with the P90 of the run's Monte Carlo band, when
// there is one.
func verdict(results []*sim.Result, bands map[string]analysis.Band) string {
	if len(results) == 0 {
		return "Nothing was simulated."
	}
	rank := Rank(results)
	best := results[rank[0]]
	s := best.Summary
	took := humanShort(s.DurationSeconds)
	if b, ok := bands[Label(best)]; ok {
		took += fmt.Sprintf(" (P90 %s over %d runs)", humanShort(b.P90Seconds), b.Runs)
	}
	what := fmt.Sprintf("finishes in %s with %s", took, impact(best))
	if !Safe(best) {
		if len(results) == 1 {
			return fmt.Sprintf("Do not approve %s as it stands: it %s; fix the critical risks below first.", Label(best), what)
		}
		return fmt.Sprintf("Approve none as it stands: the best run, %s, still %s; fix the critical risks below first.", Label(best), what)
	}
	if len(results) == 1 {
		return fmt.Sprintf("Approve %s: it %s.", Label(best), what)
	}
	// Against the fastest other run: what the approved one buys.
	var fastest *sim.Result
	for _, i := range rank[1:] {
		if r := results[i]; fastest == nil || r.Summary.DurationSeconds < fastest.Summary.DurationSeconds {
			fastest = r
		}
	}
	why := ""
	switch d := s.DurationSeconds - fastest.Summary.DurationSeconds; {
	case d > 0:
		why = fmt.Sprintf("; %s is %s faster but %s", Label(fastest), humanShort(d), impact(fastest))
	default:
		why = fmt.Sprintf("; it is also the fastest (next: %s, %s)", Label(fastest), humanShort(fastest.Summary.DurationSeconds))
	}
	return fmt.Sprintf("Approve %s: it %s%s.", Label(best), what, why)
}

// impact says what a run does to the workloads, worst first.
func impact(r *sim.Result) string {
	s := r.Summary
	var parts []string
	add := func(n int, one, many string) {
		if n == 1 {
			parts = append(parts, one)
		} else if n > 1 {
			parts = append(parts, fmt.Sprintf(many, n))
		}
	}
	add(analysis.OutagesNotAccepted(r), "1 Service down", "%d Services down")
	add(s.OutagesAccepted, "1 accepted outage", "%d accepted outages")
	add(s.StuckNodes, "1 drain stuck", "%d drains stuck")
	add(s.PendingAtEnd, "1 pod left pending", "%d pods left pending")
	add(s.LostPods, "1 pod lost", "%d pods lost")
	add(s.ServicesDegraded, "1 Service degraded", "%d Services degraded")
	if len(parts) == 0 {
		return "no Service down or degraded and every pod placed"
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

// SweepPoint is one batch size of a sweep.
type SweepPoint struct {
	Label           string  `json:"label"`
	BatchSize       string  `json:"batchSize"`
	Nodes           int     `json:"nodesPerBatch"`
	DurationSeconds float64 `json:"durationSeconds"`
	ServicesDown    int     `json:"servicesDown"`
	ServicesDegr    int     `json:"servicesDegraded"`
	Unschedulable   int     `json:"unschedulablePods"`
	PDBStallSeconds float64 `json:"pdbStallSeconds"`
}

// Sweep orders rolling results by nodes per batch and finds the knee where
// duration and risk trade off (analysis.Knee); knee is -1 with fewer than
// three points.
func Sweep(results []*sim.Result) (points []SweepPoint, knee int) {
	for _, r := range results {
		// Only plain rolling runs: another order or a variant is not a
		// point of the batch-size curve.
		if r.Strategy != "rolling" || len(r.Batches) == 0 || Label(r) != "rolling:"+r.Params["batchSize"] {
			continue
		}
		n := 0
		for _, b := range r.Batches {
			n = max(n, len(b.Nodes))
		}
		points = append(points, SweepPoint{Label: Label(r), BatchSize: r.Params["batchSize"], Nodes: n,
			DurationSeconds: r.Summary.DurationSeconds, ServicesDown: r.Summary.ServicesWithOutage,
			ServicesDegr: r.Summary.ServicesDegraded, Unschedulable: r.Summary.UnschedulablePods,
			PDBStallSeconds: r.Summary.PDBStallSeconds})
	}
	slices.SortStableFunc(points, func(a, b SweepPoint) int { return cmp.Compare(a.Nodes, b.Nodes) })
	// The knee is the comparison's own (analysis.Knee), so that the page
	// and `compare` name the same batch size.
	pts := make([]analysis.SweepPoint, len(points))
	for i, p := range points {
		pts[i] = analysis.SweepPoint{BatchNodes: p.Nodes, DurationSeconds: p.DurationSeconds,
			Risk: analysis.SweepRisk(sim.Summary{ServicesWithOutage: p.ServicesDown, ServicesDegraded: p.ServicesDegr, UnschedulablePods: p.Unschedulable})}
	}
	return points, analysis.Knee(pts)
}

// riskGroup is the risks of one code: how many, the worst severity, a few
// objects.
type riskGroup struct {
	Code     string        `json:"code"`
	Severity plan.Severity `json:"severity"`
	Count    int           `json:"count"`
	Objects  []string      `json:"objects"`
	Example  string        `json:"example"`
	Remedy   string        `json:"remedy"`
}

// groupRisks groups risks by code, worst first, then by count.
func groupRisks(risks []plan.Risk) []riskGroup {
	byCode := map[string]*riskGroup{}
	var out []*riskGroup
	for _, k := range risks {
		g := byCode[k.Code]
		if g == nil {
			g = &riskGroup{Code: k.Code, Severity: k.Severity, Example: k.Message, Remedy: Remedy(k.Code)}
			byCode[k.Code] = g
			out = append(out, g)
		}
		if k.Severity.Rank() < g.Severity.Rank() {
			g.Severity, g.Example = k.Severity, k.Message
		}
		g.Count++
		if len(g.Objects) < 3 {
			g.Objects = append(g.Objects, k.Object)
		}
	}
	slices.SortStableFunc(out, func(a, b *riskGroup) int {
		return cmp.Or(cmp.Compare(a.Severity.Rank(), b.Severity.Rank()), -cmp.Compare(a.Count, b.Count), cmp.Compare(a.Code, b.Code))
	})
	groups := make([]riskGroup, len(out))
	for i, g := range out {
		groups[i] = *g
	}
	return groups
}

// remedies say what to do about each risk code.
var remedies = map[string]string{
	plan.RiskSinglePointOfFailure: "Scale to 2 or more replicas on different nodes, or accept and announce the downtime.",
	plan.RiskAllReplicasInBatch:   "Spread the replicas (topology spread or anti-affinity) or use --order planned so that one batch never holds them all.",
	plan.RiskNoPDB:                "Add a PodDisruptionBudget (maxUnavailable: 1) so that drains keep replicas serving.",
	plan.RiskPDBBlocksEviction:    "Relax the budget or add a replica before the change; otherwise the drain waits for the budget.",
	plan.RiskUnmanagedPod:         "Put the pod under a controller (Deployment, StatefulSet) or accept that the drain deletes it.",
	plan.RiskLocalStorage:         "Plan the data move (replicate or back up) or use the migration strategy; the pod cannot leave its node.",
	plan.RiskEmptyDirData:         "Check that the emptyDir data is disposable; move it to a volume if not.",
	plan.RiskUnschedulable:        "Add capacity or use smaller batches; check affinity and taints that pin these pods.",
	plan.RiskCapacityShortfall:    "Use smaller batches or add temporary nodes (surge) before the change.",
	plan.RiskServiceOutage:        "Add replicas and a PodDisruptionBudget, or spread replicas so that no batch holds them all.",
	plan.RiskServiceDegraded:      "Check the Service tolerates the reduced capacity, or use smaller batches.",
	plan.RiskDrainStuck:           "Fix the blocking budget or pod before the change; the executor stops at this node.",
	plan.RiskPodMovedRepeatedly:   "Replace nodes in an order that moves pods onto already replaced nodes (zone order, or surge nodes first).",
	plan.RiskJobFailed:            "Let the Job finish before the change, raise its backoffLimit, or add a podFailurePolicy rule that ignores DisruptionTarget.",
	plan.RiskAssumedController:    "Check how the operator recreates its pods; set its identity (and hasScale) under controllers: in the --config file.",
}

// Remedy says what to do about a risk code.
func Remedy(code string) string {
	if r, ok := remedies[code]; ok {
		return r
	}
	return "Review before approving."
}

// humanShort formats seconds as 1h02m or 3m05s: minutes are enough past the
// hour.
func humanShort(sec float64) string {
	if sec >= 3600 {
		d := int64(math.Round(sec / 60))
		return fmt.Sprintf("%dh%02dm", d/60, d%60)
	}
	return human(sec)
}
