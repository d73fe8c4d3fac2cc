package analysis

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"time"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/noderoll/noderoll/plan"
	"github.com/noderoll/noderoll/sim"
	"github.com/noderoll/noderoll/snapshot"
)

// DefaultMonteCarloSeed is the seed of MonteCarlo when none is given.
const DefaultMonteCarloSeed = 1

// MonteCarloOptions configure MonteCarlo.
type MonteCarloOptions struct {
	// Runs is the number of simulations; at least 1.
	Runs int
	// Seed makes the draws reproducible: run i draws from a PCG source
	// seeded with (Seed, i), so a run's draws do not depend on which
	// goroutine ran it or when.
	Seed uint64
	// Sim are the options of every run. Its Config's Variability gives
	// each kind of duration's sigma (sim.DefaultConfig when the Config is
	// the zero value, as sim.Run does); Sim.Durations and Sim.Progress are
	// replaced.
	Sim sim.Options
	// Parallelism bounds the runs in flight; 0 means GOMAXPROCS.
	Parallelism int
	// Progress, when set, is called after each run, from one goroutine at
	// a time.
	Progress func(done, total int)
}

// Band is the spread of a plan's duration over Monte Carlo runs: each run
// draws every duration the simulator waits (pod start-up, termination, OS
// reinstall, node join) from a log-normal distribution whose median is the
// configured value and whose sigma is the config's Variability.
type Band struct {
	Runs int    `json:"runs"`
	Seed uint64 `json:"seed"`
	// P50Seconds, P90Seconds and P99Seconds are quantiles of the runs'
	// durations (gonum stat.Quantile, empirical).
	P50Seconds  float64 `json:"p50Seconds"`
	P90Seconds  float64 `json:"p90Seconds"`
	P99Seconds  float64 `json:"p99Seconds"`
	MinSeconds  float64 `json:"minSeconds"`
	MaxSeconds  float64 `json:"maxSeconds"`
	MeanSeconds float64 `json:"meanSeconds"`
	// Variability is the sigma of each kind of duration used.
	Variability sim.Variability `json:"variability"`
	// DurationsSeconds is each run's duration, in run order.
	DurationsSeconds []float64 `json:"durationsSeconds"`
}

// MonteCarlo simulates plan p on snap opts.Runs times with random
// durations and returns the spread of the rollout's duration. Runs go in
// parallel, at most opts.Parallelism at once; the result depends only on
// the inputs and the seed.
func MonteCarlo(ctx context.Context, snap *snapshot.Snapshot, p *plan.Plan, opts MonteCarloOptions) (Band, error) {
	if opts.Runs < 1 {
		return Band{}, fmt.Errorf("monte carlo: %d runs: want at least 1", opts.Runs)
	}
	cfg := opts.Sim.Config
	if cfg.Timing.EvictionRetrySeconds == 0 {
		cfg = sim.DefaultConfig()
	}
	workers := opts.Parallelism
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, opts.Runs)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	durations := make([]float64, opts.Runs)
	errs := make([]error, opts.Runs)
	next := make(chan int)
	var mu sync.Mutex
	done := 0
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				so := opts.Sim
				so.Config = cfg
				so.Progress = nil
				so.Durations = drawer(cfg.Variability, rand.NewPCG(opts.Seed, uint64(i)))
				r, err := sim.Run(ctx, snap, p, so)
				if err != nil {
					errs[i] = fmt.Errorf("monte carlo run %d: %w", i, err)
					cancel()
					continue
				}
				durations[i] = r.Summary.DurationSeconds
				if opts.Progress != nil {
					mu.Lock()
					done++
					opts.Progress(done, opts.Runs)
					mu.Unlock()
				}
			}
		})
	}
feed:
	for i := range opts.Runs {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return Band{}, err
		}
	}
	if err := ctx.Err(); err != nil {
		return Band{}, err
	}
	return newBand(durations, opts.Seed, cfg.Variability), nil
}

// drawer returns the sim.Options.Durations of one run: a log-normal draw
// around each configured duration, from its own source.
func drawer(v sim.Variability, src rand.Source) func(string, time.Duration) time.Duration {
	return func(kind string, median time.Duration) time.Duration {
		sigma := v.Sigma(kind)
		if sigma == 0 || median <= 0 {
			return median
		}
		d := distuv.LogNormal{Mu: math.Log(median.Seconds()), Sigma: sigma, Src: src}
		return time.Duration(d.Rand() * float64(time.Second))
	}
}

func newBand(durations []float64, seed uint64, v sim.Variability) Band {
	sorted := slices.Clone(durations)
	slices.Sort(sorted)
	q := func(p float64) float64 { return stat.Quantile(p, stat.Empirical, sorted, nil) }
	return Band{
		Runs: len(durations), Seed: seed,
		P50Seconds: q(0.5), P90Seconds: q(0.9), P99Seconds: q(0.99),
		MinSeconds: sorted[0], MaxSeconds: sorted[len(sorted)-1], MeanSeconds: stat.Mean(sorted, nil),
		Variability: v, DurationsSeconds: durations,
	}
}
