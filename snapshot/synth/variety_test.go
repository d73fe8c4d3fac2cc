package synth

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/noderoll/noderoll/snapshot"
)

// anyPod reports whether some pod satisfies f.
func anyPod(s *snapshot.Snapshot, f func(*corev1.Pod) bool) bool {
	for i := range s.Pods {
		if f(&s.Pods[i]) {
			return true
		}
	}
	return false
}

func ownerKind(p *corev1.Pod) string {
	if r := controllerOf(&p.ObjectMeta); r != nil {
		return r.Kind
	}
	return ""
}

// workloadPods groups the pods by controller UID.
func workloadPods(s *snapshot.Snapshot) map[string][]*corev1.Pod {
	out := map[string][]*corev1.Pod{}
	for i := range s.Pods {
		if r := controllerOf(&s.Pods[i].ObjectMeta); r != nil {
			out[string(r.UID)] = append(out[string(r.UID)], &s.Pods[i])
		}
	}
	return out
}

// Every profile, at every scale, holds each thing a rollout must find.
func TestEveryVarietyItemIsPresent(t *testing.T) {
	checks := []struct {
		name string
		ok   func(t *testing.T, s *snapshot.Snapshot) bool
	}{
		{"a StatefulSet on node-local volumes", func(t *testing.T, s *snapshot.Snapshot) bool {
			for _, sts := range s.StatefulSets {
				if c := sts.Spec.VolumeClaimTemplates; len(c) > 0 && *c[0].Spec.StorageClassName == scLocal {
					return true
				}
			}
			return false
		}},
		{"a StatefulSet on zonal volumes", func(t *testing.T, s *snapshot.Snapshot) bool {
			for _, pv := range s.PersistentVolumes {
				if pv.Spec.CSI != nil && pv.Spec.NodeAffinity.Required.NodeSelectorTerms[0].MatchExpressions[0].Key == labelZone {
					return true
				}
			}
			return false
		}},
		{"local volumes from a no-provisioner WaitForFirstConsumer class", func(t *testing.T, s *snapshot.Snapshot) bool {
			for _, sc := range s.StorageClasses {
				if sc.Name == scLocal && sc.Provisioner == "kubernetes.io/no-provisioner" && string(*sc.VolumeBindingMode) == "WaitForFirstConsumer" {
					return true
				}
			}
			return false
		}},
		{"a DaemonSet with a pod on every node", func(t *testing.T, s *snapshot.Snapshot) bool {
			for _, ds := range s.DaemonSets {
				if int(ds.Status.DesiredNumberScheduled) == len(s.Nodes) && len(workloadPods(s)[string(ds.UID)]) == len(s.Nodes) {
					return true
				}
			}
			return false
		}},
		{"a DaemonSet kept off the tainted pool", func(t *testing.T, s *snapshot.Snapshot) bool {
			for _, ds := range s.DaemonSets {
				if int(ds.Status.DesiredNumberScheduled) < len(s.Nodes) {
					return true
				}
			}
			return false
		}},
		{"DaemonSet pods pinned to their node with the controller's tolerations", func(t *testing.T, s *snapshot.Snapshot) bool {
			return !anyPod(s, func(p *corev1.Pod) bool {
				if ownerKind(p) != "DaemonSet" {
					return false
				}
				mf := p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchFields
				pinned := len(mf) == 1 && mf[0].Key == "metadata.name" && mf[0].Values[0] == p.Spec.NodeName
				want := 0
				for _, tol := range p.Spec.Tolerations {
					switch tol.Key {
					case corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable, corev1.TaintNodeDiskPressure,
						corev1.TaintNodeMemoryPressure, corev1.TaintNodePIDPressure, corev1.TaintNodeUnschedulable:
						if tol.TolerationSeconds == nil {
							want++
						}
					}
				}
				return !pinned || want != 6
			})
		}},
		{"a running Job whose pods carry the job labels", func(t *testing.T, s *snapshot.Snapshot) bool {
			return anyPod(s, func(p *corev1.Pod) bool {
				r := controllerOf(&p.ObjectMeta)
				return r != nil && r.Kind == "Job" && p.Labels["batch.kubernetes.io/job-name"] == r.Name &&
					p.Labels["batch.kubernetes.io/controller-uid"] == string(r.UID) && p.Spec.RestartPolicy != corev1.RestartPolicyAlways
			})
		}},
		{"a CronJob with its running Job", func(t *testing.T, s *snapshot.Snapshot) bool {
			for _, cj := range s.CronJobs {
				for _, j := range s.Jobs {
					if len(cj.Status.Active) == 1 && cj.Status.Active[0].UID == j.UID && controllerOf(&j.ObjectMeta).UID == cj.UID {
						return true
					}
				}
			}
			return false
		}},
		{"a bare pod", func(t *testing.T, s *snapshot.Snapshot) bool {
			return anyPod(s, func(p *corev1.Pod) bool { return len(p.OwnerReferences) == 0 })
		}},
		{"pods with emptyDir volumes", func(t *testing.T, s *snapshot.Snapshot) bool {
			return anyPod(s, func(p *corev1.Pod) bool {
				for _, v := range p.Spec.Volumes {
					if v.EmptyDir != nil {
						return true
					}
				}
				return false
			})
		}},
		{"a PDB with minAvailable 90%", func(t *testing.T, s *snapshot.Snapshot) bool {
			for _, p := range s.PodDisruptionBudgets {
				if p.Spec.MinAvailable != nil && *p.Spec.MinAvailable == intstr.FromString("90%") {
					return true
				}
			}
			return false
		}},
		{"a PDB with maxUnavailable 1", func(t *testing.T, s *snapshot.Snapshot) bool {
			for _, p := range s.PodDisruptionBudgets {
				if p.Spec.MaxUnavailable != nil && *p.Spec.MaxUnavailable == intstr.FromInt32(1) {
					return true
				}
			}
			return false
		}},
		{"a PDB that allows no disruption", func(t *testing.T, s *snapshot.Snapshot) bool {
			for _, p := range s.PodDisruptionBudgets {
				if p.Status.DisruptionsAllowed == 0 && p.Status.ExpectedPods > 0 {
					return true
				}
			}
			return false
		}},
		{"a single-replica Deployment", func(t *testing.T, s *snapshot.Snapshot) bool {
			for _, d := range s.Deployments {
				if *d.Spec.Replicas == 1 && isTenant(s, d.Namespace) {
					return true
				}
			}
			return false
		}},
		{"a Deployment whose replicas all sit on one node", func(t *testing.T, s *snapshot.Snapshot) bool {
			for _, pods := range workloadPods(s) {
				a := pods[0].Spec.Affinity
				if len(pods) < 2 || a == nil || a.PodAffinity == nil || len(a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution) == 0 {
					continue
				}
				same := true
				for _, p := range pods {
					same = same && p.Spec.NodeName == pods[0].Spec.NodeName
				}
				if same {
					return true
				}
			}
			return false
		}},
		{"zone spreading that must be met", func(t *testing.T, s *snapshot.Snapshot) bool {
			return anyPod(s, func(p *corev1.Pod) bool {
				for _, c := range p.Spec.TopologySpreadConstraints {
					if c.TopologyKey == labelZone && c.WhenUnsatisfiable == corev1.DoNotSchedule {
						return true
					}
				}
				return false
			})
		}},
		{"zone spreading that may be missed", func(t *testing.T, s *snapshot.Snapshot) bool {
			return anyPod(s, func(p *corev1.Pod) bool {
				for _, c := range p.Spec.TopologySpreadConstraints {
					if c.TopologyKey == labelZone && c.WhenUnsatisfiable == corev1.ScheduleAnyway {
						return true
					}
				}
				return false
			})
		}},
		{"required hostname anti-affinity", func(t *testing.T, s *snapshot.Snapshot) bool {
			return anyPod(s, func(p *corev1.Pod) bool {
				a := p.Spec.Affinity
				return isTenant(s, p.Namespace) && a != nil && a.PodAntiAffinity != nil && len(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) > 0
			})
		}},
		{"preferred hostname anti-affinity", func(t *testing.T, s *snapshot.Snapshot) bool {
			return anyPod(s, func(p *corev1.Pod) bool {
				a := p.Spec.Affinity
				return isTenant(s, p.Namespace) && a != nil && a.PodAntiAffinity != nil && len(a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) > 0
			})
		}},
		{"tenant workloads on the tainted pool that tolerate and select it", func(t *testing.T, s *snapshot.Snapshot) bool {
			tainted := map[string]bool{}
			for _, n := range s.Nodes {
				if len(n.Spec.Taints) > 0 && n.Labels[labelPool] == batchPool {
					tainted[n.Name] = true
				}
			}
			return anyPod(s, func(p *corev1.Pod) bool {
				return tainted[p.Spec.NodeName] && isTenant(s, p.Namespace) && p.Spec.NodeSelector[labelPool] == batchPool
			})
		}},
		{"system pods at system priority and batch pods below zero", func(t *testing.T, s *snapshot.Snapshot) bool {
			high := anyPod(s, func(p *corev1.Pod) bool { return p.Namespace == "kube-system" && *p.Spec.Priority >= 2000000000 })
			low := anyPod(s, func(p *corev1.Pod) bool { return *p.Spec.Priority < 0 && p.Spec.PriorityClassName == pcBatchLow })
			return high && low
		}},
		{"headless, ExternalName and LoadBalancer services", func(t *testing.T, s *snapshot.Snapshot) bool {
			kinds := map[string]bool{}
			for _, svc := range s.Services {
				switch {
				case svc.Spec.ClusterIP == corev1.ClusterIPNone:
					kinds["headless"] = true
				case svc.Spec.Type == corev1.ServiceTypeExternalName:
					kinds["external"] = true
				case svc.Spec.Type == corev1.ServiceTypeLoadBalancer:
					kinds["lb"] = true
				}
			}
			return len(kinds) == 3
		}},
		{"Deployments with older ReplicaSets at zero", func(t *testing.T, s *snapshot.Snapshot) bool {
			for _, rs := range s.ReplicaSets {
				if *rs.Spec.Replicas == 0 {
					return true
				}
			}
			return false
		}},
		{"Guaranteed, Burstable and BestEffort pods", func(t *testing.T, s *snapshot.Snapshot) bool {
			seen := map[corev1.PodQOSClass]bool{}
			for _, p := range s.Pods {
				seen[p.Status.QOSClass] = true
			}
			return len(seen) == 3
		}},
		{"ConfigMaps, Secrets and RBAC counted in every tenant namespace", func(t *testing.T, s *snapshot.Snapshot) bool {
			for _, ns := range s.Namespaces {
				c := s.NamespaceCounts[ns.Name]
				if isTenant(s, ns.Name) && (c.ConfigMaps == 0 || c.Secrets == 0 || c.SecretBytes == 0 || c.ServiceAccounts == 0 || c.Roles == 0 || c.RoleBindings == 0) {
					return false
				}
			}
			return true
		}},
	}
	forEachFixture(t, func(t *testing.T, _ fixture, s *snapshot.Snapshot) {
		for _, c := range checks {
			if !c.ok(t, s) {
				t.Errorf("missing: %s", c.name)
			}
		}
	})
}

// The shares the seed profile promises hold at its scale and scaled down.
func TestTheSeedProfileKeepsItsProportions(t *testing.T) {
	forEachFixture(t, func(t *testing.T, fx fixture, s *snapshot.Snapshot) {
		if fx.cfg.Profile != "seed" {
			t.Skip("shares are meaningless at a few hundred pods")
		}
		checkProportions(t, s)
	})
}

func checkProportions(t *testing.T, s *snapshot.Snapshot) {
	var tenantWorkloads, withPDB int
	covered := map[string]bool{}
	for _, p := range s.PodDisruptionBudgets {
		covered[p.Namespace+"/"+p.Name] = true
	}
	for _, d := range s.Deployments {
		if isTenant(s, d.Namespace) && len(d.Spec.Template.Spec.Tolerations) == 0 {
			tenantWorkloads++
			if covered[d.Namespace+"/"+d.Name] {
				withPDB++
			}
		}
	}
	for _, st := range s.StatefulSets {
		if isTenant(s, st.Namespace) {
			tenantWorkloads++
			if covered[st.Namespace+"/"+st.Name] {
				withPDB++
			}
		}
	}
	kinds := map[string]int{}
	for i := range s.Pods {
		kinds[ownerKind(&s.Pods[i])]++
	}
	share := func(n, of int) float64 { return float64(n) / float64(of) }
	t.Logf("pods by controller kind: %v; %d of %d tenant workloads have a PDB", kinds, withPDB, tenantWorkloads)
	tests := []struct {
		what     string
		got      float64
		min, max float64
	}{
		{"share of tenant workloads with a PDB", share(withPDB, tenantWorkloads), 0.30, 0.50},
		{"share of pods owned by ReplicaSets", share(kinds["ReplicaSet"], len(s.Pods)), 0.70, 0.90},
		{"share of DaemonSet pods", share(kinds["DaemonSet"], len(s.Pods)), 0.05, 0.15},
		{"share of StatefulSet pods", share(kinds["StatefulSet"], len(s.Pods)), 0.02, 0.08},
		{"share of Job pods", share(kinds["Job"], len(s.Pods)), 0.01, 0.06},
		{"services per pod", share(len(s.Services), len(s.Pods)), 0.24, 0.26},
	}
	for _, tt := range tests {
		if tt.got < tt.min || tt.got > tt.max {
			t.Errorf("%s = %.3f, want %.2f-%.2f", tt.what, tt.got, tt.min, tt.max)
		}
	}
}
