package synth

import (
	"math"
	"time"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/noderoll/noderoll/snapshot"
)

// Priority classes. The two system ones exist in every cluster; the others
// are the profile's own.
const (
	pcNodeCritical    = "system-node-critical"
	pcClusterCritical = "system-cluster-critical"
	pcPlatform        = "platform-high"
	pcTenantCritical  = "tenant-critical"
	pcBatchLow        = "batch-low"
)

var priorityValues = map[string]int32{
	pcNodeCritical:    2000001000,
	pcClusterCritical: 2000000000,
	pcPlatform:        1000000,
	pcTenantCritical:  100000,
	"":                0,
	pcBatchLow:        -10,
}

// Storage classes.
const (
	scStandard = "standard"
	scLocal    = "local-storage"
)

// nsInfo is the generator's record of a namespace.
type nsInfo struct {
	name      string
	tenant    bool
	created   time.Time
	weight    float64
	workloads []*workload
	usedNames map[string]bool
	// serviceAccounts used by the namespace's workloads, besides "default".
	serviceAccounts map[string]bool
}

// buildNamespaces creates the system namespaces and the tenant namespaces.
// Tenant sizes follow a Zipf-like law: a few large tenants, a long tail.
func (g *generator) buildNamespaces() {
	for _, name := range []string{"default", "kube-system", "kube-public", "kube-node-lease", "ingress-nginx", "monitoring", "logging"} {
		created := epoch
		if name == "ingress-nginx" || name == "monitoring" || name == "logging" {
			created = g.between(epoch.Add(time.Hour), epoch.Add(24*time.Hour))
		}
		g.addNamespace(name, false, created, 0)
	}
	for i, name := range g.tenantNames(g.p.namespaces) {
		created := g.between(epoch.Add(2*24*time.Hour), epoch.Add(30*24*time.Hour))
		g.addNamespace(name, true, created, 1/math.Pow(float64(i)+3, 0.7))
	}
}

func (g *generator) addNamespace(name string, tenant bool, created time.Time, weight float64) *nsInfo {
	ns := &nsInfo{name: name, tenant: tenant, created: created, weight: weight, usedNames: map[string]bool{}, serviceAccounts: map[string]bool{}}
	g.namespaces = append(g.namespaces, ns)
	g.nsByName[name] = ns
	if tenant {
		g.tenants = append(g.tenants, ns)
	}
	meta := g.meta("Namespace", "", name, created)
	meta.Labels = map[string]string{"kubernetes.io/metadata.name": name}
	if tenant {
		meta.Labels[labelTenant] = "true"
		meta.Labels["pod-security.kubernetes.io/enforce"] = "baseline"
	}
	g.snap.Namespaces = append(g.snap.Namespaces, corev1.Namespace{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: meta,
		Spec:       corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes}},
		Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceActive},
	})
	return ns
}

// buildPriorityClasses creates the built-in and the profile's priority
// classes.
func (g *generator) buildPriorityClasses() {
	type pc struct {
		name    string
		desc    string
		never   bool
		builtin bool
	}
	for _, c := range []pc{
		{pcNodeCritical, "Used for system critical pods that must not be moved from their current node.", false, true},
		{pcClusterCritical, "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.", false, true},
		{pcPlatform, "Platform services: ingress, monitoring, logging.", false, false},
		{pcTenantCritical, "Tenant services that must be placed before the others.", false, false},
		{pcBatchLow, "Batch work that yields to everything else and never preempts.", true, false},
	} {
		created := epoch
		if !c.builtin {
			created = epoch.Add(2 * time.Hour)
		}
		meta := g.meta("PriorityClass", "", c.name, created)
		policy := corev1.PreemptLowerPriority
		if c.never {
			policy = corev1.PreemptNever
		}
		g.snap.PriorityClasses = append(g.snap.PriorityClasses, schedulingv1.PriorityClass{
			TypeMeta:         metav1.TypeMeta{APIVersion: "scheduling.k8s.io/v1", Kind: "PriorityClass"},
			ObjectMeta:       meta,
			Value:            priorityValues[c.name],
			Description:      c.desc,
			PreemptionPolicy: &policy,
		})
	}
}

// buildStorageClasses creates the default network block storage class
// (zonal volumes from a CSI driver) and the local one (statically
// provisioned node-local disks).
func (g *generator) buildStorageClasses() {
	wffc := storagev1.VolumeBindingWaitForFirstConsumer
	del := corev1.PersistentVolumeReclaimDelete
	std := g.meta("StorageClass", "", scStandard, epoch.Add(time.Hour))
	std.Annotations = map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}
	local := g.meta("StorageClass", "", scLocal, epoch.Add(time.Hour))
	g.snap.StorageClasses = append(g.snap.StorageClasses,
		storagev1.StorageClass{
			TypeMeta:             metav1.TypeMeta{APIVersion: "storage.k8s.io/v1", Kind: "StorageClass"},
			ObjectMeta:           std,
			Provisioner:          csiDriver,
			Parameters:           map[string]string{"type": "ssd", "csi.storage.k8s.io/fstype": "ext4"},
			ReclaimPolicy:        &del,
			AllowVolumeExpansion: ptr(true),
			VolumeBindingMode:    &wffc,
		},
		storagev1.StorageClass{
			TypeMeta:          metav1.TypeMeta{APIVersion: "storage.k8s.io/v1", Kind: "StorageClass"},
			ObjectMeta:        local,
			Provisioner:       "kubernetes.io/no-provisioner",
			ReclaimPolicy:     &del,
			VolumeBindingMode: &wffc,
		})
}

// buildNamespaceCounts fills the counts of the objects whose content
// noderoll never stores. Every namespace has its kube-root-ca.crt ConfigMap
// and default ServiceAccount; workloads add their configuration, secrets,
// service accounts and RBAC.
func (g *generator) buildNamespaceCounts() {
	g.snap.NamespaceCounts = map[string]snapshot.ObjectCounts{}
	for _, ns := range g.namespaces {
		c := snapshot.ObjectCounts{ConfigMaps: 1, ConfigMapBytes: 1099, ServiceAccounts: 1 + len(ns.serviceAccounts)}
		addCM := func(n int) {
			for range n {
				c.ConfigMaps++
				c.ConfigMapBytes += 300 + g.rng.Int64N(12000)
			}
		}
		addSecret := func(n int) {
			for range n {
				c.Secrets++
				if g.rng.IntN(5) == 0 { // TLS
					c.SecretBytes += 3200 + g.rng.Int64N(1500)
				} else {
					c.SecretBytes += 80 + g.rng.Int64N(2000)
				}
			}
		}
		switch {
		case ns.name == "kube-system":
			addCM(10)
			addSecret(8)
			c.ServiceAccounts += 45
			c.Roles, c.RoleBindings = 14, 18
		case ns.name == "kube-public":
			addCM(1) // cluster-info
			c.Roles, c.RoleBindings = 2, 2
		case ns.name == "kube-node-lease", ns.name == "default":
		default:
			w := len(ns.workloads)
			addCM(w/2 + g.rng.IntN(w+2))
			addSecret(w/2 + g.rng.IntN(w+2))
			c.Roles = 1 + g.rng.IntN(4)
			c.RoleBindings = c.Roles + 1 + g.rng.IntN(5)
		}
		g.snap.NamespaceCounts[ns.name] = c
	}
}
