package sim_test

import (
	"context"
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/util/intstr"

	. "github.com/noderoll/noderoll/internal/testutil"
	"github.com/noderoll/noderoll/sim"
	"github.com/noderoll/noderoll/sim/rolling"
)

// With the name order, a batch of two takes both replicas of each service
// (a1+a2, then b1+b2), so each PDB (maxUnavailable 1) refuses the second
// eviction until the first replacement is Ready. The planned order pairs
// nodes so that a batch takes one replica of each service (a1+b1, a2+b2).
// Some refusals remain, and must: the first batch's replacements can only
// land on the second batch's nodes, which then hold two replicas of each
// service (the churn that cordon-ahead or surge nodes address). The planned
// order must still refuse fewer evictions and stall less.
func TestPlannedOrderAvoidsPDBStalls(t *testing.T) {
	one := intstr.FromInt32(1)
	build := func() *cluster {
		c := newCluster(
			Node("a1").Cap("cpu", "4").Obj(), Node("a2").Cap("cpu", "4").Obj(),
			Node("b1").Cap("cpu", "4").Obj(), Node("b2").Cap("cpu", "4").Obj(),
		)
		c.deployment("web", "1", "a1", "a2")
		c.deployment("api", "1", "b1", "b2")
		c.pdb("web", "web", nil, &one)
		c.pdb("api", "api", nil, &one)
		return c
	}
	run := func(order string) *sim.Result {
		c := build()
		p, err := rolling.Plan(&c.snap, rolling.Params{BatchSize: "2", Order: order})
		if err != nil {
			t.Fatal(err)
		}
		res, err := sim.Run(context.Background(), &c.snap, p, sim.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	byName := run(rolling.OrderName)
	if byName.Summary.EvictionsBlocked == 0 || byName.Summary.PDBStallSeconds == 0 {
		t.Fatalf("name order: want refused evictions and a PDB stall (both replicas in one batch), got %d refused, %.0f s stall",
			byName.Summary.EvictionsBlocked, byName.Summary.PDBStallSeconds)
	}
	planned := run(rolling.OrderPlanned)
	if got, want := batchNodesOf(planned), [][]string{{"a1", "b1"}, {"a2", "b2"}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("planned batches %v, want %v (one replica of each service per batch)", got, want)
	}
	if planned.Summary.EvictionsBlocked >= byName.Summary.EvictionsBlocked || planned.Summary.PDBStallSeconds >= byName.Summary.PDBStallSeconds {
		t.Errorf("planned order: %d refused, %.0f s stall; want fewer than the name order's %d refused, %.0f s stall",
			planned.Summary.EvictionsBlocked, planned.Summary.PDBStallSeconds, byName.Summary.EvictionsBlocked, byName.Summary.PDBStallSeconds)
	}
	if planned.Summary.Evictions != byName.Summary.Evictions {
		t.Errorf("both orders evict every pod once: planned %d, name %d", planned.Summary.Evictions, byName.Summary.Evictions)
	}
	if planned.Summary.DurationSeconds >= byName.Summary.DurationSeconds {
		t.Errorf("planned order should be faster without stalls: %.0f s vs %.0f s", planned.Summary.DurationSeconds, byName.Summary.DurationSeconds)
	}
}

func batchNodesOf(r *sim.Result) [][]string {
	out := make([][]string, len(r.Batches))
	for i, b := range r.Batches {
		out[i] = b.Nodes
	}
	return out
}
