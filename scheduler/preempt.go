package scheduler

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/defaultpreemption"
	"k8s.io/kubernetes/pkg/scheduler/framework/preemption"
)

// unschedulable builds the result for a pod that fits nowhere: the
// scheduler's own message and, when the profile preempts, the victims that
// would make room and the node the pod would be nominated to.
func (s *Scheduler) unschedulable(ctx context.Context, state fwk.CycleState, pod *corev1.Pod, numNodes int, diag framework.Diagnosis) (Result, error) {
	fitErr := &framework.FitError{Pod: pod, NumAllNodes: numNodes, Diagnosis: diag}
	u := &Unschedulable{Plugins: sets.List(diag.UnschedulablePlugins), fitErr: fitErr}
	res := Result{Unschedulable: u}
	victims, node, msg, err := s.preempt(ctx, state, pod, diag.NodeToStatus)
	if err != nil {
		return Result{}, err
	}
	if msg != "" {
		fitErr.Diagnosis.PostFilterMsg = msg
	}
	res.Victims, res.NominatedNode = victims, node
	return res, nil
}

// preempt runs the default preemption plugin's dry run: which node, after
// evicting which lower-priority pods (PDB-respecting victims preferred), the
// pod would fit on. Nothing is evicted here; the caller decides. The message
// is the one the plugin's PostFilter would return.
func (s *Scheduler) preempt(ctx context.Context, state fwk.CycleState, pod *corev1.Pod, statuses *framework.NodeToStatus) ([]*corev1.Pod, string, string, error) {
	pl, ok := s.parts.plugins["DefaultPreemption"].(*defaultpreemption.DefaultPreemption)
	if !ok || pl.Evaluator == nil || !s.preemptionEnabled || s.trial {
		return nil, "", "", nil
	}
	// A pod nominated by an earlier preemption does not preempt again while
	// that preemption's victims are terminating on its node.
	// It stays nominated there.
	if eligible, msg := pl.PodEligibleToPreemptOthers(ctx, pod, statuses.Get(pod.Status.NominatedNodeName)); !eligible {
		return nil, pod.Status.NominatedNodeName, "preemption: " + msg, nil
	}
	all := s.st.lists().all
	potential, err := statuses.NodesForStatusCode(storeNodeInfos{s: s.st}, fwk.Unschedulable)
	if err != nil {
		return nil, "", "", fmt.Errorf("listing nodes for preemption: %w", err)
	}
	noCandidates := func(nodeStatuses *framework.NodeToStatus) string {
		fitErr := &framework.FitError{Pod: pod, NumAllNodes: len(all), Diagnosis: framework.Diagnosis{NodeToStatus: nodeStatuses}}
		fitErr.Diagnosis.NodeToStatus.SetAbsentNodesStatus(fwk.NewStatus(fwk.UnschedulableAndUnresolvable, "Preemption is not helpful for scheduling"))
		return "preemption: " + fitErr.Error()
	}
	// The plugin only ever evicts pods of lower priority: a dry run runs
	// only on nodes holding one (none, in the common case of everything at
	// priority 0, and then the budgets are not even listed).
	prio := corev1helpers.PodPriority(pod)
	withVictims := potential[:0:0]
	for _, n := range potential {
		if s.lowestPriority(n) < prio {
			withVictims = append(withVictims, n)
		}
	}
	var pdbs []*policyv1.PodDisruptionBudget
	if len(withVictims) > 0 {
		if pdbs, err = s.parts.informers.Policy().V1().PodDisruptionBudgets().Lister().List(labels.Everything()); err != nil {
			return nil, "", "", fmt.Errorf("listing PodDisruptionBudgets: %w", err)
		}
	}
	candidates, nodeStatuses, err := s.dryRunPreemption(ctx, pl, state, pod, potential, withVictims, pdbs, prio)
	if err != nil {
		return nil, "", "", err
	}
	if len(candidates) == 0 {
		return nil, "", noCandidates(nodeStatuses), nil
	}
	best := pickCandidate(candidates)
	victims := best.Victims().Pods
	return victims, best.Name(), fmt.Sprintf("preemption: found a potential placement for pod on node %v, preempting %d victims", best.Name(), len(victims)), nil
}

// lowestPriority is the lowest priority of the pods on a node
// (math.MaxInt32 when it has none), worked out once per node generation:
// a pod that keeps failing asks for every node's on every attempt.
func (s *Scheduler) lowestPriority(n fwk.NodeInfo) int32 {
	compute := func() int32 {
		lowest := int32(math.MaxInt32)
		for _, p := range n.GetPods() {
			lowest = min(lowest, corev1helpers.PodPriority(p.GetPod()))
		}
		return lowest
	}
	slot, ok := s.st.slotOf[n.Node().Name]
	if !ok {
		return compute()
	}
	if slot >= len(s.lowest) {
		s.lowest = append(s.lowest, make([]lowestAt, slot+1-len(s.lowest))...)
	}
	e := &s.lowest[slot]
	if gen := n.GetGeneration(); e.generation != gen || gen == 0 {
		e.generation, e.priority = gen, compute()
	}
	return e.priority
}

// lowestAt is a node's lowest pod priority at a node generation.
type lowestAt struct {
	generation int64
	priority   int32
}

// budgetSelectors returns each budget's parsed selector (nil: it selects
// nothing), parsing only those not seen before.
func (s *Scheduler) budgetSelectors(pdbs []*policyv1.PodDisruptionBudget) map[*policyv1.PodDisruptionBudget]labels.Selector {
	if s.pdbSelectors == nil {
		s.pdbSelectors = map[*policyv1.PodDisruptionBudget]labels.Selector{}
	}
	for _, pdb := range pdbs {
		if _, ok := s.pdbSelectors[pdb]; ok {
			continue
		}
		var sel labels.Selector
		if parsed, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector); err == nil && !parsed.Empty() {
			sel = parsed
		}
		s.pdbSelectors[pdb] = sel
	}
	return s.pdbSelectors
}

// budgetsOn lists the budgets that select a pod the preemption could evict
// from node n: one of lower priority than prio. The plugin weighs every
// victim against every budget of its namespace, parsing the budget's
// selector each time; a budget that selects no possible victim never
// changes its answer, and leaving it out saves the parsing. Only reads
// podBudgets and nodeBudgets (filled by noteBudgetsOf): safe in parallel.
func (s *Scheduler) budgetsOn(n fwk.NodeInfo, prio int32) []*policyv1.PodDisruptionBudget {
	if slot, ok := s.st.slotOf[n.Node().Name]; ok && slot < len(s.nodeBudgets) {
		if nb := &s.nodeBudgets[slot]; nb.holds(n, prio) {
			return nb.budgets
		}
	}
	return s.budgetsOnNode(n, prio)
}

// nodeBudgets is budgetsOn's answer for one node, at a node generation
// and preemptor priority.
type nodeBudgets struct {
	generation int64
	prio       int32
	budgets    []*policyv1.PodDisruptionBudget
}

func (nb *nodeBudgets) holds(n fwk.NodeInfo, prio int32) bool {
	return nb.generation != 0 && nb.generation == n.GetGeneration() && nb.prio == prio
}

func (s *Scheduler) budgetsOnNode(n fwk.NodeInfo, prio int32) []*policyv1.PodDisruptionBudget {
	var out []*policyv1.PodDisruptionBudget
	for _, pi := range n.GetPods() {
		pod := pi.GetPod()
		if corev1helpers.PodPriority(pod) >= prio {
			continue
		}
		for _, pdb := range s.podBudgets[keyOf(pod)] {
			if !slices.Contains(out, pdb) {
				out = append(out, pdb)
			}
		}
	}
	return out
}

// podKey identifies a pod object across the scheduler's copies of it.
type podKey struct {
	namespace, name string
	uid             types.UID
}

func keyOf(pod *corev1.Pod) podKey { return podKey{pod.Namespace, pod.Name, pod.UID} }

// noteBudgetsOf records, for each lower-priority pod on the nodes not seen
// before, the budgets (of byNS, by namespace) whose selector matches it,
// and then each node's budgetsOn answer. A pod's labels and the budgets'
// selectors do not change while the scheduler runs, so a node whose
// answer was worked out at its current generation for the same priority
// is skipped: a pod that keeps failing dry-runs the same nodes again.
func (s *Scheduler) noteBudgetsOf(nodes []fwk.NodeInfo, byNS map[string][]*policyv1.PodDisruptionBudget, sels map[*policyv1.PodDisruptionBudget]labels.Selector, prio int32) {
	if s.podBudgets == nil {
		s.podBudgets = map[podKey][]*policyv1.PodDisruptionBudget{}
	}
	for _, n := range nodes {
		slot, ok := s.st.slotOf[n.Node().Name]
		if ok && slot >= len(s.nodeBudgets) {
			s.nodeBudgets = append(s.nodeBudgets, make([]nodeBudgets, slot+1-len(s.nodeBudgets))...)
		}
		if ok && s.nodeBudgets[slot].holds(n, prio) {
			continue
		}
		for _, pi := range n.GetPods() {
			pod := pi.GetPod()
			if corev1helpers.PodPriority(pod) >= prio {
				continue
			}
			if _, ok := s.podBudgets[keyOf(pod)]; ok {
				continue
			}
			var match []*policyv1.PodDisruptionBudget
			if len(pod.Labels) > 0 {
				for _, pdb := range byNS[pod.Namespace] {
					if sel := sels[pdb]; sel != nil && sel.Matches(labels.Set(pod.Labels)) {
						match = append(match, pdb)
					}
				}
			}
			s.podBudgets[keyOf(pod)] = match
		}
		if ok {
			s.nodeBudgets[slot] = nodeBudgets{generation: n.GetGeneration(), prio: prio, budgets: s.budgetsOnNode(n, prio)}
		}
	}
}

// preemptionChunk is how many nodes a dry run evaluates before it checks
// whether it has found enough candidates: upstream's default parallelism,
// fixed so that the victims do not depend on Options.Parallelism.
const preemptionChunk = 16

// dryRunPreemption is the plugin's dry run over the potential nodes that
// hold a lower-priority pod (withVictims), deterministically: in the node
// order from the first, a chunk at a time, stopping as the plugin stops — once
// it has a candidate that violates no budget and GetOffsetAndNumCandidates'
// number of candidates in all. Upstream evaluates the same rule in
// parallel from a random offset, so which candidates it finds depends on
// chance and goroutine timing; here it is the first ones in order. Each
// node's dry run is the plugin's own, given the budgets that select a pod
// on that node. The potential nodes without a lower-priority pod get the
// status upstream gives them, "No preemption victims found for incoming
// pod".
func (s *Scheduler) dryRunPreemption(ctx context.Context, pl *defaultpreemption.DefaultPreemption, state fwk.CycleState, pod *corev1.Pod,
	potential, withVictims []fwk.NodeInfo, pdbs []*policyv1.PodDisruptionBudget, prio int32) ([]preemption.Candidate, *framework.NodeToStatus, error) {
	sort.Slice(withVictims, func(i, j int) bool { return withVictims[i].Node().Name < withVictims[j].Node().Name })
	nodeStatuses := framework.NewDefaultNodeToStatus()
	has := make(map[string]bool, len(withVictims))
	for _, n := range withVictims {
		has[n.Node().Name] = true
	}
	for _, n := range potential {
		if !has[n.Node().Name] {
			nodeStatuses.Set(n.Node().Name, fwk.NewStatus(fwk.UnschedulableAndUnresolvable, "No preemption victims found for incoming pod"))
		}
	}
	if len(withVictims) == 0 {
		return nil, nodeStatuses, nil
	}
	sels := s.budgetSelectors(pdbs)
	byNS := map[string][]*policyv1.PodDisruptionBudget{}
	for _, pdb := range pdbs {
		byNS[pdb.Namespace] = append(byNS[pdb.Namespace], pdb)
	}
	type nodeRun struct {
		found    []preemption.Candidate
		statuses *framework.NodeToStatus
		err      error
	}
	_, want := pl.GetOffsetAndNumCandidates(int32(len(potential)))
	refreshed := map[*policyv1.PodDisruptionBudget]bool{}
	var candidates []preemption.Candidate
	nonViolating := 0
	for start := 0; start < len(withVictims); start += preemptionChunk {
		part := withVictims[start:min(start+preemptionChunk, len(withVictims))]
		runs := make([]nodeRun, len(part))
		s.noteBudgetsOf(part, byNS, sels, prio)
		s.refreshBudgets(part, prio, refreshed)
		s.preemptionPar.Until(ctx, len(part), func(i int) {
			n := part[i]
			r := &runs[i]
			r.found, r.statuses, r.err = pl.Evaluator.DryRunPreemption(ctx, state.Clone(), pod, []fwk.NodeInfo{n}, s.budgetsOn(n, prio), 0, 1)
		}, "Preemption")
		for _, r := range runs {
			if r.err != nil {
				return nil, nil, fmt.Errorf("preemption dry run: %w", r.err)
			}
			r.statuses.ForEachExplicitNode(func(name string, st *fwk.Status) { nodeStatuses.Set(name, st) })
			for _, c := range r.found {
				if c.Victims().NumPDBViolations == 0 {
					nonViolating++
				}
			}
			candidates = append(candidates, r.found...)
		}
		if nonViolating > 0 && len(candidates) >= int(want) {
			break
		}
	}
	return candidates, nodeStatuses, nil
}

// refreshBudgets sets, once per dry run, the live status of each budget
// that selects a possible victim on the nodes (Options.BudgetStatus). The
// budgets are the scheduler's own copies, read by the dry run only after
// this.
func (s *Scheduler) refreshBudgets(nodes []fwk.NodeInfo, prio int32, refreshed map[*policyv1.PodDisruptionBudget]bool) {
	if s.opts.BudgetStatus == nil {
		return
	}
	for _, n := range nodes {
		for _, pdb := range s.budgetsOn(n, prio) {
			if !refreshed[pdb] {
				refreshed[pdb] = true
				pdb.Status = s.opts.BudgetStatus(pdb)
			}
		}
	}
}

// pickCandidate chooses among preemption candidates by the evaluator's
// default rules, in their order — fewest PDB violations, lowest highest
// victim priority, lowest sum of victim priorities, fewest victims, latest
// earliest victim start time — and then, where upstream takes whichever
// node a map yields first, by node name, so that a run is reproducible.
func pickCandidate(candidates []preemption.Candidate) preemption.Candidate {
	type key struct {
		pdb, highest, sum, pods, start int64
		name                           string
	}
	keyOf := func(c preemption.Candidate) key {
		v := c.Victims()
		k := key{pdb: v.NumPDBViolations, pods: int64(len(v.Pods)), name: c.Name(), start: math.MinInt64}
		for i, p := range v.Pods {
			prio := int64(corev1helpers.PodPriority(p))
			if i == 0 || prio > k.highest {
				k.highest = prio
			}
			k.sum += prio + int64(math.MaxInt32+1)
		}
		// Later is better: the key is the negated earliest start. A victim
		// without a start time counts as starting now (as upstream assumes),
		// which is later than any recorded start.
		for _, p := range v.Pods {
			if t := p.Status.StartTime; t != nil && -t.UnixNano() > k.start {
				k.start = -t.UnixNano()
			}
		}
		return k
	}
	less := func(a, b key) bool {
		for _, d := range [][2]int64{{a.pdb, b.pdb}, {a.highest, b.highest}, {a.sum, b.sum}, {a.pods, b.pods}, {a.start, b.start}} {
			if d[0] != d[1] {
				return d[0] < d[1]
			}
		}
		return a.name < b.name
	}
	best, bestKey := candidates[0], keyOf(candidates[0])
	for _, c := range candidates[1:] {
		if k := keyOf(c); less(k, bestKey) {
			best, bestKey = c, k
		}
	}
	return best
}
