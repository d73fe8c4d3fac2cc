package materialize

import (
	"context"
	"errors"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/noderoll/noderoll/snapshot"
)

func controller(kind, name string) []metav1.OwnerReference {
	return []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: kind, Name: name, UID: "old-uid", Controller: new(true)}}
}

// scenario is a snapshot with one object of each case plan handles.
func scenario() *snapshot.Snapshot {
	running := corev1.PodStatus{Phase: corev1.PodRunning}
	return &snapshot.Snapshot{
		Nodes: []corev1.Node{{
			ObjectMeta: metav1.ObjectMeta{Name: "n1", UID: "u", ResourceVersion: "9", Labels: map[string]string{"zone": "a"}},
			Spec: corev1.NodeSpec{PodCIDR: "10.0.1.0/24", Taints: []corev1.Taint{
				{Key: "dedicated", Value: "batch", Effect: corev1.TaintEffectNoSchedule},
				{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute},
			}},
			Status: corev1.NodeStatus{
				Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
				NodeInfo:   corev1.NodeSystemInfo{OSImage: "Ubuntu 22.04.4 LTS"},
			},
		}},
		Namespaces:      []corev1.Namespace{{ObjectMeta: metav1.ObjectMeta{Name: "shop", UID: "u"}}},
		PriorityClasses: []schedulingv1.PriorityClass{{ObjectMeta: metav1.ObjectMeta{Name: "system-node-critical"}}, {ObjectMeta: metav1.ObjectMeta{Name: "tenant-critical"}, Value: 1000}},
		Deployments: []appsv1.Deployment{{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", UID: "d",
			Annotations: map[string]string{"deployment.kubernetes.io/revision": "3", "team": "shop"}},
			Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{ServiceAccountName: "web",
				PriorityClassName: "tenant-critical", Priority: new(int32(1000))}}},
			Status: appsv1.DeploymentStatus{ReadyReplicas: 2}}},
		ReplicaSets: []appsv1.ReplicaSet{
			{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-abc", OwnerReferences: controller("Deployment", "web")}},
			{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "legacy"}},
		},
		Jobs: []batchv1.Job{
			{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "report-1", Labels: map[string]string{"job-name": "report-1", "app": "report"},
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "CronJob", Name: "report", UID: "old", Controller: new(true)}}},
				Spec: batchv1.JobSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{batchv1.ControllerUidLabel: "old"}},
					Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{batchv1.ControllerUidLabel: "old", "app": "report"}}}}},
			{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "migrate"},
				Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}}},
		},
		CronJobs: []batchv1.CronJob{{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "report"}}},
		Services: []corev1.Service{
			{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort,
				ClusterIP: "10.96.0.10", ClusterIPs: []string{"10.96.0.10"}, Ports: []corev1.ServicePort{{Port: 80, NodePort: 30080}}}},
			{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db"}, Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, ClusterIPs: []string{corev1.ClusterIPNone}}},
		},
		PersistentVolumes: []corev1.PersistentVolume{{ObjectMeta: metav1.ObjectMeta{Name: "pv1", Annotations: map[string]string{"pv.kubernetes.io/bound-by-controller": "yes"}},
			Spec:   corev1.PersistentVolumeSpec{ClaimRef: &corev1.ObjectReference{Kind: "PersistentVolumeClaim", Namespace: "data", Name: "c1", UID: "old", ResourceVersion: "5"}},
			Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeBound}}},
		PersistentVolumeClaims: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Namespace: "data", Name: "c1",
			Annotations: map[string]string{"pv.kubernetes.io/bind-completed": "yes", "volume.kubernetes.io/selected-node": "n1"}},
			Spec: corev1.PersistentVolumeClaimSpec{VolumeName: "pv1"}, Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound}}},
		Pods: []corev1.Pod{
			{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-abc-1", OwnerReferences: controller("ReplicaSet", "web-abc")}, Status: running},
			{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "legacy-1", OwnerReferences: controller("ReplicaSet", "legacy")}, Status: running},
			{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "debug", UID: "p"},
				Spec: corev1.PodSpec{NodeName: "n1", Priority: new(int32(5)), PriorityClassName: "tenant-critical",
					Volumes:    []corev1.Volume{{Name: "kube-api-access-x1"}, {Name: "scratch"}},
					Containers: []corev1.Container{{Name: "c", VolumeMounts: []corev1.VolumeMount{{Name: "kube-api-access-x1"}, {Name: "scratch"}}}}},
				Status: running},
			{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "etcd-n1", Annotations: map[string]string{corev1.MirrorPodAnnotationKey: "x"}}, Status: running},
			{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "done"}, Status: corev1.PodStatus{Phase: corev1.PodSucceeded}},
			{ObjectMeta: metav1.ObjectMeta{Namespace: "orphans", Name: "gone-owner", OwnerReferences: controller("StatefulSet", "missing")}, Status: running},
		},
	}
}

// planned indexes the planned objects by ref.
func planned(steps []step) (map[snapshot.ObjectRef]object, []string) {
	m := map[snapshot.ObjectRef]object{}
	var order []string
	for _, st := range steps {
		order = append(order, st.name)
		for _, o := range st.objs {
			m[o.ref] = o
		}
	}
	return m, order
}

func TestPlan(t *testing.T) {
	steps, skip := plan(scenario())
	objs, order := planned(steps)
	get := func(t *testing.T, kind, ns, name string) runtime.Object {
		t.Helper()
		o, ok := objs[snapshot.ObjectRef{Kind: kind, Namespace: ns, Name: name}]
		if !ok {
			t.Fatalf("%s %s/%s is not created", kind, ns, name)
		}
		return o.obj
	}
	absent := func(t *testing.T, kind, ns, name string) {
		t.Helper()
		if _, ok := objs[snapshot.ObjectRef{Kind: kind, Namespace: ns, Name: name}]; ok {
			t.Errorf("%s %s/%s is created, want it left out", kind, ns, name)
		}
	}
	for _, tc := range []struct {
		name  string
		check func(t *testing.T)
	}{
		{"steps run nodes first and bare pods last", func(t *testing.T) {
			want := "nodes,namespaces and classes,volumes and service accounts,services and budgets,cron jobs,workloads,bare pods"
			if strings.Join(order, ",") != want {
				t.Errorf("steps %v, want %s", order, want)
			}
		}},
		{"a node becomes a KWOK node without conditions or the taints the node controllers manage", func(t *testing.T) {
			n := get(t, "Node", "", "n1").(*corev1.Node)
			if !IsKWOKNode(n) || n.Labels[KWOKNodeLabel] != KWOKNodeLabelValue || n.Labels["zone"] != "a" {
				t.Errorf("labels %v, annotations %v", n.Labels, n.Annotations)
			}
			if n.UID != "" || n.ResourceVersion != "" || len(n.Status.Conditions) != 0 {
				t.Errorf("uid %q rv %q conditions %v: want them cleared", n.UID, n.ResourceVersion, n.Status.Conditions)
			}
			if len(n.Spec.Taints) != 1 || n.Spec.Taints[0].Key != "dedicated" || n.Spec.PodCIDR != "10.0.1.0/24" {
				t.Errorf("taints %v podCIDR %q", n.Spec.Taints, n.Spec.PodCIDR)
			}
			if n.Status.NodeInfo.OSImage != "Ubuntu 22.04.4 LTS" {
				t.Errorf("OS image %q", n.Status.NodeInfo.OSImage)
			}
		}},
		{"the ReplicaSets of Deployments and the pods of controllers are left to the controllers", func(t *testing.T) {
			absent(t, "ReplicaSet", "shop", "web-abc")
			absent(t, "Pod", "shop", "web-abc-1")
			absent(t, "Pod", "shop", "legacy-1")
			get(t, "ReplicaSet", "shop", "legacy")
			if skip["ReplicaSet (made by its Deployment)"] != 1 || skip["Pod (made by its controller)"] != 2 {
				t.Errorf("skipped %v", skip)
			}
		}},
		{"mirror and finished pods are not created", func(t *testing.T) {
			absent(t, "Pod", "kube-system", "etcd-n1")
			absent(t, "Pod", "shop", "done")
		}},
		{"a pod whose controller is not in the snapshot is created bare", func(t *testing.T) {
			p := get(t, "Pod", "orphans", "gone-owner").(*corev1.Pod)
			if len(p.OwnerReferences) != 0 {
				t.Errorf("owner references %v, want none", p.OwnerReferences)
			}
		}},
		{"a bare pod is created unbound, without resolved priority or token volume", func(t *testing.T) {
			p := get(t, "Pod", "shop", "debug").(*corev1.Pod)
			if p.Spec.NodeName != "" || p.Spec.Priority != nil || p.UID != "" {
				t.Errorf("nodeName %q priority %v uid %q: want them cleared", p.Spec.NodeName, p.Spec.Priority, p.UID)
			}
			if len(p.Spec.Volumes) != 1 || len(p.Spec.Containers[0].VolumeMounts) != 1 || p.Spec.Volumes[0].Name != "scratch" {
				t.Errorf("volumes %v mounts %v: want only scratch", p.Spec.Volumes, p.Spec.Containers[0].VolumeMounts)
			}
		}},
		{"a Deployment keeps its template and annotations, not its status or revision", func(t *testing.T) {
			d := get(t, "Deployment", "shop", "web").(*appsv1.Deployment)
			if d.Status.ReadyReplicas != 0 || d.Annotations["deployment.kubernetes.io/revision"] != "" || d.Annotations["team"] != "shop" {
				t.Errorf("status %+v annotations %v", d.Status, d.Annotations)
			}
			if d.Spec.Template.Spec.Priority != nil || d.Spec.Template.Spec.PriorityClassName != "tenant-critical" {
				t.Errorf("template priority %v class %q", d.Spec.Template.Spec.Priority, d.Spec.Template.Spec.PriorityClassName)
			}
		}},
		{"a Job loses the selector and labels the API server generates", func(t *testing.T) {
			j := get(t, "Job", "shop", "report-1").(*batchv1.Job)
			if j.Spec.Selector != nil || j.Spec.Template.Labels[batchv1.ControllerUidLabel] != "" || j.Labels["job-name"] != "" {
				t.Errorf("selector %v template labels %v labels %v", j.Spec.Selector, j.Spec.Template.Labels, j.Labels)
			}
			if j.Spec.Template.Labels["app"] != "report" {
				t.Errorf("template labels %v: want app=report kept", j.Spec.Template.Labels)
			}
		}},
		{"a finished Job is created suspended", func(t *testing.T) {
			j := get(t, "Job", "shop", "migrate").(*batchv1.Job)
			if j.Spec.Suspend == nil || !*j.Spec.Suspend {
				t.Errorf("suspend %v, want true", j.Spec.Suspend)
			}
		}},
		{"a CronJob is created suspended and its Job owned by the new CronJob", func(t *testing.T) {
			cj := get(t, "CronJob", "shop", "report").(*batchv1.CronJob)
			if cj.Spec.Suspend == nil || !*cj.Spec.Suspend {
				t.Errorf("suspend %v, want true", cj.Spec.Suspend)
			}
			o := objs[snapshot.ObjectRef{Kind: "Job", Namespace: "shop", Name: "report-1"}]
			if err := o.prepare(map[snapshot.ObjectRef]types.UID{{Kind: "CronJob", Namespace: "shop", Name: "report"}: "new-uid"}); err != nil {
				t.Fatal(err)
			}
			owner := metav1.GetControllerOf(o.obj.(*batchv1.Job))
			if owner == nil || owner.UID != "new-uid" || owner.Kind != "CronJob" {
				t.Errorf("owner %+v, want the new CronJob", owner)
			}
		}},
		{"Services lose their cluster IPs and node ports, headless ones stay headless", func(t *testing.T) {
			web := get(t, "Service", "shop", "web").(*corev1.Service)
			if web.Spec.ClusterIP != "" || web.Spec.ClusterIPs != nil || web.Spec.Ports[0].NodePort != 0 {
				t.Errorf("web: clusterIP %q clusterIPs %v nodePort %d", web.Spec.ClusterIP, web.Spec.ClusterIPs, web.Spec.Ports[0].NodePort)
			}
			if db := get(t, "Service", "shop", "db").(*corev1.Service); db.Spec.ClusterIP != corev1.ClusterIPNone {
				t.Errorf("db: clusterIP %q, want None", db.Spec.ClusterIP)
			}
		}},
		{"a claim and its volume are pre-bound by name only", func(t *testing.T) {
			pv := get(t, "PersistentVolume", "", "pv1").(*corev1.PersistentVolume)
			if pv.Spec.ClaimRef.UID != "" || pv.Spec.ClaimRef.ResourceVersion != "" || pv.Spec.ClaimRef.Name != "c1" || pv.Status.Phase != "" {
				t.Errorf("claimRef %+v status %+v", pv.Spec.ClaimRef, pv.Status)
			}
			if len(pv.Annotations) != 0 {
				t.Errorf("volume annotations %v, want none", pv.Annotations)
			}
			pvc := get(t, "PersistentVolumeClaim", "data", "c1").(*corev1.PersistentVolumeClaim)
			if pvc.Spec.VolumeName != "pv1" || len(pvc.Annotations) != 0 || pvc.Status.Phase != "" {
				t.Errorf("volumeName %q annotations %v status %+v", pvc.Spec.VolumeName, pvc.Annotations, pvc.Status)
			}
		}},
		{"built-in priority classes are skipped and the others created", func(t *testing.T) {
			absent(t, "PriorityClass", "", "system-node-critical")
			if pc := get(t, "PriorityClass", "", "tenant-critical").(*schedulingv1.PriorityClass); pc.Value != 1000 {
				t.Errorf("value %d, want 1000", pc.Value)
			}
		}},
		{"every namespace an object is in is created, and the accounts pods run as", func(t *testing.T) {
			for _, ns := range []string{"shop", "data", "kube-system", "orphans"} {
				get(t, "Namespace", "", ns)
			}
			get(t, "ServiceAccount", "shop", "web")
			get(t, "ServiceAccount", "shop", "default")
		}},
		{"the pods expected to run are those neither finished nor mirrors", func(t *testing.T) {
			if n := expectedPods(scenario()); n != 4 {
				t.Errorf("expectedPods = %d, want 4", n)
			}
		}},
	} {
		t.Run(tc.name, tc.check)
	}
}

func TestCheckKWOK(t *testing.T) {
	kwok := func(name string) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{KWOKNodeAnnotation: KWOKNodeAnnotationValue}}}
	}
	real := func(name string) *corev1.Node { return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}} }
	for _, tc := range []struct {
		name    string
		nodes   []runtime.Object
		wantErr string
	}{
		{"an empty cluster is accepted", nil, ""},
		{"a cluster of KWOK nodes is accepted", []runtime.Object{kwok("a"), kwok("b")}, ""},
		{"a cluster with a real node is refused, naming it", []runtime.Object{kwok("a"), real("worker-1")}, "node worker-1 lacks the annotation kwok.x-k8s.io/node=fake"},
		{"many real nodes are named up to five", []runtime.Object{real("r1"), real("r2"), real("r3"), real("r4"), real("r5"), real("r6"), real("r7")}, "r5 and 2 more lack"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkKWOK(context.Background(), fake.NewClientset(tc.nodes...))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("error %v, want none", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrNotKWOK)):
				t.Fatalf("error %v, want ErrNotKWOK saying %q", err, tc.wantErr)
			}
		})
	}
}
