package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"time"

	"github.com/spf13/cobra"

	"github.com/noderoll/noderoll/analysis"
	"github.com/noderoll/noderoll/internal/atomicfile"
	"github.com/noderoll/noderoll/plan"
	"github.com/noderoll/noderoll/reports"
	"github.com/noderoll/noderoll/scheduler"
	"github.com/noderoll/noderoll/sim"
	"github.com/noderoll/noderoll/sim/rolling"
	"github.com/noderoll/noderoll/snapshot"
)

// simulateOptions are the flags and arguments of `simulate`.
type simulateOptions struct {
	file            string
	strategy        string
	batchSize       string
	order           string
	configFile      string
	schedulerConfig string
	seed            int64
	newOSImage      string
	output          string
	out             string
	cpuProfile      string
	html            string // --html: the HTML report
	markdown        string // --markdown: the Markdown report
	runs            int    // --runs: Monte Carlo runs, 0 = off
	mcSeed          uint64 // --mc-seed
}

func newSimulateCommand(stdout, stderr io.Writer) *cobra.Command {
	o := &simulateOptions{}
	cmd := &cobra.Command{
		Use:   "simulate FILE --strategy rolling [--batch-size 10|5%] [--order name|zone|fewest-pods]",
		Short: "Predict what replacing every node's OS does to the cluster in FILE",
		Long: "Replay the snapshot in memory with the real kube-scheduler framework and run the\n" +
			"strategy's plan on it: cordon, drain through the Eviction API (PDBs honoured, 429s\n" +
			"retried every 5 s), reinstall, rejoin, uncordon, batch by batch. Prints the predicted\n" +
			"evictions, PDB stalls, unschedulable pods, outages and duration.",
		Args: exactArgs("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.file = args[0]
			if err := o.validate(); err != nil {
				return err
			}
			return o.run(cmd.Context(), stdout, stderr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.strategy, "strategy", "rolling", "replacement strategy: rolling")
	f.StringVar(&o.batchSize, "batch-size", "10%", "nodes per batch: a count or a percentage of the nodes")
	f.StringVar(&o.order, "order", rolling.OrderName, "node order: name, zone or fewest-pods")
	f.StringVar(&o.configFile, "config", "", "simulation config file (time model, per-workload overrides)")
	f.StringVar(&o.schedulerConfig, "scheduler-config", "", "KubeSchedulerConfiguration file (default: the default profile)")
	f.Int64Var(&o.seed, "seed", 1, "seed for tie-breaking between equally scored nodes")
	f.StringVar(&o.newOSImage, "new-os-image", "", "OS image nodes report after reinstall")
	f.StringVarP(&o.output, "output", "o", "table", "output format: table or json")
	f.StringVar(&o.out, "out", "", "also write the JSON result to this file")
	f.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the simulation to this file")
	_ = f.MarkHidden("cpuprofile")
	f.StringVar(&o.html, "html", "", "also write the report as one self-contained HTML file")
	f.StringVar(&o.markdown, "markdown", "", "also write the report as Markdown (for a change ticket)")
	f.IntVar(&o.runs, "runs", 0, "Monte Carlo runs for a P50/P90/P99 duration band (0: off)")
	f.Uint64Var(&o.mcSeed, "mc-seed", analysis.DefaultMonteCarloSeed, "seed of the Monte Carlo draws")
	return cmd
}

func (o *simulateOptions) validate() error {
	switch o.strategy {
	case "rolling":
	case "migration":
		return usageErrorf("--strategy migration: not available yet (rolling is)")
	default:
		return usageErrorf("unknown strategy %q: want rolling", o.strategy)
	}
	if o.output != "table" && o.output != "json" {
		return usageErrorf("unknown output format %q: want table or json", o.output)
	}
	if o.runs < 0 {
		return usageErrorf("--runs %d: want 0 (off) or more", o.runs)
	}
	if _, err := rolling.ParseBatchSize(o.batchSize, 100); err != nil {
		return usageErrorf("--batch-size: %v", err)
	}
	switch o.order {
	case rolling.OrderName, rolling.OrderZone, rolling.OrderFewestPods:
	default:
		return usageErrorf("--order %q: want name, zone or fewest-pods", o.order)
	}
	return nil
}

func (o *simulateOptions) run(ctx context.Context, stdout, stderr io.Writer) error {
	if o.html != "" {
		if err := reports.CheckAssets(); err != nil {
			return err
		}
	}
	snap, err := snapshot.Load(o.file)
	if err != nil {
		return err
	}
	printWarnings(stderr, snap.Warnings)
	cfg := sim.DefaultConfig()
	if o.configFile != "" {
		if cfg, err = sim.LoadConfig(o.configFile); err != nil {
			return usageError{err}
		}
	}
	p, err := rolling.Plan(snap, rolling.Params{BatchSize: o.batchSize, Order: o.order, NewOSImage: o.newOSImage})
	if err != nil {
		return usageError{err}
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return errors.Join(err, f.Close())
		}
		defer func() {
			pprof.StopCPUProfile()
			_ = f.Close()
		}()
	}
	res, err := sim.Run(ctx, snap, p, sim.Options{
		Config:    cfg,
		Scheduler: scheduler.Options{ConfigFile: o.schedulerConfig, Seed: o.seed},
		Progress:  progressFunc(stderr, o.output == "json", "simulating batches"),
	})
	if err != nil {
		return err
	}
	if o.out != "" {
		var buf bytes.Buffer
		if err := reports.WriteResultJSON(&buf, res); err != nil {
			return err
		}
		if err := writeFileAtomic(o.out, buf.Bytes()); err != nil {
			return err
		}
	}
	if err := o.writeReports(ctx, stderr, snap, p, cfg, res); err != nil {
		return err
	}
	if o.output == "json" {
		return reports.WriteResultJSON(stdout, res)
	}
	return reports.WriteResultTable(stdout, res)
}

// writeReports runs the Monte Carlo band when asked and writes the HTML
// and Markdown reports.
func (o *simulateOptions) writeReports(ctx context.Context, stderr io.Writer, snap *snapshot.Snapshot, p *plan.Plan, cfg sim.Config, res *sim.Result) error {
	if o.html == "" && o.markdown == "" && o.runs == 0 {
		return nil
	}
	rep := reports.Report{Results: []*sim.Result{res}, Bands: map[string]analysis.Band{}}
	if o.runs > 0 {
		band, err := analysis.MonteCarlo(ctx, snap, p, analysis.MonteCarloOptions{Runs: o.runs, Seed: o.mcSeed,
			Sim:      sim.Options{Config: cfg, Scheduler: scheduler.Options{ConfigFile: o.schedulerConfig, Seed: o.seed}, NewOSImage: o.newOSImage},
			Progress: progressFunc(stderr, o.output == "json", "monte carlo runs")})
		if err != nil {
			return err
		}
		rep.Bands[reports.Label(res)] = band
		if o.output != "json" {
			fmt.Fprintf(stderr, "duration over %d Monte Carlo runs (seed %d): P50 %s, P90 %s, P99 %s\n", band.Runs, band.Seed,
				time.Duration(band.P50Seconds)*time.Second, time.Duration(band.P90Seconds)*time.Second, time.Duration(band.P99Seconds)*time.Second)
		}
	}
	if o.html != "" || o.markdown != "" {
		pf := analysis.Preflight(snap, analysis.PreflightOptions{})
		rep.Preflight = &pf
	}
	for _, out := range []struct {
		path  string
		write func(io.Writer, reports.Report) error
	}{{o.html, reports.WriteHTML}, {o.markdown, reports.WriteMarkdown}} {
		if out.path == "" {
			continue
		}
		if err := atomicfile.Write(out.path, func(w io.Writer) error { return out.write(w, rep) }); err != nil {
			return fmt.Errorf("writing %s: %w", out.path, err)
		}
		if o.output != "json" {
			fmt.Fprintf(stderr, "wrote %s\n", out.path)
		}
	}
	return nil
}

// writeFileAtomic writes data to path so that path is never half-written.
func writeFileAtomic(path string, data []byte) error {
	if err := atomicfile.Write(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
