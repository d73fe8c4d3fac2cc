package plan

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The two clusters of a migration live side by side while it runs. A node of
// the new cluster carries ClusterLabel=ClusterNew and the NoSchedule taint
// NewClusterTaint; only the workloads copied to the new cluster tolerate it
// and select it, so the old cluster's pods never land there and the copies
// never land on the old cluster.
const (
	ClusterLabel = "noderoll.dev/cluster"
	ClusterNew   = "new"
)

// NewClusterTaint keeps the old cluster's pods off the new cluster's nodes.
var NewClusterTaint = corev1.Taint{Key: ClusterLabel, Value: ClusterNew, Effect: corev1.TaintEffectNoSchedule}

// NewClusterToleration tolerates NewClusterTaint.
var NewClusterToleration = corev1.Toleration{Key: ClusterLabel, Operator: corev1.TolerationOpEqual, Value: ClusterNew, Effect: corev1.TaintEffectNoSchedule}

// Wave groupings: how pods are grouped into tenants.
const (
	// WaveByNamespace: a tenant is a namespace.
	WaveByNamespace = "namespace"
	// WaveByLabel: a tenant is the value of a pod label (MigrationSpec.WaveLabel);
	// pods without it form one tenant per namespace.
	WaveByLabel = "label"
)

// Data migration modes for workloads with PersistentVolumeClaims.
const (
	// DataCopy copies the volumes' data at MigrationSpec.DataBandwidthBytesPerSecond
	// per tenant before the cut-over.
	DataCopy = "copy"
	// DataDualWrite writes to both clusters; the switch-over takes a fixed
	// time (the simulator's timing.dataSwitchSeconds).
	DataDualWrite = "dual-write"
)

// RiskServiceSplit: a Service's namespace is half-moved, so calls between its
// Services cross the two clusters for a while.
const RiskServiceSplit = "ServiceSplit"

// MigrationSpec is the migration strategy's plan: seed a new cluster, move
// the tenants to it wave by wave, recycle the freed old nodes into it.
type MigrationSpec struct {
	// SeedNodes are old nodes drained, reinstalled and joined to form the
	// new cluster.
	SeedNodes []string `json:"seedNodes,omitempty"`
	// NewMachines is how many new machines, of the old cluster's most
	// common shape, form the new cluster instead (or besides).
	NewMachines int `json:"newMachines,omitempty"`
	// WaveBy is WaveByNamespace or WaveByLabel.
	WaveBy string `json:"waveBy"`
	// WaveLabel is the pod label naming the tenant with WaveByLabel.
	WaveLabel string `json:"waveLabel,omitempty"`
	// Tenants are the tenant names in the order they move. A wave takes the
	// next tenants in this order for as long as they fit in the new
	// cluster's free capacity.
	Tenants []string `json:"tenants"`
	// DataMode is DataCopy or DataDualWrite.
	DataMode string `json:"dataMode"`
	// DataBandwidthBytesPerSecond is the copy rate per tenant (DataCopy).
	DataBandwidthBytesPerSecond int64 `json:"dataBandwidthBytesPerSecond,omitempty"`
	// RecycleStep is how many of the emptiest old nodes are recycled at once
	// when the next tenant does not fit and no old node is empty.
	RecycleStep int `json:"recycleStep,omitempty"`
}

// TenantOf names the tenant pod belongs to, or "" for the pods that are not
// moved as a tenant: DaemonSet pods (every DaemonSet exists in both
// clusters) and mirror pods (they belong to their node).
func TenantOf(pod *corev1.Pod, waveBy, label string) string {
	if IsMirrorPod(pod) {
		return ""
	}
	if ref := metav1.GetControllerOf(pod); ref != nil && ref.Kind == "DaemonSet" {
		return ""
	}
	if waveBy == WaveByLabel {
		if v, ok := pod.Labels[label]; ok && v != "" {
			return v
		}
	}
	return pod.Namespace
}
