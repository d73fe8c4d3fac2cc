package executor

import (
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"

	. "github.com/noderoll/noderoll/internal/testutil"
	"github.com/noderoll/noderoll/plan"
)

// TestShortWorkloads: the workloads-ready gate's message names each
// workload short of Ready pods, and says of each of its other pods where
// it is and why it is not Ready.
func TestShortWorkloads(t *testing.T) {
	unschedulable := func(name string) *corev1.Pod {
		p := Pod(name).OwnedBy("ReplicaSet", "web").Obj()
		p.Status.Phase = corev1.PodPending
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
			Reason: corev1.PodReasonUnschedulable, Message: "0/3 nodes are available: 3 Insufficient cpu."}}
		return p
	}
	terminating := Pod("web-old").OwnedBy("ReplicaSet", "web").On("n1").Running().Obj()
	terminating.DeletionTimestamp = &metav1.Time{}
	var many []*corev1.Pod
	for i := range 5 {
		many = append(many, unschedulable(fmt.Sprintf("web-%d", i)))
	}
	for _, tc := range []struct {
		name      string
		displaced map[string]int
		pods      []*corev1.Pod
		want      []string
	}{
		{"every workload is back", map[string]int{"ReplicaSet/default/web": 1},
			[]*corev1.Pod{Pod("web-a").OwnedBy("ReplicaSet", "web").On("n2").Running().Obj()}, nil},
		{"a pod the scheduler cannot place", map[string]int{"ReplicaSet/default/web": 2},
			[]*corev1.Pod{Pod("web-a").OwnedBy("ReplicaSet", "web").On("n2").Running().Obj(), unschedulable("web-b")},
			[]string{"ReplicaSet/default/web (1 of 2 Ready; not Ready: web-b Pending on no node, PodScheduled: 0/3 nodes are available: 3 Insufficient cpu.)"}},
		{"a terminating pod is not counted", map[string]int{"ReplicaSet/default/web": 1},
			[]*corev1.Pod{terminating},
			[]string{"ReplicaSet/default/web (0 of 1 Ready; not Ready: web-old Running on n1, terminating)"}},
		{"a StatefulSet that has not recreated its pod", map[string]int{"StatefulSet/default/db": 1, "ReplicaSet/default/web": 1},
			[]*corev1.Pod{Pod("web-a").OwnedBy("ReplicaSet", "web").On("n2").Running().Obj()},
			[]string{"StatefulSet/default/db (0 of 1 Ready; no other pod exists: its controller has not replaced the evicted ones)"}},
		{"at most three pods are described", map[string]int{"ReplicaSet/default/web": 5}, many,
			[]string{"ReplicaSet/default/web (0 of 5 Ready; not Ready: " +
				"web-0 Pending on no node, PodScheduled: 0/3 nodes are available: 3 Insufficient cpu., " +
				"web-1 Pending on no node, PodScheduled: 0/3 nodes are available: 3 Insufficient cpu., " +
				"web-2 Pending on no node, PodScheduled: 0/3 nodes are available: 3 Insufficient cpu., 2 more)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := shortWorkloads(tc.displaced, tc.pods); !slices.Equal(got, tc.want) {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

// TestGrantedEvictions: a resumed drain completes the evictions a budget
// granted to the executor that died — pods the budget still counts as
// disrupted and that are not being deleted — and only those.
func TestGrantedEvictions(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	budget := func(name, app string, disrupted map[string]time.Time) *policyv1.PodDisruptionBudget {
		pdb := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: policyv1.PodDisruptionBudgetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}}}
		for pod, at := range disrupted {
			if pdb.Status.DisruptedPods == nil {
				pdb.Status.DisruptedPods = map[string]metav1.Time{}
			}
			pdb.Status.DisruptedPods[pod] = metav1.NewTime(at)
		}
		return pdb
	}
	pod := func(name, app string) corev1.Pod {
		return *Pod(name).Label("app", app).OwnedBy("ReplicaSet", app).On("n1").Running().Obj()
	}
	deleting := pod("web-c", "web")
	deleting.DeletionTimestamp = &metav1.Time{Time: now}
	pods := []corev1.Pod{pod("web-a", "web"), pod("web-b", "web"), deleting, pod("db-0", "db")}
	for _, tc := range []struct {
		name string
		pdbs []*policyv1.PodDisruptionBudget
		want []string
	}{
		{"no budget counts a pod as disrupted", []*policyv1.PodDisruptionBudget{budget("web", "web", nil)}, nil},
		{"a pod granted eviction 10 s ago and not deleted",
			[]*policyv1.PodDisruptionBudget{budget("web", "web", map[string]time.Time{"web-a": now.Add(-10 * time.Second)})},
			[]string{"web-a by default/web"}},
		{"a pod being deleted is left to its deletion",
			[]*policyv1.PodDisruptionBudget{budget("web", "web", map[string]time.Time{"web-c": now.Add(-10 * time.Second)})}, nil},
		{"an entry the disruption controller has forgotten (over 2 minutes)",
			[]*policyv1.PodDisruptionBudget{budget("web", "web", map[string]time.Time{"web-a": now.Add(-3 * time.Minute)})}, nil},
		{"an entry of another budget's pod of the same name is not this pod's",
			[]*policyv1.PodDisruptionBudget{budget("db", "db", map[string]time.Time{"web-b": now.Add(-time.Second)})}, nil},
		{"several budgets, several pods",
			[]*policyv1.PodDisruptionBudget{
				budget("web", "web", map[string]time.Time{"web-a": now.Add(-time.Second), "web-b": now.Add(-119 * time.Second)}),
				budget("db", "db", map[string]time.Time{"db-0": now.Add(-time.Minute), "gone": now}),
			},
			[]string{"web-a by default/web", "web-b by default/web", "db-0 by default/db"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, g := range grantedEvictions(pods, tc.pdbs, now) {
				got = append(got, g.pod.Name+" by "+g.pdb)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestCompleteGrantedEvictions: a resumed drain deletes the pod a budget
// granted eviction to, with the plan's grace period and the pod's UID as
// a precondition, counts it, and leaves the node's other pods to the
// drain.
func TestCompleteGrantedEvictions(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	granted := Pod("web-a").Label("app", "web").OwnedBy("ReplicaSet", "web").On("n1").Running().Obj()
	other := Pod("web-b").Label("app", "web").OwnedBy("ReplicaSet", "web").On("n1").Running().Obj()
	pdb := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec:   policyv1.PodDisruptionBudgetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
		Status: policyv1.PodDisruptionBudgetStatus{DisruptedPods: map[string]metav1.Time{"web-a": metav1.NewTime(now.Add(-5 * time.Second))}}}
	client := fake.NewClientset(granted, other, pdb)
	p := &plan.Plan{Metadata: plan.Metadata{Strategy: "rolling"}, Spec: plan.Spec{
		Batches: []plan.Batch{{Index: 0, Nodes: []string{"n1"}}},
		Drain:   plan.DrainOptions{GracePeriodSeconds: new(int64(3))}}}
	e := &executor{cfg: Config{Clock: clocktesting.NewFakeClock(now)}, p: p, client: client, out: io.Discard,
		rec: newRecord(p, plan.Digest(p), now), store: &progressStore{client: client, namespace: "kube-system"}}
	nr := e.rec.Batches[0].NodeRuns[0]
	if err := e.completeGrantedEvictions(t.Context(), nr, []corev1.Pod{*granted, *other}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Pods("default").Get(t.Context(), "web-a", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("web-a, granted eviction, is still there (%v)", err)
	}
	if _, err := client.CoreV1().Pods("default").Get(t.Context(), "web-b", metav1.GetOptions{}); err != nil {
		t.Errorf("web-b, not granted eviction, was deleted: %v", err)
	}
	if nr.EvictionsCompleted != 1 {
		t.Errorf("%d evictions completed, want 1", nr.EvictionsCompleted)
	}
	for _, a := range client.Actions() {
		if d, ok := a.(k8stesting.DeleteActionImpl); ok && d.GetResource().Resource == "pods" {
			o := d.GetDeleteOptions()
			if o.GracePeriodSeconds == nil || *o.GracePeriodSeconds != 3 || o.Preconditions == nil || o.Preconditions.UID == nil || *o.Preconditions.UID != granted.UID {
				t.Errorf("deleted %s with grace period %v and preconditions %+v; want 3 s and the pod's UID", d.GetName(), o.GracePeriodSeconds, o.Preconditions)
			}
		}
	}
}
