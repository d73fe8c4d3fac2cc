package scheduler

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// replica is one pod of a template, with the per-pod names a real cluster
// gives it: its service account token volume, the mount of it, a hostname.
func replica(name, token string, extra ...corev1.Volume) *corev1.Pod {
	vols := append([]corev1.Volume{{Name: token, VolumeSource: corev1.VolumeSource{
		Projected: &corev1.ProjectedVolumeSource{}}}}, extra...)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop"},
		Spec: corev1.PodSpec{
			Hostname: name,
			Volumes:  vols,
			Containers: []corev1.Container{{Name: "web", Image: "web:1",
				VolumeMounts: []corev1.VolumeMount{{Name: token, MountPath: "/var/run/secrets"}}}},
		},
	}
}

func TestSignatureIgnoresWhatNoNodeLocalPluginReads(t *testing.T) {
	c := newEvalCache()
	base := c.signature(replica("web-1", "kube-api-access-aaaaa"))
	claim := func(claim string) corev1.Volume {
		return corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}
	}
	csi := func(name string) corev1.Volume {
		return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: "d"}}}
	}
	tests := []struct {
		name string
		a, b *corev1.Pod
		same bool
	}{
		{"replicas with their own token volume, mount and hostname",
			replica("web-1", "kube-api-access-aaaaa"), replica("web-2", "kube-api-access-bbbbb"), true},
		{"other claims", replica("web-1", "t1", claim("data-0")), replica("web-1", "t1", claim("data-1")), false},
		{"inline CSI volumes keep their names", replica("web-1", "t1", csi("a")), replica("web-1", "t1", csi("b")), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.signature(tc.a) == c.signature(tc.b); got != tc.same {
				t.Errorf("same signature = %v, want %v", got, tc.same)
			}
		})
	}
	// The pod itself is left as it was.
	p := replica("web-1", "kube-api-access-aaaaa")
	_ = c.signature(p)
	if p.Spec.Volumes[0].Name != "kube-api-access-aaaaa" || len(p.Spec.Containers[0].VolumeMounts) != 1 || p.Spec.Hostname != "web-1" {
		t.Errorf("signature changed the pod: %+v", p.Spec)
	}
	if c.signature(replica("web-1", "kube-api-access-aaaaa")) != base {
		t.Error("the same pod has two signatures")
	}
}
