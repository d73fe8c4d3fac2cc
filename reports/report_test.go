package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/noderoll/noderoll/analysis"
	"github.com/noderoll/noderoll/plan"
	"github.com/noderoll/noderoll/sim"
)

// handResult builds a rolling result of n batches of size nodes each,
// with the given outcome, and a timeline of three samples per batch.
func handResult(batchSize string, size, batches int, down, degraded, stuck int) *sim.Result {
	r := &sim.Result{Strategy: "rolling", Params: map[string]string{"batchSize": batchSize, "order": "name"},
		Snapshot:    sim.SnapshotRef{Fingerprint: "0123456789abcdef0123", Nodes: size * batches, Pods: 40 * size * batches},
		Assumptions: sim.Assumptions{Timing: sim.DefaultTiming()}, Risks: []plan.Risk{}}
	per := 2400.0 + 200*float64(size)
	ev := 0
	for b := range batches {
		start := float64(b) * per
		nodes := make([]string, size)
		for i := range nodes {
			nodes[i] = fmt.Sprintf("node-%03d", b*size+i)
		}
		r.Batches = append(r.Batches, &sim.Batch{Index: b + 1, Nodes: nodes, StartSeconds: start, EndSeconds: start + per,
			Evictions: 40 * size, EvictionsBlocked: 3 * size, PDBStallSeconds: 30, PendingPeak: 5 * size})
		for t := 0.0; t < per; t += per / 3 {
			out, pending := size, 0
			if t == 0 {
				pending = 5 * size
			}
			ev += 40 * size / 3
			r.Timeline = append(r.Timeline, sim.Sample{Seconds: start + t, NodesOut: out, PodsPending: pending, Evictions: ev, EvictionsBlocked: ev / 12,
				CPU:    sim.Amount{Allocatable: float64(400 - 8*size), Requested: 300},
				Memory: sim.Amount{Allocatable: float64(1600 - 32*size), Requested: 1000}})
		}
	}
	r.Timeline = append(r.Timeline, sim.Sample{Seconds: per * float64(batches), Evictions: ev, EvictionsBlocked: ev / 12,
		CPU: sim.Amount{Allocatable: 400, Requested: 300}, Memory: sim.Amount{Allocatable: 1600, Requested: 1000}})
	r.Summary = sim.Summary{DurationSeconds: per * float64(batches), Batches: batches, Evictions: 40 * size * batches,
		EvictionsBlocked: 3 * size * batches, PDBStallSeconds: 30 * float64(batches), PodMovesMax: 2, PodsMovedMoreThanOnce: 4 * size,
		UnschedulablePods: down * 3, ServicesWithOutage: down, ServicesDegraded: degraded, StuckNodes: stuck}
	for i := range down {
		b := 1 + i%batches
		r.Services = append(r.Services, sim.ServiceImpact{Service: fmt.Sprintf("Service/shop/cart-%d", i), Desired: 2, MinReady: 0,
			DownSeconds: 120, DegradedSeconds: 300, Batches: []int{b}})
		r.Risks = append(r.Risks, plan.Risk{Code: plan.RiskServiceOutage, Severity: plan.Critical, Object: fmt.Sprintf("Service/shop/cart-%d", i), Batch: &b, Message: "no ready endpoint for 120s (of 2)"})
	}
	for i := range degraded {
		b := 1 + (i+1)%batches
		r.Services = append(r.Services, sim.ServiceImpact{Service: fmt.Sprintf("Service/web/front-%d", i), Desired: 4, MinReady: 2,
			DegradedSeconds: 60 * float64(i+1), Batches: []int{b}})
		r.Risks = append(r.Risks, plan.Risk{Code: plan.RiskServiceDegraded, Severity: plan.Medium, Object: fmt.Sprintf("Service/web/front-%d", i), Batch: &b, Message: "down to 2 of 4 ready endpoints"})
	}
	for i := range stuck {
		b := 1
		r.Risks = append(r.Risks, plan.Risk{Code: plan.RiskDrainStuck, Severity: plan.Critical, Object: fmt.Sprintf("Node/node-%03d", i), Batch: &b, Message: "drain timed out after 1h0m0s"})
	}
	r.Risks = append(r.Risks, plan.Risk{Code: plan.RiskPodMovedRepeatedly, Severity: plan.Low, Object: "Pod/shop/cart-0", Message: "moved 2 times"})
	return r
}

// handReport is a four-way comparison with bands for two runs and the
// preflight of the hand-made cluster.
func handReport(t *testing.T) Report {
	pf := preflight(t, "cluster.yaml")
	results := []*sim.Result{
		handResult("20%", 4, 5, 1, 6, 0),
		handResult("5%", 1, 20, 0, 1, 0),
		handResult("10%", 2, 10, 0, 2, 0),
		handResult("25%", 5, 4, 3, 8, 1),
	}
	band := func(p50, p90, p99 float64) analysis.Band {
		return analysis.Band{Runs: 20, Seed: 7, P50Seconds: p50, P90Seconds: p90, P99Seconds: p99, Variability: sim.DefaultVariability()}
	}
	return Report{Results: results, Preflight: &pf, Bands: map[string]analysis.Band{
		"rolling:10%": band(29000, 31500, 33000), "rolling:5%": band(52000, 54000, 56000)}}
}

func TestVerdict(t *testing.T) {
	safe := handResult("10%", 2, 10, 0, 2, 0)
	fast := handResult("20%", 4, 5, 1, 6, 0)
	worse := handResult("25%", 5, 4, 3, 8, 1)
	for _, tc := range []struct {
		name    string
		results []*sim.Result
		want    []string
	}{
		{"the safe run is approved over a faster one, with what the faster one costs",
			[]*sim.Result{fast, safe}, []string{"Approve rolling:10%", "rolling:20% is 3h20m faster but 1 Service down and 6 Services degraded"}},
		{"a single safe run is approved with its figures", []*sim.Result{safe}, []string{"Approve rolling:10%: it finishes in 7h47m with 2 Services degraded."}},
		{"no safe run: approve none, name the least bad", []*sim.Result{worse, fast}, []string{"Approve none as it stands: the best run, rolling:20%"}},
		{"a single unsafe run is refused", []*sim.Result{worse}, []string{"Do not approve rolling:25%", "3 Services down, 1 drain stuck"}},
		{"nothing simulated", nil, []string{"Nothing was simulated."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Verdict(tc.results)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("verdict %q lacks %q", got, w)
				}
			}
		})
	}
}

func TestSweep_findsTheKnee(t *testing.T) {
	mk := func(size string, nodes int, dur float64, degraded int) *sim.Result {
		r := handResult(size, nodes, 1, 0, 0, 0)
		r.Summary.DurationSeconds = dur
		r.Summary.ServicesDegraded = degraded
		return r
	}
	// Time falls fast up to 10 nodes per batch, then barely, while the
	// degraded Services keep climbing: the trade-off is best at 10%.
	points, knee := Sweep([]*sim.Result{mk("20%", 20, 9000, 60), mk("1%", 1, 90000, 0), mk("10%", 10, 11000, 10), mk("5%", 5, 20000, 5), mk("50%", 50, 8000, 120)})
	if len(points) != 5 || points[0].Nodes != 1 || points[4].Nodes != 50 {
		t.Fatalf("points not ordered by batch size: %+v", points)
	}
	if knee < 0 || points[knee].BatchSize != "10%" {
		t.Errorf("knee at %d (%+v), want 10%%", knee, points)
	}
	// With the same risk at every size, nothing is traded: the fastest wins.
	if points, k := Sweep([]*sim.Result{mk("1%", 1, 900, 3), mk("5%", 5, 500, 3), mk("10%", 10, 400, 3)}); k < 0 || points[k].BatchSize != "10%" {
		t.Errorf("flat risk: knee %d, want the fastest (10%%)", k)
	}
	if _, k := Sweep([]*sim.Result{mk("1%", 1, 100, 0), mk("5%", 5, 50, 0)}); k != -1 {
		t.Errorf("a knee with two points: %d", k)
	}
}

func TestMarkdown_golden(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, handReport(t)); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.md.golden", buf.Bytes())
}

// TestHTML_dataGolden pins what the page shows: the verdict, the tables
// and every chart's ECharts option, not the page's script bytes.
func TestHTML_dataGolden(t *testing.T) {
	p, err := buildPage(handReport(t))
	if err != nil {
		t.Fatal(err)
	}
	// The page indented, then each chart's option on one line, so that a
	// change shows as the charts it touches.
	var options bytes.Buffer
	charts := slices.Clone(p.Charts)
	for _, sp := range p.Strategies {
		charts = append(charts, sp.Charts...)
	}
	for _, c := range charts {
		fmt.Fprintf(&options, "%s: %s\n", c.ID, c.Option)
	}
	strip := func(cs []chart) {
		for i := range cs {
			cs[i].Option = json.RawMessage(`"see below"`)
		}
	}
	strip(p.Charts)
	for _, sp := range p.Strategies {
		strip(sp.Charts)
	}
	data, err := json.MarshalIndent(p, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "report.data.golden", append(append(data, '\n'), options.Bytes()...))
}

func TestHTML_selfContained(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteHTML(&buf, handReport(t)); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	lower := strings.ToLower(page)
	for _, bad := range []string{"<script src", "<link ", "@import", "url(http", "src=\"http", "src=\"//"} {
		if strings.Contains(lower, bad) {
			t.Errorf("the page references an outside resource: %q", bad)
		}
	}
	for _, want := range []string{"Approve rolling:10%", "echarts", `id="duration"`, `id="s1-timeline"`, `id="s1-availability"`, "Preflight findings"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

func TestThin_keepsTheEndsAndThePeaks(t *testing.T) {
	var tl []sim.Sample
	for i := range 10 * maxPoints {
		tl = append(tl, sim.Sample{Seconds: float64(i), PodsPending: i % 7})
	}
	tl[4321].PodsPending, tl[8765].NodesOut = 999, 42
	got := thin(tl)
	if len(got) > maxPoints {
		t.Errorf("%d samples, want at most %d", len(got), maxPoints)
	}
	if got[0].Seconds != 0 || got[len(got)-1].Seconds != tl[len(tl)-1].Seconds {
		t.Errorf("thinned from %vs to %vs, want the whole run", got[0].Seconds, got[len(got)-1].Seconds)
	}
	peakPending, peakOut := 0, 0
	for _, s := range got {
		peakPending, peakOut = max(peakPending, s.PodsPending), max(peakOut, s.NodesOut)
	}
	if peakPending != 999 || peakOut != 42 {
		t.Errorf("peaks %d pending and %d out, want 999 and 42", peakPending, peakOut)
	}
	if short := tl[:10]; len(thin(short)) != 10 {
		t.Error("a short timeline was thinned")
	}
}

// TestJSON_isTheCompareContract reads the JSON as a consumer of `compare
// -o json` does: results in the order given, with the result contract's
// fields, and the ranking best first.
func TestJSON_isTheCompareContract(t *testing.T) {
	var buf bytes.Buffer
	r := handReport(t)
	if err := WriteJSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Results []struct {
			Strategy string                     `json:"strategy"`
			Params   map[string]string          `json:"params"`
			Summary  map[string]json.RawMessage `json:"summary"`
			Batches  []map[string]any           `json:"batches"`
			Risks    []map[string]any           `json:"risks"`
		} `json:"results"`
		Ranking []string `json:"ranking"`
		Verdict string   `json:"verdict"`
		Sweep   struct {
			Knee string `json:"knee"`
		} `json:"sweep"`
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Results) != 4 || got.Results[0].Params["batchSize"] != "20%" {
		t.Fatalf("results not in the order given: %+v", got.Results)
	}
	for _, key := range []string{"durationSeconds", "batches", "evictions", "evictionsBlocked", "pdbStallSeconds", "podMovesMax",
		"podsMovedMoreThanOnce", "unschedulablePods", "lostPods", "servicesWithOutage", "servicesDegraded", "stuckNodes"} {
		if _, ok := got.Results[0].Summary[key]; !ok {
			t.Errorf("summary lacks %q", key)
		}
	}
	if want := []string{"rolling:10%", "rolling:5%", "rolling:20%", "rolling:25%"}; strings.Join(got.Ranking, ",") != strings.Join(want, ",") {
		t.Errorf("ranking %v, want %v", got.Ranking, want)
	}
	if !strings.HasPrefix(got.Verdict, "Approve rolling:10%: it finishes in 7h47m (P90 8h45m over 20 runs)") {
		t.Errorf("verdict %q", got.Verdict)
	}
	if got.Sweep.Knee != "10%" {
		t.Errorf("knee %q, want 10%%", got.Sweep.Knee)
	}
}

// Every row of the HTML comparison has a cell under each header, and every
// bar has its run's whole name under it, each parameter on a line of its
// own, with the line height ECharts needs to draw more than one line.
func TestHTML_comparisonColumnsAndBarLabels(t *testing.T) {
	p, err := buildPage(handReport(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range p.Comparison {
		if len(row.Cells) != len(comparisonHeader) {
			t.Errorf("%s: %d cells under %d headers %v", row.Label, len(row.Cells), len(comparisonHeader), comparisonHeader)
		}
	}
	wide := 0
	for _, c := range p.Charts {
		if !c.Wide {
			continue
		}
		wide++
		var opt struct {
			XAxis []struct {
				Data      []string `json:"data"`
				AxisLabel struct {
					Interval   string `json:"interval"`
					LineHeight int    `json:"lineHeight"`
				} `json:"axisLabel"`
			} `json:"xAxis"`
		}
		if err := json.Unmarshal(c.Option, &opt); err != nil {
			t.Fatalf("%s: %v", c.ID, err)
		}
		if len(opt.XAxis) == 0 || len(opt.XAxis[0].Data) != len(p.Comparison) {
			t.Fatalf("%s: x axis %+v, want one label per run", c.ID, opt.XAxis)
		}
		ax := opt.XAxis[0]
		if ax.AxisLabel.Interval != "0" || ax.AxisLabel.LineHeight <= 0 {
			t.Errorf("%s: axis label %+v, want every label shown (interval 0) and a numeric line height", c.ID, ax.AxisLabel)
		}
		for i, l := range ax.Data {
			if want := strings.ReplaceAll(p.Comparison[i].Label, " ", "\n"); l != want {
				t.Errorf("%s: bar %d labelled %q, want %q", c.ID, i, l, want)
			}
		}
	}
	if wide != 3 {
		t.Errorf("%d full-width bar charts, want 3 (duration, impact, work)", wide)
	}
}
