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
// What differs from the real scheduler, on purpose:
//   - every feasible node is scored (percentageOfNodesToScore is pinned to
//     100 unless the profile sets it), so the answer does not depend on
//     history;
//   - ties between equally scored nodes are broken by a hash of the seed,
//     the pod and the node, not by an unseeded random number;
//   - a pod nominated to a node by an earlier preemption tries that node
//     first, as upstream does, but nominated pods are not held on their
//     nodes against other pods (there is no queue);
//   - preemption's dry run looks for candidates by node name from the
//     first, 16 nodes at a time, and stops by the plugin's own rule, where
//     upstream starts at a random offset, in parallel.
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
	if s.opts.Naive || !cacheable(pod) || !preRes.AllNodes() {
		feasible, err = s.filterAll(ctx, state, pod, candidates)
	} else {
		entries = s.cache.entriesFor(pod, len(s.st.slotOf))
		feasible, err = s.filterCached(ctx, state, pod, candidates, entries)
	}
	if err != nil {
		return Result{}, err
	}
	if len(feasible) == 0 {
		diag := s.diagnose(ctx, state, pod, candidates, unschedulablePlugins, entries)
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
	st := s.fw.RunFilterPlugins(ctx, state, pod, n.info)
	switch {
	case st.IsSuccess():
		return Result{NodeName: name}, true, nil
	case !st.IsRejected():
		return Result{}, false, st.AsError()
	}
	return Result{}, false, nil
}

// filterAll runs the framework's Filter plugins on every candidate node,
// as the scheduler does, in parallel and in node order.
func (s *Scheduler) filterAll(ctx context.Context, state fwk.CycleState, pod *corev1.Pod, nodes []*nodeState) ([]*nodeState, error) {
	statuses := make([]*fwk.Status, len(nodes))
	s.fw.Parallelizer().Until(ctx, len(nodes), func(i int) {
		statuses[i] = s.fw.RunFilterPlugins(ctx, state, pod, nodes[i].info)
	}, "Filter")
	var feasible []*nodeState
	for i, st := range statuses {
		if st.IsSuccess() {
			feasible = append(feasible, nodes[i])
		} else if !st.IsRejected() {
			return nil, st.AsError()
		}
	}
	return feasible, nil
}

// filterCached is filterAll with the node-local plugins' verdicts reused
// from earlier pods of the same signature on nodes that have not changed.
// Plugins that look beyond the node run every time.
func (s *Scheduler) filterCached(ctx context.Context, state fwk.CycleState, pod *corev1.Pod, nodes []*nodeState, entries []cacheEntry) ([]*nodeState, error) {
	skip := state.GetSkipFilterPlugins()
	var local []localFilter
	var global []fwk.FilterPlugin
	for _, f := range s.filters {
		switch {
		case skip.Has(f.p.Name()):
		case f.local:
			// A rejection by a node-local plugin that runs before every
			// plugin looking beyond the node is the chain's verdict.
			local = append(local, localFilter{p: f.p, first: len(global) == 0})
		default:
			global = append(global, f.p)
		}
	}
	fits := grow(&s.buf.fits, len(nodes))
	clear(fits)
	errs := grow(&s.buf.errs, len(nodes))
	clear(errs)
	s.fw.Parallelizer().Until(ctx, len(nodes), func(i int) {
		n := nodes[i]
		e := &entries[n.slot]
		if e.generation != n.info.Generation {
			e.generation = n.info.Generation
			e.rejection, e.decisive = runFilters(ctx, state, pod, n, local, &errs[i])
			e.fits = e.rejection == nil && errs[i] == nil
			e.scored = false
		}
		if !e.fits {
			return
		}
		for _, p := range global {
			st := p.Filter(ctx, state, pod, n.info)
			if !st.IsSuccess() {
				if !st.IsRejected() {
					errs[i] = st
				}
				return
			}
		}
		fits[i] = true
	}, "Filter")
	var feasible []*nodeState
	for i := range nodes {
		if errs[i] != nil {
			return nil, errs[i].AsError()
		}
		if fits[i] {
			feasible = append(feasible, nodes[i])
		}
	}
	return feasible, nil
}

// localFilter is a node-local filter plugin in a cycle's chain; first is
// true when it runs before every plugin that looks beyond the node.
type localFilter struct {
	p     fwk.FilterPlugin
	first bool
}

// runFilters runs filters on one node in order. It returns the first
// rejection, named after its plugin as the framework names it, and
// whether that plugin runs before every plugin looking beyond the node
// (then the rejection is the whole chain's verdict for the node); nil
// when all passed. An error status other than a rejection goes to errOut.
func runFilters(ctx context.Context, state fwk.CycleState, pod *corev1.Pod, n *nodeState, filters []localFilter, errOut **fwk.Status) (*fwk.Status, bool) {
	for _, f := range filters {
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

// diagnose reruns the whole filter chain on every node, in order, to report
// the first plugin that rejected each one, exactly as the scheduler does.
//
// A node whose cached entry (entries, when the pod is cacheable) holds a
// node-local rejection that precedes every plugin looking beyond the node,
// computed at the node's current generation, gets that rejection without
// the chain being run again: it is what the chain would return.
func (s *Scheduler) diagnose(ctx context.Context, state fwk.CycleState, pod *corev1.Pod, nodes []*nodeState, unschedulablePlugins sets.Set[string], entries []cacheEntry) framework.Diagnosis {
	diag := framework.Diagnosis{NodeToStatus: framework.NewDefaultNodeToStatus(), UnschedulablePlugins: unschedulablePlugins}
	if diag.UnschedulablePlugins == nil {
		diag.UnschedulablePlugins = sets.New[string]()
	}
	var lastPlugin string
	var lastCode fwk.Code = -1
	for _, n := range nodes {
		var st *fwk.Status
		if entries != nil {
			if e := &entries[n.slot]; e.generation == n.info.Generation && e.rejection != nil && e.decisive {
				st = e.rejection
			}
		}
		if st == nil {
			if st = s.fw.RunFilterPlugins(ctx, state, pod, n.info); st.IsSuccess() {
				continue
			}
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
	// raw[k*nNodes+i] is plugin k's score of node i.
	raw := grow(&s.buf.raw, nNodes*nPlugins)
	errs := grow(&s.buf.errs, nNodes)
	clear(errs)
	s.fw.Parallelizer().Until(ctx, nNodes, func(i int) {
		n := feasible[i]
		e := &entries[n.slot]
		if !e.scored || e.generation != n.info.Generation {
			e.local = e.local[:0]
			for _, sp := range active {
				if !sp.local {
					continue
				}
				v, st := sp.p.Score(ctx, state, pod, n.info)
				if !st.IsSuccess() {
					errs[i] = st
					return
				}
				e.local = append(e.local, v)
			}
			e.scored, e.generation = true, n.info.Generation
		}
		li := 0
		for k, sp := range active {
			if sp.local {
				raw[k*nNodes+i] = e.local[li]
				li++
				continue
			}
			v, st := sp.p.Score(ctx, state, pod, n.info)
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
	s.parts.nsView.focus(pod.Namespace)
	s.parts.affView.focus(pod)
}
