package analysis

import (
	"slices"
	"testing"

	"github.com/noderoll/noderoll/plan"
)

// TestLongestRunsStartFirst: a comparison starts the migration, then the
// rolling plans with the largest batches, so that a short run, not the
// longest, is the last to start on a busy machine.
func TestLongestRunsStartFirst(t *testing.T) {
	rollingPlan := func(batchNodes ...int) *plan.Plan {
		p := &plan.Plan{}
		for _, n := range batchNodes {
			p.Spec.Batches = append(p.Spec.Batches, plan.Batch{Nodes: make([]string, n)})
		}
		return p
	}
	plans := []*plan.Plan{
		rollingPlan(5, 5, 5),  // 1%
		rollingPlan(100, 100), // 20%
		{Spec: plan.Spec{Migration: &plan.MigrationSpec{}}},
		rollingPlan(25, 25, 10), // 5%
		rollingPlan(5, 5),       // 1% again: keeps its place after the first
	}
	if got, want := longestFirst(plans), []int{2, 1, 3, 0, 4}; !slices.Equal(got, want) {
		t.Errorf("start order %v, want %v", got, want)
	}
}
