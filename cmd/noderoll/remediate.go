package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/noderoll/noderoll/analysis"
	"github.com/noderoll/noderoll/remediate"
	"github.com/noderoll/noderoll/reports"
	"github.com/noderoll/noderoll/sim"
	"github.com/noderoll/noderoll/snapshot"
	"github.com/noderoll/noderoll/whatif"
)

// remediateOptions are the flags and arguments of `remediate`.
type remediateOptions struct {
	simulateOptions
	whatIfOut string
	fixesOut  string
}

func newRemediateCommand(stdout, stderr io.Writer) *cobra.Command {
	o := &remediateOptions{}
	cmd := &cobra.Command{
		Use:   "remediate FILE --strategy rolling [--batch-size 5%] [...] [-o table|json|markdown] [--what-if-out FILE]",
		Short: "Find the fixes that make the strategy's run approvable, and show the run with them",
		Long: "Simulate the strategy on the snapshot in FILE, then search, greedily by risk removed per\n" +
			"change and re-simulating to confirm, a small set of changes that leaves no Service down\n" +
			"(except those accepted), no stuck drain, no pod lost and no capacity shortfall: replicas\n" +
			"(kubectl scale), PodDisruptionBudgets (manifests), bare pods deleted, the minimal surge\n" +
			"(by bisection). Each fix names the object, the change, the risk it removes and its cost.\n" +
			"--what-if-out writes the what-if file that reproduces the fixed run (simulate, compare and\n" +
			"plan take it with --what-if).",
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
	f.StringVarP(&o.output, "output", "o", "table", "output format: table, json or markdown")
	f.StringVar(&o.whatIfOut, "what-if-out", "", "write the what-if file that reproduces the fixed run")
	f.StringVar(&o.fixesOut, "fixes-out", "", "write the fix list (object, change, risk removed, cost, how to apply) as YAML")
	f.StringVar(&o.html, "html", "", "also write the report with its Before / after fixes section as one HTML file")
	f.StringVar(&o.markdown, "markdown", "", "also write that report as Markdown")
	return cmd
}

func (o *remediateOptions) validate() error {
	if err := o.validateStrategy(); err != nil {
		return err
	}
	if o.strategy != "rolling" {
		return usageErrorf("--strategy %s: remediate searches fixes for rolling strategies", o.strategy)
	}
	switch o.output {
	case "table", "json", "markdown":
	default:
		return usageErrorf("unknown output format %q: want table, json or markdown", o.output)
	}
	return nil
}

// spec names the strategy as compare does.
func (o *remediateOptions) spec() string {
	parts := []string{"rolling:" + o.batchSize}
	if o.order != "name" {
		parts = append(parts, "order="+o.order)
	}
	for _, kv := range []struct {
		k string
		v int
	}{{"surge", o.surge}, {"window", o.window}, {"cordon-ahead", o.cordonAhead}} {
		if kv.v > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", kv.k, kv.v))
		}
	}
	return strings.Join(parts, ",")
}

func (o *remediateOptions) run(ctx context.Context, stdout, stderr io.Writer) error {
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
	st, err := analysis.ParseStrategy(o.spec())
	if err != nil {
		return usageErrorf("strategy: %v", err)
	}
	var base *whatif.File
	if o.whatIf != "" {
		if base, err = whatif.Load(o.whatIf); err != nil {
			return usageError{err}
		}
	}
	quiet := o.output != "table"
	out, err := remediate.Run(ctx, snap, remediate.Options{
		Strategy: st, NewOSImage: o.newOSImage, Base: base, BaseName: o.whatIf,
		Sim: sim.Options{Config: cfg, Scheduler: o.schedulerOptions()},
		Progress: func(msg string) {
			if !quiet {
				fmt.Fprintf(stderr, "remediate: %s\n", msg)
			}
		},
	})
	if err != nil {
		return err
	}
	if o.whatIfOut != "" {
		data, err := out.WhatIf.Marshal()
		if err != nil {
			return err
		}
		if err := writeFileAtomic(o.whatIfOut, data); err != nil {
			return err
		}
	}
	if o.fixesOut != "" {
		data, err := yaml.Marshal(reports.FixList(out))
		if err != nil {
			return fmt.Errorf("writing the fix list: %w", err)
		}
		if err := writeFileAtomic(o.fixesOut, data); err != nil {
			return err
		}
	}
	if o.html != "" || o.markdown != "" {
		pf := analysis.Preflight(snap, analysis.PreflightOptions{})
		rep := reports.Report{Title: "Node OS replacement: fixes for " + st.Spec, Results: []*sim.Result{out.Before}, Preflight: &pf, Fixes: out}
		if err := writeReports(rep, o.html, o.markdown, nil); err != nil {
			return err
		}
	}
	switch o.output {
	case "json":
		var buf bytes.Buffer
		if err := reports.WriteRemediationJSON(&buf, out); err != nil {
			return err
		}
		_, err = stdout.Write(buf.Bytes())
		return err
	case "markdown":
		return reports.WriteRemediationMarkdown(stdout, out)
	}
	return reports.WriteRemediationTable(stdout, out)
}
