package analysis

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/noderoll/noderoll/plan"
	"github.com/noderoll/noderoll/sim"
	"github.com/noderoll/noderoll/sim/migration"
	"github.com/noderoll/noderoll/sim/rolling"
	"github.com/noderoll/noderoll/snapshot"
	"github.com/noderoll/noderoll/whatif"
)

// DefaultStrategies is the comparison made when none is asked for: rolling
// at 1%, 2%, 5%, 10% and 20%, and migration with a 10% seed.
var DefaultStrategies = []string{"rolling:1%", "rolling:2%", "rolling:5%", "rolling:10%", "rolling:20%", "migration:seed=0.1"}

// Strategy is one parsed SPEC of `noderoll compare --strategies`.
type Strategy struct {
	// Spec is the text it was parsed from: its name in the comparison.
	Spec string
	// Kind is "rolling" or "migration".
	Kind      string
	Rolling   rolling.Params
	Migration migration.Params
	// SurgeAuto (rolling, surge=auto): the run takes the fewest surge
	// nodes for which no batch has a capacity shortfall or an
	// unschedulable pod that surge can avoid (MinimalSurge).
	SurgeAuto bool
}

// SpecError is a SPEC that cannot be parsed; it names the spec and the key.
type SpecError struct {
	Spec, Key, Reason string
}

func (e *SpecError) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("strategy %q: %s", e.Spec, e.Reason)
	}
	return fmt.Sprintf("strategy %q: key %q: %s", e.Spec, e.Key, e.Reason)
}

// ParseStrategies splits a comma-separated list of SPECs. A SPEC is
// KIND[:ARG][,KEY=VALUE...]: a comma followed by KEY=VALUE continues the
// SPEC before it ("rolling:10%,surge=5,migration" is two SPECs).
//
//	rolling[:SIZE]  SIZE a count or a percentage (default 10%); keys:
//	                batch, order (name|zone|fewest-pods), surge (a count,
//	                or auto: the minimal surge, found by bisection),
//	                window, cordon-ahead
//	migration[:SEED] SEED the seed fraction; keys: seed (fraction),
//	                seed-nodes, wave-by (namespace|label:KEY),
//	                bandwidth (e.g. 100MiB/s), data (copy|dual-write)
func ParseStrategies(list string) ([]Strategy, error) {
	var specs []string
	for _, tok := range strings.Split(list, ",") {
		tok = strings.TrimSpace(tok)
		if tok == "" {
			continue
		}
		kind, _, _ := strings.Cut(tok, ":")
		if len(specs) > 0 && strings.Contains(tok, "=") && kind != "rolling" && kind != "migration" {
			specs[len(specs)-1] += "," + tok
			continue
		}
		specs = append(specs, tok)
	}
	if len(specs) == 0 {
		return nil, &SpecError{Spec: list, Reason: "no strategy given"}
	}
	out := make([]Strategy, 0, len(specs))
	seen := map[string]bool{}
	for _, sp := range specs {
		st, err := ParseStrategy(sp)
		if err != nil {
			return nil, err
		}
		if seen[st.Spec] {
			return nil, &SpecError{Spec: sp, Reason: "listed twice"}
		}
		seen[st.Spec] = true
		out = append(out, st)
	}
	return out, nil
}

// ParseStrategy parses one SPEC (see ParseStrategies).
func ParseStrategy(spec string) (Strategy, error) {
	parts := strings.Split(spec, ",")
	kind, arg, hasArg := strings.Cut(parts[0], ":")
	st := Strategy{Spec: spec, Kind: kind}
	kv := map[string]string{}
	var keys []string
	if hasArg && strings.Contains(arg, "=") {
		parts = append(parts, arg)
		hasArg, arg = false, ""
	}
	for _, p := range parts[1:] {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return st, &SpecError{Spec: spec, Key: p, Reason: "want KEY=VALUE"}
		}
		if _, dup := kv[k]; dup {
			return st, &SpecError{Spec: spec, Key: k, Reason: "given twice"}
		}
		kv[k] = v
		keys = append(keys, k)
	}
	atoi := func(k, v string) (int, error) {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, &SpecError{Spec: spec, Key: k, Reason: fmt.Sprintf("%q: want a count", v)}
		}
		return n, nil
	}
	var err error
	switch kind {
	case "rolling":
		st.Rolling = rolling.Params{BatchSize: "10%", Order: rolling.OrderName}
		if hasArg {
			st.Rolling.BatchSize = arg
		}
		for _, k := range keys {
			v := kv[k]
			switch k {
			case "batch":
				st.Rolling.BatchSize = v
			case "order":
				if !slices.Contains(rolling.Orders, v) {
					return st, &SpecError{Spec: spec, Key: k, Reason: fmt.Sprintf("%q: want one of %s", v, strings.Join(rolling.Orders, ", "))}
				}
				st.Rolling.Order = v
			case "surge":
				if v == "auto" {
					st.SurgeAuto = true
					continue
				}
				st.Rolling.Surge, err = atoi(k, v)
			case "window":
				st.Rolling.Window, err = atoi(k, v)
			case "cordon-ahead":
				st.Rolling.CordonAhead, err = atoi(k, v)
			default:
				return st, &SpecError{Spec: spec, Key: k, Reason: "unknown key: want batch, order, surge, window or cordon-ahead"}
			}
			if err != nil {
				return st, err
			}
		}
		if _, err := rolling.ParseBatchSize(st.Rolling.BatchSize, 100); err != nil {
			key := "batch"
			if hasArg && kv["batch"] == "" {
				key = arg
			}
			return st, &SpecError{Spec: spec, Key: key, Reason: err.Error()}
		}
	case "migration":
		st.Migration = migration.Params{SeedFraction: 0.1}
		if hasArg {
			kv["seed"] = arg
			keys = append([]string{"seed"}, keys...)
		}
		for _, k := range keys {
			v := kv[k]
			switch k {
			case "seed":
				f, perr := strconv.ParseFloat(v, 64)
				if perr != nil || f <= 0 || f >= 1 {
					return st, &SpecError{Spec: spec, Key: k, Reason: fmt.Sprintf("%q: want a fraction in (0, 1)", v)}
				}
				st.Migration.SeedFraction = f
			case "seed-nodes":
				st.Migration.SeedNodes, err = atoi(k, v)
			case "wave-by":
				if v == plan.WaveByNamespace {
					st.Migration.WaveBy = v
				} else if label, ok := strings.CutPrefix(v, "label:"); ok && label != "" {
					st.Migration.WaveBy, st.Migration.WaveLabel = plan.WaveByLabel, label
				} else {
					return st, &SpecError{Spec: spec, Key: k, Reason: fmt.Sprintf("%q: want namespace or label:KEY", v)}
				}
			case "bandwidth":
				st.Migration.DataBandwidth, err = migration.ParseBandwidth(v)
				if err != nil {
					return st, &SpecError{Spec: spec, Key: k, Reason: err.Error()}
				}
			case "data":
				if v != plan.DataCopy && v != plan.DataDualWrite {
					return st, &SpecError{Spec: spec, Key: k, Reason: fmt.Sprintf("%q: want copy or dual-write", v)}
				}
				st.Migration.DataMode = v
			default:
				return st, &SpecError{Spec: spec, Key: k, Reason: "unknown key: want seed, seed-nodes, wave-by, bandwidth or data"}
			}
			if err != nil {
				return st, err
			}
		}
	default:
		return st, &SpecError{Spec: spec, Key: kind, Reason: "unknown strategy: want rolling or migration"}
	}
	return st, nil
}

// Plan makes the strategy's plan for snap.
func (st Strategy) Plan(snap *snapshot.Snapshot, newOSImage string) (*plan.Plan, error) {
	if st.Kind == "migration" {
		p := st.Migration
		p.NewOSImage = newOSImage
		return migration.Plan(snap, p)
	}
	p := st.Rolling
	p.NewOSImage = newOSImage
	return rolling.Plan(snap, p)
}

// CompareOptions configure a comparison.
type CompareOptions struct {
	// Sim are the simulation options of every run (Progress is ignored).
	Sim sim.Options
	// NewOSImage is what reinstalled nodes report.
	NewOSImage string
	// Parallelism bounds the runs at once; 0 means runtime.GOMAXPROCS(0).
	Parallelism int
	// Progress, when set, is called as runs finish.
	Progress func(done, total int)
	// WhatIf, when set, is applied to every run: plans are made on its
	// Planning snapshot, runs simulate its Snapshot with its Config (over
	// Sim.Config), and each result is annotated before the ranking.
	WhatIf *whatif.Applied
}

// Comparison is the outcome of `noderoll compare`: the results, in the
// order the strategies were given, and their ranking.
type Comparison struct {
	Results []*sim.Result `json:"results"`
	Ranking []Rank        `json:"ranking"`
	// Sweep is the rolling strategies by batch size, with the knee marked.
	Sweep *Sweep `json:"sweep,omitempty"`
	// Findings are statements measured on these results.
	Findings []string `json:"findings"`
	// Specs are the strategies as given, index for index with Results.
	Specs []string `json:"specs"`
	// RunSeconds is how long each run took on this machine (wall time,
	// index for index with Results), for capacity planning of the tool
	// itself. It is not part of the written comparison, which depends only
	// on the snapshot and the options.
	RunSeconds []float64 `json:"-"`
}

// Compare runs every strategy on snap, in parallel (each run has its own
// scheduler; the snapshot is only read), and ranks them.
func Compare(ctx context.Context, snap *snapshot.Snapshot, strategies []Strategy, opts CompareOptions) (*Comparison, error) {
	wi := opts.WhatIf
	if wi == nil {
		wi = whatif.None(snap, opts.Sim.Config)
	}
	plans := make([]*plan.Plan, len(strategies))
	for i, st := range strategies {
		p, err := st.Plan(wi.Planning, opts.NewOSImage)
		if err != nil {
			return nil, fmt.Errorf("strategy %q: %w", st.Spec, err)
		}
		if err := wi.CheckPlan(p); err != nil {
			return nil, fmt.Errorf("strategy %q: %w", st.Spec, err)
		}
		plans[i] = p
	}
	par := opts.Parallelism
	if par <= 0 {
		par = runtime.GOMAXPROCS(0)
	}
	results := make([]*sim.Result, len(strategies))
	runSeconds := make([]float64, len(strategies))
	errs := make([]error, len(strategies))
	simOpts := opts.Sim
	simOpts.Progress = nil
	simOpts.Config = wi.Config
	if par > 1 && simOpts.Scheduler.Parallelism == 0 {
		// The cores go to the runs side by side, not to each run's cycles.
		simOpts.Scheduler.Parallelism = 1
	}
	queue := make(chan int, len(strategies))
	for _, i := range longestFirst(plans) {
		queue <- i
	}
	close(queue)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for range min(par, len(strategies)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range queue {
				if err := ctx.Err(); err != nil {
					errs[i] = err
					continue
				}
				start := time.Now()
				var res *sim.Result
				var err error
				if strategies[i].SurgeAuto {
					res, _, err = autoSurge(ctx, wi, strategies[i], plans[i], opts.NewOSImage, simOpts)
				} else {
					res, err = sim.Run(ctx, wi.Snapshot, plans[i], simOpts)
				}
				if err == nil {
					wi.Annotate(res)
				}
				runSeconds[i] = time.Since(start).Seconds()
				if err != nil {
					errs[i] = fmt.Errorf("simulating %q: %w", strategies[i].Spec, err)
					continue
				}
				results[i] = res
				if opts.Progress != nil {
					mu.Lock()
					done++
					opts.Progress(done, len(strategies))
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	c := &Comparison{Results: results, RunSeconds: runSeconds}
	for _, st := range strategies {
		c.Specs = append(c.Specs, st.Spec)
	}
	c.Ranking = RankResults(c.Specs, results)
	c.Sweep = SweepOf(strategies, results)
	c.Findings = Findings(snap, c)
	return c, nil
}

// Metric is one figure the comparison tables show; lower is better for
// all.
type Metric struct {
	Name  string
	Value func(*sim.Result) float64
}

// longestFirst orders the runs by their expected cost, the longest first,
// so that the last run to start is a short one: migrations (a fit trial
// per wave, recycling trials), then rolling plans by their largest batch
// (more pods pending at once: more failed attempts and preemption dry
// runs), then the order given.
func longestFirst(plans []*plan.Plan) []int {
	cost := func(p *plan.Plan) int {
		if p.Spec.Migration != nil {
			return math.MaxInt
		}
		largest := 0
		for _, b := range p.Spec.Batches {
			largest = max(largest, len(b.Nodes))
		}
		return largest + p.Spec.Window
	}
	order := make([]int, len(plans))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return cost(plans[order[a]]) > cost(plans[order[b]]) })
	return order
}

// Metrics are the ranking's figures, in the order tables show them.
var Metrics = []Metric{
	{"durationSeconds", func(r *sim.Result) float64 { return r.Summary.DurationSeconds }},
	{"evictions", func(r *sim.Result) float64 { return float64(r.Summary.Evictions) }},
	{"podMovesMax", func(r *sim.Result) float64 { return float64(r.Summary.PodMovesMax) }},
	{"pdbStallSeconds", func(r *sim.Result) float64 { return r.Summary.PDBStallSeconds }},
	{"servicesWithOutage", func(r *sim.Result) float64 { return float64(r.Summary.ServicesWithOutage) }},
	{"serviceDownSeconds", ServiceDownSeconds},
	{"podsMovedMoreThanOnce", func(r *sim.Result) float64 { return float64(r.Summary.PodsMovedMoreThanOnce) }},
	{"servicesDegraded", func(r *sim.Result) float64 { return float64(r.Summary.ServicesDegraded) }},
	{"unschedulablePods", func(r *sim.Result) float64 { return float64(r.Summary.UnschedulablePods) }},
	{"lostPods", func(r *sim.Result) float64 { return float64(r.Summary.LostPods) }},
	{"extraMachineHours", func(r *sim.Result) float64 { return r.Summary.ExtraMachineHours }},
}

// Rank is one strategy's place in the ranking.
type Rank struct {
	Place    int    `json:"place"`
	Strategy string `json:"strategy"`
	// Ranks are its rank per metric (1 = best on it; ties share the
	// better rank), for the tables.
	Ranks map[string]int `json:"ranks"`
}

// Safe reports whether a result shows none of what a change board refuses:
// a Service with no ready endpoint, a stuck drain, a pod lost for good, a
// pod left pending at the end.
//
// A Service whose outage a what-if file accepts does not count
// (Summary.OutagesAccepted).
func Safe(r *sim.Result) bool {
	s := r.Summary
	return OutagesNotAccepted(r) == 0 && s.StuckNodes == 0 && s.LostPods == 0 && s.PendingAtEnd == 0
}

// OutagesNotAccepted counts the Services that went down and whose outage
// no what-if file accepts.
func OutagesNotAccepted(r *sim.Result) int {
	return r.Summary.ServicesWithOutage - r.Summary.OutagesAccepted
}

// CompareResults orders two results, best first:
//  1. a run a change board can approve (Safe) before one it cannot;
//  2. less Service downtime: the seconds each Service spent with no ready
//     endpoint, summed (ServiceDownSeconds). It weighs how many Services
//     go down and for how long: a rollout that takes Services down for a
//     minute each is not worse than one that keeps fewer of them down for
//     days, as a count of Services down would rank it;
//  3. fewer Services down, stuck drains, pods left pending, pods lost;
//  4. the shorter run;
//  5. fewer degraded Services, unschedulable pods, pods moved more than
//     once, evictions; less PDB stall time, fewer extra machine-hours.
//
// No amount of speed buys an outage back: duration only decides between
// runs with the same downtime.
func CompareResults(a, b *sim.Result) int {
	x, y := a.Summary, b.Summary
	return cmp.Or(
		-cmp.Compare(boolInt(Safe(a)), boolInt(Safe(b))),
		cmp.Compare(ServiceDownSeconds(a), ServiceDownSeconds(b)),
		cmp.Compare(OutagesNotAccepted(a), OutagesNotAccepted(b)),
		cmp.Compare(x.StuckNodes, y.StuckNodes),
		cmp.Compare(x.PendingAtEnd, y.PendingAtEnd),
		cmp.Compare(x.LostPods, y.LostPods),
		cmp.Compare(x.DurationSeconds, y.DurationSeconds),
		cmp.Compare(x.ServicesDegraded, y.ServicesDegraded),
		cmp.Compare(x.UnschedulablePods, y.UnschedulablePods),
		cmp.Compare(x.PodsMovedMoreThanOnce, y.PodsMovedMoreThanOnce),
		cmp.Compare(x.Evictions, y.Evictions),
		cmp.Compare(x.PDBStallSeconds, y.PDBStallSeconds),
		cmp.Compare(x.ExtraMachineHours, y.ExtraMachineHours),
	)
}

// ServiceDownSeconds is the Service downtime of a run: the seconds each
// Service had no ready endpoint, summed over the Services whose outage no
// what-if file accepts.
func ServiceDownSeconds(r *sim.Result) float64 {
	total := 0.0
	for _, sv := range r.Services {
		if !sv.Accepted {
			total += sv.DownSeconds
		}
	}
	return total
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// RankOrder returns the indexes of results, best first (CompareResults;
// equal results keep their order).
func RankOrder(results []*sim.Result) []int {
	idx := make([]int, len(results))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(i, j int) int { return CompareResults(results[i], results[j]) })
	return idx
}

// RankResults ranks results best first (RankOrder) and gives each its rank
// on every metric.
func RankResults(specs []string, results []*sim.Result) []Rank {
	out := make([]Rank, 0, len(results))
	for place, i := range RankOrder(results) {
		rk := Rank{Place: place + 1, Strategy: specs[i], Ranks: map[string]int{}}
		for _, m := range Metrics {
			v, better := m.Value(results[i]), 0
			for _, o := range results {
				if m.Value(o) < v {
					better++
				}
			}
			rk.Ranks[m.Name] = better + 1
		}
		out = append(out, rk)
	}
	return out
}

// Findings states what the comparison measured, in particular the seed's
// rule of thumb — stateless clusters favour rolling with a larger step,
// clusters with local volumes favour migration — checked against this
// run's own numbers.
func Findings(snap *snapshot.Snapshot, c *Comparison) []string {
	var out []string
	localPods := podsOnLocalVolumes(snap)
	bestRolling, mig := -1, -1
	for i, r := range c.Results {
		switch r.Strategy {
		case "rolling":
			if bestRolling < 0 || better(r, c.Results[bestRolling]) {
				bestRolling = i
			}
		case "migration":
			if mig < 0 || better(r, c.Results[mig]) {
				mig = i
			}
		}
	}
	if len(c.Ranking) > 0 {
		out = append(out, fmt.Sprintf("best overall: %s", c.Ranking[0].Strategy))
	}
	if c.Sweep != nil && c.Sweep.Knee >= 0 {
		k := c.Sweep.Points[c.Sweep.Knee]
		out = append(out, fmt.Sprintf("batch-size knee: %s (%d nodes per batch): %.0fs with %d services down and %d degraded; larger steps trade little time for more risk, smaller ones little risk for more time",
			k.Strategy, k.BatchNodes, k.DurationSeconds, k.ServicesWithOutage, k.ServicesDegraded))
	}
	if bestRolling < 0 || mig < 0 {
		return out
	}
	r, m := c.Results[bestRolling], c.Results[mig]
	rs, ms := c.Specs[bestRolling], c.Specs[mig]
	stateful := localPods > 0
	kind := "stateless (no pod on a node-local volume)"
	if stateful {
		kind = fmt.Sprintf("stateful: %d pods on node-local volumes", localPods)
	}
	rollingWins := better(r, m)
	verdict := "rolling"
	if !rollingWins {
		verdict = "migration"
	}
	expected := "rolling"
	if stateful {
		expected = "migration"
	}
	holds := "holds"
	if verdict != expected {
		holds = "does not hold"
	}
	out = append(out, fmt.Sprintf("rule of thumb (stateless → rolling with a larger step, local volumes → migration) %s here: the cluster is %s; %s: %.0fs, %d services down, %d degraded, pods moved up to %d times; %s: %.0fs, %d services down, %d degraded, pods moved up to %d times",
		holds, kind, rs, r.Summary.DurationSeconds, r.Summary.ServicesWithOutage, r.Summary.ServicesDegraded, r.Summary.PodMovesMax,
		ms, m.Summary.DurationSeconds, m.Summary.ServicesWithOutage, m.Summary.ServicesDegraded, m.Summary.PodMovesMax))
	return out
}

// better reports whether a ranks before b (CompareResults).
func better(a, b *sim.Result) bool { return CompareResults(a, b) < 0 }

// podsOnLocalVolumes counts the pods with a claim bound to a node-local
// PersistentVolume (local or hostPath).
func podsOnLocalVolumes(snap *snapshot.Snapshot) int {
	local := map[string]bool{}
	for i := range snap.PersistentVolumes {
		pv := &snap.PersistentVolumes[i]
		if pv.Spec.Local != nil || pv.Spec.HostPath != nil {
			local[pv.Name] = true
		}
	}
	claims := map[string]bool{}
	for i := range snap.PersistentVolumeClaims {
		c := &snap.PersistentVolumeClaims[i]
		if local[c.Spec.VolumeName] {
			claims[c.Namespace+"/"+c.Name] = true
		}
	}
	n := 0
	for i := range snap.Pods {
		p := &snap.Pods[i]
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		for _, v := range p.Spec.Volumes {
			if v.PersistentVolumeClaim != nil && claims[p.Namespace+"/"+v.PersistentVolumeClaim.ClaimName] {
				n++
				break
			}
		}
	}
	return n
}
