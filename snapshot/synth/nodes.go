package synth

import (
	"fmt"
	"math"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Node labels and taints the generator uses.
const (
	labelPool     = "noderoll.dev/pool"
	labelLocalSSD = "noderoll.dev/local-ssd"
	labelTenant   = "noderoll.dev/tenant"
	labelZone     = corev1.LabelTopologyZone
	labelRegion   = corev1.LabelTopologyRegion
	labelHostname = corev1.LabelHostname
	taintKey      = "dedicated"
	batchPool     = "batch"
	region        = "region-1"
	osImage       = "Ubuntu 22.04.4 LTS"
	kernelVersion = "5.15.0-1061-aws"
	kubeletVer    = "v1.37.2"
	runtimeVer    = "containerd://1.7.27"
	csiDriver     = "block.csi.noderoll.dev"
	maxPodsOnNode = 110
)

var zones = []string{"zone-a", "zone-b", "zone-c"}

// pool is a node pool: a machine shape with its share of the nodes.
type pool struct {
	name         string
	instanceType string
	cpu          int64 // cores
	memGi        int64
	share        float64
	tainted      bool // dedicated=batch:NoSchedule
	localSSD     bool // has local NVMe disks for local PersistentVolumes
}

// pools: a general pool, a memory-heavy pool with local disks (where the
// local-PV StatefulSets live), a compute pool, and a tainted batch pool that
// only its own workloads tolerate.
var pools = []pool{
	{name: "general", instanceType: "m6i.4xlarge", cpu: 16, memGi: 64, share: 0.50},
	{name: "memory", instanceType: "r6id.4xlarge", cpu: 16, memGi: 128, share: 0.20, localSSD: true},
	{name: "compute", instanceType: "c6i.8xlarge", cpu: 32, memGi: 64, share: 0.20},
	{name: batchPool, instanceType: "m6i.8xlarge", cpu: 32, memGi: 128, share: 0.10, tainted: true},
}

// nodeInfo is the generator's record of a node.
type nodeInfo struct {
	name    string
	index   int
	pool    *pool
	zone    string
	ip      string
	podNet  uint32 // the node's /24 pod CIDR
	nextIP  uint32
	created time.Time
	disks   int // local disks handed out as PersistentVolumes
	// allocatable, in millicores and bytes
	cpuAlloc, memAlloc int64
}

// poolCounts splits n nodes over the pools by their shares (largest
// remainder), at least one node per pool.
func poolCounts(n int) []int {
	counts := make([]int, len(pools))
	type rem struct {
		i int
		r float64
	}
	var rems []rem
	left := n
	for i, p := range pools {
		exact := float64(n) * p.share
		counts[i] = max(1, int(math.Floor(exact)))
		left -= counts[i]
		rems = append(rems, rem{i, exact - math.Floor(exact)})
	}
	for k := 0; left > 0; k++ {
		best := 0
		for j := range rems {
			if rems[j].r > rems[best].r {
				best = j
			}
		}
		counts[rems[best].i]++
		rems[best].r = -1
		left--
		if k > len(pools) {
			counts[0] += left
			break
		}
	}
	for left < 0 {
		for i := range counts {
			if left < 0 && counts[i] > 1 {
				counts[i]--
				left++
			}
		}
	}
	return counts
}

// cpuReserved is the kube-reserved CPU in millicores for a machine with the
// given cores (the tiered formula the managed offerings use: 6% of the first
// core, 1% of the second, 0.5% of the next two, 0.25% above four).
func cpuReserved(cores int64) int64 {
	m := 60.0
	if cores > 1 {
		m += 10
	}
	if cores > 2 {
		m += 5 * float64(min(cores, 4)-2)
	}
	if cores > 4 {
		m += 2.5 * float64(cores-4)
	}
	return int64(m)
}

// memReserved is the kube-reserved memory in bytes for a machine with the
// given memory (25% of the first 4 GiB, 20% of the next 4, 10% of the next
// 8, 6% of the next 112, 2% above 128), plus the 100Mi hard eviction
// threshold.
func memReserved(gi int64) int64 {
	tiers := []struct{ upTo, rate float64 }{{4, 0.25}, {8, 0.20}, {16, 0.10}, {128, 0.06}, {math.Inf(1), 0.02}}
	var r, prev float64
	for _, t := range tiers {
		if float64(gi) > prev {
			r += (math.Min(float64(gi), t.upTo) - prev) * t.rate
		}
		prev = t.upTo
	}
	return int64(r*(1<<30)) + 100<<20
}

// buildNodes creates the nodes, pool by pool, spreading each pool evenly
// over the zones.
func (g *generator) buildNodes() {
	counts := poolCounts(g.p.nodes)
	idx := 0
	for pi := range pools {
		p := &pools[pi]
		perZone := make([]int, len(zones))
		for j := 0; j < counts[pi]; j++ {
			z := j % len(zones)
			perZone[z]++
			ni := &nodeInfo{
				name:    fmt.Sprintf("%s-%s-%03d", p.name, zones[z][len(zones[z])-1:], perZone[z]),
				index:   idx,
				pool:    p,
				zone:    zones[z],
				ip:      ipv4(uint32(10<<24|20<<16) + uint32(idx/200)<<8 + uint32(idx%200+10)),
				podNet:  uint32(10<<24|64<<16) + uint32(idx)<<8,
				nextIP:  2,
				created: g.between(epoch.Add(24*time.Hour), epoch.Add(10*24*time.Hour)),
			}
			g.nodes = append(g.nodes, ni)
			g.nodeByName[ni.name] = ni
			g.snap.Nodes = append(g.snap.Nodes, g.node(ni))
			idx++
		}
	}
}

// node builds the Node object as a kubelet registers it and keeps it
// updated: Ready, allocatable = capacity minus reservations.
func (g *generator) node(ni *nodeInfo) corev1.Node {
	p := ni.pool
	// The kernel keeps about 3% of the machine's memory.
	memCapKi := p.memGi * 1024 * 1024 * 97 / 100
	memCap := memCapKi * 1024
	ni.cpuAlloc = p.cpu*1000 - cpuReserved(p.cpu)
	ni.memAlloc = (memCap - memReserved(p.memGi)) / 1024 * 1024
	diskCap := int64(100 << 30)

	meta := g.meta("Node", "", ni.name, ni.created)
	meta.Labels = map[string]string{
		"beta.kubernetes.io/arch":          "amd64",
		"beta.kubernetes.io/instance-type": p.instanceType,
		"beta.kubernetes.io/os":            "linux",
		"kubernetes.io/arch":               "amd64",
		"kubernetes.io/os":                 "linux",
		labelHostname:                      ni.name,
		corev1.LabelInstanceTypeStable:     p.instanceType,
		labelRegion:                        region,
		labelZone:                          ni.zone,
		labelPool:                          p.name,
	}
	if p.localSSD {
		meta.Labels[labelLocalSSD] = "true"
	}
	instanceID := "i-0" + g.hexID(16, "instance", ni.name)
	meta.Annotations = map[string]string{
		"node.alpha.kubernetes.io/ttl":                           "0",
		"volumes.kubernetes.io/controller-managed-attach-detach": "true",
		"csi.volume.kubernetes.io/nodeid":                        fmt.Sprintf(`{%q:%q}`, csiDriver, instanceID),
	}
	cidr := ipv4(ni.podNet) + "/24"
	spec := corev1.NodeSpec{
		PodCIDR:    cidr,
		PodCIDRs:   []string{cidr},
		ProviderID: fmt.Sprintf("aws:///%s/%s", ni.zone, instanceID),
	}
	if p.tainted {
		spec.Taints = []corev1.Taint{{Key: taintKey, Value: batchPool, Effect: corev1.TaintEffectNoSchedule}}
	}
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:              *resource.NewQuantity(p.cpu, resource.DecimalSI),
		corev1.ResourceMemory:           *resource.NewQuantity(memCap, resource.BinarySI),
		corev1.ResourceEphemeralStorage: *resource.NewQuantity(diskCap, resource.BinarySI),
		corev1.ResourcePods:             *resource.NewQuantity(maxPodsOnNode, resource.DecimalSI),
		"hugepages-1Gi":                 *resource.NewQuantity(0, resource.DecimalSI),
		"hugepages-2Mi":                 *resource.NewQuantity(0, resource.DecimalSI),
	}
	alloc := capacity.DeepCopy()
	alloc[corev1.ResourceCPU] = *resource.NewMilliQuantity(ni.cpuAlloc, resource.DecimalSI)
	alloc[corev1.ResourceMemory] = *resource.NewQuantity(ni.memAlloc, resource.BinarySI)
	alloc[corev1.ResourceEphemeralStorage] = *resource.NewQuantity(diskCap*9/10, resource.DecimalSI)

	ready := metav1.NewTime(ni.created.Add(40 * time.Second))
	beat := metav1.NewTime(g.takenAt.Add(-time.Duration(g.rng.IntN(40)) * time.Second))
	cond := func(t corev1.NodeConditionType, s corev1.ConditionStatus, reason, msg string) corev1.NodeCondition {
		return corev1.NodeCondition{Type: t, Status: s, LastHeartbeatTime: beat, LastTransitionTime: ready, Reason: reason, Message: msg}
	}
	status := corev1.NodeStatus{
		Capacity:    capacity,
		Allocatable: alloc,
		Conditions: []corev1.NodeCondition{
			cond(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
			cond(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
			cond(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
			cond(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status"),
		},
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: ni.ip},
			{Type: corev1.NodeInternalDNS, Address: ni.name + "." + region + ".compute.internal"},
			{Type: corev1.NodeHostName, Address: ni.name},
		},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: 10250}},
		NodeInfo: corev1.NodeSystemInfo{
			MachineID:               g.hexID(32, "machine", ni.name),
			SystemUUID:              string(g.uid("SystemUUID", "", ni.name)),
			BootID:                  string(g.uid("BootID", "", ni.name)),
			KernelVersion:           kernelVersion,
			OSImage:                 osImage,
			ContainerRuntimeVersion: runtimeVer,
			KubeletVersion:          kubeletVer,
			OperatingSystem:         "linux",
			Architecture:            "amd64",
		},
	}
	return corev1.Node{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Node"},
		ObjectMeta: meta,
		Spec:       spec,
		Status:     status,
	}
}

// nextPodIP hands out the next address of the node's pod CIDR.
func (ni *nodeInfo) nextPodIP() string {
	ip := ipv4(ni.podNet + ni.nextIP)
	ni.nextIP++
	return ip
}
