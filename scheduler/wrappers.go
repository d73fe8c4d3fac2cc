package scheduler

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/interpodaffinity"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/podtopologyspread"
)

// spreadOnView is the real PodTopologySpread plugin, handed the namespace
// view of the nodes wherever the framework would hand it full NodeInfos
// (PreFilter's node list, Score's node). Every method is the plugin's own;
// only the argument changes, to a view the plugin computes the same answer
// from (see namespaceView).
type spreadOnView struct {
	*podtopologyspread.PodTopologySpread
	view *namespaceView
}

func (w *spreadOnView) PreFilter(ctx context.Context, state fwk.CycleState, pod *corev1.Pod, _ []fwk.NodeInfo) (*fwk.PreFilterResult, *fwk.Status) {
	return w.PodTopologySpread.PreFilter(ctx, state, pod, w.view.list())
}

func (w *spreadOnView) Score(ctx context.Context, state fwk.CycleState, pod *corev1.Pod, nodeInfo fwk.NodeInfo) (int64, *fwk.Status) {
	return w.PodTopologySpread.Score(ctx, state, pod, w.view.node(nodeInfo))
}

// affinityOnView is the real InterPodAffinity plugin, handed the affinity
// view of the nodes in PreFilter (see affinityView).
type affinityOnView struct {
	*interpodaffinity.InterPodAffinity
	view *affinityView
}

func (w *affinityOnView) PreFilter(ctx context.Context, state fwk.CycleState, pod *corev1.Pod, _ []fwk.NodeInfo) (*fwk.PreFilterResult, *fwk.Status) {
	nodes, _ := affinityNodeInfos{storeLister: storeLister{s: w.view.s}, v: w.view}.List()
	return w.InterPodAffinity.PreFilter(ctx, state, pod, nodes)
}

// onView wraps the plugins that get views; any other plugin is returned as
// is.
func onView(p fwk.Plugin, parts *frameworkParts) fwk.Plugin {
	switch pl := p.(type) {
	case *podtopologyspread.PodTopologySpread:
		return &spreadOnView{PodTopologySpread: pl, view: parts.nsView}
	case *interpodaffinity.InterPodAffinity:
		return &affinityOnView{InterPodAffinity: pl, view: parts.affView}
	}
	return p
}
