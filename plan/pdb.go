package plan

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// BudgetStatus is a PodDisruptionBudget's status as the disruption
// controller computes it.
type BudgetStatus struct {
	ExpectedPods       int32
	DesiredHealthy     int32
	CurrentHealthy     int32
	DisruptionsAllowed int32
}

// Budget computes a PDB's status the way the disruption controller does:
//
//   - expectedPods: for maxUnavailable, or a percentage minAvailable, the
//     sum of the desired replicas of the controllers of the matching pods
//     (expectedScale, given by the caller); for an integer minAvailable, the
//     number of matching pods;
//   - desiredHealthy: minAvailable, or expectedPods - maxUnavailable, with
//     percentages scaled against expectedPods and rounded up, as
//     intstr.GetScaledValueFromIntOrPercent(..., true) does;
//   - currentHealthy: matching pods that are Ready and not being deleted;
//   - disruptionsAllowed: currentHealthy - desiredHealthy, at least 0, and 0
//     when expectedPods is 0.
func Budget(pdb *policyv1.PodDisruptionBudget, matching []*corev1.Pod, expectedScale int32) (BudgetStatus, error) {
	var st BudgetStatus
	switch {
	case pdb.Spec.MaxUnavailable != nil:
		st.ExpectedPods = expectedScale
		maxUnavailable, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MaxUnavailable, int(expectedScale), true)
		if err != nil {
			return st, fmt.Errorf("PodDisruptionBudget %s/%s: spec.maxUnavailable: %w", pdb.Namespace, pdb.Name, err)
		}
		st.DesiredHealthy = max(0, expectedScale-int32(maxUnavailable))
	case pdb.Spec.MinAvailable != nil && pdb.Spec.MinAvailable.Type == intstr.Int:
		st.DesiredHealthy = pdb.Spec.MinAvailable.IntVal
		st.ExpectedPods = int32(len(matching))
	case pdb.Spec.MinAvailable != nil:
		st.ExpectedPods = expectedScale
		minAvailable, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MinAvailable, int(expectedScale), true)
		if err != nil {
			return st, fmt.Errorf("PodDisruptionBudget %s/%s: spec.minAvailable: %w", pdb.Namespace, pdb.Name, err)
		}
		st.DesiredHealthy = int32(minAvailable)
	}
	for _, p := range matching {
		if p.DeletionTimestamp == nil && IsReady(p) {
			st.CurrentHealthy++
		}
	}
	if st.ExpectedPods > 0 {
		st.DisruptionsAllowed = max(0, st.CurrentHealthy-st.DesiredHealthy)
	}
	return st, nil
}

// IsReady reports whether the pod's Ready condition is true.
func IsReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// Selects reports whether the PDB selects the pod (same namespace, selector
// matches; an unparsable selector selects nothing, as in the API server).
func Selects(pdb *policyv1.PodDisruptionBudget, pod *corev1.Pod) bool {
	return NewBudgetMatcher(pdb).Selects(pod)
}

// BudgetMatcher is Selects for one PDB with its selector parsed once, for
// matching many pods.
type BudgetMatcher struct {
	namespace string
	sel       labels.Selector // nil: the selector does not parse
}

// NewBudgetMatcher parses pdb's selector.
func NewBudgetMatcher(pdb *policyv1.PodDisruptionBudget) BudgetMatcher {
	m := BudgetMatcher{namespace: pdb.Namespace}
	if sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector); err == nil {
		m.sel = sel
	}
	return m
}

// Selects reports whether the PDB selects the pod, as Selects does.
func (m BudgetMatcher) Selects(pod *corev1.Pod) bool {
	return m.sel != nil && m.namespace == pod.Namespace && m.sel.Matches(labels.Set(pod.Labels))
}

// EvictionResult is how the API server answers an eviction.
type EvictionResult int

const (
	// EvictionAllowed: 201, the pod is being deleted.
	EvictionAllowed EvictionResult = iota
	// EvictionTooManyRequests: 429, the budget allows no disruption now;
	// retry later.
	EvictionTooManyRequests
	// EvictionMultiplePDBs: 500, the pod is selected by more than one PDB,
	// which the eviction subresource does not support; retrying does not
	// help.
	EvictionMultiplePDBs
)

// EvictionVerdict is the answer to one eviction, with the PDB that decided
// it and the API server's message.
type EvictionVerdict struct {
	Result  EvictionResult
	PDB     *policyv1.PodDisruptionBudget
	Message string
}

// AnswerEviction answers an eviction of pod as the eviction subresource does, given
// the PDBs that select it and, for each, its current status:
//
//   - a pod that is Pending, Succeeded, Failed or already being deleted is
//     deleted without consulting any PDB;
//   - more than one PDB: 500;
//   - no PDB: allowed;
//   - a pod that is not Ready: allowed when the PDB's
//     unhealthyPodEvictionPolicy is AlwaysAllow, or when the budget is
//     currently met (currentHealthy >= desiredHealthy > 0, the default
//     IfHealthyBudget);
//   - otherwise allowed only while disruptionsAllowed > 0, else 429.
//
// The caller records an allowed eviction (the pod starts terminating, which
// removes it from currentHealthy).
func AnswerEviction(pod *corev1.Pod, pdbs []*policyv1.PodDisruptionBudget, status func(*policyv1.PodDisruptionBudget) BudgetStatus) EvictionVerdict {
	if pod.Status.Phase == corev1.PodPending || pod.Status.Phase == corev1.PodSucceeded ||
		pod.Status.Phase == corev1.PodFailed || pod.DeletionTimestamp != nil {
		return EvictionVerdict{Result: EvictionAllowed}
	}
	switch len(pdbs) {
	case 0:
		return EvictionVerdict{Result: EvictionAllowed}
	case 1:
	default:
		return EvictionVerdict{Result: EvictionMultiplePDBs, PDB: pdbs[0],
			Message: "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."}
	}
	pdb := pdbs[0]
	st := status(pdb)
	if !IsReady(pod) {
		if p := pdb.Spec.UnhealthyPodEvictionPolicy; p != nil && *p == policyv1.AlwaysAllow {
			return EvictionVerdict{Result: EvictionAllowed, PDB: pdb}
		}
		if st.CurrentHealthy >= st.DesiredHealthy && st.DesiredHealthy > 0 {
			return EvictionVerdict{Result: EvictionAllowed, PDB: pdb}
		}
	}
	if st.DisruptionsAllowed > 0 {
		return EvictionVerdict{Result: EvictionAllowed, PDB: pdb}
	}
	msg := fmt.Sprintf("The disruption budget %s does not allow evicting pods currently", pdb.Name)
	if st.CurrentHealthy <= st.DesiredHealthy {
		msg = fmt.Sprintf("The disruption budget %s needs %d healthy pods and has %d currently", pdb.Name, st.DesiredHealthy, st.CurrentHealthy)
	}
	return EvictionVerdict{Result: EvictionTooManyRequests, PDB: pdb, Message: "Cannot evict pod as it would violate the pod's disruption budget. " + msg}
}

// NeedsExpectedScale reports whether the disruption controller needs the
// budget's expected scale, the desired replicas of its pods' controllers:
// for maxUnavailable and for a percentage minAvailable it does; for an
// integer minAvailable it counts the matching pods instead
// (DisruptionController.getExpectedPodCount).
func NeedsExpectedScale(pdb *policyv1.PodDisruptionBudget) bool {
	return pdb.Spec.MaxUnavailable != nil || (pdb.Spec.MinAvailable != nil && pdb.Spec.MinAvailable.Type == intstr.String)
}

// ControllerHasScale reports whether the disruption controller can find
// the desired scale of a pod controller of this kind: its finders know
// ReplicaSets (a Deployment's through the Deployment), ReplicationControllers
// and StatefulSets, and any resource with a scale subresource
// (DisruptionController.finders, getScaleController). Jobs and DaemonSets
// have none: a budget that needs the expected scale of their pods fails
// safe, with no disruption allowed (DisruptionController.failSafe). For a
// custom resource the caller says whether it serves /scale.
func ControllerHasScale(kind string) bool {
	switch kind {
	case "ReplicaSet", "Deployment", "ReplicationController", "StatefulSet":
		return true
	}
	return false
}

// AwaitedAfterDrain reports whether a node's replacement waits, once the
// node is back, for the pods of a controller of this kind that its drain
// displaced to be Ready again (the executor's workloads-Ready gate, and the
// simulator's idea of a node being done). DaemonSet pods leave and return
// with their node. Job pods are not waited for: the Job controller
// recreates an evicted pod only after its failure back-off, and not at all
// once the Job has used its backoffLimit, so waiting on batch work would
// hold the rollout hostage to it. Bare pods (kind "") have no controller
// to wait for.
func AwaitedAfterDrain(ownerKind string) bool {
	return ownerKind != "" && ownerKind != "DaemonSet" && ownerKind != "Job"
}

// DisruptedPodMemory is how long the disruption controller keeps a pod
// the eviction handler recorded in a budget's status.disruptedPods while
// the pod is not deleted yet: it does not count it healthy meanwhile, and
// preemption does not count its disruption twice (DeletionTimeout in
// k8s.io/kubernetes/pkg/controller/disruption).
const DisruptedPodMemory = 2 * time.Minute
