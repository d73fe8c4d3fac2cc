package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"

	"github.com/noderoll/noderoll/snapshot/capture"
)

// captureOptions are the flags of `snapshot capture`.
type captureOptions struct {
	kube         *genericclioptions.ConfigFlags
	output       string
	countSecrets bool
}

// kubeFlags returns the client flags capture and apply take: --kubeconfig,
// --context and, when namespaced, -n/--namespace.
func kubeFlags(namespaced bool) *genericclioptions.ConfigFlags {
	f := &genericclioptions.ConfigFlags{KubeConfig: new(""), Context: new("")}
	if namespaced {
		f.Namespace = new("")
	}
	return f
}

func newCaptureCommand(stderr io.Writer) *cobra.Command {
	o := &captureOptions{kube: kubeFlags(true)}
	cmd := &cobra.Command{
		Use:   "capture [--kubeconfig PATH] [--context NAME] [-n NS] -o FILE",
		Short: "Capture a snapshot of a live cluster",
		Long: "Capture a snapshot of a live cluster through its API server: nodes, pods, PDBs,\n" +
			"workloads, Services, volumes, namespaces and priority classes, listed in pages of\n" +
			"500, several kinds at once. What may carry secrets is not kept: managedFields,\n" +
			"last-applied configurations, env values, command lines and the other fields that\n" +
			"snapshot.ScrubObject lists are dropped or redacted. ServiceAccounts, Roles and\n" +
			"RoleBindings are only counted, from their metadata. ConfigMaps and Secrets are not\n" +
			"listed at all unless --count-secrets asks to count them (from their metadata; if\n" +
			"the credentials may not list them, the capture goes on without the counts). The\n" +
			"credentials need only the verb list on the resources of deploy/rbac.yaml, which\n" +
			"grants nothing on Secrets. With -n, namespaced kinds are read from that namespace only.",
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.output == "" {
				return usageErrorf("-o FILE is required")
			}
			return o.run(cmd.Context(), stderr)
		},
	}
	o.kube.AddFlags(cmd.Flags())
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "file to write (.json or .json.gz)")
	cmd.Flags().BoolVar(&o.countSecrets, "count-secrets", false,
		"also count ConfigMaps and Secrets per namespace, from their metadata (needs list on both, which deploy/rbac.yaml does not grant; without it they are left uncounted)")
	return cmd
}

func (o *captureOptions) run(ctx context.Context, stderr io.Writer) error {
	rc, err := restConfig(o.kube)
	if err != nil {
		return err
	}
	bar := newTerminalBar(stderr)
	var progress func(done, total int)
	if bar != nil {
		progress = func(done, total int) { bar.set("capturing", done, total) }
	}
	start := time.Now()
	s, err := capture.Capture(ctx, capture.Config{REST: rc, Namespace: *o.kube.Namespace, Progress: progress,
		CountConfigMapsAndSecrets: o.countSecrets})
	bar.finish()
	if err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	elapsed := time.Since(start)
	printWarnings(stderr, s.Warnings)
	if len(s.Uncounted) > 0 && !o.countSecrets {
		kinds := make([]string, len(s.Uncounted))
		for i, k := range s.Uncounted {
			kinds[i] = k + "s"
		}
		fmt.Fprintf(stderr, "noderoll: note: %s not counted (--count-secrets counts them, with list on both)\n",
			strings.Join(kinds, " and "))
	}
	warnings, verr := s.Validate()
	printWarnings(stderr, warnings)
	if verr != nil {
		// Objects listed at different moments disagree: the cluster
		// changed during the capture. Not bad input: run it again.
		return fmt.Errorf("the captured snapshot is inconsistent, the cluster probably changed during the capture (run it again): %w", verr)
	}
	if err := s.Save(o.output); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stderr, "wrote %s: %d nodes, %d pods, %d services, %d PDBs from %s (%s) in %v\n",
		o.output, len(s.Nodes), len(s.Pods), len(s.Services), len(s.PodDisruptionBudgets), rc.Host, s.ServerVersion,
		elapsed.Round(time.Millisecond))
	return err
}

// restConfig resolves the client flags; a kubeconfig that cannot be found
// or a context it lacks is a usage error.
func restConfig(f *genericclioptions.ConfigFlags) (*rest.Config, error) {
	rc, err := capture.RESTConfig(f)
	if errors.Is(err, capture.ErrNoKubeconfig) || (err != nil && *f.Context != "") {
		return nil, usageError{err}
	}
	return rc, err
}

// terminalBar draws a progress bar on a terminal; a nil *terminalBar (on a
// pipe or a file) draws nothing. Its description and maximum follow the
// latest call, so that a total that grows as it becomes known is shown.
type terminalBar struct {
	w    io.Writer
	bar  *progressbar.ProgressBar
	what string
}

// newTerminalBar returns a bar that draws on w, or nil when w is not a
// terminal.
func newTerminalBar(w io.Writer) *terminalBar {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return &terminalBar{w: w}
}

func (b *terminalBar) set(what string, done, total int) {
	if b == nil {
		return
	}
	if b.bar == nil || what != b.what {
		b.finish()
		b.bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(b.w), progressbar.OptionSetDescription(what),
			progressbar.OptionShowCount(), progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100*time.Millisecond))
		b.what = what
	}
	if total != b.bar.GetMax() {
		b.bar.ChangeMax(total)
	}
	_ = b.bar.Set(done)
}

// finish clears the bar from the terminal.
func (b *terminalBar) finish() {
	if b == nil || b.bar == nil {
		return
	}
	_ = b.bar.Finish()
	b.bar = nil
}
