package scheduler

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	fwk "k8s.io/kube-scheduler/framework"
)

// namespaceView shows a plugin only the pods of one namespace on each node.
//
// It is given to PodTopologySpread, whose every use of a node's pods is
// countPodsMatchSelector(nodeInfo.GetPods(), selector, pod.Namespace), which
// skips pods of any other namespace. Hiding those pods cannot change what
// the plugin computes, only how long it takes: the plugin stays the real
// one, its input is the same set of pods it would count. The equivalence
// test in this package compares every placement with and without the view.
//
// The namespace is the incoming pod's, set by the scheduler before each
// cycle (a Scheduler runs one cycle at a time).
type namespaceView struct {
	s         *store
	namespace string
	cached    []fwk.NodeInfo
	cachedFor *nodeLists
	byName    map[string]fwk.NodeInfo
}

func (v *namespaceView) focus(namespace string) {
	if v.namespace != namespace {
		v.namespace = namespace
		v.cached, v.byName = nil, nil
	}
}

func (v *namespaceView) list() []fwk.NodeInfo {
	nl := v.s.lists()
	if v.cached != nil && v.cachedFor == nl && !v.stale(nl) {
		return v.cached
	}
	out := make([]fwk.NodeInfo, len(nl.states))
	key := "namespace\x00" + v.namespace
	for i, n := range nl.states {
		out[i] = v.s.cachedView(n, key, func() *nsNodeInfo {
			return &nsNodeInfo{NodeInfo: n.info, pods: n.byNamespace[v.namespace], gen: n.info.Generation}
		})
	}
	v.cached, v.cachedFor = out, nl
	v.byName = make(map[string]fwk.NodeInfo, len(out))
	for _, n := range out {
		v.byName[n.Node().Name] = n
	}
	return out
}

// node returns the view of one node, from the current list when it is up
// to date.
func (v *namespaceView) node(n fwk.NodeInfo) fwk.NodeInfo {
	if view, ok := v.byName[n.Node().Name]; ok && view.(*nsNodeInfo).gen == n.GetGeneration() && v.cached != nil && v.cachedFor == v.s.lists() {
		return view
	}
	view, err := v.get(n.Node().Name)
	if err != nil {
		return n
	}
	return view
}

// stale reports whether any node changed in place since the views were made.
func (v *namespaceView) stale(nl *nodeLists) bool {
	for i, n := range nl.states {
		if v.cached[i].(*nsNodeInfo).gen != n.info.Generation {
			return true
		}
	}
	return false
}

func (v *namespaceView) get(name string) (fwk.NodeInfo, error) {
	n := v.s.get(name)
	if n == nil {
		return nil, fmt.Errorf("nodeinfo not found for node name %q", name)
	}
	return &nsNodeInfo{NodeInfo: n.info, pods: n.byNamespace[v.namespace], gen: n.info.Generation}, nil
}

// nsNodeInfo is a node's NodeInfo whose GetPods returns only the pods of
// one namespace. Everything else is the node's own.
type nsNodeInfo struct {
	fwk.NodeInfo
	pods         []fwk.PodInfo
	gen          int64
	withAffinity []fwk.PodInfo
	withReqAnti  []fwk.PodInfo
	ownAffinity  bool // withAffinity and withReqAnti replace the node's own lists
}

func (n *nsNodeInfo) GetPods() []fwk.PodInfo { return n.pods }

func (n *nsNodeInfo) GetPodsWithAffinity() []fwk.PodInfo {
	if n.ownAffinity {
		return n.withAffinity
	}
	return n.NodeInfo.GetPodsWithAffinity()
}

func (n *nsNodeInfo) GetPodsWithRequiredAntiAffinity() []fwk.PodInfo {
	if n.ownAffinity {
		return n.withReqAnti
	}
	return n.NodeInfo.GetPodsWithRequiredAntiAffinity()
}

// namespaceLister is the fwk.SharedLister handed to plugins that get the
// namespace view.
type namespaceLister struct {
	storeLister
	v *namespaceView
}

func (l namespaceLister) NodeInfos() fwk.NodeInfoLister { return namespaceNodeInfos(l) }

type namespaceNodeInfos struct {
	storeLister
	v *namespaceView
}

func (l namespaceNodeInfos) List() ([]fwk.NodeInfo, error) { return l.v.list(), nil }
func (l namespaceNodeInfos) HavePodsWithAffinityList() ([]fwk.NodeInfo, error) {
	return l.s.lists().withAffinity, nil
}
func (l namespaceNodeInfos) HavePodsWithRequiredAntiAffinityList() ([]fwk.NodeInfo, error) {
	return l.s.lists().withRequiredAnti, nil
}
func (l namespaceNodeInfos) HavePodsWithRequiredNonHostScopedAntiAffinityList() ([]fwk.NodeInfo, error) {
	return l.s.lists().withNonHostAnti, nil
}
func (l namespaceNodeInfos) Get(name string) (fwk.NodeInfo, error) { return l.v.get(name) }

// affinityView shows InterPodAffinity, for the incoming pod, only the pods
// that can change its answer.
//
// The plugin looks at an existing pod for two reasons only: the existing pod
// matches one of the incoming pod's terms, which requires it to be in a
// namespace those terms name; or one of the existing pod's own terms matches
// the incoming pod, which requires that term to name the incoming pod's
// namespace or to select namespaces by label. So a node's pods in the
// incoming pod's term namespaces, plus its affinity pods whose terms can
// reach the incoming pod's namespace, are every pod the plugin can count;
// likewise, of the pods with required anti-affinity (which PreFilter checks
// against the incoming pod), only those whose terms can reach its namespace.
// Pods outside the view never match a term, and an unmatched pod adds
// nothing to any count or score. When one of the incoming pod's own terms
// selects namespaces by label, the view shows all of the node's pods.
//
// The counting is a sum, so the order the pods are shown in does not matter.
type affinityView struct {
	s          *store
	namespace  string   // the incoming pod's
	namespaces []string // those its terms name
	all        bool
	// views caches each node's view for the current focus, by node slot;
	// a view is reused while its node's generation is unchanged.
	key string
}

func (v *affinityView) focus(pod *corev1.Pod) {
	v.namespace = pod.Namespace
	v.namespaces, v.all = affinityTargets(pod)
	v.key = fmt.Sprint("affinity\x00", v.namespace, v.namespaces, v.all)
}

func (v *affinityView) nodeView(n *nodeState) fwk.NodeInfo {
	return v.s.cachedView(n, v.key, func() *nsNodeInfo { return v.build(n) })
}

func (v *affinityView) build(n *nodeState) *nsNodeInfo {
	reach := n.affinityFor[v.namespace]
	if len(n.affinityAnyNS) > 0 {
		reach = append(slices.Clip(reach), n.affinityAnyNS...)
		reach = dedupe(reach)
	}
	var reqAnti []fwk.PodInfo
	for _, p := range reach {
		if len(p.GetRequiredAntiAffinityTerms()) > 0 {
			reqAnti = append(reqAnti, p)
		}
	}
	view := &nsNodeInfo{NodeInfo: n.info, gen: n.info.Generation, withAffinity: reach, withReqAnti: reqAnti, ownAffinity: true}
	if v.all {
		view.pods = n.info.Pods
		return view
	}
	for _, ns := range v.namespaces {
		view.pods = append(view.pods, n.byNamespace[ns]...)
	}
	for _, p := range reach {
		if !slices.Contains(v.namespaces, p.GetPod().Namespace) {
			view.pods = append(view.pods, p)
		}
	}
	return view
}

// dedupe drops repeated pods (a pod may both name a namespace and select
// namespaces by label).
func dedupe(pods []fwk.PodInfo) []fwk.PodInfo {
	seen := make(map[fwk.PodInfo]bool, len(pods))
	out := pods[:0]
	for _, p := range pods {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

type affinityLister struct {
	storeLister
	v *affinityView
}

func (l affinityLister) NodeInfos() fwk.NodeInfoLister { return affinityNodeInfos(l) }

type affinityNodeInfos struct {
	storeLister
	v *affinityView
}

func (l affinityNodeInfos) views(states []*nodeState) []fwk.NodeInfo {
	out := make([]fwk.NodeInfo, len(states))
	for i, n := range states {
		out[i] = l.v.nodeView(n)
	}
	return out
}

func (l affinityNodeInfos) List() ([]fwk.NodeInfo, error) {
	return l.views(l.s.lists().states), nil
}

func (l affinityNodeInfos) HavePodsWithAffinityList() ([]fwk.NodeInfo, error) {
	var states []*nodeState
	for _, n := range l.s.lists().states {
		if len(n.info.PodsWithAffinity) > 0 {
			states = append(states, n)
		}
	}
	return l.views(states), nil
}

func (l affinityNodeInfos) HavePodsWithRequiredAntiAffinityList() ([]fwk.NodeInfo, error) {
	var states []*nodeState
	for _, n := range l.s.lists().states {
		if len(n.info.PodsWithRequiredAntiAffinity) > 0 {
			states = append(states, n)
		}
	}
	return l.views(states), nil
}

func (l affinityNodeInfos) HavePodsWithRequiredNonHostScopedAntiAffinityList() ([]fwk.NodeInfo, error) {
	return l.s.lists().withNonHostAnti, nil
}

func (l affinityNodeInfos) Get(name string) (fwk.NodeInfo, error) {
	n := l.s.get(name)
	if n == nil {
		return nil, fmt.Errorf("nodeinfo not found for node name %q", name)
	}
	return l.v.nodeView(n), nil
}
