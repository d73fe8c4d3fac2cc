package reports

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strings"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"

	"github.com/noderoll/noderoll/analysis"
	"github.com/noderoll/noderoll/sim"
)

// chart is one chart of the page: its place, its caption, and the ECharts
// option go-echarts built for it (the data the golden test pins).
type chart struct {
	ID      string `json:"id"`
	Title   string `json:"title"`
	Caption string `json:"caption,omitempty"`
	Height  int    `json:"height"`
	// Wide charts take the page's whole width: a bar per run needs room
	// for every run's name under it.
	Wide   bool            `json:"wide,omitempty"`
	Option json.RawMessage `json:"option"`
}

// Colours: calm for work, amber for degraded, red for down.
const (
	colBlue   = "#3b6ea8"
	colTeal   = "#3a9188"
	colGrey   = "#8a8f98"
	colAmber  = "#e0a030"
	colRed    = "#c8423b"
	colPurple = "#7a5ea8"
)

// optionOf returns the chart's ECharts option as JSON.
func optionOf(c interface {
	Validate()
	JSON() map[string]interface{}
}) (json.RawMessage, error) {
	c.Validate()
	b, err := json.Marshal(c.JSON())
	if err != nil {
		return nil, fmt.Errorf("encoding a chart: %w", err)
	}
	// go-echarts types an axis label's lineHeight as a string; ECharts
	// ignores a string there and then draws only a label's first line.
	return quotedLineHeight.ReplaceAll(b, []byte(`"lineHeight":$1`)), nil
}

var quotedLineHeight = regexp.MustCompile(`"lineHeight":"([0-9]+)"`)

func baseOpts() []charts.GlobalOpts {
	return []charts.GlobalOpts{
		charts.WithAnimation(false),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis"}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Top: "0"}),
		charts.WithGridOpts(opts.Grid{Left: "60", Right: "70", Top: "76", Bottom: fmt.Sprint(gridBottom)}),
	}
}

func hours(sec float64) float64 { return round2(sec / 3600) }

func round2(f float64) float64 { return math.Round(f*100) / 100 }

// axisLabel is a run's label under its bars: the strategy, then each
// parameter on a line of its own, so that long labels (a migration's) stay
// readable and every bar keeps its name.
func axisLabel(r *sim.Result) string { return strings.ReplaceAll(Label(r), " ", "\n") }

// barAxis shows every category's label (ECharts hides some when they
// would overlap) and leaves room below the axis for labels of several
// lines.
func barAxis() charts.GlobalOpts {
	return charts.WithXAxisOpts(opts.XAxis{Type: "category", AxisLabel: &opts.AxisLabel{Interval: "0", LineHeight: fmt.Sprint(labelLineHeight)}})
}

// fitLabels makes room below a bar chart's axis for its labels' lines
// and returns the extra height in pixels the chart needs for them.
func fitLabels(bar *charts.Bar, labels []string) int {
	lines := 1
	for _, l := range labels {
		lines = max(lines, strings.Count(l, "\n")+1)
	}
	extra := (lines - 1) * labelLineHeight
	if len(bar.GridList) > 0 {
		bar.GridList[0].Bottom = fmt.Sprint(gridBottom + extra)
	}
	return extra
}

// gridBottom is the room below a chart's plot (baseOpts), and
// labelLineHeight the room each further line of an axis label takes.
const (
	gridBottom      = 52
	labelLineHeight = 14
)

// durationChart: each run's duration, with its Monte Carlo band.
func durationChart(results []*sim.Result, rank []int, bands map[string]analysis.Band) (chart, error) {
	bar := charts.NewBar()
	bar.SetGlobalOptions(append(baseOpts(),
		charts.WithYAxisOpts(opts.YAxis{Name: "hours", Type: "value"}),
		barAxis(),
		charts.WithColorsOpts(opts.Colors{colBlue, colTeal, colAmber, colRed}))...)
	var labels []string
	var det, p50, p90, p99 []opts.BarData
	for _, i := range rank {
		r := results[i]
		labels = append(labels, axisLabel(r))
		det = append(det, opts.BarData{Value: hours(r.Summary.DurationSeconds)})
		if b, ok := bands[Label(r)]; ok {
			p50 = append(p50, opts.BarData{Value: hours(b.P50Seconds)})
			p90 = append(p90, opts.BarData{Value: hours(b.P90Seconds)})
			p99 = append(p99, opts.BarData{Value: hours(b.P99Seconds)})
		} else {
			p50, p90, p99 = append(p50, opts.BarData{Value: nil}), append(p90, opts.BarData{Value: nil}), append(p99, opts.BarData{Value: nil})
		}
	}
	bar.SetXAxis(labels).AddSeries("configured times", det)
	extra := fitLabels(bar, labels)
	caption := "Duration of each run with the configured times."
	if len(bands) > 0 {
		bar.AddSeries("P50", p50).AddSeries("P90", p90).AddSeries("P99", p99)
		if b, ok := anyBand(bands); ok {
			caption = fmt.Sprintf("Duration with the configured times, and P50/P90/P99 over %d Monte Carlo runs (seed %d).", b.Runs, b.Seed)
		}
	}
	o, err := optionOf(bar)
	return chart{ID: "duration", Title: "Duration", Caption: caption, Height: 300 + extra, Wide: true, Option: o}, err
}

// impactChart: what each run does to the workloads.
func impactChart(results []*sim.Result, rank []int) (chart, error) {
	bar := charts.NewBar()
	bar.SetGlobalOptions(append(baseOpts(),
		charts.WithYAxisOpts(opts.YAxis{Name: "count", Type: "value"}),
		barAxis(),
		charts.WithColorsOpts(opts.Colors{colRed, colAmber, colPurple, colGrey}))...)
	var labels []string
	var down, degr, unsched, stuck []opts.BarData
	for _, i := range rank {
		r := results[i]
		s := r.Summary
		labels = append(labels, axisLabel(r))
		down = append(down, opts.BarData{Value: s.ServicesWithOutage})
		degr = append(degr, opts.BarData{Value: s.ServicesDegraded})
		unsched = append(unsched, opts.BarData{Value: s.UnschedulablePods})
		stuck = append(stuck, opts.BarData{Value: s.StuckNodes})
	}
	bar.SetXAxis(labels).AddSeries("Services down", down).AddSeries("Services degraded", degr).
		AddSeries("unschedulable pods", unsched).AddSeries("stuck drains", stuck)
	extra := fitLabels(bar, labels)
	o, err := optionOf(bar)
	return chart{ID: "impact", Title: "Impact on workloads", Caption: "Fewer is better; any Service down or stuck drain blocks approval.", Height: 300 + extra, Wide: true, Option: o}, err
}

// workChart: how much each run moves.
func workChart(results []*sim.Result, rank []int) (chart, error) {
	bar := charts.NewBar()
	bar.SetGlobalOptions(append(baseOpts(),
		charts.WithYAxisOpts(opts.YAxis{Name: "count", Type: "value"}),
		barAxis(),
		charts.WithColorsOpts(opts.Colors{colBlue, colAmber, colTeal, colGrey}))...)
	bar.ExtendYAxis(opts.YAxis{Name: "PDB stall (h)", Type: "value", Position: "right"})
	var labels []string
	var ev, blocked, moved, stall []opts.BarData
	for _, i := range rank {
		r := results[i]
		s := r.Summary
		labels = append(labels, axisLabel(r))
		ev = append(ev, opts.BarData{Value: s.Evictions})
		blocked = append(blocked, opts.BarData{Value: s.EvictionsBlocked})
		moved = append(moved, opts.BarData{Value: s.PodsMovedMoreThanOnce})
		stall = append(stall, opts.BarData{Value: hours(s.PDBStallSeconds)})
	}
	bar.SetXAxis(labels).AddSeries("evictions", ev).AddSeries("429s", blocked).
		AddSeries("pods moved >1×", moved).
		AddSeries("PDB stall (h)", stall, charts.WithBarChartOpts(opts.BarChart{YAxisIndex: 1}))
	extra := fitLabels(bar, labels)
	o, err := optionOf(bar)
	return chart{ID: "work", Title: "Evictions, refusals and churn", Height: 300 + extra, Wide: true, Option: o}, err
}

// sweepChart: duration and Services hit by batch size, knee marked.
func sweepChart(points []SweepPoint, knee int) (chart, error) {
	line := charts.NewLine()
	line.SetGlobalOptions(append(baseOpts(),
		charts.WithXAxisOpts(opts.XAxis{Name: "batch size", NameLocation: "middle", NameGap: 28, Type: "category"}),
		charts.WithYAxisOpts(opts.YAxis{Name: "hours", Type: "value"}),
		charts.WithColorsOpts(opts.Colors{colBlue, colRed, colAmber}))...)
	line.ExtendYAxis(opts.YAxis{Name: "Services", Type: "value", Position: "right"})
	var labels []string
	var dur, down, degr []opts.LineData
	for _, p := range points {
		labels = append(labels, fmt.Sprintf("%s (%d nodes)", p.BatchSize, p.Nodes))
		dur = append(dur, opts.LineData{Value: hours(p.DurationSeconds)})
		down = append(down, opts.LineData{Value: p.ServicesDown})
		degr = append(degr, opts.LineData{Value: p.ServicesDegr})
	}
	var durOpts []charts.SeriesOpts
	caption := "Duration falls as batches grow, while more Services are hit."
	if knee >= 0 {
		durOpts = append(durOpts, charts.WithMarkPointNameCoordItemOpts(opts.MarkPointNameCoordItem{
			Name: "knee", Coordinate: []interface{}{labels[knee], hours(points[knee].DurationSeconds)}, Value: "knee"}))
		caption = fmt.Sprintf("The knee is at %s: the best trade between duration and risk. ", points[knee].BatchSize) + caption
	}
	line.SetXAxis(labels).AddSeries("duration (h)", dur, durOpts...).
		AddSeries("Services down", down, charts.WithLineChartOpts(opts.LineChart{YAxisIndex: 1})).
		AddSeries("Services degraded", degr, charts.WithLineChartOpts(opts.LineChart{YAxisIndex: 1}))
	o, err := optionOf(line)
	return chart{ID: "sweep", Title: "Batch-size sweep", Caption: caption, Height: 300, Option: o}, err
}

// maxPoints bounds the samples a timeline chart draws.
const maxPoints = 1500

// thin keeps at most maxPoints samples: each bucket of consecutive samples
// gives its first sample, at its time, with the bucket's peaks of nodes out
// and pods pending, so that no peak is lost; the last sample is kept as
// it is.
func thin(tl []sim.Sample) []sim.Sample {
	if len(tl) <= maxPoints {
		return tl
	}
	per := (len(tl) + maxPoints - 2) / (maxPoints - 1)
	out := make([]sim.Sample, 0, maxPoints)
	for i := 0; i < len(tl)-1; i += per {
		end := min(i+per, len(tl)-1)
		s := tl[i]
		for _, x := range tl[i:end] {
			s.NodesOut = max(s.NodesOut, x.NodesOut)
			s.PodsPending = max(s.PodsPending, x.PodsPending)
		}
		out = append(out, s)
	}
	return append(out, tl[len(tl)-1])
}

func minutes(sec float64) float64 { return round2(sec / 60) }

// batchLines marks where each batch starts.
func batchLines(r *sim.Result) charts.SeriesOpts {
	var items []opts.MarkLineNameXAxisItem
	for _, b := range r.Batches {
		items = append(items, opts.MarkLineNameXAxisItem{Name: fmt.Sprintf("B%d", b.Index), XAxis: minutes(b.StartSeconds)})
	}
	return charts.WithMarkLineNameXAxisItemOpts(items...)
}

func markLineStyle() charts.SeriesOpts {
	return charts.WithMarkLineStyleOpts(opts.MarkLineStyle{Symbol: []string{"none", "none"},
		Label:     &opts.Label{Show: opts.Bool(true), Formatter: "{b}", Position: "insideEndTop", Color: colGrey},
		LineStyle: &opts.LineStyle{Color: "#c5c9d0", Type: "dashed", Width: 1}})
}

// timelineChart: nodes out and pods pending (left), cumulative evictions
// and 429s (right), batch starts marked.
func timelineChart(id string, r *sim.Result) (chart, error) {
	line := charts.NewLine()
	line.SetGlobalOptions(append(baseOpts(),
		charts.WithXAxisOpts(opts.XAxis{Name: "minutes since the start", NameLocation: "middle", NameGap: 28, Type: "value", Max: "dataMax"}),
		charts.WithYAxisOpts(opts.YAxis{Name: "nodes, pods", Type: "value"}),
		charts.WithColorsOpts(opts.Colors{colGrey, colPurple, colBlue, colRed}))...)
	line.ExtendYAxis(opts.YAxis{Name: "evictions", Type: "value", Position: "right"})
	var out, pending, ev, blocked []opts.LineData
	for _, s := range thin(r.Timeline) {
		t := minutes(s.Seconds)
		out = append(out, opts.LineData{Value: []interface{}{t, s.NodesOut}})
		pending = append(pending, opts.LineData{Value: []interface{}{t, s.PodsPending}})
		ev = append(ev, opts.LineData{Value: []interface{}{t, s.Evictions}})
		blocked = append(blocked, opts.LineData{Value: []interface{}{t, s.EvictionsBlocked}})
	}
	step := charts.WithLineChartOpts(opts.LineChart{Step: "end", ShowSymbol: opts.Bool(false)})
	right := charts.WithLineChartOpts(opts.LineChart{YAxisIndex: 1, ShowSymbol: opts.Bool(false)})
	line.AddSeries("nodes out of service", out, step, charts.WithAreaStyleOpts(opts.AreaStyle{Opacity: opts.Float(0.15)}), batchLines(r), markLineStyle()).
		AddSeries("pods pending", pending, step).
		AddSeries("evictions", ev, right).
		AddSeries("evictions refused (429)", blocked, right, charts.WithLineStyleOpts(opts.LineStyle{Type: "dotted"}))
	o, err := optionOf(line)
	return chart{ID: id, Title: "Nodes, pending pods and evictions over time", Caption: "Dashed lines mark the start of each batch (B1, B2, ...).", Height: 320, Option: o}, err
}

// capacityChart: cpu and memory left on the in-service nodes, as a share
// of their allocatable.
func capacityChart(id string, r *sim.Result) (chart, error) {
	line := charts.NewLine()
	line.SetGlobalOptions(append(baseOpts(),
		charts.WithXAxisOpts(opts.XAxis{Name: "minutes since the start", NameLocation: "middle", NameGap: 28, Type: "value", Max: "dataMax"}),
		charts.WithYAxisOpts(opts.YAxis{Name: "% free", Type: "value", Max: 100}),
		charts.WithColorsOpts(opts.Colors{colBlue, colTeal}))...)
	free := func(a sim.Amount) float64 {
		if a.Allocatable <= 0 {
			return -100
		}
		return round2(100 * (a.Allocatable - a.Requested) / a.Allocatable)
	}
	var cpu, mem []opts.LineData
	for _, s := range thin(r.Timeline) {
		t := minutes(s.Seconds)
		cpu = append(cpu, opts.LineData{Value: []interface{}{t, free(s.CPU)}})
		mem = append(mem, opts.LineData{Value: []interface{}{t, free(s.Memory)}})
	}
	step := charts.WithLineChartOpts(opts.LineChart{Step: "end", ShowSymbol: opts.Bool(false)})
	zero := charts.WithMarkLineNameYAxisItemOpts(opts.MarkLineNameYAxisItem{Name: "no room left", YAxis: 0})
	line.AddSeries("cpu free", cpu, step, batchLines(r), zero, markLineStyle()).AddSeries("memory free", mem, step)
	o, err := optionOf(line)
	return chart{ID: id, Title: "Capacity left", Caption: "Allocatable of the nodes in service minus what the pods that must keep running request; below 0 pods wait.", Height: 280, Option: o}, err
}

// maxServices bounds the rows of an availability heat map.
const maxServices = 25

// availabilityChart: the Services hit, by the batch they were hit in;
// colour says down or degraded.
func availabilityChart(id string, r *sim.Result) (chart, bool, error) {
	svcs := worstServices(r, maxServices)
	if len(svcs) == 0 {
		return chart{}, false, nil
	}
	hm := charts.NewHeatMap()
	var batches []string
	for _, b := range r.Batches {
		batches = append(batches, fmt.Sprintf("B%d", b.Index))
	}
	var names []string
	for i := len(svcs) - 1; i >= 0; i-- { // worst at the top
		names = append(names, trimKind(svcs[i].Service))
	}
	hm.SetGlobalOptions(
		charts.WithAnimation(false),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "item"}),
		charts.WithGridOpts(opts.Grid{Left: "260", Right: "30", Top: "10", Bottom: "80"}),
		charts.WithXAxisOpts(opts.XAxis{Type: "category", Data: batches, Name: "batch", NameLocation: "middle", NameGap: 28, SplitArea: &opts.SplitArea{Show: opts.Bool(true)}}),
		charts.WithYAxisOpts(opts.YAxis{Type: "category", Data: names, SplitArea: &opts.SplitArea{Show: opts.Bool(true)},
			AxisLabel: &opts.AxisLabel{Width: 250, Overflow: "truncate"}}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Bottom: "0"}),
	)
	index := map[int]int{}
	for i, b := range r.Batches {
		index[b.Index] = i
	}
	// One series per colour: degraded, down.
	var degraded, down []opts.HeatMapData
	for row, sv := range svcs {
		y := len(svcs) - 1 - row
		for _, b := range sv.Batches {
			x, ok := index[b]
			if !ok {
				continue
			}
			d := opts.HeatMapData{Value: [3]interface{}{x, y, 1},
				Name: fmt.Sprintf("down %s, degraded %s", humanShort(sv.DownSeconds), humanShort(sv.DegradedSeconds))}
			if sv.DownSeconds > 0 {
				down = append(down, d)
			} else {
				degraded = append(degraded, d)
			}
		}
	}
	border := opts.ItemStyle{BorderColor: "#fff", BorderWidth: 2}
	degrStyle, downStyle := border, border
	degrStyle.Color, downStyle.Color = colAmber, colRed
	hm.AddSeries("degraded", degraded, charts.WithItemStyleOpts(degrStyle)).
		AddSeries("down", down, charts.WithItemStyleOpts(downStyle))
	o, err := optionOf(hm)
	caption := "Services whose ready endpoints fell below the degraded threshold (amber) or to zero (red), by the batch it happened in"
	if len(r.Services) > len(svcs) {
		caption += fmt.Sprintf("; the %d worst of %d", len(svcs), len(r.Services))
	}
	return chart{ID: id, Title: "Availability", Caption: caption + ".", Height: 110 + 22*len(svcs), Option: o}, true, err
}

func trimKind(obj string) string {
	const p = "Service/"
	if len(obj) > len(p) && obj[:len(p)] == p {
		return obj[len(p):]
	}
	return obj
}
