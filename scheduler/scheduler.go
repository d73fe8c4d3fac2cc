package scheduler

import (
	"context"
	"fmt"
	"runtime"
	"slices"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/apis/config"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework/parallelize"
	"k8s.io/utils/ptr"

	"github.com/noderoll/noderoll/snapshot"
)

// Scheduler places pods on the nodes of an in-memory cluster with the real
// kube-scheduler framework. It is not safe for concurrent use; run one
// Scheduler per goroutine (they share nothing).
type Scheduler struct {
	opts    Options
	profile *config.KubeSchedulerProfile
	st      *store
	parts   *frameworkParts
	fw      framework.Framework

	// preemptionEnabled: the profile runs DefaultPreemption at PostFilter.
	preemptionEnabled bool
	// trial: the cycle in progress is TryPlace's, which skips preemption.
	trial bool
	// pdbSelectors caches each PodDisruptionBudget's parsed selector (nil:
	// it selects nothing), by the lister's object.
	pdbSelectors map[*policyv1.PodDisruptionBudget]labels.Selector
	// podBudgets caches the budgets selecting each pod preemption weighed
	// as a victim (a pod's labels never change).
	podBudgets map[podKey][]*policyv1.PodDisruptionBudget
	// nodeBudgets caches budgetsOn per node slot.
	nodeBudgets []nodeBudgets
	// lowest caches each node's lowest pod priority, by node slot.
	lowest []lowestAt

	// par fans a cycle's per-node work out over Options.Parallelism
	// goroutines (on the calling one when it is 1).
	par fwk.Parallelizer
	// preemptionPar runs preemption's dry run on several nodes at once.
	preemptionPar parallelize.Parallelizer

	filters []pluginRef[fwk.FilterPlugin]
	scores  []pluginRef[fwk.ScorePlugin]
	cache   *evalCache
	buf     cycleBuffers
}

// cycleBuffers are scratch slices a scheduling cycle reuses from the last
// one instead of allocating them afresh (nothing keeps them past a cycle).
type cycleBuffers struct {
	infos  []fwk.NodeInfo
	active []pluginRef[fwk.ScorePlugin]
	raw    []int64
	errs   []*fwk.Status
	list   []fwk.NodeScore
	totals []int64
	// verdicts is the cycle's filter status of each candidate node.
	verdicts []*fwk.Status
	// feasible is the cycle's feasible nodes.
	feasible []*nodeState
}

// pluginRef is a plugin the scheduler may call directly, with whether its
// result on a node depends only on the pod and that node (local) or on the
// rest of the cluster too.
type pluginRef[P fwk.Plugin] struct {
	p     P
	local bool
	// nodeObject: a node-local plugin whose result depends on the node's
	// Node object alone, not on its pods (nodeObjectPlugins).
	nodeObject bool
	// weight is a score plugin's weight in the profile.
	weight int64
}

// nodeLocalPlugins lists the in-tree plugins whose Filter and Score results
// depend only on the incoming pod, its cycle state from PreFilter/PreScore
// (itself computed from the pod alone for these plugins) and the one node's
// NodeInfo. Their results are reused across pods with the same scheduling
// signature as long as the node's generation has not changed. Every other
// plugin, including any out-of-tree one, runs on every cycle.
var nodeLocalPlugins = map[string]bool{
	"NodeUnschedulable":               true,
	"NodeName":                        true,
	"TaintToleration":                 true,
	"NodeAffinity":                    true,
	"NodePorts":                       true,
	"NodeResourcesFit":                true,
	"NodeResourcesBalancedAllocation": true,
	"VolumeRestrictions":              true,
	"NodeVolumeLimits":                true,
	"VolumeBinding":                   true,
	"VolumeZone":                      true,
	"NodeDeclaredFeatures":            true,
}

// nodeObjectPlugins lists the node-local plugins whose Filter and Score
// read nothing of the node but its Node object (taints, labels,
// unschedulable, name): their results for a pod signature hold until the
// Node object changes (a cordon, an uncordon, a rejoin), however many pods
// come and go. The other node-local plugins are run again whenever the
// node's generation changes.
//
// VolumeBinding and VolumeZone belong here because the cache serves only
// pods whose claims are all bound (Scheduler.cacheable), and the scheduler
// never changes claims or volumes: for such a pod they compare the bound
// volumes' node affinity and topology labels with the node's labels. For a
// pod without claims both are skipped at PreFilter.
var nodeObjectPlugins = map[string]bool{
	"NodeUnschedulable": true,
	"NodeName":          true,
	"TaintToleration":   true,
	"NodeAffinity":      true,
	"VolumeBinding":     true,
	"VolumeZone":        true,
}

// scoreAll is the percentageOfNodesToScore used when the profile sets
// none: every feasible node is searched for and scored.
//
// kube-scheduler's own default is adaptive (230 of 500 nodes, all below
// 100), and the search for feasible nodes here is the scheduler's (see
// Schedule) whenever a profile sets a lower percentage. It is not the
// default because, measured on the seed profiles, sampling changes the
// predictions more than it speeds them up: a rolling 5% of the 500-node
// seed ran 5% faster but moved 3,315 pods more than once instead of 2,362
// (a pod often does not see the freshly reinstalled, empty nodes), and a
// migration of a 150-node cluster met 587 unschedulable pods instead of 340
// and ran 27% longer: its wave-fitting trials, run from one search start,
// no longer match the placements made later from another.
const scoreAll = 100

// parallelism is the number of goroutines for a cycle's per-node work.
func (o Options) parallelism() int {
	if o.Parallelism > 0 {
		return o.Parallelism
	}
	return 1
}

// preemptionParallelism is the number of goroutines for preemption's dry
// run: Parallelism when set, else GOMAXPROCS. A node's dry run (removing
// and adding back victims, filters each time) is long enough to be worth
// handing to another core.
func (o Options) preemptionParallelism() int {
	if o.Parallelism > 0 {
		return o.Parallelism
	}
	return max(1, runtime.GOMAXPROCS(0))
}

// New builds the scheduler's state from snap: its nodes, the pods bound to
// them (except those in a terminal phase), and the objects plugins read
// through listers (Services and controllers for default spreading, volumes,
// PDBs, namespaces, priority classes).
func New(ctx context.Context, snap *snapshot.Snapshot, opts Options) (*Scheduler, error) {
	profile, err := loadProfile(opts.ConfigFile, opts.Profile)
	if err != nil {
		return nil, err
	}
	if profile.PercentageOfNodesToScore == nil || *profile.PercentageOfNodesToScore == 0 {
		// Every feasible node is scored unless the profile says otherwise:
		// see scoreAll.
		profile.PercentageOfNodesToScore = ptr.To[int32](scoreAll)
	}
	st := newStore()
	parts, err := buildFramework(ctx, profile, st, !opts.Naive, opts.engine(), opts.parallelism())
	if err != nil {
		return nil, err
	}
	s := &Scheduler{opts: opts, profile: profile, st: st, parts: parts, fw: parts.fw, cache: newEvalCache(),
		par: newParallelizer(opts.parallelism()), preemptionPar: parallelize.NewParallelizer(opts.preemptionParallelism())}
	if err := s.resolvePlugins(); err != nil {
		return nil, err
	}
	if err := s.loadObjects(snap); err != nil {
		return nil, err
	}
	nodes := make([]*corev1.Node, 0, len(snap.Nodes))
	for i := range snap.Nodes {
		nodes = append(nodes, &snap.Nodes[i])
	}
	slices.SortFunc(nodes, func(a, b *corev1.Node) int { return compareStrings(a.Name, b.Name) })
	for _, n := range nodes {
		st.setNode(n)
	}
	for i := range snap.Pods {
		p := &snap.Pods[i]
		if p.Spec.NodeName == "" || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		if err := s.AddPod(p); err != nil {
			return nil, fmt.Errorf("adding pod %s/%s: %w", p.Namespace, p.Name, err)
		}
	}
	return s, nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (s *Scheduler) resolvePlugins() error {
	listed := s.fw.ListPlugins()
	for _, c := range listed.PostFilter.Enabled {
		if c.Name == "DefaultPreemption" {
			s.preemptionEnabled = true
		}
	}
	for _, c := range listed.Filter.Enabled {
		p, ok := s.parts.plugins[c.Name].(fwk.FilterPlugin)
		if !ok {
			return fmt.Errorf("filter plugin %q has no instance", c.Name)
		}
		s.filters = append(s.filters, pluginRef[fwk.FilterPlugin]{p: p, local: nodeLocalPlugins[c.Name], nodeObject: nodeObjectPlugins[c.Name]})
	}
	for _, c := range listed.Score.Enabled {
		p, ok := s.parts.plugins[c.Name].(fwk.ScorePlugin)
		if !ok {
			return fmt.Errorf("score plugin %q has no instance", c.Name)
		}
		s.scores = append(s.scores, pluginRef[fwk.ScorePlugin]{p: p, local: nodeLocalPlugins[c.Name], nodeObject: nodeObjectPlugins[c.Name], weight: int64(c.Weight)})
	}
	return nil
}

// Engine is the engine the scheduler runs (Options.Engine).
func (s *Scheduler) Engine() Engine { return s.opts.engine() }

// ProfileName is the name of the scheduler profile in use.
func (s *Scheduler) ProfileName() string { return s.profile.SchedulerName }

// AddPod adds a pod bound to pod.Spec.NodeName, without scheduling it.
func (s *Scheduler) AddPod(pod *corev1.Pod) error {
	if pod.Spec.NodeName == "" {
		return fmt.Errorf("pod %s/%s has no node", pod.Namespace, pod.Name)
	}
	pi, err := framework.NewPodInfo(pod)
	if err != nil {
		return fmt.Errorf("pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return s.st.addPod(pi, pod.Spec.NodeName)
}

// UpdatePod replaces the copy of a bound pod the scheduler holds with pod
// (matched by UID on pod.Spec.NodeName), as the scheduler's cache applies
// a pod update: a pod that starts terminating carries its
// deletionTimestamp, which topology spreading does not count, and a
// preemption victim its DisruptionTarget condition, which keeps a
// preemptor nominated to its node from preempting again while it
// terminates.
func (s *Scheduler) UpdatePod(pod *corev1.Pod) error {
	if err := s.RemovePod(pod); err != nil {
		return err
	}
	return s.AddPod(pod)
}

// RemovePod removes a pod from the node named in pod.Spec.NodeName.
func (s *Scheduler) RemovePod(pod *corev1.Pod) error {
	if err := s.st.removePod(pod, pod.Spec.NodeName); err != nil {
		return fmt.Errorf("removing pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// AddNode adds a node, or updates it (labels, taints, unschedulable,
// allocatable) keeping the pods already on it.
func (s *Scheduler) AddNode(node *corev1.Node) { s.st.setNode(node) }

// RemoveNode removes a node and every pod on it.
func (s *Scheduler) RemoveNode(name string) error { return s.st.removeNode(name) }

// NodeNames lists the nodes in the scheduler's current state.
func (s *Scheduler) NodeNames() []string {
	nl := s.st.lists()
	out := make([]string, len(nl.all))
	for i, n := range nl.all {
		out[i] = n.Node().Name
	}
	return out
}

// PodsOn lists the pods on a node in the scheduler's current state.
func (s *Scheduler) PodsOn(nodeName string) []*corev1.Pod {
	n := s.st.get(nodeName)
	if n == nil {
		return nil
	}
	out := make([]*corev1.Pod, len(n.info.Pods))
	for i, p := range n.info.Pods {
		out[i] = p.GetPod()
	}
	return out
}

// Fork starts a layer of changes that Revert discards and Commit keeps.
// Forks nest. A fork copies one pointer per node, never the pods.
func (s *Scheduler) Fork() { s.st.fork() }

// Nominate records that pod, which preemption made room for, waits for
// node (pod.Status.NominatedNodeName, set by the caller): until it is
// cleared (node ""), the pod counts on that node against every pod of
// lower or equal priority, as kube-scheduler's nominator makes it count.
// Nominations are not part of Fork and Revert.
func (s *Scheduler) Nominate(pod *corev1.Pod, node string) { s.parts.nominator.set(pod, node) }

// Revert discards every change since the matching Fork. The plugins' views
// of the nodes the fork changed are dropped too: they may hold the fork's
// node states, which would otherwise stay in memory. The views of the
// other nodes stay: they were built from states the fork did not touch.
func (s *Scheduler) Revert() {
	changed := s.st.revert()
	s.parts.nsView.drop(changed)
	s.parts.affView.drop(changed)
}

// Commit keeps every change since the matching Fork in the layer below.
func (s *Scheduler) Commit() { s.st.commit() }

// Place schedules pod and, when it fits, adds it to the chosen node in the
// scheduler's state. pod itself is not modified. The state holds a shallow
// copy with Spec.NodeName set: its metadata, spec and status structs are
// its own, their maps and slices (labels, containers, affinity,
// conditions...) are pod's, which the caller must leave as they are (to
// change what the scheduler sees of a placed pod, give UpdatePod a new
// copy). A simulation places tens of thousands of pods, and a deep copy of
// each was most of its garbage.
func (s *Scheduler) Place(ctx context.Context, pod *corev1.Pod) (Result, error) {
	res, err := s.Schedule(ctx, pod)
	if err != nil || res.NodeName == "" {
		return res, err
	}
	bound := new(corev1.Pod)
	*bound = *pod
	bound.Spec.NodeName = res.NodeName
	if err := s.AddPod(bound); err != nil {
		return res, err
	}
	return res, nil
}

// TryPlace is Place for what-if trials (will these pods fit?): a pod that
// fits nowhere is left out without preemption's dry run, which only
// matters to a pod that will really wait for its victims to leave. Its
// Result has the reasons but never victims.
func (s *Scheduler) TryPlace(ctx context.Context, pod *corev1.Pod) (Result, error) {
	s.trial = true
	defer func() { s.trial = false }()
	return s.Place(ctx, pod)
}

// CheckFit runs every filter plugin for pod on one node. It returns "" when
// the pod fits there, else the rejecting plugin's reasons.
func (s *Scheduler) CheckFit(ctx context.Context, pod *corev1.Pod, nodeName string) (string, error) {
	n := s.st.get(nodeName)
	if n == nil {
		return "", fmt.Errorf("node %q not found", nodeName)
	}
	s.focus(pod)
	state := framework.NewCycleState()
	_, status, _ := s.fw.RunPreFilterPlugins(ctx, state, pod)
	if !status.IsSuccess() {
		if !status.IsRejected() {
			return "", status.AsError()
		}
		return status.Message(), nil
	}
	status = s.fw.RunFilterPlugins(ctx, state, pod, n.info)
	if status.IsSuccess() {
		return "", nil
	}
	if !status.IsRejected() {
		return "", status.AsError()
	}
	return fmt.Sprintf("%s: %s", status.Plugin(), status.Message()), nil
}
