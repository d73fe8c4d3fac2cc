package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/noderoll/noderoll/analysis"
	"github.com/noderoll/noderoll/internal/gctune"
	"github.com/noderoll/noderoll/reports"
	"github.com/noderoll/noderoll/scheduler"
	"github.com/noderoll/noderoll/sim"
	"github.com/noderoll/noderoll/snapshot"
)

// compareOptions are the flags and arguments of `compare`.
type compareOptions struct {
	file            string
	strategies      string
	configFile      string
	schedulerConfig string
	engine          string
	seed            int64
	newOSImage      string
	output          string
	markdown        string
	jsonOut         string
	html            string
	parallel        int
	whatIf          string

	parsed []analysis.Strategy
}

func newCompareCommand(stdout, stderr io.Writer) *cobra.Command {
	o := &compareOptions{}
	cmd := &cobra.Command{
		Use:   "compare FILE [--strategies SPEC,...] [-o table|json] [--html F] [--markdown F] [--json F]",
		Short: "Simulate several strategies on the same snapshot and rank them",
		Long: "Run every strategy on the snapshot in FILE, in parallel (bounded by the cores), and rank them\n" +
			"on duration, evictions, pod moves, PDB stall time, services down and degraded, unschedulable\n" +
			"and lost pods, and extra machine-hours. SPEC is KIND[:ARG][,KEY=VALUE...]:\n" +
			"  rolling:5%   rolling:10%,surge=5   rolling:5%,cordon-ahead=1   rolling:1,window=10\n" +
			"  migration    migration:0.2   migration:seed-nodes=50   migration:data=dual-write\n" +
			"The default compares rolling at 1%, 2%, 5%, 10% and 20% with migration at a 10% seed.",
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
	f.StringVar(&o.strategies, "strategies", strings.Join(analysis.DefaultStrategies, ","), "strategies to compare: SPEC,SPEC,... (empty: the default set)")
	f.StringVar(&o.configFile, "config", "", "simulation config file (time model, per-workload overrides)")
	f.StringVar(&o.schedulerConfig, "scheduler-config", "", "KubeSchedulerConfiguration file (default: the default profile)")
	addEngineFlag(f, &o.engine)
	f.Int64Var(&o.seed, "seed", 1, "seed for tie-breaking between equally scored nodes")
	f.StringVar(&o.newOSImage, "new-os-image", "", "OS image nodes report after reinstall")
	f.StringVarP(&o.output, "output", "o", "table", "output format: table or json")
	f.StringVar(&o.markdown, "markdown", "", "also write the comparison as Markdown to this file")
	f.StringVar(&o.jsonOut, "json", "", "also write the comparison as JSON to this file")
	f.StringVar(&o.html, "html", "", "also write the report (comparison, timelines, availability, risks, preflight) as one self-contained HTML file")
	f.IntVar(&o.parallel, "parallel", 0, "runs at once (default: the number of cores)")
	f.StringVar(&o.whatIf, "what-if", "", "what-if overrides file applied to the snapshot before every run")
	return cmd
}

func (o *compareOptions) validate() error {
	if err := validateEngine(o.engine); err != nil {
		return err
	}
	if o.output != "table" && o.output != "json" {
		return usageErrorf("unknown output format %q: want table or json", o.output)
	}
	if strings.TrimSpace(o.strategies) == "" {
		o.strategies = strings.Join(analysis.DefaultStrategies, ",")
	}
	st, err := analysis.ParseStrategies(o.strategies)
	if err != nil {
		return usageErrorf("--strategies: %v", err)
	}
	o.parsed = st
	return nil
}

func (o *compareOptions) run(ctx context.Context, stdout, stderr io.Writer) error {
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
	wi, _, err := applyWhatIf(ctx, o.whatIf, snap, cfg, o.schedulerOptions(), stderr, o.output == "json")
	if err != nil {
		return err
	}
	runsAtOnce := o.parallel
	if runsAtOnce <= 0 {
		runsAtOnce = runtime.GOMAXPROCS(0)
	}
	gctune.ConcurrentRuns(min(runsAtOnce, len(o.parsed)))
	c, err := analysis.Compare(ctx, snap, o.parsed, analysis.CompareOptions{
		Sim:         sim.Options{Config: cfg, Scheduler: o.schedulerOptions()},
		NewOSImage:  o.newOSImage,
		Parallelism: o.parallel,
		Progress:    progressFunc(stderr, o.output == "json", "simulating strategies"),
		WhatIf:      wi,
	})
	if err != nil {
		return err
	}
	printRunTimes(stderr, c)
	// The HTML page and the Markdown for a change ticket show the same
	// report: the verdict, the comparison, the sweep and its knee, the
	// findings, the risks of the run to approve, the preflight.
	if o.html != "" || o.markdown != "" {
		pf := analysis.Preflight(snap, analysis.PreflightOptions{})
		rep := reports.Report{Title: "Node OS replacement: strategy comparison", Results: c.Results, Preflight: &pf, Findings: c.Findings}
		if err := writeReports(rep, o.html, o.markdown, nil); err != nil {
			return err
		}
	}
	if o.jsonOut != "" {
		var buf bytes.Buffer
		if err := reports.WriteComparisonJSON(&buf, c); err != nil {
			return err
		}
		if err := writeFileAtomic(o.jsonOut, buf.Bytes()); err != nil {
			return err
		}
	}
	if o.output == "json" {
		return reports.WriteComparisonJSON(stdout, c)
	}
	return reports.WriteComparisonTable(stdout, c)
}

// printRunTimes tells on stderr how long each run took, so that a user
// can see what a strategy costs to simulate (the comparison itself does
// not depend on it).
func printRunTimes(w io.Writer, c *analysis.Comparison) {
	parts := make([]string, len(c.Specs))
	for i, spec := range c.Specs {
		parts[i] = fmt.Sprintf("%s %.1fs", spec, c.RunSeconds[i])
	}
	fmt.Fprintf(w, "simulated in (wall time per run): %s\n", strings.Join(parts, ", "))
}

// schedulerOptions are the scheduler options the flags ask for.
func (o *compareOptions) schedulerOptions() scheduler.Options {
	return scheduler.Options{ConfigFile: o.schedulerConfig, Seed: o.seed, Engine: scheduler.Engine(o.engine)}
}
