package sim_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	. "github.com/noderoll/noderoll/internal/testutil"
	"github.com/noderoll/noderoll/plan"
	"github.com/noderoll/noderoll/sim"
	"github.com/noderoll/noderoll/sim/rolling"
)

// The scenarios below are worked out from the upstream controllers of the
// Kubernetes release noderoll builds with (k8s.io/kubernetes v1.37); each
// names the function whose behaviour it checks.

// quickNodes is the time model of these scenarios: a reinstall and a join
// that take no time, so that a batch lasts as long as its pods take to
// leave and come back.
func quickNodes() sim.Config {
	cfg := sim.DefaultConfig()
	cfg.Timing.ReinstallSeconds, cfg.Timing.JoinSeconds = 0, 0
	return cfg
}

// simulateBatches runs the rolling plan by name order with batches of
// batchSize nodes.
func simulateBatches(t *testing.T, c *cluster, batchSize string, opts sim.Options) *sim.Result {
	t.Helper()
	return simulateWith(t, c, rolling.Params{BatchSize: batchSize, Order: rolling.OrderName}, opts)
}

// statefulSet adds a StatefulSet whose pods (no volumes) all run on node,
// and a Service in front of it.
func (c *cluster) statefulSet(name string, replicas int, policy appsv1.PodManagementPolicyType, minReady int32, node string) {
	r := int32(replicas)
	c.snap.StatefulSets = append(c.snap.StatefulSets, appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: uid("StatefulSet", name)},
		Spec: appsv1.StatefulSetSpec{Replicas: &r, PodManagementPolicy: policy, MinReadySeconds: minReady,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}},
	})
	c.snap.Services = append(c.snap.Services, corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": name}},
	})
	for i := 0; i < replicas; i++ {
		c.pod(Pod(fmt.Sprintf("%s-%d", name, i)).Label("app", name).OwnedBy("StatefulSet", name).Grace(10).On(node).Running().Obj())
	}
}

// TestStatefulSetRecovery: k replicas of a StatefulSet evicted together
// come back one at a time under OrderedReady, and together under
// Parallel (defaultStatefulSetControl.processReplica: with monotonic set,
// it creates the lowest missing ordinal and returns, and a lower ordinal
// that is terminating, not Running and Ready, or not Available for
// minReadySeconds stops the walk).
func TestStatefulSetRecovery(t *testing.T) {
	tests := []struct {
		name     string
		policy   appsv1.PodManagementPolicyType
		minReady int32
		// The batch ends when the last pod is Ready again: the three pods
		// are gone at 10 s (grace period), then each takes 10 s to start.
		wantEnd float64
	}{
		{"OrderedReady (the default) recreates one ordinal at a time, each once the one below is Ready", "", 0, 40},
		{"OrderedReady waits minReadySeconds after each Ready pod before the next", appsv1.OrderedReadyPodManagement, 5, 50},
		{"Parallel recreates every ordinal at once", appsv1.ParallelPodManagement, 0, 20},
		{"Parallel is not held back by minReadySeconds", appsv1.ParallelPodManagement, 5, 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(three()...)
			c.statefulSet("db", 3, tc.policy, tc.minReady, "n1")
			r := simulateBatches(t, c, "1", sim.Options{Config: quickNodes()})
			if got := r.Batches[0].EndSeconds; got != tc.wantEnd {
				t.Fatalf("batch 0 (n1) ended at %vs, want %vs", got, tc.wantEnd)
			}
			if r.Summary.PendingAtEnd != 0 || r.Summary.LostPods != 0 {
				t.Fatalf("every db pod should be back: %+v", r.Summary)
			}
		})
	}
}

// TestOrderedReadyLowOrdinalPendingBlocksHigher: a low ordinal that cannot
// be placed keeps every higher ordinal from being created (processReplica
// returns at the first pod that is not Running and Ready).
func TestOrderedReadyLowOrdinalPendingBlocksHigher(t *testing.T) {
	c := newCluster(three()...)
	c.statefulSet("db", 3, "", 0, "n1")
	// db-0 fits only on n1, which the batch takes away for 600 s.
	c.snap.Pods[0].Spec.NodeSelector = map[string]string{corev1.LabelHostname: "n1"}
	c.snap.Nodes[0].Labels[corev1.LabelHostname] = "n1"
	cfg := sim.DefaultConfig()
	cfg.Timing.JoinSeconds = 0
	r := simulateBatches(t, c, "1", sim.Options{Config: cfg})
	// n1 is back at 610 s (grace 10 s, reinstall 600 s); db-0 starts there
	// and is Ready at 620 s, db-1 at 630 s, db-2 at 640 s. (Parallel would
	// have had db-1 and db-2 Ready at 20 s, and the batch over at 620 s.)
	if got := r.Batches[0].EndSeconds; got != 640 {
		t.Fatalf("batch 0 ended at %vs, want 640s: db-1 and db-2 wait for db-0", got)
	}
	if len(r.Services) != 1 || r.Services[0].DownSeconds != 620 {
		t.Fatalf("db should be down from the eviction (0 s) to db-0 Ready (620 s): %+v", r.Services)
	}
}

// job adds a Job of parallelism 1 whose pod runs on node.
func (c *cluster) jobWith(name, node string, mutate func(*batchv1.Job)) {
	j := batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: uid("Job", name)}}
	if mutate != nil {
		mutate(&j)
	}
	c.snap.Jobs = append(c.snap.Jobs, j)
	c.pod(Pod(name+"-x").Label("job", name).OwnedBy("Job", name).Grace(10).On(node).Running().Obj())
}

// TestJobPodReplacementWaitsForTheBackOff: an evicted Job pod counts as a
// failure (isPodFailed: a deleted pod, with podReplacementPolicy
// TerminatingOrFailed), and the controller creates its replacement only
// once the back-off since that failure is over: 10 s after the first
// failure (manageJob, getRemainingTimeForFailuresCount with
// DefaultJobPodFailureBackOff). With podReplacementPolicy Failed it waits
// for the pod to be gone first: 10 s of grace, then 10 s of back-off.
func TestJobPodReplacementWaitsForTheBackOff(t *testing.T) {
	failed := batchv1.Failed
	tests := []struct {
		name        string
		mutate      func(*batchv1.Job)
		wantCreated time.Duration
	}{
		{"TerminatingOrFailed: 10 s after the eviction", nil, 10 * time.Second},
		{"Failed: 10 s after the pod is gone", func(j *batchv1.Job) { j.Spec.PodReplacementPolicy = &failed }, 20 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(three()...)
			c.jobWith("report", "n1", tc.mutate)
			epoch := c.snap.TakenAt.Time
			var created []time.Duration
			opts := sim.Options{OnEviction: func(_ time.Duration, evicted *corev1.Pod, _ []*corev1.Pod) {
				if evicted.Name != "report-x" {
					created = append(created, evicted.CreationTimestamp.Sub(epoch))
				}
			}}
			r := simulateBatches(t, c, "1", opts)
			if len(created) == 0 {
				t.Fatalf("the Job's replacement was never evicted by a later batch: %+v", r.Summary)
			}
			if created[0] != tc.wantCreated {
				t.Fatalf("the replacement was created at %v, want %v", created[0], tc.wantCreated)
			}
		})
	}
}

// TestJobFailsPastItsBackoffLimit: every eviction is a failure unless a
// podFailurePolicy rule ignores the DisruptionTarget condition the
// eviction sets; failures beyond backoffLimit fail the Job (syncJob:
// failed > backoffLimit), and a FailJob rule fails it at the first
// disruption.
func TestJobFailsPastItsBackoffLimit(t *testing.T) {
	limit := func(n int32) func(*batchv1.Job) {
		return func(j *batchv1.Job) { j.Spec.BackoffLimit = &n }
	}
	onDisruption := func(action batchv1.PodFailurePolicyAction, n int32) func(*batchv1.Job) {
		return func(j *batchv1.Job) {
			j.Spec.BackoffLimit = &n
			j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
				Action: action, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget}}}}}
		}
	}
	tests := []struct {
		name   string
		mutate func(*batchv1.Job)
		fails  bool
	}{
		{"backoffLimit 0: the first eviction fails the Job", limit(0), true},
		{"backoffLimit 1: the second eviction (of the replacement, on a later batch) fails it", limit(1), true},
		{"the default backoffLimit of 6 outlasts a rollout that moves the pod twice", nil, false},
		{"a rule that ignores DisruptionTarget keeps backoffLimit 0 from failing it", onDisruption(batchv1.PodFailurePolicyActionIgnore, 0), false},
		{"a FailJob rule on DisruptionTarget fails it at the first eviction", onDisruption(batchv1.PodFailurePolicyActionFailJob, 6), true},
		{"a Count rule on DisruptionTarget counts as without a policy", onDisruption(batchv1.PodFailurePolicyActionCount, 0), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(three()...)
			c.jobWith("report", "n1", tc.mutate)
			r := simulateBatches(t, c, "1", sim.Options{})
			failed := hasRisk(r, plan.RiskJobFailed, "Job/default/report")
			if failed != tc.fails || (r.Summary.FailedJobs == 1) != tc.fails {
				t.Fatalf("Job failed: %v (%d failed Jobs), want %v; risks %+v", failed, r.Summary.FailedJobs, tc.fails, r.Risks)
			}
			if tc.fails && r.Summary.PendingAtEnd != 0 {
				t.Fatalf("a failed Job's pods are not replaced, yet %d pods wait", r.Summary.PendingAtEnd)
			}
		})
	}
}

// TestJobPodsAreNotAwaitedAfterADrain: a node is done without waiting for
// the Job pods its drain displaced (plan.AwaitedAfterDrain, the executor's
// workloads-Ready gate leaves Jobs out): the back-off and a long start-up
// do not lengthen the batch.
func TestJobPodsAreNotAwaitedAfterADrain(t *testing.T) {
	c := newCluster(three()...)
	c.jobWith("report", "n1", func(j *batchv1.Job) {
		j.Spec.Template.Annotations = map[string]string{sim.StartupAnnotation: "1000"}
	})
	r := simulateBatches(t, c, "1", sim.Options{Config: quickNodes()})
	if got := r.Batches[0].EndSeconds; got != 10 {
		t.Fatalf("batch 0 ended at %vs, want 10s (the Job pod's grace period only)", got)
	}
}

// TestPodsOfControllersTheSnapshotLacks: a pod whose controller is not in
// the snapshot (an operator's custom resource, a ReplicationController) is
// evicted and recreated, not lost (kubectl drain needs no --force for a pod
// with a controller reference); its owner reaches the result.
func TestPodsOfControllersTheSnapshotLacks(t *testing.T) {
	tests := []struct {
		name     string
		kind     string
		identity string
		// The Service's downtime at each move: a new name is created at
		// the eviction and Ready 10 s later; the same name waits for the
		// old pod to be gone (10 s of grace) first.
		wantDown     float64
		wantIdentity string
	}{
		{"an operator's custom resource is ReplicaSet-like by default", "Kafka", "", 10, sim.IdentityNew},
		{"a ReplicationController recreates at once", "ReplicationController", "", 10, sim.IdentityNew},
		{"an operator configured with stable identity recreates the name once the pod is gone", "Cluster", sim.IdentityStable, 20, sim.IdentityStable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(three()...)
			c.snap.Services = append(c.snap.Services, corev1.Service{
				ObjectMeta: metav1.ObjectMeta{Name: "broker", Namespace: "default"},
				Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "broker"}},
			})
			p := Pod("broker-0").Label("app", "broker").OwnedBy(tc.kind, "broker").Grace(10).On("n1").Running().Obj()
			p.OwnerReferences[0].APIVersion = "example.dev/v1"
			c.pod(p)
			cfg := sim.DefaultConfig()
			if tc.identity != "" {
				cfg.Controllers = []sim.ControllerBehaviour{{Kind: tc.kind, Identity: tc.identity}}
			}
			r := simulateBatches(t, c, "1", sim.Options{Config: cfg})
			if r.Summary.LostPods != 0 || hasRisk(r, plan.RiskUnmanagedPod, "") {
				t.Fatalf("the pod was reported lost: %+v %+v", r.Summary, r.Risks)
			}
			if r.Summary.PendingAtEnd != 0 || r.Summary.PodMovesMax == 0 {
				t.Fatalf("the pod should have moved and be running: %+v", r.Summary)
			}
			want := sim.AssumedController{Kind: tc.kind, Namespace: "default", Name: "broker", Pods: 1, Identity: tc.wantIdentity,
				HasScale: tc.kind == "ReplicationController"}
			if len(r.Semantics.AssumedControllers) != 1 || r.Semantics.AssumedControllers[0] != want {
				t.Fatalf("assumed controllers %+v, want [%+v]", r.Semantics.AssumedControllers, want)
			}
			// It moves again when its second node is replaced.
			if want := tc.wantDown * float64(r.Summary.PodMovesMax); len(r.Services) != 1 || r.Services[0].DownSeconds != want {
				t.Fatalf("broker down %+v, want %vs for each of %d moves", r.Services, tc.wantDown, r.Summary.PodMovesMax)
			}
		})
	}
}

// TestBudgetsExpectedScale: the disruption controller counts a
// Deployment's scale once however many ReplicaSets its pods are in, and
// fails safe (no disruption allowed) when a budget needs the expected
// scale of pods whose controller has none (getExpectedScale, failSafe).
func TestBudgetsExpectedScale(t *testing.T) {
	intOrStr := func(v intstr.IntOrString) *intstr.IntOrString { return &v }
	tests := []struct {
		name      string
		build     func(c *cluster)
		wantStuck bool
	}{
		{
			name: "a Deployment caught mid-rollout, one pod in each of two ReplicaSets, counts 2 expected pods, not 4",
			build: func(c *cluster) {
				two := int32(2)
				c.snap.Deployments = append(c.snap.Deployments, appsv1.Deployment{
					ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: uid("Deployment", "web")},
					Spec:       appsv1.DeploymentSpec{Replicas: &two}})
				for i, rs := range []string{"web-old", "web-new"} {
					one := int32(1)
					c.snap.ReplicaSets = append(c.snap.ReplicaSets, appsv1.ReplicaSet{
						ObjectMeta: metav1.ObjectMeta{Name: rs, Namespace: "default", UID: uid("ReplicaSet", rs),
							OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web",
								UID: uid("Deployment", "web"), Controller: ptrTo(true)}}},
						Spec: appsv1.ReplicaSetSpec{Replicas: &one}})
					c.pod(Pod(fmt.Sprintf("%s-%d", rs, i)).Label("app", "web").OwnedBy("ReplicaSet", rs).Grace(10).On(fmt.Sprintf("n%d", i+1)).Running().Obj())
				}
				c.pdb("web", "web", nil, intOrStr(intstr.FromInt32(1)))
			},
		},
		{
			name: "maxUnavailable over a Job's pods fails safe: the drain is stuck",
			build: func(c *cluster) {
				c.jobWith("report", "n1", nil)
				c.snap.PodDisruptionBudgets = append(c.snap.PodDisruptionBudgets, jobBudget("report", nil, intOrStr(intstr.FromInt32(1))))
			},
			wantStuck: true,
		},
		{
			name: "a percentage minAvailable over an unknown controller's pods fails safe",
			build: func(c *cluster) {
				c.pod(Pod("broker-0").Label("job", "broker").OwnedBy("Kafka", "broker").Grace(10).On("n1").Running().Obj())
				c.pod(Pod("broker-1").Label("job", "broker").OwnedBy("Kafka", "broker").Grace(10).On("n2").Running().Obj())
				c.snap.PodDisruptionBudgets = append(c.snap.PodDisruptionBudgets, jobBudget("broker", intOrStr(intstr.FromString("50%")), nil))
			},
			wantStuck: true,
		},
		{
			name: "an integer minAvailable needs no scale: a Job's budget works",
			build: func(c *cluster) {
				c.jobWith("report", "n1", nil)
				c.snap.PodDisruptionBudgets = append(c.snap.PodDisruptionBudgets, jobBudget("report", intOrStr(intstr.FromInt32(0)), nil))
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(three()...)
			tc.build(c)
			r := simulate(t, c, "1")
			if stuck := r.Summary.StuckNodes > 0; stuck != tc.wantStuck {
				t.Fatalf("stuck nodes %d, want stuck %v; risks %+v", r.Summary.StuckNodes, tc.wantStuck, r.Risks)
			}
		})
	}
}

func jobBudget(job string, minAvailable, maxUnavailable *intstr.IntOrString) policyBudget {
	b := policyBudget{ObjectMeta: metav1.ObjectMeta{Name: job, Namespace: "default"}}
	b.Spec.MinAvailable, b.Spec.MaxUnavailable = minAvailable, maxUnavailable
	b.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"job": job}}
	return b
}

type policyBudget = policyv1.PodDisruptionBudget

func ptrTo[T any](v T) *T { return &v }

// TestDrainGoesOnAfterA500: an eviction answered 500 (a pod under two
// budgets) fails that pod only; kubectl drain's evictPods goes on with the
// node's other pods and then fails, and the node stays cordoned
// (kubectl's drain never uncordons).
func TestDrainGoesOnAfterA500(t *testing.T) {
	intOrStr := func(v intstr.IntOrString) *intstr.IntOrString { return &v }
	c := newCluster(Node("n1").Zone("a").Cap("cpu", "4").Obj(), Node("n2").Zone("b").Cap("cpu", "4").Obj(),
		Node("n3").Zone("c").Cap("cpu", "4").Obj())
	c.deployment("double", "100m", "n1", "n3")
	c.pdb("double-a", "double", nil, intOrStr(intstr.FromInt32(1)))
	c.pdb("double-b", "double", nil, intOrStr(intstr.FromInt32(1)))
	c.deployment("other", "100m", "n1")
	c.deployment("web", "1", "n2")
	c.deployment("filler", "3500m", "n3") // n3 has no room for web's pod
	r := simulate(t, c, "1")
	if got := r.Batches[0].Evictions; got != 1 {
		t.Fatalf("batch 0 evicted %d pods, want 1: other-0 is evicted although double-0 got a 500", got)
	}
	if !hasRisk(r, plan.RiskDrainStuck, "Node/n1") {
		t.Fatalf("want n1's drain failed, got %+v", r.Risks)
	}
	// n2's pod cannot go to n3 (full) nor to n1 (still cordoned): it waits
	// for n2 to come back.
	if got := r.Batches[1].Unschedulable; got == 0 {
		t.Fatalf("web-0 found room in batch 1: n1 was uncordoned after its failed drain")
	}
}

// TestAStartingPodIsPending: a pod bound to a node is in phase Pending
// until its containers run (here: until it is Ready), so the eviction
// handler deletes it without consulting its budget (canIgnorePDB).
func TestAStartingPodIsPending(t *testing.T) {
	intOrStr := func(v intstr.IntOrString) *intstr.IntOrString { return &v }
	c := newCluster(three()...)
	c.deployment("api", "100m", "n1")
	c.deployment("web", "100m", "n1", "n1")
	c.pdb("web", "web", nil, intOrStr(intstr.FromInt32(1)))
	cfg := sim.DefaultConfig()
	thirty := 30.0
	cfg.Overrides = []sim.Override{{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}}, PodStartupSeconds: &thirty}}
	checked := 0
	opts := sim.Options{Config: cfg, OnEviction: func(at time.Duration, _ *corev1.Pod, live []*corev1.Pod) {
		for _, p := range live {
			if p.Spec.NodeName == "" || plan.IsReady(p) || p.DeletionTimestamp != nil {
				continue
			}
			checked++
			if p.Status.Phase != corev1.PodPending {
				t.Errorf("at %v, %s is bound and starting in phase %q, want Pending", at, p.Name, p.Status.Phase)
			}
			blocked := func(*policyBudget) plan.BudgetStatus { return plan.BudgetStatus{ExpectedPods: 1, DesiredHealthy: 1} }
			if v := plan.AnswerEviction(p, []*policyBudget{{}}, blocked); v.Result != plan.EvictionAllowed {
				t.Errorf("a starting pod's eviction should skip its budget, got %v", v.Result)
			}
		}
	}}
	simulateBatches(t, c, "1", opts)
	if checked == 0 {
		t.Fatalf("no starting pod was seen at an eviction: the scenario did not exercise it")
	}
}

// TestReinstalledNodesLabels: with nodeLabelsPreserved false a reinstalled
// node registers again with the kubelet's labels only; a pod that selects
// a label set through the API then finds no node.
func TestReinstalledNodesLabels(t *testing.T) {
	for _, preserved := range []bool{true, false} {
		t.Run(fmt.Sprintf("nodeLabelsPreserved %v", preserved), func(t *testing.T) {
			c := newCluster(Node("n1").Zone("a").Label("pool", "gpu").Obj(), Node("n2").Zone("b").Obj())
			c.pod(Pod("trainer-0").Label("app", "trainer").OwnedBy("ReplicaSet", "trainer").NodeSelector("pool", "gpu").On("n1").Running().Obj())
			cfg := sim.DefaultConfig()
			cfg.NodeLabelsPreserved = &preserved
			r := simulateBatches(t, c, "1", sim.Options{Config: cfg})
			if r.Semantics.NodeLabelsPreserved != preserved {
				t.Fatalf("the result says nodeLabelsPreserved %v", r.Semantics.NodeLabelsPreserved)
			}
			if wantPending := map[bool]int{true: 0, false: 1}[preserved]; r.Summary.PendingAtEnd != wantPending {
				t.Fatalf("%d pods pending at the end, want %d", r.Summary.PendingAtEnd, wantPending)
			}
		})
	}
}

// TestLocalVolumesAreWipedByAReinstall: the result warns that a reinstall
// wipes a node-local PersistentVolume unless it keeps the disk.
func TestLocalVolumesAreWipedByAReinstall(t *testing.T) {
	c := newCluster(three()...)
	c.statefulSetOnLocalPVs("db", "n1", "n2")
	r := simulate(t, c, "1")
	for _, k := range r.Risks {
		if k.Code == plan.RiskLocalStorage && k.Object == "StatefulSet/default/db" && strings.Contains(k.Message, "wipes") {
			return
		}
	}
	t.Fatalf("want a LocalStorage risk on StatefulSet/default/db, got %+v", r.Risks)
}

// TestAMirrorPodOwnedByItsNodeIsNoAssumedController: a static pod's mirror
// names its Node as controller; the kubelet brings it back with the node,
// so it is neither recreated elsewhere nor listed as an assumed controller.
func TestAMirrorPodOwnedByItsNodeIsNoAssumedController(t *testing.T) {
	c := newCluster(three()...)
	p := Pod("kube-proxy-n1").NS("kube-system").On("n1").Running().Obj()
	p.Annotations = map[string]string{corev1.MirrorPodAnnotationKey: "hash"}
	p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: "n1", UID: "uid-node-n1", Controller: ptrTo(true)}}
	c.pod(p)
	r := simulate(t, c, "1")
	if len(r.Semantics.AssumedControllers) != 0 {
		t.Fatalf("assumed controllers %+v, want none", r.Semantics.AssumedControllers)
	}
	if r.Summary.Evictions != 0 || r.Summary.PodMovesMax != 0 || r.Summary.LostPods != 0 || r.Summary.PendingAtEnd != 0 {
		t.Fatalf("the mirror pod should return with its node, untouched: %+v", r.Summary)
	}
}
