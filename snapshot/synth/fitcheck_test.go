package synth

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/noderoll/noderoll/scheduler"
	"github.com/noderoll/noderoll/snapshot"
)

// The fit check above is only worth something if it rejects pods that sit
// where the scheduler would never have put them. Each case moves one pod of
// the small profile and expects the named plugin to object.
func TestFitCheckRejectsAPodMovedWhereItCannotRun(t *testing.T) {
	s := generated(t, smallFixture.cfg)
	nodes := map[string]*corev1.Node{}
	for i := range s.Nodes {
		nodes[s.Nodes[i].Name] = &s.Nodes[i]
	}
	// find returns the first pod ok accepts and another node target accepts.
	find := func(ok func(*corev1.Pod) bool, target func(pod *corev1.Pod, n *corev1.Node) bool) (int, string) {
		for i := range s.Pods {
			p := &s.Pods[i]
			if !ok(p) {
				continue
			}
			for _, n := range s.Nodes {
				if n.Name != p.Spec.NodeName && target(p, &n) {
					return i, n.Name
				}
			}
		}
		t.Fatal("no pod and node for this case")
		return 0, ""
	}
	anyNode := func(*corev1.Pod, *corev1.Node) bool { return true }
	hasLocalVolume := func(p *corev1.Pod) bool {
		return p.Spec.NodeSelector[labelLocalSSD] == "true" && slicesHasClaim(p)
	}
	tests := []struct {
		name   string
		pod    func(*corev1.Pod) bool
		target func(*corev1.Pod, *corev1.Node) bool
		plugin string
	}{
		{"a DaemonSet pod on another node", func(p *corev1.Pod) bool {
			return controllerOf(&p.ObjectMeta) != nil && controllerOf(&p.ObjectMeta).Kind == "DaemonSet"
		}, anyNode, "NodeAffinity"},
		{"a local-volume pod on another local-disk node", hasLocalVolume, func(_ *corev1.Pod, n *corev1.Node) bool { return n.Labels[labelLocalSSD] == "true" }, "VolumeBinding"},
		{"a tenant pod on the tainted batch pool", func(p *corev1.Pod) bool { return isTenant(s, p.Namespace) && len(p.Spec.NodeSelector) == 0 }, func(_ *corev1.Pod, n *corev1.Node) bool { return len(n.Spec.Taints) > 0 }, "TaintToleration"},
		{"a pod with required anti-affinity next to its sibling", func(p *corev1.Pod) bool {
			return p.Spec.Affinity != nil && p.Spec.Affinity.PodAntiAffinity != nil && len(p.Spec.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) > 0 && len(p.Spec.TopologySpreadConstraints) == 0
		}, func(p *corev1.Pod, n *corev1.Node) bool { return hasSibling(s, p, n.Name) }, "InterPodAffinity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			i, target := find(tt.pod, tt.target)
			moved := deepCopy(s)
			p := &moved.Pods[i]
			p.Spec.NodeName = target
			reason := fitReason(t, moved, p)
			if !strings.Contains(reason, tt.plugin) {
				t.Errorf("pod %s/%s moved to %s: reason %q, want one from %s", p.Namespace, p.Name, target, reason, tt.plugin)
			}
		})
	}
}

func fitReason(t *testing.T, s *snapshot.Snapshot, p *corev1.Pod) string {
	t.Helper()
	ctx := context.Background()
	sched, err := scheduler.New(ctx, s, scheduler.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := sched.RemovePod(p); err != nil {
		t.Fatal(err)
	}
	reason, err := sched.CheckFit(ctx, p, p.Spec.NodeName)
	if err != nil {
		t.Fatal(err)
	}
	return reason
}

func slicesHasClaim(p *corev1.Pod) bool {
	for _, v := range p.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			return true
		}
	}
	return false
}

// hasSibling reports whether node runs another pod with p's controller.
func hasSibling(s *snapshot.Snapshot, p *corev1.Pod, node string) bool {
	mine := controllerOf(&p.ObjectMeta)
	for i := range s.Pods {
		o := &s.Pods[i]
		if o.Spec.NodeName == node && o.Name != p.Name && mine != nil && controllerOf(&o.ObjectMeta) != nil && controllerOf(&o.ObjectMeta).UID == mine.UID {
			return true
		}
	}
	return false
}
