package scheduler_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	. "github.com/noderoll/noderoll/internal/testutil"
	"github.com/noderoll/noderoll/scheduler"
	"github.com/noderoll/noderoll/snapshot"
)

func cluster(nodes []*corev1.Node, pods ...*corev1.Pod) *snapshot.Snapshot {
	s := &snapshot.Snapshot{}
	for _, n := range nodes {
		s.Nodes = append(s.Nodes, *n)
	}
	for _, p := range pods {
		s.Pods = append(s.Pods, *p)
	}
	return s
}

func newScheduler(t testing.TB, snap *snapshot.Snapshot, naive bool) *scheduler.Scheduler {
	t.Helper()
	s, err := scheduler.New(context.Background(), snap, scheduler.Options{Seed: 1, Naive: naive})
	if err != nil {
		t.Fatalf("scheduler.New: %v", err)
	}
	return s
}

func localPV(name, node string) (*corev1.PersistentVolume, *corev1.PersistentVolumeClaim) {
	sc := "local-storage"
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: mustQty("10Gi")},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			StorageClassName:              sc,
			PersistentVolumeSource:        corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: "/mnt/disk"}},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{node}}},
			}}}},
			ClaimRef: &corev1.ObjectReference{Kind: "PersistentVolumeClaim", Namespace: "default", Name: "data-" + name},
		},
		Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeBound},
	}
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data-" + name, Namespace: "default",
			// Set by the PersistentVolume controller once it has bound the claim.
			Annotations: map[string]string{"pv.kubernetes.io/bind-completed": "yes"}},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: &sc,
			VolumeName:       name,
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: mustQty("10Gi")}},
		},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound},
	}
	return pv, pvc
}

func TestPlacementFollowsTheRealPlugins(t *testing.T) {
	three := func() []*corev1.Node {
		return []*corev1.Node{Node("n1").Zone("a").Obj(), Node("n2").Zone("b").Obj(), Node("n3").Zone("c").Obj()}
	}
	pv, pvc := localPV("pv-n2", "n2")
	withPV := cluster(three())
	withPV.PersistentVolumes = append(withPV.PersistentVolumes, *pv)
	withPV.PersistentVolumeClaims = append(withPV.PersistentVolumeClaims, *pvc)

	tests := []struct {
		name      string
		snap      *snapshot.Snapshot
		pod       *corev1.Pod
		wantNodes []string // any of these; empty means unschedulable
		wantMsg   string   // substring of the unschedulable message
	}{
		{
			name:      "a pod without the toleration avoids the tainted nodes",
			snap:      cluster([]*corev1.Node{Node("n1").Taint("dedicated", "gpu", corev1.TaintEffectNoSchedule).Obj(), Node("n2").Taint("dedicated", "gpu", corev1.TaintEffectNoSchedule).Obj(), Node("n3").Obj()}),
			pod:       Pod("p").Req("cpu", "1").Obj(),
			wantNodes: []string{"n3"},
		},
		{
			name:      "a pod that tolerates the taint may use the tainted node",
			snap:      cluster([]*corev1.Node{Node("n1").Taint("dedicated", "gpu", corev1.TaintEffectNoSchedule).Obj()}),
			pod:       Pod("p").Toleration("dedicated", "gpu", corev1.TaintEffectNoSchedule).Obj(),
			wantNodes: []string{"n1"},
		},
		{
			name:    "a pod that tolerates nothing fits on no tainted node, in the scheduler's words",
			snap:    cluster([]*corev1.Node{Node("n1").Taint("dedicated", "gpu", corev1.TaintEffectNoSchedule).Obj()}),
			pod:     Pod("p").Obj(),
			wantMsg: "0/1 nodes are available: 1 node(s) had untolerated taint(s)",
		},
		{
			name:      "a node selector restricts the pod to matching nodes",
			snap:      cluster(three()),
			pod:       Pod("p").NodeSelector(corev1.LabelTopologyZone, "b").Obj(),
			wantNodes: []string{"n2"},
		},
		{
			name:      "required node affinity restricts the pod to matching nodes",
			snap:      cluster(three()),
			pod:       Pod("p").RequiredNodeAffinity(corev1.LabelTopologyZone, "a", "c").Obj(),
			wantNodes: []string{"n1", "n3"},
		},
		{
			name: "required pod anti-affinity keeps the pod off nodes running a matching pod",
			snap: cluster(three(),
				Pod("web-1").Label("app", "web").On("n1").Obj(),
				Pod("web-2").Label("app", "web").On("n2").Obj()),
			pod:       Pod("web-3").Label("app", "web").AntiAffinity("app", "web", corev1.LabelHostname).Obj(),
			wantNodes: []string{"n3"},
		},
		{
			name: "topology spread with DoNotSchedule sends the pod to the emptiest zone",
			snap: cluster(three(),
				Pod("a-1").Label("app", "a").On("n1").Obj(),
				Pod("a-2").Label("app", "a").On("n2").Obj()),
			pod:       Pod("a-3").Label("app", "a").Spread(corev1.LabelTopologyZone, 1, corev1.DoNotSchedule, "app", "a").Obj(),
			wantNodes: []string{"n3"},
		},
		{
			name:      "a pod bound to a local PersistentVolume can only go to that volume's node",
			snap:      withPV,
			pod:       Pod("db-0").PVC("data-pv-n2").Obj(),
			wantNodes: []string{"n2"},
		},
		{
			name:    "a pod that asks for more CPU than any node has gets the scheduler's reason",
			snap:    cluster(three()),
			pod:     Pod("big").Req("cpu", "8").Obj(),
			wantMsg: "0/3 nodes are available: 3 Insufficient cpu.",
		},
		{
			name:    "a pod that needs a host port taken everywhere does not fit",
			snap:    cluster([]*corev1.Node{Node("n1").Obj()}, Pod("x").HostPort(8080).On("n1").Obj()),
			pod:     Pod("y").HostPort(8080).Obj(),
			wantMsg: "1 node(s) didn't have free ports for the requested pod ports",
		},
		{
			name:      "a cordoned node receives nothing",
			snap:      cluster([]*corev1.Node{Node("n1").Cordon().Obj(), Node("n2").Obj()}),
			pod:       Pod("p").Obj(),
			wantNodes: []string{"n2"},
		},
		{
			name:    "a cluster whose nodes are all cordoned places nothing",
			snap:    cluster([]*corev1.Node{Node("n1").Cordon().Obj(), Node("n2").Cordon().Obj()}),
			pod:     Pod("p").Obj(),
			wantMsg: "0/2 nodes are available: 2 node(s) were unschedulable.",
		},
	}
	for _, tc := range tests {
		for _, naive := range []bool{false, true} {
			name := tc.name
			if naive {
				name += " (naive)"
			}
			t.Run(name, func(t *testing.T) {
				s := newScheduler(t, tc.snap, naive)
				res, err := s.Schedule(context.Background(), tc.pod)
				if err != nil {
					t.Fatalf("Schedule: %v", err)
				}
				if len(tc.wantNodes) == 0 {
					if res.NodeName != "" {
						t.Fatalf("placed on %s, want unschedulable", res.NodeName)
					}
					if res.Unschedulable == nil || !strings.Contains(res.Unschedulable.Message(), tc.wantMsg) {
						t.Fatalf("message %+v, want it to contain %q", res.Unschedulable, tc.wantMsg)
					}
					return
				}
				if res.Unschedulable != nil {
					t.Fatalf("unschedulable: %s", res.Unschedulable.Message())
				}
				for _, n := range tc.wantNodes {
					if res.NodeName == n {
						return
					}
				}
				t.Fatalf("placed on %s, want one of %v", res.NodeName, tc.wantNodes)
			})
		}
	}
}

func TestPreemptionNamesTheVictims(t *testing.T) {
	snap := cluster([]*corev1.Node{Node("n1").Obj()},
		Pod("low").Req("cpu", "3").Priority(0).On("n1").Obj())
	s := newScheduler(t, snap, false)
	res, err := s.Schedule(context.Background(), Pod("high").Req("cpu", "2").Priority(1000).Obj())
	if err != nil {
		t.Fatal(err)
	}
	if res.NodeName != "" || res.NominatedNode != "n1" {
		t.Fatalf("got node %q nominated %q, want a nomination to n1", res.NodeName, res.NominatedNode)
	}
	if len(res.Victims) != 1 || res.Victims[0].Name != "low" {
		t.Fatalf("victims %v, want [low]", res.Victims)
	}
	if !strings.Contains(res.Unschedulable.Message(), "Insufficient cpu") {
		t.Fatalf("message %q", res.Unschedulable.Message())
	}
}

// TestPreemptionStopsAtThePluginsNumberOfCandidates: on 200 full nodes,
// DefaultPreemption wants max(10% of the nodes, 100) candidates; once it
// has them it stops looking, so the cheaper victims on the last nodes (by
// name) are not found, and the choice is made among the first ones — for
// every parallelism.
func TestPreemptionStopsAtThePluginsNumberOfCandidates(t *testing.T) {
	var nodes []*corev1.Node
	var pods []*corev1.Pod
	for i := range 200 {
		name := fmt.Sprintf("n%03d", i)
		nodes = append(nodes, Node(name).Cap("cpu", "4").Obj())
		prio := int32(100) // the first nodes' victims: priority 100
		if i >= 150 {
			prio = 10 // cheaper victims, never looked at
		}
		pods = append(pods, Pod("p-"+name).Req("cpu", "4").Priority(prio).On(name).Obj())
	}
	for _, par := range []int{1, 2, 16} {
		s, err := scheduler.New(context.Background(), cluster(nodes, pods...), scheduler.Options{Seed: 1, Parallelism: par})
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.Schedule(context.Background(), Pod("high").Req("cpu", "2").Priority(1000).Obj())
		if err != nil {
			t.Fatal(err)
		}
		if res.NominatedNode != "n000" || len(res.Victims) != 1 || res.Victims[0].Name != "p-n000" {
			t.Errorf("parallelism %d: nominated %q with victims %v, want n000 with p-n000 (the first of the candidates found)", par, res.NominatedNode, res.Victims)
		}
	}
}

// TestPreemptionSparesPodsABudgetProtects: of two equal candidates, the
// one whose victim a PodDisruptionBudget protects (no disruption allowed)
// is passed over, though it comes first by name; budgets selecting no
// possible victim change nothing.
func TestPreemptionSparesPodsABudgetProtects(t *testing.T) {
	snap := cluster([]*corev1.Node{Node("n1").Obj(), Node("n2").Obj()},
		Pod("a").Label("app", "a").Req("cpu", "3").Priority(0).On("n1").Obj(),
		Pod("b").Label("app", "b").Req("cpu", "3").Priority(0).On("n2").Obj())
	budget := func(name, app string, allowed int32) policyv1.PodDisruptionBudget {
		return policyv1.PodDisruptionBudget{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec:       policyv1.PodDisruptionBudgetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}},
			Status:     policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: allowed},
		}
	}
	snap.PodDisruptionBudgets = []policyv1.PodDisruptionBudget{budget("protects-a", "a", 0), budget("elsewhere", "zzz", 0), budget("other", "c", 5)}
	s := newScheduler(t, snap, false)
	res, err := s.Schedule(context.Background(), Pod("high").Req("cpu", "2").Priority(1000).Obj())
	if err != nil {
		t.Fatal(err)
	}
	if res.NominatedNode != "n2" || len(res.Victims) != 1 || res.Victims[0].Name != "b" {
		t.Fatalf("nominated %q with victims %v, want n2 with b (a's budget allows no disruption)", res.NominatedNode, res.Victims)
	}
}

func TestTryPlaceLeavesOutPreemption(t *testing.T) {
	snap := cluster([]*corev1.Node{Node("n1").Obj()},
		Pod("low").Req("cpu", "3").Priority(0).On("n1").Obj())
	s := newScheduler(t, snap, false)
	high := Pod("high").Req("cpu", "2").Priority(1000).Obj()
	res, err := s.TryPlace(context.Background(), high)
	if err != nil {
		t.Fatal(err)
	}
	if res.NodeName != "" || res.NominatedNode != "" || len(res.Victims) != 0 {
		t.Fatalf("a trial got node %q nominated %q victims %v, want none", res.NodeName, res.NominatedNode, res.Victims)
	}
	if res.Unschedulable == nil || !strings.Contains(res.Unschedulable.Message(), "Insufficient cpu") {
		t.Fatalf("a trial does not say why the pod does not fit: %+v", res.Unschedulable)
	}
	// The next real cycle preempts again.
	if res, err = s.Place(context.Background(), high); err != nil || len(res.Victims) != 1 {
		t.Fatalf("after a trial, Place got victims %v (err %v), want [low]", res.Victims, err)
	}
}

func TestPreemptionNeverEvictsHigherPriorityPods(t *testing.T) {
	snap := cluster([]*corev1.Node{Node("n1").Obj()},
		Pod("high").Req("cpu", "3").Priority(1000).On("n1").Obj())
	s := newScheduler(t, snap, false)
	res, err := s.Schedule(context.Background(), Pod("low").Req("cpu", "2").Priority(0).Obj())
	if err != nil {
		t.Fatal(err)
	}
	if res.NodeName != "" || len(res.Victims) != 0 {
		t.Fatalf("got node %q victims %v, want neither", res.NodeName, res.Victims)
	}
	want := "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
	if res.Unschedulable.Message() != want {
		t.Fatalf("message\n%q, want\n%q", res.Unschedulable.Message(), want)
	}
}

func TestPlaceFillsNodesUntilTheyAreFull(t *testing.T) {
	s := newScheduler(t, cluster([]*corev1.Node{Node("n1").Obj(), Node("n2").Obj()}), false)
	ctx := context.Background()
	for i := 0; i < 8; i++ {
		res, err := s.Place(ctx, Pod("p"+string(rune('a'+i))).Req("cpu", "1").Obj())
		if err != nil || res.NodeName == "" {
			t.Fatalf("pod %d: %v %+v", i, err, res.Unschedulable)
		}
	}
	res, err := s.Place(ctx, Pod("overflow").Req("cpu", "1").Obj())
	if err != nil {
		t.Fatal(err)
	}
	if res.NodeName != "" {
		t.Fatalf("the 9th 1-cpu pod on 2x4 cpus was placed on %s", res.NodeName)
	}
	if got := len(s.PodsOn("n1")) + len(s.PodsOn("n2")); got != 8 {
		t.Fatalf("%d pods in state, want 8", got)
	}
}

func TestForkRevertCommit(t *testing.T) {
	ctx := context.Background()
	base := func() *scheduler.Scheduler {
		return newScheduler(t, cluster([]*corev1.Node{Node("n1").Obj(), Node("n2").Obj()},
			Pod("a").Req("cpu", "1").On("n1").Obj()), false)
	}
	count := func(s *scheduler.Scheduler) int { return len(s.PodsOn("n1")) + len(s.PodsOn("n2")) }
	tests := []struct {
		name string
		run  func(s *scheduler.Scheduler)
		want int
	}{
		{"the base state holds the snapshot's pods", func(s *scheduler.Scheduler) {}, 1},
		{"a fork sees its own changes", func(s *scheduler.Scheduler) {
			s.Fork()
			mustPlace(t, s, Pod("b").Req("cpu", "1").Obj())
		}, 2},
		{"revert forgets the fork's pods", func(s *scheduler.Scheduler) {
			s.Fork()
			mustPlace(t, s, Pod("b").Req("cpu", "1").Obj())
			s.Revert()
		}, 1},
		{"revert brings back a removed node and its pods", func(s *scheduler.Scheduler) {
			s.Fork()
			if err := s.RemoveNode("n1"); err != nil {
				t.Fatal(err)
			}
			s.Revert()
		}, 1},
		{"commit keeps the fork's pods", func(s *scheduler.Scheduler) {
			s.Fork()
			mustPlace(t, s, Pod("b").Req("cpu", "1").Obj())
			s.Commit()
			s.Revert() // nothing left to revert: a no-op
		}, 2},
		{"nested forks revert one level at a time", func(s *scheduler.Scheduler) {
			s.Fork()
			mustPlace(t, s, Pod("b").Req("cpu", "1").Obj())
			s.Fork()
			mustPlace(t, s, Pod("c").Req("cpu", "1").Obj())
			s.Revert()
		}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := base()
			tc.run(s)
			if got := count(s); got != tc.want {
				t.Fatalf("%d pods, want %d", got, tc.want)
			}
		})
	}
	t.Run("a reverted fork leaves placements as they were", func(t *testing.T) {
		s := base()
		before, _ := s.Schedule(ctx, Pod("probe").Req("cpu", "1").Obj())
		s.Fork()
		for i := 0; i < 3; i++ {
			mustPlace(t, s, Pod("f"+string(rune('0'+i))).Req("cpu", "1").Obj())
		}
		s.Revert()
		after, _ := s.Schedule(ctx, Pod("probe").Req("cpu", "1").Obj())
		if before.NodeName != after.NodeName {
			t.Fatalf("probe went to %s before the fork and %s after revert", before.NodeName, after.NodeName)
		}
	})
}

func mustPlace(t *testing.T, s *scheduler.Scheduler, p *corev1.Pod) string {
	t.Helper()
	res, err := s.Place(context.Background(), p)
	if err != nil || res.NodeName == "" {
		t.Fatalf("placing %s: %v %+v", p.Name, err, res.Unschedulable)
	}
	return res.NodeName
}

func mustQty(s string) resource.Quantity { return resource.MustParse(s) }

// TestNominatedNodeComesFirst: a pod nominated to a node by an earlier
// preemption goes there when it fits, though another node scores higher,
// and is scheduled as any pod when it does not.
func TestNominatedNodeComesFirst(t *testing.T) {
	for _, tc := range []struct {
		name, cpu, want string
	}{
		{"fits on its nominated node", "1", "n2"},
		{"no longer fits there", "2", "n1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snap := cluster([]*corev1.Node{Node("n1").Cap("cpu", "4").Obj(), Node("n2").Cap("cpu", "4").Obj()},
				Pod("busy").Req("cpu", "3").On("n2").Obj())
			s := newScheduler(t, snap, false)
			pod := Pod("p").Req("cpu", tc.cpu).Obj()
			pod.Status.NominatedNodeName = "n2"
			res, err := s.Schedule(context.Background(), pod)
			if err != nil {
				t.Fatal(err)
			}
			if res.NodeName != tc.want {
				t.Fatalf("placed on %q, want %s", res.NodeName, tc.want)
			}
		})
	}
}

// TestNoSecondPreemptionWhileVictimsTerminate: once its victims carry the
// preemption's DisruptionTarget condition and are terminating on its
// nominated node, the preemptor preempts nothing more; DefaultPreemption
// says why.
func TestNoSecondPreemptionWhileVictimsTerminate(t *testing.T) {
	snap := cluster([]*corev1.Node{Node("n1").Cap("cpu", "4").Obj(), Node("n2").Cap("cpu", "4").Obj()},
		Pod("low1").Req("cpu", "3").Priority(0).On("n1").Obj(),
		Pod("low2").Req("cpu", "3").Priority(0).On("n2").Obj())
	s := newScheduler(t, snap, false)
	high := Pod("high").Req("cpu", "2").Priority(1000).Obj()
	res, err := s.Schedule(context.Background(), high)
	if err != nil || len(res.Victims) != 1 {
		t.Fatalf("first cycle: victims %v (err %v), want one", res.Victims, err)
	}
	victim := res.Victims[0].DeepCopy()
	now := metav1.Now()
	victim.DeletionTimestamp = &now
	victim.Status.Conditions = append(victim.Status.Conditions, corev1.PodCondition{
		Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: corev1.PodReasonPreemptionByScheduler})
	if err := s.UpdatePod(victim); err != nil {
		t.Fatal(err)
	}
	high.Status.NominatedNodeName = res.NominatedNode
	res, err = s.Schedule(context.Background(), high)
	if err != nil {
		t.Fatal(err)
	}
	if res.NodeName != "" || len(res.Victims) != 0 {
		t.Fatalf("second cycle: node %q victims %v, want none while the first victim terminates", res.NodeName, res.Victims)
	}
	if !strings.Contains(res.Unschedulable.Message(), "terminating pod on the nominated node") {
		t.Errorf("message %q does not say the preemptor waits for its victim", res.Unschedulable.Message())
	}
	if res.NominatedNode != high.Status.NominatedNodeName {
		t.Errorf("second cycle: nominated to %q, want it to stay nominated to %q", res.NominatedNode, high.Status.NominatedNodeName)
	}
}

// Once its victims are gone, a nominated pod's room is kept for it: a pod of
// lower priority does not fit there, one of higher priority does, and the
// nominated pod itself goes there.
func TestNominatedPodHoldsItsRoom(t *testing.T) {
	ctx := context.Background()
	snap := cluster([]*corev1.Node{Node("n1").Cap("cpu", "4").Obj()},
		Pod("low").Req("cpu", "3").Priority(0).On("n1").Obj())
	s := newScheduler(t, snap, false)
	high := Pod("high").Req("cpu", "3").Priority(1000).Obj()
	res, err := s.Schedule(ctx, high)
	if err != nil || len(res.Victims) != 1 || res.NominatedNode != "n1" {
		t.Fatalf("preemption: victims %v on %q (err %v), want low on n1", res.Victims, res.NominatedNode, err)
	}
	high.Status.NominatedNodeName = res.NominatedNode
	s.Nominate(high, res.NominatedNode)
	if err := s.RemovePod(res.Victims[0]); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		pod  *corev1.Pod
		want string
	}{
		{"the victim's replacement, of lower priority", Pod("low-2").Req("cpu", "3").Priority(0).Obj(), ""},
		{"a pod of equal priority", Pod("peer").Req("cpu", "3").Priority(1000).Obj(), ""},
		{"a pod of higher priority", Pod("urgent").Req("cpu", "3").Priority(2000).Obj(), "n1"},
		{"the nominated pod", high, "n1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s.Fork()
			defer s.Revert()
			got, err := s.TryPlace(ctx, tc.pod)
			if err != nil {
				t.Fatal(err)
			}
			if got.NodeName != tc.want {
				t.Errorf("placed on %q, want %q", got.NodeName, tc.want)
			}
		})
	}
	// Cleared, the nomination holds nothing.
	s.Nominate(high, "")
	if got := mustPlace(t, s, Pod("low-3").Req("cpu", "3").Priority(0).Obj()); got != "n1" {
		t.Errorf("after the nomination was cleared a lower-priority pod went to %q, want n1", got)
	}
}

// TestANewNodeObjectIsLookedAtAgain: the taint and node-affinity verdicts a
// pod template got on a node are kept while the node's object stays the
// same, and worked out again when a new object replaces it (a cordon, a
// relabel).
func TestANewNodeObjectIsLookedAtAgain(t *testing.T) {
	s := newScheduler(t, cluster([]*corev1.Node{Node("a").Cap("cpu", "8").Obj(), Node("b").Cap("cpu", "8").Obj()}), false)
	ctx := context.Background()
	place := func(name string) string {
		t.Helper()
		res, err := s.Place(ctx, Pod(name).Req("cpu", "1").NodeSelector("disk", "ssd").Obj())
		if err != nil {
			t.Fatal(err)
		}
		return res.NodeName
	}
	if got := place("p1"); got != "" {
		t.Fatalf("p1 went to %q: no node has disk=ssd yet", got)
	}
	s.AddNode(Node("b").Cap("cpu", "8").Label("disk", "ssd").Obj())
	if got := place("p2"); got != "b" {
		t.Fatalf("p2 went to %q, want b (labelled disk=ssd since)", got)
	}
	s.AddNode(Node("b").Cap("cpu", "8").Label("disk", "ssd").Taint("maintenance", "", corev1.TaintEffectNoSchedule).Obj())
	if got := place("p3"); got != "" {
		t.Fatalf("p3 went to %q: b is tainted since", got)
	}
}

// TestPreemptionReadsTheBudgetsAsTheyAreNow: preemption weighs victims
// against each budget's live status (filterPodsWithPDBViolation reads
// status.disruptionsAllowed and status.disruptedPods), not the status
// loaded with the snapshot: a budget a drain has since exhausted protects
// its pods, and one that has room again no longer does; a victim already
// recorded in disruptedPods is not counted against its budget twice.
func TestPreemptionReadsTheBudgetsAsTheyAreNow(t *testing.T) {
	budget := func(name, app string, allowed int32) policyv1.PodDisruptionBudget {
		return policyv1.PodDisruptionBudget{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec:       policyv1.PodDisruptionBudgetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}},
			Status:     policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: allowed},
		}
	}
	tests := []struct {
		name   string
		live   map[string]policyv1.PodDisruptionBudgetStatus // nil: no BudgetStatus
		victim string
	}{
		{"as loaded: a's budget allows none, b is preempted", nil, "b"},
		{"live: a's budget has room again and b's is exhausted, a is preempted",
			map[string]policyv1.PodDisruptionBudgetStatus{"for-a": {DisruptionsAllowed: 1}, "for-b": {DisruptionsAllowed: 0}}, "a"},
		{"live: b's budget is exhausted but b is already among its disrupted pods, b is preempted",
			map[string]policyv1.PodDisruptionBudgetStatus{"for-a": {DisruptionsAllowed: 0},
				"for-b": {DisruptionsAllowed: 0, DisruptedPods: map[string]metav1.Time{"b": {}}}}, "b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			snap := cluster([]*corev1.Node{Node("n1").Obj(), Node("n2").Obj()},
				Pod("a").Label("app", "a").Req("cpu", "3").Priority(0).On("n1").Obj(),
				Pod("b").Label("app", "b").Req("cpu", "3").Priority(0).On("n2").Obj())
			snap.PodDisruptionBudgets = []policyv1.PodDisruptionBudget{budget("for-a", "a", 0), budget("for-b", "b", 1)}
			opts := scheduler.Options{Seed: 1}
			asked := 0
			if tc.live != nil {
				opts.BudgetStatus = func(pdb *policyv1.PodDisruptionBudget) policyv1.PodDisruptionBudgetStatus {
					asked++
					return tc.live[pdb.Name]
				}
			}
			s, err := scheduler.New(context.Background(), snap, opts)
			if err != nil {
				t.Fatal(err)
			}
			res, err := s.Schedule(context.Background(), Pod("high").Req("cpu", "2").Priority(1000).Obj())
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Victims) != 1 || res.Victims[0].Name != tc.victim {
				t.Fatalf("victims %v, want [%s]", res.Victims, tc.victim)
			}
			if tc.live != nil && asked != 2 {
				t.Fatalf("the live status was asked for %d times, want once per budget", asked)
			}
			if snap.PodDisruptionBudgets[0].Status.DisruptionsAllowed != 0 {
				t.Fatalf("the snapshot's budget was changed")
			}
		})
	}
}
