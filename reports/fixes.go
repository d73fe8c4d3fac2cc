package reports

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"

	"github.com/noderoll/noderoll/analysis"
	"github.com/noderoll/noderoll/remediate"
	"github.com/noderoll/noderoll/sim"
)

// maxFixRows bounds the fixes listed one by one in tables and reports;
// the rest are counted by kind (all of them are in the JSON and in
// --fixes-out).
const maxFixRows = 30

// FixEntry is one fix as the fix list file writes it.
type FixEntry struct {
	Object      string         `json:"object"`
	Change      string         `json:"change"`
	RiskRemoved int            `json:"riskRemoved"`
	Addresses   []string       `json:"addresses"`
	Cost        remediate.Cost `json:"cost"`
	Apply       string         `json:"apply"`
}

// FixListDoc is the fix list file (`remediate --fixes-out`).
type FixListDoc struct {
	Strategy    string         `json:"strategy"`
	Approvable  bool           `json:"approvable"`
	Simulations int            `json:"simulations"`
	Total       remediate.Cost `json:"totalCost"`
	Before      string         `json:"before"`
	After       string         `json:"after"`
	Fixes       []FixEntry     `json:"fixes"`
}

// FixList is the outcome as the fix list file.
func FixList(o *remediate.Outcome) FixListDoc {
	d := FixListDoc{Strategy: o.Strategy, Approvable: o.Approvable, Simulations: o.Simulations, Total: o.Total,
		Before: impactLine(o.Before), After: impactLine(o.After)}
	for _, f := range o.Fixes {
		d.Fixes = append(d.Fixes, FixEntry{Object: f.Object, Change: f.Change, RiskRemoved: f.RiskRemoved, Addresses: f.Addresses, Cost: f.Cost, Apply: f.Apply})
	}
	return d
}

// impactLine is a run's duration and impact in one line.
func impactLine(r *sim.Result) string {
	return fmt.Sprintf("%s with %s", humanShort(r.Summary.DurationSeconds), impact(r))
}

// WriteRemediationJSON writes the outcome as JSON: the fixes, the before
// and after results, the what-if file.
func WriteRemediationJSON(w io.Writer, o *remediate.Outcome) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(o); err != nil {
		return fmt.Errorf("writing the fixes as JSON: %w", err)
	}
	return nil
}

// fixHeadline says, in one sentence, what the fixes make of the run.
func fixHeadline(o *remediate.Outcome) string {
	after := o.After
	label := Label(after)
	if o.Approvable {
		return fmt.Sprintf("Approve %s once the %d fixes below are made (cost: %s): it then finishes in %s with %s; as it stands it %s.",
			label, len(o.Fixes), o.Total, humanShort(after.Summary.DurationSeconds), impact(after), "finishes in "+impactLine(o.Before))
	}
	return fmt.Sprintf("Even with the %d fixes below, do not approve %s: it still finishes in %s with %s.",
		len(o.Fixes), label, humanShort(after.Summary.DurationSeconds), impact(after))
}

// fixKinds counts the fixes by kind, in a fixed order.
func fixKinds(o *remediate.Outcome) string {
	counts := map[string]int{}
	for _, f := range o.Fixes {
		counts[f.Kind]++
	}
	names := map[string]string{"scale": "scaled", "pdb": "budgets added or relaxed", "deletePod": "bare pods deleted",
		"surge": "surge", "acceptOutage": "outages accepted"}
	var parts []string
	for _, k := range []string{"scale", "pdb", "deletePod", "surge", "acceptOutage"} {
		if counts[k] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[k], names[k]))
		}
	}
	return strings.Join(parts, ", ")
}

// searchNote says what the search took.
func searchNote(o *remediate.Outcome) string {
	s := fmt.Sprintf("%d fixes (%s) found in %d simulations: the run as it stands, %d rounds of fixes re-simulated together",
		len(o.Fixes), fixKinds(o), o.Simulations, o.Rounds)
	if o.Surge != nil {
		s += fmt.Sprintf(", %d runs of the minimal-surge bisection (upper bound %d nodes)", o.Surge.Runs, o.Surge.Upper)
	}
	return s + "."
}

// beforeAfterRows are the before and after runs as comparison cells.
func beforeAfterRows(o *remediate.Outcome) [][]string {
	row := func(name string, r *sim.Result) []string {
		s := r.Summary
		ok := "no"
		if remediate.Approvable(r) {
			ok = "yes"
		}
		return []string{name, ok, humanShort(s.DurationSeconds), fmt.Sprint(analysis.OutagesNotAccepted(r)), fmt.Sprint(s.OutagesAccepted),
			humanShort(analysis.ServiceDownSeconds(r)), fmt.Sprint(s.StuckNodes), fmt.Sprint(s.LostPods), fmt.Sprint(s.PendingAtEnd),
			fmt.Sprint(analysis.Shortfalls(r)), fmt.Sprint(s.UnschedulablePods), fmt.Sprint(s.ServicesDegraded), fmt.Sprint(s.Evictions),
			fmt.Sprintf("%.1f", s.ExtraMachineHours)}
	}
	return [][]string{row("before: "+Label(o.Before), o.Before), row("after: "+Label(o.After)+" with the fixes", o.After)}
}

// beforeAfterHeader names the cells of beforeAfterRows after the first.
var beforeAfterHeader = []string{"Approvable", "Duration", "Services down", "Outages accepted", "Service downtime", "Stuck drains",
	"Lost pods", "Pending at end", "Capacity shortfalls", "Unschedulable", "Degraded", "Evictions", "Extra machine-hours"}

// WriteRemediationTable writes the outcome for a terminal.
func WriteRemediationTable(w io.Writer, o *remediate.Outcome) error {
	fmt.Fprintln(w, fixHeadline(o))
	fmt.Fprintln(w, searchNote(o))
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\t"+strings.ToUpper(strings.Join(beforeAfterHeader, "\t")))
	for _, r := range beforeAfterRows(o) {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tOBJECT\tCHANGE\tRISK REMOVED\tCOST\tAPPLY")
	for i, f := range o.Fixes {
		if i == maxFixRows {
			break
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\n", i+1, f.Object, f.Change, f.RiskRemoved, f.Cost, firstLine(f.Apply))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if n := len(o.Fixes) - maxFixRows; n > 0 {
		fmt.Fprintf(w, "… and %d more (every fix: -o json or --fixes-out)\n", n)
	}
	fmt.Fprintf(w, "\ntotal cost: %s\n", o.Total)
	if len(o.Blocking) > 0 {
		fmt.Fprintf(w, "still blocking: %s\n", strings.Join(o.Blocking, "; "))
	}
	return nil
}

func firstLine(s string) string {
	if strings.HasPrefix(s, "apiVersion:") {
		return "PodDisruptionBudget manifest (see --fixes-out)"
	}
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// WriteRemediationMarkdown writes the outcome as Markdown: the section
// the reports carry, on its own.
func WriteRemediationMarkdown(w io.Writer, o *remediate.Outcome) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Fixes for %s\n\n**%s**\n", o.Strategy, fixHeadline(o))
	fixesMarkdown(&b, o)
	_, err := io.WriteString(w, b.String())
	return err
}

// fixesMarkdown writes the "Before / after fixes" section.
func fixesMarkdown(b *strings.Builder, o *remediate.Outcome) {
	b.WriteString("\n## Before / after fixes\n\n")
	fmt.Fprintf(b, "%s\n\n", searchNote(o))
	b.WriteString("| Run | " + strings.Join(beforeAfterHeader, " | ") + " |\n|---|" + strings.Repeat("---:|", len(beforeAfterHeader)) + "\n")
	for _, r := range beforeAfterRows(o) {
		fmt.Fprintf(b, "| %s |\n", strings.Join(mdCells(r), " | "))
	}
	b.WriteString("\n| # | Object | Change | Risk removed | Cost | Apply |\n|---:|---|---|---:|---|---|\n")
	for i, f := range o.Fixes {
		if i == maxFixRows {
			break
		}
		fmt.Fprintf(b, "| %d | `%s` | %s | %d | %s | %s |\n", i+1, f.Object, mdCell(f.Change), f.RiskRemoved, f.Cost, mdApply(f.Apply))
	}
	if n := len(o.Fixes) - maxFixRows; n > 0 {
		fmt.Fprintf(b, "\n… and %d more; every fix, with its manifest, is in the fix list file (`remediate --fixes-out`).\n", n)
	}
	fmt.Fprintf(b, "\nTotal cost: %s. The what-if file that reproduces the fixed run: `remediate --what-if-out`; `plan --what-if` records it, and `execute`'s drift gate then expects the cluster with the fixes made.\n", o.Total)
	if len(o.Blocking) > 0 {
		fmt.Fprintf(b, "\nStill blocking: %s.\n", mdCell(strings.Join(o.Blocking, "; ")))
	}
}

func mdCells(r []string) []string {
	out := make([]string, len(r))
	for i, c := range r {
		out[i] = mdCell(c)
	}
	return out
}

func mdApply(s string) string {
	if strings.HasPrefix(s, "apiVersion:") {
		return "PodDisruptionBudget manifest (fix list file)"
	}
	return "`" + strings.ReplaceAll(s, "`", "'") + "`"
}

// fixesPart is the HTML report's "Before / after fixes" section.
type fixesPart struct {
	Headline string     `json:"headline"`
	Note     string     `json:"note"`
	Header   []string   `json:"header"`
	Rows     [][]string `json:"rows"`
	Fixes    []fixRow   `json:"fixes"`
	Left     int        `json:"left"`
	Total    string     `json:"total"`
	Blocking string     `json:"blocking,omitempty"`
	Chart    chart      `json:"chart"`
}

type fixRow struct {
	N           int    `json:"n"`
	Object      string `json:"object"`
	Change      string `json:"change"`
	RiskRemoved int    `json:"riskRemoved"`
	Cost        string `json:"cost"`
	Apply       string `json:"apply"`
}

func buildFixesPart(o *remediate.Outcome) (*fixesPart, error) {
	fp := &fixesPart{Headline: fixHeadline(o), Note: searchNote(o), Header: beforeAfterHeader, Rows: beforeAfterRows(o), Total: o.Total.String(),
		Blocking: strings.Join(o.Blocking, "; ")}
	for i, f := range o.Fixes {
		if i == maxFixRows {
			fp.Left = len(o.Fixes) - maxFixRows
			break
		}
		fp.Fixes = append(fp.Fixes, fixRow{N: i + 1, Object: f.Object, Change: f.Change, RiskRemoved: f.RiskRemoved, Cost: f.Cost.String(), Apply: f.Apply})
	}
	c, err := fixesChart(o)
	if err != nil {
		return nil, err
	}
	fp.Chart = c
	return fp, nil
}

// fixesChart: what blocks approval, before and after the fixes.
func fixesChart(o *remediate.Outcome) (chart, error) {
	bar := charts.NewBar()
	bar.SetGlobalOptions(append(baseOpts(),
		charts.WithYAxisOpts(opts.YAxis{Name: "count", Type: "value"}),
		barAxis(),
		charts.WithColorsOpts(opts.Colors{colGrey, colTeal}))...)
	cats := []string{"Services down", "stuck drains", "lost pods", "capacity shortfalls", "unschedulable pods", "Services degraded"}
	val := func(r *sim.Result) []opts.BarData {
		s := r.Summary
		vals := []int{analysis.OutagesNotAccepted(r), s.StuckNodes, s.LostPods, analysis.Shortfalls(r), s.UnschedulablePods, s.ServicesDegraded}
		out := make([]opts.BarData, len(vals))
		for i, v := range vals {
			out[i] = opts.BarData{Value: v}
		}
		return out
	}
	bar.SetXAxis(cats).AddSeries("before", val(o.Before)).AddSeries(fmt.Sprintf("after %d fixes", len(o.Fixes)), val(o.After))
	op, err := optionOf(bar)
	return chart{ID: "fixes", Title: "Before / after fixes", Caption: "What blocks approval (the first four) and what degrades, with and without the fixes; accepted outages are not counted.",
		Height: 320, Wide: true, Option: op}, err
}
