package plan_test

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	. "github.com/noderoll/noderoll/internal/testutil"
	"github.com/noderoll/noderoll/plan"
)

// The expected statuses below are worked out by hand from the disruption
// controller (k8s.io/kubernetes v1.37.2, pkg/controller/disruption):
//
//	getExpectedPodCount: maxUnavailable (int or %) and a % minAvailable take
//	  expectedCount from the controllers' scale; an integer minAvailable takes
//	  expectedCount = len(pods). Percentages go through
//	  intstr.GetScaledValueFromIntOrPercent(v, expectedCount, true), i.e.
//	  ceil(p*expectedCount/100), and desiredHealthy = expectedCount -
//	  maxUnavailable is clamped at 0.
//	countHealthyPods: a pod counts when DeletionTimestamp == nil and
//	  IsPodReady (condition Ready == True).
//	updatePdbStatus: disruptionsAllowed = currentHealthy - desiredHealthy,
//	  forced to 0 when expectedCount <= 0 or the difference is <= 0.
func TestBudget(t *testing.T) {
	web := func() *policyv1.PodDisruptionBudget { return pdbFor("web", "web") }
	i := intstr.FromInt32
	s := intstr.FromString
	tests := []struct {
		name    string
		pdb     *policyv1.PodDisruptionBudget
		pods    []*corev1.Pod
		scale   int32
		want    plan.BudgetStatus
		wantErr bool
	}{
		{
			name:  "minAvailable 90% of 10 replicas needs 9 healthy pods and allows 1 disruption with 10 healthy",
			pdb:   minAvailable(web(), s("90%")),
			pods:  readyPods("web", 10),
			scale: 10,
			want:  plan.BudgetStatus{ExpectedPods: 10, DesiredHealthy: 9, CurrentHealthy: 10, DisruptionsAllowed: 1},
		},
		{
			name:  "minAvailable 90% of 3 replicas rounds 2.7 up to 3 and allows no disruption with 3 healthy",
			pdb:   minAvailable(web(), s("90%")),
			pods:  readyPods("web", 3),
			scale: 3,
			want:  plan.BudgetStatus{ExpectedPods: 3, DesiredHealthy: 3, CurrentHealthy: 3, DisruptionsAllowed: 0},
		},
		{
			name:  "minAvailable 50% of 5 replicas rounds 2.5 up to 3",
			pdb:   minAvailable(web(), s("50%")),
			pods:  readyPods("web", 5),
			scale: 5,
			want:  plan.BudgetStatus{ExpectedPods: 5, DesiredHealthy: 3, CurrentHealthy: 5, DisruptionsAllowed: 2},
		},
		{
			name:  "minAvailable 100% allows no disruption",
			pdb:   minAvailable(web(), s("100%")),
			pods:  readyPods("web", 4),
			scale: 4,
			want:  plan.BudgetStatus{ExpectedPods: 4, DesiredHealthy: 4, CurrentHealthy: 4, DisruptionsAllowed: 0},
		},
		{
			name:  "minAvailable 0% allows every healthy pod to be disrupted",
			pdb:   minAvailable(web(), s("0%")),
			pods:  readyPods("web", 4),
			scale: 4,
			want:  plan.BudgetStatus{ExpectedPods: 4, DesiredHealthy: 0, CurrentHealthy: 4, DisruptionsAllowed: 4},
		},
		{
			name:  "a percentage minAvailable scales against the controllers' replicas, not the matching pods",
			pdb:   minAvailable(web(), s("50%")),
			pods:  readyPods("web", 2),
			scale: 6,
			want:  plan.BudgetStatus{ExpectedPods: 6, DesiredHealthy: 3, CurrentHealthy: 2, DisruptionsAllowed: 0},
		},
		{
			name:  "maxUnavailable 1 of 3 replicas needs 2 healthy pods and allows 1 disruption",
			pdb:   maxUnavailable(web(), i(1)),
			pods:  readyPods("web", 3),
			scale: 3,
			want:  plan.BudgetStatus{ExpectedPods: 3, DesiredHealthy: 2, CurrentHealthy: 3, DisruptionsAllowed: 1},
		},
		{
			name:  "maxUnavailable 10% of 5 replicas rounds 0.5 up to 1 and needs 4 healthy pods",
			pdb:   maxUnavailable(web(), s("10%")),
			pods:  readyPods("web", 5),
			scale: 5,
			want:  plan.BudgetStatus{ExpectedPods: 5, DesiredHealthy: 4, CurrentHealthy: 5, DisruptionsAllowed: 1},
		},
		{
			name:  "maxUnavailable 0 allows no disruption even with every pod healthy",
			pdb:   maxUnavailable(web(), i(0)),
			pods:  readyPods("web", 3),
			scale: 3,
			want:  plan.BudgetStatus{ExpectedPods: 3, DesiredHealthy: 3, CurrentHealthy: 3, DisruptionsAllowed: 0},
		},
		{
			name:  "maxUnavailable 0% allows no disruption even with every pod healthy",
			pdb:   maxUnavailable(web(), s("0%")),
			pods:  readyPods("web", 3),
			scale: 3,
			want:  plan.BudgetStatus{ExpectedPods: 3, DesiredHealthy: 3, CurrentHealthy: 3, DisruptionsAllowed: 0},
		},
		{
			name:  "maxUnavailable larger than the replicas clamps desiredHealthy at 0",
			pdb:   maxUnavailable(web(), i(5)),
			pods:  readyPods("web", 3),
			scale: 3,
			want:  plan.BudgetStatus{ExpectedPods: 3, DesiredHealthy: 0, CurrentHealthy: 3, DisruptionsAllowed: 3},
		},
		{
			name:  "healthy surge pods beyond the replicas count as extra disruptions allowed",
			pdb:   maxUnavailable(web(), i(1)),
			pods:  readyPods("web", 4),
			scale: 3,
			want:  plan.BudgetStatus{ExpectedPods: 3, DesiredHealthy: 2, CurrentHealthy: 4, DisruptionsAllowed: 2},
		},
		{
			name:  "integer minAvailable with fewer matching pods than required allows no disruption",
			pdb:   minAvailable(web(), i(5)),
			pods:  readyPods("web", 3),
			scale: 10,
			want:  plan.BudgetStatus{ExpectedPods: 3, DesiredHealthy: 5, CurrentHealthy: 3, DisruptionsAllowed: 0},
		},
		{
			name:  "integer minAvailable takes the matching pods as expected pods and ignores the controllers' scale",
			pdb:   minAvailable(web(), i(2)),
			pods:  readyPods("web", 3),
			scale: 7,
			want:  plan.BudgetStatus{ExpectedPods: 3, DesiredHealthy: 2, CurrentHealthy: 3, DisruptionsAllowed: 1},
		},
		{
			name: "integer minAvailable counts terminating and not-Ready pods as expected pods but not as healthy",
			pdb:  minAvailable(web(), i(2)),
			pods: concat(readyPods("web", 2),
				[]*corev1.Pod{terminating(webPod("gone", 0).Running().Obj()), notReady(webPod("sick", 0).Obj(), corev1.ConditionFalse)}),
			scale: 4,
			want:  plan.BudgetStatus{ExpectedPods: 4, DesiredHealthy: 2, CurrentHealthy: 2, DisruptionsAllowed: 0},
		},
		{
			name: "terminating pods are not healthy even while still Ready",
			pdb:  maxUnavailable(web(), i(1)),
			pods: concat(readyPods("web", 2),
				[]*corev1.Pod{terminating(webPod("gone", 0).Running().Obj())}),
			scale: 3,
			want:  plan.BudgetStatus{ExpectedPods: 3, DesiredHealthy: 2, CurrentHealthy: 2, DisruptionsAllowed: 0},
		},
		{
			name: "pods whose Ready condition is False, Unknown or absent are not healthy",
			pdb:  maxUnavailable(web(), i(1)),
			pods: concat(readyPods("web", 2), []*corev1.Pod{
				notReady(webPod("false", 0).Obj(), corev1.ConditionFalse),
				notReady(webPod("unknown", 0).Obj(), corev1.ConditionUnknown),
				phase(webPod("pending", 0).Obj(), corev1.PodPending),
			}),
			scale: 5,
			want:  plan.BudgetStatus{ExpectedPods: 5, DesiredHealthy: 4, CurrentHealthy: 2, DisruptionsAllowed: 0},
		},
		{
			name: "a Ready condition other than the first PodReady condition is not consulted",
			pdb:  minAvailable(web(), i(0)),
			pods: []*corev1.Pod{func() *corev1.Pod {
				p := webPod("web", 0).Running().Obj()
				p.Status.Conditions = []corev1.PodCondition{
					{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
					{Type: corev1.ContainersReady, Status: corev1.ConditionTrue},
					{Type: corev1.PodReady, Status: corev1.ConditionFalse},
				}
				return p
			}()},
			scale: 1,
			want:  plan.BudgetStatus{ExpectedPods: 1, DesiredHealthy: 0, CurrentHealthy: 0, DisruptionsAllowed: 0},
		},
		{
			name:  "expectedPods 0 allows no disruption even with healthy pods and desiredHealthy 0",
			pdb:   maxUnavailable(web(), i(1)),
			pods:  readyPods("web", 2),
			scale: 0,
			want:  plan.BudgetStatus{ExpectedPods: 0, DesiredHealthy: 0, CurrentHealthy: 2, DisruptionsAllowed: 0},
		},
		{
			name:  "a percentage minAvailable over no replicas allows no disruption",
			pdb:   minAvailable(web(), s("50%")),
			pods:  readyPods("web", 2),
			scale: 0,
			want:  plan.BudgetStatus{ExpectedPods: 0, DesiredHealthy: 0, CurrentHealthy: 2, DisruptionsAllowed: 0},
		},
		{
			name: "integer minAvailable 0 with no matching pods allows no disruption",
			pdb:  minAvailable(web(), i(0)),
			want: plan.BudgetStatus{},
		},
		{
			name:  "a budget with neither minAvailable nor maxUnavailable expects nothing and allows nothing",
			pdb:   web(),
			pods:  readyPods("web", 3),
			scale: 3,
			want:  plan.BudgetStatus{ExpectedPods: 0, DesiredHealthy: 0, CurrentHealthy: 3, DisruptionsAllowed: 0},
		},
		{
			name:    "a minAvailable string that is not a percentage is an error",
			pdb:     minAvailable(web(), s("3")),
			pods:    readyPods("web", 3),
			scale:   3,
			wantErr: true,
		},
		{
			name:    "a maxUnavailable string that is not a percentage is an error",
			pdb:     maxUnavailable(web(), s("1")),
			pods:    readyPods("web", 3),
			scale:   3,
			wantErr: true,
		},
		{
			name:    "a malformed percentage is an error",
			pdb:     maxUnavailable(web(), s("ten%")),
			pods:    readyPods("web", 3),
			scale:   3,
			wantErr: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := plan.Budget(tc.pdb, tc.pods, tc.scale)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("Budget() = %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Budget(): %v", err)
			}
			if got != tc.want {
				t.Errorf("Budget() = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// The API server's words (k8s.io/kubernetes v1.37.2,
// pkg/registry/core/pod/storage/eviction.go).
const (
	tooManyRequests = "Cannot evict pod as it would violate the pod's disruption budget."
	multiplePDBs    = "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
)

func needsHealthy(pdb string, desired, current int32) string {
	return fmt.Sprintf("%s The disruption budget %s needs %d healthy pods and has %d currently", tooManyRequests, pdb, desired, current)
}

// TestAnswerEviction follows EvictionREST.Create: canIgnorePDB (Pending,
// Succeeded, Failed or terminating pods are deleted before any PDB is
// listed), then more than one PDB → 500, none → allowed, then the unhealthy
// pod policy for a pod that is not Ready, then checkAndDecrement
// (disruptionsAllowed == 0 → 429 with the "needs N healthy pods" cause when
// currentHealthy <= desiredHealthy).
func TestAnswerEviction(t *testing.T) {
	web := func() *policyv1.PodDisruptionBudget { return minAvailable(pdbFor("web", "web"), intstr.FromInt32(3)) }
	other := minAvailable(pdbFor("web-too", "web"), intstr.FromInt32(1))
	running := func() *corev1.Pod { return webPod("web", 0).Running().Obj() }
	sick := func() *corev1.Pod { return notReady(webPod("web", 0).Obj(), corev1.ConditionFalse) }
	// Statuses, as the disruption controller leaves them.
	headroom := plan.BudgetStatus{ExpectedPods: 4, DesiredHealthy: 3, CurrentHealthy: 4, DisruptionsAllowed: 1}
	atBudget := plan.BudgetStatus{ExpectedPods: 3, DesiredHealthy: 3, CurrentHealthy: 3, DisruptionsAllowed: 0}
	belowBudget := plan.BudgetStatus{ExpectedPods: 3, DesiredHealthy: 3, CurrentHealthy: 2, DisruptionsAllowed: 0}
	noneExpected := plan.BudgetStatus{ExpectedPods: 0, DesiredHealthy: 0, CurrentHealthy: 2, DisruptionsAllowed: 0}
	empty := plan.BudgetStatus{}

	type want struct {
		result  plan.EvictionResult
		pdb     string // the verdict's PDB, "" for none
		message string
	}
	tests := []struct {
		name   string
		pod    *corev1.Pod
		pdbs   []*policyv1.PodDisruptionBudget
		status plan.BudgetStatus // of every PDB
		want   want
	}{
		{
			name: "a pod no PDB selects is evicted",
			pod:  running(),
			want: want{result: plan.EvictionAllowed},
		},
		{
			name:   "a Ready pod whose PDB allows a disruption is evicted",
			pod:    running(),
			pdbs:   []*policyv1.PodDisruptionBudget{web()},
			status: headroom,
			want:   want{result: plan.EvictionAllowed, pdb: "web"},
		},
		{
			name:   "a Ready pod whose PDB is exactly met gets 429 saying how many healthy pods the budget needs",
			pod:    running(),
			pdbs:   []*policyv1.PodDisruptionBudget{web()},
			status: atBudget,
			want:   want{result: plan.EvictionTooManyRequests, pdb: "web", message: needsHealthy("web", 3, 3)},
		},
		{
			name:   "a Ready pod whose PDB is below its budget gets 429 with the shortfall",
			pod:    running(),
			pdbs:   []*policyv1.PodDisruptionBudget{web()},
			status: belowBudget,
			want:   want{result: plan.EvictionTooManyRequests, pdb: "web", message: needsHealthy("web", 3, 2)},
		},
		{
			name:   "a Ready pod whose PDB expects no pods gets 429 without a count, as more are healthy than needed",
			pod:    running(),
			pdbs:   []*policyv1.PodDisruptionBudget{web()},
			status: noneExpected,
			want: want{result: plan.EvictionTooManyRequests, pdb: "web",
				message: tooManyRequests + " The disruption budget web does not allow evicting pods currently"},
		},
		{
			name:   "a pod two PDBs select gets 500 even when both have headroom",
			pod:    running(),
			pdbs:   []*policyv1.PodDisruptionBudget{web(), other},
			status: headroom,
			want:   want{result: plan.EvictionMultiplePDBs, pdb: "web", message: multiplePDBs},
		},
		{
			name:   "a not-Ready pod two PDBs select gets 500 before the unhealthy pod policy is consulted",
			pod:    sick(),
			pdbs:   []*policyv1.PodDisruptionBudget{unhealthyPolicy(web(), policyv1.AlwaysAllow), other},
			status: atBudget,
			want:   want{result: plan.EvictionMultiplePDBs, pdb: "web", message: multiplePDBs},
		},
		{
			name:   "a Pending pod bypasses its PDB",
			pod:    phase(webPod("web", 0).Obj(), corev1.PodPending),
			pdbs:   []*policyv1.PodDisruptionBudget{web()},
			status: belowBudget,
			want:   want{result: plan.EvictionAllowed},
		},
		{
			name:   "a Pending pod bypasses even two PDBs, as canIgnorePDB runs before the PDBs are listed",
			pod:    phase(webPod("web", 0).Obj(), corev1.PodPending),
			pdbs:   []*policyv1.PodDisruptionBudget{web(), other},
			status: belowBudget,
			want:   want{result: plan.EvictionAllowed},
		},
		{
			name:   "a Succeeded pod bypasses its PDB",
			pod:    phase(webPod("web", 0).Running().Obj(), corev1.PodSucceeded),
			pdbs:   []*policyv1.PodDisruptionBudget{web()},
			status: belowBudget,
			want:   want{result: plan.EvictionAllowed},
		},
		{
			name:   "a Failed pod bypasses its PDB",
			pod:    phase(webPod("web", 0).Obj(), corev1.PodFailed),
			pdbs:   []*policyv1.PodDisruptionBudget{web(), other},
			status: belowBudget,
			want:   want{result: plan.EvictionAllowed},
		},
		{
			name:   "a terminating Ready pod bypasses its PDB",
			pod:    terminating(running()),
			pdbs:   []*policyv1.PodDisruptionBudget{web()},
			status: atBudget,
			want:   want{result: plan.EvictionAllowed},
		},
		{
			name:   "a not-Ready pod is evicted under AlwaysAllow even when the budget is not met",
			pod:    sick(),
			pdbs:   []*policyv1.PodDisruptionBudget{unhealthyPolicy(web(), policyv1.AlwaysAllow)},
			status: belowBudget,
			want:   want{result: plan.EvictionAllowed, pdb: "web"},
		},
		{
			name:   "a not-Ready pod is evicted under AlwaysAllow even when its PDB expects nothing",
			pod:    sick(),
			pdbs:   []*policyv1.PodDisruptionBudget{unhealthyPolicy(web(), policyv1.AlwaysAllow)},
			status: empty,
			want:   want{result: plan.EvictionAllowed, pdb: "web"},
		},
		{
			name:   "a pod whose Ready condition is Unknown is treated as not Ready under AlwaysAllow",
			pod:    notReady(webPod("web", 0).Obj(), corev1.ConditionUnknown),
			pdbs:   []*policyv1.PodDisruptionBudget{unhealthyPolicy(web(), policyv1.AlwaysAllow)},
			status: belowBudget,
			want:   want{result: plan.EvictionAllowed, pdb: "web"},
		},
		{
			name:   "a not-Ready pod is evicted under the default policy when the budget is met though no disruption is allowed",
			pod:    sick(),
			pdbs:   []*policyv1.PodDisruptionBudget{web()},
			status: atBudget,
			want:   want{result: plan.EvictionAllowed, pdb: "web"},
		},
		{
			name:   "a not-Ready pod is evicted under IfHealthyBudget when the budget is met",
			pod:    sick(),
			pdbs:   []*policyv1.PodDisruptionBudget{unhealthyPolicy(web(), policyv1.IfHealthyBudget)},
			status: atBudget,
			want:   want{result: plan.EvictionAllowed, pdb: "web"},
		},
		{
			name:   "a not-Ready pod gets 429 under the default policy when the budget is not met",
			pod:    sick(),
			pdbs:   []*policyv1.PodDisruptionBudget{web()},
			status: belowBudget,
			want:   want{result: plan.EvictionTooManyRequests, pdb: "web", message: needsHealthy("web", 3, 2)},
		},
		{
			name:   "a not-Ready pod gets 429 under IfHealthyBudget when the budget is not met",
			pod:    sick(),
			pdbs:   []*policyv1.PodDisruptionBudget{unhealthyPolicy(web(), policyv1.IfHealthyBudget)},
			status: belowBudget,
			want:   want{result: plan.EvictionTooManyRequests, pdb: "web", message: needsHealthy("web", 3, 2)},
		},
		{
			name:   "a not-Ready pod gets 429 under the default policy when desiredHealthy is 0, as the budget counts as met only when positive",
			pod:    sick(),
			pdbs:   []*policyv1.PodDisruptionBudget{web()},
			status: empty,
			want:   want{result: plan.EvictionTooManyRequests, pdb: "web", message: needsHealthy("web", 0, 0)},
		},
		{
			name:   "a not-Ready pod whose budget is not met is still evicted while the PDB allows a disruption",
			pod:    sick(),
			pdbs:   []*policyv1.PodDisruptionBudget{web()},
			status: plan.BudgetStatus{ExpectedPods: 3, DesiredHealthy: 3, CurrentHealthy: 2, DisruptionsAllowed: 1}, // a stale status
			want:   want{result: plan.EvictionAllowed, pdb: "web"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			asked := map[*policyv1.PodDisruptionBudget]bool{}
			got := plan.AnswerEviction(tc.pod, tc.pdbs, func(pdb *policyv1.PodDisruptionBudget) plan.BudgetStatus {
				asked[pdb] = true
				return tc.status
			})
			gotPDB := ""
			if got.PDB != nil {
				gotPDB = got.PDB.Name
			}
			if g := (want{got.Result, gotPDB, got.Message}); g != tc.want {
				t.Errorf("AnswerEviction() = %+v, want %+v", g, tc.want)
			}
			// canIgnorePDB and the multiple-PDB check come before any PDB's
			// status is read.
			if (canIgnorePDB(tc.pod) || len(tc.pdbs) != 1) && len(asked) > 0 {
				t.Errorf("AnswerEviction() read a PDB status for a pod whose PDBs it must not consult")
			}
		})
	}
}

// canIgnorePDB is eviction.go's canIgnorePDB.
func canIgnorePDB(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed ||
		p.Status.Phase == corev1.PodPending || !p.DeletionTimestamp.IsZero()
}

// TestSelects follows eviction.go's getPodDisruptionBudgets: same namespace,
// metav1.LabelSelectorAsSelector, an invalid selector matches nothing.
func TestSelects(t *testing.T) {
	pod := Pod("web-0").Label("app", "web").Label("tier", "front").Obj()
	withSelector := func(sel *metav1.LabelSelector) *policyv1.PodDisruptionBudget {
		pdb := pdbFor("p", "web")
		pdb.Spec.Selector = sel
		return pdb
	}
	tests := []struct {
		name string
		pdb  *policyv1.PodDisruptionBudget
		want bool
	}{
		{"a PDB whose labels match selects the pod", pdbFor("p", "web"), true},
		{"a PDB whose labels differ does not select the pod", pdbFor("p", "db"), false},
		{"a PDB in another namespace does not select the pod", func() *policyv1.PodDisruptionBudget {
			pdb := pdbFor("p", "web")
			pdb.Namespace = "other"
			return pdb
		}(), false},
		{"an empty selector selects every pod of the namespace", withSelector(&metav1.LabelSelector{}), true},
		{"a nil selector selects nothing", withSelector(nil), false},
		{"a set-based selector is honoured", withSelector(&metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"front", "back"}},
		}}), true},
		{"an invalid selector selects nothing", withSelector(&metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "tier", Operator: "Near", Values: []string{"front"}},
		}}), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := plan.Selects(tc.pdb, pod); got != tc.want {
				t.Errorf("Selects() = %v, want %v", got, tc.want)
			}
		})
	}
}
