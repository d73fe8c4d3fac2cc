package materialize

import (
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/noderoll/noderoll/snapshot"
)

// KWOK's conventions for the nodes it simulates.
const (
	// KWOKNodeAnnotation marks a node as simulated by KWOK; its value is
	// KWOKNodeAnnotationValue. KWOK's controller, when started with
	// --manage-nodes-with-annotation-selector, manages only such nodes.
	KWOKNodeAnnotation      = "kwok.x-k8s.io/node"
	KWOKNodeAnnotationValue = "fake"
	// KWOKNodeLabel and KWOKNodeLabelValue are the label KWOK's examples
	// give their nodes.
	KWOKNodeLabel      = "type"
	KWOKNodeLabelValue = "kwok"
)

// IsKWOKNode reports whether the node carries KWOK's annotation.
func IsKWOKNode(n *corev1.Node) bool {
	return n.Annotations[KWOKNodeAnnotation] == KWOKNodeAnnotationValue
}

// step is a group of objects created together; a step starts when the one
// before it is done.
type step struct {
	name string
	objs []object
}

// object is one object to create. prepare, when set, is called just before
// the object is created, with the UIDs of the objects created so far
// (keyed by ref), so that it can point owner references at them.
type object struct {
	ref     snapshot.ObjectRef
	obj     runtime.Object
	prepare func(uids map[snapshot.ObjectRef]types.UID) error
}

// skipped counts objects of the snapshot that are deliberately not
// created, by reason.
type skipped map[string]int

// plan turns the snapshot into the steps Apply runs, and says what it
// leaves to the controllers.
func plan(s *snapshot.Snapshot) ([]step, skipped) {
	skip := skipped{}
	var nodes, meta, storage, services, cron, workloads, pods step
	nodes.name, meta.name, storage.name = "nodes", "namespaces and classes", "volumes and service accounts"
	services.name, cron.name, workloads.name, pods.name = "services and budgets", "cron jobs", "workloads", "bare pods"

	for i := range s.Nodes {
		n := nodeFor(&s.Nodes[i])
		nodes.add("Node", n)
	}

	// Namespaces: the snapshot's, and every one an object is in.
	namespaces := map[string]bool{}
	for i := range s.Namespaces {
		ns := &s.Namespaces[i]
		namespaces[ns.Name] = true
		meta.add("Namespace", &corev1.Namespace{ObjectMeta: freshMeta(ns.ObjectMeta)})
	}
	for _, name := range usedNamespaces(s) {
		if !namespaces[name] {
			namespaces[name] = true
			meta.add("Namespace", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
		}
	}
	for i := range s.PriorityClasses {
		pc := s.PriorityClasses[i].DeepCopy()
		if strings.HasPrefix(pc.Name, "system-") { // built in, and reserved
			skip["PriorityClass (built in)"]++
			continue
		}
		meta.add("PriorityClass", &schedulingv1.PriorityClass{ObjectMeta: freshMeta(pc.ObjectMeta),
			Value: pc.Value, GlobalDefault: pc.GlobalDefault, Description: pc.Description, PreemptionPolicy: pc.PreemptionPolicy})
	}
	for i := range s.StorageClasses {
		sc := s.StorageClasses[i].DeepCopy()
		sc.ObjectMeta = freshMeta(sc.ObjectMeta)
		meta.add("StorageClass", sc)
	}

	for i := range s.PersistentVolumes {
		storage.add("PersistentVolume", volumeFor(&s.PersistentVolumes[i]))
	}
	for i := range s.PersistentVolumeClaims {
		storage.add("PersistentVolumeClaim", claimFor(&s.PersistentVolumeClaims[i]))
	}

	for i := range s.Services {
		services.add("Service", serviceFor(&s.Services[i]))
	}
	for i := range s.PodDisruptionBudgets {
		pdb := s.PodDisruptionBudgets[i].DeepCopy()
		pdb.ObjectMeta = freshMeta(pdb.ObjectMeta)
		pdb.Status = policyv1.PodDisruptionBudgetStatus{}
		services.add("PodDisruptionBudget", pdb)
	}

	for i := range s.CronJobs {
		cj := s.CronJobs[i].DeepCopy()
		cj.ObjectMeta = freshMeta(cj.ObjectMeta)
		cj.Spec.Suspend = new(true)
		cleanTemplate(&cj.Spec.JobTemplate.Spec.Template)
		cj.Status = batchv1.CronJobStatus{}
		cron.add("CronJob", cj)
	}

	// Workloads, and which controllers will exist to create pods.
	creates := map[snapshot.ObjectRef]bool{} // controllers that will create pods
	deployments := map[snapshot.ObjectRef]bool{}
	for i := range s.Deployments {
		d := s.Deployments[i].DeepCopy()
		d.ObjectMeta = freshMeta(d.ObjectMeta)
		cleanTemplate(&d.Spec.Template)
		d.Status = appsv1.DeploymentStatus{}
		workloads.add("Deployment", d)
		deployments[snapshot.ObjectRef{Kind: "Deployment", Namespace: d.Namespace, Name: d.Name}] = true
	}
	for i := range s.ReplicaSets {
		rs := &s.ReplicaSets[i]
		ref := snapshot.ObjectRef{Kind: "ReplicaSet", Namespace: rs.Namespace, Name: rs.Name}
		if owner := metav1.GetControllerOf(rs); owner != nil && owner.Kind == "Deployment" &&
			deployments[snapshot.ObjectRef{Kind: "Deployment", Namespace: rs.Namespace, Name: owner.Name}] {
			creates[ref] = true // the Deployment controller makes its own
			skip["ReplicaSet (made by its Deployment)"]++
			continue
		}
		c := rs.DeepCopy()
		c.ObjectMeta = freshMeta(c.ObjectMeta)
		cleanTemplate(&c.Spec.Template)
		c.Status = appsv1.ReplicaSetStatus{}
		workloads.add("ReplicaSet", c)
		creates[ref] = true
	}
	for i := range s.StatefulSets {
		st := s.StatefulSets[i].DeepCopy()
		st.ObjectMeta = freshMeta(st.ObjectMeta)
		cleanTemplate(&st.Spec.Template)
		for j := range st.Spec.VolumeClaimTemplates {
			t := &st.Spec.VolumeClaimTemplates[j]
			t.ObjectMeta = metav1.ObjectMeta{Name: t.Name, Labels: t.Labels, Annotations: cleanAnnotations(t.Annotations)}
			t.Status = corev1.PersistentVolumeClaimStatus{}
		}
		st.Status = appsv1.StatefulSetStatus{}
		workloads.add("StatefulSet", st)
		creates[snapshot.ObjectRef{Kind: "StatefulSet", Namespace: st.Namespace, Name: st.Name}] = true
	}
	for i := range s.DaemonSets {
		ds := s.DaemonSets[i].DeepCopy()
		ds.ObjectMeta = freshMeta(ds.ObjectMeta)
		cleanTemplate(&ds.Spec.Template)
		ds.Status = appsv1.DaemonSetStatus{}
		workloads.add("DaemonSet", ds)
		creates[snapshot.ObjectRef{Kind: "DaemonSet", Namespace: ds.Namespace, Name: ds.Name}] = true
	}
	for i := range s.Jobs {
		o := jobFor(&s.Jobs[i])
		workloads.objs = append(workloads.objs, o)
		creates[o.ref] = true
	}

	for i := range s.Pods {
		p := &s.Pods[i]
		switch owner := metav1.GetControllerOf(p); {
		case p.Annotations[corev1.MirrorPodAnnotationKey] != "":
			skip["Pod (mirror of a static pod)"]++
		case p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed:
			skip["Pod (finished)"]++
		case owner != nil && creates[snapshot.ObjectRef{Kind: owner.Kind, Namespace: p.Namespace, Name: owner.Name}]:
			skip["Pod (made by its controller)"]++
		default:
			pods.add("Pod", barePodFor(p))
		}
	}

	// The ServiceAccounts the pods run as: the ServiceAccount admission
	// plugin refuses a pod whose account does not exist.
	accounts := map[snapshot.ObjectRef]bool{}
	for _, spec := range podSpecs(s) {
		name := spec.spec.ServiceAccountName
		if name == "" {
			name = "default"
		}
		accounts[snapshot.ObjectRef{Kind: "ServiceAccount", Namespace: spec.namespace, Name: name}] = true
	}
	for _, ref := range sortedRefs(accounts) {
		storage.add("ServiceAccount", &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ref.Namespace, Name: ref.Name}})
	}

	var steps []step
	for _, st := range []step{nodes, meta, storage, services, cron, workloads, pods} {
		if len(st.objs) > 0 {
			steps = append(steps, st)
		}
	}
	return steps, skip
}

// add appends an object of the given kind.
func (s *step) add(kind string, obj interface {
	runtime.Object
	metav1.Object
}) {
	s.objs = append(s.objs, object{ref: snapshot.ObjectRef{Kind: kind, Namespace: obj.GetNamespace(), Name: obj.GetName()}, obj: obj})
}

// expectedPods counts the snapshot's pods that should be running once the
// cluster settles: all but finished, terminating and mirror pods.
func expectedPods(s *snapshot.Snapshot) int {
	n := 0
	for i := range s.Pods {
		p := &s.Pods[i]
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed ||
			p.DeletionTimestamp != nil || p.Annotations[corev1.MirrorPodAnnotationKey] != "" {
			continue
		}
		n++
	}
	return n
}

// droppedAnnotations are set by the API server or by controllers, and would
// mislead them on a new object (a claim marked bound to a volume that does
// not know its new UID is declared lost).
var droppedAnnotations = []string{
	corev1.LastAppliedConfigAnnotation,
	"deployment.kubernetes.io/revision",
	"deployment.kubernetes.io/desired-replicas",
	"deployment.kubernetes.io/max-replicas",
	"deprecated.daemonset.template.generation",
	"pv.kubernetes.io/bind-completed",
	"pv.kubernetes.io/bound-by-controller",
	"volume.kubernetes.io/selected-node",
	"volume.kubernetes.io/storage-provisioner",
	"volume.beta.kubernetes.io/storage-provisioner",
	"batch.kubernetes.io/job-tracking",
}

// cleanAnnotations returns the annotations without droppedAnnotations; nil
// if none is left.
func cleanAnnotations(ann map[string]string) map[string]string {
	var out map[string]string
	for k, v := range ann {
		if slices.Contains(droppedAnnotations, k) {
			continue
		}
		if out == nil {
			out = make(map[string]string, len(ann))
		}
		out[k] = v
	}
	return out
}

// freshMeta keeps what a user sets on an object: name, namespace, labels
// and annotations (less droppedAnnotations). Owner references are dropped:
// the objects created here have no owner but those re-pointed explicitly.
func freshMeta(m metav1.ObjectMeta) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:        m.Name,
		Namespace:   m.Namespace,
		Labels:      m.Labels,
		Annotations: cleanAnnotations(m.Annotations),
	}
}

// nodeFor returns the node as a KWOK node: the snapshot's labels, taints
// (less the ones the node controllers manage), capacity, allocatable and
// node info; no conditions, so that KWOK initialises it.
func nodeFor(n *corev1.Node) *corev1.Node {
	out := &corev1.Node{ObjectMeta: freshMeta(n.ObjectMeta)}
	out.Labels = copyMap(out.Labels)
	out.Labels[KWOKNodeLabel] = KWOKNodeLabelValue
	out.Annotations = copyMap(out.Annotations)
	out.Annotations[KWOKNodeAnnotation] = KWOKNodeAnnotationValue
	out.Spec = corev1.NodeSpec{
		PodCIDR:       n.Spec.PodCIDR,
		PodCIDRs:      n.Spec.PodCIDRs,
		ProviderID:    n.Spec.ProviderID,
		Unschedulable: n.Spec.Unschedulable,
	}
	for _, t := range n.Spec.Taints {
		if strings.HasPrefix(t.Key, "node.kubernetes.io/") || strings.HasPrefix(t.Key, "node.cloudprovider.kubernetes.io/") {
			continue // set and cleared by the node lifecycle controllers
		}
		t.TimeAdded = nil
		out.Spec.Taints = append(out.Spec.Taints, t)
	}
	out.Status = corev1.NodeStatus{
		Capacity:    n.Status.Capacity.DeepCopy(),
		Allocatable: n.Status.Allocatable.DeepCopy(),
		NodeInfo:    n.Status.NodeInfo,
		Addresses:   slices.Clone(n.Status.Addresses),
	}
	return out
}

// volumeFor returns the volume without its status and with a claimRef that
// names its claim without the old UID, so that the PV controller binds it
// to the new claim.
func volumeFor(pv *corev1.PersistentVolume) *corev1.PersistentVolume {
	out := pv.DeepCopy()
	out.ObjectMeta = freshMeta(out.ObjectMeta)
	if ref := out.Spec.ClaimRef; ref != nil {
		out.Spec.ClaimRef = &corev1.ObjectReference{Kind: ref.Kind, APIVersion: ref.APIVersion, Namespace: ref.Namespace, Name: ref.Name}
	}
	out.Status = corev1.PersistentVolumeStatus{}
	return out
}

// claimFor returns the claim without status or bind annotations; its
// volumeName pre-binds it to the same volume as before.
func claimFor(pvc *corev1.PersistentVolumeClaim) *corev1.PersistentVolumeClaim {
	out := pvc.DeepCopy()
	out.ObjectMeta = freshMeta(out.ObjectMeta)
	out.Status = corev1.PersistentVolumeClaimStatus{}
	return out
}

// serviceFor returns the Service with the addresses and ports the API
// server allocates cleared (a headless Service stays headless).
func serviceFor(svc *corev1.Service) *corev1.Service {
	out := svc.DeepCopy()
	out.ObjectMeta = freshMeta(out.ObjectMeta)
	if out.Spec.ClusterIP != corev1.ClusterIPNone {
		out.Spec.ClusterIP = ""
		out.Spec.ClusterIPs = nil
	} else {
		out.Spec.ClusterIPs = nil
	}
	out.Spec.IPFamilies = nil
	out.Spec.IPFamilyPolicy = nil
	out.Spec.HealthCheckNodePort = 0
	for i := range out.Spec.Ports {
		out.Spec.Ports[i].NodePort = 0
	}
	out.Status = corev1.ServiceStatus{}
	return out
}

// jobLabels are the labels the API server puts on a Job's pod template from
// the Job's UID; they are generated again for the new Job.
var jobLabels = []string{batchv1.ControllerUidLabel, batchv1.JobNameLabel, "controller-uid", "job-name"}

// jobFor returns the Job with the selector and labels the API server
// generates cleared (unless the selector is manual), suspended if it had
// finished, and owned by its CronJob's copy if it had one.
func jobFor(j *batchv1.Job) object {
	out := j.DeepCopy()
	out.ObjectMeta = freshMeta(out.ObjectMeta)
	cleanTemplate(&out.Spec.Template)
	if out.Spec.ManualSelector == nil || !*out.Spec.ManualSelector {
		out.Spec.Selector = nil
		for _, l := range jobLabels {
			delete(out.Spec.Template.Labels, l)
			delete(out.Labels, l)
		}
	}
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			out.Spec.Suspend = new(true)
		}
	}
	out.Status = batchv1.JobStatus{}
	o := object{ref: snapshot.ObjectRef{Kind: "Job", Namespace: out.Namespace, Name: out.Name}, obj: out}
	if owner := metav1.GetControllerOf(j); owner != nil && owner.Kind == "CronJob" {
		cron := snapshot.ObjectRef{Kind: "CronJob", Namespace: j.Namespace, Name: owner.Name}
		o.prepare = func(uids map[snapshot.ObjectRef]types.UID) error {
			uid, ok := uids[cron]
			if !ok {
				return nil // the CronJob is not in the snapshot: the Job stands alone
			}
			out.OwnerReferences = []metav1.OwnerReference{{
				APIVersion: "batch/v1", Kind: "CronJob", Name: owner.Name, UID: uid,
				Controller: new(true), BlockOwnerDeletion: new(true),
			}}
			return nil
		}
	}
	return o
}

// barePodFor returns the pod unbound (the scheduler places it), without
// what admission adds (resolved priority, the ServiceAccount token volume)
// or what cannot be set on creation (ephemeral containers).
func barePodFor(p *corev1.Pod) *corev1.Pod {
	out := &corev1.Pod{ObjectMeta: freshMeta(p.ObjectMeta), Spec: *p.Spec.DeepCopy()}
	out.Spec.NodeName = ""
	out.Spec.EphemeralContainers = nil
	cleanPodSpec(&out.Spec)
	return out
}

// cleanTemplate clears what admission resolves in a pod template.
func cleanTemplate(t *corev1.PodTemplateSpec) {
	t.CreationTimestamp = metav1.Time{}
	cleanPodSpec(&t.Spec)
}

// cleanPodSpec drops the priority and preemption policy admission resolves
// from the priority class (admission refuses a value it did not compute)
// and the ServiceAccount token volume it adds.
func cleanPodSpec(spec *corev1.PodSpec) {
	if spec.PriorityClassName != "" || spec.Priority != nil {
		spec.Priority = nil
		spec.PreemptionPolicy = nil
	}
	isToken := func(name string) bool { return strings.HasPrefix(name, "kube-api-access-") }
	spec.Volumes = slices.DeleteFunc(spec.Volumes, func(v corev1.Volume) bool { return isToken(v.Name) })
	for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range cs {
			cs[i].VolumeMounts = slices.DeleteFunc(cs[i].VolumeMounts, func(m corev1.VolumeMount) bool { return isToken(m.Name) })
		}
	}
}

// namespacedSpec is a pod spec and the namespace it runs in.
type namespacedSpec struct {
	namespace string
	spec      *corev1.PodSpec
}

// podSpecs returns the pod specs of the snapshot's pods and workloads.
func podSpecs(s *snapshot.Snapshot) []namespacedSpec {
	var out []namespacedSpec
	for i := range s.Pods {
		out = append(out, namespacedSpec{s.Pods[i].Namespace, &s.Pods[i].Spec})
	}
	for i := range s.Deployments {
		out = append(out, namespacedSpec{s.Deployments[i].Namespace, &s.Deployments[i].Spec.Template.Spec})
	}
	for i := range s.ReplicaSets {
		out = append(out, namespacedSpec{s.ReplicaSets[i].Namespace, &s.ReplicaSets[i].Spec.Template.Spec})
	}
	for i := range s.StatefulSets {
		out = append(out, namespacedSpec{s.StatefulSets[i].Namespace, &s.StatefulSets[i].Spec.Template.Spec})
	}
	for i := range s.DaemonSets {
		out = append(out, namespacedSpec{s.DaemonSets[i].Namespace, &s.DaemonSets[i].Spec.Template.Spec})
	}
	for i := range s.Jobs {
		out = append(out, namespacedSpec{s.Jobs[i].Namespace, &s.Jobs[i].Spec.Template.Spec})
	}
	for i := range s.CronJobs {
		out = append(out, namespacedSpec{s.CronJobs[i].Namespace, &s.CronJobs[i].Spec.JobTemplate.Spec.Template.Spec})
	}
	return out
}

// usedNamespaces returns, sorted, the namespaces the snapshot's namespaced
// objects are in.
func usedNamespaces(s *snapshot.Snapshot) []string {
	set := map[string]bool{}
	add := func(ns string) {
		if ns != "" {
			set[ns] = true
		}
	}
	for _, ps := range podSpecs(s) {
		add(ps.namespace)
	}
	for i := range s.PodDisruptionBudgets {
		add(s.PodDisruptionBudgets[i].Namespace)
	}
	for i := range s.Services {
		add(s.Services[i].Namespace)
	}
	for i := range s.PersistentVolumeClaims {
		add(s.PersistentVolumeClaims[i].Namespace)
	}
	out := make([]string, 0, len(set))
	for ns := range set {
		out = append(out, ns)
	}
	slices.Sort(out)
	return out
}

func sortedRefs(m map[snapshot.ObjectRef]bool) []snapshot.ObjectRef {
	out := make([]snapshot.ObjectRef, 0, len(m))
	for r := range m {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b snapshot.ObjectRef) int { return strings.Compare(a.String(), b.String()) })
	return out
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}
