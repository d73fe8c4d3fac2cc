package scheduler

import (
	"fmt"

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
}

func (v *namespaceView) focus(namespace string) {
	if v.namespace != namespace {
		v.namespace = namespace
		v.cached = nil
	}
}

func (v *namespaceView) list() []fwk.NodeInfo {
	nl := v.s.lists()
	if v.cached != nil && v.cachedFor == nl && !v.stale(nl) {
		return v.cached
	}
	views := make([]nsNodeInfo, len(nl.states))
	out := make([]fwk.NodeInfo, len(nl.states))
	for i, n := range nl.states {
		views[i] = nsNodeInfo{NodeInfo: n.info, pods: n.byNamespace[v.namespace], gen: n.info.Generation}
		out[i] = &views[i]
	}
	v.cached, v.cachedFor = out, nl
	return out
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
	pods []fwk.PodInfo
	gen  int64
}

func (n *nsNodeInfo) GetPods() []fwk.PodInfo { return n.pods }

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
