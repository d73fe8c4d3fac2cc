package plan

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The gates a batch must pass before it starts. Each is a plain function
// over the objects the executor has just listed; the simulator's
// predictions are checked against the same limits (CheckPrediction).

// PDBBudget is the canonical form of what a budget allows: its selector,
// minAvailable or maxUnavailable, and unhealthyPodEvictionPolicy. Two
// budgets with the same form answer evictions alike.
func PDBBudget(pdb *policyv1.PodDisruptionBudget) string {
	var parts []string
	if pdb.Spec.Selector != nil {
		parts = append(parts, "selector="+metav1.FormatLabelSelector(pdb.Spec.Selector))
	}
	if v := pdb.Spec.MinAvailable; v != nil {
		parts = append(parts, "minAvailable="+v.String())
	}
	if v := pdb.Spec.MaxUnavailable; v != nil {
		parts = append(parts, "maxUnavailable="+v.String())
	}
	if v := pdb.Spec.UnhealthyPodEvictionPolicy; v != nil {
		parts = append(parts, "unhealthyPodEvictionPolicy="+string(*v))
	}
	return strings.Join(parts, " ")
}

// Drift is how the live cluster differs from a plan's Baseline.
type Drift struct {
	// NodesAdded are live nodes the baseline does not have, sorted.
	NodesAdded []string
	// NodesMissing are baseline nodes that are not live, sorted.
	NodesMissing []string
	// PDBsChanged are budgets added, removed or changed, each as
	// "namespace/name (added|removed|changed: OLD -> NEW)", sorted.
	PDBsChanged []string
}

// CheckDrift compares the live nodes and budgets with the baseline.
func CheckDrift(b *Baseline, nodes []*corev1.Node, pdbs []*policyv1.PodDisruptionBudget) Drift {
	var d Drift
	live := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		live[n.Name] = true
		if _, ok := slices.BinarySearch(b.Nodes, n.Name); !ok {
			d.NodesAdded = append(d.NodesAdded, n.Name)
		}
	}
	for _, n := range b.Nodes {
		if !live[n] {
			d.NodesMissing = append(d.NodesMissing, n)
		}
	}
	want := make(map[string]string, len(b.PDBs))
	for _, p := range b.PDBs {
		want[p.Name] = p.Budget
	}
	seen := map[string]bool{}
	for _, pdb := range pdbs {
		if slices.Contains(b.IgnoreNamespaces, pdb.Namespace) {
			continue
		}
		name := pdb.Namespace + "/" + pdb.Name
		seen[name] = true
		got := PDBBudget(pdb)
		old, ok := want[name]
		switch {
		case !ok:
			d.PDBsChanged = append(d.PDBsChanged, name+" (added)")
		case old != got:
			d.PDBsChanged = append(d.PDBsChanged, fmt.Sprintf("%s (changed: %s -> %s)", name, old, got))
		}
	}
	for _, p := range b.PDBs {
		if !seen[p.Name] {
			d.PDBsChanged = append(d.PDBsChanged, p.Name+" (removed)")
		}
	}
	slices.Sort(d.NodesAdded)
	slices.Sort(d.PDBsChanged)
	return d
}

// Violations says, one line each, where the drift exceeds the tolerance.
// remaining are the nodes the plan has still to replace: one of them
// missing is always a violation, whatever the tolerance, since the plan
// would drain it.
func (d Drift) Violations(tol DriftTolerance, remaining []string) []string {
	var out []string
	if len(d.NodesAdded) > tol.NodesAdded {
		out = append(out, fmt.Sprintf("%d nodes not in the plan (tolerance %d): %s", len(d.NodesAdded), tol.NodesAdded, list(d.NodesAdded)))
	}
	var gone []string
	for _, n := range d.NodesMissing {
		if slices.Contains(remaining, n) {
			gone = append(gone, n)
		}
	}
	switch {
	case len(gone) > 0:
		out = append(out, fmt.Sprintf("nodes the plan has still to replace are gone: %s", list(gone)))
	case len(d.NodesMissing) > tol.NodesMissing:
		out = append(out, fmt.Sprintf("%d of the plan's nodes are gone (tolerance %d): %s", len(d.NodesMissing), tol.NodesMissing, list(d.NodesMissing)))
	}
	if len(d.PDBsChanged) > tol.PDBsChanged {
		out = append(out, fmt.Sprintf("%d PodDisruptionBudgets differ from the plan's (tolerance %d): %s", len(d.PDBsChanged), tol.PDBsChanged, list(d.PDBsChanged)))
	}
	return out
}

// list joins the first names and says how many more there are.
func list(names []string) string {
	const shown = 5
	if len(names) <= shown {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:shown], ", "), len(names)-shown)
}

// ExhaustedBudgets returns, as "namespace/name", the budgets that allow no
// disruption now although a drain of the given nodes would have to evict a
// pod they select: the drain would start by waiting on them. A budget's
// allowance is the disruption controller's (status.disruptionsAllowed),
// the figure the eviction subresource answers with; a budget whose status
// is older than its spec counts as exhausted, as the eviction subresource
// refuses to use it. The pods to evict are chosen by Drain with opts.
func ExhaustedBudgets(pdbs []*policyv1.PodDisruptionBudget, pods []*corev1.Pod, nodes []string, opts DrainOptions,
	daemonSetExists func(namespace, name string) bool) []string {
	var out []string
	for _, pdb := range pdbs {
		if pdb.Status.DisruptionsAllowed > 0 && pdb.Status.ObservedGeneration >= pdb.Generation {
			continue
		}
		for _, p := range pods {
			if !slices.Contains(nodes, p.Spec.NodeName) || !Selects(pdb, p) {
				continue
			}
			if d := Drain(p, opts, daemonSetExists); d.Action != Evict || p.DeletionTimestamp != nil ||
				p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
				continue
			}
			out = append(out, pdb.Namespace+"/"+pdb.Name)
			break
		}
	}
	slices.Sort(out)
	return out
}

// IsPending reports whether the pod waits for a node: not bound, not
// being deleted, not finished.
func IsPending(p *corev1.Pod) bool {
	return p.Spec.NodeName == "" && p.DeletionTimestamp == nil &&
		p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed
}

// IsUnschedulable reports whether the scheduler has said it cannot place
// the pod (condition PodScheduled=False, reason Unschedulable) and the pod
// still waits.
func IsUnschedulable(p *corev1.Pod) bool {
	if !IsPending(p) {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled {
			return c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable
		}
	}
	return false
}

// PendingPods counts the pods that wait for a node.
func PendingPods(pods []*corev1.Pod) int {
	n := 0
	for _, p := range pods {
		if IsPending(p) {
			n++
		}
	}
	return n
}

// CheckPending is the pending-pods gate: "" when the limit is unset or
// pending pods are within it, else why the gate fails.
func (g Gates) CheckPending(pending int) string {
	if g.MaxPendingPods != nil && pending > *g.MaxPendingPods {
		return fmt.Sprintf("%d pods wait for a node, more than gates.maxPendingPods %d", pending, *g.MaxPendingPods)
	}
	return ""
}

// CheckPrediction says, one line per figure, where predicted batches break
// the gates' limits: a pending peak above maxPendingPods, a PDB stall
// longer than maxPDBStallSeconds. The executor refuses to go on when a
// re-simulation of the remaining batches says so.
func (g Gates) CheckPrediction(batches []Batch) []string {
	var out []string
	for _, b := range batches {
		if b.Predicted == nil {
			continue
		}
		if g.MaxPendingPods != nil && b.Predicted.PendingPeak > *g.MaxPendingPods {
			out = append(out, fmt.Sprintf("batch %d: predicted pending peak %d above gates.maxPendingPods %d", b.Index, b.Predicted.PendingPeak, *g.MaxPendingPods))
		}
		if g.MaxPDBStallSeconds != nil && b.Predicted.PDBStallSeconds > float64(*g.MaxPDBStallSeconds) {
			out = append(out, fmt.Sprintf("batch %d: predicted PDB stall %.0fs above gates.maxPDBStallSeconds %d", b.Index, b.Predicted.PDBStallSeconds, *g.MaxPDBStallSeconds))
		}
	}
	return out
}
