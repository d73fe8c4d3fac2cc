package scheduler

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework"
)

// nominator holds the pods nominated to a node by an earlier preemption,
// as the scheduling queue's nominator does: while a nominated pod waits
// for its victims to leave, the framework's RunFilterPluginsWithNominatedPods
// counts it on its node against every pod of lower or equal priority, so
// that the room the victims free is kept for it.
//
// The caller (the simulator, through Scheduler.Nominate) says which pods
// are nominated; the framework reads them through fwk.PodNominator.
type nominator struct {
	byNode map[string][]fwk.PodInfo
	nodeOf map[podKey]string
}

func newNominator() *nominator {
	return &nominator{byNode: map[string][]fwk.PodInfo{}, nodeOf: map[podKey]string{}}
}

// set nominates pod to node, or clears its nomination when node is "".
func (n *nominator) set(pod *corev1.Pod, node string) {
	key := keyOf(pod)
	if old, ok := n.nodeOf[key]; ok {
		n.byNode[old] = slices.DeleteFunc(slices.Clone(n.byNode[old]), func(pi fwk.PodInfo) bool { return keyOf(pi.GetPod()) == key })
		if len(n.byNode[old]) == 0 {
			delete(n.byNode, old)
		}
		delete(n.nodeOf, key)
	}
	if node == "" {
		return
	}
	pi, err := framework.NewPodInfo(pod)
	if err != nil {
		// Unreachable for a pod the scheduler accepted; without its
		// PodInfo the pod simply holds no room.
		return
	}
	n.nodeOf[key] = node
	n.byNode[node] = append(slices.Clone(n.byNode[node]), pi)
}

// holds reports whether a pod nominated to node would count against pod
// there: one of equal or higher priority and another UID, as the
// framework's RunFilterPluginsWithNominatedPods decides.
func (n *nominator) holds(node string, pod *corev1.Pod) bool {
	if len(n.byNode) == 0 {
		return false
	}
	prio := corev1helpers.PodPriority(pod)
	for _, pi := range n.byNode[node] {
		if p := pi.GetPod(); p.UID != pod.UID && corev1helpers.PodPriority(p) >= prio {
			return true
		}
	}
	return false
}

// The fwk.PodNominator methods the framework calls. Nominations change only
// through set: the framework's own calls (from a scheduling queue this
// package does not run) are ignored.
func (n *nominator) AddNominatedPod(klog.Logger, fwk.PodInfo, *fwk.NominatingInfo) {}
func (n *nominator) DeleteNominatedPodIfExists(*corev1.Pod)                        {}
func (n *nominator) UpdateNominatedPod(klog.Logger, *corev1.Pod, fwk.PodInfo)      {}
func (n *nominator) NominatedPodsForNode(node string) []fwk.PodInfo                { return n.byNode[node] }
