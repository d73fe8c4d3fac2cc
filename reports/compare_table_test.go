package reports

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/noderoll/noderoll/analysis"
	"github.com/noderoll/noderoll/sim"
)

// comparison is a fixed comparison: rendering only, no simulation.
func comparison(t *testing.T) *analysis.Comparison {
	t.Helper()
	snap := sim.SnapshotRef{Fingerprint: "0123456789abcdef", Nodes: 100, Pods: 2000}
	mk := func(strategy string, s sim.Summary) *sim.Result {
		return &sim.Result{Strategy: strategy, Snapshot: snap, Summary: s}
	}
	specs := []string{"rolling:5%", "rolling:10%", "rolling:20%", "migration:seed=0.1"}
	results := []*sim.Result{
		mk("rolling", sim.Summary{DurationSeconds: 13200, Evictions: 2100, PodMovesMax: 3, PDBStallSeconds: 600, ServicesDegraded: 40, ServicesWithOutage: 2}),
		mk("rolling", sim.Summary{DurationSeconds: 6600, Evictions: 2200, PodMovesMax: 3, PDBStallSeconds: 900, ServicesDegraded: 55, ServicesWithOutage: 3, UnschedulablePods: 4}),
		mk("rolling", sim.Summary{DurationSeconds: 3300, Evictions: 2400, PodMovesMax: 4, PDBStallSeconds: 1800, ServicesDegraded: 90, ServicesWithOutage: 12, UnschedulablePods: 60}),
		mk("migration", sim.Summary{DurationSeconds: 20000, Evictions: 150, PodMovesMax: 2, PDBStallSeconds: 100, ServicesDegraded: 3, LostPods: 1}),
	}
	strategies := make([]analysis.Strategy, len(specs))
	for i, sp := range specs {
		st, err := analysis.ParseStrategy(sp)
		if err != nil {
			t.Fatal(err)
		}
		strategies[i] = st
	}
	c := &analysis.Comparison{Results: results, Specs: specs}
	c.Ranking = analysis.RankResults(specs, results)
	c.Sweep = analysis.SweepOf(strategies, results)
	c.Findings = []string{"a finding measured on the results"}
	return c
}

func TestComparisonRenderingsMatchGolden(t *testing.T) {
	for _, tc := range []struct {
		file  string
		write func(*bytes.Buffer, *analysis.Comparison) error
	}{
		{"compare.txt", func(b *bytes.Buffer, c *analysis.Comparison) error { return WriteComparisonTable(b, c) }},
		{"compare.json", func(b *bytes.Buffer, c *analysis.Comparison) error { return WriteComparisonJSON(b, c) }},
	} {
		t.Run(tc.file, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tc.write(&buf, comparison(t)); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tc.file)
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if buf.String() != string(want) {
				t.Errorf("%s differs from the golden file:\n%s", tc.file, buf.String())
			}
		})
	}
}
