// Package rolling generates the rolling replacement plan: nodes are taken a
// batch at a time — cordon, drain, reinstall, rejoin, uncordon — and the
// next batch starts when the previous one is back.
//
// Batch size is a count ("10") or a percentage of the nodes ("5%", rounded
// up, at least 1). The order is one of:
//
//	name         alphabetical (deterministic; tests use it)
//	zone         zone by zone: a batch never spans two zones
//	fewest-pods  emptiest nodes first (DaemonSet and mirror pods not counted)
//	planned      PDB-aware: batches take as few pods of one budget (or of one
//	             controller without a budget) as it can lose (planned.go)
//
// Variants: Surge adds new nodes before the first batch (they cost extra
// machine-hours); Window keeps N nodes in flight, the next starting as soon
// as one is back, instead of batches; CordonAhead cordons the next K
// batches' nodes when a batch starts, so that evicted pods avoid nodes about
// to be replaced (less churn, less spare capacity).
package rolling

import (
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/noderoll/noderoll/plan"
	"github.com/noderoll/noderoll/snapshot"
)

// Orders the generator knows.
const (
	OrderName       = "name"
	OrderZone       = "zone"
	OrderFewestPods = "fewest-pods"
	OrderPlanned    = "planned"
)

// Orders lists every order, for help texts and validation.
var Orders = []string{OrderName, OrderZone, OrderFewestPods, OrderPlanned}

// Params configure the rolling strategy.
type Params struct {
	// BatchSize is a node count or a percentage of the nodes ("5%").
	BatchSize string
	// Order is how nodes are put in batches.
	Order string
	// Drain are the drain options; zero means plan.DefaultDrainOptions.
	Drain *plan.DrainOptions
	// SoakSeconds waits after each batch.
	SoakSeconds int64
	// NewOSImage is the OS image nodes must report after rejoining.
	NewOSImage string
	// Surge new nodes of the most common shape join before the first batch.
	Surge int
	// Window, when positive, keeps that many nodes in flight instead of
	// running batches (BatchSize is then ignored).
	Window int
	// CordonAhead cordons the nodes of the next K batches when a batch
	// starts.
	CordonAhead int
}

// ParseBatchSize turns "10" or "5%" into a node count for a cluster of n
// nodes.
func ParseBatchSize(spec string, n int) (int, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return 0, fmt.Errorf("batch size is empty")
	}
	if pct, ok := strings.CutSuffix(spec, "%"); ok {
		// Exact decimal arithmetic: 2.2% of 1500 is 33, not 33.000000000000004
		// rounded up to 34.
		r, ok := new(big.Rat).SetString(pct)
		if !ok || r.Sign() <= 0 || r.Cmp(big.NewRat(100, 1)) > 0 || strings.ContainsAny(pct, "/eE") {
			return 0, fmt.Errorf("batch size %q: want a percentage in (0, 100]", spec)
		}
		r.Mul(r, big.NewRat(int64(n), 100))
		q, m := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
		if m.Sign() > 0 {
			q.Add(q, big.NewInt(1))
		}
		return max(1, int(q.Int64())), nil
	}
	k, err := strconv.Atoi(spec)
	if err != nil || k <= 0 {
		return 0, fmt.Errorf("batch size %q: want a positive count or a percentage", spec)
	}
	return k, nil
}

// Plan makes the rolling plan for every node of snap.
func Plan(snap *snapshot.Snapshot, p Params) (*plan.Plan, error) {
	if p.BatchSize == "" {
		p.BatchSize = "10%"
	}
	if p.Order == "" {
		p.Order = OrderName
	}
	size, err := ParseBatchSize(p.BatchSize, len(snap.Nodes))
	if err != nil {
		return nil, err
	}
	if p.Surge < 0 || p.Window < 0 || p.CordonAhead < 0 {
		return nil, fmt.Errorf("surge %d, window %d, cordon-ahead %d: must not be negative", p.Surge, p.Window, p.CordonAhead)
	}
	if p.Window > 0 {
		size = 1
	}
	drain := plan.DefaultDrainOptions()
	if p.Drain != nil {
		drain = *p.Drain
	}
	nodes := make([]*corev1.Node, len(snap.Nodes))
	for i := range snap.Nodes {
		nodes[i] = &snap.Nodes[i]
	}
	var groups [][]*corev1.Node
	switch p.Order {
	case OrderName:
		sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
		groups = [][]*corev1.Node{nodes}
	case OrderZone:
		byZone := map[string][]*corev1.Node{}
		for _, n := range nodes {
			z := snapshot.NodeZone(n)
			byZone[z] = append(byZone[z], n)
		}
		zones := make([]string, 0, len(byZone))
		for z := range byZone {
			zones = append(zones, z)
		}
		sort.Strings(zones)
		for _, z := range zones {
			g := byZone[z]
			sort.Slice(g, func(i, j int) bool { return g[i].Name < g[j].Name })
			groups = append(groups, g)
		}
	case OrderFewestPods:
		counts := movablePods(snap)
		sort.Slice(nodes, func(i, j int) bool {
			ci, cj := counts[nodes[i].Name], counts[nodes[j].Name]
			if ci != cj {
				return ci < cj
			}
			return nodes[i].Name < nodes[j].Name
		})
		groups = [][]*corev1.Node{nodes}
	case OrderPlanned:
		sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
		groups = planBatches(snap, nodes, size)
	default:
		return nil, fmt.Errorf("order %q: want one of %s", p.Order, strings.Join(Orders, ", "))
	}
	out := &plan.Plan{
		TypeMeta: metav1.TypeMeta{APIVersion: plan.APIVersion, Kind: plan.Kind},
		Metadata: plan.Metadata{
			SnapshotFingerprint: snap.Fingerprint(),
			Strategy:            "rolling",
			Params:              map[string]string{"batchSize": p.BatchSize, "order": p.Order},
		},
		Spec: plan.Spec{Drain: drain, SoakSeconds: p.SoakSeconds, Gates: plan.Gates{ExpectedOSImage: p.NewOSImage},
			Surge: p.Surge, Window: p.Window, CordonAhead: p.CordonAhead},
	}
	for k, v := range map[string]int{"surge": p.Surge, "window": p.Window, "cordonAhead": p.CordonAhead} {
		if v > 0 {
			out.Metadata.Params[k] = strconv.Itoa(v)
		}
	}
	if p.Window > 0 {
		delete(out.Metadata.Params, "batchSize")
	}
	for _, g := range groups {
		for i := 0; i < len(g); i += size {
			b := plan.Batch{Index: len(out.Spec.Batches)}
			for _, n := range g[i:min(i+size, len(g))] {
				b.Nodes = append(b.Nodes, n.Name)
			}
			out.Spec.Batches = append(out.Spec.Batches, b)
		}
	}
	return out, nil
}

// movablePods counts, per node, the pods a drain moves.
func movablePods(snap *snapshot.Snapshot) map[string]int {
	counts := map[string]int{}
	for i := range snap.Pods {
		p := &snap.Pods[i]
		if p.Spec.NodeName == "" {
			continue
		}
		if ref := metav1.GetControllerOf(p); ref != nil && ref.Kind == "DaemonSet" {
			continue
		}
		if plan.IsMirrorPod(p) {
			continue
		}
		counts[p.Spec.NodeName]++
	}
	return counts
}
