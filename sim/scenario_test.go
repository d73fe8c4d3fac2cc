package sim_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	. "github.com/noderoll/noderoll/internal/testutil"
	"github.com/noderoll/noderoll/plan"
	"github.com/noderoll/noderoll/sim"
	"github.com/noderoll/noderoll/sim/rolling"
	"github.com/noderoll/noderoll/snapshot"
)

// cluster is a hand-built scenario.
type cluster struct{ snap snapshot.Snapshot }

func newCluster(nodes ...*corev1.Node) *cluster {
	c := &cluster{snap: snapshot.Snapshot{TakenAt: metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))}}
	for _, n := range nodes {
		c.snap.Nodes = append(c.snap.Nodes, *n)
	}
	return c
}

func uid(kind, name string) types.UID { return types.UID("uid-" + kind + "-" + name) }

// deployment adds a ReplicaSet with one Running pod per node listed, a
// Service in front of it, and returns the pod names.
func (c *cluster) deployment(name string, cpu string, nodes ...string) {
	r := int32(len(nodes))
	c.snap.ReplicaSets = append(c.snap.ReplicaSets, appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: uid("ReplicaSet", name)},
		Spec:       appsv1.ReplicaSetSpec{Replicas: &r, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}},
	})
	c.snap.Services = append(c.snap.Services, corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": name}},
	})
	for i, n := range nodes {
		c.pod(Pod(fmt.Sprintf("%s-%d", name, i)).Label("app", name).Req("cpu", cpu).OwnedBy("ReplicaSet", name).Grace(10).On(n).Running().Obj())
	}
}

func (c *cluster) pod(p *corev1.Pod) { c.snap.Pods = append(c.snap.Pods, *p) }

func (c *cluster) pdb(name, app string, minAvailable, maxUnavailable *intstr.IntOrString) {
	c.snap.PodDisruptionBudgets = append(c.snap.PodDisruptionBudgets, policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: minAvailable, MaxUnavailable: maxUnavailable,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}},
	})
}

func (c *cluster) statefulSetOnLocalPVs(name string, nodes ...string) {
	r := int32(len(nodes))
	c.snap.StatefulSets = append(c.snap.StatefulSets, appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: uid("StatefulSet", name)},
		Spec:       appsv1.StatefulSetSpec{Replicas: &r, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}},
	})
	c.snap.Services = append(c.snap.Services, corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": name}},
	})
	sc := "local-storage"
	for i, n := range nodes {
		claim := fmt.Sprintf("data-%s-%d", name, i)
		pv := fmt.Sprintf("pv-%s-%d", name, i)
		c.snap.PersistentVolumes = append(c.snap.PersistentVolumes, corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: pv},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")},
				AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				StorageClassName:       sc,
				PersistentVolumeSource: corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: "/mnt/disk"}},
				NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
					MatchExpressions: []corev1.NodeSelectorRequirement{{Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{n}}}}}}},
				ClaimRef: &corev1.ObjectReference{Kind: "PersistentVolumeClaim", Namespace: "default", Name: claim},
			},
			Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeBound},
		})
		c.snap.PersistentVolumeClaims = append(c.snap.PersistentVolumeClaims, corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: claim, Namespace: "default", Annotations: map[string]string{"pv.kubernetes.io/bind-completed": "yes"}},
			Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				StorageClassName: &sc, VolumeName: pv,
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")}}},
			Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound},
		})
		c.pod(Pod(fmt.Sprintf("%s-%d", name, i)).Label("app", name).OwnedBy("StatefulSet", name).PVC(claim).Grace(10).On(n).Running().Obj())
	}
}

func (c *cluster) daemonSet(name string) {
	c.snap.DaemonSets = append(c.snap.DaemonSets, appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: uid("DaemonSet", name)},
	})
	for _, n := range c.snap.Nodes {
		p := Pod(name+"-"+n.Name).Label("app", name).OwnedBy("DaemonSet", name).On(n.Name).Running().
			Toleration(corev1.TaintNodeUnschedulable, "", corev1.TaintEffectNoSchedule).Obj()
		p.Spec.Tolerations[0].Operator = corev1.TolerationOpExists
		p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{n.Name}}}}}}}}
		c.pod(p)
	}
}

func (c *cluster) job(name, node string) {
	c.snap.Jobs = append(c.snap.Jobs, batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: uid("Job", name)}})
	c.pod(Pod(name+"-x").Label("job", name).OwnedBy("Job", name).On(node).Running().Obj())
}

func three() []*corev1.Node {
	return []*corev1.Node{Node("n1").Zone("a").Obj(), Node("n2").Zone("b").Obj(), Node("n3").Zone("c").Obj()}
}

func simulate(t *testing.T, c *cluster, batchSize string) *sim.Result {
	t.Helper()
	p, err := rolling.Plan(&c.snap, rolling.Params{BatchSize: batchSize, Order: rolling.OrderName})
	if err != nil {
		t.Fatal(err)
	}
	res, err := sim.Run(context.Background(), &c.snap, p, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func hasRisk(r *sim.Result, code, object string) bool {
	for _, k := range r.Risks {
		if k.Code == code && (object == "" || k.Object == object) {
			return true
		}
	}
	return false
}

func TestRollingScenarios(t *testing.T) {
	intOrStr := func(v intstr.IntOrString) *intstr.IntOrString { return &v }
	tests := []struct {
		name  string
		build func() *cluster
		batch string
		check func(t *testing.T, r *sim.Result)
	}{
		{
			name: "two replicas on one node without a PDB: both evicted at once, the service goes down",
			build: func() *cluster {
				c := newCluster(three()...)
				c.deployment("web", "100m", "n1", "n1")
				return c
			},
			batch: "1",
			check: func(t *testing.T, r *sim.Result) {
				if r.Summary.ServicesWithOutage != 1 || !hasRisk(r, plan.RiskServiceOutage, "Service/default/web") {
					t.Fatalf("want the web service down once, got %+v risks %+v", r.Summary, r.Risks)
				}
				if r.Summary.EvictionsBlocked != 0 {
					t.Fatalf("no PDB, yet %d evictions were refused", r.Summary.EvictionsBlocked)
				}
				if !hasRisk(r, plan.RiskAllReplicasInBatch, "ReplicaSet/default/web") {
					t.Fatalf("want AllReplicasInBatch, got %+v", r.Risks)
				}
			},
		},
		{
			name: "two replicas on one node with maxUnavailable 1: the second eviction waits for the first replacement",
			build: func() *cluster {
				c := newCluster(three()...)
				c.deployment("web", "100m", "n1", "n1")
				c.pdb("web", "web", nil, intOrStr(intstr.FromInt32(1)))
				return c
			},
			batch: "1",
			check: func(t *testing.T, r *sim.Result) {
				if r.Summary.EvictionsBlocked == 0 || r.Batches[0].PDBStallSeconds <= 0 {
					t.Fatalf("want 429s and a stall in batch 0, got %+v / %+v", r.Summary, r.Batches[0])
				}
				// The replacement needs 10 s to be Ready; retries every 5 s: 10 s of stall.
				if got := r.Batches[0].PDBStallSeconds; got != 10 {
					t.Fatalf("stall %vs, want 10s (start-up 10 s, retry every 5 s)", got)
				}
				if r.Summary.ServicesWithOutage != 0 {
					t.Fatalf("the PDB should have kept the service up: %+v", r.Services)
				}
			},
		},
		{
			name: "a PDB with maxUnavailable 0 makes the drain stuck, and the simulation ends",
			build: func() *cluster {
				c := newCluster(three()...)
				c.deployment("web", "100m", "n1", "n2")
				c.pdb("web", "web", nil, intOrStr(intstr.FromInt32(0)))
				return c
			},
			batch: "1",
			check: func(t *testing.T, r *sim.Result) {
				if r.Summary.StuckNodes == 0 || !hasRisk(r, plan.RiskDrainStuck, "Node/n1") {
					t.Fatalf("want n1 stuck, got %+v %+v", r.Summary, r.Risks)
				}
				for _, k := range r.Risks {
					if k.Code == plan.RiskDrainStuck && !strings.Contains(k.Message, "PodDisruptionBudget/default/web") {
						t.Fatalf("the stuck report should name the blocking PDB: %q", k.Message)
					}
				}
			},
		},
		{
			name: "a pod under two PDBs cannot be evicted (500) and its node is stuck",
			build: func() *cluster {
				c := newCluster(three()...)
				c.deployment("web", "100m", "n1", "n2")
				c.pdb("web-a", "web", nil, intOrStr(intstr.FromInt32(1)))
				c.pdb("web-b", "web", nil, intOrStr(intstr.FromInt32(1)))
				return c
			},
			batch: "1",
			check: func(t *testing.T, r *sim.Result) {
				if r.Summary.StuckNodes < 1 || !hasRisk(r, plan.RiskDrainStuck, "Node/n1") {
					t.Fatalf("want n1 stuck, got %+v", r.Risks)
				}
			},
		},
		{
			name: "a StatefulSet pod on a local PV waits for its node and comes back there",
			build: func() *cluster {
				c := newCluster(three()...)
				c.statefulSetOnLocalPVs("db", "n1", "n2")
				return c
			},
			batch: "1",
			check: func(t *testing.T, r *sim.Result) {
				if r.Summary.PendingAtEnd != 0 {
					t.Fatalf("%d pods still pending at the end", r.Summary.PendingAtEnd)
				}
				if r.Summary.UnschedulablePods < 2 {
					t.Fatalf("each db pod should have waited for its node: %+v", r.Summary)
				}
				if r.Summary.ServicesWithOutage != 0 || r.Summary.ServicesDegraded != 1 {
					t.Fatalf("one of two db pods down at a time: degraded, not down: %+v", r.Summary)
				}
			},
		},
		{
			name: "a StatefulSet on local PVs with both its nodes in one batch goes down",
			build: func() *cluster {
				c := newCluster(three()...)
				c.statefulSetOnLocalPVs("db", "n1", "n2")
				return c
			},
			batch: "2",
			check: func(t *testing.T, r *sim.Result) {
				if r.Summary.ServicesWithOutage != 1 {
					t.Fatalf("want the db service down, got %+v", r.Summary)
				}
			},
		},
		{
			name: "a full cluster where a batch of two cannot fit leaves pods unschedulable",
			build: func() *cluster {
				c := newCluster(three()...)
				c.deployment("big", "3", "n1", "n2", "n3")
				return c
			},
			batch: "2",
			check: func(t *testing.T, r *sim.Result) {
				if r.Summary.UnschedulablePods == 0 || r.Batches[0].PendingPeak == 0 {
					t.Fatalf("want unschedulable pods in batch 0, got %+v %+v", r.Summary, r.Batches[0])
				}
				if !hasRisk(r, plan.RiskCapacityShortfall, "") {
					t.Fatalf("want a CapacityShortfall, got %+v", r.Risks)
				}
				if r.Summary.PendingAtEnd != 0 {
					t.Fatalf("everything fits again at the end, yet %d pods pending", r.Summary.PendingAtEnd)
				}
			},
		},
		{
			name: "DaemonSet pods are not evicted and return with their node",
			build: func() *cluster {
				c := newCluster(three()...)
				c.daemonSet("agent")
				return c
			},
			batch: "1",
			check: func(t *testing.T, r *sim.Result) {
				if r.Summary.Evictions != 0 || r.Summary.PodMovesMax != 0 || r.Summary.PendingAtEnd != 0 {
					t.Fatalf("DaemonSet pods should neither be evicted nor moved: %+v", r.Summary)
				}
			},
		},
		{
			name: "a bare pod is lost",
			build: func() *cluster {
				c := newCluster(three()...)
				c.pod(Pod("bare").On("n1").Running().Obj())
				return c
			},
			batch: "1",
			check: func(t *testing.T, r *sim.Result) {
				if r.Summary.LostPods != 1 || !hasRisk(r, plan.RiskUnmanagedPod, "Pod/default/bare") {
					t.Fatalf("want the bare pod lost, got %+v", r.Summary)
				}
			},
		},
		{
			name: "an emptyDir pod is evicted and its data reported lost",
			build: func() *cluster {
				c := newCluster(three()...)
				c.deployment("cache", "100m", "n3") // the last batch: its replacement lands on a replaced node
				c.snap.Pods[0].Spec.Volumes = append(c.snap.Pods[0].Spec.Volumes, corev1.Volume{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
				return c
			},
			batch: "1",
			check: func(t *testing.T, r *sim.Result) {
				if r.Summary.EmptyDirPodsLost != 1 || !hasRisk(r, plan.RiskEmptyDirData, "") {
					t.Fatalf("want emptyDir data lost once, got %+v", r.Summary)
				}
			},
		},
		{
			name: "a Job pod restarts elsewhere and loses its work",
			build: func() *cluster {
				c := newCluster(three()...)
				c.job("report", "n1")
				return c
			},
			batch: "1",
			check: func(t *testing.T, r *sim.Result) {
				if r.Summary.LostPods != 0 || r.Summary.PendingAtEnd != 0 || r.Summary.PodMovesMax < 1 {
					t.Fatalf("the Job pod should have moved, not been lost: %+v", r.Summary)
				}
			},
		},
		{
			name: "pods evicted onto not-yet-replaced nodes move again (churn)",
			build: func() *cluster {
				c := newCluster(three()...)
				c.deployment("web", "100m", "n1", "n2", "n3")
				return c
			},
			batch: "1",
			check: func(t *testing.T, r *sim.Result) {
				if r.Summary.PodMovesMax < 2 || r.Summary.PodsMovedMoreThanOnce == 0 {
					t.Fatalf("want churn with batches of one node, got %+v", r.Summary)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.check(t, simulate(t, tc.build(), tc.batch))
		})
	}
}
