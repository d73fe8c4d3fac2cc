package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/noderoll/noderoll/analysis"
	"github.com/noderoll/noderoll/plan"
	"github.com/noderoll/noderoll/reports"
	"github.com/noderoll/noderoll/snapshot"
)

// analyzeOptions are the flags and arguments of `analyze`.
type analyzeOptions struct {
	file   string
	output string // "table", "json" or "markdown"
	failOn string // a severity, or "" for never
}

func newAnalyzeCommand(stdout, stderr io.Writer) *cobra.Command {
	o := &analyzeOptions{}
	cmd := &cobra.Command{
		Use:   "analyze FILE [-o table|json|markdown] [--fail-on critical|high|medium|low]",
		Short: "Report the risks of replacing every node that are known before any rollout",
		Long: "Read a snapshot and report, worst first, the static risks of draining and replacing its\n" +
			"nodes: single points of failure, workloads without a PodDisruptionBudget, budgets that block\n" +
			"evictions, bare pods, node-local volumes, emptyDir data, Pending pods and capacity short\n" +
			"once the largest nodes are out. Each risk says what it means and what to do about it.\n\n" +
			"With --fail-on, exit 1 when a risk of that severity or worse is found (after printing).\n\n" +
			"FILE may be a native snapshot (.json, .json.gz) or any Kubernetes List or\n" +
			"multi-document YAML or JSON as `kubectl get ... -o yaml|json` writes it.",
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
	f.StringVarP(&o.output, "output", "o", "table", "output format: table, json or markdown")
	f.StringVar(&o.failOn, "fail-on", "", "exit 1 when a risk of this severity or worse is found: critical, high, medium or low")
	return cmd
}

func (o *analyzeOptions) validate() error {
	switch o.output {
	case "table", "json", "markdown":
	default:
		return usageErrorf("unknown output format %q: want table, json or markdown", o.output)
	}
	if o.failOn != "" {
		if _, err := analysis.ParseSeverity(o.failOn); err != nil {
			return usageErrorf("--fail-on: %v", err)
		}
	}
	return nil
}

func (o *analyzeOptions) run(_ context.Context, stdout, stderr io.Writer) error {
	s, err := snapshot.Load(o.file)
	if err != nil {
		return err
	}
	printWarnings(stderr, s.Warnings)
	r := analysis.Preflight(s, analysis.PreflightOptions{})
	switch o.output {
	case "json":
		err = reports.WritePreflightJSON(stdout, r)
	case "markdown":
		err = reports.WritePreflightMarkdown(stdout, r)
	default:
		err = reports.WritePreflightTable(stdout, r)
	}
	if err != nil {
		return err
	}
	if o.failOn == "" {
		return nil
	}
	sev := plan.Severity(o.failOn)
	if n := r.Count(sev); n > 0 {
		return fmt.Errorf("%d risks of severity %s or worse (--fail-on %s)", n, sev, sev)
	}
	return nil
}
