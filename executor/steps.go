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
	"syscall"
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
func (e *executor) replaceNode(ctx, lctx context.Context, batch int, nr *NodeRun) error {
	err := e.stepNode(ctx, batch, nr)
	if err == nil {
		return nil
	}
	msg := fmt.Sprintf("stopped in phase %s: %v", phaseName(nr.Phase), err)
	e.logf("node %s: %s", nr.Name, msg)
	// Written under lctx: also after a Ctrl-C, never after the Lease is
	// lost (the node and the record are another executor's then).
	if lerr := e.mayRecord(lctx); lerr != nil {
		return fmt.Errorf("node %s: %w", nr.Name, err)
	}
	sctx, cancel := context.WithTimeout(lctx, DefaultRequestTimeout)
	defer cancel()
	_ = e.update(sctx, func() { nr.Message = msg })
	if nr.Phase != PhasePending && sctx.Err() == nil {
		if aerr := e.annotate(sctx, nr.Name, AnnotationStopped, msg); aerr != nil {
			err = errors.Join(err, aerr)
		}
		e.event(sctx, nr.Name, corev1.EventTypeWarning, ReasonRolloutStopped, msg)
	}
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

// drain cordons the node and evicts its pods: kubectl's drain library
// lists them (the filters plan.Drain mirrors) and cordons, evictPods
// evicts.
func (e *executor) drain(ctx context.Context, batch int, nr *NodeRun) error {
	resumed := nr.Phase == PhaseDraining
	node, err := e.getNode(ctx, nr.Name)
	if err != nil {
		return err
	}
	now := e.cfg.Clock.Now()
	if err := e.setPhase(ctx, nr, PhaseDraining, func() {
		if resumed {
			nr.DrainResumes++
		} else {
			nr.Drains++
			nr.DrainStarted = &now
			// Before the executor cordons it: uncordon restores this.
			nr.CordonedBefore = node.Spec.Unschedulable
		}
	}); err != nil {
		return err
	}
	if err := e.annotate(ctx, nr.Name, AnnotationRollout, fmt.Sprintf("plan %.12s batch %d", e.digest, batch)); err != nil {
		return err
	}
	h := NewDrainHelper(ctx, e.drainClient, e.p.Spec.Drain, e.out, e.out, false)
	h.Out, h.ErrOut = prefixed(e.out, "node "+nr.Name+": "), prefixed(e.out, "node "+nr.Name+": ")
	if err := e.retry(ctx, func(context.Context) error { return drain.RunCordonOrUncordon(h, node, true) }); err != nil {
		return fmt.Errorf("cordoning: %w", err)
	}
	reason, verb := ReasonDrainStarted, "draining"
	if resumed {
		reason, verb = ReasonDrainResumed, "draining again (resumed)"
	}
	e.event(ctx, nr.Name, corev1.EventTypeNormal, ReasonCordoned, "cordoned by noderoll")
	var list *drain.PodDeleteList
	if err := e.retry(ctx, func(context.Context) error {
		var errs []error
		list, errs = h.GetPodsForDeletion(nr.Name)
		return errors.Join(errs...)
	}); err != nil {
		return fmt.Errorf("listing the pods to evict: %w", err)
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
		// What a node waits for is the simulator's rule too
		// (plan.AwaitedAfterDrain): neither DaemonSet nor Job pods.
		ref := metav1.GetControllerOf(&pods[i])
		if k := ownerKey(&pods[i]); k != "" && ref != nil && plan.AwaitedAfterDrain(ref.Kind) {
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
	derr := e.evictPods(ctx, nr.Name, pods)
	stop()
	<-flushed
	err = flush(ctx)
	e.counter.forget(nr.Name)
	if err != nil {
		return errors.Join(derr, err)
	}
	if derr != nil {
		return fmt.Errorf("draining (the node stays cordoned): %w", derr)
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
// whose eviction was granted as disrupted while it is not deleted (one
// home with the simulator's: plan.DisruptedPodMemory).
const disruptionMemory = plan.DisruptedPodMemory

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
	var pdbs []*policyv1.PodDisruptionBudget
	if err := e.retry(ctx, func(ctx context.Context) (err error) { pdbs, err = e.listPDBs(ctx); return err }); err != nil {
		return err
	}
	for _, g := range grantedEvictions(pods, pdbs, e.cfg.Clock.Now()) {
		opts := metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &g.pod.UID}}
		if gp := e.p.Spec.Drain.GracePeriodSeconds; gp != nil && *gp >= 0 {
			opts.GracePeriodSeconds = gp
		}
		err := e.retry(ctx, func(ctx context.Context) error {
			return e.client.CoreV1().Pods(g.pod.Namespace).Delete(ctx, g.pod.Name, opts)
		})
		switch {
		case apierrors.IsNotFound(err) || apierrors.IsConflict(err):
			continue // gone, or another pod of the same name
		case apierrors.IsForbidden(err):
			// deploy/rbac.yaml grants no pods delete (it would let the
			// executor delete any pod past its budget): the drain evicts
			// these pods like the others, once the disruption controller
			// forgets their grant.
			e.logf("node %s: the executor may not delete pods, so the pods a budget granted eviction to the executor that died are evicted again once the disruption controller forgets the grant (within %v): %v",
				nr.Name, disruptionMemory, err)
			return nil
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

// reinstall runs the plan's reinstall hook for the node. Before its first
// run it records what the rejoin gate compares the node with (BeforeHook).
func (e *executor) reinstall(ctx context.Context, batch int, nr *NodeRun) error {
	// Without a hook nothing is started that the node must come back
	// from; with one, the first run's "before" is kept.
	argv := e.p.Spec.Hooks.Reinstall
	var before *NodeBoot
	if nr.BeforeHook == nil && len(argv) > 0 {
		var err error
		if before, err = e.nodeBoot(ctx, nr.Name); err != nil {
			return err
		}
	}
	if err := e.setPhase(ctx, nr, PhaseReinstalling, func() {
		nr.HookRuns++
		if before != nil {
			nr.BeforeHook = before
		}
	}); err != nil {
		return err
	}
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

// nodeBoot is the node's registration and boot as they are now.
func (e *executor) nodeBoot(ctx context.Context, name string) (*NodeBoot, error) {
	n, err := e.getNode(ctx, name)
	if apierrors.IsNotFound(err) {
		return &NodeBoot{Absent: true}, nil
	}
	if err != nil {
		return nil, err
	}
	b := &NodeBoot{UID: string(n.UID), BootID: n.Status.NodeInfo.BootID}
	if c := readyCondition(n); c != nil {
		b.ReadySince = stamp(c.LastTransitionTime.Time)
	}
	return b, nil
}

// rebooted says whether the node has come back since before (a new
// registration, another boot ID or a Ready condition that changed since),
// and if not, what it looks like.
func rebooted(before *NodeBoot, n *corev1.Node) (bool, string) {
	c := readyCondition(n)
	switch {
	case before == nil:
		return true, "" // a record of an executor that did not record it
	case before.Absent || string(n.UID) != before.UID:
		return true, ""
	case before.BootID != "" && n.Status.NodeInfo.BootID != before.BootID:
		return true, ""
	case c != nil && (before.ReadySince == nil || !c.LastTransitionTime.Time.Equal(*before.ReadySince)):
		return true, ""
	}
	return false, fmt.Sprintf("Ready, but not rebooted since the hook started (same registration, boot ID %q, Ready since before the hook)", before.BootID)
}

// getNode reads the node, retrying transient errors.
func (e *executor) getNode(ctx context.Context, name string) (*corev1.Node, error) {
	var n *corev1.Node
	err := e.retry(ctx, func(ctx context.Context) (err error) {
		n, err = e.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reading node %s: %w", name, err)
	}
	return n, nil
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

// runHook runs the hook in a process group of its own, the node's name
// and the plan's variables in its environment only (argv is the plan's,
// never a shell string built from them), its output logged line by line
// with the node's name. When it outlives its timeout (hooks.timeoutSeconds)
// or the executor stops, its whole group gets SIGTERM, then SIGKILL after
// the grace period: no child of it (ssh, a cloud CLI) survives to run
// beside the hook a resumed executor runs again.
func (e *executor) runHook(ctx context.Context, batch int, node string, argv []string) error {
	timeout := time.Duration(plan.Seconds(e.p.Spec.Hooks.TimeoutSeconds, plan.DefaultHookTimeoutSeconds)) * time.Second
	grace := e.cfg.HookGracePeriod
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = e.hookEnv(batch, node)
	w := prefixed(e.out, "node "+node+": hook: ")
	defer w.flush()
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Output pipes held open by a process the group signals did not reach
	// are closed this long after the hook exits.
	cmd.WaitDelay = grace
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("reinstall hook %s: %w", argv[0], err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		if errors.Is(err, exec.ErrWaitDelay) {
			e.logf("node %s: the reinstall hook exited but left processes holding its output", node)
			err = nil
		}
		if err != nil {
			return fmt.Errorf("reinstall hook %s: %w", argv[0], err)
		}
		return nil
	case <-hctx.Done():
	}
	pgid := cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-waited:
	case <-time.After(grace):
	}
	// Whatever of the group is left, the leader gone or not.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	select {
	case <-waited:
	case <-time.After(grace):
	}
	if ctx.Err() == nil {
		return fmt.Errorf("reinstall hook %s: still running after %v: its process group was sent SIGTERM, and SIGKILL %v later", argv[0], timeout, grace)
	}
	return fmt.Errorf("reinstall hook %s stopped (SIGTERM to its process group, SIGKILL %v later): %w", argv[0], grace, context.Cause(ctx))
}

// rejoin is the rejoin gate: the node registers again, Ready, with the
// plan's expected OS image.
func (e *executor) rejoin(ctx context.Context, nr *NodeRun) error {
	timeout := time.Duration(plan.Seconds(e.p.Spec.Gates.RejoinTimeoutSeconds, plan.DefaultRejoinTimeoutSeconds)) * time.Second
	want := e.p.Spec.Gates.ExpectedOSImage
	last := "not seen yet"
	// Only a node that came back since the hook started counts: a hook
	// that returns before the node goes down would otherwise pass the gate
	// on the node's old Ready status.
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
		ok, why := rebooted(nr.BeforeHook, n)
		last = why
		return ok, nil
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
	c := readyCondition(n)
	return c != nil && c.Status == corev1.ConditionTrue
}

func readyCondition(n *corev1.Node) *corev1.NodeCondition {
	for i, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return &n.Status.Conditions[i]
		}
	}
	return nil
}

// uncordon makes the node schedulable again — or, when it was cordoned
// before the run (CordonedBefore), leaves it cordoned as it was — and
// clears the executor's annotations.
func (e *executor) uncordon(ctx context.Context, nr *NodeRun) error {
	node, err := e.getNode(ctx, nr.Name)
	if err != nil {
		return err
	}
	h := NewDrainHelper(ctx, e.client, e.p.Spec.Drain, io.Discard, io.Discard, false)
	if err := e.retry(ctx, func(context.Context) error { return drain.RunCordonOrUncordon(h, node, nr.CordonedBefore) }); err != nil {
		return fmt.Errorf("restoring the cordon state of before the run: %w", err)
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
	if nr.CordonedBefore {
		e.event(ctx, nr.Name, corev1.EventTypeNormal, ReasonUncordoned, "left cordoned by noderoll: it was cordoned before the run")
		e.logf("node %s: left cordoned, as it was before the run", nr.Name)
		return nil
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
		{"pdb-overlap", false, func(ctx context.Context) (string, error) { return e.checkOverlap(ctx, b.Nodes) }},
		{"resimulation", false, func(ctx context.Context) (string, error) { return e.checkResimulation(ctx, i) }},
	} {
		var msg string
		check := func(ctx context.Context) (err error) { msg, err = g.check(ctx); return err }
		err := e.retry(ctx, check)
		started, first := e.cfg.Clock.Now(), msg
		deadline := started.Add(settle)
		for err == nil && msg != "" && g.wait && e.cfg.Clock.Now().Before(deadline) {
			select {
			case <-ctx.Done():
				return context.Cause(ctx)
			case <-e.cfg.Clock.After(e.cfg.PollInterval):
			}
			err = e.retry(ctx, check)
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

// budgetInputs is what the budget gates read: the cluster's budgets, its
// pods, and which DaemonSets of the batch's pods exist (the drain's filter).
func (e *executor) budgetInputs(ctx context.Context, nodes []string) ([]*policyv1.PodDisruptionBudget, []*corev1.Pod, func(namespace, name string) bool, error) {
	pdbs, err := e.listPDBs(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	pods, err := e.pods.List(labels.Everything())
	if err != nil {
		return nil, nil, nil, err
	}
	exists, err := e.daemonSets(ctx, pods, nodes)
	if err != nil {
		return nil, nil, nil, err
	}
	return pdbs, pods, exists, nil
}

func (e *executor) checkBudgets(ctx context.Context, nodes []string) (string, error) {
	pdbs, pods, exists, err := e.budgetInputs(ctx, nodes)
	if err != nil {
		return "", err
	}
	exhausted := plan.ExhaustedBudgets(pdbs, pods, nodes, e.p.Spec.Drain, exists)
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

// daemonSets reads the DaemonSets that own pods on the nodes, and returns
// plan.Drain's daemonSetExists over them: a DaemonSet that cannot be read
// for another reason than its absence fails the check instead of being
// taken for absent.
func (e *executor) daemonSets(ctx context.Context, pods []*corev1.Pod, nodes []string) (func(ns, name string) bool, error) {
	exists := map[string]bool{}
	for _, p := range pods {
		ref := metav1.GetControllerOf(p)
		if ref == nil || ref.Kind != "DaemonSet" || !slices.Contains(nodes, p.Spec.NodeName) {
			continue
		}
		key := p.Namespace + "/" + ref.Name
		if _, ok := exists[key]; ok {
			continue
		}
		_, err := e.client.AppsV1().DaemonSets(p.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("reading DaemonSet %s: %w", key, err)
		}
		exists[key] = err == nil
	}
	return func(ns, name string) bool { return exists[ns+"/"+name] }, nil
}

// checkOverlap fails when a pod the batch must evict is selected by more
// than one PodDisruptionBudget: the Eviction API refuses such a pod with a
// 500, however often it is asked (plan.EvictionMultiplePDBs), so the drain
// could never finish.
func (e *executor) checkOverlap(ctx context.Context, nodes []string) (string, error) {
	pdbs, pods, exists, err := e.budgetInputs(ctx, nodes)
	if err != nil {
		return "", err
	}
	var overlaps []string
	for _, p := range pods {
		if !slices.Contains(nodes, p.Spec.NodeName) || p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded ||
			p.Status.Phase == corev1.PodFailed || plan.Drain(p, e.p.Spec.Drain, exists).Action != plan.Evict {
			continue
		}
		var names []string
		for _, pdb := range pdbs {
			if plan.Selects(pdb, p) {
				names = append(names, pdb.Namespace+"/"+pdb.Name)
			}
		}
		if len(names) > 1 {
			slices.Sort(names)
			overlaps = append(overlaps, fmt.Sprintf("%s/%s on %s (%s)", p.Namespace, p.Name, p.Spec.NodeName, strings.Join(names, ", ")))
		}
	}
	if len(overlaps) == 0 {
		return "", nil
	}
	slices.Sort(overlaps)
	return "pods the batch must evict are selected by more than one PodDisruptionBudget, which the Eviction API refuses (500) however often it is asked: " +
		strings.Join(overlaps, "; "), nil
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
func prefixed(w io.Writer, prefix string) *prefixWriter {
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

// flush writes the last line, if it had no newline.
func (p *prefixWriter) flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.buf) > 0 {
		_, _ = fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.buf)
		p.buf = nil
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
