package snapshot

import (
	"maps"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	resourcehelper "k8s.io/component-helpers/resource"
)

// Node labels Summary groups capacity by.
const (
	// ZoneLabel is the well-known label of a node's zone.
	ZoneLabel = corev1.LabelTopologyZone
	// PoolLabel names a node's pool; nodes without it are grouped by
	// InstanceTypeLabel.
	PoolLabel = "noderoll.dev/pool"
	// InstanceTypeLabel is the well-known label of a node's instance type.
	InstanceTypeLabel = corev1.LabelInstanceTypeStable
	// NoGroup is the zone or pool of nodes without the label.
	NoGroup = "-"
)

// Workload kinds counted by Summary, the keys of Summary.Workloads.
const (
	// WorkloadDeployment counts Deployments.
	WorkloadDeployment = "Deployment"
	// WorkloadReplicaSet counts ReplicaSets.
	WorkloadReplicaSet = "ReplicaSet"
	// WorkloadStatefulSet counts StatefulSets.
	WorkloadStatefulSet = "StatefulSet"
	// WorkloadDaemonSet counts DaemonSets.
	WorkloadDaemonSet = "DaemonSet"
	// WorkloadJob counts Jobs.
	WorkloadJob = "Job"
	// WorkloadCronJob counts CronJobs.
	WorkloadCronJob = "CronJob"
	// WorkloadBarePod counts pods without a controller owner reference.
	WorkloadBarePod = "BarePod"
)

// Summary is an overview of a snapshot, as `noderoll snapshot inspect`
// shows it. Its JSON field names are part of the CLI's contract.
type Summary struct {
	Source      string    `json:"source,omitempty"`
	TakenAt     time.Time `json:"takenAt,omitzero"`
	Fingerprint string    `json:"fingerprint"`

	Nodes    int `json:"nodes"`
	Pods     int `json:"pods"`
	Services int `json:"services"`
	PDBs     int `json:"pdbs"`
	// Namespaces counts the Namespace objects and the namespaces that
	// namespaced objects name, together.
	Namespaces int `json:"namespaces"`
	// Workloads counts objects by workload kind (the Workload* constants),
	// bare pods included; kinds with no object are absent.
	Workloads map[string]int `json:"workloads"`
	// Capacity compares requests with allocatable per zone and pool.
	Capacity CapacitySummary `json:"capacity"`
	// Skipped counts the objects of kinds the snapshot does not keep.
	Skipped map[string]int `json:"skipped,omitempty"`
}

// CapacitySummary groups capacity by zone (ZoneLabel) and by pool
// (PoolLabel, else InstanceTypeLabel), each sorted by name, and in total.
type CapacitySummary struct {
	Zones []Capacity `json:"zones"`
	Pools []Capacity `json:"pools"`
	Total Capacity   `json:"total"`
}

// Capacity is what a group of nodes offers and what the pods bound to them
// request.
type Capacity struct {
	// Name is the zone or pool; "total" for the whole cluster.
	Name  string `json:"name"`
	Nodes int    `json:"nodes"`
	// Requested sums the effective requests (as the scheduler computes them:
	// init containers, sidecars, pod-level resources and overhead) of the
	// pods bound to the nodes that have not terminated; Requested.Pods
	// counts them.
	Requested Resources `json:"requested"`
	// Allocatable sums the nodes' status.allocatable.
	Allocatable Resources `json:"allocatable"`
}

// Resources is an amount of the resources Summary reports.
type Resources struct {
	MilliCPU    int64 `json:"milliCPU"`
	MemoryBytes int64 `json:"memoryBytes"`
	Pods        int64 `json:"pods"`
}

func (r *Resources) add(o Resources) {
	r.MilliCPU += o.MilliCPU
	r.MemoryBytes += o.MemoryBytes
	r.Pods += o.Pods
}

func resourcesOf(rl corev1.ResourceList) Resources {
	return Resources{
		MilliCPU:    rl.Cpu().MilliValue(),
		MemoryBytes: rl.Memory().Value(),
		Pods:        rl.Pods().Value(),
	}
}

// NodeZone returns the node's zone, or NoGroup.
func NodeZone(n *corev1.Node) string {
	if z := n.Labels[ZoneLabel]; z != "" {
		return z
	}
	return NoGroup
}

// NodePool returns the node's pool: PoolLabel, else InstanceTypeLabel,
// else NoGroup.
func NodePool(n *corev1.Node) string {
	if p := n.Labels[PoolLabel]; p != "" {
		return p
	}
	if t := n.Labels[InstanceTypeLabel]; t != "" {
		return t
	}
	return NoGroup
}

// Summary counts the snapshot's objects and compares requested with
// allocatable resources per zone, per pool and in total.
func (s *Snapshot) Summary() Summary {
	sum := Summary{
		Source:      s.Source,
		TakenAt:     s.TakenAt.Time,
		Fingerprint: s.Fingerprint(),
		Nodes:       len(s.Nodes),
		Pods:        len(s.Pods),
		Services:    len(s.Services),
		PDBs:        len(s.PodDisruptionBudgets),
		Namespaces:  len(s.namespaceNames()),
		Workloads:   make(map[string]int),
		Skipped:     s.Skipped,
	}
	for kind, n := range map[string]int{
		WorkloadDeployment:  len(s.Deployments),
		WorkloadReplicaSet:  len(s.ReplicaSets),
		WorkloadStatefulSet: len(s.StatefulSets),
		WorkloadDaemonSet:   len(s.DaemonSets),
		WorkloadJob:         len(s.Jobs),
		WorkloadCronJob:     len(s.CronJobs),
	} {
		if n > 0 {
			sum.Workloads[kind] = n
		}
	}
	for i := range s.Pods {
		if metav1.GetControllerOf(&s.Pods[i]) == nil {
			sum.Workloads[WorkloadBarePod]++
		}
	}

	// Requests per node, then per group.
	requested := make(map[string]Resources, len(s.Nodes))
	for i := range s.Pods {
		p := &s.Pods[i]
		if p.Spec.NodeName == "" || isTerminal(p) {
			continue
		}
		r := resourcesOf(resourcehelper.PodRequests(p, resourcehelper.PodResourcesOptions{}))
		r.Pods = 1
		acc := requested[p.Spec.NodeName]
		acc.add(r)
		requested[p.Spec.NodeName] = acc
	}
	zones := make(map[string]*Capacity)
	pools := make(map[string]*Capacity)
	sum.Capacity.Total.Name = "total"
	for i := range s.Nodes {
		n := &s.Nodes[i]
		alloc := resourcesOf(n.Status.Allocatable)
		req := requested[n.Name]
		for _, c := range []*Capacity{group(zones, NodeZone(n)), group(pools, NodePool(n)), &sum.Capacity.Total} {
			c.Nodes++
			c.Allocatable.add(alloc)
			c.Requested.add(req)
		}
	}
	sum.Capacity.Zones = sortedGroups(zones)
	sum.Capacity.Pools = sortedGroups(pools)
	return sum
}

func group(groups map[string]*Capacity, name string) *Capacity {
	c, ok := groups[name]
	if !ok {
		c = &Capacity{Name: name}
		groups[name] = c
	}
	return c
}

func sortedGroups(groups map[string]*Capacity) []Capacity {
	out := make([]Capacity, 0, len(groups))
	for _, name := range slices.Sorted(maps.Keys(groups)) {
		out = append(out, *groups[name])
	}
	return out
}

// namespaceNames returns the names of the Namespace objects and of the
// namespaces the namespaced objects are in.
func (s *Snapshot) namespaceNames() map[string]bool {
	names := make(map[string]bool)
	for i := range s.Namespaces {
		names[s.Namespaces[i].Name] = true
	}
	for k := range storedKinds {
		sk := &storedKinds[k]
		if !sk.namespaced {
			continue
		}
		sk.each(s, func(_ int, obj metav1.Object) {
			if ns := obj.GetNamespace(); ns != "" {
				names[ns] = true
			}
		})
	}
	for ns := range s.NamespaceCounts {
		names[ns] = true
	}
	return names
}
