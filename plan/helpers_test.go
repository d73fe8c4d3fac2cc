package plan_test

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	. "github.com/noderoll/noderoll/internal/testutil"
)

// deletedAt is the fixed deletion timestamp of terminating test pods.
var deletedAt = metav1.NewTime(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))

// The pod modifiers below complete testutil's builders with the states the
// drain filters and the eviction subresource look at.

// phase sets the pod's phase, keeping its conditions.
func phase(p *corev1.Pod, ph corev1.PodPhase) *corev1.Pod {
	p.Status.Phase = ph
	return p
}

// notReady makes a Running pod whose Ready condition is status (False or
// Unknown).
func notReady(p *corev1.Pod, status corev1.ConditionStatus) *corev1.Pod {
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}
	return p
}

// terminating gives the pod a deletion timestamp: it is being deleted.
func terminating(p *corev1.Pod) *corev1.Pod {
	p.DeletionTimestamp = &deletedAt
	return p
}

// mirror makes the pod the kubelet's mirror of a static pod: the mirror
// annotation and, as the kubelet sets it, a controller reference to the node.
func mirror(p *corev1.Pod, node string) *corev1.Pod {
	if p.Annotations == nil {
		p.Annotations = map[string]string{}
	}
	p.Annotations[corev1.MirrorPodAnnotationKey] = "hash-" + p.Name
	t := true
	p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: node,
		UID: types.UID("uid-node-" + node), Controller: &t}}
	return p
}

// ownedBy sets an owner reference with an explicit API version and
// controller flag (testutil's OwnedBy always sets apps/v1 or batch/v1 and
// controller: true).
func ownedBy(p *corev1.Pod, apiVersion, kind, name string, controller bool) *corev1.Pod {
	p.OwnerReferences = []metav1.OwnerReference{{APIVersion: apiVersion, Kind: kind, Name: name,
		UID: types.UID("uid-" + kind + "-" + name), Controller: &controller}}
	return p
}

// readyPods returns n Running, Ready pods of ReplicaSet web-<prefix>,
// labelled app=web.
func readyPods(prefix string, n int) []*corev1.Pod {
	pods := make([]*corev1.Pod, n)
	for i := range pods {
		pods[i] = webPod(prefix, i).Running().Obj()
	}
	return pods
}

func webPod(prefix string, i int) *PodBuilder {
	return Pod(fmt.Sprintf("%s-%d", prefix, i)).Label("app", "web").OwnedBy("ReplicaSet", "web").On("n1")
}

// concat joins pod lists.
func concat(lists ...[]*corev1.Pod) []*corev1.Pod {
	var all []*corev1.Pod
	for _, l := range lists {
		all = append(all, l...)
	}
	return all
}

// pdbFor is a PodDisruptionBudget in namespace default selecting app=<app>.
func pdbFor(name, app string) *policyv1.PodDisruptionBudget {
	return &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: policyv1.PodDisruptionBudgetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}},
		},
	}
}

func minAvailable(pdb *policyv1.PodDisruptionBudget, v intstr.IntOrString) *policyv1.PodDisruptionBudget {
	pdb.Spec.MinAvailable = &v
	return pdb
}

func maxUnavailable(pdb *policyv1.PodDisruptionBudget, v intstr.IntOrString) *policyv1.PodDisruptionBudget {
	pdb.Spec.MaxUnavailable = &v
	return pdb
}

func unhealthyPolicy(pdb *policyv1.PodDisruptionBudget, p policyv1.UnhealthyPodEvictionPolicyType) *policyv1.PodDisruptionBudget {
	pdb.Spec.UnhealthyPodEvictionPolicy = &p
	return pdb
}

// knownDiscrepancy marks a table case on which noderoll currently differs
// from upstream Kubernetes: the case states upstream's behaviour; while it
// fails, it is skipped with the reason and the difference, and once it
// passes (the code was fixed) it fails so that the mark is removed.
type knownDiscrepancy string

// check reports a mismatch (ok false, described by diff) as the case's
// outcome given its mark.
func (k knownDiscrepancy) check(t *testing.T, ok bool, diff string) {
	t.Helper()
	switch {
	case ok && k != "":
		t.Errorf("marked as a known discrepancy with upstream (%s) but now agrees with upstream: remove the mark", k)
	case !ok && k != "":
		t.Skipf("KNOWN DISCREPANCY with upstream: %s\n%s", k, diff)
	case !ok:
		t.Error(diff)
	}
}
