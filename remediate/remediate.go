package remediate

import (
	"cmp"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/noderoll/noderoll/analysis"
	"github.com/noderoll/noderoll/plan"
	"github.com/noderoll/noderoll/sim"
	"github.com/noderoll/noderoll/snapshot"
	"github.com/noderoll/noderoll/whatif"
)

// Options configure a search.
type Options struct {
	// Strategy is the strategy to make approvable.
	Strategy analysis.Strategy
	// Sim are the simulation options of every run (Progress is ignored).
	Sim sim.Options
	// NewOSImage is what reinstalled nodes report.
	NewOSImage string
	// Base is a what-if file the fixes are added to (nil: none); BaseName
	// names it in errors.
	Base     *whatif.File
	BaseName string
	// MaxRounds bounds the rounds of fixes (one re-simulation each);
	// 0 means 3.
	MaxRounds int
	// Progress, when set, is told what the search is doing.
	Progress func(msg string)
}

// Fix is one change to the cluster.
type Fix struct {
	// Kind is scale, pdb, deletePod, surge or acceptOutage.
	Kind string `json:"kind"`
	// Object is the object changed ("Deployment/ns/name").
	Object string `json:"object"`
	// Change says what changes, in words.
	Change string `json:"change"`
	// Addresses are the risks ("Code Object") of the run before the fix
	// that it is meant to remove.
	Addresses []string `json:"addresses"`
	// RiskRemoved counts those gone in the run after every fix.
	RiskRemoved int `json:"riskRemoved"`
	// Cost is what the fix costs to run.
	Cost Cost `json:"cost"`
	// Apply is the change as a person applies it: a kubectl line or a
	// manifest.
	Apply string `json:"apply"`
	// Round is the search round that found it (1-based; the surge and the
	// accepted outages come after the rounds).
	Round int `json:"round"`

	edit func(*whatif.File)
	key  string
}

// Cost is a fix's price.
type Cost struct {
	// CPU and MemoryGiB are the extra replicas' requests.
	CPU       float64 `json:"cpuCores,omitempty"`
	MemoryGiB float64 `json:"memoryGiB,omitempty"`
	// MachineHours are surge machines × the run's hours.
	MachineHours float64 `json:"machineHours,omitempty"`
}

func (c Cost) String() string {
	var parts []string
	if c.CPU > 0 || c.MemoryGiB > 0 {
		parts = append(parts, fmt.Sprintf("%.2f cores, %.2f GiB requested", c.CPU, c.MemoryGiB))
	}
	if c.MachineHours > 0 {
		parts = append(parts, fmt.Sprintf("%.1f machine-hours", c.MachineHours))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// weight is the cost as one figure for the greedy order: cores, GiB/4 and
// machine-hours alike.
func (c Cost) weight() float64 { return c.CPU + c.MemoryGiB/4 + c.MachineHours }

// Outcome is the search's answer.
type Outcome struct {
	// Strategy is the spec searched for.
	Strategy string `json:"strategy"`
	// Before and After are the runs without and with the fixes.
	Before *sim.Result `json:"before"`
	After  *sim.Result `json:"after"`
	// Fixes are the changes, in the order found (greedy: the most risk
	// removed per cost first within a round).
	Fixes []Fix `json:"fixes"`
	// Total is what all the fixes cost.
	Total Cost `json:"total"`
	// WhatIf reproduces the fixed run (`--what-if`).
	WhatIf *whatif.File `json:"whatIf"`
	// Simulations is how many runs the search took, the first included.
	Simulations int `json:"simulations"`
	// Rounds is how many rounds of fixes were simulated.
	Rounds int `json:"rounds"`
	// Surge is the minimal surge search, when one was run.
	Surge *analysis.SurgeSearch `json:"surge,omitempty"`
	// Approvable: the fixed run passes analysis.Safe with no capacity
	// shortfall.
	Approvable bool `json:"approvable"`
	// Blocking are the risks still blocking approval after the fixes
	// ("Code Object"), at most 20.
	Blocking []string `json:"blocking,omitempty"`
}

// Approvable reports whether a run passes the change board's rule
// (analysis.Safe) and has no capacity shortfall.
func Approvable(r *sim.Result) bool { return analysis.Safe(r) && analysis.Shortfalls(r) == 0 }

// searcher holds one search's state.
type searcher struct {
	ctx  context.Context
	snap *snapshot.Snapshot
	opts Options
	runs int
}

// Run searches the fixes for opts.Strategy on snap.
func Run(ctx context.Context, snap *snapshot.Snapshot, opts Options) (*Outcome, error) {
	if opts.MaxRounds <= 0 {
		opts.MaxRounds = 3
	}
	if opts.Strategy.Kind != "rolling" {
		return nil, fmt.Errorf("remediate %q: only rolling strategies (a migration moves every pod once; its risks are not fixed the same way)", opts.Strategy.Spec)
	}
	s := &searcher{ctx: ctx, snap: snap, opts: opts}
	file := &whatif.File{}
	if opts.Base != nil {
		c := *opts.Base
		file = &c
	}
	s.say("simulating %s as it stands", opts.Strategy.Spec)
	before, applied, err := s.simulate(file)
	if err != nil {
		return nil, err
	}
	out := &Outcome{Strategy: opts.Strategy.Spec, Before: before}
	last := before
	tried := map[string]bool{}
	// runBefore[i] is the run each fix was found on, to confirm it.
	var foundOn []*sim.Result
	for round := 1; round <= opts.MaxRounds && !Approvable(last); round++ {
		cands := candidates(applied, last, tried)
		if len(cands) == 0 {
			break
		}
		for i := range cands {
			tried[cands[i].key] = true
			cands[i].Round = round
			cands[i].edit(file)
			foundOn = append(foundOn, last)
		}
		out.Fixes = append(out.Fixes, cands...)
		s.say("round %d: %d fixes, re-simulating", round, len(cands))
		res, a, err := s.simulate(file)
		if err != nil {
			return nil, fmt.Errorf("round %d: %w", round, err)
		}
		last, applied = res, a
		out.Rounds = round
	}
	if analysis.Shortfalls(last) > 0 || last.Summary.UnschedulablePods > 0 {
		upper := s.largestBatch(applied)
		s.say("searching the minimal surge in [0, %d]", upper)
		search, err := analysis.MinimalSurge(ctx, upper, last, func(ctx context.Context, k int) (*sim.Result, error) {
			f := *file
			f.Surge = &whatif.Surge{Nodes: k}
			res, _, err := s.simulate(&f)
			return res, err
		})
		if err != nil {
			return nil, err
		}
		out.Surge = &search
		if search.Nodes > 0 && search.Result != last {
			before := last
			file.Surge = &whatif.Surge{Nodes: search.Nodes}
			last = search.Result
			if applied, err = s.apply(file); err != nil {
				return nil, err
			}
			shape := whatif.MostCommonShape(snap)
			f := surgeFix(search, shape.Name, last, before)
			out.Fixes = append(out.Fixes, f)
			foundOn = append(foundOn, before)
		}
	}
	// Outages no replica or budget avoids: accepted, to be announced.
	if acc := acceptable(applied, last); len(acc) > 0 {
		for _, f := range acc {
			f.edit(file)
			out.Fixes = append(out.Fixes, f)
			foundOn = append(foundOn, last)
		}
		if applied, err = s.apply(file); err != nil {
			return nil, err
		}
		applied.Annotate(last)
	}
	present := riskKeys(last)
	for i := range out.Fixes {
		f := &out.Fixes[i]
		had := riskKeys(foundOn[i])
		for _, k := range f.Addresses {
			if had[k] && (!present[k] || (f.Kind == "acceptOutage" && acceptedIn(last, k))) {
				f.RiskRemoved++
			}
		}
		out.Total.CPU += f.Cost.CPU
		out.Total.MemoryGiB += f.Cost.MemoryGiB
		out.Total.MachineHours += f.Cost.MachineHours
	}
	out.After, out.WhatIf, out.Simulations = last, file, s.runs
	out.Approvable = Approvable(last)
	out.Blocking = blocking(last)
	return out, nil
}

func (s *searcher) say(format string, args ...any) {
	if s.opts.Progress != nil {
		s.opts.Progress(fmt.Sprintf(format, args...))
	}
}

// apply applies the file to the snapshot.
func (s *searcher) apply(f *whatif.File) (*whatif.Applied, error) {
	a, err := whatif.Apply(s.ctx, s.opts.BaseName, f, s.snap, s.opts.Sim.Config, whatif.ApplyOptions{Scheduler: s.opts.Sim.Scheduler})
	if err != nil {
		return nil, fmt.Errorf("applying the fixes: %w", err)
	}
	return a, nil
}

// simulate runs the strategy on the snapshot with the file applied.
func (s *searcher) simulate(f *whatif.File) (*sim.Result, *whatif.Applied, error) {
	a, err := s.apply(f)
	if err != nil {
		return nil, nil, err
	}
	p, err := s.opts.Strategy.Plan(a.Planning, s.opts.NewOSImage)
	if err != nil {
		return nil, nil, fmt.Errorf("planning %q: %w", s.opts.Strategy.Spec, err)
	}
	opts := s.opts.Sim
	opts.Config, opts.Progress = a.Config, nil
	res, err := sim.Run(s.ctx, a.Snapshot, p, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("simulating %q: %w", s.opts.Strategy.Spec, err)
	}
	s.runs++
	a.Annotate(res)
	return res, a, nil
}

// largestBatch is the most nodes a batch of the strategy's plan holds.
func (s *searcher) largestBatch(a *whatif.Applied) int {
	p, err := s.opts.Strategy.Plan(a.Planning, s.opts.NewOSImage)
	if err != nil {
		return 0
	}
	n := 0
	for _, b := range p.Spec.Batches {
		n = max(n, len(b.Nodes))
	}
	return n
}

// riskKeys are a run's risks as "Code Object".
func riskKeys(r *sim.Result) map[string]bool {
	out := make(map[string]bool, len(r.Risks))
	for _, k := range r.Risks {
		out[k.Code+" "+k.Object] = true
	}
	return out
}

func acceptedIn(r *sim.Result, key string) bool {
	obj, ok := strings.CutPrefix(key, plan.RiskServiceOutage+" ")
	if !ok {
		return false
	}
	for _, sv := range r.Services {
		if sv.Service == obj {
			return sv.Accepted
		}
	}
	return false
}

// blocking lists what still blocks approval.
func blocking(r *sim.Result) []string {
	accepted := map[string]bool{}
	for _, sv := range r.Services {
		accepted[sv.Service] = sv.Accepted
	}
	var out []string
	for _, k := range r.Risks {
		switch k.Code {
		case plan.RiskServiceOutage:
			if accepted[k.Object] {
				continue
			}
		case plan.RiskDrainStuck, plan.RiskUnmanagedPod, plan.RiskCapacityShortfall:
		default:
			continue
		}
		out = append(out, k.Code+" "+k.Object)
	}
	if r.Summary.PendingAtEnd > 0 {
		out = append(out, fmt.Sprintf("PendingAtEnd %d pods", r.Summary.PendingAtEnd))
	}
	return out[:min(len(out), 20)]
}

var blockedBy = regexp.MustCompile(`blocked by PodDisruptionBudget/([^/\s]+)/([^:\s]+):`)

// sortFixes orders a round's fixes: the most risks addressed per cost
// first, then by object.
func sortFixes(fs []Fix) {
	slices.SortStableFunc(fs, func(a, b Fix) int {
		ra := float64(len(a.Addresses)) / (1 + a.Cost.weight())
		rb := float64(len(b.Addresses)) / (1 + b.Cost.weight())
		return cmp.Or(-cmp.Compare(ra, rb), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Object, b.Object))
	})
}
