package scheduler

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/names"

	. "github.com/noderoll/noderoll/internal/testutil"
	"github.com/noderoll/noderoll/snapshot"
)

// spreadCluster is a randomized cluster for the engines' differential
// test: nodes over three zones and two racks (a custom topology key), some
// without a zone or rack label, some tainted, some of a labelled pool; apps
// behind Services (the system default constraints apply to their pods)
// and, for some, a ReplicaSet or StatefulSet; and a stream of pods whose
// spread constraints are drawn from every kind the plugin knows:
// hostname, zone and custom keys, DoNotSchedule and ScheduleAnyway,
// minDomains, nodeAffinityPolicy and nodeTaintsPolicy both ways,
// matchLabelKeys, none (the defaults), with node selectors, required node
// affinity, tolerations and priorities.
func spreadCluster(rng *rand.Rand, nodes, apps, pods int) (*snapshot.Snapshot, []*corev1.Pod) {
	snap := &snapshot.Snapshot{}
	zones := []string{"zone-a", "zone-b", "zone-c"}
	for i := range nodes {
		b := Node(fmt.Sprintf("node-%03d", i)).Cap("cpu", "8").Cap("memory", "32Gi")
		if rng.IntN(12) != 0 {
			b.Zone(zones[rng.IntN(3)])
		}
		if rng.IntN(6) != 0 {
			b.Label("rack", fmt.Sprintf("rack-%d", rng.IntN(2)))
		}
		switch rng.IntN(8) {
		case 0:
			b.Taint("dedicated", "batch", corev1.TaintEffectNoSchedule)
		case 1:
			b.Label("pool", "gpu")
		}
		snap.Nodes = append(snap.Nodes, *b.Obj())
	}
	type app struct {
		ns, name string
		build    func(*PodBuilder)
	}
	var all []app
	for a := range apps {
		ns := fmt.Sprintf("team-%d", a%4)
		name := fmt.Sprintf("app-%02d", a)
		cs := randomConstraints(rng, name)
		sel := rng.IntN(5)
		tolerate := rng.IntN(4) == 0
		prio := int32(rng.IntN(3) * 100)
		owner := rng.IntN(4)
		all = append(all, app{ns, name, func(b *PodBuilder) {
			b.NS(ns).Label("app", name).Label("team", ns).Req("cpu", "500m").Req("memory", "1Gi").Priority(prio)
			b.Obj().Spec.TopologySpreadConstraints = cs
			switch sel {
			case 0:
				b.NodeSelector("pool", "gpu")
			case 1:
				b.RequiredNodeAffinity(corev1.LabelTopologyZone, "zone-a", "zone-b")
			}
			if tolerate {
				b.Toleration("dedicated", "batch", corev1.TaintEffectNoSchedule)
			}
			switch owner {
			case 0:
				b.OwnedBy("ReplicaSet", name+"-rs")
			case 1:
				b.OwnedBy("StatefulSet", name)
			}
		}})
		snap.Services = append(snap.Services, corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": name}},
		})
		selector := &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}
		switch owner {
		case 0:
			snap.ReplicaSets = append(snap.ReplicaSets, appsv1.ReplicaSet{
				ObjectMeta: metav1.ObjectMeta{Name: name + "-rs", Namespace: ns},
				Spec:       appsv1.ReplicaSetSpec{Selector: selector},
			})
		case 1:
			snap.StatefulSets = append(snap.StatefulSets, appsv1.StatefulSet{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
				Spec:       appsv1.StatefulSetSpec{Selector: selector},
			})
		}
	}
	var stream []*corev1.Pod
	for i := range pods {
		a := all[rng.IntN(len(all))]
		b := Pod(fmt.Sprintf("%s-%04d", a.name, i)).Label("version", fmt.Sprintf("v%d", rng.IntN(4)))
		a.build(b)
		stream = append(stream, b.Obj())
	}
	return snap, stream
}

// randomConstraints draws zero to three spread constraints for app.
func randomConstraints(rng *rand.Rand, app string) []corev1.TopologySpreadConstraint {
	if rng.IntN(4) == 0 {
		return nil // the defaults
	}
	keys := []string{corev1.LabelHostname, corev1.LabelTopologyZone, "rack"}
	policies := []*corev1.NodeInclusionPolicy{nil, ptrTo(corev1.NodeInclusionPolicyHonor), ptrTo(corev1.NodeInclusionPolicyIgnore)}
	var out []corev1.TopologySpreadConstraint
	for range 1 + rng.IntN(3) {
		c := corev1.TopologySpreadConstraint{
			MaxSkew:            int32(1 + rng.IntN(3)),
			TopologyKey:        keys[rng.IntN(len(keys))],
			WhenUnsatisfiable:  []corev1.UnsatisfiableConstraintAction{corev1.DoNotSchedule, corev1.ScheduleAnyway}[rng.IntN(2)],
			LabelSelector:      &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}},
			NodeAffinityPolicy: policies[rng.IntN(3)],
			NodeTaintsPolicy:   policies[rng.IntN(3)],
		}
		if rng.IntN(3) == 0 {
			// On one common label: matches the whole team.
			c.LabelSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "team", Operator: metav1.LabelSelectorOpExists}}}
		}
		if c.WhenUnsatisfiable == corev1.DoNotSchedule && rng.IntN(3) == 0 {
			c.MinDomains = ptrTo(int32(2 + rng.IntN(4)))
		}
		if rng.IntN(3) == 0 {
			c.MatchLabelKeys = []string{"version"}
		}
		out = append(out, c)
	}
	return out
}

func ptrTo[T any](v T) *T { return &v }

// TestEnginesAgree_PodTopologySpread is the differential test of the
// incremental PodTopologySpread against the in-tree plugin. Two schedulers
// (engine incremental, and reference with every optimisation off) take
// the same randomized cluster, through the same changes: pods placed, pods
// removed, pods starting to terminate, nodes joining, relabelled and
// leaving. Before each placement, both plugins are asked the same
// questions, and every answer must be equal: PreFilter's status, Filter's
// status on every node, the same again after preemption's RemovePod and
// AddPod of a pod on the node, PreScore's status, the raw and normalized
// scores of every node that passed. Then the placement itself: the chosen
// node, the unschedulable message and the preemption victims.
func TestEnginesAgree_PodTopologySpread(t *testing.T) {
	seeds := 24
	if testing.Short() {
		seeds = 4
	}
	for _, config := range []string{"", "testdata/hard-default-spread.yaml"} {
		for seed := range uint64(seeds) {
			t.Run(fmt.Sprintf("config=%q/seed=%d", config, seed), func(t *testing.T) {
				checkEnginesAgree(t, config, seed)
			})
		}
	}
}

func checkEnginesAgree(t *testing.T, config string, seed uint64) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, 11))
	snap, stream := spreadCluster(rng, 12+rng.IntN(30), 6+rng.IntN(10), 150)
	inc, err := New(ctx, snap, Options{Seed: 1, ConfigFile: config})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := New(ctx, snap, Options{Seed: 1, ConfigFile: config, Naive: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := inc.parts.plugins[names.PodTopologySpread].(*incrementalSpread); !ok {
		t.Fatalf("engine incremental runs %T as %s", inc.parts.plugins[names.PodTopologySpread], names.PodTopologySpread)
	}
	if _, ok := ref.parts.plugins[names.PodTopologySpread].(*incrementalSpread); ok {
		t.Fatalf("engine reference runs the incremental %s", names.PodTopologySpread)
	}
	both := func(what string, f func(s *Scheduler) error) {
		t.Helper()
		if err := f(inc); err != nil {
			t.Fatalf("%s (incremental): %v", what, err)
		}
		if err := f(ref); err != nil {
			t.Fatalf("%s (reference): %v", what, err)
		}
	}
	var placed []*corev1.Pod
	joined := 0
	for i, pod := range stream {
		comparePlugin(t, ctx, inc, ref, pod, placed, rng)
		a, err := inc.Place(ctx, pod.DeepCopy())
		if err != nil {
			t.Fatal(err)
		}
		b, err := ref.Place(ctx, pod.DeepCopy())
		if err != nil {
			t.Fatal(err)
		}
		if a.NodeName != b.NodeName || a.NominatedNode != b.NominatedNode || len(a.Victims) != len(b.Victims) {
			t.Fatalf("pod %d %s: incremental chose %q (nominated %q, %d victims), reference %q (nominated %q, %d victims)",
				i, pod.Name, a.NodeName, a.NominatedNode, len(a.Victims), b.NodeName, b.NominatedNode, len(b.Victims))
		}
		if (a.Unschedulable == nil) != (b.Unschedulable == nil) ||
			(a.Unschedulable != nil && a.Unschedulable.Message() != b.Unschedulable.Message()) {
			t.Fatalf("pod %d %s: diagnoses differ:\nincremental %v\nreference   %v", i, pod.Name, a.Unschedulable, b.Unschedulable)
		}
		if a.NodeName != "" {
			p := pod.DeepCopy()
			p.Spec.NodeName = a.NodeName
			placed = append(placed, p)
		}
		// The cluster changes between cycles, as a rollout changes it.
		switch r := rng.IntN(20); {
		case r == 0 && len(placed) > 0:
			k := rng.IntN(len(placed))
			p := placed[k]
			placed = append(placed[:k], placed[k+1:]...)
			both("remove "+p.Name, func(s *Scheduler) error { return s.RemovePod(p) })
		case r == 1 && len(placed) > 0:
			p := placed[rng.IntN(len(placed))].DeepCopy()
			if p.DeletionTimestamp == nil {
				p.DeletionTimestamp = &metav1.Time{}
				both("terminate "+p.Name, func(s *Scheduler) error { return s.UpdatePod(p) })
				for k := range placed {
					if placed[k].UID == p.UID && placed[k].Name == p.Name {
						placed[k] = p
					}
				}
			}
		case r == 2:
			joined++
			n := Node(fmt.Sprintf("joined-%02d", joined)).Cap("cpu", "8").Cap("memory", "32Gi").
				Zone([]string{"zone-a", "zone-b", "zone-c"}[rng.IntN(3)]).Label("rack", "rack-9").Obj()
			both("join "+n.Name, func(s *Scheduler) error { s.AddNode(n.DeepCopy()); return nil })
		case r == 3:
			// A node rejoins relabelled: another zone, no rack.
			name := fmt.Sprintf("node-%03d", rng.IntN(len(snap.Nodes)))
			if n := inc.st.get(name); n != nil {
				node := n.info.Node().DeepCopy()
				node.Labels[corev1.LabelTopologyZone] = "zone-c"
				delete(node.Labels, "rack")
				both("relabel "+name, func(s *Scheduler) error { s.AddNode(node.DeepCopy()); return nil })
			}
		case r == 4:
			name := fmt.Sprintf("node-%03d", rng.IntN(len(snap.Nodes)))
			if inc.st.get(name) != nil {
				both("remove node "+name, func(s *Scheduler) error { return s.RemoveNode(name) })
				kept := placed[:0]
				for _, p := range placed {
					if p.Spec.NodeName != name {
						kept = append(kept, p)
					}
				}
				placed = kept
			}
		}
	}
}

// comparePlugin asks both schedulers' PodTopologySpread plugins the same
// questions about pod and fails at the first differing answer.
func comparePlugin(t *testing.T, ctx context.Context, inc, ref *Scheduler, pod *corev1.Pod, placed []*corev1.Pod, rng *rand.Rand) {
	t.Helper()
	pi, pr := inc.parts.plugins[names.PodTopologySpread], ref.parts.plugins[names.PodTopologySpread]
	ni, nr := inc.st.lists().all, ref.st.lists().all
	if len(ni) != len(nr) {
		t.Fatalf("the schedulers hold %d and %d nodes", len(ni), len(nr))
	}
	si, sr := framework.NewCycleState(), framework.NewCycleState()
	_, sti := pi.(fwk.PreFilterPlugin).PreFilter(ctx, si, pod, ni)
	_, str := pr.(fwk.PreFilterPlugin).PreFilter(ctx, sr, pod, nr)
	sameStatus(t, pod, "PreFilter", "", sti, str)
	filtered := map[bool][]fwk.NodeInfo{}
	if sti.IsSuccess() {
		for k := range ni {
			a := pi.(fwk.FilterPlugin).Filter(ctx, si, pod, ni[k])
			b := pr.(fwk.FilterPlugin).Filter(ctx, sr, pod, nr[k])
			sameStatus(t, pod, "Filter", ni[k].Node().Name, a, b)
			if a.IsSuccess() {
				filtered[true] = append(filtered[true], ni[k])
				filtered[false] = append(filtered[false], nr[k])
			}
		}
		// Preemption's view: a placed pod removed from its node, then
		// another added to a node, on clones of the cycle state.
		if len(placed) > 0 {
			victim := placed[rng.IntN(len(placed))]
			k := nodeIndex(ni, victim.Spec.NodeName)
			if k >= 0 {
				ci, cr := si.Clone(), sr.Clone()
				vi := mustPodInfo(t, victim)
				sameStatus(t, pod, "RemovePod", victim.Name,
					pi.(fwk.PreFilterPlugin).PreFilterExtensions().RemovePod(ctx, ci, pod, vi, ni[k]),
					pr.(fwk.PreFilterPlugin).PreFilterExtensions().RemovePod(ctx, cr, pod, vi, nr[k]))
				extra := pod.DeepCopy()
				extra.Name += "-nominated"
				j := rng.IntN(len(ni))
				ei := mustPodInfo(t, extra)
				sameStatus(t, pod, "AddPod", ni[j].Node().Name,
					pi.(fwk.PreFilterPlugin).PreFilterExtensions().AddPod(ctx, ci, pod, ei, ni[j]),
					pr.(fwk.PreFilterPlugin).PreFilterExtensions().AddPod(ctx, cr, pod, ei, nr[j]))
				for m := range ni {
					sameStatus(t, pod, "Filter after RemovePod and AddPod", ni[m].Node().Name,
						pi.(fwk.FilterPlugin).Filter(ctx, ci, pod, ni[m]), pr.(fwk.FilterPlugin).Filter(ctx, cr, pod, nr[m]))
				}
			}
		}
	} else {
		filtered[true], filtered[false] = ni, nr
	}
	if len(filtered[true]) == 0 {
		return
	}
	a := pi.(fwk.PreScorePlugin).PreScore(ctx, si, pod, filtered[true])
	b := pr.(fwk.PreScorePlugin).PreScore(ctx, sr, pod, filtered[false])
	sameStatus(t, pod, "PreScore", "", a, b)
	if !a.IsSuccess() {
		return
	}
	scorer := func(p fwk.Plugin) fwk.ScorePlugin { return p.(fwk.ScorePlugin) }
	li, lr := make(fwk.NodeScoreList, len(filtered[true])), make(fwk.NodeScoreList, len(filtered[false]))
	for k := range filtered[true] {
		vi, st1 := scorer(pi).Score(ctx, si, pod, filtered[true][k])
		vr, st2 := scorer(pr).Score(ctx, sr, pod, filtered[false][k])
		sameStatus(t, pod, "Score", filtered[true][k].Node().Name, st1, st2)
		if vi != vr {
			t.Fatalf("pod %s: raw score on %s: incremental %d, reference %d", pod.Name, filtered[true][k].Node().Name, vi, vr)
		}
		li[k] = fwk.NodeScore{Name: filtered[true][k].Node().Name, Score: vi}
		lr[k] = fwk.NodeScore{Name: filtered[false][k].Node().Name, Score: vr}
	}
	sameStatus(t, pod, "NormalizeScore", "",
		scorer(pi).ScoreExtensions().NormalizeScore(ctx, si, pod, li),
		scorer(pr).ScoreExtensions().NormalizeScore(ctx, sr, pod, lr))
	for k := range li {
		if li[k] != lr[k] {
			t.Fatalf("pod %s: normalized score on %s: incremental %d, reference %d", pod.Name, li[k].Name, li[k].Score, lr[k].Score)
		}
	}
}

func nodeIndex(nodes []fwk.NodeInfo, name string) int {
	for k, n := range nodes {
		if n.Node().Name == name {
			return k
		}
	}
	return -1
}

func mustPodInfo(t *testing.T, pod *corev1.Pod) fwk.PodInfo {
	t.Helper()
	pi, err := framework.NewPodInfo(pod)
	if err != nil {
		t.Fatal(err)
	}
	return pi
}

func sameStatus(t *testing.T, pod *corev1.Pod, step, node string, a, b *fwk.Status) {
	t.Helper()
	if a.Code() != b.Code() || a.Message() != b.Message() {
		t.Fatalf("pod %s: %s %s: incremental %v, reference %v", pod.Name, step, node, a, b)
	}
}
