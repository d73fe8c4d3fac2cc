package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/noderoll/noderoll/snapshot"
	"github.com/noderoll/noderoll/snapshot/materialize"
)

// applyOptions are the flags and argument of `snapshot apply`.
type applyOptions struct {
	file    string
	kube    *genericclioptions.ConfigFlags
	force   bool
	noWait  bool
	timeout time.Duration
}

func newApplyCommand(stderr io.Writer) *cobra.Command {
	o := &applyOptions{kube: kubeFlags(false)}
	cmd := &cobra.Command{
		Use:   "apply FILE [--kubeconfig PATH] [--context NAME] [--force] [--timeout 10m] [--no-wait]",
		Short: "Recreate a snapshot on a KWOK test cluster",
		Long: "Recreate a snapshot on a test or demo cluster whose nodes are simulated by KWOK:\n" +
			"the nodes as KWOK nodes, then namespaces, priority and storage classes, volumes and\n" +
			"claims, Services, PDBs and the workloads, so that the cluster's own controllers create\n" +
			"the pods and its scheduler places them; then wait until every pod is Running and\n" +
			"Ready. A cluster with nodes that are not KWOK nodes (annotation\n" +
			"kwok.x-k8s.io/node=fake) is refused unless --force is given (exit code 2).",
		Args: exactArgs("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.file = args[0]
			if o.timeout < 0 {
				return usageErrorf("--timeout must not be negative")
			}
			return o.run(cmd.Context(), stderr)
		},
	}
	o.kube.AddFlags(cmd.Flags())
	f := cmd.Flags()
	f.BoolVar(&o.force, "force", false, "apply even if the cluster has nodes that are not KWOK nodes")
	f.BoolVar(&o.noWait, "no-wait", false, "return once everything is created, without waiting for the pods")
	f.DurationVar(&o.timeout, "timeout", materialize.DefaultTimeout, "how long to wait for every pod to be Running and Ready")
	return cmd
}

func (o *applyOptions) run(ctx context.Context, stderr io.Writer) error {
	s, err := snapshot.Load(o.file)
	if err != nil {
		return err
	}
	printWarnings(stderr, s.Warnings)
	rc, err := restConfig(o.kube)
	if err != nil {
		return err
	}
	bar := newTerminalBar(stderr)
	var progress func(materialize.Progress)
	if bar != nil {
		progress = func(p materialize.Progress) { bar.set(string(p.Phase), p.Done, p.Total) }
	}
	res, err := materialize.Apply(ctx, s, materialize.Config{
		REST: rc, Force: o.force, NoWait: o.noWait, Timeout: o.timeout, Progress: progress,
	})
	bar.finish()
	if errors.Is(err, materialize.ErrNotKWOK) {
		return usageError{fmt.Errorf("applying %s to %s: %w", o.file, rc.Host, err)}
	}
	if err != nil {
		return fmt.Errorf("applying %s to %s: %w", o.file, rc.Host, err)
	}
	pods := fmt.Sprintf("%d/%d pods Running and Ready after %v", res.ReadyPods, res.ExpectedPods, res.SettleTime.Round(time.Millisecond))
	if o.noWait {
		pods = fmt.Sprintf("%d pods expected (not waited for)", res.ExpectedPods)
	}
	_, err = fmt.Fprintf(stderr, "applied %s to %s: created %s in %v; %s\n",
		o.file, rc.Host, countsText(res.Created), res.CreateTime.Round(time.Millisecond), pods)
	if err == nil && len(res.Existing) > 0 {
		_, err = fmt.Fprintf(stderr, "already there, left as they were: %s\n", countsText(res.Existing))
	}
	return err
}

// countsText renders counts by kind as "20 Node, 12 Namespace, ...",
// sorted by kind.
func countsText(m map[string]int) string {
	if len(m) == 0 {
		return "nothing"
	}
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%d %s", m[k], k))
	}
	return strings.Join(parts, ", ")
}
