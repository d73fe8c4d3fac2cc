package scheduler

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework"
)

// Schedule decides where pod goes without changing any state: the
// scheduling cycle of kube-scheduler (PreFilter, Filter, PostFilter
// preemption when nothing fits, PreScore, Score, NormalizeScore, select).
//
// As the real scheduler does, the search for feasible nodes starts where
// the previous cycle's stopped, in the scheduler cache's node order (zones
// interleaved), and stops once percentageOfNodesToScore's share of the
// nodes is found; only those are scored. When the profile sets no
// percentage, every node is searched (scoreAll says why).
//
// What differs from the real scheduler, on purpose:
//   - the search stops exactly at the node that completes the share, as a
//     search one node at a time would, where upstream's parallel search
//     may run a few nodes further (the next cycle then starts later);
//   - ties between equally scored nodes are broken by a hash of the seed,
//     the pod and the node, not by an unseeded random number;
//   - preemption's dry run looks for candidates in the node order from the
//     first, 16 nodes at a time, and stops by the plugin's own rule, where
//     upstream starts at a random offset, in parallel.
//
// As upstream, a pod nominated to a node by an earlier preemption tries
// that node first, and the pods nominated to a node (Nominate) count there
// against every pod of lower or equal priority.
func (s *Scheduler) Schedule(ctx context.Context, pod *corev1.Pod) (Result, error) {
	s.focus(pod)
	state := framework.NewCycleState()
	preRes, status, unschedulablePlugins := s.fw.RunPreFilterPlugins(ctx, state, pod)
	all := s.st.lists().states
	if !status.IsSuccess() {
		if !status.IsRejected() {
			return Result{}, status.AsError()
		}
		diag := framework.Diagnosis{NodeToStatus: framework.NewDefaultNodeToStatus(), UnschedulablePlugins: unschedulablePlugins}
		diag.NodeToStatus.SetAbsentNodesStatus(status)
		diag.PreFilterMsg = status.Message()
		diag.AddPluginStatus(status)
		return s.unschedulable(ctx, state, pod, len(all), diag)
	}

	if res, ok, err := s.evaluateNominatedNode(ctx, state, pod); err != nil || ok {
		return res, err
	}

	candidates := all
	if !preRes.AllNodes() {
		candidates = make([]*nodeState, 0, len(preRes.NodeNames))
		for _, n := range all {
			if preRes.NodeNames.Has(n.info.Node().Name) {
				candidates = append(candidates, n)
			}
		}
	}

	var feasible []*nodeState
	var err error
	var entries []cacheEntry
	if s.opts.Naive || !s.cacheable(pod) || !preRes.AllNodes() {
		feasible, err = s.filterAll(ctx, state, pod, candidates, len(all))
	} else {
		entries = s.cache.entriesFor(pod, len(s.st.slotOf))
		feasible, err = s.filterCached(ctx, state, pod, candidates, len(all), entries)
	}
	if err != nil {
		return Result{}, err
	}
	if len(feasible) == 0 {
		diag := s.diagnose(ctx, state, pod, candidates, unschedulablePlugins, entries, s.buf.verdicts[:len(candidates)])
		if !preRes.AllNodes() {
			diag.NodeToStatus.SetAbsentNodesStatus(fwk.NewStatus(fwk.UnschedulableAndUnresolvable,
				"node(s) didn't satisfy plugin(s) "+joinSorted(unschedulablePlugins)))
		}
		return s.unschedulable(ctx, state, pod, len(all), diag)
	}
	if len(feasible) == 1 {
		return Result{NodeName: feasible[0].info.Node().Name}, nil
	}
	return s.selectHost(ctx, state, pod, feasible, entries)
}

// evaluateNominatedNode tries first the node a pod was nominated to by an
// earlier preemption, as the scheduler does: when the pod passes every
// filter there, it goes there without the other nodes being looked at.
func (s *Scheduler) evaluateNominatedNode(ctx context.Context, state fwk.CycleState, pod *corev1.Pod) (Result, bool, error) {
	name := pod.Status.NominatedNodeName
	if name == "" {
		return Result{}, false, nil
	}
	n := s.st.get(name)
	if n == nil {
		return Result{}, false, nil
	}
	st := s.fw.RunFilterPluginsWithNominatedPods(ctx, state, pod, n.info)
	switch {
	case st.IsSuccess():
		return Result{NodeName: name}, true, nil
	case !st.IsRejected():
		return Result{}, false, st.AsError()
	}
	return Result{}, false, nil
}

// filterAll runs the framework's Filter plugins on the candidate nodes,
// as the scheduler does, until enough feasible nodes are found.
func (s *Scheduler) filterAll(ctx context.Context, state fwk.CycleState, pod *corev1.Pod, nodes []*nodeState, numAll int) ([]*nodeState, error) {
	return s.searchFeasible(ctx, nodes, numAll, func(n *nodeState) *fwk.Status {
		return s.runFilterPlugins(ctx, state, pod, n)
	})
}

// unknownRejection is what a search's check returns for a node it knows
// to be rejected without knowing the filter chain's status there (a cached
// node-local rejection that a plugin looking beyond the node, earlier in
// the chain, might come before): the diagnosis runs the chain there.
var unknownRejection = fwk.NewStatus(fwk.Unschedulable)

// runFilterPlugins runs the whole filter chain for pod on n, with the pods
// nominated to n that count against pod when there are any, as the
// scheduler does.
func (s *Scheduler) runFilterPlugins(ctx context.Context, state fwk.CycleState, pod *corev1.Pod, n *nodeState) *fwk.Status {
	if s.parts.nominator.holds(n.info.Node().Name, pod) {
		return s.fw.RunFilterPluginsWithNominatedPods(ctx, state, pod, n.info)
	}
	return s.fw.RunFilterPlugins(ctx, state, pod, n.info)
}

// minSearchStep is the fewest nodes searchFeasible filters at once (in
// parallel) when fewer feasible nodes are still wanted.
const minSearchStep = 32

// searchFeasible runs check on nodes in the scheduler's search order: from
// where the previous cycle stopped, wrapping around, until the profile's
// share of feasible nodes (numFeasibleNodesToFind) is found or every node
// was checked. It returns the feasible nodes in search order and moves the
// next cycle's start past the nodes it checked, as the scheduler does.
// numAll is the number of nodes in the cluster, which the start wraps at.
//
// check returns the filter chain's status on the node: success (or nil)
// when it fits, the rejection (or unknownRejection), or an error status
// that ends the search. The statuses are kept in s.buf.verdicts, by
// node index: when no node fits, every node was checked, and the
// diagnosis reads each node's rejection from there.
func (s *Scheduler) searchFeasible(ctx context.Context, nodes []*nodeState, numAll int, check func(*nodeState) *fwk.Status) ([]*nodeState, error) {
	total := len(nodes)
	feasible := s.buf.feasible[:0]
	if total == 0 {
		return feasible, nil
	}
	want := numFeasibleNodesToFind(s.profile.PercentageOfNodesToScore, total)
	if len(s.scores) == 0 {
		want = 1
	}
	l := s.st.top()
	start := l.nextStart
	verdicts := grow(&s.buf.verdicts, total)
	processed := 0
	for processed < total && len(feasible) < want {
		base := processed
		step := min(total-base, max(want-len(feasible), minSearchStep))
		s.par.Until(ctx, step, func(i int) {
			idx := (start + base + i) % total
			verdicts[idx] = check(nodes[idx])
		}, "Filter")
		for i := base; i < base+step; i++ {
			st := verdicts[(start+i)%total]
			if !st.IsSuccess() && !st.IsRejected() {
				s.buf.feasible = feasible
				return nil, st.AsError()
			}
			processed = i + 1
			if st.IsSuccess() {
				if feasible = append(feasible, nodes[(start+i)%total]); len(feasible) == want {
					break
				}
			}
		}
	}
	s.buf.feasible = feasible
	l.nextStart = (l.nextStart + processed) % numAll
	return feasible, nil
}

// numFeasibleNodesToFind is how many feasible nodes the scheduler looks for
// among numAll before it stops searching: every node below 100 nodes, else
// percentage of them (when 0, adaptive: 50% less 1% per 125 nodes, at
// least 5%), and at least 100.
func numFeasibleNodesToFind(percentage *int32, numAll int) int {
	const minNodes, minPercentage = 100, 5
	if numAll < minNodes {
		return numAll
	}
	p := 0
	if percentage != nil {
		p = int(*percentage)
	}
	if p == 0 {
		p = max(50-numAll/125, minPercentage)
	}
	return max(numAll*p/100, minNodes)
}

// filterCached is filterAll with the node-local plugins' verdicts reused
// from earlier pods of the same signature on nodes that have not changed.
// Plugins that look beyond the node run every time.
func (s *Scheduler) filterCached(ctx context.Context, state fwk.CycleState, pod *corev1.Pod, nodes []*nodeState, numAll int, entries []cacheEntry) ([]*nodeState, error) {
	skip := state.GetSkipFilterPlugins()
	var local []localFilter
	var global []fwk.FilterPlugin
	for _, f := range s.filters {
		switch {
		case skip.Has(f.p.Name()):
		case f.local:
			// A rejection by a node-local plugin that runs before every
			// plugin looking beyond the node is the chain's verdict.
			local = append(local, localFilter{p: f.p, first: len(global) == 0, nodeObject: f.nodeObject})
		default:
			global = append(global, f.p)
		}
	}
	return s.searchFeasible(ctx, nodes, numAll, func(n *nodeState) *fwk.Status {
		if s.parts.nominator.holds(n.info.Node().Name, pod) {
			// Pods nominated here count against this pod: the whole
			// chain runs with them, and the cache (verdicts without
			// them) is left as it is.
			return s.fw.RunFilterPluginsWithNominatedPods(ctx, state, pod, n.info)
		}
		e := &entries[n.slot]
		if e.generation != n.info.Generation {
			var errSt *fwk.Status
			e.generation = n.info.Generation
			e.rejection, e.decisive = runFilters(ctx, state, pod, n, local, e, &errSt)
			e.fits = e.rejection == nil && errSt == nil
			e.scored = false
			if errSt != nil {
				e.generation = -1 // an error is not a verdict to keep
				return errSt
			}
		}
		if !e.fits {
			if e.decisive {
				return e.rejection
			}
			return unknownRejection
		}
		for _, p := range global {
			if st := p.Filter(ctx, state, pod, n.info); !st.IsSuccess() {
				if st.IsRejected() {
					// Every node-local plugin passed: the first plugin
					// looking beyond the node to reject is the chain's
					// verdict, named as the framework names it.
					st.SetPlugin(p.Name())
					return st
				}
				return fwk.AsStatus(fmt.Errorf("running %q filter plugin: %w", p.Name(), st.AsError()))
			}
		}
		return nil
	})
}

// localFilter is a node-local filter plugin in a cycle's chain; first is
// true when it runs before every plugin that looks beyond the node.
type localFilter struct {
	p     fwk.FilterPlugin
	first bool
	// nodeObject: the plugin reads only the Node object (nodeObjectPlugins).
	nodeObject bool
}

// runFilters runs the node-local filters on one node in order. It returns
// the first rejection, named after its plugin as the framework names it,
// and whether that plugin runs before every plugin looking beyond the node
// (then the rejection is the whole chain's verdict for the node); nil when
// all passed. An error status other than a rejection goes to errOut.
//
// The node-object plugins' verdicts come from e while the node's Node
// object is the one they were worked out for (noteObjectVerdicts).
func runFilters(ctx context.Context, state fwk.CycleState, pod *corev1.Pod, n *nodeState, filters []localFilter, e *cacheEntry, errOut **fwk.Status) (*fwk.Status, bool) {
	reuse := e.noteObjectVerdicts(ctx, state, pod, n, filters)
	for i, f := range filters {
		if reuse && f.nodeObject {
			if int32(i) == e.objectAt {
				return e.objectReject, f.first
			}
			continue
		}
		st := f.p.Filter(ctx, state, pod, n.info)
		if st.IsSuccess() {
			continue
		}
		if !st.IsRejected() {
			*errOut = st
			return nil, false
		}
		st.SetPlugin(f.p.Name())
		return st, f.first
	}
	return nil, false
}

// noteObjectVerdicts makes sure e holds the node-object plugins' verdicts
// for n's current Node object, working them out when the object changed
// (up to the first that rejects: the chain never goes past it). It reports
// false when one of them returned an error, which is not a verdict to keep:
// the chain then runs as usual.
func (e *cacheEntry) noteObjectVerdicts(ctx context.Context, state fwk.CycleState, pod *corev1.Pod, n *nodeState, filters []localFilter) bool {
	if e.filterObject == n.object {
		return true
	}
	e.filterObject, e.objectReject, e.objectAt = 0, nil, -1
	for i, f := range filters {
		if !f.nodeObject {
			continue
		}
		st := f.p.Filter(ctx, state, pod, n.info)
		if st.IsSuccess() {
			continue
		}
		if !st.IsRejected() {
			return false
		}
		st.SetPlugin(f.p.Name())
		e.objectReject, e.objectAt = st, int32(i)
		break
	}
	e.filterObject = n.object
	return true
}

// diagnose reports, for every node, the first plugin of the filter chain
// that rejected it, exactly as the scheduler does.
//
// The search that found no feasible node checked every node; its
// verdicts (by node index, nil when there was no search) give each
// node's rejection, unless the search only knew the node was rejected
// (unknownRejection). A node whose cached entry (entries, when the pod is
// cacheable) holds a node-local rejection that precedes every plugin
// looking beyond the node, computed at the node's current generation, gets
// that rejection: it is what the chain would return. The chain runs again
// on any other node.
func (s *Scheduler) diagnose(ctx context.Context, state fwk.CycleState, pod *corev1.Pod, nodes []*nodeState, unschedulablePlugins sets.Set[string], entries []cacheEntry, verdicts []*fwk.Status) framework.Diagnosis {
	diag := framework.Diagnosis{NodeToStatus: framework.NewDefaultNodeToStatus(), UnschedulablePlugins: unschedulablePlugins}
	if diag.UnschedulablePlugins == nil {
		diag.UnschedulablePlugins = sets.New[string]()
	}
	var lastPlugin string
	var lastCode fwk.Code = -1
	for i, n := range nodes {
		var st *fwk.Status
		switch {
		case verdicts != nil && verdicts[i] != unknownRejection:
			st = verdicts[i]
		case s.parts.nominator.holds(n.info.Node().Name, pod):
			st = s.fw.RunFilterPluginsWithNominatedPods(ctx, state, pod, n.info)
		case entries != nil && entries[n.slot].decidesAt(n.info.Generation):
			st = entries[n.slot].rejection
		default:
			st = s.fw.RunFilterPlugins(ctx, state, pod, n.info)
		}
		if st.IsSuccess() {
			continue
		}
		diag.NodeToStatus.Set(n.info.Node().Name, st)
		// Adding the same plugin and code as the node before adds nothing.
		if st.Plugin() != lastPlugin || st.Code() != lastCode {
			diag.AddPluginStatus(st)
			lastPlugin, lastCode = st.Plugin(), st.Code()
		}
	}
	return diag
}

// selectHost scores the feasible nodes and picks the best one.
func (s *Scheduler) selectHost(ctx context.Context, state fwk.CycleState, pod *corev1.Pod, feasible []*nodeState, entries []cacheEntry) (Result, error) {
	infos := s.buf.infos[:0]
	for _, n := range feasible {
		infos = append(infos, n.info)
	}
	s.buf.infos = infos
	if st := s.fw.RunPreScorePlugins(ctx, state, pod, infos); !st.IsSuccess() {
		return Result{}, st.AsError()
	}
	var totals []int64
	if entries == nil {
		scores, st := s.fw.RunScorePlugins(ctx, state, pod, infos)
		if !st.IsSuccess() {
			return Result{}, st.AsError()
		}
		totals = make([]int64, len(scores))
		for i := range scores {
			totals[i] = scores[i].TotalScore
		}
	} else {
		var err error
		if totals, err = s.scoreCached(ctx, state, pod, feasible, entries); err != nil {
			return Result{}, err
		}
	}
	best := 0
	bestName := feasible[0].info.Node().Name
	bestTie := s.tieBreak(pod, bestName)
	for i := 1; i < len(totals); i++ {
		if totals[i] < totals[best] {
			continue
		}
		name := feasible[i].info.Node().Name
		tie := s.tieBreak(pod, name)
		if totals[i] > totals[best] || tie > bestTie || (tie == bestTie && name < bestName) {
			best, bestTie, bestName = i, tie, name
		}
	}
	return Result{NodeName: bestName}, nil
}

// scoreCached returns each feasible node's total score, as the framework's
// RunScorePlugins computes it: raw scores from every Score plugin (the
// node-local plugins' raw scores reused for unchanged nodes), each
// plugin's NormalizeScore, the range check, the plugin weights. The
// buffers are the scheduler's own and reused from cycle to cycle.
func (s *Scheduler) scoreCached(ctx context.Context, state fwk.CycleState, pod *corev1.Pod, feasible []*nodeState, entries []cacheEntry) ([]int64, error) {
	skip := state.GetSkipScorePlugins()
	active := s.buf.active[:0]
	for _, sp := range s.scores {
		if !skip.Has(sp.p.Name()) {
			active = append(active, sp)
		}
	}
	s.buf.active = active
	nNodes, nPlugins := len(feasible), len(active)
	nLocal := 0
	for _, sp := range active {
		if sp.local {
			nLocal++
		}
	}
	// raw[k*nNodes+i] is plugin k's score of node i.
	raw := grow(&s.buf.raw, nNodes*nPlugins)
	errs := grow(&s.buf.errs, nNodes)
	clear(errs)
	s.par.Until(ctx, nNodes, func(i int) {
		n := feasible[i]
		e := &entries[n.slot]
		if !e.scored || e.generation != n.info.Generation {
			// The node-object plugins' scores are kept while the Node
			// object is the one they were worked out for.
			keep := e.scoreObject == n.object && len(e.local) == nLocal
			e.local = grow(&e.local, nLocal)
			j := 0
			for _, sp := range active {
				if !sp.local {
					continue
				}
				if !sp.nodeObject || !keep {
					v, st := sp.p.Score(ctx, state, pod, n.info)
					if !st.IsSuccess() {
						e.scoreObject = 0
						errs[i] = st
						return
					}
					e.local[j] = v
				}
				j++
			}
			e.scored, e.generation, e.scoreObject = true, n.info.Generation, n.object
		}
		li := 0
		for k, sp := range active {
			if sp.local {
				raw[k*nNodes+i] = e.local[li]
				li++
				continue
			}
			var v int64
			var st *fwk.Status
			if ns, ok := sp.p.(nodeStateScorer); ok {
				v, st = ns.scoreNode(ctx, state, pod, n)
			} else {
				v, st = sp.p.Score(ctx, state, pod, n.info)
			}
			if !st.IsSuccess() {
				errs[i] = st
				return
			}
			raw[k*nNodes+i] = v
		}
	}, "Score")
	for _, st := range errs {
		if st != nil {
			return nil, st.AsError()
		}
	}
	list := grow(&s.buf.list, nNodes)
	for k, sp := range active {
		ext := sp.p.ScoreExtensions()
		if ext == nil {
			continue
		}
		scores := raw[k*nNodes : (k+1)*nNodes]
		for i, n := range feasible {
			list[i] = fwk.NodeScore{Name: n.info.Node().Name, Score: scores[i]}
		}
		if st := ext.NormalizeScore(ctx, state, pod, list); !st.IsSuccess() {
			return nil, fmt.Errorf("running Normalize on Score plugins: plugin %q failed with: %w", sp.p.Name(), st.AsError())
		}
		for i := range list {
			scores[i] = list[i].Score
		}
	}
	totals := grow(&s.buf.totals, nNodes)
	clear(totals)
	for k, sp := range active {
		for i := range nNodes {
			score := raw[k*nNodes+i]
			if score > fwk.MaxScore || score < fwk.MinScore {
				return nil, fmt.Errorf("applying score defaultWeights on Score plugins: plugin %q returns an invalid score %v, it should in the range of [%v, %v] after normalizing",
					sp.p.Name(), score, fwk.MinScore, fwk.MaxScore)
			}
			totals[i] += score * sp.weight
		}
	}
	return totals, nil
}

// grow returns (*buf)[:n], reallocating only when it is too short.
func grow[T any](buf *[]T, n int) []T {
	if cap(*buf) < n {
		*buf = make([]T, n)
	}
	*buf = (*buf)[:n]
	return *buf
}

// tieBreak is a deterministic pseudo-random number for (seed, pod, node):
// it orders nodes with equal scores the same way in every run.
func (s *Scheduler) tieBreak(pod *corev1.Pod, node string) uint64 {
	h := fnv.New64a()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(s.opts.Seed))
	h.Write(b[:])
	h.Write([]byte(pod.Namespace))
	h.Write([]byte{0})
	h.Write([]byte(pod.Name))
	h.Write([]byte{0})
	h.Write([]byte(node))
	return h.Sum64()
}

func joinSorted(set sets.Set[string]) string {
	l := sets.List(set)
	sort.Strings(l)
	out := "["
	for i, v := range l {
		if i > 0 {
			out += " "
		}
		out += v
	}
	return out + "]"
}

// focus points the plugins' views at the incoming pod.
func (s *Scheduler) focus(pod *corev1.Pod) {
	if s.opts.engine() == EngineReference {
		// The incremental PodTopologySpread reads no view.
		s.parts.nsView.focus(pod)
	}
	s.parts.affView.focus(pod)
}
