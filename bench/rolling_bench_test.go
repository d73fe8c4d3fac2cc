package bench

import (
	"context"
	"fmt"
	"testing"

	"github.com/noderoll/noderoll/scheduler"
	"github.com/noderoll/noderoll/sim"
	"github.com/noderoll/noderoll/sim/rolling"
)

// BenchmarkRollingSeed simulates the full rolling replacement of the seed
// cluster at 5% and 10% batches, with our scheduler and with the naive
// framework loop doing every placement, and checks both predict the same.
func BenchmarkRollingSeed(b *testing.B) {
	snap := seed(b)
	for _, size := range []string{"5%", "10%"} {
		b.Run("batch="+size, func(b *testing.B) {
			p, err := rolling.Plan(snap, rolling.Params{BatchSize: size, Order: rolling.OrderName})
			if err != nil {
				b.Fatal(err)
			}
			results := map[bool]*sim.Result{}
			secs := map[bool]float64{}
			for _, naive := range []bool{false, true} {
				name := "noderoll"
				if naive {
					name = "naive-framework-loop"
				}
				b.Run(name, func(b *testing.B) {
					b.ReportAllocs()
					var res *sim.Result
					for i := 0; i < b.N; i++ {
						res, err = sim.Run(context.Background(), snap, p, sim.Options{Scheduler: scheduler.Options{Seed: 1, Naive: naive}})
						if err != nil {
							b.Fatal(err)
						}
					}
					results[naive] = res
					secs[naive] = b.Elapsed().Seconds() / float64(b.N)
					b.ReportMetric(secs[naive], "s/run")
					b.ReportMetric(float64(res.Summary.Evictions)/secs[naive], "evictions/s")
					b.ReportMetric(peakRSSMiB(), "peak-RSS-MiB")
				})
			}
			if results[true] != nil && results[false] != nil {
				same := results[true].Summary == results[false].Summary
				fmt.Printf("rolling %s: noderoll %.1f s, naive framework loop %.1f s, ratio %.1fx, same prediction: %v (%d evictions, %d batches)\n",
					size, secs[false], secs[true], secs[true]/secs[false], same, results[false].Summary.Evictions, results[false].Summary.Batches)
				if !same {
					b.Fatalf("the predictions differ:\n%+v\n%+v", results[false].Summary, results[true].Summary)
				}
			}
		})
	}
}
