package scheduler_test

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	. "github.com/noderoll/noderoll/internal/testutil"
	"github.com/noderoll/noderoll/scheduler"
	"github.com/noderoll/noderoll/snapshot"
)

// volumeWorkload is a cluster of nodes over three zones where most pods
// carry PersistentVolumeClaims: claims bound to local volumes (one node),
// claims bound to zonal volumes (one zone), a ReadWriteOncePod claim, and
// claims left unbound (a WaitForFirstConsumer class with no volume to
// match); stateless filler pods take most of the room, so that volume
// pods meet full nodes and the scheduler's messages name several plugins.
func volumeWorkload(nodes int) (*snapshot.Snapshot, []*corev1.Pod) {
	snap := &snapshot.Snapshot{}
	zones := []string{"zone-a", "zone-b", "zone-c"}
	for i := 0; i < nodes; i++ {
		snap.Nodes = append(snap.Nodes, *Node(fmt.Sprintf("node-%02d", i)).Zone(zones[i%3]).Cap("cpu", "4").Cap("memory", "16Gi").Obj())
	}
	wffc := storagev1.VolumeBindingWaitForFirstConsumer
	snap.StorageClasses = append(snap.StorageClasses,
		storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "local-storage"}, Provisioner: "kubernetes.io/no-provisioner", VolumeBindingMode: &wffc},
		storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "zonal"}, Provisioner: "example.com/block", VolumeBindingMode: &wffc})
	var stream []*corev1.Pod
	claimPod := func(name, claim, cpu string) *corev1.Pod {
		return Pod(name).Label("app", "db").Req("cpu", cpu).Req("memory", "1Gi").
			PreferredAntiAffinity("app", "db", corev1.LabelHostname, 50).PVC(claim).Obj()
	}
	for i := 0; i < nodes*2; i++ {
		// Bound to a local volume on one node.
		pv, pvc := localPV(fmt.Sprintf("local-%02d", i), fmt.Sprintf("node-%02d", i%nodes))
		snap.PersistentVolumes = append(snap.PersistentVolumes, *pv)
		snap.PersistentVolumeClaims = append(snap.PersistentVolumeClaims, *pvc)
		stream = append(stream, claimPod(fmt.Sprintf("local-db-%02d", i), pvc.Name, "1"))

		// Bound to a volume in one zone.
		zpv, zpvc := localPV(fmt.Sprintf("zonal-%02d", i), "")
		zpv.Spec.StorageClassName, zpvc.Spec.StorageClassName = "zonal", ptrTo("zonal")
		zpv.Spec.Local, zpv.Spec.CSI = nil, &corev1.CSIPersistentVolumeSource{Driver: "example.com/block", VolumeHandle: zpv.Name}
		zpv.Spec.NodeAffinity.Required.NodeSelectorTerms[0].MatchExpressions[0] = corev1.NodeSelectorRequirement{
			Key: corev1.LabelTopologyZone, Operator: corev1.NodeSelectorOpIn, Values: []string{zones[i%3]}}
		if i%7 == 3 {
			zpv.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOncePod}
			zpvc.Spec.AccessModes = zpv.Spec.AccessModes
		}
		snap.PersistentVolumes = append(snap.PersistentVolumes, *zpv)
		snap.PersistentVolumeClaims = append(snap.PersistentVolumeClaims, *zpvc)
		stream = append(stream, claimPod(fmt.Sprintf("zonal-db-%02d", i), zpvc.Name, "500m"))

		// Stateless filler, and now and then a pod whose claim is unbound.
		stream = append(stream, Pod(fmt.Sprintf("web-%02d", i)).Label("app", "web").Req("cpu", "1").Req("memory", "2Gi").Obj())
		if i%5 == 0 {
			// Two volumes on two nodes that an unbound claim could take
			// (the scheduler picks one as a static binding).
			for k, size := range []string{"20Gi", "50Gi"} {
				free, _ := localPV(fmt.Sprintf("free-%02d-%d", i, k), fmt.Sprintf("node-%02d", (i+k)%nodes))
				free.Spec.ClaimRef, free.Status.Phase = nil, corev1.VolumeAvailable
				free.Spec.Capacity = corev1.ResourceList{corev1.ResourceStorage: mustQty(size)}
				snap.PersistentVolumes = append(snap.PersistentVolumes, *free)
			}
			unbound := &corev1.PersistentVolumeClaim{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pending-%02d", i), Namespace: "default"},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, StorageClassName: ptrTo("local-storage"),
					Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: mustQty("10Gi")}},
				},
			}
			snap.PersistentVolumeClaims = append(snap.PersistentVolumeClaims, *unbound)
			stream = append(stream, claimPod(fmt.Sprintf("unbound-db-%02d", i), unbound.Name, "100m"))
		}
	}
	// Two pods sharing one ReadWriteOncePod claim: the second waits until
	// the first is gone.
	rpv, rpvc := localPV("shared", "node-01")
	rpv.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOncePod}
	rpvc.Spec.AccessModes = rpv.Spec.AccessModes
	snap.PersistentVolumes = append(snap.PersistentVolumes, *rpv)
	snap.PersistentVolumeClaims = append(snap.PersistentVolumeClaims, *rpvc)
	stream = append([]*corev1.Pod{
		Pod("rwop-a").Req("cpu", "100m").PVC(rpvc.Name).Obj(),
		Pod("rwop-b").Req("cpu", "100m").PVC(rpvc.Name).Obj(),
	}, stream...)
	return snap, stream
}

func ptrTo[T any](v T) *T { return &v }

// podNamed finds a placed pod by name.
func podNamed(t *testing.T, s *scheduler.Scheduler, name string) *corev1.Pod {
	t.Helper()
	for _, n := range s.NodeNames() {
		for _, p := range s.PodsOn(n) {
			if p.Name == name {
				return p
			}
		}
	}
	t.Fatalf("pod %s is not placed", name)
	return nil
}

// TestCachedPlacementsOfPodsWithVolumesEqualTheNaiveFrameworkLoop places
// pods with bound, unbound and ReadWriteOncePod claims through the cached
// scheduler and the naive framework loop, then cordons and empties nodes
// and places their pods again (a drain's retries), and requires the same
// node and the same message for every pod.
func TestCachedPlacementsOfPodsWithVolumesEqualTheNaiveFrameworkLoop(t *testing.T) {
	snap, stream := volumeWorkload(12)
	ctx := context.Background()
	fast, naive := newScheduler(t, snap, false), newScheduler(t, snap, true)
	both := func(step string, p *corev1.Pod) scheduler.Result {
		t.Helper()
		a, err := fast.Place(ctx, p)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		b, err := naive.Place(ctx, p)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if a.NodeName != b.NodeName {
			t.Fatalf("%s: pod %s: cached scheduler chose %q, naive loop %q", step, p.Name, a.NodeName, b.NodeName)
		}
		if (a.Unschedulable == nil) != (b.Unschedulable == nil) ||
			(a.Unschedulable != nil && a.Unschedulable.Message() != b.Unschedulable.Message()) {
			t.Fatalf("%s: pod %s: messages differ:\n%v\n%v", step, p.Name, a.Unschedulable, b.Unschedulable)
		}
		return a
	}
	placed, failed := 0, 0
	var waiting []*corev1.Pod
	for _, p := range stream {
		if res := both("first placement", p); res.NodeName != "" {
			placed++
		} else {
			failed++
			waiting = append(waiting, p)
		}
	}
	if placed == 0 || failed == 0 {
		t.Fatalf("%d placed and %d left waiting: the workload must do both", placed, failed)
	}
	// The first ReadWriteOncePod user leaves: the second now fits.
	rwopA := podNamed(t, fast, "rwop-a")
	for _, s := range []*scheduler.Scheduler{fast, naive} {
		if err := s.RemovePod(rwopA); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range waiting {
		if p.Name == "rwop-b" {
			if res := both("after rwop-a left", p); res.NodeName == "" {
				t.Fatalf("rwop-b still waits after rwop-a left: %v", res.Unschedulable)
			}
		}
	}
	// A drain: cordon three nodes, take their pods off, and try every
	// waiting pod again after each node, as the simulator's queue does.
	for _, name := range []string{"node-00", "node-04", "node-08"} {
		for _, s := range []*scheduler.Scheduler{fast, naive} {
			node := Node(name).Zone([]string{"zone-a", "zone-b", "zone-c"}[int(name[6]-'0')%3]).Cap("cpu", "4").Cap("memory", "16Gi").Cordon().Obj()
			s.AddNode(node)
		}
		for _, p := range fast.PodsOn(name) {
			if err := fast.RemovePod(p); err != nil {
				t.Fatal(err)
			}
			if err := naive.RemovePod(p); err != nil {
				t.Fatal(err)
			}
			q := p.DeepCopy()
			q.Spec.NodeName = ""
			waiting = append(waiting, q)
		}
		var still []*corev1.Pod
		for _, p := range waiting {
			if res := both("after draining "+name, p); res.NodeName == "" {
				still = append(still, p)
			}
		}
		waiting = still
	}
	if len(waiting) == 0 {
		t.Fatal("every pod found a node after the drains: the retries exercise nothing")
	}
}
