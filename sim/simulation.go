package sim

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/noderoll/noderoll/plan"
	"github.com/noderoll/noderoll/scheduler"
	"github.com/noderoll/noderoll/snapshot"
)

// Options are a run's inputs besides the snapshot and the plan.
type Options struct {
	Config Config
	// Scheduler configures placement (profile file, seed).
	Scheduler scheduler.Options
	// NewOSImage is what reinstalled nodes report as status.nodeInfo.osImage.
	NewOSImage string
	// Progress, when set, is called after each batch.
	Progress func(done, total int)
	// OnEviction, when set, is called for every eviction the API server
	// allows, before the pod starts terminating, with the virtual time, the
	// evicted pod and every pod not yet gone. For tests; it must not modify
	// them.
	OnEviction func(at time.Duration, evicted *corev1.Pod, live []*corev1.Pod)
	// Durations, when set, draws each duration the simulator waits (kind
	// is one of the Duration* constants; median is the configured value);
	// nil means every duration is its configured value. Monte Carlo runs
	// set it (analysis.MonteCarlo).
	Durations func(kind string, median time.Duration) time.Duration
}

// Simulation is one run of a plan over an in-memory cluster. It is built by
// Run and not reused.
type Simulation struct {
	ctx   context.Context
	opts  Options
	cfg   Config
	clk   clock
	sched *scheduler.Scheduler
	epoch time.Time // the snapshot's time: virtual time 0

	nodes map[string]*simNode
	// pods are the live pods and those gone since the last forgetGone, in
	// creation order; podsKept is len(pods) after it.
	pods      []*simPod
	podsKept  int
	churned   []*lineage // the lineages moved more than once
	workloads map[types.UID]*workload
	services  []*service
	budgets   []*budget
	// budgetByKey finds a budget by namespace/name (the scheduler's copies
	// of the objects are not the simulation's).
	budgetByKey map[string]*budget
	// localClaims maps the claims (namespace/name) bound to node-local
	// PersistentVolumes to the volume's name.
	localClaims map[string]string
	pending     map[*simPod]bool
	seq         int

	retryQueued bool
	// changes and nodeChanges count the cluster events that move
	// unschedulable pods back to the scheduling queue (any, and those of a
	// node); passAt holds the instants a pass is queued at for pods whose
	// backoff ends then.
	changes, nodeChanges [2]uint64 // by cluster (clusterOld, clusterNew)
	passAt               map[time.Duration]bool
	batch                *batchStats   // the batch in progress
	mig                  *migrationRun // the migration in progress, if the plan is one
	// extraMachines counts machines added for the rollout (surge, seed).
	extraMachines int
	// assumed are the controllers the snapshot lacks, modelled by the
	// configuration (assumeControllers).
	assumed []*workload
	result  *Result
	err     error
	tl      timeline // see timeline.go
}

// Run simulates plan p on the cluster in snap and returns the predicted
// outcome. The same inputs give the same result.
func Run(ctx context.Context, snap *snapshot.Snapshot, p *plan.Plan, opts Options) (*Result, error) {
	cfg := opts.Config
	if cfg.Timing.EvictionRetrySeconds == 0 {
		cfg = DefaultConfig()
	}
	if err := cfg.compile("config"); err != nil {
		return nil, err
	}
	if opts.NewOSImage == "" {
		opts.NewOSImage = p.Spec.Gates.ExpectedOSImage
	}
	if opts.NewOSImage == "" {
		opts.NewOSImage = "reinstalled by noderoll"
	}
	s := &Simulation{ctx: ctx, opts: opts, cfg: cfg, pending: map[*simPod]bool{}, epoch: snap.TakenAt.Time}
	if err := s.index(snap); err != nil {
		return nil, err
	}
	for _, b := range p.Spec.Batches {
		for _, name := range b.Nodes {
			if s.nodes[name] == nil {
				return nil, fmt.Errorf("plan batch %d: node %q is not in the snapshot", b.Index, name)
			}
		}
	}
	schedOpts := opts.Scheduler
	schedOpts.BudgetStatus = s.budgetStatus
	sched, err := scheduler.New(ctx, snap, schedOpts)
	if err != nil {
		return nil, err
	}
	s.sched = sched
	s.result = newResult(snap, p)
	if err := s.addSurge(p.Spec.Surge); err != nil {
		return nil, err
	}
	switch {
	case p.Spec.Migration != nil:
		if err := s.runMigration(snap, p); err != nil {
			return nil, err
		}
	case p.Spec.Window > 0:
		s.runWindow(p)
	default:
		s.runBatches(p)
	}
	if s.err != nil {
		return nil, s.err
	}
	s.finish()
	s.finishExtras()
	s.result.detach()
	return s.result, nil
}

func (s *Simulation) nextSeq() int { s.seq++; return s.seq }

func (s *Simulation) fail(err error) {
	if s.err == nil {
		s.err = err
	}
}

// runBatches starts each batch when the previous one is back and soaked,
// and runs the clock until nothing is left to happen.
func (s *Simulation) runBatches(p *plan.Plan) {
	soak := seconds(s.cfg.Timing.SoakSeconds) + time.Duration(p.Spec.SoakSeconds)*time.Second
	var start func(i int)
	start = func(i int) {
		if i >= len(p.Spec.Batches) {
			return
		}
		s.cordonAhead(p, i)
		s.startBatch(p.Spec.Batches[i], p.Spec.Drain, func() {
			if s.opts.Progress != nil {
				s.opts.Progress(i+1, len(p.Spec.Batches))
			}
			s.clk.after(soak, func() { start(i + 1) })
		})
	}
	s.clk.at(0, func() { start(0) })
	for s.err == nil {
		if (s.clk.onlyRetries() || s.clk.empty()) && !s.anyEvictionWouldPass() {
			// Nothing that can change the cluster is left to happen, and
			// nothing has changed that a retry would notice.
			s.declareStuck("no eviction can ever be allowed: the blocking budgets wait on pods that cannot become Ready")
			s.giveUpWaiting()
		}
		if !s.clk.step() {
			break
		}
		s.notePendingPeak()
		s.observe()
		if err := s.ctx.Err(); err != nil {
			s.fail(err)
		}
	}
}

// --- pods ---

func (s *Simulation) timeAt(d time.Duration) metav1.Time {
	return metav1.NewTime(s.epoch.Add(d))
}

func setReady(pod *corev1.Pod, ready bool) {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == corev1.PodReady {
			pod.Status.Conditions[i].Status = st
			return
		}
	}
	pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: st})
}

// markReady: the pod passed its readiness probe.
func (s *Simulation) markReady(p *simPod) {
	if p.state != podStarting {
		return
	}
	p.state = podReady
	p.readyAt = s.clk.now
	p.obj.Status.Phase = corev1.PodRunning
	setReady(p.obj, true)
	for _, sv := range p.services {
		s.endpointChange(sv, +1)
	}
	s.podReadyAgain(p)
	if w := p.owner; w != nil && w.ordered {
		s.syncStatefulSet(w)
	}
}

// terminate starts deleting a pod: it leaves its Services' endpoints at
// once, stops counting as healthy for its budgets, and is gone after its
// termination time. What its controller does about it is decided here too.
func (s *Simulation) terminate(p *simPod, grace time.Duration) {
	if p.state == podTerminating || p.state == podGone {
		return
	}
	wasReady := p.state == podReady
	wasPending := p.state == podPending
	s.startTerminating(p, s.timeAt(s.clk.now))
	if wasPending {
		s.unpend(p)
		p.state = podGone
		s.afterGone(p)
		return
	}
	p.state = podTerminating
	setReady(p.obj, false)
	if wasReady {
		for _, sv := range p.services {
			s.endpointChange(sv, -1)
		}
	}
	s.replaceOnTerminating(p)
	s.clk.after(s.draw(DurationTermination, s.cfg.termination(p.obj, grace)), func() { s.gone(p) })
}

// forgetGone drops the pods that are gone from s.pods once they have
// doubled it since the last time: nothing reads a gone pod again, and a
// long run replaces most pods several times (each replacement a whole pod
// object, which the garbage collector would otherwise scan to the end).
// Called at the start of a scheduling pass, never inside a loop over
// s.pods.
func (s *Simulation) forgetGone() {
	if len(s.pods) < 2*max(s.podsKept, 1024) {
		return
	}
	tl := &s.tl
	kept := s.pods[:0]
	req := tl.req[:0]
	for i, p := range s.pods {
		if p.state == podGone {
			if s.mig != nil {
				delete(s.mig.isCopy, p)
			}
			continue
		}
		kept = append(kept, p)
		if i < len(tl.req) {
			req = append(req, tl.req[i])
		}
	}
	clear(s.pods[len(kept):])
	s.pods, tl.req, s.podsKept = kept, req, len(kept)
}

// startTerminating sets a pod's deletionTimestamp and, for a bound pod,
// passes it (and the pod's conditions) on to the scheduler's copy, as the
// API server's update reaches the scheduler's cache: topology spreading
// stops counting the pod. The copy is shallow: the scheduler reads only
// metadata, spec and the conditions set before the call.
func (s *Simulation) startTerminating(p *simPod, now metav1.Time) {
	p.obj.DeletionTimestamp = &now
	if p.state != podStarting && p.state != podReady {
		return
	}
	n := s.nodes[p.obj.Spec.NodeName]
	if n == nil || !n.present {
		return
	}
	seen := *p.obj
	seen.Status.Conditions = slices.Clone(p.obj.Status.Conditions)
	if err := s.sched.UpdatePod(&seen); err != nil {
		s.fail(fmt.Errorf("marking %s terminating in the scheduler: %w", p.key(), err))
	}
}

// gone: the pod object is deleted; its node's resources are free.
func (s *Simulation) gone(p *simPod) {
	if p.state == podGone {
		return
	}
	p.state = podGone
	if n := s.nodes[p.obj.Spec.NodeName]; n != nil {
		delete(n.pods, p)
		if n.present {
			if err := s.sched.RemovePod(p.obj); err != nil {
				s.fail(fmt.Errorf("removing %s from the scheduler: %w", p.key(), err))
			}
		}
	}
	s.afterGone(p)
	s.podLeft(p)
	s.clusterChanged(false, s.clusterOfNode(p.obj.Spec.NodeName))
}

func (s *Simulation) afterGone(p *simPod) {
	for _, b := range p.pdbs {
		delete(b.pods, p)
	}
	switch {
	case p.owner == nil:
	case p.owner.kind == "StatefulSet":
		s.statefulPodGone(p)
	case p.owner.kind == "Job" && p.owner.job.onlyFailed:
		s.jobPodFailed(p)
	}
}

// replaceOnTerminating is the controllers' reaction to a pod starting to
// terminate: a ReplicaSet creates the replacement at once; a Job counts a
// failure and replaces the pod after its back-off (with
// podReplacementPolicy Failed, once the pod is gone); a StatefulSet waits
// for the pod to be gone; a DaemonSet pod leaves with its node; a bare pod
// is lost.
func (s *Simulation) replaceOnTerminating(p *simPod) {
	switch {
	case p.owner == nil:
		s.result.lost(p)
	case p.owner.kind == "ReplicaSet":
		s.recreate(p)
	case p.owner.kind == "Job":
		s.result.Summary.LostJobPodSeconds += (s.clk.now - p.startedAt + s.runningBefore(p)).Seconds()
		if !p.owner.job.onlyFailed {
			s.jobPodFailed(p)
		}
	}
}

// runningBefore is how long a pod had run when the snapshot was taken.
func (s *Simulation) runningBefore(p *simPod) time.Duration {
	if p.startedAt != 0 || p.obj.Status.StartTime == nil || s.epoch.IsZero() {
		return 0
	}
	if d := s.epoch.Sub(p.obj.Status.StartTime.Time); d > 0 {
		return d
	}
	return 0
}

// recreate makes the pod's replacement: the same identity for a
// StatefulSet, a new name otherwise; the same lineage, Services and
// budgets; unbound and pending.
func (s *Simulation) recreate(old *simPod) {
	w := old.owner
	obj := old.obj.DeepCopy()
	obj.ResourceVersion = ""
	obj.DeletionTimestamp = nil
	obj.Status = corev1.PodStatus{Phase: corev1.PodPending}
	if w.kind != "StatefulSet" {
		w.created++
		obj.Name = fmt.Sprintf("%s-nr%d", w.name, w.created)
		obj.Spec.NodeName = ""
	} else {
		obj.Spec.NodeName = ""
	}
	obj.UID = types.UID(fmt.Sprintf("%s-r%d", old.lineage.uid, s.seq+1))
	now := s.timeAt(s.clk.now)
	obj.CreationTimestamp = now
	p := &simPod{obj: obj, state: podPending, owner: w, lineage: old.lineage, services: old.services, pdbs: old.pdbs,
		seq: s.nextSeq(), queuedAt: s.clk.now, evictedAt: -1}
	for _, b := range p.pdbs {
		b.pods[p] = true
	}
	if w.members != nil {
		w.members[p] = true
	}
	s.pods = append(s.pods, p)
	s.pending[p] = true
	s.noteDisplaced(old, p)
	s.noteMovedOut(old)
	s.clusterChanged(false, s.clusterOfNode(old.obj.Spec.NodeName))
}

func (s *Simulation) noteMovedOut(old *simPod) {
	old.lineage.moves++
	if old.lineage.moves > s.result.Summary.PodMovesMax {
		s.result.Summary.PodMovesMax = old.lineage.moves
	}
	if old.lineage.moves == 2 {
		s.result.Summary.PodsMovedMoreThanOnce++
		s.churned = append(s.churned, old.lineage)
	}
}

// clusterChanged asks for the pending pods to be retried once the events of
// this instant have run, as the scheduling queue moves unschedulable pods
// back on a cluster event. nodeEvent says a node was added or became
// schedulable: only such an event can help a pod that only node-level
// plugins rejected (see nodeOnlyPlugins), as the scheduler's queueing hints
// decide.
//
// In a migration the old and the new cluster each have their own
// scheduler and queue: an event on a node (or of a pod on a node) of one
// cluster moves back only that cluster's pods: cluster is where the event
// happened (clusterOld outside a migration).
func (s *Simulation) clusterChanged(nodeEvent bool, cluster int) {
	s.changes[cluster]++
	if nodeEvent {
		s.nodeChanges[cluster]++
	}
	if s.retryQueued || len(s.pending) == 0 {
		return
	}
	s.retryQueued = true
	s.clk.after(0, s.schedulePending)
}

// nodeOnlyPlugins reject a pod for what a node is (its labels, taints,
// unschedulable flag, volumes' topology), never for the pods on it: a pod
// rejected by these alone waits for a node event.
var nodeOnlyPlugins = map[string]bool{
	"NodeAffinity": true, "NodeName": true, "NodeUnschedulable": true,
	"TaintToleration": true, "VolumeBinding": true, "VolumeZone": true,
}

func waitsForNode(res scheduler.Result) bool {
	if res.Unschedulable == nil || len(res.Unschedulable.Plugins) == 0 || len(res.Victims) > 0 {
		return false
	}
	for _, p := range res.Unschedulable.Plugins {
		if !nodeOnlyPlugins[p] {
			return false
		}
	}
	return true
}

// schedulePending tries the pending pods the scheduling queue would pop
// now, in its order (queuedBefore): new pods, and pods that failed
// before, a cluster event has moved back to the queue since (a node event
// for a pod only node-level plugins rejected), and whose backoff is over.
// The backoff is kube-scheduler's: 1 s after the first failed attempt,
// doubling up to 10 s; a pod moved back while backing off is tried when
// its backoff ends. Once a pod of a workload failed and nothing was placed
// since, its siblings would fail the same way: they count a failed attempt
// without being tried again in this pass.
func (s *Simulation) schedulePending() {
	s.retryQueued = false
	s.forgetGone()
	now := s.clk.now
	queue := make([]*simPod, 0, len(s.pending))
	for p := range s.pending {
		if s.requeued(p) {
			queue = append(queue, p)
		}
	}
	sort.Slice(queue, func(i, j int) bool { return queuedBefore(queue[i], queue[j]) })
	failed := map[types.UID]bool{}
	next := time.Duration(-1)
	for _, p := range queue {
		if s.err != nil {
			return
		}
		if p.backoffUntil > now {
			if next < 0 || p.backoffUntil < next {
				next = p.backoffUntil
			}
			continue
		}
		key := p.obj.UID
		if p.owner != nil && p.owner.kind != "StatefulSet" {
			key = p.owner.uid
		}
		if failed[key] {
			s.failedAttempt(p)
			continue
		}
		res, err := s.sched.Place(s.ctx, p.obj)
		if err != nil {
			s.fail(fmt.Errorf("scheduling %s: %w", p.key(), err))
			return
		}
		if res.NodeName == "" {
			failed[key] = true
			p.waitsForNode = waitsForNode(res)
			s.failedAttempt(p)
			s.nominate(p, res.NominatedNode)
			s.preempt(p, res)
			continue
		}
		clear(failed)
		s.bind(p, res.NodeName)
	}
	if next >= 0 && !s.passAt[next] {
		if s.passAt == nil {
			s.passAt = map[time.Duration]bool{}
		}
		s.passAt[next] = true
		s.clk.at(next, func() {
			delete(s.passAt, next)
			s.schedulePending()
		})
	}
}

// queuedBefore is the scheduling queue's order (the PrioritySort plugin's
// Less): higher priority first, then the pod that entered the queue
// earlier — its creation, or its last failed attempt, which puts it back
// with a new timestamp — and creation order between equals.
func queuedBefore(a, b *simPod) bool {
	if pa, pb := priority(a.obj), priority(b.obj); pa != pb {
		return pa > pb
	}
	if a.queuedAt != b.queuedAt {
		return a.queuedAt < b.queuedAt
	}
	return a.seq < b.seq
}

// requeued reports whether the scheduling queue holds p (rather than its
// unschedulable pods): it never failed, or a cluster event that can help
// it came after its last failure.
func (s *Simulation) requeued(p *simPod) bool {
	switch {
	case p.attempts == 0:
		return true
	case p.waitsForNode:
		return s.nodeChanges[s.clusterOfPod(p)] > p.nodeChangesAtFail
	default:
		return s.changes[s.clusterOfPod(p)] > p.changesAtFail
	}
}

// Clusters, for the scheduling queue's events: the only one, or in a
// migration the old one, and the new one.
const (
	clusterOld = 0
	clusterNew = 1
)

// clusterOfNode is the cluster a node belongs to.
func (s *Simulation) clusterOfNode(name string) int {
	if s.mig == nil {
		return clusterOld
	}
	if n := s.nodes[name]; n != nil && isNewNode(n) {
		return clusterNew
	}
	return clusterOld
}

// clusterOfPod is the cluster whose scheduler places p: the new one for
// the workloads created there (they select its nodes).
func (s *Simulation) clusterOfPod(p *simPod) int {
	if s.mig != nil && p.obj.Spec.NodeSelector[plan.ClusterLabel] == plan.ClusterNew {
		return clusterNew
	}
	return clusterOld
}

// Kube-scheduler's default pod backoff: podInitialBackoffSeconds and
// podMaxBackoffSeconds.
const (
	initialBackoff = time.Second
	maxBackoff     = 10 * time.Second
)

// failedAttempt records a failed scheduling attempt of p: it waits for
// the next cluster event, and then for its backoff.
func (s *Simulation) failedAttempt(p *simPod) {
	p.attempts++
	p.queuedAt = s.clk.now
	c := s.clusterOfPod(p)
	p.changesAtFail, p.nodeChangesAtFail = s.changes[c], s.nodeChanges[c]
	backoff := initialBackoff
	for i := 1; i < p.attempts && backoff < maxBackoff; i++ {
		backoff *= 2
	}
	p.backoffUntil = s.clk.now + min(backoff, maxBackoff)
	s.markUnschedulable(p)
}

// notePendingPeak records the pods waiting for a node in the batch's
// pending peak once every event of the instant has run, the scheduling
// pass included: a replacement placed at the instant it was created never
// waited (the live scheduler binds it within milliseconds, and the
// executor, sampling the cluster every poll interval, does not see it).
func (s *Simulation) notePendingPeak() {
	if s.batch == nil || (len(s.clk.q) > 0 && s.clk.q[0].at == s.clk.now) {
		return
	}
	s.batch.notePending(len(s.pending))
}

func (s *Simulation) markUnschedulable(p *simPod) {
	if !p.failedOnce {
		p.failedOnce = true
		s.result.Summary.UnschedulablePods++
		if s.batch != nil {
			s.batch.Unschedulable++
		}
		s.result.noteUnschedulable(p, s.batchIndex())
	}
}

func (s *Simulation) batchIndex() int {
	if s.batch == nil {
		return -1
	}
	return s.batch.Index
}

// bind places a pending pod on a node; it is Ready after its start-up time.
// Until then it stays in phase Pending (image pull, containers starting),
// so that an eviction deletes it without consulting any budget, as the
// eviction handler does for a Pending pod.
func (s *Simulation) bind(p *simPod, node string) {
	s.unpend(p)
	p.obj.Spec.NodeName = node
	p.obj.Status.Phase = corev1.PodPending
	start := s.timeAt(s.clk.now)
	p.obj.Status.StartTime = &start
	p.state = podStarting
	p.startedAt = s.clk.now
	if n := s.nodes[node]; n != nil {
		n.pods[p] = true
	}
	var ann map[string]string
	if p.owner != nil {
		ann = p.owner.annotations
	}
	s.clk.after(s.draw(DurationPodStartup, s.cfg.startup(p.obj, ann)), func() { s.markReady(p) })
}

// unpend takes a pod out of the scheduling queue (it is bound, or deleted
// while it waited): it is nominated nowhere any more.
func (s *Simulation) unpend(p *simPod) {
	delete(s.pending, p)
	s.nominate(p, "")
}

// nominate records the node a pending pod is nominated to ("" clears it),
// as kube-scheduler writes it to the pod's status: the pod's preemption
// made room there. The scheduler then holds that room for the pod against
// pods of lower or equal priority, and the pod does not preempt again
// while its victims terminate.
func (s *Simulation) nominate(p *simPod, node string) {
	if p.obj.Status.NominatedNodeName == node {
		return
	}
	p.obj.Status.NominatedNodeName = node
	s.sched.Nominate(p.obj, node)
}

// preempt evicts the victims the scheduler's preemption chose; the pod
// stays pending, nominated to their node, until they are gone.
func (s *Simulation) preempt(p *simPod, res scheduler.Result) {
	if len(res.Victims) == 0 {
		return
	}
	// The scheduler marks each victim with the DisruptionTarget condition
	// before deleting it.
	for _, v := range res.Victims {
		// A victim already on its way out is not deleted again.
		if vp := s.findPod(v.Namespace, v.Name, v.Spec.NodeName); vp != nil && (vp.state == podStarting || vp.state == podReady) {
			s.result.Summary.PreemptedPods++
			vp.obj.Status.Conditions = append(vp.obj.Status.Conditions, corev1.PodCondition{
				Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
				Reason: corev1.PodReasonPreemptionByScheduler, Message: "preempted by " + p.key(),
			})
			s.terminate(vp, plan.GracePeriod(vp.obj, plan.DrainOptions{}))
		}
	}
}

// budgetStatus is a budget's status as the disruption controller
// publishes it now, for the scheduler's preemption: the counts of
// budget.status, and in disruptedPods the pods evicted less than two
// minutes ago that are not gone yet (the eviction handler records them;
// the controller forgets them once they are deleted, or after
// DeletionTimeout).
func (s *Simulation) budgetStatus(pdb *policyv1.PodDisruptionBudget) policyv1.PodDisruptionBudgetStatus {
	b := s.budgetByKey[pdb.Namespace+"/"+pdb.Name]
	if b == nil {
		return pdb.Status
	}
	st := b.status()
	out := policyv1.PodDisruptionBudgetStatus{ObservedGeneration: pdb.Generation, DisruptionsAllowed: st.DisruptionsAllowed,
		CurrentHealthy: st.CurrentHealthy, DesiredHealthy: st.DesiredHealthy, ExpectedPods: st.ExpectedPods}
	for p := range b.pods {
		if p.state == podTerminating && p.evictedAt >= 0 && s.clk.now-p.evictedAt < plan.DisruptedPodMemory {
			if out.DisruptedPods == nil {
				out.DisruptedPods = map[string]metav1.Time{}
			}
			out.DisruptedPods[p.obj.Name] = s.timeAt(p.evictedAt)
		}
	}
	return out
}

func (s *Simulation) findPod(namespace, name, node string) *simPod {
	if n := s.nodes[node]; n != nil {
		for p := range n.pods {
			if p.obj.Namespace == namespace && p.obj.Name == name {
				return p
			}
		}
	}
	return nil
}

func priority(p *corev1.Pod) int32 {
	if p.Spec.Priority != nil {
		return *p.Spec.Priority
	}
	return 0
}

// endpointChange moves a Service's ready endpoint count and its degraded
// and outage clocks.
func (s *Simulation) endpointChange(sv *service, delta int) {
	sv.ready += delta
	if sv.ready < sv.minReady {
		sv.minReady = sv.ready
	}
	if sv.desired == 0 {
		return
	}
	now := s.clk.now
	degraded := float64(sv.ready) < s.cfg.DegradedBelow*float64(sv.desired)
	down := sv.ready <= 0
	switch {
	case degraded && sv.degradedSince < 0:
		sv.degradedSince, sv.everDegraded = now, true
		sv.batches[s.batchIndex()] = true
	case !degraded && sv.degradedSince >= 0:
		sv.degradedFor += now - sv.degradedSince
		sv.degradedSince = -1
	}
	switch {
	case down && sv.downSince < 0:
		sv.downSince, sv.everDown = now, true
		sv.batches[s.batchIndex()] = true
	case !down && sv.downSince >= 0:
		sv.downFor += now - sv.downSince
		sv.downSince = -1
	}
}
