package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"

	"github.com/noderoll/noderoll/executor"
	"github.com/noderoll/noderoll/plan"
	"github.com/noderoll/noderoll/scheduler"
	"github.com/noderoll/noderoll/sim"
	"github.com/noderoll/noderoll/snapshot/capture"
)

// executeOptions are the flags of `execute`.
type executeOptions struct {
	file          string
	kube          *genericclioptions.ConfigFlags
	record        string
	dryRun        bool
	resume        bool
	resimulate    bool
	leaseDuration time.Duration
	identity      string
}

func newExecuteCommand(stdout, stderr io.Writer) *cobra.Command {
	o := &executeOptions{kube: kubeFlags(true)}
	cmd := &cobra.Command{
		Use:   "execute plan.yaml [--kubeconfig PATH] [--context NAME] [-n NS] [--record run.json] [--dry-run] [--resume] [--resimulate]",
		Short: "Run a plan against the cluster",
		Long: "Run the plan made by `noderoll plan` against the cluster, batch by batch: gates\n" +
			"(drift from the plan's snapshot, pending pods, exhausted PodDisruptionBudgets and,\n" +
			"with --resimulate, a fresh prediction of the remaining batches), then per node:\n" +
			"cordon, drain through the Eviction API (kubectl's drain library), the reinstall\n" +
			"hook, wait for the node to rejoin Ready with the expected OS image, uncordon, wait\n" +
			"for the displaced workloads to be Ready; soak. The progress ConfigMap\n" +
			"noderoll-progress and a Lease noderoll-executor are kept in the namespace -n\n" +
			"(default noderoll-system, which `kubectl apply -f deploy/rbac.yaml` creates):\n" +
			"a killed run is taken up with --resume, and a second executor refuses to start;\n" +
			"once the Lease is lost the executor writes nothing more and stops.\n" +
			"--dry-run prints every action and changes nothing\n" +
			"(evictions and cordons are sent as server-side dry runs).\n" +
			"Exit status: 0 completed, 1 stopped by a gate or failed, 2 bad plan or usage.",
		Args: exactArgs("plan.yaml"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.file = args[0]
			return o.run(cmd.Context(), stdout, stderr)
		},
	}
	o.kube.AddFlags(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&o.record, "record", "", "write the run record (JSON) to this file")
	f.BoolVar(&o.dryRun, "dry-run", false, "print every action and change nothing")
	f.BoolVar(&o.resume, "resume", false, "take up the unfinished run of this plan recorded in the cluster")
	f.BoolVar(&o.resimulate, "resimulate", false, "before each batch, capture the cluster and simulate the remaining batches; stop if the prediction breaks the plan's gates")
	f.DurationVar(&o.leaseDuration, "lease-duration", executor.DefaultLeaseDuration, "how long the Lease outlives an executor that stops renewing it")
	f.StringVar(&o.identity, "identity", "", "this executor's name in the Lease (default HOSTNAME-PID)")
	return cmd
}

func (o *executeOptions) run(ctx context.Context, stdout, stderr io.Writer) error {
	p, err := plan.Load(o.file)
	if err != nil {
		return usageError{err}
	}
	if p.Metadata.Strategy != "rolling" {
		return usageErrorf("%s: metadata.strategy %q: the executor runs rolling plans on one cluster; a migration plan spans two clusters and is not executable yet", o.file, p.Metadata.Strategy)
	}
	if o.leaseDuration < 3*time.Second {
		return usageErrorf("--lease-duration %v: want at least 3s", o.leaseDuration)
	}
	rc, err := restConfig(o.kube)
	if err != nil {
		return err
	}
	cfg := executor.Config{
		Plan: p, REST: rc, Namespace: *o.kube.Namespace, Identity: o.identity, Kubeconfig: *o.kube.KubeConfig,
		DryRun: o.dryRun, Resume: o.resume, LeaseDuration: o.leaseDuration, Out: stdout,
	}
	if o.resimulate {
		cfg.Resimulate = resimulator(rc, p)
	}
	rec, err := executor.Run(ctx, cfg)
	if rec != nil && o.record != "" {
		if serr := rec.Save(o.record); serr != nil {
			err = errors.Join(err, serr)
		} else {
			fmt.Fprintf(stderr, "wrote %s\n", o.record)
		}
	}
	if errors.Is(err, executor.ErrUnsupportedStrategy) {
		return usageError{err}
	}
	return err
}

// resimulator captures the cluster and simulates the remaining batches
// with the time model and seed the plan was made with.
func resimulator(rc *rest.Config, p *plan.Plan) executor.Resimulator {
	return func(ctx context.Context, remaining *plan.Plan) ([]plan.Batch, error) {
		snap, err := capture.Capture(ctx, capture.Config{REST: rc})
		if err != nil {
			return nil, fmt.Errorf("capturing the cluster: %w", err)
		}
		cfg := sim.DefaultConfig()
		var seed int64 = 1
		if s := p.Metadata.Simulation; s != nil {
			seed = s.Seed
			data, err := json.Marshal(s.Assumptions)
			if err == nil {
				err = json.Unmarshal(data, &cfg.Timing)
			}
			if err != nil {
				return nil, fmt.Errorf("metadata.simulation.assumptions: %w", err)
			}
		}
		res, err := sim.Run(ctx, snap, remaining, sim.Options{Config: cfg, Scheduler: scheduler.Options{Seed: seed}})
		if err != nil {
			return nil, err
		}
		preds := predictions(res)
		out := make([]plan.Batch, len(remaining.Spec.Batches))
		for i, b := range remaining.Spec.Batches {
			out[i] = b
			if i < len(preds) {
				out[i].Predicted = &preds[i]
			}
		}
		return out, nil
	}
}
