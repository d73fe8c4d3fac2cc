// Package testutil holds object builders for tests: short, readable
// constructions of Nodes and Pods such as
// testutil.Pod("web-0").Req("cpu", "1").On("n1").Obj().
package testutil

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// NodeBuilder builds a Ready node.
type NodeBuilder struct{ n *corev1.Node }

// Node starts a Ready node with 4 CPUs, 16Gi of memory and 110 pods, labelled
// with its hostname.
func Node(name string) *NodeBuilder {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-node-" + name),
			Labels: map[string]string{corev1.LabelHostname: name}},
		Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
		},
	}
	b := &NodeBuilder{n: n}
	return b.Cap("cpu", "4").Cap("memory", "16Gi").Cap("pods", "110")
}

// Cap sets a capacity and allocatable quantity.
func (b *NodeBuilder) Cap(res, qty string) *NodeBuilder {
	if b.n.Status.Capacity == nil {
		b.n.Status.Capacity = corev1.ResourceList{}
		b.n.Status.Allocatable = corev1.ResourceList{}
	}
	q := resource.MustParse(qty)
	b.n.Status.Capacity[corev1.ResourceName(res)] = q
	b.n.Status.Allocatable[corev1.ResourceName(res)] = q
	return b
}

// Label sets a label.
func (b *NodeBuilder) Label(k, v string) *NodeBuilder { b.n.Labels[k] = v; return b }

// Zone sets the topology.kubernetes.io/zone label.
func (b *NodeBuilder) Zone(z string) *NodeBuilder { return b.Label(corev1.LabelTopologyZone, z) }

// Taint adds a taint.
func (b *NodeBuilder) Taint(key, value string, effect corev1.TaintEffect) *NodeBuilder {
	b.n.Spec.Taints = append(b.n.Spec.Taints, corev1.Taint{Key: key, Value: value, Effect: effect})
	return b
}

// Cordon marks the node unschedulable and adds the taint kubectl cordon's
// node controller adds.
func (b *NodeBuilder) Cordon() *NodeBuilder {
	b.n.Spec.Unschedulable = true
	return b.Taint(corev1.TaintNodeUnschedulable, "", corev1.TaintEffectNoSchedule)
}

// Obj returns the node.
func (b *NodeBuilder) Obj() *corev1.Node { return b.n }

// PodBuilder builds a pod with one container.
type PodBuilder struct{ p *corev1.Pod }

// Pod starts a pod in namespace "default" with one container and no requests.
func Pod(name string) *PodBuilder {
	return &PodBuilder{p: &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-pod-" + name),
			Labels: map[string]string{}},
		Spec: corev1.PodSpec{
			SchedulerName: corev1.DefaultSchedulerName,
			Containers:    []corev1.Container{{Name: "c", Image: "registry.example/app:1"}},
		},
	}}
}

// NS sets the namespace.
func (b *PodBuilder) NS(ns string) *PodBuilder { b.p.Namespace = ns; return b }

// Req adds a request to the container.
func (b *PodBuilder) Req(res, qty string) *PodBuilder {
	c := &b.p.Spec.Containers[0]
	if c.Resources.Requests == nil {
		c.Resources.Requests = corev1.ResourceList{}
	}
	c.Resources.Requests[corev1.ResourceName(res)] = resource.MustParse(qty)
	return b
}

// Label sets a label.
func (b *PodBuilder) Label(k, v string) *PodBuilder { b.p.Labels[k] = v; return b }

// On binds the pod to a node.
func (b *PodBuilder) On(node string) *PodBuilder { b.p.Spec.NodeName = node; return b }

// Priority sets the pod's priority.
func (b *PodBuilder) Priority(p int32) *PodBuilder { b.p.Spec.Priority = &p; return b }

// NodeSelector adds a node selector term.
func (b *PodBuilder) NodeSelector(k, v string) *PodBuilder {
	if b.p.Spec.NodeSelector == nil {
		b.p.Spec.NodeSelector = map[string]string{}
	}
	b.p.Spec.NodeSelector[k] = v
	return b
}

// Toleration adds a toleration for key=value:effect.
func (b *PodBuilder) Toleration(key, value string, effect corev1.TaintEffect) *PodBuilder {
	b.p.Spec.Tolerations = append(b.p.Spec.Tolerations, corev1.Toleration{
		Key: key, Operator: corev1.TolerationOpEqual, Value: value, Effect: effect})
	return b
}

// RequiredNodeAffinity requires a node label to take one of values.
func (b *PodBuilder) RequiredNodeAffinity(key string, values ...string) *PodBuilder {
	b.affinity().NodeAffinity = &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{
				{Key: key, Operator: corev1.NodeSelectorOpIn, Values: values}}}},
		},
	}
	return b
}

// AntiAffinity requires no pod with label k=v in the same topology domain.
func (b *PodBuilder) AntiAffinity(k, v, topologyKey string) *PodBuilder {
	b.affinity().PodAntiAffinity = &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: requiredTerm(k, v, topologyKey)}
	return b
}

// Affinity requires a pod with label k=v in the same topology domain.
func (b *PodBuilder) Affinity(k, v, topologyKey string) *PodBuilder {
	b.affinity().PodAffinity = &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: requiredTerm(k, v, topologyKey)}
	return b
}

// requiredTerm is one pod (anti-)affinity term for pods labelled k=v.
func requiredTerm(k, v, topologyKey string) []corev1.PodAffinityTerm {
	return []corev1.PodAffinityTerm{{
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{k: v}},
		TopologyKey:   topologyKey,
	}}
}

// PreferredAntiAffinity prefers no pod with label k=v in the same domain.
func (b *PodBuilder) PreferredAntiAffinity(k, v, topologyKey string, weight int32) *PodBuilder {
	b.affinity().PodAntiAffinity = &corev1.PodAntiAffinity{
		PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
			Weight: weight,
			PodAffinityTerm: corev1.PodAffinityTerm{
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{k: v}},
				TopologyKey:   topologyKey,
			},
		}},
	}
	return b
}

// Spread adds a topology spread constraint over pods with label k=v.
func (b *PodBuilder) Spread(topologyKey string, maxSkew int32, when corev1.UnsatisfiableConstraintAction, k, v string) *PodBuilder {
	b.p.Spec.TopologySpreadConstraints = append(b.p.Spec.TopologySpreadConstraints, corev1.TopologySpreadConstraint{
		MaxSkew: maxSkew, TopologyKey: topologyKey, WhenUnsatisfiable: when,
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{k: v}},
	})
	return b
}

// PVC mounts a persistent volume claim.
func (b *PodBuilder) PVC(claim string) *PodBuilder {
	b.p.Spec.Volumes = append(b.p.Spec.Volumes, corev1.Volume{Name: fmt.Sprintf("v%d", len(b.p.Spec.Volumes)),
		VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}})
	return b
}

// HostPort exposes a host port.
func (b *PodBuilder) HostPort(port int32) *PodBuilder {
	b.p.Spec.Containers[0].Ports = append(b.p.Spec.Containers[0].Ports,
		corev1.ContainerPort{ContainerPort: port, HostPort: port, Protocol: corev1.ProtocolTCP})
	return b
}

// Obj returns the pod.
func (b *PodBuilder) Obj() *corev1.Pod { return b.p }

func (b *PodBuilder) affinity() *corev1.Affinity {
	if b.p.Spec.Affinity == nil {
		b.p.Spec.Affinity = &corev1.Affinity{}
	}
	return b.p.Spec.Affinity
}

// PreferredAffinityIn prefers nodes in the same domain as pods labelled k=v
// in namespace ns.
func (b *PodBuilder) PreferredAffinityIn(ns, k, v, topologyKey string, weight int32) *PodBuilder {
	b.affinity().PodAffinity = &corev1.PodAffinity{
		PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
			Weight: weight,
			PodAffinityTerm: corev1.PodAffinityTerm{
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{k: v}},
				Namespaces:    []string{ns},
				TopologyKey:   topologyKey,
			},
		}},
	}
	return b
}

// PreferredAntiAffinityAllNamespaces prefers no pod labelled k=v, in any
// namespace, in the same domain.
func (b *PodBuilder) PreferredAntiAffinityAllNamespaces(k, v, topologyKey string, weight int32) *PodBuilder {
	b.affinity().PodAntiAffinity = &corev1.PodAntiAffinity{
		PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
			Weight: weight,
			PodAffinityTerm: corev1.PodAffinityTerm{
				LabelSelector:     &metav1.LabelSelector{MatchLabels: map[string]string{k: v}},
				NamespaceSelector: &metav1.LabelSelector{},
				TopologyKey:       topologyKey,
			},
		}},
	}
	return b
}

// OwnedBy sets the pod's controller reference.
func (b *PodBuilder) OwnedBy(kind, name string) *PodBuilder {
	apiVersion := "apps/v1"
	if kind == "Job" {
		apiVersion = "batch/v1"
	}
	b.p.OwnerReferences = []metav1.OwnerReference{{APIVersion: apiVersion, Kind: kind, Name: name,
		UID: types.UID("uid-" + kind + "-" + name), Controller: ptrTrue()}}
	return b
}

// Running marks the pod Running and Ready.
func (b *PodBuilder) Running() *PodBuilder {
	b.p.Status.Phase = corev1.PodRunning
	b.p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	return b
}

// EmptyDir mounts an emptyDir volume.
func (b *PodBuilder) EmptyDir() *PodBuilder {
	b.p.Spec.Volumes = append(b.p.Spec.Volumes, corev1.Volume{Name: fmt.Sprintf("v%d", len(b.p.Spec.Volumes)),
		VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	return b
}

// Grace sets terminationGracePeriodSeconds.
func (b *PodBuilder) Grace(seconds int64) *PodBuilder {
	b.p.Spec.TerminationGracePeriodSeconds = &seconds
	return b
}

func ptrTrue() *bool { t := true; return &t }
