package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/noderoll/noderoll/snapshot"
	"github.com/noderoll/noderoll/snapshot/materialize"
)

// TestEvictionsUnderAPDBAreAnswered429UntilTheReplacementIsReady evicts
// two pods of a Deployment whose PDB allows one disruption, back to back,
// through the Eviction API: the API server accepts the first and answers
// the second 429 Too Many Requests. Retried every second, as kubectl drain
// does every 5 s, the second goes through once the first pod's replacement
// is Ready (KWOK's stages make that take 1-4 s).
func TestEvictionsUnderAPDBAreAnswered429UntilTheReplacementIsReady(t *testing.T) {
	c := NewTestCluster(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	const ns, app = "shop", "web"
	if _, err := materialize.Apply(ctx, pdbScenario(ns, app, 3), materialize.Config{REST: c.REST, Timeout: time.Minute}); err != nil {
		t.Fatalf("applying the scenario: %v", err)
	}
	if err := waitBudget(ctx, c.Client, ns, app, 1); err != nil {
		t.Fatalf("waiting for the PDB to allow one disruption: %v", err)
	}
	pods, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: labels.Set{"app": app}.String()})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 3 {
		t.Fatalf("%d pods, want 3", len(pods.Items))
	}
	first, second := pods.Items[0].Name, pods.Items[1].Name

	for _, tc := range []struct {
		name    string
		pod     string
		want429 bool
	}{
		{"the first eviction is allowed by the budget", first, false},
		{"the second eviction, at once, is refused with 429", second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := evict(ctx, c.Client, ns, tc.pod)
			switch {
			case tc.want429 && !apierrors.IsTooManyRequests(err):
				t.Fatalf("evicting %s: %v, want 429 Too Many Requests", tc.pod, err)
			case !tc.want429 && err != nil:
				t.Fatalf("evicting %s: %v, want success", tc.pod, err)
			case tc.want429:
				t.Logf("evicting %s: %v", tc.pod, err)
			}
		})
	}

	t.Run("the refused eviction goes through once the replacement is Ready", func(t *testing.T) {
		start := time.Now()
		refusals := 0
		err := wait.PollUntilContextTimeout(ctx, time.Second, time.Minute, true, func(ctx context.Context) (bool, error) {
			err := evict(ctx, c.Client, ns, second)
			if apierrors.IsTooManyRequests(err) {
				refusals++
				return false, nil
			}
			return err == nil, err
		})
		if err != nil {
			t.Fatalf("evicting %s again: %v", second, err)
		}
		t.Logf("evicted %s after %v and %d more refusals", second, time.Since(start).Round(time.Millisecond), refusals)
	})
}

// pdbScenario is a snapshot of two KWOK nodes and a Deployment of n
// replicas with a PDB of maxUnavailable 1.
func pdbScenario(ns, app string, replicas int32) *snapshot.Snapshot {
	s := &snapshot.Snapshot{}
	for i := range 2 {
		s.Nodes = append(s.Nodes, corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("node-%d", i), Labels: map[string]string{corev1.LabelHostname: fmt.Sprintf("node-%d", i)}},
			Spec:       corev1.NodeSpec{PodCIDR: fmt.Sprintf("10.244.%d.0/24", i)},
			Status: corev1.NodeStatus{
				Capacity:    corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8"), corev1.ResourceMemory: resource.MustParse("32Gi"), corev1.ResourcePods: resource.MustParse("110")},
				Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8"), corev1.ResourceMemory: resource.MustParse("32Gi"), corev1.ResourcePods: resource.MustParse("110")},
			},
		})
	}
	sel := map[string]string{"app": app}
	s.Namespaces = []corev1.Namespace{{ObjectMeta: metav1.ObjectMeta{Name: ns}}}
	s.Deployments = []appsv1.Deployment{{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: app},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: sel},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: sel},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: new(int64(5)),
					Containers: []corev1.Container{{Name: "web", Image: "web:1", Resources: corev1.ResourceRequirements{
						Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}}},
				},
			},
		},
	}}
	maxUnavailable := intstr.FromInt32(1)
	s.PodDisruptionBudgets = []policyv1.PodDisruptionBudget{{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: app},
		Spec:       policyv1.PodDisruptionBudgetSpec{Selector: &metav1.LabelSelector{MatchLabels: sel}, MaxUnavailable: &maxUnavailable},
	}}
	// What the cluster will run, for Apply's wait.
	for i := range replicas {
		s.Pods = append(s.Pods, corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("%s-%d", app, i), Labels: sel,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: app + "-rs", Controller: new(true)}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning},
		})
	}
	s.ReplicaSets = []appsv1.ReplicaSet{{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: app + "-rs",
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: app, Controller: new(true)}}}}}
	return s
}

// waitBudget waits until the disruption controller says the PDB allows
// the given number of disruptions.
func waitBudget(ctx context.Context, c kubernetes.Interface, ns, name string, allowed int32) error {
	return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		pdb, err := c.PolicyV1().PodDisruptionBudgets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return pdb.Status.DisruptionsAllowed == allowed && pdb.Status.CurrentHealthy == pdb.Status.ExpectedPods, nil
	})
}

// evict asks the Eviction API (policy/v1) to evict the pod.
func evict(ctx context.Context, c kubernetes.Interface, ns, pod string) error {
	return c.PolicyV1().Evictions(ns).Evict(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: pod}})
}
