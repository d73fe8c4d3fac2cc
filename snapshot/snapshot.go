package snapshot

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// APIVersion and Kind identify the native snapshot document.
const (
	APIVersion = "noderoll.dev/v1alpha1"
	Kind       = "ClusterSnapshot"
)

// Snapshot is a point-in-time copy of the parts of a cluster that matter for
// planning node replacement: typed Kubernetes objects, plus per-namespace
// counts of objects whose content noderoll never stores (ConfigMaps, Secrets,
// ServiceAccounts, Roles, RoleBindings).
//
// Slices hold values, not pointers, so a Snapshot serialises as plain JSON and
// a deep copy is a matter of copying the slices' elements.
type Snapshot struct {
	metav1.TypeMeta `json:",inline"`

	// TakenAt is when the snapshot was captured or generated.
	TakenAt metav1.Time `json:"takenAt"`
	// Source says where the snapshot came from: "capture", "generate:seed",
	// or the file it was loaded from.
	Source string `json:"source,omitempty"`
	// ServerVersion is the API server's version at capture time, if known.
	ServerVersion string `json:"serverVersion,omitempty"`

	Nodes                  []corev1.Node                  `json:"nodes,omitempty"`
	Pods                   []corev1.Pod                   `json:"pods,omitempty"`
	PodDisruptionBudgets   []policyv1.PodDisruptionBudget `json:"podDisruptionBudgets,omitempty"`
	Deployments            []appsv1.Deployment            `json:"deployments,omitempty"`
	ReplicaSets            []appsv1.ReplicaSet            `json:"replicaSets,omitempty"`
	StatefulSets           []appsv1.StatefulSet           `json:"statefulSets,omitempty"`
	DaemonSets             []appsv1.DaemonSet             `json:"daemonSets,omitempty"`
	Jobs                   []batchv1.Job                  `json:"jobs,omitempty"`
	CronJobs               []batchv1.CronJob              `json:"cronJobs,omitempty"`
	Services               []corev1.Service               `json:"services,omitempty"`
	PersistentVolumeClaims []corev1.PersistentVolumeClaim `json:"persistentVolumeClaims,omitempty"`
	PersistentVolumes      []corev1.PersistentVolume      `json:"persistentVolumes,omitempty"`
	StorageClasses         []storagev1.StorageClass       `json:"storageClasses,omitempty"`
	Namespaces             []corev1.Namespace             `json:"namespaces,omitempty"`
	PriorityClasses        []schedulingv1.PriorityClass   `json:"priorityClasses,omitempty"`

	// NamespaceCounts holds, per namespace, how many objects of the kinds
	// whose content is never stored exist there.
	NamespaceCounts map[string]ObjectCounts `json:"namespaceCounts,omitempty"`

	// Uncounted names the kinds of NamespaceCounts that were not counted
	// ("ConfigMap", "Secret"): a capture counts ConfigMaps and Secrets only
	// when asked to and allowed to list them. Their counts are then zero
	// for want of knowing, not because there are none.
	Uncounted []string `json:"uncounted,omitempty"`

	// Skipped counts, by kind, the objects of kinds noderoll does not use
	// that were found in the input. It is informational only.
	Skipped map[string]int `json:"skipped,omitempty"`

	// Warnings are the non-fatal issues Load found in the input (owner
	// references to missing objects, objects of unsupported API versions
	// that were skipped). They are not saved.
	Warnings []Issue `json:"-"`
}

// ObjectCounts counts objects noderoll tracks by number only, never by
// content.
type ObjectCounts struct {
	ConfigMaps      int   `json:"configMaps,omitempty"`
	ConfigMapBytes  int64 `json:"configMapBytes,omitempty"`
	Secrets         int   `json:"secrets,omitempty"`
	SecretBytes     int64 `json:"secretBytes,omitempty"`
	ServiceAccounts int   `json:"serviceAccounts,omitempty"`
	Roles           int   `json:"roles,omitempty"`
	RoleBindings    int   `json:"roleBindings,omitempty"`
}
