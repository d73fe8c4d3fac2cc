package sim_test

import (
	"context"
	"fmt"
	"math"
	"testing"

	corev1 "k8s.io/api/core/v1"

	. "github.com/noderoll/noderoll/internal/testutil"
	"github.com/noderoll/noderoll/sim"
	"github.com/noderoll/noderoll/sim/rolling"
)

func runVariant(t *testing.T, c *cluster, p rolling.Params) *sim.Result {
	t.Helper()
	p.Order = rolling.OrderName
	pl, err := rolling.Plan(&c.snap, p)
	if err != nil {
		t.Fatalf("planning: %v", err)
	}
	res, err := sim.Run(context.Background(), &c.snap, pl, sim.Options{Config: sim.DefaultConfig()})
	if err != nil {
		t.Fatalf("simulating: %v", err)
	}
	return res
}

// spreadCluster: six nodes, each running one pod of each of three
// deployments.
func spreadCluster() *cluster {
	var nodes []*corev1.Node
	var names []string
	for i := 1; i <= 6; i++ {
		name := fmt.Sprintf("n%d", i)
		nodes = append(nodes, Node(name).Cap("cpu", "4").Zone("a").Obj())
		names = append(names, name)
	}
	c := newCluster(nodes...)
	for _, d := range []string{"a", "b", "c"} {
		c.deployment(d, "500m", names...)
	}
	return c
}

func TestRollingVariants(t *testing.T) {
	t.Run("surge nodes take the evicted pods and cost machine-hours", func(t *testing.T) {
		full := func() *cluster {
			c := newCluster(Node("n1").Cap("cpu", "2").Obj(), Node("n2").Cap("cpu", "2").Obj())
			c.deployment("web", "1500m", "n1", "n2")
			return c
		}
		plain := runVariant(t, full(), rolling.Params{BatchSize: "1"})
		surge := runVariant(t, full(), rolling.Params{BatchSize: "1", Surge: 1})
		if plain.Summary.UnschedulablePods == 0 {
			t.Fatalf("without surge: want the evicted pod unschedulable (the other node is full)")
		}
		if surge.Summary.UnschedulablePods != 0 {
			t.Errorf("with one surge node: %d unschedulable, want 0", surge.Summary.UnschedulablePods)
		}
		if want := surge.Summary.DurationSeconds / 3600; math.Abs(surge.Summary.ExtraMachineHours-want) > 1e-9 || want == 0 {
			t.Errorf("extra machine-hours %.3f, want 1 machine × duration = %.3f", surge.Summary.ExtraMachineHours, want)
		}
		if plain.Summary.ExtraMachineHours != 0 {
			t.Errorf("without surge: extra machine-hours %.3f, want 0", plain.Summary.ExtraMachineHours)
		}
	})
	t.Run("cordoning every later batch ahead: no pod moves twice, but pods wait for the first node", func(t *testing.T) {
		plain := runVariant(t, spreadCluster(), rolling.Params{BatchSize: "1"})
		ahead := runVariant(t, spreadCluster(), rolling.Params{BatchSize: "1", CordonAhead: 5})
		if plain.Summary.PodsMovedMoreThanOnce == 0 {
			t.Fatalf("without cordon-ahead: want some pods moved more than once")
		}
		if ahead.Summary.PodsMovedMoreThanOnce != 0 {
			t.Errorf("cordon-ahead 5: %d pods moved more than once, want 0 (evicted pods only land on replaced nodes)", ahead.Summary.PodsMovedMoreThanOnce)
		}
		if ahead.Summary.UnschedulablePods == 0 || plain.Summary.UnschedulablePods != 0 {
			t.Errorf("unschedulable: %d with cordon-ahead 5 (want > 0: the first batch's pods wait), %d without (want 0)",
				ahead.Summary.UnschedulablePods, plain.Summary.UnschedulablePods)
		}
	})
	t.Run("a window of two is no slower than batches of two and faster than one at a time", func(t *testing.T) {
		one := runVariant(t, spreadCluster(), rolling.Params{BatchSize: "1"})
		two := runVariant(t, spreadCluster(), rolling.Params{BatchSize: "2"})
		win := runVariant(t, spreadCluster(), rolling.Params{Window: 2})
		if win.Summary.DurationSeconds > two.Summary.DurationSeconds || win.Summary.DurationSeconds >= one.Summary.DurationSeconds {
			t.Errorf("window 2: %.0fs; batches of 2: %.0fs; batches of 1: %.0fs", win.Summary.DurationSeconds, two.Summary.DurationSeconds, one.Summary.DurationSeconds)
		}
		if len(win.Batches) != 1 || len(win.Batches[0].Nodes) != 6 {
			t.Errorf("window: want one batch of the 6 nodes, got %+v", win.Batches)
		}
		if win.Summary.StuckNodes != 0 {
			t.Errorf("window: %d stuck nodes", win.Summary.StuckNodes)
		}
	})
}
