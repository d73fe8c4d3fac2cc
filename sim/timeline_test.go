package sim_test

import (
	"testing"
	"time"

	"github.com/noderoll/noderoll/sim"
	"github.com/noderoll/noderoll/sim/rolling"
)

// TestTimeline checks the samples against the result they come from: in
// time order, never past the end, cumulative counters that end at the
// summary's totals, at most one batch out at once, nothing out or pending
// at the end of a rollout that placed every pod.
func TestTimeline(t *testing.T) {
	for _, tc := range []struct {
		name   string
		params rolling.Params
	}{
		{"a generated cluster in 10% batches", byName("10%")},
		{"a generated cluster in 25% batches (preemption, stuck drains)", byName("25%")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, r := run(t, generated(t, 1), tc.params, sim.Options{})
			if r == nil {
				return
			}
			tl := r.Timeline
			if len(tl) < 2*len(r.Batches) {
				t.Fatalf("%d samples for %d batches", len(tl), len(r.Batches))
			}
			maxBatch, maxPending := 0, 0
			for _, b := range r.Batches {
				maxBatch = max(maxBatch, len(b.Nodes))
				maxPending = max(maxPending, b.PendingPeak)
			}
			for i, s := range tl {
				if i > 0 {
					p := tl[i-1]
					if s.Seconds <= p.Seconds {
						t.Errorf("sample %d at %vs after one at %vs", i, s.Seconds, p.Seconds)
					}
					if s.Evictions < p.Evictions || s.EvictionsBlocked < p.EvictionsBlocked {
						t.Errorf("sample %d: a cumulative counter went down", i)
					}
				}
				if s.Seconds > r.Summary.DurationSeconds {
					t.Errorf("sample %d at %vs, after the end (%vs)", i, s.Seconds, r.Summary.DurationSeconds)
				}
				if s.NodesOut > maxBatch {
					t.Errorf("sample %d: %d nodes out, more than a batch (%d)", i, s.NodesOut, maxBatch)
				}
				if s.PodsPending > maxPending {
					t.Errorf("sample %d: %d pods pending, more than any batch's peak (%d)", i, s.PodsPending, maxPending)
				}
				if s.CPU.Allocatable <= 0 || s.CPU.Requested <= 0 || s.Memory.Allocatable <= 0 {
					t.Errorf("sample %d: empty capacity %+v", i, s)
				}
			}
			last := tl[len(tl)-1]
			if last.Evictions != r.Summary.Evictions || last.EvictionsBlocked != r.Summary.EvictionsBlocked {
				t.Errorf("last sample has %d evictions and %d 429s, the summary %d and %d",
					last.Evictions, last.EvictionsBlocked, r.Summary.Evictions, r.Summary.EvictionsBlocked)
			}
			if last.NodesOut != 0 {
				t.Errorf("%d nodes still out at the end", last.NodesOut)
			}
			if last.PodsPending != r.Summary.PendingAtEnd {
				t.Errorf("%d pods pending in the last sample, %d at the end", last.PodsPending, r.Summary.PendingAtEnd)
			}
		})
	}
}

// TestDurations checks the hook Monte Carlo runs use: every duration goes
// through it, and doubling them all doubles the rollout.
func TestDurations(t *testing.T) {
	base := func() *sim.Result { _, r := run(t, generated(t, 1), byName("10%"), sim.Options{}); return r }()
	kinds := map[string]int{}
	_, doubled := run(t, generated(t, 1), byName("10%"), sim.Options{Durations: func(kind string, median time.Duration) time.Duration {
		kinds[kind]++
		return 2 * median
	}})
	if base == nil || doubled == nil {
		return
	}
	for _, k := range sim.DurationKinds {
		if kinds[k] == 0 {
			t.Errorf("no %s duration was drawn", k)
		}
	}
	if doubled.Summary.DurationSeconds <= 1.5*base.Summary.DurationSeconds {
		t.Errorf("doubling every duration took the rollout from %vs to %vs", base.Summary.DurationSeconds, doubled.Summary.DurationSeconds)
	}
}
