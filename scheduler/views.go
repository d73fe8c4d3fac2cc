package scheduler

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/helper"
)

// spreadView shows PodTopologySpread, on each node, only the pods its
// selectors may match: the pods of the label classes (classes.go) that one
// of the incoming pod's spread selectors matches.
//
// Every use the plugin makes of a node's pods is
// countPodsMatchSelector(nodeInfo.GetPods(), selector, pod.Namespace),
// which counts the pods of the incoming pod's namespace that the selector
// matches. The selectors are the pod's own constraints' label selectors,
// or, for a pod without constraints, the default constraints' selector
// built from the Services and controller that select the pod
// (helper.DefaultSelector, which the view calls as the plugin does). A pod
// that none of them matches adds nothing to any count, so hiding it cannot
// change what the plugin computes, only how long it takes: the plugin
// stays the real one. The view may show more pods than that (it ignores
// matchLabelKeys, which only narrow a selector), never fewer. The
// equivalence test in this package compares every placement with and
// without the view.
//
// When the selectors match many classes (a selector on one common label),
// the view shows the node's pods of the namespace instead: looking up many
// classes on every node would cost more than it saves.
//
// The focus is the incoming pod's, set by the scheduler before each cycle
// (a Scheduler runs one cycle at a time). Views are kept across cycles, one
// arena per namespace, and rebuilt only for a node whose state changed
// since (its NodeInfo or that NodeInfo's generation, which every change
// bumps) or when the focus's classes did: pods of one template often come
// one after another (a ReplicaSet's replacements), and most nodes have not
// changed in between.
type spreadView struct {
	s         *store
	selectors defaultSelectors
	namespace string
	// match is the focus's classes; nil shows the whole namespace.
	match   *classMatch
	matched int
	memo    classMemo
	keyBuf  []byte
	arenas  viewArenas
	// serial: the scheduler's per-node work runs on one goroutine, so
	// Score may keep the views it builds in the arena (nodeAt).
	serial bool
	// views and countedBuf are list's and counted's result buffers.
	views, countedBuf []fwk.NodeInfo
}

// maxViewClasses is the most classes a view looks up on each node; with
// more, it shows the namespace's pods.
const maxViewClasses = 8

func (v *spreadView) focus(pod *corev1.Pod) {
	v.namespace = pod.Namespace
	v.arenas.focus(pod.Namespace)
	v.match, v.matched = nil, 0
	m := v.classesFor(pod)
	if m == nil {
		return
	}
	if ids := m.refresh(v.s.classes); len(ids) <= maxViewClasses {
		v.match, v.matched = m, len(ids)
	}
}

// classesFor returns the classes pod's spread selectors may match, nil
// when they cannot be told (a selector the plugin itself would reject).
// Results are kept by the selectors' source: the pod's class and
// controller for the default constraints, which depend only on those (the
// Services and controllers a Scheduler reads never change), or the
// constraints' own selectors.
func (v *spreadView) classesFor(pod *corev1.Pod) *classMatch {
	key := v.keyBuf[:0]
	if len(pod.Spec.TopologySpreadConstraints) == 0 {
		key = append(key, 'd')
		key = binary.AppendUvarint(key, uint64(v.s.classes.of(pod)))
		if owner := metav1.GetControllerOfNoCopy(pod); owner != nil {
			key = append(append(append(append(append(key, 0), owner.APIVersion...), 0), owner.Kind...), 0)
			key = append(key, owner.Name...)
		}
	} else {
		key = append(append(key, 'e'), pod.Namespace...)
		for i := range pod.Spec.TopologySpreadConstraints {
			key = append(append(key, 0), metav1.FormatLabelSelector(pod.Spec.TopologySpreadConstraints[i].LabelSelector)...)
		}
	}
	v.keyBuf = key
	if m, ok := v.memo[string(key)]; ok {
		return m
	}
	if len(pod.Spec.TopologySpreadConstraints) == 0 {
		m := &classMatch{namespaces: []string{pod.Namespace}}
		if sel := v.selectors.of(pod); !sel.Empty() {
			m.selectors = append(m.selectors, sel)
		}
		return v.memo.keep(key, m)
	}
	sels := make([]*metav1.LabelSelector, len(pod.Spec.TopologySpreadConstraints))
	for i := range pod.Spec.TopologySpreadConstraints {
		sels[i] = pod.Spec.TopologySpreadConstraints[i].LabelSelector
	}
	return v.memo.keep(key, selectorMatch([]string{pod.Namespace}, sels))
}

// drop forgets the views of the nodes in slots; the next cycles build
// them afresh.
func (v *spreadView) drop(slots []int) { v.arenas.drop(slots) }

// list returns the view of every node for the current focus.
func (v *spreadView) list() []fwk.NodeInfo {
	nl := v.s.lists()
	v.views = v.views[:0]
	for _, n := range nl.states {
		v.views = append(v.views, v.nodeView(n))
	}
	return v.views
}

// counted returns the views of the nodes that hold a pod the focus's
// selectors may match: what PreScore counts pods on (spreadNodeInfos.List).
//
// PreScore takes the spread domains from the feasible nodes it is handed,
// and walks the node list only to add each node's matching pods to its
// domain's count (countPodsMatchSelector): a node it is shown no pod of
// adds nothing. So the list leaves those nodes out, but never all of them:
// PreScore returns Skip on an empty list, which would leave the plugin out
// of the scores. (PreFilter, whose hard constraints count the domains of
// every eligible node, is handed list, every node.)
func (v *spreadView) counted() []fwk.NodeInfo {
	nl := v.s.lists()
	out := v.countedBuf[:0]
	for _, n := range nl.states {
		if !v.mayShowPods(n) {
			continue
		}
		if view := v.nodeView(n); len(view.pods) > 0 {
			out = append(out, view)
		}
	}
	if len(out) == 0 && len(nl.states) > 0 {
		out = append(out, v.nodeView(nl.states[0]))
	}
	v.countedBuf = out
	return out
}

// mayShowPods reports whether n's view for the focus may hold a pod,
// without building it (build shows the same pods).
func (v *spreadView) mayShowPods(n *nodeState) bool {
	if v.match == nil {
		return len(n.byNamespace[v.namespace]) > 0
	}
	for _, id := range v.match.matched[:v.matched] {
		if v.s.classes.mayBeOn(id, n.slot) && len(n.byClass[id]) > 0 {
			return true
		}
	}
	return false
}

// nodeView returns n's view for the current focus, rebuilt only when the
// node or the focus's classes changed since it was built. Only called from
// serial code.
func (v *spreadView) nodeView(n *nodeState) *nsNodeInfo {
	view := v.arenas.at(n.slot, len(v.s.slotOf))
	if !v.current(view, n.info) {
		v.build(n, view)
	}
	return view
}

// current reports whether view was built from info as it is now, for the
// current focus's classes.
func (v *spreadView) current(view *nsNodeInfo, info fwk.NodeInfo) bool {
	return view.builtFrom(info) && view.match == v.match && view.matched == v.matched
}

// build fills view for node n, reusing the buffer the view owns.
func (v *spreadView) build(n *nodeState, view *nsNodeInfo) {
	view.NodeInfo, view.gen = n.info, n.info.Generation
	view.match, view.matched = v.match, v.matched
	switch {
	case v.match == nil:
		view.pods = n.byNamespace[v.namespace]
	case v.matched == 1:
		view.pods = nil
		if id := v.match.matched[0]; v.s.classes.mayBeOn(id, n.slot) {
			view.pods = n.byClass[id]
		}
	default:
		pods := view.podsBuf[:0]
		for _, id := range v.match.matched[:v.matched] {
			if v.s.classes.mayBeOn(id, n.slot) {
				pods = append(pods, n.byClass[id]...)
			}
		}
		view.podsBuf, view.pods = pods, pods
	}
}

// nodeAt returns n's view for the current focus without writing to the
// arena when Score may run on several goroutines: the arena's when it is
// current, else a fresh one. On one goroutine it is nodeView.
func (v *spreadView) nodeAt(n *nodeState) fwk.NodeInfo {
	if v.serial {
		return v.nodeView(n)
	}
	if view := v.arenas.built(n.slot); view != nil && v.current(view, n.info) {
		return view
	}
	view := &nsNodeInfo{}
	v.build(n, view)
	return view
}

// node is nodeAt for the NodeInfo the framework hands Score.
func (v *spreadView) node(info fwk.NodeInfo) fwk.NodeInfo {
	n := v.s.get(info.Node().Name)
	if n == nil {
		return info
	}
	return v.nodeAt(n)
}

func (v *spreadView) get(name string) (fwk.NodeInfo, error) {
	n := v.s.get(name)
	if n == nil {
		return nil, fmt.Errorf("nodeinfo not found for node name %q", name)
	}
	return v.nodeAt(n), nil
}

// defaultSelectors gives the default spread constraints' selector of a
// pod, from the same listers as the plugin.
type defaultSelectors struct {
	services     corelisters.ServiceLister
	controllers  corelisters.ReplicationControllerLister
	replicaSets  appslisters.ReplicaSetLister
	statefulSets appslisters.StatefulSetLister
}

func newDefaultSelectors(f informers.SharedInformerFactory) defaultSelectors {
	return defaultSelectors{
		services:     f.Core().V1().Services().Lister(),
		controllers:  f.Core().V1().ReplicationControllers().Lister(),
		replicaSets:  f.Apps().V1().ReplicaSets().Lister(),
		statefulSets: f.Apps().V1().StatefulSets().Lister(),
	}
}

func (d defaultSelectors) of(pod *corev1.Pod) labels.Selector {
	return helper.DefaultSelector(pod, d.services, d.controllers, d.replicaSets, d.statefulSets)
}

// nsNodeInfo is a node's NodeInfo whose GetPods returns only some of its
// pods (those a view shows). Everything else is the node's own.
type nsNodeInfo struct {
	fwk.NodeInfo
	pods         []fwk.PodInfo
	gen          int64
	withAffinity []fwk.PodInfo
	withReqAnti  []fwk.PodInfo
	ownAffinity  bool // withAffinity and withReqAnti replace the node's own lists
	// match and matched are the classes the view was built for.
	match   *classMatch
	matched int
	// Buffers an arena-held view owns and reuses from cycle to cycle.
	reachBuf, reqAntiBuf, podsBuf []fwk.PodInfo
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

// builtFrom reports whether the view was built from info as it is now: the
// same NodeInfo at the same generation, which every change bumps.
func (n *nsNodeInfo) builtFrom(info fwk.NodeInfo) bool {
	return n.NodeInfo == info && n.gen == info.GetGeneration()
}

// viewArenas keeps a view's node views across cycles: one arena per focus
// (what the view depends on besides the node), each indexed by node slot.
// A view in an arena is reused while it was built from the node as it is
// now (nsNodeInfo.builtFrom).
type viewArenas struct {
	byKey   map[string]*viewArena
	current *viewArena
}

type viewArena struct {
	key   string
	views []nsNodeInfo
}

// focus makes key's arena the current one.
func (a *viewArenas) focus(key string) {
	ar, ok := a.byKey[key]
	if !ok {
		if a.byKey == nil {
			a.byKey = map[string]*viewArena{}
		}
		ar = &viewArena{key: key}
		a.byKey[key] = ar
	}
	a.current = ar
}

// drop forgets every arena's views of the nodes in slots.
func (a *viewArenas) drop(slots []int) {
	for _, ar := range a.byKey {
		for _, slot := range slots {
			if slot < len(ar.views) {
				ar.views[slot] = nsNodeInfo{}
			}
		}
	}
}

// at returns the current arena's view for a node slot, growing the arena
// to size slots (or past slot) first.
func (a *viewArenas) at(slot, size int) *nsNodeInfo {
	views := &a.current.views
	if slot >= len(*views) {
		*views = append(*views, make([]nsNodeInfo, max(size, slot+1)-len(*views))...)
	}
	return &(*views)[slot]
}

// built returns the current arena's view for a node slot, nil when the
// arena has none yet.
func (a *viewArenas) built(slot int) *nsNodeInfo {
	if a.current == nil || slot >= len(a.current.views) {
		return nil
	}
	return &a.current.views[slot]
}

// spreadLister is the fwk.SharedLister handed to PodTopologySpread: its
// node list is the spread view's.
type spreadLister struct {
	storeLister
	v *spreadView
}

func (l spreadLister) NodeInfos() fwk.NodeInfoLister { return spreadNodeInfos(l) }

type spreadNodeInfos struct {
	storeLister
	v *spreadView
}

// List is only called by PreScore: see spreadView.counted.
func (l spreadNodeInfos) List() ([]fwk.NodeInfo, error) { return l.v.counted(), nil }
func (l spreadNodeInfos) HavePodsWithAffinityList() ([]fwk.NodeInfo, error) {
	return l.s.lists().withAffinity, nil
}
func (l spreadNodeInfos) HavePodsWithRequiredAntiAffinityList() ([]fwk.NodeInfo, error) {
	return l.s.lists().withRequiredAnti, nil
}
func (l spreadNodeInfos) HavePodsWithRequiredNonHostScopedAntiAffinityList() ([]fwk.NodeInfo, error) {
	return l.s.lists().withNonHostAnti, nil
}
func (l spreadNodeInfos) Get(name string) (fwk.NodeInfo, error) { return l.v.get(name) }

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
//
// A view depends only on the focus (the incoming pod's namespace and the
// namespaces its terms reach) and on the node's state, so views are kept
// across cycles, one arena per focus, and rebuilt only for a node whose
// state changed since: a node state is identified by its NodeInfo and that
// NodeInfo's generation, which every change bumps.
type affinityView struct {
	s          *store
	namespace  string   // the incoming pod's
	namespaces []string // those its terms name
	all        bool
	// arenas keeps every focus's views; mu guards them (preemption's dry
	// run asks for views from several goroutines).
	mu     sync.Mutex
	arenas viewArenas
	keyBuf []byte
	// match is the label classes of the term namespaces that one of the
	// incoming pod's term selectors matches, nil when they cannot be told
	// (see List); matched is how many of them there are. memo keeps them
	// by namespaces and selectors.
	match   *classMatch
	matched int
	memo    classMemo
	memoKey []byte
	// The lister's result buffers, one per method.
	allBuf, withAffinityBuf, withReqAntiBuf []fwk.NodeInfo
}

func (v *affinityView) focus(pod *corev1.Pod) {
	v.namespace = pod.Namespace
	terms := affinityTerms(pod)
	v.namespaces, v.all = termTargets(pod.Namespace, terms)
	key := append(v.keyBuf[:0], v.namespace...)
	if v.all {
		key = append(key, "\x00*"...)
	}
	for _, ns := range v.namespaces {
		key = append(append(key, 0), ns...)
	}
	v.keyBuf = key
	v.arenas.focus(string(key))
	v.match, v.matched = nil, 0
	if v.all {
		return
	}
	if m := v.termClasses(terms); m != nil {
		if ids := m.refresh(v.s.classes); len(ids) <= maxViewClasses {
			v.match, v.matched = m, len(ids)
		}
	}
}

// termClasses returns the classes of the incoming pod's term namespaces
// that one of its terms' label selectors matches, nil when it has no term
// or a selector does not parse. A term matches an existing pod only if the
// pod is in one of the term's namespaces and the term's selector matches
// its labels: a pod of any other class matches no term of the incoming
// pod.
func (v *affinityView) termClasses(terms []*corev1.PodAffinityTerm) *classMatch {
	if len(terms) == 0 {
		return nil
	}
	key := append(v.memoKey[:0], v.keyBuf...)
	for _, t := range terms {
		key = append(append(key, 0), metav1.FormatLabelSelector(t.LabelSelector)...)
	}
	v.memoKey = key
	if m, ok := v.memo[string(key)]; ok {
		return m
	}
	sels := make([]*metav1.LabelSelector, len(terms))
	for i, t := range terms {
		sels[i] = t.LabelSelector
	}
	return v.memo.keep(key, selectorMatch(slices.Clone(v.namespaces), sels))
}

// mayMatchTerms reports whether the node in slot may hold a pod that
// matches one of the incoming pod's terms: a pod of a matched class has
// been on it (the classes' bitsets, a superset of the nodes holding one
// now). Without a class match every node may.
func (v *affinityView) mayMatchTerms(slot int) bool {
	if v.match == nil {
		return true
	}
	for _, id := range v.match.matched[:v.matched] {
		if v.s.classes.mayBeOn(id, slot) {
			return true
		}
	}
	return false
}

// drop forgets the views of the nodes in slots; the next cycles build
// them afresh.
func (v *affinityView) drop(slots []int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.arenas.drop(slots)
}

// nodeView returns the node's view for the current focus, rebuilt only
// when the node's state changed since it was built.
func (v *affinityView) nodeView(n *nodeState) fwk.NodeInfo {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.nodeViewLocked(n)
}

// nodeViewLocked is nodeView for a caller that holds v.mu.
func (v *affinityView) nodeViewLocked(n *nodeState) *nsNodeInfo {
	view := v.arenas.at(n.slot, len(v.s.slotOf))
	if !view.builtFrom(n.info) {
		v.build(n, view)
	}
	return view
}

// build fills view for node n, reusing the buffers the view owns.
func (v *affinityView) build(n *nodeState, view *nsNodeInfo) {
	reach := n.affinityFor[v.namespace]
	if len(n.affinityAnyNS) > 0 {
		view.reachBuf = append(append(view.reachBuf[:0], reach...), n.affinityAnyNS...)
		reach = dedupe(view.reachBuf)
		view.reachBuf = reach
	}
	reqAnti := view.reqAntiBuf[:0]
	for _, p := range reach {
		if len(p.GetRequiredAntiAffinityTerms()) > 0 {
			reqAnti = append(reqAnti, p)
		}
	}
	view.reqAntiBuf = reqAnti
	view.NodeInfo, view.gen = n.info, n.info.Generation
	view.withAffinity, view.withReqAnti, view.ownAffinity = reach, reqAnti, true
	if v.all {
		view.pods = n.info.Pods
		return
	}
	pods := view.podsBuf[:0]
	for _, ns := range v.namespaces {
		pods = append(pods, n.byNamespace[ns]...)
	}
	for _, p := range reach {
		if !slices.Contains(v.namespaces, p.GetPod().Namespace) {
			pods = append(pods, p)
		}
	}
	view.podsBuf, view.pods = pods, pods
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

// viewsOf fills buf with the views of the nodes keep selects whose view
// passes show (nil: every view). Each lister method has a buffer of its
// own: a plugin may hold one list while it asks for another, never past
// its cycle.
func (l affinityNodeInfos) viewsOf(buf *[]fwk.NodeInfo, keep func(*nodeState) bool, show func(*nodeState, *nsNodeInfo) bool) []fwk.NodeInfo {
	out := (*buf)[:0]
	l.v.mu.Lock()
	defer l.v.mu.Unlock()
	for _, n := range l.s.lists().states {
		if keep != nil && !keep(n) {
			continue
		}
		view := l.v.nodeViewLocked(n)
		if show == nil || show(n, view) {
			out = append(out, view)
		}
	}
	*buf = out
	return out
}

// List lists only the nodes whose view may hold a pod the plugin counts.
// The plugin calls it to count, on every node, the pods that match the
// incoming pod's terms (PreFilter, for required terms), or to score the
// incoming pod against every pod there and every pod's terms against it
// (PreScore, for preferred terms). A node adds nothing unless it holds a
// pod of a class one of the incoming pod's terms selects (mayMatchTerms)
// or an affinity pod whose terms reach the incoming pod's namespace; the
// nodes listed are still shown all the pods of their view.
func (l affinityNodeInfos) List() ([]fwk.NodeInfo, error) {
	return l.viewsOf(&l.v.allBuf, nil, func(n *nodeState, view *nsNodeInfo) bool {
		if len(view.pods) == 0 {
			return false
		}
		return len(view.withAffinity) > 0 || l.v.mayMatchTerms(n.slot)
	}), nil
}

// HavePodsWithAffinityList and HavePodsWithRequiredAntiAffinityList list
// only the nodes whose view holds such a pod: the plugin reads nothing
// else of the nodes on these lists (it counts their affinity pods' terms),
// and a node holding no affinity pod whose terms reach the incoming pod's
// namespace adds nothing to any count or score. Leaving them out saves the
// plugin walking them; their views are built (or found current) all the
// same, which costs less than looking into each node's maps to tell.
func (l affinityNodeInfos) HavePodsWithAffinityList() ([]fwk.NodeInfo, error) {
	return l.viewsOf(&l.v.withAffinityBuf, func(n *nodeState) bool { return len(n.info.PodsWithAffinity) > 0 },
		func(_ *nodeState, view *nsNodeInfo) bool { return len(view.withAffinity) > 0 }), nil
}

func (l affinityNodeInfos) HavePodsWithRequiredAntiAffinityList() ([]fwk.NodeInfo, error) {
	return l.viewsOf(&l.v.withReqAntiBuf, func(n *nodeState) bool { return len(n.info.PodsWithRequiredAntiAffinity) > 0 },
		func(_ *nodeState, view *nsNodeInfo) bool { return len(view.withReqAnti) > 0 }), nil
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
