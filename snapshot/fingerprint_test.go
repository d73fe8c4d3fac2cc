package snapshot

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestFingerprint_doesNotDependOnTheOrderOfObjects(t *testing.T) {
	s := mustLoad(t, clusterListYAML)
	want := s.Fingerprint()
	for _, tc := range []struct {
		name    string
		reorder func(s *Snapshot)
	}{
		{"nodes reversed", func(s *Snapshot) { slices.Reverse(s.Nodes) }},
		{"pods reversed", func(s *Snapshot) { slices.Reverse(s.Pods) }},
		{"pods rotated", func(s *Snapshot) { s.Pods = append(s.Pods[3:], s.Pods[:3]...) }},
		{"PDBs reversed", func(s *Snapshot) { slices.Reverse(s.PodDisruptionBudgets) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustLoad(t, clusterListYAML)
			tc.reorder(s)
			if got := s.Fingerprint(); got != want {
				t.Errorf("fingerprint %s, want %s", got, want)
			}
		})
	}
}

func TestFingerprint_changesWithSchedulingStateOnly(t *testing.T) {
	base := mustLoad(t, clusterListYAML)
	want := base.Fingerprint()
	pod := func(s *Snapshot, name string) *corev1.Pod {
		for i := range s.Pods {
			if s.Pods[i].Name == name {
				return &s.Pods[i]
			}
		}
		t.Fatalf("no pod %s", name)
		return nil
	}
	for _, tc := range []struct {
		name    string
		mutate  func(s *Snapshot)
		changes bool
	}{
		{"a pod's cpu request changes", func(s *Snapshot) {
			pod(s, "db-0").Spec.Containers[0].Resources.Requests[corev1.ResourceCPU] = resource.MustParse("1001m")
		}, true},
		{"a pod's memory request changes", func(s *Snapshot) {
			pod(s, "db-0").Spec.Containers[0].Resources.Requests[corev1.ResourceMemory] = resource.MustParse("3Gi")
		}, true},
		{"an init container's request changes", func(s *Snapshot) {
			pod(s, "debug").Spec.InitContainers[0].Resources.Requests[corev1.ResourceCPU] = resource.MustParse("1")
		}, true},
		{"a pod moves to another node", func(s *Snapshot) { pod(s, "db-0").Spec.NodeName = "n1" }, true},
		{"a pod gains a toleration", func(s *Snapshot) {
			p := pod(s, "debug")
			p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Operator: corev1.TolerationOpExists})
		}, true},
		{"a pod gains a node selector", func(s *Snapshot) {
			pod(s, "debug").Spec.NodeSelector = map[string]string{"disk": "ssd"}
		}, true},
		{"a pod gains an anti-affinity", func(s *Snapshot) {
			pod(s, "debug").Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{TopologyKey: "kubernetes.io/hostname"}},
			}}
		}, true},
		{"a spread constraint's skew changes", func(s *Snapshot) {
			pod(s, "web-5d8f7-aaaaa").Spec.TopologySpreadConstraints[0].MaxSkew = 2
		}, true},
		{"a pod's priority changes", func(s *Snapshot) { p := int32(7); pod(s, "debug").Spec.Priority = &p }, true},
		{"a pod's labels change", func(s *Snapshot) { pod(s, "debug").Labels = map[string]string{"app": "web"} }, true},
		{"a node's allocatable cpu changes", func(s *Snapshot) {
			s.Nodes[0].Status.Allocatable[corev1.ResourceCPU] = resource.MustParse("3")
		}, true},
		{"a node's label changes", func(s *Snapshot) { s.Nodes[0].Labels["topology.kubernetes.io/zone"] = "zone-c" }, true},
		{"a node is cordoned", func(s *Snapshot) { s.Nodes[0].Spec.Unschedulable = true }, true},
		{"a node is tainted", func(s *Snapshot) {
			s.Nodes[0].Spec.Taints = []corev1.Taint{{Key: "k", Effect: corev1.TaintEffectNoExecute}}
		}, true},
		{"a PDB's minAvailable changes", func(s *Snapshot) {
			v := intstr.FromString("50%")
			s.PodDisruptionBudgets[0].Spec.MinAvailable = &v
		}, true},
		{"a PDB's selector changes", func(s *Snapshot) {
			s.PodDisruptionBudgets[1].Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "other"}}
		}, true},
		{"a pod is removed", func(s *Snapshot) { s.Pods = s.Pods[1:] }, true},
		{"a quantity is written differently", func(s *Snapshot) {
			pod(s, "db-0").Spec.Containers[0].Resources.Requests[corev1.ResourceCPU] = resource.MustParse("1")
			pod(s, "db-0").Spec.Containers[0].Resources.Requests[corev1.ResourceMemory] = resource.MustParse("2147483648")
			s.Nodes[0].Status.Allocatable[corev1.ResourceCPU] = resource.MustParse("3.8")
		}, false},
		{"an annotation changes", func(s *Snapshot) { pod(s, "debug").Annotations = map[string]string{"a": "b"} }, false},
		{"a pod's status changes", func(s *Snapshot) { pod(s, "debug").Status.Phase = corev1.PodFailed }, false},
		{"a service is removed", func(s *Snapshot) { s.Services = nil }, false},
		{"an empty affinity is added", func(s *Snapshot) { pod(s, "debug").Spec.Affinity = &corev1.Affinity{} }, false},
		{"the source changes", func(s *Snapshot) { s.Source = "elsewhere" }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustLoad(t, clusterListYAML)
			tc.mutate(s)
			got := s.Fingerprint()
			if changed := got != want; changed != tc.changes {
				t.Errorf("fingerprint changed: %v, want %v", changed, tc.changes)
			}
		})
	}
}

func TestFingerprint_isHexSHA256(t *testing.T) {
	fp := (&Snapshot{}).Fingerprint()
	if len(fp) != 64 || strings64(fp) {
		t.Errorf("fingerprint %q is not 64 lower-case hex digits", fp)
	}
}

// strings64 reports whether s has a character that is not lower-case hex.
func strings64(s string) bool {
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return true
		}
	}
	return false
}

func TestCanonicalQuantity_equalAmountsLookTheSame(t *testing.T) {
	for _, tc := range []struct{ a, b string }{
		{"1000m", "1"},
		{"1e3", "1000"},
		{"0.001k", "1"},
		{"0.5", "500m"},
		{"1Gi", "1073741824"},
		{"1k", "1000"},
		{"0", "0m"},
	} {
		if a, b := canonicalQuantity(resource.MustParse(tc.a)), canonicalQuantity(resource.MustParse(tc.b)); a != b {
			t.Errorf("%s -> %s, %s -> %s: want the same", tc.a, a, tc.b, b)
		}
	}
}
