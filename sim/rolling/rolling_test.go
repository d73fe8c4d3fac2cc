package rolling_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/noderoll/noderoll/internal/testutil"
	"github.com/noderoll/noderoll/plan"
	"github.com/noderoll/noderoll/sim/rolling"
	"github.com/noderoll/noderoll/snapshot"
	"github.com/noderoll/noderoll/snapshot/synth"
)

func TestParseBatchSize(t *testing.T) {
	tests := []struct {
		name  string
		spec  string
		nodes int
		want  int
	}{
		{"a count is taken as is", "10", 500, 10},
		{"a count of one", "1", 20, 1},
		{"surrounding spaces are ignored", " 3 ", 20, 3},
		{"a count larger than the cluster is kept (the plan then has one batch)", "50", 20, 50},
		{"a percentage that divides evenly", "5%", 500, 25},
		{"a percentage of 10 nodes", "10%", 10, 1},
		{"a percentage is rounded up, never down (2.5 -> 3)", "10%", 25, 3},
		{"a percentage is rounded up (1.4 -> 2)", "7%", 20, 2},
		{"a tiny percentage still takes one node", "1%", 20, 1},
		{"a percentage of an empty cluster is one", "5%", 0, 1},
		{"100% takes every node", "100%", 20, 20},
		{"a fractional percentage is rounded up", "0.5%", 500, 3},
		{"a fractional percentage that lands on a whole count is not rounded past it", "2.2%", 500, 11},
		// 2.2% of 1500 is exactly 33; 2.2*1500/100 in float64 is 33.000000000000004.
		{"a fractional percentage exact in decimal is not pushed up by floating-point error", "2.2%", 1500, 33},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := rolling.ParseBatchSize(tc.spec, tc.nodes)
			if err != nil {
				t.Fatalf("ParseBatchSize(%q, %d): %v", tc.spec, tc.nodes, err)
			}
			if got != tc.want {
				t.Fatalf("ParseBatchSize(%q, %d) = %d, want %d", tc.spec, tc.nodes, got, tc.want)
			}
		})
	}
}

func TestParseBatchSizeRejectsBadInput(t *testing.T) {
	for _, spec := range []string{"", "   ", "0", "-1", "abc", "1.5", "%", "0%", "-5%", "101%", "ten%", "5%%", "1e400%"} {
		t.Run(fmt.Sprintf("%q is rejected", spec), func(t *testing.T) {
			got, err := rolling.ParseBatchSize(spec, 20)
			if err == nil {
				t.Fatalf("ParseBatchSize(%q, 20) = %d, want an error", spec, got)
			}
			if got != 0 {
				t.Errorf("ParseBatchSize(%q, 20) returned %d with its error, want 0", spec, got)
			}
		})
	}
}

// smallCluster has nodes in three zones (names deliberately not in zone
// order) and one node without a zone label, and pods such that the
// emptiest-first order differs from the name order.
//
//	node  zone  movable pods (DaemonSet and mirror pods do not count)
//	a1    z2    3
//	a2    z1    0 (one DaemonSet pod, one mirror pod)
//	b1    z1    2
//	b2    z3    1 (+ one DaemonSet pod)
//	c1    z2    0
//	c2    z1    2
//	d1    -     1
func smallCluster() *snapshot.Snapshot {
	snap := &snapshot.Snapshot{TakenAt: metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))}
	for _, n := range []*corev1.Node{
		testutil.Node("a1").Zone("z2").Obj(),
		testutil.Node("a2").Zone("z1").Obj(),
		testutil.Node("b1").Zone("z1").Obj(),
		testutil.Node("b2").Zone("z3").Obj(),
		testutil.Node("c1").Zone("z2").Obj(),
		testutil.Node("c2").Zone("z1").Obj(),
		testutil.Node("d1").Obj(),
	} {
		snap.Nodes = append(snap.Nodes, *n)
	}
	add := func(p *corev1.Pod) { snap.Pods = append(snap.Pods, *p) }
	for i := range 3 {
		add(testutil.Pod(fmt.Sprintf("web-a1-%d", i)).OwnedBy("ReplicaSet", "web").On("a1").Running().Obj())
	}
	add(testutil.Pod("agent-a2").OwnedBy("DaemonSet", "agent").On("a2").Running().Obj())
	mirror := testutil.Pod("etcd-a2").On("a2").Running().Obj()
	mirror.Annotations = map[string]string{corev1.MirrorPodAnnotationKey: "x"}
	add(mirror)
	add(testutil.Pod("web-b1-0").OwnedBy("ReplicaSet", "web").On("b1").Running().Obj())
	add(testutil.Pod("bare-b1").On("b1").Running().Obj()) // a bare pod is evicted too, so it counts
	add(testutil.Pod("agent-b2").OwnedBy("DaemonSet", "agent").On("b2").Running().Obj())
	add(testutil.Pod("db-b2-0").OwnedBy("StatefulSet", "db").On("b2").Running().Obj())
	add(testutil.Pod("web-c2-0").OwnedBy("ReplicaSet", "web").On("c2").Running().Obj())
	add(testutil.Pod("web-c2-1").OwnedBy("ReplicaSet", "web").On("c2").Running().Obj())
	add(testutil.Pod("job-d1").OwnedBy("Job", "report").On("d1").Running().Obj())
	add(testutil.Pod("pending").OwnedBy("ReplicaSet", "web").Obj()) // not bound: on no node
	return snap
}

func batchNodes(p *plan.Plan) [][]string {
	out := make([][]string, len(p.Spec.Batches))
	for i, b := range p.Spec.Batches {
		out[i] = b.Nodes
	}
	return out
}

func TestPlanOrders(t *testing.T) {
	tests := []struct {
		name   string
		params rolling.Params
		want   [][]string
	}{
		{
			name:   "name order takes nodes alphabetically",
			params: rolling.Params{BatchSize: "2", Order: rolling.OrderName},
			want:   [][]string{{"a1", "a2"}, {"b1", "b2"}, {"c1", "c2"}, {"d1"}},
		},
		{
			name:   "zone order goes zone by zone (zones sorted, the unlabelled group first), a batch never spans two zones",
			params: rolling.Params{BatchSize: "2", Order: rolling.OrderZone},
			want:   [][]string{{"d1"}, {"a2", "b1"}, {"c2"}, {"a1", "c1"}, {"b2"}},
		},
		{
			name:   "fewest-pods takes the emptiest nodes first, ties by name, DaemonSet and mirror pods not counted",
			params: rolling.Params{BatchSize: "3", Order: rolling.OrderFewestPods},
			want:   [][]string{{"a2", "c1", "b2"}, {"d1", "b1", "c2"}, {"a1"}},
		},
		{
			name:   "a batch size of one gives one node per batch",
			params: rolling.Params{BatchSize: "1", Order: rolling.OrderName},
			want:   [][]string{{"a1"}, {"a2"}, {"b1"}, {"b2"}, {"c1"}, {"c2"}, {"d1"}},
		},
		{
			name:   "a percentage is a share of all nodes, rounded up (30% of 7 = 2.1 -> 3)",
			params: rolling.Params{BatchSize: "30%", Order: rolling.OrderName},
			want:   [][]string{{"a1", "a2", "b1"}, {"b2", "c1", "c2"}, {"d1"}},
		},
		{
			name:   "a count larger than the cluster makes a single batch",
			params: rolling.Params{BatchSize: "100", Order: rolling.OrderName},
			want:   [][]string{{"a1", "a2", "b1", "b2", "c1", "c2", "d1"}},
		},
		{
			name:   "the defaults are 10% batches in name order",
			params: rolling.Params{},
			want:   [][]string{{"a1"}, {"a2"}, {"b1"}, {"b2"}, {"c1"}, {"c2"}, {"d1"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			snap := smallCluster()
			p, err := rolling.Plan(snap, tc.params)
			if err != nil {
				t.Fatal(err)
			}
			if got := batchNodes(p); !equalBatches(got, tc.want) {
				t.Fatalf("batches %v, want %v", got, tc.want)
			}
			for i, b := range p.Spec.Batches {
				if b.Index != i {
					t.Errorf("batch %d has index %d", i, b.Index)
				}
			}
			checkEveryNodeOnce(t, snap, p)
		})
	}
}

func equalBatches(a, b [][]string) bool {
	return slices.EqualFunc(a, b, func(x, y []string) bool { return slices.Equal(x, y) })
}

func TestPlanMetadata(t *testing.T) {
	snap := smallCluster()
	p, err := rolling.Plan(snap, rolling.Params{BatchSize: "2", Order: rolling.OrderZone, SoakSeconds: 30, NewOSImage: "Flatcar 4000"})
	if err != nil {
		t.Fatal(err)
	}
	if p.APIVersion != plan.APIVersion || p.Kind != plan.Kind {
		t.Errorf("type %s/%s, want %s/%s", p.APIVersion, p.Kind, plan.APIVersion, plan.Kind)
	}
	if p.Metadata.Strategy != "rolling" {
		t.Errorf("strategy %q, want rolling", p.Metadata.Strategy)
	}
	if p.Metadata.SnapshotFingerprint != snap.Fingerprint() {
		t.Errorf("fingerprint %q, want the snapshot's %q", p.Metadata.SnapshotFingerprint, snap.Fingerprint())
	}
	if p.Metadata.Params["batchSize"] != "2" || p.Metadata.Params["order"] != rolling.OrderZone {
		t.Errorf("params %v, want batchSize 2 and order zone", p.Metadata.Params)
	}
	if p.Spec.Drain != plan.DefaultDrainOptions() {
		t.Errorf("drain options %+v, want the defaults %+v", p.Spec.Drain, plan.DefaultDrainOptions())
	}
	if p.Spec.SoakSeconds != 30 || p.Spec.Gates.ExpectedOSImage != "Flatcar 4000" {
		t.Errorf("soak %d / image %q, want 30 / Flatcar 4000", p.Spec.SoakSeconds, p.Spec.Gates.ExpectedOSImage)
	}

	custom := plan.DrainOptions{IgnoreDaemonSets: true, TimeoutSeconds: 60}
	p, err = rolling.Plan(snap, rolling.Params{BatchSize: "1", Drain: &custom})
	if err != nil {
		t.Fatal(err)
	}
	if p.Spec.Drain != custom {
		t.Errorf("drain options %+v, want the ones given %+v", p.Spec.Drain, custom)
	}
}

func TestPlanRejectsBadParams(t *testing.T) {
	snap := smallCluster()
	for _, p := range []rolling.Params{
		{BatchSize: "0"},
		{BatchSize: "150%"},
		{BatchSize: "x"},
		{BatchSize: "1", Order: "random"},
		{BatchSize: "1", Order: "Name"},
	} {
		t.Run(fmt.Sprintf("batch %q order %q is an error", p.BatchSize, p.Order), func(t *testing.T) {
			if got, err := rolling.Plan(snap, p); err == nil {
				t.Fatalf("want an error, got a plan with %d batches", len(got.Spec.Batches))
			}
		})
	}
}

func TestPlanOfAnEmptyClusterHasNoBatch(t *testing.T) {
	p, err := rolling.Plan(&snapshot.Snapshot{}, rolling.Params{BatchSize: "10%", Order: rolling.OrderZone})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Spec.Batches) != 0 {
		t.Fatalf("want no batch, got %v", batchNodes(p))
	}
}

// TestPlanOnGeneratedClusters checks, on generated clusters, every order and
// several batch sizes: every node exactly once, batch sizes, and each
// order's defining property.
func TestPlanOnGeneratedClusters(t *testing.T) {
	for seed := int64(1); seed <= 3; seed++ {
		snap, err := synth.Generate(context.Background(), synth.Config{Profile: "small", Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		zone := map[string]string{}
		for i := range snap.Nodes {
			zone[snap.Nodes[i].Name] = snapshot.NodeZone(&snap.Nodes[i])
		}
		movable := movablePods(snap)
		for _, size := range []string{"1", "3", "10%", "25%", "100%"} {
			for _, order := range rolling.Orders {
				t.Run(fmt.Sprintf("seed %d batch %s order %s", seed, size, order), func(t *testing.T) {
					p, err := rolling.Plan(snap, rolling.Params{BatchSize: size, Order: order})
					if err != nil {
						t.Fatal(err)
					}
					checkEveryNodeOnce(t, snap, p)
					limit, _ := rolling.ParseBatchSize(size, len(snap.Nodes))
					var flat []string
					for _, b := range p.Spec.Batches {
						if len(b.Nodes) == 0 || len(b.Nodes) > limit {
							t.Errorf("batch %d has %d nodes, want 1..%d", b.Index, len(b.Nodes), limit)
						}
						flat = append(flat, b.Nodes...)
					}
					switch order {
					case rolling.OrderName:
						if !sort.StringsAreSorted(flat) {
							t.Errorf("name order not alphabetical: %v", flat)
						}
						// Only the last batch may be short.
						for _, b := range p.Spec.Batches[:len(p.Spec.Batches)-1] {
							if len(b.Nodes) != limit {
								t.Errorf("batch %d has %d nodes, want %d", b.Index, len(b.Nodes), limit)
							}
						}
					case rolling.OrderZone:
						seen := map[string]bool{}
						prev := ""
						for _, b := range p.Spec.Batches {
							z := zone[b.Nodes[0]]
							for _, n := range b.Nodes {
								if zone[n] != z {
									t.Errorf("batch %d mixes zones %s and %s: %v", b.Index, z, zone[n], b.Nodes)
								}
							}
							if z != prev && seen[z] {
								t.Errorf("zone %s comes back in batch %d after another zone", z, b.Index)
							}
							seen[z], prev = true, z
						}
					case rolling.OrderFewestPods:
						for i := 1; i < len(flat); i++ {
							a, b := flat[i-1], flat[i]
							if movable[a] > movable[b] || (movable[a] == movable[b] && a > b) {
								t.Errorf("%s (%d pods) comes before %s (%d pods)", a, movable[a], b, movable[b])
							}
						}
					}
				})
			}
		}
	}
}

// movablePods counts, per node, the pods a drain moves: bound, not a
// DaemonSet pod, not a mirror pod.
func movablePods(snap *snapshot.Snapshot) map[string]int {
	out := map[string]int{}
	for i := range snap.Pods {
		p := &snap.Pods[i]
		if p.Spec.NodeName == "" {
			continue
		}
		if ref := metav1.GetControllerOf(p); ref != nil && ref.Kind == "DaemonSet" {
			continue
		}
		if _, ok := p.Annotations[corev1.MirrorPodAnnotationKey]; ok {
			continue
		}
		out[p.Spec.NodeName]++
	}
	return out
}

func checkEveryNodeOnce(t *testing.T, snap *snapshot.Snapshot, p *plan.Plan) {
	t.Helper()
	count := map[string]int{}
	for _, b := range p.Spec.Batches {
		for _, n := range b.Nodes {
			count[n]++
		}
	}
	for i := range snap.Nodes {
		name := snap.Nodes[i].Name
		if count[name] != 1 {
			t.Errorf("node %s is in %d batches, want exactly 1", name, count[name])
		}
		delete(count, name)
	}
	for n := range count {
		t.Errorf("the plan names node %s, which is not in the snapshot", n)
	}
}
