package scheduler

import (
	"context"
	"encoding/binary"
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
//   - nominated pods are not held on their nodes (there is no queue).
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
		diag := s.diagnose(ctx, state, pod, candidates, unschedulablePlugins)
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
	var global []fwk.FilterPlugin
	for _, f := range s.filters {
		if !f.local && !skip.Has(f.p.Name()) {
			global = append(global, f.p)
		}
	}
	fits := make([]bool, len(nodes))
	errs := make([]*fwk.Status, len(nodes))
	s.fw.Parallelizer().Until(ctx, len(nodes), func(i int) {
		n := nodes[i]
		e := &entries[s.st.slotOf[n.info.Node().Name]]
		if e.generation != n.info.Generation {
			e.generation = n.info.Generation
			e.fits = s.runLocalFilters(ctx, state, pod, n, skip, &errs[i])
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

func (s *Scheduler) runLocalFilters(ctx context.Context, state fwk.CycleState, pod *corev1.Pod, n *nodeState, skip sets.Set[string], errOut **fwk.Status) bool {
	for _, f := range s.filters {
		if !f.local || skip.Has(f.p.Name()) {
			continue
		}
		st := f.p.Filter(ctx, state, pod, n.info)
		if !st.IsSuccess() {
			if !st.IsRejected() {
				*errOut = st
			}
			return false
		}
	}
	return true
}

// diagnose reruns the whole filter chain on every node, in order, to report
// the first plugin that rejected each one, exactly as the scheduler does.
func (s *Scheduler) diagnose(ctx context.Context, state fwk.CycleState, pod *corev1.Pod, nodes []*nodeState, unschedulablePlugins sets.Set[string]) framework.Diagnosis {
	diag := framework.Diagnosis{NodeToStatus: framework.NewDefaultNodeToStatus(), UnschedulablePlugins: unschedulablePlugins}
	if diag.UnschedulablePlugins == nil {
		diag.UnschedulablePlugins = sets.New[string]()
	}
	for _, n := range nodes {
		st := s.fw.RunFilterPlugins(ctx, state, pod, n.info)
		if st.IsSuccess() {
			continue
		}
		diag.NodeToStatus.Set(n.info.Node().Name, st)
		diag.AddPluginStatus(st)
	}
	return diag
}

// selectHost scores the feasible nodes and picks the best one.
func (s *Scheduler) selectHost(ctx context.Context, state fwk.CycleState, pod *corev1.Pod, feasible []*nodeState, entries []cacheEntry) (Result, error) {
	infos := make([]fwk.NodeInfo, len(feasible))
	for i, n := range feasible {
		infos[i] = n.info
	}
	if st := s.fw.RunPreScorePlugins(ctx, state, pod, infos); !st.IsSuccess() {
		return Result{}, st.AsError()
	}
	var scores []fwk.NodePluginScores
	if entries == nil {
		var st *fwk.Status
		scores, st = s.fw.RunScorePlugins(ctx, state, pod, infos)
		if !st.IsSuccess() {
			return Result{}, st.AsError()
		}
	} else {
		var err error
		if scores, err = s.scoreCached(ctx, state, pod, feasible, entries); err != nil {
			return Result{}, err
		}
	}
	best := 0
	bestTie := s.tieBreak(pod, scores[0].Name)
	for i := 1; i < len(scores); i++ {
		if scores[i].TotalScore < scores[best].TotalScore {
			continue
		}
		tie := s.tieBreak(pod, scores[i].Name)
		if scores[i].TotalScore > scores[best].TotalScore || tie > bestTie ||
			(tie == bestTie && scores[i].Name < scores[best].Name) {
			best, bestTie = i, tie
		}
	}
	return Result{NodeName: scores[best].Name}, nil
}

// scoreCached computes raw scores, reusing node-local plugins' raw scores
// for unchanged nodes, then lets the framework normalise and weigh them all.
func (s *Scheduler) scoreCached(ctx context.Context, state fwk.CycleState, pod *corev1.Pod, feasible []*nodeState, entries []cacheEntry) ([]fwk.NodePluginScores, error) {
	skip := state.GetSkipScorePlugins()
	var active []pluginRef[fwk.ScorePlugin]
	nLocal := 0
	for _, sp := range s.scores {
		if !skip.Has(sp.p.Name()) {
			active = append(active, sp)
			if sp.local {
				nLocal++
			}
		}
	}
	scores := make([]fwk.NodePluginScores, len(feasible))
	errs := make([]*fwk.Status, len(feasible))
	s.fw.Parallelizer().Until(ctx, len(feasible), func(i int) {
		n := feasible[i]
		e := &entries[s.st.slotOf[n.info.Node().Name]]
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
		raw := make([]fwk.PluginScore, 0, len(active))
		li := 0
		for _, sp := range active {
			if sp.local {
				raw = append(raw, fwk.PluginScore{Name: sp.p.Name(), Score: e.local[li]})
				li++
				continue
			}
			v, st := sp.p.Score(ctx, state, pod, n.info)
			if !st.IsSuccess() {
				errs[i] = st
				return
			}
			raw = append(raw, fwk.PluginScore{Name: sp.p.Name(), Score: v})
		}
		scores[i] = fwk.NodePluginScores{Name: n.info.Node().Name, RawScores: raw}
	}, "Score")
	for _, st := range errs {
		if st != nil {
			return nil, st.AsError()
		}
	}
	if st := s.fw.NormalizeScores(ctx, state, pod, scores); !st.IsSuccess() {
		return nil, st.AsError()
	}
	return scores, nil
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
