package analysis

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/noderoll/noderoll/plan"
	"github.com/noderoll/noderoll/sim"
	"github.com/noderoll/noderoll/sim/rolling"
	"github.com/noderoll/noderoll/snapshot"
	"github.com/noderoll/noderoll/snapshot/synth"
)

var smallOnce = sync.OnceValues(func() (*snapshot.Snapshot, error) {
	return synth.Generate(context.Background(), synth.Config{Profile: "small"})
})

func smallPlan(t *testing.T) (*snapshot.Snapshot, *plan.Plan) {
	t.Helper()
	snap, err := smallOnce()
	if err != nil {
		t.Fatal(err)
	}
	p, err := rolling.Plan(snap, rolling.Params{BatchSize: "10%", Order: rolling.OrderName})
	if err != nil {
		t.Fatal(err)
	}
	return snap, p
}

func TestMonteCarlo_withoutVariabilityEveryRunIsTheDeterministicRun(t *testing.T) {
	snap, p := smallPlan(t)
	cfg := sim.DefaultConfig()
	cfg.Variability = sim.Variability{}
	want, err := sim.Run(context.Background(), snap, p, sim.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	band, err := MonteCarlo(context.Background(), snap, p, MonteCarloOptions{Runs: 3, Seed: 7, Sim: sim.Options{Config: cfg}})
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range band.DurationsSeconds {
		if d != want.Summary.DurationSeconds {
			t.Errorf("run %d took %vs, the deterministic run %vs", i, d, want.Summary.DurationSeconds)
		}
	}
	if band.P50Seconds != want.Summary.DurationSeconds || band.P99Seconds != want.Summary.DurationSeconds {
		t.Errorf("band %+v is not the point %vs", band, want.Summary.DurationSeconds)
	}
	// The hook with sigma 0 changes nothing else either.
	got, err := sim.Run(context.Background(), snap, p, sim.Options{Config: cfg, Durations: drawer(cfg.Variability, nil)})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(want)
	b, _ := json.Marshal(got)
	if string(a) != string(b) {
		t.Error("a run through the duration hook with sigma 0 differs from the deterministic run")
	}
}

func TestMonteCarlo_withVariabilityTheBandWidensAndIsReproducible(t *testing.T) {
	snap, p := smallPlan(t)
	opts := MonteCarloOptions{Runs: 8, Seed: 42, Sim: sim.Options{Config: sim.DefaultConfig()}}
	var calls []int
	opts.Progress = func(done, total int) {
		if total != 8 {
			t.Errorf("progress total %d, want 8", total)
		}
		calls = append(calls, done)
	}
	a, err := MonteCarlo(context.Background(), snap, p, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 8 || calls[7] != 8 {
		t.Errorf("progress calls %v, want 1..8", calls)
	}
	if !(a.MinSeconds < a.P50Seconds || a.P50Seconds < a.MaxSeconds) || a.MinSeconds == a.MaxSeconds {
		t.Errorf("no spread: %+v", a)
	}
	if !(a.P50Seconds <= a.P90Seconds && a.P90Seconds <= a.P99Seconds && a.P99Seconds <= a.MaxSeconds) {
		t.Errorf("quantiles out of order: %+v", a)
	}
	opts.Progress = nil
	opts.Parallelism = 1
	b, err := MonteCarlo(context.Background(), snap, p, opts)
	if err != nil {
		t.Fatal(err)
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		t.Errorf("the same seed gave two bands:\n%s\n%s", ja, jb)
	}
	opts.Seed = 43
	c, err := MonteCarlo(context.Background(), snap, p, opts)
	if err != nil {
		t.Fatal(err)
	}
	jc, _ := json.Marshal(c)
	if string(ja) == string(jc) {
		t.Error("seeds 42 and 43 gave the same band")
	}
	if a.Seed != 42 || a.Runs != 8 {
		t.Errorf("band says seed %d and %d runs", a.Seed, a.Runs)
	}
}

func TestMonteCarlo_refusesZeroRuns(t *testing.T) {
	snap, p := smallPlan(t)
	if _, err := MonteCarlo(context.Background(), snap, p, MonteCarloOptions{}); err == nil {
		t.Error("no error for 0 runs")
	}
}
