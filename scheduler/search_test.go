package scheduler_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"

	. "github.com/noderoll/noderoll/internal/testutil"
	"github.com/noderoll/noderoll/scheduler"
	"github.com/noderoll/noderoll/snapshot"
)

// nodesNamed returns n identical nodes, in one zone unless zones are
// given (then node i is in zones[i%len(zones)]), named node-000 on.
func nodesNamed(n int, zones ...string) []*corev1.Node {
	out := make([]*corev1.Node, n)
	for i := range out {
		b := Node(fmt.Sprintf("node-%03d", i))
		if len(zones) > 0 {
			b = b.Zone(zones[i%len(zones)])
		}
		out[i] = b.Obj()
	}
	return out
}

// sampling returns a scheduler over snap whose profile sets
// percentageOfNodesToScore, as a KubeSchedulerConfiguration file does.
func sampling(t *testing.T, snap *snapshot.Snapshot, percentage int) *scheduler.Scheduler {
	t.Helper()
	file := filepath.Join(t.TempDir(), "scheduler.yaml")
	cfg := fmt.Sprintf("apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\npercentageOfNodesToScore: %d\n", percentage)
	if err := os.WriteFile(file, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := scheduler.New(context.Background(), snap, scheduler.Options{Seed: 1, ConfigFile: file})
	if err != nil {
		t.Fatalf("scheduler.New: %v", err)
	}
	return s
}

func indexOf(names []string, name string) int {
	for i, n := range names {
		if n == name {
			return i
		}
	}
	return -1
}

// With percentageOfNodesToScore at 50 on a cluster of 200 nodes the
// scheduler stops after 100 feasible nodes, and the next cycle starts where
// that one stopped: two cycles in a row look at the two halves of the
// cluster.
func TestEachCycleSearchesFromWhereTheLastStopped(t *testing.T) {
	s := sampling(t, cluster(nodesNamed(200)), 50)
	order := s.NodeNames()
	ctx := context.Background()
	for cycle, want := range [][2]int{{0, 100}, {100, 200}, {0, 100}} {
		res, err := s.Schedule(ctx, Pod("probe").Req("cpu", "1").Obj())
		if err != nil || res.NodeName == "" {
			t.Fatalf("cycle %d: %v %+v", cycle, err, res.Unschedulable)
		}
		if i := indexOf(order, res.NodeName); i < want[0] || i >= want[1] {
			t.Errorf("cycle %d chose %s, node %d in the scheduler's order; want one of nodes %d to %d", cycle, res.NodeName, i, want[0], want[1]-1)
		}
	}
}

// Every node is a candidate in every cycle below 100 nodes, whatever the
// percentage, and on any cluster when the profile sets no percentage.
func TestEveryNodeIsSearchedUnlessTheProfileSamples(t *testing.T) {
	roomiest := func(n, at int) *snapshot.Snapshot {
		nodes := nodesNamed(n)
		nodes[at] = Node(nodes[at].Name).Cap("cpu", "64").Obj()
		return cluster(nodes)
	}
	tests := []struct {
		name string
		s    *scheduler.Scheduler
		want string
	}{
		{"99 nodes, 10% to score", sampling(t, roomiest(99, 42), 10), "node-042"},
		{"200 nodes, the default profile", newScheduler(t, roomiest(200, 150), false), "node-150"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for cycle := range 3 {
				if got := mustPlace(t, tc.s, Pod(fmt.Sprintf("p%d", cycle)).Req("cpu", "1").Obj()); got != tc.want {
					t.Fatalf("cycle %d chose %s, want the roomiest node, %s", cycle, got, tc.want)
				}
			}
		})
	}
}

// The scheduler's node order takes one node from each zone in turn, so that
// the share of nodes a cycle looks at spans the zones.
func TestNodeOrderInterleavesZones(t *testing.T) {
	s := newScheduler(t, cluster(nodesNamed(6, "a", "a", "a", "b", "b", "c")), false)
	// Zone a: 000, 001, 002; zone b: 003, 004; zone c: 005; zones by their
	// first node's name.
	want := []string{"node-000", "node-003", "node-005", "node-001", "node-004", "node-002"}
	if got := s.NodeNames(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("order %v, want %v", got, want)
	}
	// A node that leaves and joins again goes to the end of its zone.
	n0 := Node("node-000").Zone("a").Obj()
	if err := s.RemoveNode("node-000"); err != nil {
		t.Fatal(err)
	}
	s.AddNode(n0)
	want = []string{"node-001", "node-003", "node-005", "node-002", "node-004", "node-000"}
	if got := s.NodeNames(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after node-000 rejoined: order %v, want %v", got, want)
	}
}

// A what-if trial in a fork does not move the next cycle's start.
func TestRevertRestoresTheSearchStart(t *testing.T) {
	ctx := context.Background()
	fresh := func() *scheduler.Scheduler { return sampling(t, cluster(nodesNamed(200)), 50) }
	plain := fresh()
	want, err := plain.Schedule(ctx, Pod("probe").Req("cpu", "1").Obj())
	if err != nil {
		t.Fatal(err)
	}
	s := fresh()
	s.Fork()
	if _, err := s.TryPlace(ctx, Pod("trial").Req("cpu", "1").Obj()); err != nil {
		t.Fatal(err)
	}
	s.Revert()
	got, err := s.Schedule(ctx, Pod("probe").Req("cpu", "1").Obj())
	if err != nil {
		t.Fatal(err)
	}
	if got.NodeName != want.NodeName {
		t.Fatalf("after a reverted trial the probe went to %s, want %s as without the trial", got.NodeName, want.NodeName)
	}
}
