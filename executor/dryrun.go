package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/kubectl/pkg/drain"

	"github.com/noderoll/noderoll/plan"
)

// dryRun prints what a run would do, batch by batch, and changes nothing:
// it reads the Lease and the progress, checks the first batch's gates
// against the live cluster (without waiting), and sends every cordon and
// eviction of every batch as a server-side dry run, once, reporting the
// API server's answer. It takes no Lease, writes no progress, records no
// Event and runs no hook. Later batches are checked against today's
// cluster, not the one the earlier batches would leave.
func (e *executor) dryRun(ctx context.Context) error {
	e.logf("dry run of %s: nothing will be changed", e.p)
	if cur, err := e.client.CoordinationV1().Leases(e.cfg.Namespace).Get(ctx, LeaseName, metav1.GetOptions{}); err == nil &&
		cur.Spec.HolderIdentity != nil && *cur.Spec.HolderIdentity != "" {
		e.logf("note: Lease %s/%s is held by %q", e.cfg.Namespace, LeaseName, *cur.Spec.HolderIdentity)
	}
	store := &progressStore{client: e.client, namespace: e.cfg.Namespace}
	if prev, err := store.load(ctx); err != nil {
		return err
	} else if prev != nil {
		e.logf("note: ConfigMap %s/%s records a %s run of plan %.12s", e.cfg.Namespace, ProgressName, strings.ToLower(prev.Outcome), prev.PlanDigest)
	}
	if err := e.startObserving(ctx); err != nil {
		return err
	}
	e.rec = newRecord(e.p, e.digest, e.cfg.Clock.Now())
	g := e.p.Spec.Gates
	for i, b := range e.p.Spec.Batches {
		e.logf("batch %d/%d: %s", i+1, len(e.p.Spec.Batches), strings.Join(b.Nodes, ", "))
		var remaining []string
		for _, rb := range e.p.Spec.Batches[i:] {
			remaining = append(remaining, rb.Nodes...)
		}
		for _, gate := range []struct {
			name  string
			check func(context.Context) (string, error)
		}{
			{"drift", func(ctx context.Context) (string, error) { return e.checkDrift(ctx, remaining) }},
			{"pending-pods", e.checkPending},
			{"pdb-exhausted", func(ctx context.Context) (string, error) { return e.checkBudgets(ctx, b.Nodes) }},
			{"pdb-overlap", func(ctx context.Context) (string, error) { return e.checkOverlap(ctx, b.Nodes) }},
			{"resimulation", func(ctx context.Context) (string, error) { return e.checkResimulation(ctx, i) }},
		} {
			msg, err := gate.check(ctx)
			switch {
			case err != nil:
				e.logf("  would check gate %s: cannot now: %v", gate.name, err)
			case msg != "":
				e.logf("  would check gate %s: it fails now (the run would wait up to %ds for pending pods and budgets): %s",
					gate.name, plan.Seconds(g.SettleSeconds, plan.DefaultSettleSeconds), msg)
			default:
				e.logf("  would check gate %s: passes now", gate.name)
			}
		}
		for _, name := range b.Nodes {
			if err := e.dryRunNode(ctx, i, name); err != nil {
				return err
			}
		}
		if e.p.Spec.SoakSeconds > 0 && i < len(e.p.Spec.Batches)-1 {
			e.logf("  would soak %ds", e.p.Spec.SoakSeconds)
		}
	}
	e.logf("dry run done: nothing was changed")
	return nil
}

func (e *executor) dryRunNode(ctx context.Context, batch int, name string) error {
	node, err := e.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		e.logf("  node %s: cannot read it: %v", name, err)
		return nil
	}
	h := NewDrainHelper(ctx, e.client, e.p.Spec.Drain, io.Discard, io.Discard, true)
	e.logf("  node %s: would annotate %s and cordon", name, AnnotationRollout)
	// Not drain.RunCordonOrUncordon: it ignores the helper's dry-run
	// strategy and would cordon the node for real.
	if c := drain.NewCordonHelper(node); c.UpdateIfRequired(true) {
		if err, perr := c.PatchOrReplaceWithContext(ctx, e.client, true); err != nil {
			e.logf("  node %s: the cordon would fail: %v", name, errors.Join(err, perr))
		}
	}
	list, errs := h.GetPodsForDeletion(name)
	if len(errs) > 0 {
		e.logf("  node %s: the drain would fail: %v", name, errs)
		return nil
	}
	if w := list.Warnings(); w != "" {
		e.logf("  node %s: %s", name, w)
	}
	for _, p := range list.Pods() {
		err := h.EvictPod(p, policyv1.SchemeGroupVersion)
		answer := "allowed"
		switch {
		case apierrors.IsTooManyRequests(err):
			answer = fmt.Sprintf("refused now with 429 (the drain would retry every %v): %v", plan.EvictionRetryInterval, err)
		case err != nil:
			answer = "refused: " + err.Error()
		}
		e.logf("  node %s: would evict %s/%s (server dry run: %s)", name, p.Namespace, p.Name, answer)
	}
	if argv := e.p.Spec.Hooks.Reinstall; len(argv) > 0 {
		e.logf("  node %s: would run the reinstall hook %q with NODE_NAME=%s NODEROLL_BATCH=%d%s", name, argv, name, batch, envList(e.p.Spec.Hooks.Env))
	}
	g := e.p.Spec.Gates
	e.logf("  node %s: would wait up to %v for it to register Ready with OS image %q",
		name, time.Duration(plan.Seconds(g.RejoinTimeoutSeconds, plan.DefaultRejoinTimeoutSeconds))*time.Second, g.ExpectedOSImage)
	e.logf("  node %s: would uncordon it and wait up to %v for its %d displaced pods' controllers to be Ready",
		name, time.Duration(plan.Seconds(g.ReadyTimeoutSeconds, plan.DefaultReadyTimeoutSeconds))*time.Second, len(list.Pods()))
	return nil
}

func envList(env map[string]string) string {
	var b strings.Builder
	for _, k := range sortedKeys(env) {
		fmt.Fprintf(&b, " %s=%s", k, env[k])
	}
	return b.String()
}
