package snapshot

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// storedKind describes one kind of object the Snapshot keeps in full: its
// API version, its field in the native document, and how to reach the slice
// that holds it.
type storedKind struct {
	gvk        schema.GroupVersionKind
	field      string // JSON field of the Snapshot
	namespaced bool
	newObject  func() runtime.Object
	add        func(s *Snapshot, obj runtime.Object)
	len        func(s *Snapshot) int
	// each calls f with the metadata of every object of the kind, in order.
	each func(s *Snapshot, f func(i int, obj metav1.Object))
	// move sets dst's slice of the kind to src's.
	move func(dst, src *Snapshot)
}

// kind builds a storedKind for objects of type T held in the slice list
// returns.
func kind[T any, P interface {
	*T
	runtime.Object
	metav1.Object
}](gv schema.GroupVersion, name, field string, namespaced bool, list func(*Snapshot) *[]T) storedKind {
	return storedKind{
		gvk:        gv.WithKind(name),
		field:      field,
		namespaced: namespaced,
		newObject:  func() runtime.Object { return P(new(T)) },
		add: func(s *Snapshot, obj runtime.Object) {
			l := list(s)
			*l = append(*l, *obj.(P))
		},
		len: func(s *Snapshot) int { return len(*list(s)) },
		each: func(s *Snapshot, f func(int, metav1.Object)) {
			l := *list(s)
			for i := range l {
				f(i, P(&l[i]))
			}
		},
		move: func(dst, src *Snapshot) { *list(dst) = *list(src) },
	}
}

// storedKinds lists the kinds a Snapshot keeps, in the order of its fields.
// Adding a slice to Snapshot means adding a line here.
var storedKinds = []storedKind{
	kind(corev1.SchemeGroupVersion, "Node", "nodes", false, func(s *Snapshot) *[]corev1.Node { return &s.Nodes }),
	kind(corev1.SchemeGroupVersion, "Pod", "pods", true, func(s *Snapshot) *[]corev1.Pod { return &s.Pods }),
	kind(policyv1.SchemeGroupVersion, "PodDisruptionBudget", "podDisruptionBudgets", true, func(s *Snapshot) *[]policyv1.PodDisruptionBudget { return &s.PodDisruptionBudgets }),
	kind(appsv1.SchemeGroupVersion, "Deployment", "deployments", true, func(s *Snapshot) *[]appsv1.Deployment { return &s.Deployments }),
	kind(appsv1.SchemeGroupVersion, "ReplicaSet", "replicaSets", true, func(s *Snapshot) *[]appsv1.ReplicaSet { return &s.ReplicaSets }),
	kind(appsv1.SchemeGroupVersion, "StatefulSet", "statefulSets", true, func(s *Snapshot) *[]appsv1.StatefulSet { return &s.StatefulSets }),
	kind(appsv1.SchemeGroupVersion, "DaemonSet", "daemonSets", true, func(s *Snapshot) *[]appsv1.DaemonSet { return &s.DaemonSets }),
	kind(batchv1.SchemeGroupVersion, "Job", "jobs", true, func(s *Snapshot) *[]batchv1.Job { return &s.Jobs }),
	kind(batchv1.SchemeGroupVersion, "CronJob", "cronJobs", true, func(s *Snapshot) *[]batchv1.CronJob { return &s.CronJobs }),
	kind(corev1.SchemeGroupVersion, "Service", "services", true, func(s *Snapshot) *[]corev1.Service { return &s.Services }),
	kind(corev1.SchemeGroupVersion, "PersistentVolumeClaim", "persistentVolumeClaims", true, func(s *Snapshot) *[]corev1.PersistentVolumeClaim { return &s.PersistentVolumeClaims }),
	kind(corev1.SchemeGroupVersion, "PersistentVolume", "persistentVolumes", false, func(s *Snapshot) *[]corev1.PersistentVolume { return &s.PersistentVolumes }),
	kind(storagev1.SchemeGroupVersion, "StorageClass", "storageClasses", false, func(s *Snapshot) *[]storagev1.StorageClass { return &s.StorageClasses }),
	kind(corev1.SchemeGroupVersion, "Namespace", "namespaces", false, func(s *Snapshot) *[]corev1.Namespace { return &s.Namespaces }),
	kind(schedulingv1.SchemeGroupVersion, "PriorityClass", "priorityClasses", false, func(s *Snapshot) *[]schedulingv1.PriorityClass { return &s.PriorityClasses }),
}

// countedKind describes a kind whose objects a Snapshot only counts, per
// namespace, in NamespaceCounts.
type countedKind struct {
	gvk       schema.GroupVersionKind
	newObject func() runtime.Object
	// count adds obj to c; it must never keep a reference to obj's data.
	count func(c *ObjectCounts, obj runtime.Object)
}

// countedKinds lists the kinds that end up in NamespaceCounts.
var countedKinds = []countedKind{
	{
		gvk:       corev1.SchemeGroupVersion.WithKind("ConfigMap"),
		newObject: func() runtime.Object { return &corev1.ConfigMap{} },
		count: func(c *ObjectCounts, obj runtime.Object) {
			cm := obj.(*corev1.ConfigMap)
			c.ConfigMaps++
			for _, v := range cm.Data {
				c.ConfigMapBytes += int64(len(v))
			}
			for _, v := range cm.BinaryData {
				c.ConfigMapBytes += int64(len(v))
			}
		},
	},
	{
		gvk:       corev1.SchemeGroupVersion.WithKind("Secret"),
		newObject: func() runtime.Object { return &corev1.Secret{} },
		count: func(c *ObjectCounts, obj runtime.Object) {
			sec := obj.(*corev1.Secret)
			c.Secrets++
			for _, v := range sec.Data {
				c.SecretBytes += int64(len(v))
			}
			for _, v := range sec.StringData {
				c.SecretBytes += int64(len(v))
			}
		},
	},
	{
		gvk:       corev1.SchemeGroupVersion.WithKind("ServiceAccount"),
		newObject: func() runtime.Object { return &corev1.ServiceAccount{} },
		count:     func(c *ObjectCounts, _ runtime.Object) { c.ServiceAccounts++ },
	},
	{
		gvk:       rbacv1.SchemeGroupVersion.WithKind("Role"),
		newObject: func() runtime.Object { return &rbacv1.Role{} },
		count:     func(c *ObjectCounts, _ runtime.Object) { c.Roles++ },
	},
	{
		gvk:       rbacv1.SchemeGroupVersion.WithKind("RoleBinding"),
		newObject: func() runtime.Object { return &rbacv1.RoleBinding{} },
		count:     func(c *ObjectCounts, _ runtime.Object) { c.RoleBindings++ },
	},
}

// storedKindFor returns the stored kind with the given group and kind.
func storedKindFor(gk schema.GroupKind) (*storedKind, bool) {
	for i := range storedKinds {
		if storedKinds[i].gvk.GroupKind() == gk {
			return &storedKinds[i], true
		}
	}
	return nil, false
}

// countedKindFor returns the counted kind with the given group and kind.
func countedKindFor(gk schema.GroupKind) (*countedKind, bool) {
	for i := range countedKinds {
		if countedKinds[i].gvk.GroupKind() == gk {
			return &countedKinds[i], true
		}
	}
	return nil, false
}
