package analysis

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	. "github.com/noderoll/noderoll/internal/testutil"
	"github.com/noderoll/noderoll/snapshot"
)

// cluster builds a snapshot for one test case. Everything is in namespace
// "default"; workloads' pods are labelled app=<workload>.
type cluster struct{ snap snapshot.Snapshot }

// three returns nodes n1, n2 and n3 (4 cpu, 16Gi each) in zones a, b, c.
func three() []*corev1.Node {
	return []*corev1.Node{Node("n1").Zone("a").Obj(), Node("n2").Zone("b").Obj(), Node("n3").Zone("c").Obj()}
}

func newCluster(nodes ...*corev1.Node) *cluster {
	c := &cluster{}
	for _, n := range nodes {
		c.snap.Nodes = append(c.snap.Nodes, *n)
	}
	return c
}

func ownerRef(kind, name string) metav1.OwnerReference {
	yes := true
	return metav1.OwnerReference{APIVersion: "apps/v1", Kind: kind, Name: name, UID: types.UID("uid-" + kind + "-" + name), Controller: &yes}
}

func selector(app string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}
}

func template(app string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}}}
}

// replicaPods adds one Running pod per node listed ("" for a Pending pod),
// owned by kind/owner and requesting cpu.
func (c *cluster) replicaPods(kind, owner, app, cpu string, nodes []string) {
	for i, n := range nodes {
		name := fmt.Sprintf("%s-%d", owner, i)
		b := Pod(name).Label("app", app).OwnedBy(kind, owner).Req("cpu", cpu)
		if n == "" {
			p := b.Obj()
			p.Status.Phase = corev1.PodPending
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
				Reason: "Unschedulable", Message: "0/3 nodes are available: 3 Insufficient cpu."}}
			c.pod(p)
			continue
		}
		c.pod(b.On(n).Running().Obj())
	}
}

// deployment adds a Deployment of replicas, its ReplicaSet and one pod of
// 100m per node listed.
func (c *cluster) deployment(name string, replicas int32, nodes ...string) *cluster {
	return c.deploymentCPU(name, replicas, "100m", nodes...)
}

func (c *cluster) deploymentCPU(name string, replicas int32, cpu string, nodes ...string) *cluster {
	r := replicas
	c.snap.Deployments = append(c.snap.Deployments, appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-Deployment-" + name)},
		Spec:       appsv1.DeploymentSpec{Replicas: &r, Selector: selector(name), Template: template(name)},
	})
	rs := name + "-7d9f8"
	c.snap.ReplicaSets = append(c.snap.ReplicaSets, appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: rs, Namespace: "default", UID: types.UID("uid-ReplicaSet-" + rs),
			OwnerReferences: []metav1.OwnerReference{ownerRef("Deployment", name)}},
		Spec: appsv1.ReplicaSetSpec{Replicas: &r, Selector: selector(name), Template: template(name)},
	})
	c.replicaPods("ReplicaSet", rs, name, cpu, nodes)
	return c
}

// replicaSet adds a ReplicaSet no Deployment owns.
func (c *cluster) replicaSet(name string, replicas int32, nodes ...string) *cluster {
	r := replicas
	c.snap.ReplicaSets = append(c.snap.ReplicaSets, appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-ReplicaSet-" + name)},
		Spec:       appsv1.ReplicaSetSpec{Replicas: &r, Selector: selector(name), Template: template(name)},
	})
	c.replicaPods("ReplicaSet", name, name, "100m", nodes)
	return c
}

// statefulSet adds a StatefulSet with one pod per node listed.
func (c *cluster) statefulSet(name string, replicas int32, nodes ...string) *cluster {
	r := replicas
	c.snap.StatefulSets = append(c.snap.StatefulSets, appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-StatefulSet-" + name)},
		Spec:       appsv1.StatefulSetSpec{Replicas: &r, Selector: selector(name), Template: template(name)},
	})
	c.replicaPods("StatefulSet", name, name, "100m", nodes)
	return c
}

// daemonSet adds a DaemonSet with a pod on every node.
func (c *cluster) daemonSet(name string) *cluster {
	c.snap.DaemonSets = append(c.snap.DaemonSets, appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-DaemonSet-" + name)},
		Spec:       appsv1.DaemonSetSpec{Selector: selector(name), Template: template(name)},
	})
	for _, n := range c.snap.Nodes {
		c.pod(Pod(name+"-"+n.Name).Label("app", name).OwnedBy("DaemonSet", name).Req("cpu", "100m").On(n.Name).Running().Obj())
	}
	return c
}

// job adds a Job with one pod on node.
func (c *cluster) job(name, node string) *cluster {
	c.snap.Jobs = append(c.snap.Jobs, batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-Job-" + name)},
		Spec:       batchv1.JobSpec{Template: template(name)},
	})
	c.pod(Pod(name+"-x").Label("app", name).OwnedBy("Job", name).On(node).Running().Obj())
	return c
}

func (c *cluster) pod(p *corev1.Pod) *cluster {
	c.snap.Pods = append(c.snap.Pods, *p)
	return c
}

// pods applies f to the pods whose name starts with prefix.
func (c *cluster) pods(prefix string, f func(*corev1.Pod)) *cluster {
	for i := range c.snap.Pods {
		if strings.HasPrefix(c.snap.Pods[i].Name, prefix) {
			f(&c.snap.Pods[i])
		}
	}
	return c
}

func (c *cluster) service(name, app string) *cluster {
	c.snap.Services = append(c.snap.Services, corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": app}},
	})
	return c
}

func intOrStr(v string) *intstr.IntOrString {
	x := intstr.Parse(v)
	return &x
}

// pdb adds a PDB selecting app=app; minAvailable and maxUnavailable are
// "" (unset), a number or a percentage.
func (c *cluster) pdb(name, app, minAvailable, maxUnavailable string) *cluster {
	return c.pdbSelecting(name, map[string]string{"app": app}, minAvailable, maxUnavailable)
}

func (c *cluster) pdbSelecting(name string, labels map[string]string, minAvailable, maxUnavailable string) *cluster {
	p := policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       policyv1.PodDisruptionBudgetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}},
	}
	if minAvailable != "" {
		p.Spec.MinAvailable = intOrStr(minAvailable)
	}
	if maxUnavailable != "" {
		p.Spec.MaxUnavailable = intOrStr(maxUnavailable)
	}
	c.snap.PodDisruptionBudgets = append(c.snap.PodDisruptionBudgets, p)
	return c
}

// volume binds the pod named podName to a new claim and volume; pv sets the
// volume's source and node affinity.
func (c *cluster) volume(podName string, pv func(*corev1.PersistentVolumeSpec)) *cluster {
	claim, vol := "data-"+podName, "pv-"+podName
	spec := corev1.PersistentVolumeSpec{
		Capacity:    corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")},
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		ClaimRef:    &corev1.ObjectReference{Kind: "PersistentVolumeClaim", Namespace: "default", Name: claim},
	}
	pv(&spec)
	c.snap.PersistentVolumes = append(c.snap.PersistentVolumes, corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: vol}, Spec: spec})
	c.snap.PersistentVolumeClaims = append(c.snap.PersistentVolumeClaims, corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: claim, Namespace: "default"},
		Spec:       corev1.PersistentVolumeClaimSpec{VolumeName: vol},
	})
	return c.pods(podName, func(p *corev1.Pod) {
		if p.Name == podName {
			p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "data",
				VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}})
		}
	})
}

// pinnedTo returns a node affinity that requires key in values.
func pinnedTo(key string, values ...string) *corev1.VolumeNodeAffinity {
	return &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
		MatchExpressions: []corev1.NodeSelectorRequirement{{Key: key, Operator: corev1.NodeSelectorOpIn, Values: values}}}}}}
}

func localDisk(node string) func(*corev1.PersistentVolumeSpec) {
	return func(s *corev1.PersistentVolumeSpec) {
		s.Local = &corev1.LocalVolumeSource{Path: "/mnt/disks/ssd1"}
		s.NodeAffinity = pinnedTo(corev1.LabelHostname, node)
	}
}

func notReady(p *corev1.Pod) {
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}}
}

func withEmptyDir(p *corev1.Pod) {
	p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "scratch",
		VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
}
