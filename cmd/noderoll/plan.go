package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/noderoll/noderoll/plan"
	"github.com/noderoll/noderoll/sim"
	"github.com/noderoll/noderoll/snapshot"
)

// planOptions are the flags of `plan`: the strategy flags of simulate, and
// what the executor needs that the simulation does not decide.
type planOptions struct {
	simulateOptions
	output         string
	reinstall      string
	hookEnv        []string
	hookTimeout    int64
	gracePeriod    int64
	drainTimeout   int64
	soak           int64
	maxPending     int
	maxPDBStall    int64
	rejoinTimeout  int64
	readyTimeout   int64
	settle         int64
	driftNodesAdd  int
	driftNodesGone int
	driftPDBs      int
}

func newPlanCommand(stdout, stderr io.Writer) *cobra.Command {
	o := &planOptions{}
	cmd := &cobra.Command{
		Use:   "plan FILE --strategy rolling [--batch-size 10|5%] [...] -o plan.yaml",
		Short: "Simulate the strategy on the snapshot in FILE and write the executable plan",
		Long: "Make the strategy's plan for the snapshot in FILE, simulate it exactly as `simulate`\n" +
			"does, and write it (kind RolloutPlan) with the simulation's predictions per batch, the\n" +
			"snapshot's nodes and PodDisruptionBudgets (the baseline the executor's drift gate\n" +
			"compares the live cluster with), the drain options, the reinstall hook and the gates.\n" +
			"Run it with `noderoll execute`; compare the run with `noderoll verify`.",
		Args: exactArgs("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.file = args[0]
			if err := o.validate(cmd); err != nil {
				return err
			}
			return o.run(cmd.Context(), stdout, stderr)
		},
	}
	f := cmd.Flags()
	o.addStrategyFlags(f)
	f.StringVarP(&o.output, "output", "o", "", "plan file to write (YAML)")
	f.StringVar(&o.reinstall, "reinstall", "", "reinstall hook: a shell command run per node (sh -c) with NODE_NAME set")
	f.StringArrayVar(&o.hookEnv, "hook-env", nil, "KEY=VALUE added to the hook's environment (repeatable)")
	f.Int64Var(&o.hookTimeout, "hook-timeout", 0, "seconds one hook run may take (default 3600)")
	f.Int64Var(&o.gracePeriod, "grace-period", -1, "termination grace period of evicted pods, seconds (-1: each pod's own)")
	f.Int64Var(&o.drainTimeout, "drain-timeout", 3600, "seconds a drain may take (0: no limit)")
	f.Int64Var(&o.soak, "soak", 0, "seconds to wait after each batch")
	f.IntVar(&o.maxPending, "max-pending-pods", -1, "gate: most pods waiting for a node before a batch (-1: no limit)")
	f.Int64Var(&o.maxPDBStall, "max-pdb-stall", -1, "gate for re-simulation: longest predicted PDB stall per batch, seconds (-1: no limit)")
	f.Int64Var(&o.rejoinTimeout, "rejoin-timeout", 0, "seconds a node may take to register Ready with the new OS image after the hook (default 1800)")
	f.Int64Var(&o.readyTimeout, "ready-timeout", 0, "seconds displaced workloads may take to be Ready after uncordon (default 900)")
	f.Int64Var(&o.settle, "settle", 0, "seconds a gate on pending pods or exhausted budgets waits to clear (default 120)")
	f.IntVar(&o.driftNodesAdd, "drift-nodes-added", 0, "gate: nodes the plan does not know that may exist")
	f.IntVar(&o.driftNodesGone, "drift-nodes-missing", 0, "gate: replaced nodes that may be missing")
	f.IntVar(&o.driftPDBs, "drift-pdbs-changed", 0, "gate: PodDisruptionBudgets that may differ from the snapshot's")
	return cmd
}

func (o *planOptions) validate(cmd *cobra.Command) error {
	if err := o.validateStrategy(); err != nil {
		return err
	}
	if o.output == "" {
		return usageErrorf("-o FILE is required: the plan file to write")
	}
	for _, kv := range o.hookEnv {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return usageErrorf("--hook-env %q: want KEY=VALUE", kv)
		}
	}
	for name, v := range map[string]int64{"hook-timeout": o.hookTimeout, "drain-timeout": o.drainTimeout, "soak": o.soak,
		"rejoin-timeout": o.rejoinTimeout, "ready-timeout": o.readyTimeout, "settle": o.settle,
		"drift-nodes-added": int64(o.driftNodesAdd), "drift-nodes-missing": int64(o.driftNodesGone), "drift-pdbs-changed": int64(o.driftPDBs)} {
		if v < 0 {
			return usageErrorf("--%s: must not be negative, got %d", name, v)
		}
	}
	if o.gracePeriod < -1 {
		return usageErrorf("--grace-period: want -1 or more, got %d", o.gracePeriod)
	}
	d := plan.DefaultDrainOptions()
	d.TimeoutSeconds = o.drainTimeout
	if cmd.Flags().Changed("grace-period") && o.gracePeriod >= 0 {
		d.GracePeriodSeconds = new(o.gracePeriod)
	}
	o.drain, o.soakSeconds = &d, o.soak
	return nil
}

func (o *planOptions) run(ctx context.Context, stdout, stderr io.Writer) error {
	snap, err := snapshot.Load(o.file)
	if err != nil {
		return err
	}
	printWarnings(stderr, snap.Warnings)
	cfg, err := o.simConfig()
	if err != nil {
		return err
	}
	wi, content, err := applyWhatIf(ctx, o.whatIf, snap, cfg, o.schedulerOptions(), stderr, false)
	if err != nil {
		return err
	}
	p, err := o.buildPlan(wi)
	if err != nil {
		return err
	}
	o.complete(p)
	res, err := sim.Run(ctx, wi.Snapshot, p, sim.Options{
		Config:    wi.Config,
		Scheduler: o.schedulerOptions(),
		Progress:  progressFunc(stderr, false, "simulating batches"),
	})
	if err != nil {
		return err
	}
	wi.Annotate(res)
	if err := annotatePlan(p, res, o.seed); err != nil {
		return err
	}
	// The drift gate's baseline is the snapshot with the what-if applied:
	// the plan runs once the cluster has been changed to match.
	wi.Record(p, content)
	if errs := p.Validate(); len(errs) > 0 {
		return &plan.InvalidError{File: o.output, Errs: errs}
	}
	if err := p.Save(o.output); err != nil {
		return err
	}
	s := res.Summary
	_, err = fmt.Fprintf(stdout, "wrote %s: %d nodes in %d batches; predicted %d evictions (%d refused with 429), %d unschedulable pods, %d stuck nodes, %s\n",
		o.output, p.NodeCount(), len(p.Spec.Batches), s.Evictions, s.EvictionsBlocked, s.UnschedulablePods, s.StuckNodes, formatSeconds(s.DurationSeconds))
	return err
}

// complete adds to the plan what the executor needs and the simulation
// does not use: the hook and the gates.
func (o *planOptions) complete(p *plan.Plan) {
	if o.reinstall != "" {
		p.Spec.Hooks.Reinstall = []string{"/bin/sh", "-c", o.reinstall}
	}
	for _, kv := range o.hookEnv {
		k, v, _ := strings.Cut(kv, "=")
		if p.Spec.Hooks.Env == nil {
			p.Spec.Hooks.Env = map[string]string{}
		}
		p.Spec.Hooks.Env[k] = v
	}
	p.Spec.Hooks.TimeoutSeconds = o.hookTimeout
	g := &p.Spec.Gates
	if o.maxPending >= 0 {
		g.MaxPendingPods = new(o.maxPending)
	}
	if o.maxPDBStall >= 0 {
		g.MaxPDBStallSeconds = new(o.maxPDBStall)
	}
	g.RejoinTimeoutSeconds, g.ReadyTimeoutSeconds, g.SettleSeconds = o.rejoinTimeout, o.readyTimeout, o.settle
	g.Drift = plan.DriftTolerance{NodesAdded: o.driftNodesAdd, NodesMissing: o.driftNodesGone, PDBsChanged: o.driftPDBs}
}

// annotatePlan writes the simulation's predictions into the plan: per
// batch, and the totals with the time model assumed.
func annotatePlan(p *plan.Plan, res *sim.Result, seed int64) error {
	preds := predictions(res)
	if len(preds) != len(p.Spec.Batches) {
		return fmt.Errorf("the simulation reported %d batches for a plan of %d", len(preds), len(p.Spec.Batches))
	}
	for i := range p.Spec.Batches {
		p.Spec.Batches[i].Predicted = &preds[i]
	}
	var assumptions map[string]float64
	data, err := json.Marshal(res.Assumptions.Timing)
	if err == nil {
		err = json.Unmarshal(data, &assumptions)
	}
	if err != nil {
		return fmt.Errorf("recording the simulation's assumptions: %w", err)
	}
	s := res.Summary
	p.Metadata.Simulation = &plan.Simulation{Seed: seed, Assumptions: assumptions, Summary: plan.PredictedSummary{
		DurationSeconds: s.DurationSeconds, Evictions: s.Evictions, EvictionsBlocked: s.EvictionsBlocked,
		PDBStallSeconds: s.PDBStallSeconds, UnschedulablePods: s.UnschedulablePods, LostPods: s.LostPods,
		ServicesWithOutage: s.ServicesWithOutage, StuckNodes: s.StuckNodes, PendingAtEnd: s.PendingAtEnd,
	}}
	return nil
}

// predictions are the result's batches as the plan's predicted figures.
func predictions(res *sim.Result) []plan.Predicted {
	out := make([]plan.Predicted, len(res.Batches))
	for i, b := range res.Batches {
		out[i] = plan.Predicted{
			DurationSeconds: b.EndSeconds - b.StartSeconds, Evictions: b.Evictions, EvictionsBlocked: b.EvictionsBlocked,
			PDBStallSeconds: b.PDBStallSeconds, PendingPeak: b.PendingPeak, Unschedulable: b.Unschedulable,
		}
	}
	return out
}

// formatSeconds prints a duration in seconds the way the tables do.
func formatSeconds(s float64) string {
	return fmt.Sprintf("%.0fs", s)
}
