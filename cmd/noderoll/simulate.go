package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

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
	memProfile      string
	// drain and soakSeconds, when set (by `plan`), go into the plan.
	drain       *plan.DrainOptions
	soakSeconds int64
}

func newSimulateCommand(stdout, stderr io.Writer) *cobra.Command {
	o := &simulateOptions{}
	cmd := &cobra.Command{
		Use:   "simulate FILE --strategy rolling [--batch-size 10|5%] [--order name|zone|fewest-pods|planned]",
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
	o.addStrategyFlags(f)
	f.StringVarP(&o.output, "output", "o", "table", "output format: table or json")
	f.StringVar(&o.out, "out", "", "also write the JSON result to this file")
	f.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the simulation to this file")
	_ = f.MarkHidden("cpuprofile")
	f.StringVar(&o.memProfile, "memprofile", "", "write an allocation profile of the simulation to this file")
	_ = f.MarkHidden("memprofile")
	return cmd
}

// addStrategyFlags adds the flags that choose and tune the strategy and the
// simulation: shared by simulate and plan.
func (o *simulateOptions) addStrategyFlags(f *pflag.FlagSet) {
	f.StringVar(&o.strategy, "strategy", "rolling", "replacement strategy: rolling")
	f.StringVar(&o.batchSize, "batch-size", "10%", "nodes per batch: a count or a percentage of the nodes")
	f.StringVar(&o.order, "order", rolling.OrderName, "node order: "+strings.Join(rolling.Orders, ", "))
	f.StringVar(&o.configFile, "config", "", "simulation config file (time model, per-workload overrides)")
	f.StringVar(&o.schedulerConfig, "scheduler-config", "", "KubeSchedulerConfiguration file (default: the default profile)")
	f.Int64Var(&o.seed, "seed", 1, "seed for tie-breaking between equally scored nodes")
	f.StringVar(&o.newOSImage, "new-os-image", "", "OS image nodes report after reinstall")
}

func (o *simulateOptions) validate() error {
	if err := o.validateStrategy(); err != nil {
		return err
	}
	if o.output != "table" && o.output != "json" {
		return usageErrorf("unknown output format %q: want table or json", o.output)
	}
	return nil
}

// validateStrategy checks the strategy flags.
func (o *simulateOptions) validateStrategy() error {
	switch o.strategy {
	case "rolling":
	case "migration":
		return usageErrorf("--strategy migration: not available yet (rolling is)")
	default:
		return usageErrorf("unknown strategy %q: want rolling", o.strategy)
	}
	if _, err := rolling.ParseBatchSize(o.batchSize, 100); err != nil {
		return usageErrorf("--batch-size: %v", err)
	}
	if !slices.Contains(rolling.Orders, o.order) {
		return usageErrorf("--order %q: want one of %s", o.order, strings.Join(rolling.Orders, ", "))
	}
	return nil
}

func (o *simulateOptions) run(ctx context.Context, stdout, stderr io.Writer) error {
	snap, err := snapshot.Load(o.file)
	if err != nil {
		return err
	}
	printWarnings(stderr, snap.Warnings)
	cfg, err := o.simConfig()
	if err != nil {
		return err
	}
	p, err := o.buildPlan(snap)
	if err != nil {
		return err
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
	if o.memProfile != "" {
		defer func() {
			if f, err := os.Create(o.memProfile); err == nil {
				_ = pprof.Lookup("allocs").WriteTo(f, 0)
				_ = f.Close()
			}
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
	if o.output == "json" {
		return reports.WriteResultJSON(stdout, res)
	}
	return reports.WriteResultTable(stdout, res)
}

// simConfig loads --config over the defaults.
func (o *simulateOptions) simConfig() (sim.Config, error) {
	if o.configFile == "" {
		return sim.DefaultConfig(), nil
	}
	cfg, err := sim.LoadConfig(o.configFile)
	if err != nil {
		return cfg, usageError{err}
	}
	return cfg, nil
}

// buildPlan makes the strategy's plan for snap from the options: the one
// place simulate and plan turn their flags into a plan.
func (o *simulateOptions) buildPlan(snap *snapshot.Snapshot) (*plan.Plan, error) {
	p, err := rolling.Plan(snap, rolling.Params{BatchSize: o.batchSize, Order: o.order, NewOSImage: o.newOSImage,
		Drain: o.drain, SoakSeconds: o.soakSeconds})
	if err != nil {
		return nil, usageError{err}
	}
	return p, nil
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
