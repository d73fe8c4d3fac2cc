package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/noderoll/noderoll/analysis"
	"github.com/noderoll/noderoll/scheduler"
	"github.com/noderoll/noderoll/sim"
)

// BenchmarkEnginesSeed runs rolling 5%, rolling 20% and migration (10%
// seed) on the seed cluster with each engine, one run at a time, and
// reports each run's wall time and the ratio. It fails unless the two
// engines' result JSON is byte-identical (the assumptions' engine name
// aside): a faster result that differs is a bug.
func BenchmarkEnginesSeed(b *testing.B) {
	snap := seedForCompare(b)
	for _, name := range []string{"rolling:5%", "rolling:20%", "migration:seed=0.1"} {
		b.Run(name, func(b *testing.B) {
			strategies, err := analysis.ParseStrategies(name)
			if err != nil {
				b.Fatal(err)
			}
			out := map[scheduler.Engine][]byte{}
			secs := map[scheduler.Engine]float64{}
			for _, engine := range []scheduler.Engine{scheduler.EngineIncremental, scheduler.EngineReference} {
				b.Run("engine="+string(engine), func(b *testing.B) {
					var res *sim.Result
					for i := 0; i < b.N; i++ {
						cmp, err := analysis.Compare(context.Background(), snap, strategies, analysis.CompareOptions{
							Sim: sim.Options{Scheduler: scheduler.Options{Seed: 1, Engine: engine}},
						})
						if err != nil {
							b.Fatal(err)
						}
						res = cmp.Results[0]
					}
					secs[engine] = b.Elapsed().Seconds() / float64(b.N)
					b.ReportMetric(secs[engine], "s/run")
					b.ReportMetric(peakRSSMiB(), "peak-RSS-MiB")
					if res.Assumptions.Engine != engine {
						b.Fatalf("the result names engine %q, want %q", res.Assumptions.Engine, engine)
					}
					res.Assumptions.Engine = ""
					data, err := json.Marshal(res)
					if err != nil {
						b.Fatal(err)
					}
					out[engine] = data
				})
			}
			inc, ref := out[scheduler.EngineIncremental], out[scheduler.EngineReference]
			if inc == nil || ref == nil {
				return
			}
			same := bytes.Equal(inc, ref)
			fmt.Printf("%s: incremental %.1f s, reference %.1f s, ratio %.2fx, result JSON byte-identical: %v (%d bytes)\n",
				name, secs[scheduler.EngineIncremental], secs[scheduler.EngineReference],
				secs[scheduler.EngineReference]/secs[scheduler.EngineIncremental], same, len(inc))
			if !same {
				b.Fatalf("the engines' results differ (%d and %d bytes)", len(inc), len(ref))
			}
		})
	}
}
