package scheduler

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/apis/config"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/interpodaffinity"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/names"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/podtopologyspread"
)

// spreadOnView is the real PodTopologySpread plugin, handed the namespace
// view of the nodes wherever the framework would hand it full NodeInfos
// (PreFilter's node list, Score's node). Every method is the plugin's own;
// only the argument changes, to a view the plugin computes the same answer
// from (see spreadView).
type spreadOnView struct {
	*podtopologyspread.PodTopologySpread
	view *spreadView
	// hardDefaults: the plugin's default constraints (applied to pods
	// without constraints of their own) include a DoNotSchedule one.
	hardDefaults bool
}

// PreFilter is the plugin's PreFilter on the spread view. The plugin
// reads the node list only for a pod with hard (DoNotSchedule)
// constraints: getConstraints keeps only those, and calPreFilterState
// returns before touching the nodes when none is left. A pod without them
// is handed the nodes as they are, which saves building a view it would
// not read.
func (w *spreadOnView) PreFilter(ctx context.Context, state fwk.CycleState, pod *corev1.Pod, nodes []fwk.NodeInfo) (*fwk.PreFilterResult, *fwk.Status) {
	if w.hasHardConstraints(pod) {
		nodes = w.view.list()
	}
	return w.PodTopologySpread.PreFilter(ctx, state, pod, nodes)
}

func (w *spreadOnView) hasHardConstraints(pod *corev1.Pod) bool {
	if len(pod.Spec.TopologySpreadConstraints) == 0 {
		return w.hardDefaults
	}
	for _, c := range pod.Spec.TopologySpreadConstraints {
		if c.WhenUnsatisfiable == corev1.DoNotSchedule {
			return true
		}
	}
	return false
}

func (w *spreadOnView) Score(ctx context.Context, state fwk.CycleState, pod *corev1.Pod, nodeInfo fwk.NodeInfo) (int64, *fwk.Status) {
	return w.PodTopologySpread.Score(ctx, state, pod, w.view.node(nodeInfo))
}

// nodeStateScorer is a score plugin that the scheduler's own scoring loop
// can hand its node state instead of the NodeInfo, which saves looking the
// node up by name.
type nodeStateScorer interface {
	scoreNode(ctx context.Context, state fwk.CycleState, pod *corev1.Pod, n *nodeState) (int64, *fwk.Status)
}

// scoreNode is Score on the node's view, from the arena by slot.
func (w *spreadOnView) scoreNode(ctx context.Context, state fwk.CycleState, pod *corev1.Pod, n *nodeState) (int64, *fwk.Status) {
	return w.PodTopologySpread.Score(ctx, state, pod, w.view.nodeAt(n))
}

// affinityOnView is the real InterPodAffinity plugin, handed the affinity
// view of the nodes in PreFilter (see affinityView).
type affinityOnView struct {
	*interpodaffinity.InterPodAffinity
	view *affinityView
}

// PreFilter is the plugin's PreFilter on the affinity view. The plugin
// reads its node list argument only to count the incoming pod's own
// required (anti-)affinity terms (getIncomingAffinityAntiAffinityCounts
// returns at once without terms; the host-scoped count is a subset of
// them); existing pods' anti-affinity comes through the lister, which is
// viewed either way. A pod without required terms is handed the nodes as
// they are.
func (w *affinityOnView) PreFilter(ctx context.Context, state fwk.CycleState, pod *corev1.Pod, nodes []fwk.NodeInfo) (*fwk.PreFilterResult, *fwk.Status) {
	if hasRequiredPodAffinityTerms(pod) {
		nodes, _ = affinityNodeInfos{storeLister: storeLister{s: w.view.s}, v: w.view}.List()
	}
	return w.InterPodAffinity.PreFilter(ctx, state, pod, nodes)
}

func hasRequiredPodAffinityTerms(pod *corev1.Pod) bool {
	a := pod.Spec.Affinity
	if a == nil {
		return false
	}
	return (a.PodAffinity != nil && len(a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution) > 0) ||
		(a.PodAntiAffinity != nil && len(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) > 0)
}

// onView wraps the plugins that get views; any other plugin is returned as
// is.
func onView(p fwk.Plugin, parts *frameworkParts, profile *config.KubeSchedulerProfile) fwk.Plugin {
	switch pl := p.(type) {
	case *podtopologyspread.PodTopologySpread:
		return &spreadOnView{PodTopologySpread: pl, view: parts.nsView, hardDefaults: hardDefaultSpread(profile)}
	case *interpodaffinity.InterPodAffinity:
		return &affinityOnView{InterPodAffinity: pl, view: parts.affView}
	}
	return p
}

// hardDefaultSpread reports whether the profile's PodTopologySpread
// default constraints include a DoNotSchedule one. The system defaults
// (DefaultingType System) are both ScheduleAnyway.
func hardDefaultSpread(profile *config.KubeSchedulerProfile) bool {
	for _, pc := range profile.PluginConfig {
		args, ok := pc.Args.(*config.PodTopologySpreadArgs)
		if pc.Name != names.PodTopologySpread || !ok {
			continue
		}
		if args.DefaultingType != config.ListDefaulting {
			return false
		}
		for _, c := range args.DefaultConstraints {
			if c.WhenUnsatisfiable == corev1.DoNotSchedule {
				return true
			}
		}
		return false
	}
	// No args: the plugin falls back to the system defaults.
	return false
}
