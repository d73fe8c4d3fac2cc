package sim

import (
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"

	"github.com/noderoll/noderoll/plan"
)

// nodeRun is one node's replacement: cordon, drain, reinstall, rejoin,
// uncordon.
type nodeRun struct {
	node  *simNode
	batch *batchStats
	opts  plan.DrainOptions

	toEvict map[*simPod]bool // not evicted yet (refused so far, or not tried)
	waiting map[*simPod]bool // evicted or terminating, not gone yet
	// blockedBy names, per pod, what refused its last eviction.
	blockedBy map[*simPod]string
	// failedEvictions are the pods whose eviction failed outright (500: a
	// pod under two budgets), with the answer: as kubectl drain does, the
	// other pods are still evicted, and then the drain fails with the node
	// left cordoned.
	failedEvictions map[*simPod]string
	drainStart      time.Duration
	firstBlocked    time.Duration // -1 until a 429
	stallEnd        time.Duration
	drained         bool
	finished        bool
	stuck           bool
	// displaced are the replacements of the pods evicted from this node;
	// once the node is back, its run ends when they are Ready.
	// awaitingIdentity are StatefulSet pods evicted from it whose
	// identity the controller has not created again yet (OrderedReady):
	// the run waits for them too.
	displaced        map[*simPod]bool
	awaitingIdentity map[*simPod]bool
	awaitingReady    bool
}

func newNodeRun(n *simNode, bs *batchStats, opts plan.DrainOptions) *nodeRun {
	return &nodeRun{node: n, batch: bs, opts: opts, toEvict: map[*simPod]bool{},
		waiting: map[*simPod]bool{}, blockedBy: map[*simPod]string{}, failedEvictions: map[*simPod]string{},
		firstBlocked: -1, displaced: map[*simPod]bool{}, awaitingIdentity: map[*simPod]bool{}}
}

// startBatch cordons every node of the batch, then drains and replaces each
// on its own; done runs when all of them are back (or stuck).
func (s *Simulation) startBatch(b plan.Batch, opts plan.DrainOptions, done func()) {
	bs := &batchStats{Batch: Batch{Index: b.Index, Nodes: b.Nodes, StartSeconds: s.clk.now.Seconds()}, onDone: done}
	s.batch = bs
	s.result.Batches = append(s.result.Batches, &bs.Batch)
	for _, name := range b.Nodes {
		s.setCordon(s.nodes[name], true)
	}
	bs.Capacity = s.capacity()
	s.result.noteBatchStart(s, b)
	names := append([]string(nil), b.Nodes...)
	sort.Strings(names)
	for _, name := range names {
		nr := newNodeRun(s.nodes[name], bs, opts)
		bs.runs = append(bs.runs, nr)
		s.drain(nr)
	}
	if len(names) == 0 {
		s.finishBatch(bs)
	}
}

func (s *Simulation) setCordon(n *simNode, on bool) {
	if n.cordoned == on && n.obj.Spec.Unschedulable == on {
		return
	}
	n.cordoned = on
	obj := n.obj.DeepCopy()
	obj.Spec.Unschedulable = on
	var taints []corev1.Taint
	for _, t := range obj.Spec.Taints {
		if t.Key != corev1.TaintNodeUnschedulable {
			taints = append(taints, t)
		}
	}
	if on {
		taints = append(taints, corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule})
	}
	obj.Spec.Taints = taints
	n.obj = obj
	if n.present {
		s.sched.AddNode(obj)
	}
	if !on {
		s.clusterChanged(true, s.clusterOfNode(n.obj.Name))
	}
}

// drain applies kubectl drain's filters to the node's pods and evicts the
// ones it evicts, through the PDB check, retrying 429s.
func (s *Simulation) drain(nr *nodeRun) {
	nr.drainStart = s.clk.now
	n := nr.node
	pods := sortedPods(n.pods)
	dsExists := func(namespace, name string) bool {
		for _, w := range s.workloads {
			if w.kind == "DaemonSet" && w.namespace == namespace && w.name == name {
				return true
			}
		}
		return false
	}
	for _, p := range pods {
		if p.state == podGone {
			continue
		}
		d := plan.Drain(p.obj, nr.opts, dsExists)
		switch d.Action {
		case plan.Refuse:
			s.stick(nr, fmt.Sprintf("kubectl drain refuses %s: %s", p.key(), d.Reason))
			return
		case plan.Skip:
			continue
		}
		if d.LosesEmptyDirData {
			s.result.emptyDirLost(p, nr.batch.Index)
		}
		s.noteLocalData(p, n, nr.batch.Index)
		if p.state == podTerminating {
			nr.waiting[p] = true
			continue
		}
		nr.toEvict[p] = true
	}
	for _, p := range sortedPods(nr.toEvict) {
		s.tryEvict(nr, p)
	}
	if timeout := seconds(s.cfg.Timing.DrainTimeoutSeconds); nr.opts.TimeoutSeconds > 0 || timeout > 0 {
		if nr.opts.TimeoutSeconds > 0 {
			timeout = time.Duration(nr.opts.TimeoutSeconds) * time.Second
		}
		s.clk.retryAfter(timeout, func() {
			if !nr.drained && !nr.stuck {
				s.stick(nr, fmt.Sprintf("drain timed out after %s", timeout))
			}
		})
	}
	s.checkDrained(nr)
}

func (s *Simulation) tryEvict(nr *nodeRun, p *simPod) {
	if nr.stuck || !nr.toEvict[p] {
		return
	}
	if p.state == podGone || p.state == podTerminating {
		delete(nr.toEvict, p)
		if p.state == podTerminating {
			nr.waiting[p] = true
		}
		s.checkDrained(nr)
		return
	}
	v := s.answer(p)
	byPDB := budgetsByPDB(p)
	switch v.Result {
	case plan.EvictionAllowed:
		if s.opts.OnEviction != nil {
			live := make([]*corev1.Pod, 0, len(s.pods))
			for _, q := range s.pods {
				if q.state != podGone {
					live = append(live, q.obj)
				}
			}
			s.opts.OnEviction(s.clk.now, p.obj, live)
		}
		delete(nr.toEvict, p)
		nr.batch.Evictions++
		s.result.Summary.Evictions++
		if nr.firstBlocked >= 0 {
			nr.stallEnd = s.clk.now
		}
		nr.waiting[p] = true
		// The eviction handler marks the pod before deleting it.
		p.evictedAt = s.clk.now
		p.obj.Status.Conditions = append(p.obj.Status.Conditions, corev1.PodCondition{
			Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
			Reason: "EvictionByEvictionAPI", Message: "Eviction API: evicting",
		})
		s.terminate(p, plan.GracePeriod(p.obj, nr.opts))
	case plan.EvictionTooManyRequests:
		nr.batch.EvictionsBlocked++
		s.result.Summary.EvictionsBlocked++
		if nr.firstBlocked < 0 {
			nr.firstBlocked = s.clk.now
		}
		st := byPDB[v.PDB].status()
		nr.blockedBy[p] = fmt.Sprintf("PodDisruptionBudget/%s/%s: needs %d healthy, has %d of %d expected",
			v.PDB.Namespace, v.PDB.Name, st.DesiredHealthy, st.CurrentHealthy, st.ExpectedPods)
		s.result.notePDBBlock(v.PDB, p, nr.batch.Index)
		s.clk.retryAfter(seconds(s.cfg.Timing.EvictionRetrySeconds), func() { s.tryEvict(nr, p) })
	case plan.EvictionMultiplePDBs:
		// kubectl drain's evictPods gives up on this pod (an error that
		// is neither 429 nor NotFound), goes on with the others, and fails
		// once they are done; the node stays cordoned.
		delete(nr.toEvict, p)
		nr.failedEvictions[p] = fmt.Sprintf("eviction of %s answered 500 (PodDisruptionBudget/%s/%s): %s",
			p.key(), v.PDB.Namespace, v.PDB.Name, v.Message)
		s.checkDrained(nr)
	}
}

// answer is the API server's answer to evicting p now.
func (s *Simulation) answer(p *simPod) plan.EvictionVerdict {
	pdbs := make([]*policyv1.PodDisruptionBudget, len(p.pdbs))
	for i, b := range p.pdbs {
		pdbs[i] = b.pdb
	}
	byPDB := budgetsByPDB(p)
	return plan.AnswerEviction(p.obj, pdbs, func(pdb *policyv1.PodDisruptionBudget) plan.BudgetStatus {
		return byPDB[pdb].status()
	})
}

func budgetsByPDB(p *simPod) map[*policyv1.PodDisruptionBudget]*budget {
	m := make(map[*policyv1.PodDisruptionBudget]*budget, len(p.pdbs))
	for _, b := range p.pdbs {
		m[b.pdb] = b
	}
	return m
}

// podLeft is called when a pod being waited for by a drain is gone.
func (s *Simulation) podLeft(p *simPod) {
	for _, nr := range s.activeRuns() {
		if nr.waiting[p] {
			delete(nr.waiting, p)
			s.checkDrained(nr)
		}
	}
}

func (s *Simulation) activeRuns() []*nodeRun {
	if s.batch == nil {
		return nil
	}
	return s.batch.runs
}

func (s *Simulation) checkDrained(nr *nodeRun) {
	if nr.drained || nr.stuck || len(nr.toEvict) > 0 || len(nr.waiting) > 0 {
		return
	}
	if len(nr.failedEvictions) > 0 {
		var msgs []string
		for _, p := range sortedPods(nr.failedEvictions) {
			msgs = append(msgs, nr.failedEvictions[p])
		}
		s.stickCordoned(nr, "the drain failed: "+strings.Join(msgs, "; ")+"; kubectl drain evicted the node's other pods and leaves it cordoned")
		return
	}
	nr.drained = true
	if nr.firstBlocked >= 0 {
		stall := (nr.stallEnd - nr.firstBlocked).Seconds()
		if stall > nr.batch.PDBStallSeconds {
			nr.batch.PDBStallSeconds = stall
		}
	}
	s.reinstall(nr)
}

// reinstall takes the node out of the cluster (its DaemonSet and mirror
// pods leave with it), and brings it back Ready with the new OS image after
// the reinstall and join times; then uncordons it.
func (s *Simulation) reinstall(nr *nodeRun) {
	n := nr.node
	n.present = false
	n.daemonPods, n.mirrorPods = nil, nil
	for _, p := range sortedPods(n.pods) {
		switch {
		case p.owner != nil && p.owner.kind == "DaemonSet":
			n.daemonPods = append(n.daemonPods, p)
		case plan.IsMirrorPod(p.obj):
			n.mirrorPods = append(n.mirrorPods, p)
		}
		if p.state == podReady {
			for _, sv := range p.services {
				s.endpointChange(sv, -1)
			}
		}
		if p.owner != nil && p.owner.kind == "ReplicaSet" {
			s.recreate(p)
		} else if p.owner == nil && !plan.IsMirrorPod(p.obj) {
			s.result.lost(p)
		}
		p.state = podGone
		for _, b := range p.pdbs {
			delete(b.pods, p)
		}
		switch {
		case p.owner == nil:
		case p.owner.kind == "StatefulSet":
			s.statefulPodGone(p)
		case p.owner.kind == "Job":
			// The node is gone: the pod garbage collector deletes the pod,
			// a failure to the Job controller.
			s.jobPodFailed(p)
		}
		delete(n.pods, p)
	}
	if err := s.sched.RemoveNode(n.obj.Name); err != nil {
		s.fail(fmt.Errorf("removing node %s: %w", n.obj.Name, err))
		return
	}
	s.clk.after(s.draw(DurationReinstall, seconds(s.cfg.Timing.ReinstallSeconds))+s.draw(DurationJoin, seconds(s.cfg.Timing.JoinSeconds)), func() { s.rejoin(nr) })
}

// rejoin registers the node again, Ready, with the new OS image; the
// DaemonSet controller recreates its pods there and the kubelet its static
// pods; then the node is uncordoned.
func (s *Simulation) rejoin(nr *nodeRun) {
	n := nr.node
	obj := n.obj.DeepCopy()
	obj.Status.NodeInfo.OSImage = s.opts.NewOSImage
	if !s.cfg.nodeLabelsPreserved() {
		registerAfresh(obj)
	}
	s.joinNewCluster(n, obj)
	n.obj = obj
	n.present = true
	s.sched.AddNode(obj)
	for _, old := range n.mirrorPods {
		p := s.respawn(old, old.obj.Name)
		p.obj.Spec.NodeName = obj.Name
		if err := s.sched.AddPod(p.obj); err != nil {
			s.fail(fmt.Errorf("restoring static pod %s: %w", p.key(), err))
			return
		}
		s.bind(p, obj.Name)
	}
	for _, old := range n.daemonPods {
		old.owner.created++
		p := s.respawn(old, fmt.Sprintf("%s-nr%d", old.owner.name, old.owner.created))
		res, err := s.sched.Place(s.ctx, p.obj)
		if err != nil {
			s.fail(fmt.Errorf("placing DaemonSet pod %s: %w", p.key(), err))
			return
		}
		if res.NodeName == "" {
			s.pending[p] = true
			s.markUnschedulable(p)
			continue
		}
		s.bind(p, res.NodeName)
	}
	n.daemonPods, n.mirrorPods = nil, nil
	s.setCordon(n, false)
	nr.awaitingReady = true
	s.checkDisplacedReady(nr)
}

// checkDisplacedReady ends a node's run once every pod displaced from it
// is Ready again (or gone), as the executor waits before the next batch.
func (s *Simulation) checkDisplacedReady(nr *nodeRun) {
	if !nr.awaitingReady || nr.finished {
		return
	}
	if len(nr.awaitingIdentity) > 0 {
		return
	}
	for p := range nr.displaced {
		if p.state != podReady && p.state != podGone {
			return
		}
	}
	nr.finished = true
	s.checkBatch(nr.batch)
}

// noteDisplaced records a replacement against the run of the node its
// predecessor left.
func (s *Simulation) noteDisplaced(old, replacement *simPod) {
	awaited := old.owner != nil && plan.AwaitedAfterDrain(old.owner.kind)
	for _, nr := range s.activeRuns() {
		delete(nr.awaitingIdentity, old)
		if awaited && nr.node.obj.Name == old.obj.Spec.NodeName {
			nr.displaced[replacement] = true
		}
	}
}

// podReadyAgain tells the runs waiting for displaced pods.
func (s *Simulation) podReadyAgain(p *simPod) {
	s.migrationPodReady(p)
	for _, nr := range s.activeRuns() {
		if nr.displaced[p] {
			s.checkDisplacedReady(nr)
		}
	}
}

// giveUpWaiting ends the runs still waiting for displaced pods that
// nothing left in the simulation can place: they stay pending.
func (s *Simulation) giveUpWaiting() bool {
	gave := false
	for _, nr := range s.activeRuns() {
		if nr.awaitingReady && !nr.finished {
			nr.finished = true
			gave = true
			s.noteNeverReady(nr)
		}
	}
	if gave && s.batch != nil {
		s.checkBatch(s.batch)
	}
	return gave
}

// noteNeverReady reports a node whose displaced pods nothing left in the
// simulation can make Ready: the simulation moves on, but the executor's
// workloads-Ready gate would stop the rollout there.
func (s *Simulation) noteNeverReady(nr *nodeRun) {
	var names []string
	for p := range nr.displaced {
		if p.state != podReady && p.state != podGone {
			names = append(names, p.key())
		}
	}
	for p := range nr.awaitingIdentity {
		names = append(names, p.key()+" (not created again yet)")
	}
	if len(names) == 0 {
		return
	}
	sort.Strings(names)
	more := ""
	if len(names) > 3 {
		more = fmt.Sprintf(" and %d more", len(names)-3)
		names = names[:3]
	}
	s.result.addRisk(plan.RiskUnschedulable, plan.Critical, "Node/"+nr.node.obj.Name, nr.batch.Index,
		fmt.Sprintf("pods displaced from the node never become Ready (%s%s): the executor's workloads-Ready gate would stop the rollout after this node; the prediction goes on without them",
			strings.Join(names, ", "), more))
}

// respawn makes a new pod in an old one's place (same lineage, not a move).
func (s *Simulation) respawn(old *simPod, name string) *simPod {
	obj := old.obj.DeepCopy()
	obj.Name = name
	obj.UID = old.obj.UID + "-nr"
	obj.DeletionTimestamp = nil
	obj.Spec.NodeName = ""
	obj.Status = corev1.PodStatus{Phase: corev1.PodPending}
	obj.CreationTimestamp = s.timeAt(s.clk.now)
	p := &simPod{obj: obj, state: podPending, owner: old.owner, lineage: old.lineage, services: old.services, pdbs: old.pdbs,
		seq: s.nextSeq(), queuedAt: s.clk.now, evictedAt: -1}
	for _, b := range p.pdbs {
		b.pods[p] = true
	}
	s.pods = append(s.pods, p)
	return p
}

// stick gives up on a drain that cannot finish: the node is reported stuck
// and uncordoned, and the rollout goes on without it, so that the rest of
// the plan is still predicted. (The executor stops at such a node.)
func (s *Simulation) stick(nr *nodeRun, reason string) {
	s.giveUp(nr, reason, false)
}

// stickCordoned is stick for a drain that failed as kubectl drain fails:
// the node stays cordoned.
func (s *Simulation) stickCordoned(nr *nodeRun, reason string) {
	s.giveUp(nr, reason, true)
}

func (s *Simulation) giveUp(nr *nodeRun, reason string, cordoned bool) {
	if nr.stuck || nr.drained {
		return
	}
	nr.stuck = true
	nr.node.stuck = true
	if nr.firstBlocked >= 0 {
		stall := (s.clk.now - nr.firstBlocked).Seconds()
		if stall > nr.batch.PDBStallSeconds {
			nr.batch.PDBStallSeconds = stall
		}
	}
	var blockers []string
	for _, p := range sortedPods(nr.toEvict) {
		if b, ok := nr.blockedBy[p]; ok {
			blockers = append(blockers, fmt.Sprintf("%s (blocked by %s)", p.key(), b))
		} else {
			blockers = append(blockers, p.key())
		}
	}
	msg := reason
	if len(blockers) > 0 {
		msg += "; pods left: " + strings.Join(blockers, ", ")
	}
	s.result.stuck(nr.node.obj.Name, nr.batch.Index, msg)
	if !cordoned {
		s.setCordon(nr.node, false)
	}
	nr.finished = true
	s.checkBatch(nr.batch)
}

// anyEvictionWouldPass reports whether some refused eviction would be
// allowed now: its retry is queued, so the cluster is not stuck.
func (s *Simulation) anyEvictionWouldPass() bool {
	for _, nr := range s.activeRuns() {
		if nr.stuck || nr.drained {
			continue
		}
		for p := range nr.toEvict {
			if p.state == podGone || p.state == podTerminating {
				return true
			}
			if s.answer(p).Result == plan.EvictionAllowed {
				return true
			}
		}
	}
	return false
}

// declareStuck marks every drain still waiting on a refused eviction as
// stuck: nothing left in the simulation can ever change its budget.
func (s *Simulation) declareStuck(reason string) {
	for _, nr := range s.activeRuns() {
		if !nr.drained && !nr.stuck && len(nr.toEvict) > 0 {
			s.stick(nr, reason)
		}
	}
}

func (s *Simulation) checkBatch(bs *batchStats) {
	if bs.done {
		return
	}
	if bs.onRunDone != nil {
		bs.onRunDone()
	}
	for _, nr := range bs.runs {
		if !nr.finished {
			return
		}
	}
	s.finishBatch(bs)
}

func (s *Simulation) finishBatch(bs *batchStats) {
	bs.done = true
	bs.EndSeconds = s.clk.now.Seconds()
	s.result.Summary.PDBStallSeconds += bs.PDBStallSeconds
	bs.onDone()
}

func sortedPods[V any](set map[*simPod]V) []*simPod {
	out := make([]*simPod, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key() < out[j].key() })
	return out
}

// kubeletLabels are the node labels a kubelet (and the cloud provider)
// sets when a node registers; a reinstalled node that is not given its
// other labels again comes back with these only.
var kubeletLabels = map[string]bool{
	corev1.LabelHostname: true, corev1.LabelOSStable: true, corev1.LabelArchStable: true,
	"beta.kubernetes.io/os": true, "beta.kubernetes.io/arch": true,
	corev1.LabelInstanceTypeStable: true, corev1.LabelInstanceType: true,
	corev1.LabelTopologyZone: true, corev1.LabelTopologyRegion: true,
	corev1.LabelFailureDomainBetaZone: true, corev1.LabelFailureDomainBetaRegion: true,
	corev1.LabelWindowsBuild: true,
}

// registerAfresh makes a reinstalled node's object what it is when it
// registers again and nobody restores what was set through the API
// (Config.NodeLabelsPreserved false): the kubelet's own labels, and no
// taints.
func registerAfresh(obj *corev1.Node) {
	labels := map[string]string{}
	for k, v := range obj.Labels {
		if kubeletLabels[k] {
			labels[k] = v
		}
	}
	obj.Labels = labels
	obj.Spec.Taints = nil
}

// noteLocalData reports a pod whose data sits on a node-local
// PersistentVolume of the node being replaced: the reinstall wipes the
// disk unless it keeps it, and the pod comes back to its node (the volume
// pins it there) on whatever the disk then holds.
func (s *Simulation) noteLocalData(p *simPod, n *simNode, batch int) {
	for _, v := range p.obj.Spec.Volumes {
		if v.PersistentVolumeClaim == nil {
			continue
		}
		pv, ok := s.localClaims[p.obj.Namespace+"/"+v.PersistentVolumeClaim.ClaimName]
		if !ok {
			continue
		}
		obj := podObject(p)
		if p.owner != nil {
			obj = p.owner.object()
		}
		s.result.addRisk(plan.RiskLocalStorage, plan.High, obj, batch,
			fmt.Sprintf("%s keeps its data on the node-local PersistentVolume %s of node %s: the OS reinstall wipes it unless the reinstall keeps that disk, and the pod comes back to that node on whatever the disk then holds",
				p.key(), pv, n.obj.Name))
		return
	}
}
