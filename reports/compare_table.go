package reports

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/noderoll/noderoll/analysis"
	"github.com/noderoll/noderoll/sim"
)

// compareJSON is the `compare -o json` contract: {"results": [...],
// "ranking": [...]}, plus the sweep and the findings.
type compareJSON struct {
	Results  []*sim.Result   `json:"results"`
	Ranking  []analysis.Rank `json:"ranking"`
	Sweep    *analysis.Sweep `json:"sweep,omitempty"`
	Findings []string        `json:"findings"`
}

// WriteComparisonJSON writes the comparison as JSON.
func WriteComparisonJSON(w io.Writer, c *analysis.Comparison) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(compareJSON{Results: c.Results, Ranking: c.Ranking, Sweep: c.Sweep, Findings: c.Findings})
}

// comparisonRows are the ranking's rows: place, strategy and the figures.
func comparisonRows(c *analysis.Comparison) [][]string {
	byStrategy := map[string]*sim.Result{}
	for i, s := range c.Specs {
		byStrategy[s] = c.Results[i]
	}
	rows := [][]string{{"#", "STRATEGY", "SAFE", "DURATION", "EVICTIONS", "MOVES MAX", "MOVED >1", "PDB STALL", "SVC DOWN", "SVC DOWNTIME", "SVC DEGRADED", "UNSCHEDULABLE", "LOST PODS", "EXTRA MACHINE-H"}}
	for _, rk := range c.Ranking {
		r := byStrategy[rk.Strategy]
		s := r.Summary
		rows = append(rows, []string{fmt.Sprint(rk.Place), rk.Strategy, yesNo(analysis.Safe(r)), human(s.DurationSeconds),
			fmt.Sprint(s.Evictions), fmt.Sprint(s.PodMovesMax), fmt.Sprint(s.PodsMovedMoreThanOnce), human(s.PDBStallSeconds),
			fmt.Sprint(s.ServicesWithOutage), human(analysis.ServiceDownSeconds(r)),
			fmt.Sprint(s.ServicesDegraded), fmt.Sprint(s.UnschedulablePods), fmt.Sprint(s.LostPods), fmt.Sprintf("%.1f", s.ExtraMachineHours)})
	}
	return rows
}

// WriteComparisonTable writes the ranking as a terminal table, then the
// batch-size sweep and the findings.
func WriteComparisonTable(w io.Writer, c *analysis.Comparison) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	for _, row := range comparisonRows(c) {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if c.Sweep != nil {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "SWEEP\tNODES/BATCH\tDURATION\tSVC DOWN\tSVC DEGRADED\tUNSCHEDULABLE\tKNEE")
		for i, p := range c.Sweep.Points {
			knee := ""
			if i == c.Sweep.Knee {
				knee = "<- knee"
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%d\t%s\n", p.Strategy, p.BatchNodes, human(p.DurationSeconds),
				p.ServicesWithOutage, p.ServicesDegraded, p.UnschedulablePods, knee)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(c.Findings) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "FINDINGS")
		for _, f := range c.Findings {
			fmt.Fprintf(w, "- %s\n", f)
		}
	}
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
