package scheduler

import (
	"context"
	"fmt"
	"maps"
	"math"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/component-helpers/resource"
	v1helper "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/apis/config"
	plfeature "k8s.io/kubernetes/pkg/scheduler/framework/plugins/feature"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/helper"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/podtopologyspread"
	"k8s.io/utils/ptr"
)

// incrementalSpread is the incremental engine's PodTopologySpread,
// registered under the in-tree name with the profile's own args. It
// computes what the in-tree plugin (k8s.io/kubernetes v1.37
// pkg/scheduler/framework/plugins/podtopologyspread) computes, step for
// step: the same constraints (the pod's own, or the default ones with
// helper.DefaultSelector's selector), the same node inclusion policies,
// the same domain counts and critical paths in PreFilter, the same skew
// test in Filter, the same counts, normalizing weights, ignored nodes and
// scores in PreScore, Score and NormalizeScore, and the same
// PreFilterExtensions for preemption and nominated pods.
//
// What it does not do is recount: the in-tree plugin counts, on every node
// and every cycle, the pods each constraint's selector matches. Here the
// count of one (namespace, selector) on one node is kept (spreadCounts)
// and worked out again only when that node's NodeInfo generation has
// changed, which every pod added to, removed from or updated on the node
// bumps. After a placement on node X, the next cycle recounts X alone. The
// default selector of a pod is kept per label class and controller (the
// Services and controllers it is built from do not change during a
// simulation).
//
// The equality with the in-tree plugin is a test (engine_test.go): every
// cycle's filter verdicts, raw and normalized scores, chosen node and
// diagnosis, over randomized clusters.
type incrementalSpread struct {
	// inTree is the in-tree plugin built from the same args: its Name,
	// SignPod and EventsToRegister are used as they are.
	*podtopologyspread.PodTopologySpread

	st              *store
	fts             plfeature.Features
	defaults        []corev1.TopologySpreadConstraint
	systemDefaulted bool
	selectors       defaultSelectors
	counts          spreadCounts
	topo            map[string]*topologyValues
	defaultSel      map[defaultSelectorKey]labels.Selector
	logger          klog.Logger
}

// systemDefaultSpread are the in-tree plugin's system default constraints
// (podtopologyspread.systemDefaultConstraints, unexported there).
var systemDefaultSpread = []corev1.TopologySpreadConstraint{
	{TopologyKey: corev1.LabelHostname, WhenUnsatisfiable: corev1.ScheduleAnyway, MaxSkew: 3},
	{TopologyKey: corev1.LabelTopologyZone, WhenUnsatisfiable: corev1.ScheduleAnyway, MaxSkew: 5},
}

// newIncrementalSpread wraps inTree, built from args, with the
// incremental computation over st.
func newIncrementalSpread(inTree *podtopologyspread.PodTopologySpread, args *config.PodTopologySpreadArgs, st *store, sel defaultSelectors, fts plfeature.Features) *incrementalSpread {
	p := &incrementalSpread{
		PodTopologySpread: inTree,
		st:                st,
		fts:               fts,
		selectors:         sel,
		counts:            spreadCounts{byKey: map[string]*keyCounts{}},
		topo:              map[string]*topologyValues{},
		defaultSel:        map[defaultSelectorKey]labels.Selector{},
		logger:            klog.Background(),
	}
	if args != nil {
		p.defaults = args.DefaultConstraints
		if args.DefaultingType == config.SystemDefaulting {
			p.defaults, p.systemDefaulted = systemDefaultSpread, true
		}
	}
	return p
}

// spreadConstraint is one constraint as the plugin applies it.
type spreadConstraint struct {
	MaxSkew            int32
	TopologyKey        string
	Selector           labels.Selector
	MinDomains         int32
	NodeAffinityPolicy corev1.NodeInclusionPolicy
	NodeTaintsPolicy   corev1.NodeInclusionPolicy
	// counts is the kept per-node count of the constraint's selector in
	// the incoming pod's namespace.
	counts *keyCounts
	// topo is the kept value of TopologyKey on each node.
	topo *topologyValues
}

func (c *spreadConstraint) matchNodeInclusionPolicies(logger klog.Logger, pod *corev1.Pod, node *corev1.Node, require nodeaffinity.RequiredNodeAffinity, comparisonOperators bool) bool {
	if c.NodeAffinityPolicy == corev1.NodeInclusionPolicyHonor {
		if match, _ := require.Match(node); !match {
			return false
		}
	}
	if c.NodeTaintsPolicy == corev1.NodeInclusionPolicyHonor {
		if _, untolerated := v1helper.FindMatchingUntoleratedTaint(logger, node.Spec.Taints, pod.Spec.Tolerations, helper.DoNotScheduleTaintsFilterFunc(), comparisonOperators); untolerated {
			return false
		}
	}
	return true
}

// constraints returns pod's constraints of action: its own, or the
// default ones with the default selector.
func (p *incrementalSpread) constraints(pod *corev1.Pod, action corev1.UnsatisfiableConstraintAction) ([]spreadConstraint, error) {
	if len(pod.Spec.TopologySpreadConstraints) > 0 {
		return p.filterConstraints(pod.Spec.TopologySpreadConstraints, pod, action, nil)
	}
	if len(p.defaults) == 0 {
		return nil, nil
	}
	hasAction := false
	for _, c := range p.defaults {
		hasAction = hasAction || c.WhenUnsatisfiable == action
	}
	if !hasAction {
		return nil, nil
	}
	selector := p.defaultSelector(pod)
	if selector.Empty() {
		return nil, nil
	}
	return p.filterConstraints(p.defaults, pod, action, selector)
}

// filterConstraints is the in-tree filterTopologySpreadConstraints; a
// non-nil selector replaces every constraint's (the default constraints').
func (p *incrementalSpread) filterConstraints(cs []corev1.TopologySpreadConstraint, pod *corev1.Pod, action corev1.UnsatisfiableConstraintAction, selector labels.Selector) ([]spreadConstraint, error) {
	var out []spreadConstraint
	for _, c := range cs {
		if c.WhenUnsatisfiable != action {
			continue
		}
		sel := selector
		if sel == nil {
			var err error
			sel, err = metav1.LabelSelectorAsSelector(c.LabelSelector)
			if err != nil {
				return nil, err
			}
			if p.fts.EnableMatchLabelKeysInPodTopologySpread && len(c.MatchLabelKeys) > 0 {
				matchLabels := make(labels.Set)
				for _, k := range c.MatchLabelKeys {
					if v, ok := pod.Labels[k]; ok {
						matchLabels[k] = v
					}
				}
				if len(matchLabels) > 0 {
					sel = mergeLabelSetWithSelector(matchLabels, sel)
				}
			}
		}
		sc := spreadConstraint{
			MaxSkew:            c.MaxSkew,
			TopologyKey:        c.TopologyKey,
			Selector:           sel,
			MinDomains:         ptr.Deref(c.MinDomains, 1),
			NodeAffinityPolicy: corev1.NodeInclusionPolicyHonor,
			NodeTaintsPolicy:   corev1.NodeInclusionPolicyIgnore,
		}
		if p.fts.EnableNodeInclusionPolicyInPodTopologySpread {
			if c.NodeAffinityPolicy != nil {
				sc.NodeAffinityPolicy = *c.NodeAffinityPolicy
			}
			if c.NodeTaintsPolicy != nil {
				sc.NodeTaintsPolicy = *c.NodeTaintsPolicy
			}
		}
		sc.counts = p.counts.of(pod.Namespace, sel)
		sc.topo = p.topology(c.TopologyKey)
		sc.counts.match.refresh(p.st.classes)
		out = append(out, sc)
	}
	return out, nil
}

// mergeLabelSetWithSelector is the in-tree function of that name.
func mergeLabelSetWithSelector(matchLabels labels.Set, s labels.Selector) labels.Selector {
	merged := labels.SelectorFromSet(matchLabels)
	requirements, ok := s.Requirements()
	if !ok {
		return s
	}
	for _, r := range requirements {
		merged = merged.Add(r)
	}
	return merged
}

// defaultSelectorKey is what helper.DefaultSelector reads of a pod: its
// namespace and labels (its label class) and its controller.
type defaultSelectorKey struct {
	class                  classID
	apiVersion, kind, name string
}

func (p *incrementalSpread) defaultSelector(pod *corev1.Pod) labels.Selector {
	key := defaultSelectorKey{class: p.st.classes.of(pod)}
	if owner := metav1.GetControllerOfNoCopy(pod); owner != nil {
		key.apiVersion, key.kind, key.name = owner.APIVersion, owner.Kind, owner.Name
	}
	if sel, ok := p.defaultSel[key]; ok {
		return sel
	}
	sel := p.selectors.of(pod)
	p.defaultSel[key] = sel
	return sel
}

// hasTopologyKeys is nodeHasTopologyKeys on a node of the store.
func hasTopologyKeys(n *nodeState, cs []spreadConstraint) bool {
	for i := range cs {
		if _, ok := cs[i].topo.of(n); !ok {
			return false
		}
	}
	return true
}

func nodeHasTopologyKeys(nodeLabels map[string]string, cs []spreadConstraint) bool {
	for _, c := range cs {
		if _, ok := nodeLabels[c.TopologyKey]; !ok {
			return false
		}
	}
	return true
}

// nodeStates returns the node states behind nodes: the store's list when
// nodes is it (the framework hands PreFilter and PreScore the snapshot
// lister's list), else each looked up by name.
func (p *incrementalSpread) nodeStates(nodes []fwk.NodeInfo) []*nodeState {
	l := p.st.lists()
	if len(nodes) == len(l.all) && (len(nodes) == 0 || (nodes[0] == l.all[0] && nodes[len(nodes)-1] == l.all[len(l.all)-1])) {
		same := true
		for i := range nodes {
			if nodes[i] != l.all[i] {
				same = false
				break
			}
		}
		if same {
			return l.states
		}
	}
	out := make([]*nodeState, len(nodes))
	for i, n := range nodes {
		out[i] = p.st.get(n.Node().Name)
	}
	return out
}

// --- PreFilter and Filter ---

const incrementalSpreadPreFilterKey = "PreFilter" + podtopologyspread.Name

// spreadPreFilterState is the in-tree preFilterState.
type spreadPreFilterState struct {
	Constraints       []spreadConstraint
	CriticalPaths     []*spreadCriticalPaths
	TpValueToMatchNum []map[string]int
}

func (s *spreadPreFilterState) minMatchNum(i int, minDomains int32) int {
	paths := s.CriticalPaths[i]
	minMatchNum := paths[0].MatchNum
	if len(s.TpValueToMatchNum[i]) < int(minDomains) {
		minMatchNum = 0
	}
	return minMatchNum
}

// Clone copies the state as the in-tree one does.
func (s *spreadPreFilterState) Clone() fwk.StateData {
	if s == nil {
		return nil
	}
	c := spreadPreFilterState{
		Constraints:       s.Constraints,
		CriticalPaths:     make([]*spreadCriticalPaths, len(s.CriticalPaths)),
		TpValueToMatchNum: make([]map[string]int, len(s.TpValueToMatchNum)),
	}
	for i, paths := range s.CriticalPaths {
		c.CriticalPaths[i] = &spreadCriticalPaths{paths[0], paths[1]}
	}
	for i, m := range s.TpValueToMatchNum {
		c.TpValueToMatchNum[i] = maps.Clone(m)
	}
	return &c
}

// spreadCriticalPaths is the in-tree criticalPaths: the two domains with
// the fewest matching pods.
type spreadCriticalPaths [2]struct {
	TopologyValue string
	MatchNum      int
}

func newSpreadCriticalPaths() *spreadCriticalPaths {
	return &spreadCriticalPaths{{MatchNum: math.MaxInt32}, {MatchNum: math.MaxInt32}}
}

func (p *spreadCriticalPaths) update(tpVal string, num int) {
	i := -1
	if tpVal == p[0].TopologyValue {
		i = 0
	} else if tpVal == p[1].TopologyValue {
		i = 1
	}
	if i >= 0 {
		p[i].MatchNum = num
		if p[0].MatchNum > p[1].MatchNum {
			p[0], p[1] = p[1], p[0]
		}
		return
	}
	if num < p[0].MatchNum {
		p[1] = p[0]
		p[0].TopologyValue, p[0].MatchNum = tpVal, num
	} else if num < p[1].MatchNum {
		p[1].TopologyValue, p[1].MatchNum = tpVal, num
	}
}

// PreFilter is the in-tree PreFilter, counting from the kept counts.
func (p *incrementalSpread) PreFilter(ctx context.Context, cycleState fwk.CycleState, pod *corev1.Pod, nodes []fwk.NodeInfo) (*fwk.PreFilterResult, *fwk.Status) {
	if p.fts.EnableInPlacePodVerticalScalingSchedulerPreemption && resource.IsPodResizeDeferred(pod) {
		return nil, fwk.NewStatus(fwk.Skip)
	}
	cs, err := p.constraints(pod, corev1.DoNotSchedule)
	if err != nil {
		return nil, fwk.AsStatus(fmt.Errorf("get constraints from pod: %w", err))
	}
	if len(cs) == 0 {
		return nil, fwk.NewStatus(fwk.Skip)
	}
	s := &spreadPreFilterState{
		Constraints:       cs,
		CriticalPaths:     make([]*spreadCriticalPaths, len(cs)),
		TpValueToMatchNum: make([]map[string]int, len(cs)),
	}
	for i := range cs {
		s.TpValueToMatchNum[i] = map[string]int{}
	}
	require := nodeaffinity.GetRequiredNodeAffinity(pod)
	for _, n := range p.nodeStates(nodes) {
		node := n.info.Node()
		if !p.fts.EnableNodeInclusionPolicyInPodTopologySpread {
			if match, _ := require.Match(node); !match {
				continue
			}
		}
		if !hasTopologyKeys(n, cs) {
			continue
		}
		for i := range cs {
			c := &cs[i]
			if p.fts.EnableNodeInclusionPolicyInPodTopologySpread &&
				!c.matchNodeInclusionPolicies(p.logger, pod, node, require, p.fts.EnableTaintTolerationComparisonOperators) {
				continue
			}
			value, _ := c.topo.of(n)
			s.TpValueToMatchNum[i][value] += c.counts.on(n, c.Selector, p.st.classes)
		}
	}
	for i := range cs {
		s.CriticalPaths[i] = newSpreadCriticalPaths()
		for value, num := range s.TpValueToMatchNum[i] {
			s.CriticalPaths[i].update(value, num)
		}
	}
	cycleState.Write(incrementalSpreadPreFilterKey, s)
	return nil, nil
}

// PreFilterExtensions are the in-tree AddPod and RemovePod on this
// plugin's state.
func (p *incrementalSpread) PreFilterExtensions() fwk.PreFilterExtensions { return p }

// AddPod counts podInfoToAdd on nodeInfo in the cycle's state.
func (p *incrementalSpread) AddPod(_ context.Context, cycleState fwk.CycleState, podToSchedule *corev1.Pod, podInfoToAdd fwk.PodInfo, nodeInfo fwk.NodeInfo) *fwk.Status {
	s, err := readSpreadPreFilter(cycleState)
	if err != nil {
		return fwk.AsStatus(err)
	}
	p.updateWithPod(s, podInfoToAdd.GetPod(), podToSchedule, nodeInfo.Node(), 1)
	return nil
}

// RemovePod uncounts podInfoToRemove on nodeInfo in the cycle's state.
func (p *incrementalSpread) RemovePod(_ context.Context, cycleState fwk.CycleState, podToSchedule *corev1.Pod, podInfoToRemove fwk.PodInfo, nodeInfo fwk.NodeInfo) *fwk.Status {
	s, err := readSpreadPreFilter(cycleState)
	if err != nil {
		return fwk.AsStatus(err)
	}
	p.updateWithPod(s, podInfoToRemove.GetPod(), podToSchedule, nodeInfo.Node(), -1)
	return nil
}

func (p *incrementalSpread) updateWithPod(s *spreadPreFilterState, updated, preemptor *corev1.Pod, node *corev1.Node, delta int) {
	if s == nil || updated.Namespace != preemptor.Namespace || node == nil {
		return
	}
	if !nodeHasTopologyKeys(node.Labels, s.Constraints) {
		return
	}
	require := nodeaffinity.GetRequiredNodeAffinity(preemptor)
	if !p.fts.EnableNodeInclusionPolicyInPodTopologySpread {
		if match, _ := require.Match(node); !match {
			return
		}
	}
	set := labels.Set(updated.Labels)
	for i := range s.Constraints {
		c := &s.Constraints[i]
		if !c.Selector.Matches(set) {
			continue
		}
		if p.fts.EnableNodeInclusionPolicyInPodTopologySpread &&
			!c.matchNodeInclusionPolicies(p.logger, preemptor, node, require, p.fts.EnableTaintTolerationComparisonOperators) {
			continue
		}
		v := node.Labels[c.TopologyKey]
		s.TpValueToMatchNum[i][v] += delta
		s.CriticalPaths[i].update(v, s.TpValueToMatchNum[i][v])
	}
}

func readSpreadPreFilter(cycleState fwk.CycleState) (*spreadPreFilterState, error) {
	c, err := cycleState.Read(incrementalSpreadPreFilterKey)
	if err != nil {
		return nil, fmt.Errorf("reading %q from cycleState: %w", incrementalSpreadPreFilterKey, err)
	}
	s, ok := c.(*spreadPreFilterState)
	if !ok {
		return nil, fmt.Errorf("%+v convert to podtopologyspread.preFilterState error", c)
	}
	return s, nil
}

// Filter is the in-tree skew test.
func (p *incrementalSpread) Filter(_ context.Context, cycleState fwk.CycleState, pod *corev1.Pod, nodeInfo fwk.NodeInfo) *fwk.Status {
	if p.fts.EnableInPlacePodVerticalScalingSchedulerPreemption && resource.IsPodResizeDeferred(pod) {
		return nil
	}
	node := nodeInfo.Node()
	s, err := readSpreadPreFilter(cycleState)
	if err != nil {
		return fwk.AsStatus(err)
	}
	if len(s.Constraints) == 0 {
		return nil
	}
	set := labels.Set(pod.Labels)
	for i := range s.Constraints {
		c := &s.Constraints[i]
		tpVal, ok := node.Labels[c.TopologyKey]
		if !ok {
			return fwk.NewStatus(fwk.UnschedulableAndUnresolvable, podtopologyspread.ErrReasonNodeLabelNotMatch)
		}
		minMatchNum := s.minMatchNum(i, c.MinDomains)
		self := 0
		if c.Selector.Matches(set) {
			self = 1
		}
		if s.TpValueToMatchNum[i][tpVal]+self-minMatchNum > int(c.MaxSkew) {
			return fwk.NewStatus(fwk.Unschedulable, podtopologyspread.ErrReasonConstraintsNotMatch)
		}
	}
	return nil
}

// --- PreScore, Score and NormalizeScore ---

const incrementalSpreadPreScoreKey = "PreScore" + podtopologyspread.Name

// spreadPreScoreState is the in-tree preScoreState.
type spreadPreScoreState struct {
	Constraints               []spreadConstraint
	IgnoredNodes              sets.Set[string]
	TopologyValueToPodCounts  []map[string]*int64
	TopologyNormalizingWeight []float64
}

// Clone returns the state itself, as the in-tree one does: Score only
// reads it.
func (s *spreadPreScoreState) Clone() fwk.StateData { return s }

// PreScore is the in-tree PreScore, counting from the kept counts.
func (p *incrementalSpread) PreScore(_ context.Context, cycleState fwk.CycleState, pod *corev1.Pod, filteredNodes []fwk.NodeInfo) *fwk.Status {
	all := p.st.lists().states
	if len(all) == 0 {
		return fwk.NewStatus(fwk.Skip)
	}
	state := &spreadPreScoreState{IgnoredNodes: sets.New[string]()}
	requireAll := len(pod.Spec.TopologySpreadConstraints) > 0 || !p.systemDefaulted
	var err error
	if len(pod.Spec.TopologySpreadConstraints) > 0 {
		state.Constraints, err = p.filterConstraints(pod.Spec.TopologySpreadConstraints, pod, corev1.ScheduleAnyway, nil)
		if err != nil {
			return fwk.AsStatus(fmt.Errorf("calculating preScoreState: %w", fmt.Errorf("obtaining pod's soft topology spread constraints: %w", err)))
		}
	} else {
		state.Constraints, err = p.constraints(pod, corev1.ScheduleAnyway)
		if err != nil {
			return fwk.AsStatus(fmt.Errorf("calculating preScoreState: %w", fmt.Errorf("setting default soft topology spread constraints: %w", err)))
		}
	}
	if len(state.Constraints) == 0 {
		return fwk.NewStatus(fwk.Skip)
	}
	cs := state.Constraints
	state.TopologyValueToPodCounts = make([]map[string]*int64, len(cs))
	for i := range cs {
		state.TopologyValueToPodCounts[i] = map[string]*int64{}
	}
	topoSize := make([]int, len(cs))
	for _, n := range filteredNodes {
		node := n.Node()
		if requireAll && !nodeHasTopologyKeys(node.Labels, cs) {
			state.IgnoredNodes.Insert(node.Name)
			continue
		}
		for i := range cs {
			if cs[i].TopologyKey == corev1.LabelHostname {
				continue
			}
			value := node.Labels[cs[i].TopologyKey]
			if state.TopologyValueToPodCounts[i][value] == nil {
				state.TopologyValueToPodCounts[i][value] = new(int64)
				topoSize[i]++
			}
		}
	}
	state.TopologyNormalizingWeight = make([]float64, len(cs))
	for i := range cs {
		sz := topoSize[i]
		if cs[i].TopologyKey == corev1.LabelHostname {
			sz = len(filteredNodes) - len(state.IgnoredNodes)
		}
		state.TopologyNormalizingWeight[i] = math.Log(float64(sz + 2))
	}

	require := nodeaffinity.GetRequiredNodeAffinity(pod)
	for _, n := range all {
		node := n.info.Node()
		// Score reads the hostname constraints' counts, perhaps from
		// several goroutines: they are brought up to date here, on one.
		for i := range cs {
			if cs[i].TopologyKey == corev1.LabelHostname {
				cs[i].counts.on(n, cs[i].Selector, p.st.classes)
			}
		}
		if !p.fts.EnableNodeInclusionPolicyInPodTopologySpread {
			if match, _ := require.Match(node); !match {
				continue
			}
		}
		if requireAll && !hasTopologyKeys(n, cs) {
			continue
		}
		for i := range cs {
			c := &cs[i]
			if c.TopologyKey == corev1.LabelHostname {
				// No domain counts: Score counts on the node.
				continue
			}
			if p.fts.EnableNodeInclusionPolicyInPodTopologySpread &&
				!c.matchNodeInclusionPolicies(p.logger, pod, node, require, p.fts.EnableTaintTolerationComparisonOperators) {
				continue
			}
			value, _ := c.topo.of(n)
			count := state.TopologyValueToPodCounts[i][value]
			if count == nil {
				continue
			}
			*count += int64(c.counts.on(n, c.Selector, p.st.classes))
		}
	}
	cycleState.Write(incrementalSpreadPreScoreKey, state)
	return nil
}

func readSpreadPreScore(cycleState fwk.CycleState) (*spreadPreScoreState, error) {
	c, err := cycleState.Read(incrementalSpreadPreScoreKey)
	if err != nil {
		return nil, fmt.Errorf("error reading %q from cycleState: %w", incrementalSpreadPreScoreKey, err)
	}
	s, ok := c.(*spreadPreScoreState)
	if !ok {
		return nil, fmt.Errorf("%+v  convert to podtopologyspread.preScoreState error", c)
	}
	return s, nil
}

// Score is the in-tree Score. A NodeInfo the store does not hold (a
// preemption dry run's copy) is counted pod by pod.
func (p *incrementalSpread) Score(_ context.Context, cycleState fwk.CycleState, pod *corev1.Pod, nodeInfo fwk.NodeInfo) (int64, *fwk.Status) {
	s, err := readSpreadPreScore(cycleState)
	if err != nil {
		return 0, fwk.AsStatus(err)
	}
	n := p.st.get(nodeInfo.Node().Name)
	if n != nil && fwk.NodeInfo(n.info) != nodeInfo {
		n = nil
	}
	return p.score(s, pod, nodeInfo, n), nil
}

// scoreNode is Score for the scheduler's own scoring loop.
func (p *incrementalSpread) scoreNode(_ context.Context, cycleState fwk.CycleState, pod *corev1.Pod, n *nodeState) (int64, *fwk.Status) {
	s, err := readSpreadPreScore(cycleState)
	if err != nil {
		return 0, fwk.AsStatus(err)
	}
	return p.score(s, pod, n.info, n), nil
}

func (p *incrementalSpread) score(s *spreadPreScoreState, pod *corev1.Pod, nodeInfo fwk.NodeInfo, n *nodeState) int64 {
	node := nodeInfo.Node()
	if s.IgnoredNodes.Has(node.Name) {
		return 0
	}
	var score float64
	for i := range s.Constraints {
		c := &s.Constraints[i]
		tpVal, ok := node.Labels[c.TopologyKey]
		if !ok {
			continue
		}
		var cnt int64
		switch {
		case c.TopologyKey != corev1.LabelHostname:
			cnt = *s.TopologyValueToPodCounts[i][tpVal]
		case n != nil:
			cnt = int64(c.counts.on(n, c.Selector, p.st.classes))
		default:
			cnt = int64(countMatching(nodeInfo.GetPods(), c.Selector, pod.Namespace))
		}
		score += float64(cnt)*s.TopologyNormalizingWeight[i] + float64(c.MaxSkew-1)
	}
	return int64(math.Round(score))
}

// NormalizeScore is the in-tree NormalizeScore.
func (p *incrementalSpread) NormalizeScore(_ context.Context, cycleState fwk.CycleState, _ *corev1.Pod, scores fwk.NodeScoreList) *fwk.Status {
	s, err := readSpreadPreScore(cycleState)
	if err != nil {
		return fwk.AsStatus(err)
	}
	if s == nil {
		return nil
	}
	const invalid = -1
	var minScore int64 = math.MaxInt64
	var maxScore int64
	for i, sc := range scores {
		if s.IgnoredNodes.Has(sc.Name) {
			scores[i].Score = invalid
			continue
		}
		minScore = min(minScore, sc.Score)
		maxScore = max(maxScore, sc.Score)
	}
	for i := range scores {
		switch {
		case scores[i].Score == invalid:
			scores[i].Score = 0
		case maxScore == 0:
			scores[i].Score = fwk.MaxNodeScore
		default:
			scores[i].Score = fwk.MaxNodeScore * (maxScore + minScore - scores[i].Score) / maxScore
		}
	}
	return nil
}

// ScoreExtensions returns the plugin, for NormalizeScore.
func (p *incrementalSpread) ScoreExtensions() fwk.ScoreExtensions { return p }

// --- the kept counts ---

// spreadCounts keeps, per (namespace, selector) a constraint has used,
// the count on each node of that namespace's pods the selector matches
// and that are not terminating: the in-tree countPodsMatchSelector.
type spreadCounts struct {
	byKey map[string]*keyCounts
	buf   []byte
}

// keyCounts is one (namespace, selector)'s count per node slot, with the
// NodeInfo generation it was worked out for.
type keyCounts struct {
	namespace string
	// match is the namespace's label classes the selector matches.
	match *classMatch
	gen   []int64
	count []int32
	known []bool
}

func (c *spreadCounts) of(namespace string, sel labels.Selector) *keyCounts {
	c.buf = append(append(append(c.buf[:0], namespace...), 0), sel.String()...)
	if k, ok := c.byKey[string(c.buf)]; ok {
		return k
	}
	k := &keyCounts{namespace: namespace, match: &classMatch{namespaces: []string{namespace}, selectors: []labels.Selector{sel}}}
	c.byKey[string(c.buf)] = k
	return k
}

// on returns the count on n of the pods sel matches, from what is kept
// when n has not changed since.
func (k *keyCounts) on(n *nodeState, sel labels.Selector, classes *labelClasses) int {
	if n.slot >= len(k.gen) {
		size := max(n.slot+1, 2*len(k.gen))
		k.gen = append(k.gen, make([]int64, size-len(k.gen))...)
		k.count = append(k.count, make([]int32, size-len(k.count))...)
		k.known = append(k.known, make([]bool, size-len(k.known))...)
	}
	if k.known[n.slot] && k.gen[n.slot] == n.info.Generation {
		return int(k.count[n.slot])
	}
	v := k.recount(n, sel, classes)
	k.gen[n.slot], k.count[n.slot], k.known[n.slot] = n.info.Generation, int32(v), true
	return v
}

// maxCountedClasses is the most label classes a recount looks up on a
// node; a selector matching more (one on a label common to the
// namespace) counts the namespace's pods on the node one by one.
const maxCountedClasses = 8

// recount counts on n the pods of the classes the selector matches that
// are not terminating: a selector matches all of a class's pods or none.
func (k *keyCounts) recount(n *nodeState, sel labels.Selector, classes *labelClasses) int {
	if sel.Empty() {
		return 0
	}
	ids := k.match.matched
	if len(ids) > maxCountedClasses {
		return countMatching(n.byNamespace[k.namespace], sel, k.namespace)
	}
	v := 0
	for _, id := range ids {
		if !classes.mayBeOn(id, n.slot) {
			continue
		}
		for _, pi := range n.byClass[id] {
			if pi.GetPod().DeletionTimestamp == nil {
				v++
			}
		}
	}
	return v
}

// countMatching is the in-tree countPodsMatchSelector.
func countMatching(pods []fwk.PodInfo, sel labels.Selector, namespace string) int {
	if sel.Empty() {
		return 0
	}
	n := 0
	for _, pi := range pods {
		pod := pi.GetPod()
		if pod.DeletionTimestamp != nil || pod.Namespace != namespace {
			continue
		}
		if sel.Matches(labels.Set(pod.Labels)) {
			n++
		}
	}
	return n
}

// topology returns the kept values of key.
func (p *incrementalSpread) topology(key string) *topologyValues {
	t, ok := p.topo[key]
	if !ok {
		t = &topologyValues{key: key}
		p.topo[key] = t
	}
	return t
}

// topologyValues keeps one topology key's label value on each node slot,
// with the Node object it was read from (nodeState.object, never reused).
type topologyValues struct {
	key    string
	object []int64
	value  []string
	has    []bool
}

// of returns n's value of the key and whether n has the label.
func (t *topologyValues) of(n *nodeState) (string, bool) {
	if n.slot >= len(t.object) {
		size := max(n.slot+1, 2*len(t.object))
		t.object = append(t.object, make([]int64, size-len(t.object))...)
		t.value = append(t.value, make([]string, size-len(t.value))...)
		t.has = append(t.has, make([]bool, size-len(t.has))...)
	}
	if n.object == 0 || t.object[n.slot] != n.object {
		t.value[n.slot], t.has[n.slot] = n.info.Node().Labels[t.key]
		t.object[n.slot] = n.object
	}
	return t.value[n.slot], t.has[n.slot]
}
