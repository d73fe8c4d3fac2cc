package scheduler

import (
	"context"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/defaultpreemption"
)

// unschedulable builds the result for a pod that fits nowhere: the
// scheduler's own message and, when the profile preempts, the victims that
// would make room and the node the pod would be nominated to.
func (s *Scheduler) unschedulable(ctx context.Context, state fwk.CycleState, pod *corev1.Pod, numNodes int, diag framework.Diagnosis) (Result, error) {
	fitErr := &framework.FitError{Pod: pod, NumAllNodes: numNodes, Diagnosis: diag}
	u := &Unschedulable{Reasons: map[string]int{}, Plugins: sets.List(diag.UnschedulablePlugins)}
	if diag.PreFilterMsg == "" {
		diag.NodeToStatus.ForEachExplicitNode(func(_ string, st *fwk.Status) {
			for _, r := range st.Reasons() {
				u.Reasons[r]++
			}
		})
		if absent := numNodes - diag.NodeToStatus.Len(); absent > 0 {
			for _, r := range diag.NodeToStatus.AbsentNodesStatus().Reasons() {
				u.Reasons[r] += absent
			}
		}
	} else {
		u.Reasons[diag.PreFilterMsg] = numNodes
	}
	res := Result{Unschedulable: u}
	victims, node, msg, err := s.preempt(ctx, state, pod, diag.NodeToStatus)
	if err != nil {
		return Result{}, err
	}
	if msg != "" {
		fitErr.Diagnosis.PostFilterMsg = msg
	}
	u.Message = fitErr.Error()
	res.Victims, res.NominatedNode = victims, node
	return res, nil
}

// preempt runs the default preemption plugin's dry run: which node, after
// evicting which lower-priority pods (PDB-respecting victims preferred), the
// pod would fit on. Nothing is evicted here; the caller decides. The message
// is the one the plugin's PostFilter would return.
func (s *Scheduler) preempt(ctx context.Context, state fwk.CycleState, pod *corev1.Pod, statuses *framework.NodeToStatus) ([]*corev1.Pod, string, string, error) {
	pl, ok := s.parts.plugins["DefaultPreemption"].(*defaultpreemption.DefaultPreemption)
	if !ok || pl.Evaluator == nil || !s.fw.HasPostFilterPlugins() {
		return nil, "", "", nil
	}
	if eligible, msg := pl.PodEligibleToPreemptOthers(ctx, pod, nil); !eligible {
		return nil, "", "preemption: " + msg, nil
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
	// Deterministic: candidates are searched from the first node by name,
	// not from a random offset.
	sort.Slice(potential, func(i, j int) bool { return potential[i].Node().Name < potential[j].Node().Name })
	// The plugin only ever evicts pods of lower priority. Where no potential
	// node holds one, its dry run finds no victims on any node; say so
	// without running it (the common case: everything at priority 0).
	prio := corev1helpers.PodPriority(pod)
	withVictims := potential[:0:0]
	for _, n := range potential {
		for _, p := range n.GetPods() {
			if corev1helpers.PodPriority(p.GetPod()) < prio {
				withVictims = append(withVictims, n)
				break
			}
		}
	}
	if len(withVictims) == 0 {
		nodeStatuses := framework.NewDefaultNodeToStatus()
		for _, n := range potential {
			nodeStatuses.Set(n.Node().Name, fwk.NewStatus(fwk.UnschedulableAndUnresolvable, "No preemption victims found for incoming pod"))
		}
		return nil, "", noCandidates(nodeStatuses), nil
	}
	pdbs, err := s.parts.informers.Policy().V1().PodDisruptionBudgets().Lister().List(labels.Everything())
	if err != nil {
		return nil, "", "", fmt.Errorf("listing PodDisruptionBudgets: %w", err)
	}
	_, numCandidates := pl.GetOffsetAndNumCandidates(int32(len(potential)))
	candidates, nodeStatuses, err := pl.Evaluator.DryRunPreemption(ctx, state.Clone(), pod, potential, pdbs, 0, numCandidates)
	if err != nil {
		return nil, "", "", fmt.Errorf("preemption dry run: %w", err)
	}
	if len(candidates) == 0 {
		return nil, "", noCandidates(nodeStatuses), nil
	}
	best := pl.Evaluator.SelectCandidate(klog.NewContext(ctx, klog.Background()), candidates)
	if best == nil || best.Name() == "" {
		return nil, "", "preemption: no candidate node for preemption", nil
	}
	victims := best.Victims().Pods
	return victims, best.Name(), fmt.Sprintf("preemption: found a potential placement for pod on node %v, preempting %d victims", best.Name(), len(victims)), nil
}
