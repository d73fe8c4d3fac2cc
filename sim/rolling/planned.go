package rolling

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/noderoll/noderoll/plan"
	"github.com/noderoll/noderoll/snapshot"
)

// The PDB-aware planner (--order planned) puts nodes in batches so that a
// batch takes as few pods of one disruption group at once as the group can
// lose. A group is a PodDisruptionBudget (it can lose what its budget
// allows), or a controller with two or more pods and no PDB (it can lose all
// but one pod: the batch must not take every replica, AllReplicasInBatch).
//
// A group's allowance is computed from the snapshot's pods as the
// disruption controller would with every pod healthy: maxUnavailable as
// given (a percentage of the group's pods, rounded up); minAvailable as the
// group's pods less the minimum (a percentage rounded up, as Kubernetes
// rounds it). A budget that allows nothing is counted as allowing one: no
// batching can drain its pods without a stall, and spreading them over as
// many batches as possible keeps each stall to one pod.
//
// The packing is greedy and deterministic: nodes with the most grouped
// pods first (then by name), each into the batch where it adds the least
// overload (pods of a group beyond its allowance), then the batch with the
// fewest nodes, then the earliest batch. Batches keep the requested size;
// the last one takes the remainder.

// planBatches returns the nodes in batches of at most size, PDB-aware.
func planBatches(snap *snapshot.Snapshot, nodes []*corev1.Node, size int) [][]*corev1.Node {
	if len(nodes) == 0 {
		return nil
	}
	groups := disruptionGroups(snap)
	nBatches := (len(nodes) + size - 1) / size
	capacity := make([]int, nBatches)
	for i := range capacity {
		capacity[i] = size
	}
	// The last batch takes the remainder, as the other orders do.
	if r := len(nodes) % size; r != 0 {
		capacity[nBatches-1] = r
	}

	type nodeLoad struct {
		node   *corev1.Node
		counts map[int]int // group index -> pods of the group on the node
		total  int
	}
	loads := make([]nodeLoad, len(nodes))
	byNode := map[string]*nodeLoad{}
	for i, n := range nodes {
		loads[i] = nodeLoad{node: n, counts: map[int]int{}}
		byNode[n.Name] = &loads[i]
	}
	for gi, g := range groups {
		for _, nodeName := range g.podNodes {
			if l, ok := byNode[nodeName]; ok {
				l.counts[gi]++
				l.total++
			}
		}
	}
	sort.SliceStable(loads, func(i, j int) bool {
		if loads[i].total != loads[j].total {
			return loads[i].total > loads[j].total
		}
		return loads[i].node.Name < loads[j].node.Name
	})

	inBatch := make([]map[int]int, nBatches) // batch -> group -> pods taken
	members := make([][]*corev1.Node, nBatches)
	for b := range inBatch {
		inBatch[b] = map[int]int{}
	}
	for _, l := range loads {
		best, bestCost := -1, 0
		for b := range nBatches {
			if len(members[b]) >= capacity[b] {
				continue
			}
			cost := 0
			for gi, c := range l.counts {
				over := inBatch[b][gi] + c - groups[gi].allowed
				prev := max(0, inBatch[b][gi]-groups[gi].allowed)
				cost += max(0, over) - prev
			}
			if best < 0 || cost < bestCost || (cost == bestCost && len(members[b]) < len(members[best])) {
				best, bestCost = b, cost
			}
		}
		members[best] = append(members[best], l.node)
		for gi, c := range l.counts {
			inBatch[best][gi] += c
		}
	}
	for _, m := range members {
		sort.Slice(m, func(i, j int) bool { return m[i].Name < m[j].Name })
	}
	return members
}

// disruptionGroup is a set of pods that can lose at most allowed at once.
type disruptionGroup struct {
	allowed  int
	podNodes []string // the node of each of the group's evictable pods
}

// disruptionGroups lists the PDBs and the controllers without a PDB, with
// the nodes of their bound, evictable pods.
func disruptionGroups(snap *snapshot.Snapshot) []disruptionGroup {
	type podRef struct {
		pod     *corev1.Pod
		covered bool
	}
	var pods []*podRef
	for i := range snap.Pods {
		p := &snap.Pods[i]
		if p.Spec.NodeName == "" || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		if ref := metav1.GetControllerOf(p); (ref != nil && ref.Kind == "DaemonSet") || plan.IsMirrorPod(p) {
			continue
		}
		pods = append(pods, &podRef{pod: p})
	}
	var groups []disruptionGroup
	for i := range snap.PodDisruptionBudgets {
		pdb := &snap.PodDisruptionBudgets[i]
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || sel.Empty() {
			continue
		}
		var g disruptionGroup
		for _, r := range pods {
			if r.pod.Namespace == pdb.Namespace && sel.Matches(labels.Set(r.pod.Labels)) {
				g.podNodes = append(g.podNodes, r.pod.Spec.NodeName)
				r.covered = true
			}
		}
		if len(g.podNodes) == 0 {
			continue
		}
		g.allowed = max(1, allowance(pdb, len(g.podNodes)))
		groups = append(groups, g)
	}
	byOwner := map[string]*disruptionGroup{}
	var owners []string
	for _, r := range pods {
		ref := metav1.GetControllerOf(r.pod)
		if r.covered || ref == nil {
			continue
		}
		key := r.pod.Namespace + "/" + ref.Kind + "/" + ref.Name
		g, ok := byOwner[key]
		if !ok {
			g = &disruptionGroup{}
			byOwner[key] = g
			owners = append(owners, key)
		}
		g.podNodes = append(g.podNodes, r.pod.Spec.NodeName)
	}
	sort.Strings(owners)
	for _, key := range owners {
		g := byOwner[key]
		if len(g.podNodes) < 2 {
			continue
		}
		g.allowed = len(g.podNodes) - 1
		groups = append(groups, *g)
	}
	return groups
}

// allowance is how many of a PDB's n healthy pods it lets go at once.
func allowance(pdb *policyv1.PodDisruptionBudget, n int) int {
	switch {
	case pdb.Spec.MaxUnavailable != nil:
		v, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MaxUnavailable, n, true)
		if err != nil {
			return 0
		}
		return v
	case pdb.Spec.MinAvailable != nil:
		v, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MinAvailable, n, true)
		if err != nil {
			return 0
		}
		return n - v
	}
	return n
}
