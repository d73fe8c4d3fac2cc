package analysis

import (
	"context"
	"fmt"
	"strconv"

	"github.com/noderoll/noderoll/plan"
	"github.com/noderoll/noderoll/sim"
	"github.com/noderoll/noderoll/whatif"
)

// SurgeSearch is the outcome of MinimalSurge.
type SurgeSearch struct {
	// Nodes is the fewest surge nodes found enough.
	Nodes int `json:"nodes"`
	// Upper is the largest surge tried: a batch's worth of nodes.
	Upper int `json:"upper"`
	// Runs is how many simulations the search took (the run without surge
	// given to it not counted).
	Runs int `json:"runs"`
	// Enough is false when even Upper leaves a shortfall: Nodes is then
	// Upper, and what remains is not a matter of capacity.
	Enough bool `json:"enough"`
	// Unschedulable is the unschedulable pods left at Nodes, which surge
	// does not remove (affinity, taints, volumes).
	Unschedulable int `json:"unschedulable"`
	// Result is the run at Nodes.
	Result *sim.Result `json:"-"`
}

// Shortfalls counts a run's capacity shortfalls (CapacityShortfall risks,
// one per batch at most).
func Shortfalls(r *sim.Result) int {
	n := 0
	for _, k := range r.Risks {
		if k.Code == plan.RiskCapacityShortfall {
			n++
		}
	}
	return n
}

// MinimalSurge finds, by bisection on the simulation, the fewest surge
// nodes in [0, upper] for which no batch has a capacity shortfall and no
// more pods are unschedulable than with upper surge nodes: the pods that
// surge nodes cannot place (pinned by affinity, taints or volumes) are not
// asked of it. base is the run without surge (nil: run it). run simulates
// with k surge nodes.
//
// It assumes more nodes never hurt (monotone in k): the bisection keeps
// the invariant that lo is not enough and hi is, and confirms hi by its own
// run. It takes 1 + ⌈log2(upper)⌉ runs at most beyond base.
func MinimalSurge(ctx context.Context, upper int, base *sim.Result, run func(ctx context.Context, k int) (*sim.Result, error)) (SurgeSearch, error) {
	out := SurgeSearch{Upper: upper}
	if base == nil {
		r, err := run(ctx, 0)
		if err != nil {
			return out, err
		}
		out.Runs++
		base = r
	}
	clean := Shortfalls(base) == 0 && base.Summary.UnschedulablePods == 0
	if clean || upper <= 0 {
		out.Enough, out.Result, out.Unschedulable = clean, base, base.Summary.UnschedulablePods
		return out, nil
	}
	top, err := run(ctx, upper)
	if err != nil {
		return out, err
	}
	out.Runs++
	floor := top.Summary.UnschedulablePods
	enough := func(r *sim.Result) bool { return Shortfalls(r) == 0 && r.Summary.UnschedulablePods <= floor }
	if enough(base) {
		// Without surge there is no shortfall and no pod surge could place.
		out.Nodes, out.Enough, out.Result, out.Unschedulable = 0, true, base, base.Summary.UnschedulablePods
		return out, nil
	}
	if Shortfalls(top) > 0 {
		out.Nodes, out.Result, out.Unschedulable = upper, top, floor
		return out, nil
	}
	lo, hi, best := 0, upper, top
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		r, err := run(ctx, mid)
		if err != nil {
			return out, err
		}
		out.Runs++
		if enough(r) {
			hi, best = mid, r
		} else {
			lo = mid
		}
	}
	out.Nodes, out.Enough, out.Result, out.Unschedulable = hi, true, best, best.Summary.UnschedulablePods
	return out, nil
}

// autoSurge runs a surge=auto strategy: the minimal surge for its plan,
// the plan's own surge nodes (Spec.Surge) varied. The result's surge
// parameter says the count found.
func autoSurge(ctx context.Context, wi *whatif.Applied, st Strategy, p *plan.Plan, newOSImage string, opts sim.Options) (*sim.Result, SurgeSearch, error) {
	upper := 0
	for _, b := range p.Spec.Batches {
		upper = max(upper, len(b.Nodes))
	}
	run := func(ctx context.Context, k int) (*sim.Result, error) {
		q, err := st.Plan(wi.Planning, newOSImage)
		if err != nil {
			return nil, err
		}
		q.Spec.Surge = k
		if k > 0 {
			q.Metadata.Params["surge"] = strconv.Itoa(k)
		}
		return sim.Run(ctx, wi.Snapshot, q, opts)
	}
	search, err := MinimalSurge(ctx, upper, nil, run)
	if err != nil {
		return nil, search, fmt.Errorf("finding the minimal surge: %w", err)
	}
	res := search.Result
	res.Params["surge"] = fmt.Sprintf("auto(%d)", search.Nodes)
	return res, search, nil
}
