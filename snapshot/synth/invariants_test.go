package synth

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	resourcehelper "k8s.io/component-helpers/resource"
	v1qos "k8s.io/kubernetes/pkg/apis/core/v1/helper/qos"

	"github.com/noderoll/noderoll/scheduler"
	"github.com/noderoll/noderoll/snapshot"
)

func TestEveryPodIsBoundToAnExistingNode(t *testing.T) {
	forEachFixture(t, func(t *testing.T, _ fixture, s *snapshot.Snapshot) {
		nodes := map[string]bool{}
		for _, n := range s.Nodes {
			nodes[n.Name] = true
		}
		for _, p := range s.Pods {
			if !nodes[p.Spec.NodeName] {
				t.Errorf("pod %s/%s is on %q, which is not a node", p.Namespace, p.Name, p.Spec.NodeName)
			}
		}
	})
}

// Placement guarantees that each pod fitted when it was placed, given the
// pods placed before it. The stronger property checked here is that the
// final snapshot is a state the scheduler accepts: every pod, taken out and
// offered back to its node, passes every filter plugin there given all the
// other pods (their resources, ports, affinities, spreading, and the
// volumes bound after placement). That is what a drain simulation starts
// from.
func TestEveryPodPassesTheSchedulerFiltersOnItsNode(t *testing.T) {
	forEachFixture(t, func(t *testing.T, fx fixture, s *snapshot.Snapshot) {
		checkFit(t, s, 1)
	})
}

// checkFit checks every step-th pod with the scheduler's filters on its
// node, the pod itself removed.
func checkFit(t *testing.T, s *snapshot.Snapshot, step int) {
	t.Helper()
	ctx := context.Background()
	sched, err := scheduler.New(ctx, deepCopy(s), scheduler.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	failures := 0
	for i := 0; i < len(s.Pods); i += step {
		p := s.Pods[i].DeepCopy()
		sched.Fork()
		if err := sched.RemovePod(p); err != nil {
			t.Fatal(err)
		}
		reason, err := sched.CheckFit(ctx, p, p.Spec.NodeName)
		sched.Revert()
		if err != nil {
			t.Fatalf("CheckFit(%s/%s): %v", p.Namespace, p.Name, err)
		}
		if reason != "" {
			failures++
			if failures <= 10 {
				t.Errorf("pod %s/%s does not fit on its node %s: %s", p.Namespace, p.Name, p.Spec.NodeName, reason)
			}
		}
	}
	if failures > 10 {
		t.Errorf("... %d pods in all do not fit", failures)
	}
}

func TestOwnerReferencesResolveToObjectsWithTheirUIDs(t *testing.T) {
	forEachFixture(t, func(t *testing.T, _ fixture, s *snapshot.Snapshot) {
		uids := map[string]string{} // kind/namespace/name -> uid
		add := func(kind string, m metav1.ObjectMeta) { uids[kind+"/"+m.Namespace+"/"+m.Name] = string(m.UID) }
		for _, o := range s.Deployments {
			add("Deployment", o.ObjectMeta)
		}
		for _, o := range s.ReplicaSets {
			add("ReplicaSet", o.ObjectMeta)
		}
		for _, o := range s.StatefulSets {
			add("StatefulSet", o.ObjectMeta)
		}
		for _, o := range s.DaemonSets {
			add("DaemonSet", o.ObjectMeta)
		}
		for _, o := range s.Jobs {
			add("Job", o.ObjectMeta)
		}
		for _, o := range s.CronJobs {
			add("CronJob", o.ObjectMeta)
		}
		check := func(what string, m metav1.ObjectMeta) {
			for _, r := range m.OwnerReferences {
				uid, ok := uids[r.Kind+"/"+m.Namespace+"/"+r.Name]
				switch {
				case !ok:
					t.Errorf("%s %s/%s: owner %s %s not found", what, m.Namespace, m.Name, r.Kind, r.Name)
				case uid != string(r.UID):
					t.Errorf("%s %s/%s: owner %s %s has UID %s, reference says %s", what, m.Namespace, m.Name, r.Kind, r.Name, uid, r.UID)
				}
			}
			if len(m.OwnerReferences) > 0 && controllerOf(&m) == nil {
				t.Errorf("%s %s/%s has owners but no controller", what, m.Namespace, m.Name)
			}
		}
		bare := 0
		for _, p := range s.Pods {
			check("pod", p.ObjectMeta)
			if len(p.OwnerReferences) == 0 {
				bare++
			}
		}
		for _, o := range s.ReplicaSets {
			check("ReplicaSet", o.ObjectMeta)
			if len(o.OwnerReferences) == 0 {
				t.Errorf("ReplicaSet %s/%s has no Deployment", o.Namespace, o.Name)
			}
		}
		for _, o := range s.Jobs {
			check("Job", o.ObjectMeta)
		}
		if bare == 0 {
			t.Error("no pod without an owner")
		}
	})
}

func TestControllerSelectorsMatchExactlyTheirPods(t *testing.T) {
	forEachFixture(t, func(t *testing.T, _ fixture, s *snapshot.Snapshot) {
		byNS := podsByNamespace(s)
		// owned checks that sel selects exactly the pods controlled by uid,
		// and that there are want of them.
		owned := func(what string, m metav1.ObjectMeta, sel *metav1.LabelSelector, template map[string]string, want int) {
			if !selects(t, sel, template) {
				t.Errorf("%s %s/%s: selector does not select its template's labels", what, m.Namespace, m.Name)
			}
			n := 0
			for _, p := range byNS[m.Namespace] {
				mine := controllerOf(&p.ObjectMeta) != nil && controllerOf(&p.ObjectMeta).UID == m.UID
				if mine {
					n++
				}
				if mine != selects(t, sel, p.Labels) {
					t.Errorf("%s %s/%s: selector and ownership disagree on pod %s", what, m.Namespace, m.Name, p.Name)
				}
			}
			if n != want {
				t.Errorf("%s %s/%s controls %d pods, its status says %d", what, m.Namespace, m.Name, n, want)
			}
		}
		for _, o := range s.ReplicaSets {
			owned("ReplicaSet", o.ObjectMeta, o.Spec.Selector, o.Spec.Template.Labels, int(o.Status.ReadyReplicas))
			if *o.Spec.Replicas != o.Status.Replicas {
				t.Errorf("ReplicaSet %s/%s: spec %d replicas, status %d", o.Namespace, o.Name, *o.Spec.Replicas, o.Status.Replicas)
			}
		}
		for _, o := range s.StatefulSets {
			owned("StatefulSet", o.ObjectMeta, o.Spec.Selector, o.Spec.Template.Labels, int(o.Status.ReadyReplicas))
			for _, p := range byNS[o.Namespace] {
				if r := controllerOf(&p.ObjectMeta); r != nil && r.UID == o.UID && p.Labels[labelPodName] != p.Name {
					t.Errorf("StatefulSet pod %s/%s has pod-name label %q", p.Namespace, p.Name, p.Labels[labelPodName])
				}
			}
		}
		for _, o := range s.DaemonSets {
			owned("DaemonSet", o.ObjectMeta, o.Spec.Selector, o.Spec.Template.Labels, int(o.Status.NumberReady))
		}
		for _, o := range s.Jobs {
			owned("Job", o.ObjectMeta, o.Spec.Selector, o.Spec.Template.Labels, int(o.Status.Active))
		}
		for _, d := range s.Deployments {
			if !selects(t, d.Spec.Selector, d.Spec.Template.Labels) {
				t.Errorf("Deployment %s/%s: selector does not select its template", d.Namespace, d.Name)
			}
			pods := 0
			for _, p := range byNS[d.Namespace] {
				if selects(t, d.Spec.Selector, p.Labels) {
					pods++
				}
			}
			if pods != int(*d.Spec.Replicas) || d.Status.ReadyReplicas != *d.Spec.Replicas {
				t.Errorf("Deployment %s/%s: %d replicas, %d ready, %d pods selected", d.Namespace, d.Name, *d.Spec.Replicas, d.Status.ReadyReplicas, pods)
			}
		}
	})
}

func TestServiceSelectorsMatchTheirWorkloadsPods(t *testing.T) {
	forEachFixture(t, func(t *testing.T, _ fixture, s *snapshot.Snapshot) {
		byNS := podsByNamespace(s)
		for _, svc := range s.Services {
			if len(svc.Spec.Selector) == 0 {
				if svc.Spec.Type != corev1.ServiceTypeExternalName && svc.Name != "kubernetes" {
					t.Errorf("service %s/%s selects nothing", svc.Namespace, svc.Name)
				}
				continue
			}
			sel := &metav1.LabelSelector{MatchLabels: svc.Spec.Selector}
			owners := map[string]bool{}
			n := 0
			for _, p := range byNS[svc.Namespace] {
				if selects(t, sel, p.Labels) {
					n++
					if r := controllerOf(&p.ObjectMeta); r != nil {
						owners[r.Kind+"/"+r.Name] = true
					}
				}
			}
			if n == 0 {
				t.Errorf("service %s/%s selects no pod", svc.Namespace, svc.Name)
			}
			if len(owners) > 1 {
				t.Errorf("service %s/%s selects the pods of %d controllers", svc.Namespace, svc.Name, len(owners))
			}
		}
	})
}

func TestPDBStatusIsWhatTheDisruptionControllerComputes(t *testing.T) {
	forEachFixture(t, func(t *testing.T, _ fixture, s *snapshot.Snapshot) {
		byNS := podsByNamespace(s)
		for _, pdb := range s.PodDisruptionBudgets {
			matched, ready := 0, 0
			for _, p := range byNS[pdb.Namespace] {
				if selects(t, pdb.Spec.Selector, p.Labels) {
					matched++
					if isReady(p) {
						ready++
					}
				}
			}
			st := pdb.Status
			plan := &pdbPlan{minAvailable: pdb.Spec.MinAvailable, maxUnavailable: pdb.Spec.MaxUnavailable}
			expected, desired := pdbExpected(plan, matched)
			want := fmt.Sprintf("expected %d healthy %d desired %d allowed %d", expected, ready, desired, max(0, int32(ready)-desired))
			got := fmt.Sprintf("expected %d healthy %d desired %d allowed %d", st.ExpectedPods, st.CurrentHealthy, st.DesiredHealthy, st.DisruptionsAllowed)
			if matched == 0 || got != want {
				t.Errorf("PDB %s/%s over %d pods: status %s, want %s", pdb.Namespace, pdb.Name, matched, got, want)
			}
		}
	})
}

func TestVolumesAreBoundBothWaysAndPinTheirPods(t *testing.T) {
	forEachFixture(t, func(t *testing.T, _ fixture, s *snapshot.Snapshot) {
		nodes := map[string]*corev1.Node{}
		for i := range s.Nodes {
			nodes[s.Nodes[i].Name] = &s.Nodes[i]
		}
		pvcs := map[string]*corev1.PersistentVolumeClaim{}
		for i := range s.PersistentVolumeClaims {
			c := &s.PersistentVolumeClaims[i]
			pvcs[c.Namespace+"/"+c.Name] = c
		}
		pvs := map[string]*corev1.PersistentVolume{}
		for i := range s.PersistentVolumes {
			pvs[s.PersistentVolumes[i].Name] = &s.PersistentVolumes[i]
		}
		used := map[string]int{}
		for _, p := range s.Pods {
			for _, v := range p.Spec.Volumes {
				if v.PersistentVolumeClaim == nil {
					continue
				}
				key := p.Namespace + "/" + v.PersistentVolumeClaim.ClaimName
				used[key]++
				c, ok := pvcs[key]
				if !ok {
					t.Errorf("pod %s/%s uses missing claim %s", p.Namespace, p.Name, key)
					continue
				}
				pv, ok := pvs[c.Spec.VolumeName]
				if !ok || c.Status.Phase != corev1.ClaimBound || pv.Status.Phase != corev1.VolumeBound ||
					pv.Spec.ClaimRef == nil || pv.Spec.ClaimRef.UID != c.UID || pv.Spec.ClaimRef.Name != c.Name {
					t.Errorf("claim %s and volume %q are not bound both ways", key, c.Spec.VolumeName)
					continue
				}
				node := nodes[p.Spec.NodeName]
				for _, term := range pv.Spec.NodeAffinity.Required.NodeSelectorTerms {
					for _, e := range term.MatchExpressions {
						if !slices.Contains(e.Values, node.Labels[e.Key]) {
							t.Errorf("pod %s/%s on %s, but its volume %s requires %s in %v", p.Namespace, p.Name, node.Name, pv.Name, e.Key, e.Values)
						}
					}
				}
				if pv.Spec.Local != nil && pv.Spec.NodeAffinity.Required.NodeSelectorTerms[0].MatchExpressions[0].Key != labelHostname {
					t.Errorf("local volume %s is not pinned to a hostname", pv.Name)
				}
			}
		}
		for key := range pvcs {
			if used[key] != 1 {
				t.Errorf("claim %s is used by %d pods", key, used[key])
			}
		}
		if len(pvs) != len(pvcs) {
			t.Errorf("%d volumes for %d claims", len(pvs), len(pvcs))
		}
	})
}

func TestRequestsTakeSixtyToSeventyFivePercentOfAllocatable(t *testing.T) {
	forEachFixture(t, func(t *testing.T, _ fixture, s *snapshot.Snapshot) {
		cpu, mem := utilisation(t, s)
		t.Logf("requests: %.1f%% of allocatable CPU, %.1f%% of memory", 100*cpu, 100*mem)
		for _, u := range []struct {
			what string
			v    float64
		}{{"CPU", cpu}, {"memory", mem}} {
			if u.v < 0.60 || u.v > 0.75 {
				t.Errorf("%s utilisation %.1f%%, want 60-75%%", u.what, 100*u.v)
			}
		}
	})
}

// utilisation is the share of allocatable CPU and memory the pods request,
// counted as the scheduler counts them. It also checks that no node is
// over-committed.
func utilisation(t *testing.T, s *snapshot.Snapshot) (cpu, mem float64) {
	t.Helper()
	var allocCPU, allocMem, reqCPU, reqMem int64
	perNode := map[string]corev1.ResourceList{}
	for _, p := range s.Pods {
		r := resourcehelper.PodRequests(&p, resourcehelper.PodResourcesOptions{})
		reqCPU += r.Cpu().MilliValue()
		reqMem += r.Memory().Value()
		acc := perNode[p.Spec.NodeName]
		if acc == nil {
			acc = corev1.ResourceList{}
			perNode[p.Spec.NodeName] = acc
		}
		for k, v := range r {
			q := acc[k]
			q.Add(v)
			acc[k] = q
		}
	}
	for _, n := range s.Nodes {
		a := n.Status.Allocatable
		allocCPU += a.Cpu().MilliValue()
		allocMem += a.Memory().Value()
		used := perNode[n.Name]
		if used.Cpu().Cmp(*a.Cpu()) > 0 || used.Memory().Cmp(*a.Memory()) > 0 {
			t.Errorf("node %s over-committed: requests %v, allocatable cpu %v memory %v", n.Name, used, a.Cpu(), a.Memory())
		}
	}
	return float64(reqCPU) / float64(allocCPU), float64(reqMem) / float64(allocMem)
}

func TestPodsLookRunningAndReadyAsTheKubeletReportsThem(t *testing.T) {
	forEachFixture(t, func(t *testing.T, _ fixture, s *snapshot.Snapshot) {
		nodes := map[string]*corev1.Node{}
		for i := range s.Nodes {
			nodes[s.Nodes[i].Name] = &s.Nodes[i]
		}
		ips := map[string]string{}
		for i := range s.Pods {
			p := &s.Pods[i]
			node := nodes[p.Spec.NodeName]
			id := p.Namespace + "/" + p.Name
			if p.Status.Phase != corev1.PodRunning || !isReady(p) {
				t.Errorf("pod %s is %s, ready %v", id, p.Status.Phase, isReady(p))
			}
			if len(p.Status.ContainerStatuses) != len(p.Spec.Containers) {
				t.Errorf("pod %s: %d container statuses for %d containers", id, len(p.Status.ContainerStatuses), len(p.Spec.Containers))
			}
			for _, cs := range p.Status.ContainerStatuses {
				if !cs.Ready || cs.State.Running == nil {
					t.Errorf("pod %s: container %s not running and ready", id, cs.Name)
				}
			}
			if want := v1qos.ComputePodQOS(p); p.Status.QOSClass != want {
				t.Errorf("pod %s: qosClass %s, want %s", id, p.Status.QOSClass, want)
			}
			if node == nil {
				continue
			}
			if p.Status.HostIP != node.Status.Addresses[0].Address {
				t.Errorf("pod %s: hostIP %s, node %s has %s", id, p.Status.HostIP, node.Name, node.Status.Addresses[0].Address)
			}
			if p.Spec.HostNetwork {
				if p.Status.PodIP != p.Status.HostIP {
					t.Errorf("host-network pod %s: podIP %s differs from hostIP", id, p.Status.PodIP)
				}
			} else {
				if !netip.MustParsePrefix(node.Spec.PodCIDR).Contains(netip.MustParseAddr(p.Status.PodIP)) {
					t.Errorf("pod %s: podIP %s outside %s's CIDR %s", id, p.Status.PodIP, node.Name, node.Spec.PodCIDR)
				}
				if other, dup := ips[p.Status.PodIP]; dup {
					t.Errorf("pods %s and %s share podIP %s", other, id, p.Status.PodIP)
				}
				ips[p.Status.PodIP] = id
			}
			if p.CreationTimestamp.Before(&node.CreationTimestamp) || !p.CreationTimestamp.Before(&s.TakenAt) {
				t.Errorf("pod %s created %v, outside [node created %v, snapshot %v)", id, p.CreationTimestamp, node.CreationTimestamp, s.TakenAt)
			}
		}
	})
}

func TestNamesAndUIDsAreUnique(t *testing.T) {
	forEachFixture(t, func(t *testing.T, _ fixture, s *snapshot.Snapshot) {
		uids := map[string]string{}
		names := map[string]bool{}
		add := func(kind string, m metav1.ObjectMeta) {
			id := kind + " " + m.Namespace + "/" + m.Name
			if names[id] {
				t.Errorf("%s appears twice", id)
			}
			names[id] = true
			if other, dup := uids[string(m.UID)]; dup || m.UID == "" {
				t.Errorf("%s and %s share UID %q", other, id, m.UID)
			}
			uids[string(m.UID)] = id
			if m.CreationTimestamp.IsZero() || m.CreationTimestamp.After(s.TakenAt.Time) {
				t.Errorf("%s created at %v, snapshot taken at %v", id, m.CreationTimestamp, s.TakenAt)
			}
		}
		for _, o := range s.Nodes {
			add("Node", o.ObjectMeta)
		}
		for _, o := range s.Pods {
			add("Pod", o.ObjectMeta)
		}
		for _, o := range s.PodDisruptionBudgets {
			add("PodDisruptionBudget", o.ObjectMeta)
		}
		for _, o := range s.Deployments {
			add("Deployment", o.ObjectMeta)
		}
		for _, o := range s.ReplicaSets {
			add("ReplicaSet", o.ObjectMeta)
		}
		for _, o := range s.StatefulSets {
			add("StatefulSet", o.ObjectMeta)
		}
		for _, o := range s.DaemonSets {
			add("DaemonSet", o.ObjectMeta)
		}
		for _, o := range s.Jobs {
			add("Job", o.ObjectMeta)
		}
		for _, o := range s.CronJobs {
			add("CronJob", o.ObjectMeta)
		}
		for _, o := range s.Services {
			add("Service", o.ObjectMeta)
		}
		for _, o := range s.PersistentVolumeClaims {
			add("PersistentVolumeClaim", o.ObjectMeta)
		}
		for _, o := range s.PersistentVolumes {
			add("PersistentVolume", o.ObjectMeta)
		}
		for _, o := range s.StorageClasses {
			add("StorageClass", o.ObjectMeta)
		}
		for _, o := range s.Namespaces {
			add("Namespace", o.ObjectMeta)
		}
		for _, o := range s.PriorityClasses {
			add("PriorityClass", o.ObjectMeta)
		}
	})
}
