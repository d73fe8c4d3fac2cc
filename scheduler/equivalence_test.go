package scheduler_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	. "github.com/noderoll/noderoll/internal/testutil"
	"github.com/noderoll/noderoll/scheduler"
	"github.com/noderoll/noderoll/snapshot"
)

// workload builds a cluster of nodes over three zones with Services in
// front of every app (so the default topology spreading applies), and a
// stream of pods from many apps, some with zone spread, some with required
// or preferred anti-affinity, some pinned by selectors or tolerations.
//
// Pods carry a version label of three values, so one selector matches
// several label classes; some apps spread on the team label, which matches
// every class of the namespace (more than the views look up one by one);
// some are owned by a ReplicaSet whose selector narrows the default
// spreading selector to one version.
func workload(nodes, apps, pods int, seed uint64) (*snapshot.Snapshot, []*corev1.Pod) {
	rng := rand.New(rand.NewPCG(seed, 0))
	snap := &snapshot.Snapshot{}
	zones := []string{"zone-a", "zone-b", "zone-c"}
	for i := 0; i < nodes; i++ {
		b := Node(fmt.Sprintf("node-%03d", i)).Zone(zones[i%3]).Cap("cpu", "16").Cap("memory", "64Gi")
		if i%10 == 9 {
			b.Taint("dedicated", "batch", corev1.TaintEffectNoSchedule).Label("pool", "batch")
		}
		snap.Nodes = append(snap.Nodes, *b.Obj())
	}
	type app struct {
		ns, name string
		build    func(*PodBuilder)
	}
	var all []app
	for a := 0; a < apps; a++ {
		ns := fmt.Sprintf("team-%02d", a%12)
		name := fmt.Sprintf("app-%03d", a)
		cpu := []string{"100m", "250m", "500m", "1"}[rng.IntN(4)]
		mem := []string{"128Mi", "512Mi", "1Gi", "2Gi"}[rng.IntN(4)]
		kind := rng.IntN(14)
		other := fmt.Sprintf("team-%02d", (a+1)%12)
		all = append(all, app{ns, name, func(b *PodBuilder) {
			b.NS(ns).Label("app", name).Label("team", ns).Req("cpu", cpu).Req("memory", mem)
			switch kind {
			case 0:
				b.Spread(corev1.LabelTopologyZone, 1, corev1.DoNotSchedule, "app", name)
			case 1:
				b.PreferredAntiAffinity("app", name, corev1.LabelHostname, 100)
			case 2:
				b.AntiAffinity("app", name, corev1.LabelHostname)
			case 3:
				b.Toleration("dedicated", "batch", corev1.TaintEffectNoSchedule).NodeSelector("pool", "batch")
			case 4:
				b.Spread(corev1.LabelTopologyZone, 1, corev1.ScheduleAnyway, "app", name)
			case 5:
				// Drawn to another team's pods, across namespaces.
				b.PreferredAffinityIn(other, "team", other, corev1.LabelTopologyZone, 50)
			case 6:
				// Kept away from its own app's pods in every namespace.
				b.PreferredAntiAffinityAllNamespaces("app", name, corev1.LabelHostname, 80)
			case 7:
				b.Spread(corev1.LabelTopologyZone, 2, corev1.ScheduleAnyway, "team", ns)
			case 8:
				b.Label("version", "v1").OwnedBy("ReplicaSet", name+"-v1")
			}
		}})
		if kind == 8 {
			snap.ReplicaSets = append(snap.ReplicaSets, appsv1.ReplicaSet{
				ObjectMeta: metav1.ObjectMeta{Name: name + "-v1", Namespace: ns},
				Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{
					MatchLabels: map[string]string{"app": name, "version": "v1"}}},
			})
		}
		snap.Services = append(snap.Services, corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": name}},
		})
	}
	var out []*corev1.Pod
	for i := 0; i < pods; i++ {
		a := all[rng.IntN(len(all))]
		b := Pod(fmt.Sprintf("%s-%05d", a.name, i)).Label("version", fmt.Sprintf("v%d", rng.IntN(3)))
		a.build(b)
		out = append(out, b.Obj())
	}
	return snap, out
}

func TestCachedPlacementsEqualTheNaiveFrameworkLoop(t *testing.T) {
	for _, tc := range []struct {
		name, config string
		parallelism  int
	}{
		{"default profile", "", 0},
		{"hard default spread constraints", "testdata/hard-default-spread.yaml", 0},
		// Filter and Score on 4 goroutines read the views at once.
		{"default profile, 4 goroutines per cycle", "", 4},
	} {
		t.Run(tc.name, func(t *testing.T) { checkEquivalence(t, tc.config, tc.parallelism) })
	}
}

func checkEquivalence(t *testing.T, config string, parallelism int) {
	n, pods := 60, 3000
	if testing.Short() || config != "" || parallelism > 1 {
		pods = 600
	}
	snap, stream := workload(n, 150, pods, 7)
	ctx := context.Background()
	build := func(naive bool) *scheduler.Scheduler {
		s, err := scheduler.New(ctx, snap, scheduler.Options{Seed: 1, Naive: naive, ConfigFile: config, Parallelism: parallelism})
		if err != nil {
			t.Fatalf("scheduler.New: %v", err)
		}
		return s
	}
	fast, naive := build(false), build(true)
	placed := 0
	for i, p := range stream {
		a, err := fast.Place(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		b, err := naive.Place(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if a.NodeName != b.NodeName {
			t.Fatalf("pod %d %s/%s: cached scheduler chose %q, naive loop %q", i, p.Namespace, p.Name, a.NodeName, b.NodeName)
		}
		if (a.Unschedulable == nil) != (b.Unschedulable == nil) ||
			(a.Unschedulable != nil && a.Unschedulable.Message() != b.Unschedulable.Message()) {
			t.Fatalf("pod %d: messages differ: %+v vs %+v", i, a.Unschedulable, b.Unschedulable)
		}
		if a.NodeName != "" {
			placed++
		}
	}
	if placed < len(stream)/2 {
		t.Fatalf("only %d of %d pods placed: the workload does not exercise placement", placed, len(stream))
	}
	// Removing pods must keep both in step too (the sim drains nodes).
	for _, node := range []string{"node-000", "node-001", "node-002"} {
		for _, p := range fast.PodsOn(node) {
			if err := fast.RemovePod(p); err != nil {
				t.Fatal(err)
			}
			if err := naive.RemovePod(p); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, p := range stream[:200] {
		q := p.DeepCopy()
		q.Name += "-again"
		a, _ := fast.Place(ctx, q)
		b, _ := naive.Place(ctx, q)
		if a.NodeName != b.NodeName {
			t.Fatalf("after removals, pod %d: cached %q, naive %q", i, a.NodeName, b.NodeName)
		}
	}
}
