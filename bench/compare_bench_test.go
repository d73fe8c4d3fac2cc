package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/noderoll/noderoll/analysis"
	"github.com/noderoll/noderoll/scheduler"
	"github.com/noderoll/noderoll/sim"
	"github.com/noderoll/noderoll/snapshot"
)

// seedForCompare loads the seed snapshot from the shared cache when it is
// there (generating it takes a minute), else generates it.
func seedForCompare(b *testing.B) *snapshot.Snapshot {
	b.Helper()
	for _, path := range []string{filepath.Join("..", ".cache", "seed.json.gz"), "/work/main/.cache/seed.json.gz"} {
		if _, err := os.Stat(path); err != nil {
			continue
		}
		snap, err := snapshot.Load(path)
		if err != nil {
			b.Fatalf("loading %s: %v", path, err)
		}
		return snap
	}
	return seed(b)
}

// BenchmarkCompareSeed runs the default comparison (rolling at 1%, 2%, 5%,
// 10%, 20% and migration with a 10% seed) on the seed cluster, in parallel
// over the cores, and reports its wall time and peak RSS.
func BenchmarkCompareSeed(b *testing.B) {
	snap := seedForCompare(b)
	strategies, err := analysis.ParseStrategies(strings.Join(analysis.DefaultStrategies, ","))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	var cmp *analysis.Comparison
	for i := 0; i < b.N; i++ {
		cmp, err = analysis.Compare(context.Background(), snap, strategies, analysis.CompareOptions{
			Sim: sim.Options{Scheduler: scheduler.Options{Seed: 1}},
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	secs := b.Elapsed().Seconds() / float64(b.N)
	b.StopTimer()
	if len(cmp.Results) != len(strategies) || len(cmp.Ranking) != len(strategies) {
		b.Fatalf("%d results and %d ranks for %d strategies", len(cmp.Results), len(cmp.Ranking), len(strategies))
	}
	b.ReportMetric(secs, "s/compare")
	b.ReportMetric(peakRSSMiB(), "peak-RSS-MiB")
	fmt.Printf("default comparison on the seed cluster (%d nodes, %d pods): %.1f s wall on %d cores, peak RSS %.0f MiB; first: %s\n",
		len(snap.Nodes), len(snap.Pods), secs, runtime.GOMAXPROCS(0), peakRSSMiB(), cmp.Ranking[0].Strategy)
}
