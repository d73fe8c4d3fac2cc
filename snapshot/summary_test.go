package snapshot

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	mi = int64(1) << 20
	gi = int64(1) << 30
)

func TestSummary_countsObjectsAndComparesRequestsWithAllocatable(t *testing.T) {
	sum := mustLoad(t, clusterListYAML).Summary()

	if sum.Nodes != 3 || sum.Pods != 10 || sum.Services != 3 || sum.PDBs != 2 || sum.Namespaces != 3 {
		t.Errorf("got %d nodes, %d pods, %d services, %d PDBs, %d namespaces; want 3, 10, 3, 2, 3",
			sum.Nodes, sum.Pods, sum.Services, sum.PDBs, sum.Namespaces)
	}
	wantWorkloads := map[string]int{
		WorkloadDeployment: 1, WorkloadReplicaSet: 1, WorkloadStatefulSet: 1, WorkloadDaemonSet: 1,
		WorkloadJob: 1, WorkloadCronJob: 1, WorkloadBarePod: 2,
	}
	if !reflect.DeepEqual(sum.Workloads, wantWorkloads) {
		t.Errorf("workloads %v, want %v", sum.Workloads, wantWorkloads)
	}

	// Requests count bound, non-terminated pods: the Succeeded report pod
	// and the unbound pending pod are left out; the debug pod requests its
	// init container's 2 cpu, more than its container's 100m.
	n1 := Resources{MilliCPU: 500 + 100 + 2000, MemoryBytes: (256 + 128 + 64) * mi, Pods: 3}
	n2 := Resources{MilliCPU: 500 + 1000 + 100, MemoryBytes: (256+128)*mi + 2*gi, Pods: 3}
	n3 := Resources{MilliCPU: 500 + 100, MemoryBytes: (256 + 128) * mi, Pods: 2}
	alloc1 := Resources{MilliCPU: 3800, MemoryBytes: 15 * gi, Pods: 110}
	alloc2 := alloc1
	alloc3 := Resources{MilliCPU: 7800, MemoryBytes: 15 * gi, Pods: 58}
	plus := func(rs ...Resources) Resources {
		var t Resources
		for _, r := range rs {
			t.add(r)
		}
		return t
	}
	want := CapacitySummary{
		Zones: []Capacity{
			{Name: "zone-a", Nodes: 2, Requested: plus(n1, n3), Allocatable: plus(alloc1, alloc3)},
			{Name: "zone-b", Nodes: 1, Requested: n2, Allocatable: alloc2},
		},
		Pools: []Capacity{
			{Name: "c5.2xlarge", Nodes: 1, Requested: n3, Allocatable: alloc3},
			{Name: "general", Nodes: 2, Requested: plus(n1, n2), Allocatable: plus(alloc1, alloc2)},
		},
		Total: Capacity{Name: "total", Nodes: 3, Requested: plus(n1, n2, n3), Allocatable: plus(alloc1, alloc2, alloc3)},
	}
	if !reflect.DeepEqual(sum.Capacity, want) {
		t.Errorf("capacity\n got %+v\nwant %+v", sum.Capacity, want)
	}
}

func TestSummary_groupsUnlabelledNodesUnderADash(t *testing.T) {
	s := &Snapshot{Nodes: []corev1.Node{{ObjectMeta: metav1.ObjectMeta{Name: "bare"}}}}
	sum := s.Summary()
	if len(sum.Capacity.Zones) != 1 || sum.Capacity.Zones[0].Name != NoGroup ||
		len(sum.Capacity.Pools) != 1 || sum.Capacity.Pools[0].Name != NoGroup {
		t.Errorf("zones %+v, pools %+v; want one group %q each", sum.Capacity.Zones, sum.Capacity.Pools, NoGroup)
	}
}
