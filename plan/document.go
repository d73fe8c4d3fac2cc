package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/noderoll/noderoll/snapshot"
)

// Defaults of the plan's timeouts, used when a field is 0.
const (
	DefaultHookTimeoutSeconds   = 3600
	DefaultRejoinTimeoutSeconds = 1800
	DefaultReadyTimeoutSeconds  = 900
	DefaultSettleSeconds        = 120
)

// Simulation is what the simulator predicted for a whole plan.
type Simulation struct {
	// Seed is the scheduler's tie-breaking seed.
	Seed int64 `json:"seed"`
	// Assumptions is the time model the prediction rests on (the
	// simulator's timing, in seconds, by name).
	Assumptions map[string]float64 `json:"assumptions,omitempty"`
	// Summary are the predicted totals.
	Summary PredictedSummary `json:"summary"`
}

// PredictedSummary are the simulator's totals over the plan, named as in
// the result JSON.
type PredictedSummary struct {
	DurationSeconds    float64 `json:"durationSeconds"`
	Evictions          int     `json:"evictions"`
	EvictionsBlocked   int     `json:"evictionsBlocked"`
	PDBStallSeconds    float64 `json:"pdbStallSeconds"`
	UnschedulablePods  int     `json:"unschedulablePods"`
	LostPods           int     `json:"lostPods"`
	ServicesWithOutage int     `json:"servicesWithOutage"`
	StuckNodes         int     `json:"stuckNodes"`
	PendingAtEnd       int     `json:"pendingAtEnd"`
}

// Predicted are one batch's predicted figures, named as in the result
// JSON's batches. The executor's run record has the same figures measured.
type Predicted struct {
	DurationSeconds  float64 `json:"durationSeconds"`
	Evictions        int     `json:"evictions"`
	EvictionsBlocked int     `json:"evictionsBlocked"`
	PDBStallSeconds  float64 `json:"pdbStallSeconds"`
	PendingPeak      int     `json:"pendingPeak"`
	Unschedulable    int     `json:"unschedulable"`
}

// Baseline is what the drift gate compares a live cluster with: the nodes
// and PodDisruptionBudgets of the snapshot planned on.
type Baseline struct {
	// Nodes are the snapshot's node names, sorted.
	Nodes []string `json:"nodes"`
	// PDBs are the snapshot's budgets, sorted by name.
	PDBs []PDBDigest `json:"pdbs,omitempty"`
	// Replicas are the workloads whose replicas a what-if file set: the
	// live cluster must run them at that scale (CheckReplicas).
	Replicas []ReplicasDigest `json:"replicas,omitempty"`
	// IgnoreNamespaces are namespaces a what-if file left out of the
	// simulation: their budgets are not compared.
	IgnoreNamespaces []string `json:"ignoreNamespaces,omitempty"`
}

// ReplicasDigest is a workload's expected scale.
type ReplicasDigest struct {
	// Kind is Deployment, StatefulSet or ReplicaSet.
	Kind string `json:"kind"`
	// Name is "namespace/name".
	Name     string `json:"name"`
	Replicas int32  `json:"replicas"`
}

// CheckReplicas compares the live scale of the baseline's workloads with
// what it expects, one line per difference. live maps "Kind/namespace/name"
// to the live spec.replicas; a workload absent from it is missing.
func (b *Baseline) CheckReplicas(live map[string]int32) []string {
	var out []string
	for _, r := range b.Replicas {
		key := r.Kind + "/" + r.Name
		got, ok := live[key]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%s: missing (the plan expects %d replicas)", key, r.Replicas))
		case got != r.Replicas:
			out = append(out, fmt.Sprintf("%s: %d replicas, the plan expects %d (make the what-if file's changes first)", key, got, r.Replicas))
		}
	}
	return out
}

// PDBDigest identifies a PodDisruptionBudget's budget: its name and what it
// allows.
type PDBDigest struct {
	// Name is "namespace/name".
	Name string `json:"name"`
	// Budget is the selector, minAvailable or maxUnavailable, and
	// unhealthyPodEvictionPolicy, in a canonical form (PDBBudget).
	Budget string `json:"budget"`
}

// DriftTolerance is how far the live cluster may have moved from the
// plan's Baseline. The zero value tolerates no drift.
type DriftTolerance struct {
	// NodesAdded is how many nodes may exist that the plan does not know.
	NodesAdded int `json:"nodesAdded,omitempty"`
	// NodesMissing is how many of the plan's nodes may be gone (nodes
	// still to be replaced are never tolerated missing: the plan drains
	// them).
	NodesMissing int `json:"nodesMissing,omitempty"`
	// PDBsChanged is how many budgets may have been added, removed or
	// changed.
	PDBsChanged int `json:"pdbsChanged,omitempty"`
}

// NewBaseline records the snapshot's nodes and budgets.
func NewBaseline(snap *snapshot.Snapshot) *Baseline {
	b := &Baseline{Nodes: make([]string, 0, len(snap.Nodes))}
	for i := range snap.Nodes {
		b.Nodes = append(b.Nodes, snap.Nodes[i].Name)
	}
	slices.Sort(b.Nodes)
	for i := range snap.PodDisruptionBudgets {
		pdb := &snap.PodDisruptionBudgets[i]
		b.PDBs = append(b.PDBs, PDBDigest{Name: pdb.Namespace + "/" + pdb.Name, Budget: PDBBudget(pdb)})
	}
	slices.SortFunc(b.PDBs, func(x, y PDBDigest) int { return strings.Compare(x.Name, y.Name) })
	return b
}

// Digest identifies the plan's content: two plans with the same digest
// do the same thing. The executor keys its persisted progress by it.
func Digest(p *Plan) string {
	data, err := json.Marshal(p)
	if err != nil {
		// A Plan is plain data: it always marshals.
		return "unmarshalable:" + err.Error()
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// NodeCount is the number of nodes the plan replaces.
func (p *Plan) NodeCount() int {
	n := 0
	for _, b := range p.Spec.Batches {
		n += len(b.Nodes)
	}
	return n
}

// BatchOf returns the index of the batch that replaces node, or -1.
func (p *Plan) BatchOf(node string) int {
	for i, b := range p.Spec.Batches {
		if slices.Contains(b.Nodes, node) {
			return i
		}
	}
	return -1
}

// String names the plan in messages: strategy, parameters and digest.
func (p *Plan) String() string {
	keys := make([]string, 0, len(p.Metadata.Params))
	for k := range p.Metadata.Params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString(p.Metadata.Strategy)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%s", k, p.Metadata.Params[k])
	}
	fmt.Fprintf(&b, " (%d nodes in %d batches, plan %.12s)", p.NodeCount(), len(p.Spec.Batches), Digest(p))
	return b.String()
}
