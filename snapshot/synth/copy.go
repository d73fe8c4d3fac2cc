package synth

import (
	"cmp"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/noderoll/noderoll/snapshot"
)

// deepCopy copies a snapshot so that the scheduler and the generator never
// share objects.
func deepCopy(in *snapshot.Snapshot) *snapshot.Snapshot {
	out := *in
	out.Nodes = copyEach(in.Nodes, (*corev1.Node).DeepCopy)
	out.Pods = copyEach(in.Pods, (*corev1.Pod).DeepCopy)
	out.PodDisruptionBudgets = copyEach(in.PodDisruptionBudgets, (*policyv1.PodDisruptionBudget).DeepCopy)
	out.Deployments = copyEach(in.Deployments, (*appsv1.Deployment).DeepCopy)
	out.ReplicaSets = copyEach(in.ReplicaSets, (*appsv1.ReplicaSet).DeepCopy)
	out.StatefulSets = copyEach(in.StatefulSets, (*appsv1.StatefulSet).DeepCopy)
	out.DaemonSets = copyEach(in.DaemonSets, (*appsv1.DaemonSet).DeepCopy)
	out.Jobs = copyEach(in.Jobs, (*batchv1.Job).DeepCopy)
	out.CronJobs = copyEach(in.CronJobs, (*batchv1.CronJob).DeepCopy)
	out.Services = copyEach(in.Services, (*corev1.Service).DeepCopy)
	out.PersistentVolumeClaims = copyEach(in.PersistentVolumeClaims, (*corev1.PersistentVolumeClaim).DeepCopy)
	out.PersistentVolumes = copyEach(in.PersistentVolumes, (*corev1.PersistentVolume).DeepCopy)
	out.StorageClasses = copyEach(in.StorageClasses, (*storagev1.StorageClass).DeepCopy)
	out.Namespaces = copyEach(in.Namespaces, (*corev1.Namespace).DeepCopy)
	out.PriorityClasses = copyEach(in.PriorityClasses, (*schedulingv1.PriorityClass).DeepCopy)
	return &out
}

func copyEach[T any](in []T, deepCopy func(*T) *T) []T {
	if in == nil {
		return nil
	}
	out := make([]T, len(in))
	for i := range in {
		out[i] = *deepCopy(&in[i])
	}
	return out
}

// sortSnapshot orders every list by namespace and name, as a List from the
// API server is ordered.
func sortSnapshot(s *snapshot.Snapshot) {
	sortBy(s.Nodes, func(o *corev1.Node) *metav1.ObjectMeta { return &o.ObjectMeta })
	sortBy(s.Pods, func(o *corev1.Pod) *metav1.ObjectMeta { return &o.ObjectMeta })
	sortBy(s.PodDisruptionBudgets, func(o *policyv1.PodDisruptionBudget) *metav1.ObjectMeta { return &o.ObjectMeta })
	sortBy(s.Deployments, func(o *appsv1.Deployment) *metav1.ObjectMeta { return &o.ObjectMeta })
	sortBy(s.ReplicaSets, func(o *appsv1.ReplicaSet) *metav1.ObjectMeta { return &o.ObjectMeta })
	sortBy(s.StatefulSets, func(o *appsv1.StatefulSet) *metav1.ObjectMeta { return &o.ObjectMeta })
	sortBy(s.DaemonSets, func(o *appsv1.DaemonSet) *metav1.ObjectMeta { return &o.ObjectMeta })
	sortBy(s.Jobs, func(o *batchv1.Job) *metav1.ObjectMeta { return &o.ObjectMeta })
	sortBy(s.CronJobs, func(o *batchv1.CronJob) *metav1.ObjectMeta { return &o.ObjectMeta })
	sortBy(s.Services, func(o *corev1.Service) *metav1.ObjectMeta { return &o.ObjectMeta })
	sortBy(s.PersistentVolumeClaims, func(o *corev1.PersistentVolumeClaim) *metav1.ObjectMeta { return &o.ObjectMeta })
	sortBy(s.PersistentVolumes, func(o *corev1.PersistentVolume) *metav1.ObjectMeta { return &o.ObjectMeta })
	sortBy(s.StorageClasses, func(o *storagev1.StorageClass) *metav1.ObjectMeta { return &o.ObjectMeta })
	sortBy(s.Namespaces, func(o *corev1.Namespace) *metav1.ObjectMeta { return &o.ObjectMeta })
	sortBy(s.PriorityClasses, func(o *schedulingv1.PriorityClass) *metav1.ObjectMeta { return &o.ObjectMeta })
}

func sortBy[T any](items []T, meta func(*T) *metav1.ObjectMeta) {
	slices.SortStableFunc(items, func(a, b T) int {
		ma, mb := meta(&a), meta(&b)
		return cmp.Or(cmp.Compare(ma.Namespace, mb.Namespace), cmp.Compare(ma.Name, mb.Name))
	})
}
