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
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/noderoll/noderoll/analysis"
	"github.com/noderoll/noderoll/internal/atomicfile"
	"github.com/noderoll/noderoll/plan"
	"github.com/noderoll/noderoll/reports"
	"github.com/noderoll/noderoll/scheduler"
	"github.com/noderoll/noderoll/sim"
	"github.com/noderoll/noderoll/sim/migration"
	"github.com/noderoll/noderoll/sim/rolling"
	"github.com/noderoll/noderoll/snapshot"
	"github.com/noderoll/noderoll/whatif"
)

// simulateOptions are the flags and arguments of `simulate`.
type simulateOptions struct {
	file            string
	strategy        string
	batchSize       string
	order           string
	configFile      string
	schedulerConfig string
	engine          string
	seed            int64
	newOSImage      string
	output          string
	out             string
	whatIf          string // --what-if: the overrides file
	cpuProfile      string
	memProfile      string
	// drain and soakSeconds, when set (by `plan`), go into the plan.
	drain       *plan.DrainOptions
	soakSeconds int64

	// rolling variants
	surge       int
	window      int
	cordonAhead int
	// migration
	seedFraction  float64
	seedNodes     int
	waveBy        string
	waveOrder     string
	dataBandwidth string
	dataMode      string

	html     string // --html: the HTML report
	markdown string // --markdown: the Markdown report
	runs     int    // --runs: Monte Carlo runs, 0 = off
	mcSeed   uint64 // --mc-seed
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
	f.StringVar(&o.html, "html", "", "also write the report as one self-contained HTML file")
	f.StringVar(&o.markdown, "markdown", "", "also write the report as Markdown (for a change ticket)")
	f.IntVar(&o.runs, "runs", 0, "Monte Carlo runs for a P50/P90/P99 duration band (0: off)")
	f.Uint64Var(&o.mcSeed, "mc-seed", analysis.DefaultMonteCarloSeed, "seed of the Monte Carlo draws")
	return cmd
}

// addStrategyFlags adds the flags that choose and tune the strategy and the
// simulation: shared by simulate and plan.
func (o *simulateOptions) addStrategyFlags(f *pflag.FlagSet) {
	f.StringVar(&o.strategy, "strategy", "rolling", "replacement strategy: rolling or migration")
	f.StringVar(&o.batchSize, "batch-size", "10%", "nodes per batch: a count or a percentage of the nodes")
	f.StringVar(&o.order, "order", rolling.OrderName, "node order: "+strings.Join(rolling.Orders, ", "))
	f.StringVar(&o.configFile, "config", "", "simulation config file (time model, per-workload overrides)")
	f.StringVar(&o.schedulerConfig, "scheduler-config", "", "KubeSchedulerConfiguration file (default: the default profile)")
	addEngineFlag(f, &o.engine)
	f.Int64Var(&o.seed, "seed", 1, "seed for tie-breaking between equally scored nodes")
	f.StringVar(&o.newOSImage, "new-os-image", "", "OS image nodes report after reinstall")
	f.StringVar(&o.whatIf, "what-if", "", "what-if overrides file applied to the snapshot before the run (replicas, budgets, timings, surge nodes, exclusions, accepted outages)")
	f.IntVar(&o.surge, "surge", 0, "rolling: new nodes of the most common shape that join before the first batch")
	f.IntVar(&o.window, "window", 0, "rolling: keep N nodes in flight instead of batches")
	f.IntVar(&o.cordonAhead, "cordon-ahead", 0, "rolling: cordon the next K batches' nodes when a batch starts")
	f.Float64Var(&o.seedFraction, "seed-fraction", 0.1, "migration: fraction of the machines that form the new cluster")
	f.IntVar(&o.seedNodes, "seed-nodes", 0, "migration: N new machines form the new cluster instead of old ones")
	f.StringVar(&o.waveBy, "wave-by", "namespace", "migration: tenant grouping: namespace, or 'label KEY'")
	f.StringVar(&o.waveOrder, "wave-order", "", "migration: file listing tenants in the order they move (default: smallest first)")
	f.StringVar(&o.dataBandwidth, "data-bandwidth", "100MiB/s", "migration: data copy rate per tenant")
	f.StringVar(&o.dataMode, "data-mode", "copy", "migration: copy (at --data-bandwidth) or dual-write (timing.dataSwitchSeconds)")
}

func (o *simulateOptions) validate() error {
	if err := o.validateStrategy(); err != nil {
		return err
	}
	if o.output != "table" && o.output != "json" {
		return usageErrorf("unknown output format %q: want table or json", o.output)
	}
	if o.runs < 0 {
		return usageErrorf("--runs %d: want 0 (off) or more", o.runs)
	}
	return nil
}

// validateStrategy checks the strategy flags.
func (o *simulateOptions) validateStrategy() error {
	if err := validateEngine(o.engine); err != nil {
		return err
	}
	switch o.strategy {
	case "rolling", "migration":
	default:
		return usageErrorf("unknown strategy %q: want rolling or migration", o.strategy)
	}
	if o.surge < 0 || o.window < 0 || o.cordonAhead < 0 || o.seedNodes < 0 {
		return usageErrorf("--surge, --window, --cordon-ahead and --seed-nodes must not be negative")
	}
	if o.seedFraction <= 0 || o.seedFraction >= 1 {
		return usageErrorf("--seed-fraction %v: want a fraction in (0, 1)", o.seedFraction)
	}
	if _, _, err := parseWaveBy(o.waveBy); err != nil {
		return usageErrorf("--wave-by: %v", err)
	}
	if _, err := migration.ParseBandwidth(o.dataBandwidth); err != nil {
		return usageErrorf("--data-bandwidth: %v", err)
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
	cfg, err := o.simConfig()
	if err != nil {
		return err
	}
	wi, _, err := applyWhatIf(ctx, o.whatIf, snap, cfg, o.schedulerOptions(), stderr, o.output == "json")
	if err != nil {
		return err
	}
	snap, cfg = wi.Snapshot, wi.Config
	p, err := o.buildPlan(wi)
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
		Scheduler: o.schedulerOptions(),
		Progress:  progressFunc(stderr, o.output == "json", "simulating batches"),
	})
	if err != nil {
		return err
	}
	wi.Annotate(res)
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

// buildPlan makes the strategy's plan for the what-if snapshot from the
// options: the one place simulate and plan turn their flags into a plan.
func (o *simulateOptions) buildPlan(wi *whatif.Applied) (*plan.Plan, error) {
	p, err := o.generatePlan(wi.Planning)
	if err != nil {
		return nil, err
	}
	if err := wi.CheckPlan(p); err != nil {
		return nil, usageError{err}
	}
	return p, nil
}

// generatePlan runs the strategy's plan generator on snap.
func (o *simulateOptions) generatePlan(snap *snapshot.Snapshot) (*plan.Plan, error) {
	if o.strategy == "migration" {
		waveBy, label, _ := parseWaveBy(o.waveBy)
		bw, _ := migration.ParseBandwidth(o.dataBandwidth)
		mp := migration.Params{SeedFraction: o.seedFraction, SeedNodes: o.seedNodes, WaveBy: waveBy, WaveLabel: label,
			DataMode: o.dataMode, DataBandwidth: bw, NewOSImage: o.newOSImage}
		if o.waveOrder != "" {
			order, err := migration.ReadOrderFile(o.waveOrder)
			if err != nil {
				return nil, usageError{err}
			}
			mp.Order = order
		}
		p, err := migration.Plan(snap, mp)
		if err != nil {
			return nil, usageError{err}
		}
		return p, nil
	}
	p, err := rolling.Plan(snap, rolling.Params{BatchSize: o.batchSize, Order: o.order, NewOSImage: o.newOSImage,
		Drain: o.drain, SoakSeconds: o.soakSeconds, Surge: o.surge, Window: o.window, CordonAhead: o.cordonAhead})
	if err != nil {
		return nil, usageError{err}
	}
	return p, nil
}

// parseWaveBy reads --wave-by: "namespace", or "label KEY" (also
// "label=KEY" and "label:KEY").
func parseWaveBy(s string) (waveBy, label string, err error) {
	s = strings.TrimSpace(s)
	if s == plan.WaveByNamespace {
		return plan.WaveByNamespace, "", nil
	}
	for _, sep := range []string{" ", "=", ":"} {
		if rest, ok := strings.CutPrefix(s, plan.WaveByLabel+sep); ok && strings.TrimSpace(rest) != "" {
			return plan.WaveByLabel, strings.TrimSpace(rest), nil
		}
	}
	return "", "", fmt.Errorf("%q: want namespace or 'label KEY'", s)
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
			Sim:      sim.Options{Config: cfg, Scheduler: o.schedulerOptions(), NewOSImage: o.newOSImage},
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
	said := stderr
	if o.output == "json" {
		said = nil
	}
	return writeReports(rep, o.html, o.markdown, said)
}

// writeReports writes the report as HTML and as Markdown to the paths
// given (an empty path: not that one), each atomically, saying so on said
// when it is not nil.
func writeReports(rep reports.Report, htmlPath, markdownPath string, said io.Writer) error {
	for _, out := range []struct {
		path  string
		write func(io.Writer, reports.Report) error
	}{{htmlPath, reports.WriteHTML}, {markdownPath, reports.WriteMarkdown}} {
		if out.path == "" {
			continue
		}
		if err := atomicfile.Write(out.path, func(w io.Writer) error { return out.write(w, rep) }); err != nil {
			return fmt.Errorf("writing %s: %w", out.path, err)
		}
		if said != nil {
			fmt.Fprintf(said, "wrote %s\n", out.path)
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

// schedulerOptions are the scheduler options the flags ask for.
func (o *simulateOptions) schedulerOptions() scheduler.Options {
	return scheduler.Options{ConfigFile: o.schedulerConfig, Seed: o.seed, Engine: scheduler.Engine(o.engine)}
}
