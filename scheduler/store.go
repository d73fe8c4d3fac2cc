package scheduler

import (
	"fmt"
	"maps"
	"slices"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework"
)

// nodeState is one node's scheduling state: the upstream NodeInfo the
// plugins read, plus the node's pods grouped by namespace and by label
// class, so that plugins which only count pods matching a selector can be
// shown just the pods that may match.
//
// A nodeState reachable from more than one layer is never mutated: the
// layer that changes it clones it first (copy-on-write). The byNamespace
// and byClass slices are never appended to in place for the same reason.
type nodeState struct {
	// slot is the node's index in every layer's nodes and in the
	// evaluation cache's entries.
	slot int
	info *framework.NodeInfo
	// object identifies the Node object info holds: a new number, from a
	// counter that never repeats, each time the node is set.
	object      int64
	byNamespace map[string][]fwk.PodInfo
	byClass     map[classID][]fwk.PodInfo
	// affinityFor holds the node's pods with (anti-)affinity terms, by each
	// namespace their terms name; affinityAnyNS those with a term that
	// selects namespaces by label, which may name any namespace.
	affinityFor   map[string][]fwk.PodInfo
	affinityAnyNS []fwk.PodInfo
}

func newNodeState(node *corev1.Node, slot int) *nodeState {
	info := framework.NewNodeInfo()
	info.SetNode(node)
	return &nodeState{slot: slot, info: info, byNamespace: map[string][]fwk.PodInfo{},
		byClass: map[classID][]fwk.PodInfo{}, affinityFor: map[string][]fwk.PodInfo{}}
}

func (n *nodeState) clone() *nodeState {
	return &nodeState{
		slot:          n.slot,
		object:        n.object,
		info:          n.info.SnapshotConcrete(),
		byNamespace:   maps.Clone(n.byNamespace),
		byClass:       maps.Clone(n.byClass),
		affinityFor:   maps.Clone(n.affinityFor),
		affinityAnyNS: n.affinityAnyNS,
	}
}

func (n *nodeState) addPod(pi fwk.PodInfo, class classID) {
	n.info.AddPodInfo(pi)
	pod := pi.GetPod()
	n.byNamespace[pod.Namespace] = appended(n.byNamespace[pod.Namespace], pi)
	n.byClass[class] = appended(n.byClass[class], pi)
	targets, anyNS := affinityTargets(pod)
	for _, ns := range targets {
		n.affinityFor[ns] = appended(n.affinityFor[ns], pi)
	}
	if anyNS {
		n.affinityAnyNS = appended(n.affinityAnyNS, pi)
	}
}

// removePod removes pod; classes gives the class of the pod as the node
// holds it (its labels then).
func (n *nodeState) removePod(pod *corev1.Pod, classes *labelClasses) error {
	if err := n.info.RemovePod(klog.Background(), pod); err != nil {
		return err
	}
	for _, p := range n.byNamespace[pod.Namespace] {
		if held := p.GetPod(); held.UID == pod.UID && held.Name == pod.Name {
			removeFrom(n.byClass, classes.of(held), pod)
			break
		}
	}
	removeFrom(n.byNamespace, pod.Namespace, pod)
	targets, anyNS := affinityTargets(pod)
	for _, ns := range targets {
		removeFrom(n.affinityFor, ns, pod)
	}
	if anyNS {
		n.affinityAnyNS = without(n.affinityAnyNS, pod)
	}
	return nil
}

// appended returns a new slice: slices shared with other layers are never
// appended to in place.
func appended(old []fwk.PodInfo, pi fwk.PodInfo) []fwk.PodInfo {
	out := make([]fwk.PodInfo, len(old), len(old)+1)
	copy(out, old)
	return append(out, pi)
}

func without(old []fwk.PodInfo, pod *corev1.Pod) []fwk.PodInfo {
	out := make([]fwk.PodInfo, 0, len(old))
	for _, p := range old {
		if p.GetPod().UID != pod.UID || p.GetPod().Name != pod.Name || p.GetPod().Namespace != pod.Namespace {
			out = append(out, p)
		}
	}
	return out
}

func removeFrom[K comparable](m map[K][]fwk.PodInfo, key K, pod *corev1.Pod) {
	if rest := without(m[key], pod); len(rest) > 0 {
		m[key] = rest
	} else {
		delete(m, key)
	}
}

// affinityTargets lists the namespaces a pod's affinity and anti-affinity
// terms name (its own when a term names none), and whether some term
// selects namespaces by label instead.
func affinityTargets(pod *corev1.Pod) (namespaces []string, anyNamespace bool) {
	return termTargets(pod.Namespace, affinityTerms(pod))
}

// termTargets is affinityTargets for the terms of a pod in namespace.
func termTargets(namespace string, terms []*corev1.PodAffinityTerm) (namespaces []string, anyNamespace bool) {
	for _, t := range terms {
		if t.NamespaceSelector != nil {
			anyNamespace = true
		}
		ns := t.Namespaces
		if len(ns) == 0 && t.NamespaceSelector == nil {
			ns = []string{namespace}
		}
		for _, n := range ns {
			if !slices.Contains(namespaces, n) {
				namespaces = append(namespaces, n)
			}
		}
	}
	return namespaces, anyNamespace
}

// affinityTerms lists every pod affinity and anti-affinity term of pod,
// required and preferred.
func affinityTerms(pod *corev1.Pod) []*corev1.PodAffinityTerm {
	a := pod.Spec.Affinity
	if a == nil {
		return nil
	}
	var terms []*corev1.PodAffinityTerm
	if pa := a.PodAffinity; pa != nil {
		for i := range pa.RequiredDuringSchedulingIgnoredDuringExecution {
			terms = append(terms, &pa.RequiredDuringSchedulingIgnoredDuringExecution[i])
		}
		for i := range pa.PreferredDuringSchedulingIgnoredDuringExecution {
			terms = append(terms, &pa.PreferredDuringSchedulingIgnoredDuringExecution[i].PodAffinityTerm)
		}
	}
	if paa := a.PodAntiAffinity; paa != nil {
		for i := range paa.RequiredDuringSchedulingIgnoredDuringExecution {
			terms = append(terms, &paa.RequiredDuringSchedulingIgnoredDuringExecution[i])
		}
		for i := range paa.PreferredDuringSchedulingIgnoredDuringExecution {
			terms = append(terms, &paa.PreferredDuringSchedulingIgnoredDuringExecution[i].PodAffinityTerm)
		}
	}
	return terms
}

// layer is one level of the fork stack. The base layer owns every node
// state; a fork starts owning none and clones a node the first time it
// changes it, so a fork costs one slice of pointers, never a copy of pods.
type layer struct {
	nodes []*nodeState // by slot; nil means no such node in this layer
	owned []bool       // nodes[i] was created by this layer and may be mutated
	lists *nodeLists   // derived lists; nil means rebuild on next use
	// tree is the nodes' order for a cycle, shared with the parent layer
	// until this layer changes it (treeOwned).
	tree      *nodeTree
	treeOwned bool
	// nextStart is where the next cycle's search for feasible nodes
	// starts in the node list (the scheduler's nextStartNodeIndex).
	nextStart int
}

// mutableTree returns the layer's node tree, cloned first if shared.
func (l *layer) mutableTree() *nodeTree {
	if !l.treeOwned {
		l.tree = l.tree.clone()
		l.treeOwned = true
	}
	return l.tree
}

// nodeLists are the derived views the framework asks for on every cycle.
type nodeLists struct {
	all, withAffinity, withRequiredAnti, withNonHostAnti []fwk.NodeInfo
	states                                               []*nodeState
}

// store holds the nodes and pods the scheduler plugins see, behind a stack
// of copy-on-write layers.
//
// Costs, with N nodes and P pods on the changed node:
//
//	operation          base layer        fork
//	Fork               -                 O(N) pointer copy
//	AddPod/RemovePod   O(P)              O(P) first change of a node in the fork (clone), then O(P)
//	Revert             -                 O(1)
//	Commit             -                 O(N)
//	List               O(N) after a change, O(1) otherwise
type store struct {
	slotOf  map[string]int
	layers  []*layer
	classes *labelClasses
}

func newStore() *store {
	return &store{slotOf: map[string]int{}, layers: []*layer{{tree: newNodeTree(), treeOwned: true}}, classes: newLabelClasses()}
}

func (s *store) top() *layer { return s.layers[len(s.layers)-1] }

// get returns the node state for name in the current layer, or nil.
func (s *store) get(name string) *nodeState {
	slot, ok := s.slotOf[name]
	if !ok {
		return nil
	}
	l := s.top()
	if slot >= len(l.nodes) {
		return nil
	}
	return l.nodes[slot]
}

// mutable returns the node state for name, cloned into the current layer if
// another layer may still see it.
func (s *store) mutable(name string) (*nodeState, error) {
	slot, ok := s.slotOf[name]
	l := s.top()
	if !ok || slot >= len(l.nodes) || l.nodes[slot] == nil {
		return nil, fmt.Errorf("node %q not found", name)
	}
	if !l.owned[slot] {
		l.nodes[slot] = l.nodes[slot].clone()
		l.owned[slot] = true
		l.lists = nil
	}
	return l.nodes[slot], nil
}

func (s *store) ensureSlot(name string) int {
	slot, ok := s.slotOf[name]
	if !ok {
		slot = len(s.slotOf)
		s.slotOf[name] = slot
	}
	l := s.top()
	for len(l.nodes) <= slot {
		l.nodes = append(l.nodes, nil)
		l.owned = append(l.owned, false)
	}
	return slot
}

// nodeObjects counts the Node objects set in any store (Schedulers run
// side by side in a comparison): nodeState.object.
var nodeObjects atomic.Int64

// setNode adds the node or replaces its object, keeping its pods.
func (s *store) setNode(node *corev1.Node) {
	slot := s.ensureSlot(node.Name)
	l := s.top()
	object := nodeObjects.Add(1)
	if l.nodes[slot] == nil {
		l.nodes[slot] = newNodeState(node, slot)
		l.mutableTree().add(node)
	} else {
		if !l.owned[slot] {
			l.nodes[slot] = l.nodes[slot].clone()
		}
		if old := l.nodes[slot].info.Node(); old != nil {
			l.mutableTree().update(old, node)
		}
		l.nodes[slot].info.SetNode(node)
	}
	l.nodes[slot].object = object
	l.owned[slot] = true
	l.lists = nil
}

// removeNode drops the node and every pod on it.
func (s *store) removeNode(name string) error {
	slot, ok := s.slotOf[name]
	l := s.top()
	if !ok || slot >= len(l.nodes) || l.nodes[slot] == nil {
		return fmt.Errorf("node %q not found", name)
	}
	l.mutableTree().remove(l.nodes[slot].info.Node())
	l.nodes[slot] = nil
	l.owned[slot] = false
	l.lists = nil
	return nil
}

func (s *store) addPod(pi fwk.PodInfo, nodeName string) error {
	n, err := s.mutable(nodeName)
	if err != nil {
		return err
	}
	class := s.classes.of(pi.GetPod())
	s.classes.noteOn(class, n.slot)
	n.addPod(pi, class)
	if hasAffinity(pi) {
		s.top().lists = nil
	}
	return nil
}

func (s *store) removePod(pod *corev1.Pod, nodeName string) error {
	n, err := s.mutable(nodeName)
	if err != nil {
		return err
	}
	if err := n.removePod(pod, s.classes); err != nil {
		return err
	}
	if pod.Spec.Affinity != nil {
		s.top().lists = nil
	}
	return nil
}

func hasAffinity(pi fwk.PodInfo) bool {
	return len(pi.GetRequiredAffinityTerms()) > 0 || len(pi.GetRequiredAntiAffinityTerms()) > 0 ||
		len(pi.GetPreferredAffinityTerms()) > 0 || len(pi.GetPreferredAntiAffinityTerms()) > 0
}

func (s *store) fork() {
	parent := s.top()
	s.layers = append(s.layers, &layer{
		nodes:     slices.Clone(parent.nodes),
		owned:     make([]bool, len(parent.nodes)),
		lists:     parent.lists,
		tree:      parent.tree,
		nextStart: parent.nextStart,
	})
}

// revert discards the top layer. It returns the slots of the nodes that
// layer had changed (their states are gone with it).
func (s *store) revert() []int {
	if len(s.layers) < 2 {
		return nil
	}
	l := s.top()
	s.layers = s.layers[:len(s.layers)-1]
	var changed []int
	for slot, own := range l.owned {
		if own {
			changed = append(changed, slot)
		}
	}
	return changed
}

func (s *store) commit() {
	if len(s.layers) < 2 {
		return
	}
	child := s.top()
	s.layers = s.layers[:len(s.layers)-1]
	parent := s.top()
	for i := range child.nodes {
		if i >= len(parent.owned) {
			parent.owned = append(parent.owned, false)
		}
		parent.owned[i] = parent.owned[i] || child.owned[i]
	}
	parent.nodes = child.nodes
	parent.lists = child.lists
	parent.tree = child.tree
	parent.treeOwned = parent.treeOwned || child.treeOwned
	parent.nextStart = child.nextStart
}

func (s *store) lists() *nodeLists {
	l := s.top()
	if l.lists != nil {
		return l.lists
	}
	nl := &nodeLists{}
	for _, name := range l.tree.list() {
		n := l.nodes[s.slotOf[name]]
		nl.states = append(nl.states, n)
		nl.all = append(nl.all, n.info)
		if len(n.info.PodsWithAffinity) > 0 {
			nl.withAffinity = append(nl.withAffinity, n.info)
		}
		if len(n.info.PodsWithRequiredAntiAffinity) > 0 {
			nl.withRequiredAnti = append(nl.withRequiredAnti, n.info)
		}
		if len(n.info.PodsWithRequiredNonHostScopedAntiAffinity) > 0 {
			nl.withNonHostAnti = append(nl.withNonHostAnti, n.info)
		}
	}
	l.lists = nl
	return nl
}

// --- the framework's view of the store (fwk.SharedLister) ---

type storeLister struct{ s *store }

var _ fwk.SharedLister = storeLister{}

func (l storeLister) NodeInfos() fwk.NodeInfoLister       { return storeNodeInfos(l) }
func (l storeLister) StorageInfos() fwk.StorageInfoLister { return storeStorageInfos(l) }
func (l storeLister) PodGroupStates() fwk.PodGroupStateLister {
	return noPodGroups{}
}
func (l storeLister) PodGroups() fwk.PodGroupLister { return noPodGroupLister{} }
func (l storeLister) CompositePodGroupStates() fwk.CompositePodGroupStateLister {
	return noCompositePodGroupStates{}
}
func (l storeLister) CompositePodGroups() fwk.CompositePodGroupLister {
	return noCompositePodGroupLister{}
}

type storeNodeInfos struct{ s *store }

func (l storeNodeInfos) List() ([]fwk.NodeInfo, error) { return l.s.lists().all, nil }
func (l storeNodeInfos) HavePodsWithAffinityList() ([]fwk.NodeInfo, error) {
	return l.s.lists().withAffinity, nil
}
func (l storeNodeInfos) HavePodsWithRequiredAntiAffinityList() ([]fwk.NodeInfo, error) {
	return l.s.lists().withRequiredAnti, nil
}
func (l storeNodeInfos) HavePodsWithRequiredNonHostScopedAntiAffinityList() ([]fwk.NodeInfo, error) {
	return l.s.lists().withNonHostAnti, nil
}
func (l storeNodeInfos) Get(name string) (fwk.NodeInfo, error) {
	n := l.s.get(name)
	if n == nil {
		return nil, fmt.Errorf("nodeinfo not found for node name %q", name)
	}
	return n.info, nil
}

type storeStorageInfos struct{ s *store }

func (l storeStorageInfos) IsPVCUsedByPods(key string) bool {
	for _, n := range l.s.lists().states {
		if n.info.PVCRefCounts[key] > 0 {
			return true
		}
	}
	return false
}

// --- the mutable lister preemption uses (fwk.MutableSnapshotSharedLister) ---

var _ fwk.MutableSnapshotSharedLister = storeLister{}

// StartMutations forks the store; EndMutations reverts it.
func (l storeLister) StartMutations() error { l.s.fork(); return nil }

// EndMutations discards every mutation since StartMutations.
func (l storeLister) EndMutations() error { _ = l.s.revert(); return nil }

// AddPod adds a pod to a node inside a mutation session.
func (l storeLister) AddPod(podInfo fwk.PodInfo, nodeName string) error {
	return l.s.addPod(podInfo, nodeName)
}

// RemovePod removes a pod from a node inside a mutation session.
func (l storeLister) RemovePod(_ klog.Logger, pod *corev1.Pod, nodeName string) error {
	return l.s.removePod(pod, nodeName)
}
