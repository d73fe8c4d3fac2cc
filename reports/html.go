package reports

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"

	"github.com/noderoll/noderoll/analysis"
	"github.com/noderoll/noderoll/plan"
)

// page is everything the HTML report shows, before it is laid out: the
// golden test pins it, the template only places it.
type page struct {
	Title      string          `json:"title"`
	Verdict    string          `json:"verdict"`
	Safe       bool            `json:"safe"`
	Snapshot   string          `json:"snapshot"`
	Comparison []comparisonRow `json:"comparison"`
	BandNote   string          `json:"bandNote,omitempty"`
	Findings   []string        `json:"findings,omitempty"`
	Charts     []chart         `json:"charts"`
	Strategies []strategyPart  `json:"strategies"`
	Best       string          `json:"best"`
	RiskGroups []riskGroup     `json:"riskGroups"`
	Risks      []plan.Risk     `json:"risks"`
	RisksLeft  int             `json:"risksLeft"`
	Preflight  *preflightPart  `json:"preflight,omitempty"`
	Fixes      *fixesPart      `json:"fixes,omitempty"`
	Assumed    string          `json:"assumed"`
}

type comparisonRow struct {
	Rank      int      `json:"rank"`
	Label     string   `json:"label"`
	Safe      bool     `json:"safe"`
	Cells     []string `json:"cells"`
	Recommend bool     `json:"recommend"`
}

// comparisonHeader names the cells of a comparisonRow.
var comparisonHeader = []string{"Duration", "P50 / P90 / P99", "Batches", "Evictions", "429s", "PDB stall",
	"Moved >1×", "Unschedulable", "Services down", "Service downtime", "Degraded", "Stuck nodes", "Lost pods"}

type strategyPart struct {
	Label    string   `json:"label"`
	Anchor   string   `json:"anchor"`
	Headline string   `json:"headline"`
	Charts   []chart  `json:"charts"`
	Services []svcRow `json:"services"`
}

type svcRow struct {
	Service  string `json:"service"`
	Desired  int    `json:"desired"`
	MinReady int    `json:"minReady"`
	Down     string `json:"down"`
	Degraded string `json:"degraded"`
	Batches  string `json:"batches"`
}

type preflightPart struct {
	Facts    [][2]string `json:"facts"`
	Capacity [][]string  `json:"capacity"`
	Groups   []riskGroup `json:"groups"`
	Risks    []plan.Risk `json:"risks"`
	Left     int         `json:"left"`
}

// maxRiskRows bounds the individual risks listed under the grouped table.
const maxRiskRows = 40

// buildPage computes the page from the report.
func buildPage(r Report) (*page, error) {
	p := &page{Title: title(r), Verdict: verdict(r.Results, r.Bands), Findings: r.Findings}
	if r.Fixes != nil {
		fp, err := buildFixesPart(r.Fixes)
		if err != nil {
			return nil, err
		}
		p.Fixes = fp
		p.Verdict = fp.Headline + " " + p.Verdict
		p.Safe = r.Fixes.Approvable
	}
	if len(r.Results) == 0 {
		return p, nil
	}
	rank := Rank(r.Results)
	best := r.Results[rank[0]]
	p.Safe, p.Best = Safe(best) || (r.Fixes != nil && r.Fixes.Approvable), Label(best)
	p.Snapshot = fmt.Sprintf("snapshot %s · %d nodes · %d pods", short(best.Snapshot.Fingerprint), best.Snapshot.Nodes, best.Snapshot.Pods)
	for i, idx := range rank {
		res := r.Results[idx]
		s := res.Summary
		band := "—"
		if b, ok := r.Bands[Label(res)]; ok {
			band = fmt.Sprintf("%s / %s / %s", humanShort(b.P50Seconds), humanShort(b.P90Seconds), humanShort(b.P99Seconds))
		}
		p.Comparison = append(p.Comparison, comparisonRow{Rank: i + 1, Label: Label(res), Safe: Safe(res), Recommend: i == 0 && Safe(res),
			Cells: []string{humanShort(s.DurationSeconds), band, fmt.Sprint(s.Batches), fmt.Sprint(s.Evictions), fmt.Sprint(s.EvictionsBlocked),
				humanShort(s.PDBStallSeconds), fmt.Sprint(s.PodsMovedMoreThanOnce), fmt.Sprint(s.UnschedulablePods),
				fmt.Sprint(s.ServicesWithOutage), humanShort(analysis.ServiceDownSeconds(res)), fmt.Sprint(s.ServicesDegraded), fmt.Sprint(s.StuckNodes), fmt.Sprint(s.LostPods)}})
	}
	if b, ok := anyBand(r.Bands); ok {
		p.BandNote = fmt.Sprintf("P50 / P90 / P99 over %d Monte Carlo runs, seed %d: every duration drawn from a log-normal distribution around its configured value (sigma %s).",
			b.Runs, b.Seed, sigmas(b))
	}
	for _, build := range []func() (chart, error){
		func() (chart, error) { return durationChart(r.Results, rank, r.Bands) },
		func() (chart, error) { return impactChart(r.Results, rank) },
		func() (chart, error) { return workChart(r.Results, rank) },
	} {
		c, err := build()
		if err != nil {
			return nil, err
		}
		p.Charts = append(p.Charts, c)
	}
	if points, knee := Sweep(sweepInput(r)); len(points) >= 3 {
		c, err := sweepChart(points, knee)
		if err != nil {
			return nil, err
		}
		p.Charts = append(p.Charts, c)
	}
	for i, idx := range rank {
		res := r.Results[idx]
		part := strategyPart{Label: Label(res), Anchor: fmt.Sprintf("s%d", i+1),
			Headline: fmt.Sprintf("%s in %d batches; %s.", humanShort(res.Summary.DurationSeconds), res.Summary.Batches, impact(res))}
		if len(res.Timeline) > 0 {
			tc, err := timelineChart(part.Anchor+"-timeline", res)
			if err != nil {
				return nil, err
			}
			cc, err := capacityChart(part.Anchor+"-capacity", res)
			if err != nil {
				return nil, err
			}
			part.Charts = append(part.Charts, tc, cc)
		}
		ac, ok, err := availabilityChart(part.Anchor+"-availability", res)
		if err != nil {
			return nil, err
		}
		if ok {
			part.Charts = append(part.Charts, ac)
		}
		for _, sv := range worstServices(res, 10) {
			part.Services = append(part.Services, svcRow{Service: trimKind(sv.Service), Desired: sv.Desired, MinReady: sv.MinReady,
				Down: humanShort(sv.DownSeconds), Degraded: humanShort(sv.DegradedSeconds), Batches: intList(sv.Batches)})
		}
		p.Strategies = append(p.Strategies, part)
	}
	p.RiskGroups = groupRisks(best.Risks)
	p.Risks, p.RisksLeft = headRisks(best.Risks, maxRiskRows)
	if pf := r.Preflight; pf != nil {
		o := pf.Snapshot
		part := &preflightPart{Facts: [][2]string{
			{"Nodes, pods, Services, PDBs", fmt.Sprintf("%d, %d, %d, %d", o.Nodes, o.Pods, o.Services, o.PDBs)},
			{"Workloads", workloadList(o)},
			{"PDB coverage", coverage(o.PDBCoverage)},
			{"Risks", riskCounts(pf.Risks)},
		}}
		for _, g := range append(append(slices.Clone(o.Capacity.Zones), o.Capacity.Pools...), o.Capacity.Total) {
			pods, cpu, mem := capacityRow(g)
			part.Capacity = append(part.Capacity, []string{g.Name, fmt.Sprint(g.Nodes), pods, cpu, mem})
		}
		part.Groups = groupRisks(pf.Risks)
		part.Risks, part.Left = headRisks(pf.Risks, maxRiskRows)
		p.Preflight = part
	}
	a := best.Assumptions
	p.Assumed = fmt.Sprintf("pod start-up %gs, OS reinstall %gs, node join %gs, soak %gs, eviction retry every %gs, drain timeout %gs",
		a.PodStartupSeconds, a.ReinstallSeconds, a.JoinSeconds, a.SoakSeconds, a.EvictionRetrySeconds, a.DrainTimeoutSeconds)
	return p, nil
}

// headRisks returns the first n risks (already worst first) and how many
// are left out.
func headRisks(risks []plan.Risk, n int) ([]plan.Risk, int) {
	if len(risks) <= n {
		return risks, 0
	}
	return risks[:n], len(risks) - n
}

// WriteHTML writes the report as one self-contained HTML page: styles,
// Apache ECharts and the data inlined, nothing fetched when it is opened,
// so that it can be attached to a ticket and read offline.
func WriteHTML(w io.Writer, r Report) error {
	js, err := echartsJS()
	if err != nil {
		return err
	}
	p, err := buildPage(r)
	if err != nil {
		return err
	}
	type chartRef struct {
		ID     string          `json:"id"`
		Option json.RawMessage `json:"option"`
	}
	var refs []chartRef
	for _, c := range p.Charts {
		refs = append(refs, chartRef{c.ID, c.Option})
	}
	for _, s := range p.Strategies {
		for _, c := range s.Charts {
			refs = append(refs, chartRef{c.ID, c.Option})
		}
	}
	if p.Fixes != nil {
		refs = append(refs, chartRef{p.Fixes.Chart.ID, p.Fixes.Chart.Option})
	}
	data, err := json.Marshal(refs) // escapes <, > and &: safe in a script
	if err != nil {
		return fmt.Errorf("encoding the charts: %w", err)
	}
	if strings.Contains(strings.ToLower(js), "</script") {
		return fmt.Errorf("the embedded ECharts contains </script: cannot inline it")
	}
	return pageTemplate.Execute(w, struct {
		*page
		Header  []string
		ECharts template.JS
		Data    template.JS
	}{p, comparisonHeader, template.JS(js), template.JS(data)})
}

//go:embed page.tmpl
var pageHTML string

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"sevClass": func(s plan.Severity) string { return "sev-" + string(s) },
	"batch": func(b *int) string {
		if b == nil {
			return "–"
		}
		return fmt.Sprint(*b)
	},
}).Parse(pageHTML))
