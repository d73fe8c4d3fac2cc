// Package migration generates the cluster-migration plan: instead of
// replacing nodes in place, build a new cluster on the new OS and move the
// tenants to it, so that every pod moves once.
//
//	seed      a fraction of the machines (--seed-fraction, default 0.1) is
//	          drained as a rolling batch would be, reinstalled and forms the
//	          new cluster: every pool gives its share and at least one node
//	          (so that a tenant pinned to a GPU or tainted pool can move),
//	          its zones in turn, the nodes hosting no pod on a local volume
//	          and then the emptiest first; or --seed-nodes N new machines of
//	          the most common shape do. The cluster-wide objects (Namespaces, PriorityClasses,
//	          StorageClasses) are copied meanwhile.
//	waves     tenants (namespaces, or values of a pod label) move wave by
//	          wave, smallest first (or in an order file's order). A wave takes
//	          the next tenants for as long as all their pods can be placed
//	          together on the new cluster, as the real scheduler places them
//	          on a fork of its state. Per tenant, in parallel: copy its
//	          objects (ServiceAccounts, RBAC, ConfigMaps, Secrets, Services,
//	          PDBs, workloads: timing.objectCopySeconds each), create its
//	          workloads in the new cluster and wait until they are Ready,
//	          migrate its volumes' data (PVC/PV size / --data-bandwidth, or
//	          the dual-write switch time), shift its traffic at the load
//	          balancer (timing.cutoverSeconds), delete it from the old cluster.
//	recycle   the old nodes the wave emptied are drained (whatever little is
//	          left on them: DaemonSet and static pods), reinstalled and joined
//	          to the new cluster, growing it for the next wave. When the next
//	          tenant does not fit and no old node is empty, the emptiest old
//	          nodes whose pods the rest of the old cluster can take are
//	          drained and recycled, those of the pool of the first pod that
//	          did not fit first: their pods move twice (CapacityShortfall,
//	          medium). Repeat until the old cluster is empty.
//
// Modelling decisions (the simulator, package sim, implements them):
//
//   - One in-memory scheduler holds both clusters. A node of the new cluster
//     carries the label noderoll.dev/cluster=new and a NoSchedule taint of
//     the same key; a copied pod gets a nodeSelector for the label and a
//     toleration of the taint, so every placement in either cluster is made
//     by the real scheduler and the clusters never mix. DaemonSet pods are
//     the exception: every DaemonSet exists in both clusters, so a recycled
//     node's DaemonSet pods return with it, tolerating the new cluster. Old
//     pods that tolerate every taint could land on the new cluster when a
//     drain moves them: an approximation we accept (the real clusters have
//     separate schedulers).
//   - Copies keep their namespace and name and get a distinct UID: the two
//     clusters are two identity spaces; the simulator tells them apart by
//     object, never by name. A copy shares its original's lineage: the
//     cut-over is the pod's one move.
//   - A copy's PersistentVolumeClaims are fresh and unbound (local storage
//     classes are WaitForFirstConsumer): the copy is placed as a pod with
//     no volume constraint, and the data copy time is the size of the
//     tenant's claims (the bound PV's capacity, else the claim's request)
//     over the bandwidth per tenant, or the dual-write switch time.
//   - The old pods serve until the cut-over; then the copies' endpoints are
//     counted (before the old ones leave), so a tenant whose copies are all
//     Ready has no outage — where rolling stalls every pod on a local volume
//     for its node's reinstall.
//   - PodDisruptionBudgets apply to evictions (the seed and recycling
//     drains), not to deleting a tenant's workloads after its cut-over;
//     copies are not counted in the old cluster's budgets.
//   - A Service is split across the clusters while its namespace is
//     half-moved (with --wave-by label, some tenants of a namespace cut
//     over and others not yet); with --wave-by namespace it never is.
//   - A tenant that does not fit even when the old cluster has nothing left
//     to recycle is a CapacityShortfall (critical): it is moved anyway and
//     its copies that fit nowhere stay pending; the simulation still ends.
//   - Waves run one after the other: a wave's recycling ends before the
//     next wave is chosen, so the next wave sees the grown cluster.
//   - --seed-nodes machines stay to the end; their cost is reported as
//     extraMachineHours (machines × duration).
package migration

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/noderoll/noderoll/plan"
	"github.com/noderoll/noderoll/snapshot"
)

// DefaultBandwidth is the default data copy rate per tenant: 100 MiB/s.
const DefaultBandwidth = 100 << 20

// Params configure the migration strategy.
type Params struct {
	// SeedFraction of the old machines form the new cluster (default 0.1).
	// Ignored when SeedNodes is set.
	SeedFraction float64
	// SeedNodes new machines form the new cluster instead of old ones.
	SeedNodes int
	// WaveBy is plan.WaveByNamespace (default) or plan.WaveByLabel.
	WaveBy string
	// WaveLabel is the pod label naming the tenant with plan.WaveByLabel.
	WaveLabel string
	// Order lists tenants to move first, in this order; the others follow,
	// smallest first.
	Order []string
	// DataMode is plan.DataCopy (default) or plan.DataDualWrite.
	DataMode string
	// DataBandwidth is bytes per second per tenant (default 100 MiB/s).
	DataBandwidth int64
	// RecycleStep is how many of the emptiest old nodes are recycled when no
	// tenant fits; 0 means the size of the seed.
	RecycleStep int
	// Drain are the drain options; nil means plan.DefaultDrainOptions.
	Drain *plan.DrainOptions
	// NewOSImage is the OS image nodes must report after rejoining.
	NewOSImage string
}

// Plan makes the migration plan for snap.
func Plan(snap *snapshot.Snapshot, p Params) (*plan.Plan, error) {
	if p.WaveBy == "" {
		p.WaveBy = plan.WaveByNamespace
	}
	if p.DataMode == "" {
		p.DataMode = plan.DataCopy
	}
	if p.DataBandwidth == 0 {
		p.DataBandwidth = DefaultBandwidth
	}
	if p.SeedNodes == 0 && p.SeedFraction == 0 {
		p.SeedFraction = 0.1
	}
	switch {
	case p.WaveBy != plan.WaveByNamespace && p.WaveBy != plan.WaveByLabel:
		return nil, fmt.Errorf("wave-by %q: want namespace or label", p.WaveBy)
	case p.WaveBy == plan.WaveByLabel && p.WaveLabel == "":
		return nil, fmt.Errorf("wave-by label: the label key is missing")
	case p.DataMode != plan.DataCopy && p.DataMode != plan.DataDualWrite:
		return nil, fmt.Errorf("data mode %q: want %s or %s", p.DataMode, plan.DataCopy, plan.DataDualWrite)
	case p.DataBandwidth < 0:
		return nil, fmt.Errorf("data bandwidth %d: must be positive", p.DataBandwidth)
	case p.SeedNodes < 0:
		return nil, fmt.Errorf("seed nodes %d: must not be negative", p.SeedNodes)
	case p.SeedNodes == 0 && (p.SeedFraction <= 0 || p.SeedFraction >= 1 || math.IsNaN(p.SeedFraction)):
		return nil, fmt.Errorf("seed fraction %v: want a fraction in (0, 1)", p.SeedFraction)
	}
	if len(snap.Nodes) == 0 {
		return nil, fmt.Errorf("the snapshot has no node to migrate")
	}
	drain := plan.DefaultDrainOptions()
	if p.Drain != nil {
		drain = *p.Drain
	}
	spec := &plan.MigrationSpec{WaveBy: p.WaveBy, WaveLabel: p.WaveLabel, DataMode: p.DataMode,
		DataBandwidthBytesPerSecond: p.DataBandwidth, RecycleStep: p.RecycleStep, NewMachines: p.SeedNodes}
	params := map[string]string{"waveBy": p.WaveBy, "dataMode": p.DataMode,
		"dataBandwidth": FormatBandwidth(p.DataBandwidth)}
	if p.WaveLabel != "" {
		params["waveLabel"] = p.WaveLabel
	}
	if p.SeedNodes > 0 {
		params["seedNodes"] = strconv.Itoa(p.SeedNodes)
	} else {
		spec.SeedNodes = seedNodes(snap, p.SeedFraction)
		params["seedFraction"] = strconv.FormatFloat(p.SeedFraction, 'g', -1, 64)
	}
	spec.Tenants = tenantOrder(snap, p)
	return &plan.Plan{
		TypeMeta: metav1.TypeMeta{APIVersion: plan.APIVersion, Kind: plan.Kind},
		Metadata: plan.Metadata{SnapshotFingerprint: snap.Fingerprint(), Strategy: "migration", Params: params},
		Spec: plan.Spec{Drain: drain, Gates: plan.Gates{ExpectedOSImage: p.NewOSImage},
			Batches: []plan.Batch{}, Migration: spec},
	}, nil
}

// seedNodes picks about ceil(fraction × nodes) nodes, pool by pool, so
// that the new cluster has every shape the old one has: each pool gives
// its share of the seed (largest remainders), and at least one node, so a
// tenant pinned to a pool (GPUs, a tainted pool) has somewhere to go. In
// a pool, the zones take turns, so that zone-spread workloads find every
// zone; in a zone, nodes hosting no pod on a local volume come first
// (their pods could not follow them), then the emptiest, then by name.
func seedNodes(snap *snapshot.Snapshot, fraction float64) []string {
	local := localVolumeNodes(snap)
	movable := map[string]int{}
	for i := range snap.Pods {
		pod := &snap.Pods[i]
		if pod.Spec.NodeName != "" && plan.TenantOf(pod, plan.WaveByNamespace, "") != "" {
			movable[pod.Spec.NodeName]++
		}
	}
	pools := map[string][]*corev1.Node{}
	for i := range snap.Nodes {
		n := &snap.Nodes[i]
		pools[snapshot.NodePool(n)] = append(pools[snapshot.NodePool(n)], n)
	}
	quota := poolQuotas(pools, fraction)
	var out []string
	for pool, nodes := range pools {
		out = append(out, pickInZones(nodes, quota[pool], func(a, b string) bool {
			if local[a] != local[b] {
				return !local[a]
			}
			if movable[a] != movable[b] {
				return movable[a] < movable[b]
			}
			return a < b
		})...)
	}
	sort.Strings(out)
	return out
}

// poolQuotas shares ceil(fraction × nodes) among the pools in proportion
// to their sizes (largest remainder first, ties by pool name), each pool
// giving at least one node and at most all of its nodes.
func poolQuotas(pools map[string][]*corev1.Node, fraction float64) map[string]int {
	total := 0
	names := make([]string, 0, len(pools))
	for name, nodes := range pools {
		total += len(nodes)
		names = append(names, name)
	}
	sort.Strings(names)
	k := max(1, int(math.Ceil(fraction*float64(total))))
	quota := map[string]int{}
	rest := map[string]float64{}
	given := 0
	for _, name := range names {
		exact := fraction * float64(len(pools[name]))
		quota[name] = max(1, min(len(pools[name]), int(math.Floor(exact))))
		rest[name] = exact - math.Floor(exact)
		given += quota[name]
	}
	sort.SliceStable(names, func(i, j int) bool { return rest[names[i]] > rest[names[j]] })
	for _, name := range names {
		if given >= k {
			break
		}
		if quota[name] < len(pools[name]) {
			quota[name]++
			given++
		}
	}
	return quota
}

// pickInZones takes k of the nodes, the zones taking turns (zones by
// name), each zone's nodes in the order less gives.
func pickInZones(nodes []*corev1.Node, k int, less func(a, b string) bool) []string {
	byZone := map[string][]string{}
	var zones []string
	for _, n := range nodes {
		z := snapshot.NodeZone(n)
		if byZone[z] == nil {
			zones = append(zones, z)
		}
		byZone[z] = append(byZone[z], n.Name)
	}
	sort.Strings(zones)
	for _, z := range zones {
		names := byZone[z]
		sort.Slice(names, func(i, j int) bool { return less(names[i], names[j]) })
	}
	var out []string
	for round := 0; len(out) < k; round++ {
		took := false
		for _, z := range zones {
			if round < len(byZone[z]) && len(out) < k {
				out = append(out, byZone[z][round])
				took = true
			}
		}
		if !took {
			break
		}
	}
	return out
}

// localVolumeNodes are the nodes with a pod whose claim is bound to a PV
// pinned to one node (a local or hostPath volume, or a node affinity on the
// PV's hostname).
func localVolumeNodes(snap *snapshot.Snapshot) map[string]bool {
	pinned := map[string]bool{}
	for i := range snap.PersistentVolumes {
		pv := &snap.PersistentVolumes[i]
		if pv.Spec.Local != nil || pv.Spec.HostPath != nil {
			pinned[pv.Name] = true
		}
	}
	claims := map[string]bool{}
	for i := range snap.PersistentVolumeClaims {
		c := &snap.PersistentVolumeClaims[i]
		if pinned[c.Spec.VolumeName] {
			claims[c.Namespace+"/"+c.Name] = true
		}
	}
	out := map[string]bool{}
	for i := range snap.Pods {
		pod := &snap.Pods[i]
		for _, v := range pod.Spec.Volumes {
			if v.PersistentVolumeClaim != nil && claims[pod.Namespace+"/"+v.PersistentVolumeClaim.ClaimName] {
				out[pod.Spec.NodeName] = true
			}
		}
	}
	return out
}

// tenantOrder lists the tenants: those of p.Order first, in its order, then
// the others smallest first (requested CPU, then pods, then name).
func tenantOrder(snap *snapshot.Snapshot, p Params) []string {
	type size struct {
		milliCPU int64
		pods     int
	}
	sizes := map[string]*size{}
	for i := range snap.Pods {
		pod := &snap.Pods[i]
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		name := plan.TenantOf(pod, p.WaveBy, p.WaveLabel)
		if name == "" {
			continue
		}
		sz := sizes[name]
		if sz == nil {
			sz = &size{}
			sizes[name] = sz
		}
		sz.pods++
		for _, c := range pod.Spec.Containers {
			sz.milliCPU += c.Resources.Requests.Cpu().MilliValue()
		}
	}
	var out []string
	listed := map[string]bool{}
	for _, name := range p.Order {
		if sizes[name] != nil && !listed[name] {
			listed[name] = true
			out = append(out, name)
		}
	}
	var rest []string
	for name := range sizes {
		if !listed[name] {
			rest = append(rest, name)
		}
	}
	sort.Slice(rest, func(i, j int) bool {
		a, b := sizes[rest[i]], sizes[rest[j]]
		if a.milliCPU != b.milliCPU {
			return a.milliCPU < b.milliCPU
		}
		if a.pods != b.pods {
			return a.pods < b.pods
		}
		return rest[i] < rest[j]
	})
	return append(out, rest...)
}

// ReadOrderFile reads an explicit tenant order: one tenant per line; blank
// lines and lines starting with # are ignored.
func ReadOrderFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading wave order: %w", err)
	}
	defer func() { _ = f.Close() }()
	var out []string
	seen := map[string]int{}
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if strings.ContainsAny(t, " \t") {
			return nil, fmt.Errorf("%s:%d: %q: one tenant per line", path, line, t)
		}
		if prev, ok := seen[t]; ok {
			return nil, fmt.Errorf("%s:%d: tenant %q already listed on line %d", path, line, t, prev)
		}
		seen[t] = line
		out = append(out, t)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return out, nil
}

// ParseBandwidth reads a rate in bytes per second: a Kubernetes quantity
// ("100Mi", "1G", "500M"), optionally followed by "/s" or "B/s"
// ("100MiB/s").
func ParseBandwidth(s string) (int64, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimSuffix(t, "/s")
	t = strings.TrimSuffix(t, "B")
	q, err := resource.ParseQuantity(t)
	if err != nil || q.Sign() <= 0 {
		return 0, fmt.Errorf("bandwidth %q: want a positive size per second, e.g. 100MiB/s", s)
	}
	return q.Value(), nil
}

// FormatBandwidth writes a rate as ParseBandwidth reads it.
func FormatBandwidth(b int64) string {
	return resource.NewQuantity(b, resource.BinarySI).String() + "B/s"
}
