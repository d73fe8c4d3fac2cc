package plan_test

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	. "github.com/noderoll/noderoll/internal/testutil"
	"github.com/noderoll/noderoll/plan"
	"github.com/noderoll/noderoll/snapshot"
)

func budget(ns, name, app string, maxUnavailable int, allowed int32) policyv1.PodDisruptionBudget {
	mu := intstr.FromInt(maxUnavailable)
	return policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Generation: 1},
		Spec:       policyv1.PodDisruptionBudgetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}, MaxUnavailable: &mu},
		Status:     policyv1.PodDisruptionBudgetStatus{ObservedGeneration: 1, DisruptionsAllowed: allowed},
	}
}

func TestCheckDriftAgainstTheBaseline(t *testing.T) {
	snap := &snapshot.Snapshot{
		Nodes:                []corev1.Node{*Node("n1").Obj(), *Node("n2").Obj(), *Node("n3").Obj()},
		PodDisruptionBudgets: []policyv1.PodDisruptionBudget{budget("shop", "web", "web", 1, 1), budget("shop", "db", "db", 1, 1)},
	}
	base := plan.NewBaseline(snap)
	nodes := func(names ...string) []*corev1.Node {
		var out []*corev1.Node
		for _, n := range names {
			out = append(out, Node(n).Obj())
		}
		return out
	}
	pdbs := func(bs ...policyv1.PodDisruptionBudget) []*policyv1.PodDisruptionBudget {
		var out []*policyv1.PodDisruptionBudget
		for i := range bs {
			out = append(out, &bs[i])
		}
		return out
	}
	same := pdbs(budget("shop", "web", "web", 1, 0), budget("shop", "db", "db", 1, 1))
	for _, tc := range []struct {
		name      string
		nodes     []*corev1.Node
		pdbs      []*policyv1.PodDisruptionBudget
		tol       plan.DriftTolerance
		remaining []string
		want      []string // substrings of the violations, in order; none for no violation
	}{
		{"the cluster as planned passes (budget status does not count)", nodes("n1", "n2", "n3"), same, plan.DriftTolerance{}, []string{"n1"}, nil},
		{"a node added is drift", nodes("n1", "n2", "n3", "n4"), same, plan.DriftTolerance{}, nil, []string{"1 nodes not in the plan (tolerance 0): n4"}},
		{"a node added within the tolerance passes", nodes("n1", "n2", "n3", "n4"), same, plan.DriftTolerance{NodesAdded: 1}, nil, nil},
		{"a replaced node missing within the tolerance passes", nodes("n2", "n3"), same, plan.DriftTolerance{NodesMissing: 1}, []string{"n2", "n3"}, nil},
		{"a node still to replace missing fails whatever the tolerance", nodes("n1", "n2"), same, plan.DriftTolerance{NodesMissing: 5}, []string{"n3"},
			[]string{"nodes the plan has still to replace are gone: n3"}},
		{"a budget changed, removed and added", nodes("n1", "n2", "n3"), pdbs(budget("shop", "web", "web", 2, 1), budget("shop", "cache", "cache", 1, 1)),
			plan.DriftTolerance{PDBsChanged: 2}, nil,
			[]string{"3 PodDisruptionBudgets differ from the plan's (tolerance 2): shop/cache (added), shop/db (removed), shop/web (changed: selector=app=web maxUnavailable=1 -> selector=app=web maxUnavailable=2)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := plan.CheckDrift(base, tc.nodes, tc.pdbs).Violations(tc.tol, tc.remaining)
			if len(got) != len(tc.want) {
				t.Fatalf("violations %q, want %d", got, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("violation %q, want %q", got[i], w)
				}
			}
		})
	}
}

func TestExhaustedBudgets(t *testing.T) {
	exists := func(string, string) bool { return true }
	pods := []*corev1.Pod{
		Pod("web-0").Label("app", "web").OwnedBy("ReplicaSet", "web").On("n1").Running().Obj(),
		Pod("db-0").Label("app", "db").OwnedBy("StatefulSet", "db").On("n2").Running().Obj(),
		Pod("agent").Label("app", "agent").OwnedBy("DaemonSet", "agent").On("n1").Running().Obj(),
	}
	for i := range pods {
		pods[i].Namespace = "shop"
	}
	stale := budget("shop", "db", "db", 1, 1)
	stale.Generation = 2
	for _, tc := range []struct {
		name  string
		pdbs  []policyv1.PodDisruptionBudget
		nodes []string
		want  []string
	}{
		{"a budget with room passes", []policyv1.PodDisruptionBudget{budget("shop", "web", "web", 1, 1)}, []string{"n1"}, nil},
		{"a budget with no room over a pod of the batch fails", []policyv1.PodDisruptionBudget{budget("shop", "web", "web", 1, 0)}, []string{"n1"}, []string{"shop/web"}},
		{"a budget with no room over pods elsewhere passes", []policyv1.PodDisruptionBudget{budget("shop", "web", "web", 1, 0)}, []string{"n2"}, nil},
		{"a budget over DaemonSet pods only passes: the drain leaves them", []policyv1.PodDisruptionBudget{budget("shop", "agent", "agent", 1, 0)}, []string{"n1"}, nil},
		{"a budget whose status is older than its spec fails", []policyv1.PodDisruptionBudget{stale}, []string{"n2"}, []string{"shop/db"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pdbs []*policyv1.PodDisruptionBudget
			for i := range tc.pdbs {
				pdbs = append(pdbs, &tc.pdbs[i])
			}
			got := plan.ExhaustedBudgets(pdbs, pods, tc.nodes, plan.DefaultDrainOptions(), exists)
			if !slices.Equal(got, tc.want) {
				t.Errorf("exhausted %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPendingAndPredictionGates(t *testing.T) {
	unsched := Pod("p1").Obj()
	unsched.Status.Phase = corev1.PodPending
	unsched.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable}}
	waiting := Pod("p2").Obj()
	bound := Pod("p3").On("n1").Running().Obj()
	if !plan.IsUnschedulable(unsched) || plan.IsUnschedulable(waiting) || plan.IsPending(bound) {
		t.Errorf("IsUnschedulable/IsPending disagree with the pods' states")
	}
	if n := plan.PendingPods([]*corev1.Pod{unsched, waiting, bound}); n != 2 {
		t.Errorf("%d pending pods, want 2", n)
	}
	g := plan.Gates{MaxPendingPods: new(1), MaxPDBStallSeconds: new(int64(60))}
	if msg := g.CheckPending(2); !strings.Contains(msg, "gates.maxPendingPods 1") {
		t.Errorf("CheckPending(2) = %q, want a failure naming the gate", msg)
	}
	if g.CheckPending(1) != "" || (plan.Gates{}).CheckPending(1000) != "" {
		t.Errorf("pending pods within the limit, or no limit, must pass")
	}
	got := g.CheckPrediction([]plan.Batch{
		{Index: 3, Predicted: &plan.Predicted{PendingPeak: 1, PDBStallSeconds: 60}},
		{Index: 4, Predicted: &plan.Predicted{PendingPeak: 2, PDBStallSeconds: 61}},
		{Index: 5},
	})
	want := []string{"batch 4: predicted pending peak 2 above gates.maxPendingPods 1", "batch 4: predicted PDB stall 61s above gates.maxPDBStallSeconds 60"}
	if !slices.Equal(got, want) {
		t.Errorf("CheckPrediction = %q, want %q", got, want)
	}
}
