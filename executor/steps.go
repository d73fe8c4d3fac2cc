package executor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/kubectl/pkg/drain"

	"github.com/noderoll/noderoll/plan"
)

// replaceNode takes one node from its recorded phase to Done: cordon and
// drain, reinstall hook, rejoin gate, uncordon, displaced workloads Ready.
// The phase is persisted before each step starts, so that a resumed run
// takes up the step that was under way: a drain is continued (never
// started again once it has finished), an interrupted hook is run again.
// On failure the node stays where it is, cordoned, with the reason in its
// noderoll.dev/stopped annotation and in the record.
func (e *executor) replaceNode(ctx context.Context, batch int, nr *NodeRun) error {
	err := e.stepNode(ctx, batch, nr)
	if err == nil {
		return nil
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	msg := fmt.Sprintf("stopped in phase %s: %v", phaseName(nr.Phase), err)
	_ = e.update(sctx, func() { nr.Message = msg })
	if nr.Phase != PhasePending {
		if aerr := e.annotate(sctx, nr.Name, AnnotationStopped, msg); aerr != nil {
			err = errors.Join(err, aerr)
		}
		e.event(sctx, nr.Name, corev1.EventTypeWarning, ReasonRolloutStopped, msg)
	}
	e.logf("node %s: %s", nr.Name, msg)
	return fmt.Errorf("node %s: %w", nr.Name, err)
}

func phaseName(p Phase) string {
	if p == PhasePending {
		return "Pending"
	}
	return string(p)
}

func (e *executor) setPhase(ctx context.Context, nr *NodeRun, p Phase, f func()) error {
	return e.update(ctx, func() {
		nr.Phase = p
		if f != nil {
			f()
		}
	})
}

func (e *executor) stepNode(ctx context.Context, batch int, nr *NodeRun) error {
	for nr.Phase != PhaseDone {
		if err := context.Cause(ctx); err != nil {
			return err
		}
		var err error
		switch nr.Phase {
		case PhasePending, PhaseDraining:
			err = e.drain(ctx, batch, nr)
		case PhaseDrained, PhaseReinstalling:
			err = e.reinstall(ctx, batch, nr)
		case PhaseReinstalled:
			err = e.rejoin(ctx, nr)
		case PhaseRejoined:
			err = e.uncordon(ctx, nr)
		case PhaseUncordoned:
			err = e.settle(ctx, nr)
		default:
			err = fmt.Errorf("unknown phase %q in the recorded progress", nr.Phase)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// drain cordons the node and evicts its pods with kubectl's drain library.
func (e *executor) drain(ctx context.Context, batch int, nr *NodeRun) error {
	resumed := nr.Phase == PhaseDraining
	now := e.cfg.Clock.Now()
	if err := e.setPhase(ctx, nr, PhaseDraining, func() {
		if resumed {
			nr.DrainResumes++
		} else {
			nr.Drains++
			nr.DrainStarted = &now
		}
	}); err != nil {
		return err
	}
	node, err := e.client.CoreV1().Nodes().Get(ctx, nr.Name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading node: %w", err)
	}
	if err := e.annotate(ctx, nr.Name, AnnotationRollout, fmt.Sprintf("plan %.12s batch %d", e.digest, batch)); err != nil {
		return err
	}
	h := NewDrainHelper(ctx, e.drainClient, e.p.Spec.Drain, e.out, e.out, false)
	h.Out, h.ErrOut = prefixed(e.out, "node "+nr.Name+": "), prefixed(e.out, "node "+nr.Name+": ")
	if err := drain.RunCordonOrUncordon(h, node, true); err != nil {
		return fmt.Errorf("cordoning: %w", err)
	}
	reason, verb := ReasonDrainStarted, "draining"
	if resumed {
		reason, verb = ReasonDrainResumed, "draining again (resumed)"
	}
	e.event(ctx, nr.Name, corev1.EventTypeNormal, ReasonCordoned, "cordoned by noderoll")
	list, errs := h.GetPodsForDeletion(nr.Name)
	if len(errs) > 0 {
		return fmt.Errorf("listing the pods to evict: %w", errors.Join(errs...))
	}
	pods := list.Pods()
	if resumed {
		if err := e.completeGrantedEvictions(ctx, nr, pods); err != nil {
			return err
		}
	}
	e.event(ctx, nr.Name, corev1.EventTypeNormal, reason, fmt.Sprintf("%s: %d pods to evict", verb, len(pods)))
	e.logf("node %s: %s: %d pods to evict", nr.Name, verb, len(pods))
	if w := list.Warnings(); w != "" {
		e.logf("node %s: %s", nr.Name, w)
	}
	// The controllers whose pods leave, with how many Ready pods they had:
	// the node is not done until they have as many again.
	all, err := e.pods.List(labels.Everything())
	if err != nil {
		return err
	}
	ready := readyOf(all)
	displaced := map[string]int{}
	for i := range pods {
		// Jobs are not waited for: the Job controller recreates an evicted
		// pod only after its failure back-off (10 s, doubling), and not at
		// all once the Job has used its backoffLimit; waiting on batch
		// work would hold the rollout hostage to it.
		if k := ownerKey(&pods[i]); k != "" && !strings.HasPrefix(k, "DaemonSet/") && !strings.HasPrefix(k, "Job/") {
			displaced[k] = ready[k]
		}
	}
	if err := e.update(ctx, func() {
		if nr.PodsToEvict == 0 {
			nr.PodsToEvict = len(pods)
		}
		if nr.Displaced == nil {
			nr.Displaced = map[string]int{}
		}
		for k, v := range displaced {
			if _, ok := nr.Displaced[k]; !ok {
				nr.Displaced[k] = v
			}
		}
	}); err != nil {
		return err
	}
	// The figures are persisted as the drain goes, so that a killed
	// executor loses at most one poll interval of them.
	e.counter.forget(nr.Name)
	for i := range pods {
		e.counter.register(pods[i].Namespace, pods[i].Name, nr.Name)
	}
	baseEv, baseBl, baseStall := nr.Evictions, nr.EvictionsBlocked, nr.PDBStallSeconds
	flush := func(ctx context.Context) error {
		ev, bl, stall := e.counter.figures(nr.Name)
		return e.update(ctx, func() {
			nr.Evictions, nr.EvictionsBlocked, nr.PDBStallSeconds = baseEv+ev, baseBl+bl, baseStall+stall.Seconds()
		})
	}
	dctx, stop := context.WithCancel(ctx)
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		for {
			select {
			case <-dctx.Done():
				return
			case <-e.cfg.Clock.After(e.cfg.PollInterval):
				_ = flush(dctx)
			}
		}
	}()
	derr := h.DeleteOrEvictPods(pods)
	stop()
	<-flushed
	err = flush(ctx)
	e.counter.forget(nr.Name)
	if err != nil {
		return errors.Join(derr, err)
	}
	if derr != nil {
		return fmt.Errorf("draining: %w", derr)
	}
	done := e.cfg.Clock.Now()
	if err := e.setPhase(ctx, nr, PhaseDrained, func() {
		nr.Drained = &done
		if nr.DrainResumes > 0 {
			nr.Evictions = nr.PodsToEvict
		}
	}); err != nil {
		return err
	}
	msg := fmt.Sprintf("drained: %d evictions, %d refused with 429", nr.Evictions, nr.EvictionsBlocked)
	e.event(ctx, nr.Name, corev1.EventTypeNormal, ReasonDrained, msg)
	e.logf("node %s: %s", nr.Name, msg)
	return nil
}

// disruptionMemory is how long the disruption controller counts a pod
// whose eviction was granted as disrupted while it is not deleted
// (DeletionTimeout in k8s.io/kubernetes/pkg/controller/disruption).
const disruptionMemory = 2 * time.Minute

// grantedEviction is a pod whose eviction a budget granted, and which was
// not deleted.
type grantedEviction struct {
	pod *corev1.Pod
	pdb string
	at  time.Time
}

// grantedEvictions finds, among pods, those that a budget still counts as
// disrupted (status.disruptedPods, less than disruptionMemory ago) and
// that are not being deleted. The eviction subresource charges the budget
// first and deletes the pod second, and the API server gives up a request
// whose client has gone: an executor that dies while its evictions are
// under way (SIGKILL, a lost connection) can leave pods granted eviction
// and never deleted, and each of their budgets allowing one disruption
// less — nothing, for a budget of maxUnavailable 1 — until the
// disruption controller forgets the entry two minutes later.
func grantedEvictions(pods []corev1.Pod, pdbs []*policyv1.PodDisruptionBudget, now time.Time) []grantedEviction {
	var out []grantedEviction
	for i := range pods {
		p := &pods[i]
		if p.DeletionTimestamp != nil {
			continue
		}
		for _, pdb := range pdbs {
			at, ok := pdb.Status.DisruptedPods[p.Name]
			if ok && plan.Selects(pdb, p) && at.Add(disruptionMemory).After(now) {
				out = append(out, grantedEviction{pod: p, pdb: pdb.Namespace + "/" + pdb.Name, at: at.Time})
				break
			}
		}
	}
	return out
}

// completeGrantedEvictions deletes, when a drain is resumed, the pods
// whose eviction a budget granted to the executor that died but which
// were never deleted (grantedEvictions). Their budgets already count them
// as disrupted, so deleting them — with the plan's grace period, as the
// eviction would have — takes nothing more from any budget; waiting
// instead would stall the drain on 429s for up to two minutes. The drain
// library then evicts them like the others: a pod being deleted is
// evicted without a budget check, and waited for.
func (e *executor) completeGrantedEvictions(ctx context.Context, nr *NodeRun, pods []corev1.Pod) error {
	pdbs, err := e.listPDBs(ctx)
	if err != nil {
		return err
	}
	for _, g := range grantedEvictions(pods, pdbs, e.cfg.Clock.Now()) {
		opts := metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &g.pod.UID}}
		if gp := e.p.Spec.Drain.GracePeriodSeconds; gp != nil && *gp >= 0 {
			opts.GracePeriodSeconds = gp
		}
		err := e.client.CoreV1().Pods(g.pod.Namespace).Delete(ctx, g.pod.Name, opts)
		switch {
		case apierrors.IsNotFound(err) || apierrors.IsConflict(err):
			continue // gone, or another pod of the same name
		case err != nil:
			return fmt.Errorf("completing the eviction of pod %s/%s: %w", g.pod.Namespace, g.pod.Name, err)
		}
		if err := e.update(ctx, func() { nr.EvictionsCompleted++ }); err != nil {
			return err
		}
		e.logf("node %s: pod %s/%s: PodDisruptionBudget %s granted its eviction at %s but the pod was not deleted (the executor that asked died first): deleting it, as the budget already counts it as disrupted",
			nr.Name, g.pod.Namespace, g.pod.Name, g.pdb, g.at.UTC().Format(time.TimeOnly))
	}
	return nil
}

// reinstall runs the plan's reinstall hook for the node.
func (e *executor) reinstall(ctx context.Context, batch int, nr *NodeRun) error {
	if err := e.setPhase(ctx, nr, PhaseReinstalling, func() { nr.HookRuns++ }); err != nil {
		return err
	}
	argv := e.p.Spec.Hooks.Reinstall
	if len(argv) > 0 {
		e.event(ctx, nr.Name, corev1.EventTypeNormal, ReasonReinstalling, "running the reinstall hook")
		e.logf("node %s: running the reinstall hook: %s", nr.Name, strings.Join(argv, " "))
		if err := e.runHook(ctx, batch, nr.Name, argv); err != nil {
			return err
		}
	}
	now := e.cfg.Clock.Now()
	return e.setPhase(ctx, nr, PhaseReinstalled, func() { nr.Reinstalled = &now })
}

// hookEnv is the environment of a hook run for node.
func (e *executor) hookEnv(batch int, node string) []string {
	env := os.Environ()
	for _, k := range sortedKeys(e.p.Spec.Hooks.Env) {
		env = append(env, k+"="+e.p.Spec.Hooks.Env[k])
	}
	env = append(env,
		"NODE_NAME="+node,
		fmt.Sprintf("NODEROLL_BATCH=%d", batch),
		"NODEROLL_PLAN_DIGEST="+e.digest,
		"NODEROLL_EXPECTED_OS_IMAGE="+e.p.Spec.Gates.ExpectedOSImage,
	)
	if e.cfg.Kubeconfig != "" {
		env = append(env, "KUBECONFIG="+e.cfg.Kubeconfig)
	}
	return env
}

func (e *executor) runHook(ctx context.Context, batch int, node string, argv []string) error {
	timeout := time.Duration(plan.Seconds(e.p.Spec.Hooks.TimeoutSeconds, plan.DefaultHookTimeoutSeconds)) * time.Second
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(hctx, argv[0], argv[1:]...)
	cmd.Env = e.hookEnv(batch, node)
	w := prefixed(e.out, "node "+node+": hook: ")
	cmd.Stdout, cmd.Stderr = w, w
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		if hctx.Err() != nil && ctx.Err() == nil {
			return fmt.Errorf("reinstall hook %s: still running after %v", argv[0], timeout)
		}
		return fmt.Errorf("reinstall hook %s: %w", argv[0], err)
	}
	return nil
}

// rejoin is the rejoin gate: the node registers again, Ready, with the
// plan's expected OS image.
func (e *executor) rejoin(ctx context.Context, nr *NodeRun) error {
	timeout := time.Duration(plan.Seconds(e.p.Spec.Gates.RejoinTimeoutSeconds, plan.DefaultRejoinTimeoutSeconds)) * time.Second
	want := e.p.Spec.Gates.ExpectedOSImage
	last := "not seen yet"
	err := wait.PollUntilContextTimeout(ctx, e.cfg.PollInterval, timeout, true, func(ctx context.Context) (bool, error) {
		n, err := e.client.CoreV1().Nodes().Get(ctx, nr.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			last = "the node object does not exist"
			return false, nil
		case err != nil:
			if ctx.Err() == nil {
				last = err.Error()
			}
			return false, nil
		case !nodeReady(n):
			last = "registered but not Ready"
			return false, nil
		case want != "" && n.Status.NodeInfo.OSImage != want:
			last = fmt.Sprintf("Ready with OS image %q", n.Status.NodeInfo.OSImage)
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		if cause := context.Cause(ctx); cause != nil {
			return cause
		}
		return &GateError{Batch: e.p.BatchOf(nr.Name), Gate: "rejoin",
			Message: fmt.Sprintf("node %s did not register Ready with OS image %q within %v (%s)", nr.Name, want, timeout, last)}
	}
	now := e.cfg.Clock.Now()
	if err := e.setPhase(ctx, nr, PhaseRejoined, func() { nr.Rejoined = &now }); err != nil {
		return err
	}
	e.event(ctx, nr.Name, corev1.EventTypeNormal, ReasonRejoined, fmt.Sprintf("Ready with OS image %q", want))
	e.logf("node %s: rejoined, Ready with OS image %q", nr.Name, want)
	return nil
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// uncordon makes the node schedulable again and clears its annotations.
func (e *executor) uncordon(ctx context.Context, nr *NodeRun) error {
	node, err := e.client.CoreV1().Nodes().Get(ctx, nr.Name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading node: %w", err)
	}
	h := NewDrainHelper(ctx, e.client, e.p.Spec.Drain, io.Discard, io.Discard, false)
	if err := drain.RunCordonOrUncordon(h, node, false); err != nil {
		return fmt.Errorf("uncordoning: %w", err)
	}
	for _, k := range []string{AnnotationRollout, AnnotationStopped} {
		if err := e.annotate(ctx, nr.Name, k, ""); err != nil {
			return err
		}
	}
	now := e.cfg.Clock.Now()
	if err := e.setPhase(ctx, nr, PhaseUncordoned, func() { nr.Uncordoned = &now }); err != nil {
		return err
	}
	e.event(ctx, nr.Name, corev1.EventTypeNormal, ReasonUncordoned, "uncordoned by noderoll")
	e.logf("node %s: uncordoned", nr.Name)
	return nil
}

// settle waits until every controller the drain displaced has as many
// Ready pods as before the drain.
func (e *executor) settle(ctx context.Context, nr *NodeRun) error {
	timeout := time.Duration(plan.Seconds(e.p.Spec.Gates.ReadyTimeoutSeconds, plan.DefaultReadyTimeoutSeconds)) * time.Second
	var short, last []string
	err := wait.PollUntilContextTimeout(ctx, e.cfg.PollInterval, timeout, true, func(context.Context) (bool, error) {
		pods, err := e.pods.List(labels.Everything())
		if err != nil {
			return false, err
		}
		ready := readyOf(pods)
		short = nil
		for _, k := range sortedKeys(nr.Displaced) {
			if ready[k] < nr.Displaced[k] {
				short = append(short, fmt.Sprintf("%s (%d of %d Ready)", k, ready[k], nr.Displaced[k]))
			}
		}
		if len(short) > 0 {
			last = short
		}
		return len(short) == 0, nil
	})
	if err != nil {
		if cause := context.Cause(ctx); cause != nil {
			return cause
		}
		if pods, lerr := e.pods.List(labels.Everything()); lerr == nil {
			short = shortWorkloads(nr.Displaced, pods)
		}
		return &GateError{Batch: e.p.BatchOf(nr.Name), Gate: "workloads-ready",
			Message: fmt.Sprintf("the workloads displaced from node %s are not Ready after %v: %s", nr.Name, timeout, strings.Join(short, "; "))}
	}
	now := e.cfg.Clock.Now()
	if err := e.setPhase(ctx, nr, PhaseDone, func() { nr.Done = &now; nr.Message = ""; nr.LastReady = last }); err != nil {
		return err
	}
	e.event(ctx, nr.Name, corev1.EventTypeNormal, ReasonReplaced, "replaced; its displaced workloads are Ready")
	e.logf("node %s: done, %d displaced workloads Ready", nr.Name, len(nr.Displaced))
	return nil
}

// maxPodsDescribed bounds how many not-Ready pods of one workload the
// workloads-ready gate describes.
const maxPodsDescribed = 3

// shortWorkloads says, for each displaced workload with fewer Ready pods
// than it had when the drain began, how many it has and where each of its
// other pods is and why it is not Ready — most often a pod the scheduler
// cannot place, with the scheduler's reason: what an operator looks at
// when the workloads-ready gate stops a rollout. Sorted by workload.
func shortWorkloads(displaced map[string]int, pods []*corev1.Pod) []string {
	ready := readyOf(pods)
	var out []string
	for _, k := range sortedKeys(displaced) {
		if ready[k] >= displaced[k] {
			continue
		}
		var notReady []string
		for _, p := range pods {
			if ownerKey(p) == k && (p.DeletionTimestamp != nil || !plan.IsReady(p)) {
				notReady = append(notReady, describePod(p))
			}
		}
		slices.Sort(notReady)
		if n := len(notReady); n > maxPodsDescribed {
			notReady = append(notReady[:maxPodsDescribed], fmt.Sprintf("%d more", n-maxPodsDescribed))
		}
		s := fmt.Sprintf("%s (%d of %d Ready", k, ready[k], displaced[k])
		if len(notReady) > 0 {
			s += "; not Ready: " + strings.Join(notReady, ", ")
		} else {
			s += "; no other pod exists: its controller has not replaced the evicted ones"
		}
		out = append(out, s+")")
	}
	return out
}

// gates checks, against fresh state, that batch i may start, and records
// each check. Drift fails at once; pending pods and exhausted budgets may
// clear by themselves, so they are given gates.settleSeconds.
func (e *executor) gates(ctx context.Context, i int, b *BatchRun) error {
	var remaining []string
	for _, br := range e.rec.Batches[i:] {
		remaining = append(remaining, br.Nodes...)
	}
	settle := time.Duration(plan.Seconds(e.p.Spec.Gates.SettleSeconds, plan.DefaultSettleSeconds)) * time.Second
	for _, g := range []struct {
		name  string
		wait  bool
		check func(context.Context) (string, error)
	}{
		{"drift", false, func(ctx context.Context) (string, error) { return e.checkDrift(ctx, remaining) }},
		{"pending-pods", true, e.checkPending},
		{"pdb-exhausted", true, func(ctx context.Context) (string, error) { return e.checkBudgets(ctx, b.Nodes) }},
		{"resimulation", false, func(ctx context.Context) (string, error) { return e.checkResimulation(ctx, i) }},
	} {
		msg, err := g.check(ctx)
		started, first := e.cfg.Clock.Now(), msg
		deadline := started.Add(settle)
		for err == nil && msg != "" && g.wait && e.cfg.Clock.Now().Before(deadline) {
			select {
			case <-ctx.Done():
				return context.Cause(ctx)
			case <-e.cfg.Clock.After(e.cfg.PollInterval):
			}
			msg, err = g.check(ctx)
		}
		if err != nil {
			return fmt.Errorf("gate %s: %w", g.name, err)
		}
		res := GateResult{Gate: g.name, Passed: msg == "", Message: msg, At: e.cfg.Clock.Now()}
		if first != "" {
			res.WaitedSeconds, res.WaitedFor = res.At.Sub(started).Seconds(), first
		}
		if uerr := e.update(ctx, func() { b.Gates = append(b.Gates, res) }); uerr != nil {
			return uerr
		}
		if msg != "" {
			return &GateError{Batch: i, Gate: g.name, Message: msg}
		}
	}
	e.logf("batch %d/%d: gates passed", i+1, len(e.rec.Batches))
	return nil
}

func (e *executor) checkDrift(ctx context.Context, remaining []string) (string, error) {
	if e.p.Metadata.Baseline == nil {
		return "", nil
	}
	nodes, err := e.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", fmt.Errorf("listing nodes: %w", err)
	}
	pdbs, err := e.listPDBs(ctx)
	if err != nil {
		return "", err
	}
	np := make([]*corev1.Node, len(nodes.Items))
	for i := range nodes.Items {
		np[i] = &nodes.Items[i]
	}
	v := plan.CheckDrift(e.p.Metadata.Baseline, np, pdbs).Violations(e.p.Spec.Gates.Drift, remaining)
	rv, err := replicasDrift(ctx, e.client, e.p.Metadata.Baseline)
	if err != nil {
		return "", err
	}
	v = append(v, rv...)
	return strings.Join(v, "; "), nil
}

func (e *executor) listPDBs(ctx context.Context) ([]*policyv1.PodDisruptionBudget, error) {
	list, err := e.client.PolicyV1().PodDisruptionBudgets(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing PodDisruptionBudgets: %w", err)
	}
	out := make([]*policyv1.PodDisruptionBudget, len(list.Items))
	for i := range list.Items {
		out[i] = &list.Items[i]
	}
	return out, nil
}

func (e *executor) checkPending(context.Context) (string, error) {
	pods, err := e.pods.List(labels.Everything())
	if err != nil {
		return "", err
	}
	return e.p.Spec.Gates.CheckPending(plan.PendingPods(pods)), nil
}

func (e *executor) checkBudgets(ctx context.Context, nodes []string) (string, error) {
	pdbs, err := e.listPDBs(ctx)
	if err != nil {
		return "", err
	}
	pods, err := e.pods.List(labels.Everything())
	if err != nil {
		return "", err
	}
	exhausted := plan.ExhaustedBudgets(pdbs, pods, nodes, e.p.Spec.Drain, func(ns, name string) bool {
		_, err := e.client.AppsV1().DaemonSets(ns).Get(ctx, name, metav1.GetOptions{})
		return err == nil
	})
	if len(exhausted) == 0 {
		return "", nil
	}
	// Say which of their pods are not healthy: that is what to look at.
	for i, name := range exhausted {
		for _, pdb := range pdbs {
			if pdb.Namespace+"/"+pdb.Name != name {
				continue
			}
			var unhealthy []string
			for _, p := range pods {
				if plan.Selects(pdb, p) && (p.DeletionTimestamp != nil || !plan.IsReady(p)) {
					unhealthy = append(unhealthy, describePod(p))
				}
			}
			slices.Sort(unhealthy)
			var disrupted []string
			for pod, at := range pdb.Status.DisruptedPods {
				disrupted = append(disrupted, fmt.Sprintf("%s since %s", pod, at.UTC().Format(time.TimeOnly)))
			}
			slices.Sort(disrupted)
			why := "not healthy: " + strings.Join(unhealthy, ", ")
			if len(unhealthy) == 0 && len(disrupted) > 0 {
				// The eviction subresource records an evicted pod by name; a
				// StatefulSet's replacement has the same name, and the
				// disruption controller counts it as disrupted until the
				// entry expires, two minutes after the eviction.
				why = "the disruption controller still counts as disrupted (by name, for up to 2 minutes after their eviction): " + strings.Join(disrupted, ", ")
			}
			exhausted[i] = fmt.Sprintf("%s (%d healthy of %d desired; %s)", name,
				pdb.Status.CurrentHealthy, pdb.Status.DesiredHealthy, why)
		}
	}
	return fmt.Sprintf("PodDisruptionBudgets allow no disruption but select pods the batch must evict: %s", strings.Join(exhausted, "; ")), nil
}

func (e *executor) checkResimulation(ctx context.Context, i int) (string, error) {
	if e.cfg.Resimulate == nil {
		return "", nil
	}
	rest := *e.p
	rest.Spec.Batches = slices.Clone(e.p.Spec.Batches[i:])
	for j := range rest.Spec.Batches {
		rest.Spec.Batches[j].Index = j
		rest.Spec.Batches[j].Predicted = nil
	}
	predicted, err := e.cfg.Resimulate(ctx, &rest)
	if err != nil {
		return "", fmt.Errorf("re-simulating the remaining batches: %w", err)
	}
	for j := range predicted {
		predicted[j].Index += i
	}
	if v := e.p.Spec.Gates.CheckPrediction(predicted); len(v) > 0 {
		return "the prediction for the remaining batches breaks the plan's limits: " + strings.Join(v, "; "), nil
	}
	return "", nil
}

// prefixed returns a writer that prefixes each line written to w.
func prefixed(w io.Writer, prefix string) io.Writer {
	return &prefixWriter{w: w, prefix: prefix}
}

// prefixWriter writes each complete line with its prefix; a last line
// without a newline is kept until the newline comes.
type prefixWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		if _, err := fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.buf[:i]); err != nil {
			return 0, err
		}
		p.buf = p.buf[i+1:]
	}
}

// describePod says where a pod is and why it is not Ready.
func describePod(p *corev1.Pod) string {
	where := p.Spec.NodeName
	if where == "" {
		where = "no node"
	}
	s := fmt.Sprintf("%s %s on %s", p.Name, p.Status.Phase, where)
	if p.DeletionTimestamp != nil {
		s += ", terminating"
	}
	for _, c := range p.Status.Conditions {
		if c.Status != corev1.ConditionTrue && c.Message != "" {
			s += fmt.Sprintf(", %s: %s", c.Type, c.Message)
			break
		}
	}
	return s
}
