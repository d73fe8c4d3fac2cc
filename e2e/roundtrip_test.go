package e2e

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/noderoll/noderoll/snapshot"
	"github.com/noderoll/noderoll/snapshot/capture"
	"github.com/noderoll/noderoll/snapshot/materialize"
	"github.com/noderoll/noderoll/snapshot/synth"
)

// TestSmallProfileSurvivesApplyAndCapture applies the small profile to a
// KWOK cluster, captures the cluster, and checks that what matters for
// simulation came back: nodes, workloads, budgets, Services, volumes,
// requests and constraints, and every pod Running and Ready on a KWOK node.
// Placement is the real scheduler's, so it is not compared, except for pods
// pinned to a node by a local volume.
func TestSmallProfileSurvivesApplyAndCapture(t *testing.T) {
	c := NewTestCluster(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	want, err := synth.Generate(ctx, synth.Config{Profile: "small", Seed: 1})
	if err != nil {
		t.Fatalf("generating the small profile: %v", err)
	}
	start := time.Now()
	res, err := materialize.Apply(ctx, want, materialize.Config{REST: c.REST, Timeout: 3 * time.Minute})
	if err != nil {
		t.Fatalf("applying the small profile: %v", err)
	}
	t.Logf("applied %d nodes, %d pods expected: created in %v, settled in %v (total %v); skipped %v",
		len(want.Nodes), res.ExpectedPods, res.CreateTime.Round(time.Millisecond), res.SettleTime.Round(time.Millisecond),
		time.Since(start).Round(time.Millisecond), res.Skipped)

	start = time.Now()
	got, err := capture.Capture(ctx, capture.Config{REST: c.REST})
	if err != nil {
		t.Fatalf("capturing: %v", err)
	}
	t.Logf("captured %d nodes, %d pods in %v", len(got.Nodes), len(got.Pods), time.Since(start).Round(time.Millisecond))
	if _, err := got.Validate(); err != nil {
		t.Fatalf("the captured snapshot does not validate: %v", err)
	}

	for _, tc := range []struct {
		name  string
		check func(t *testing.T, want, got *snapshot.Snapshot)
	}{
		{"every node comes back as a KWOK node with its labels, taints and allocatable", checkNodes},
		{"workloads come back in the same numbers and names, by kind", checkWorkloads},
		{"pod templates keep their requests and scheduling constraints", checkTemplates},
		{"PodDisruptionBudgets come back with the same budgets", checkPDBs},
		{"Services come back, headless ones headless", checkServices},
		{"every pod is Running and Ready on a KWOK node, as many per workload as before", checkPods},
		{"claims are bound to the same volumes and local-volume pods sit on their volume's node", checkVolumes},
		{"the capture records the server version and no environment value", checkCaptureMetadata},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.check(t, want, got) })
	}
}

func checkNodes(t *testing.T, want, got *snapshot.Snapshot) {
	gotNodes := byName(got.Nodes, func(n *corev1.Node) string { return n.Name })
	if len(got.Nodes) != len(want.Nodes) {
		t.Errorf("%d nodes, want %d", len(got.Nodes), len(want.Nodes))
	}
	for i := range want.Nodes {
		w := &want.Nodes[i]
		g, ok := gotNodes[w.Name]
		if !ok {
			t.Errorf("node %s missing", w.Name)
			continue
		}
		if !materialize.IsKWOKNode(g) {
			t.Errorf("node %s is not marked as a KWOK node", w.Name)
		}
		for k, v := range w.Labels {
			if g.Labels[k] != v {
				t.Errorf("node %s: label %s=%q, want %q", w.Name, k, g.Labels[k], v)
			}
		}
		if !resourcesEqual(g.Status.Allocatable, w.Status.Allocatable) {
			t.Errorf("node %s: allocatable %v, want %v", w.Name, g.Status.Allocatable, w.Status.Allocatable)
		}
		if g.Status.NodeInfo.OSImage != w.Status.NodeInfo.OSImage {
			t.Errorf("node %s: OS image %q, want %q", w.Name, g.Status.NodeInfo.OSImage, w.Status.NodeInfo.OSImage)
		}
		if !sameTaints(g.Spec.Taints, w.Spec.Taints) {
			t.Errorf("node %s: taints %v, want %v", w.Name, g.Spec.Taints, w.Spec.Taints)
		}
		if !nodeReady(g) {
			t.Errorf("node %s is not Ready", w.Name)
		}
	}
}

func checkWorkloads(t *testing.T, want, got *snapshot.Snapshot) {
	for _, k := range []struct {
		kind      string
		want, got []string
	}{
		{"Deployment", names(want.Deployments), names(got.Deployments)},
		{"StatefulSet", names(want.StatefulSets), names(got.StatefulSets)},
		{"DaemonSet", names(want.DaemonSets), names(got.DaemonSets)},
		{"Job", names(want.Jobs), names(got.Jobs)},
		{"CronJob", names(want.CronJobs), names(got.CronJobs)},
		{"ReplicaSet with replicas", activeReplicaSets(want), activeReplicaSets(got)},
		{"bare pod", barePods(want), barePods(got)},
	} {
		if !slices.Equal(k.got, k.want) {
			t.Errorf("%s: got %d %v, want %d %v", k.kind, len(k.got), k.got, len(k.want), k.want)
		}
	}
	sw, sg := want.Summary(), got.Summary()
	for _, kind := range []string{snapshot.WorkloadDeployment, snapshot.WorkloadStatefulSet, snapshot.WorkloadDaemonSet,
		snapshot.WorkloadJob, snapshot.WorkloadCronJob, snapshot.WorkloadBarePod} {
		if sg.Workloads[kind] != sw.Workloads[kind] {
			t.Errorf("Summary().Workloads[%s] = %d, want %d", kind, sg.Workloads[kind], sw.Workloads[kind])
		}
	}
}

func checkTemplates(t *testing.T, want, got *snapshot.Snapshot) {
	type tmpl struct {
		kind, key string
		spec      *corev1.PodSpec
	}
	collect := func(s *snapshot.Snapshot) map[string]tmpl {
		m := map[string]tmpl{}
		for i := range s.Deployments {
			d := &s.Deployments[i]
			m["Deployment/"+d.Namespace+"/"+d.Name] = tmpl{"Deployment", d.Name, &d.Spec.Template.Spec}
		}
		for i := range s.StatefulSets {
			d := &s.StatefulSets[i]
			m["StatefulSet/"+d.Namespace+"/"+d.Name] = tmpl{"StatefulSet", d.Name, &d.Spec.Template.Spec}
		}
		for i := range s.DaemonSets {
			d := &s.DaemonSets[i]
			m["DaemonSet/"+d.Namespace+"/"+d.Name] = tmpl{"DaemonSet", d.Name, &d.Spec.Template.Spec}
		}
		for i := range s.Jobs {
			d := &s.Jobs[i]
			m["Job/"+d.Namespace+"/"+d.Name] = tmpl{"Job", d.Name, &d.Spec.Template.Spec}
		}
		return m
	}
	gm := collect(got)
	for key, w := range collect(want) {
		g, ok := gm[key]
		if !ok {
			continue // reported by checkWorkloads
		}
		ws, gs := w.spec, g.spec
		for _, f := range []struct {
			field     string
			want, got any
		}{
			{"nodeSelector", ws.NodeSelector, gs.NodeSelector},
			{"affinity", ws.Affinity, gs.Affinity},
			{"tolerations", ws.Tolerations, gs.Tolerations},
			{"topologySpreadConstraints", ws.TopologySpreadConstraints, gs.TopologySpreadConstraints},
			{"priorityClassName", ws.PriorityClassName, gs.PriorityClassName},
			{"requests", containerRequests(ws), containerRequests(gs)},
		} {
			if !apiequality.Semantic.DeepEqual(f.want, f.got) {
				t.Errorf("%s: spec.template.spec.%s = %v, want %v", key, f.field, f.got, f.want)
			}
		}
	}
}

func checkPDBs(t *testing.T, want, got *snapshot.Snapshot) {
	gm := map[string]string{}
	for i := range got.PodDisruptionBudgets {
		p := &got.PodDisruptionBudgets[i]
		gm[p.Namespace+"/"+p.Name] = budget(p.Spec.MinAvailable, p.Spec.MaxUnavailable)
	}
	if len(got.PodDisruptionBudgets) != len(want.PodDisruptionBudgets) {
		t.Errorf("%d PDBs, want %d", len(got.PodDisruptionBudgets), len(want.PodDisruptionBudgets))
	}
	for i := range want.PodDisruptionBudgets {
		p := &want.PodDisruptionBudgets[i]
		key := p.Namespace + "/" + p.Name
		if g, ok := gm[key]; !ok {
			t.Errorf("PDB %s missing", key)
		} else if w := budget(p.Spec.MinAvailable, p.Spec.MaxUnavailable); g != w {
			t.Errorf("PDB %s: %s, want %s", key, g, w)
		}
	}
	// The disruption controller has counted the pods again.
	for i := range got.PodDisruptionBudgets {
		p := &got.PodDisruptionBudgets[i]
		if p.Status.ExpectedPods == 0 && p.Spec.Selector != nil {
			t.Errorf("PDB %s/%s matches no pod", p.Namespace, p.Name)
		}
	}
}

func checkServices(t *testing.T, want, got *snapshot.Snapshot) {
	gm := byName(got.Services, func(s *corev1.Service) string { return s.Namespace + "/" + s.Name })
	if len(got.Services) < len(want.Services) {
		t.Errorf("%d Services, want at least %d", len(got.Services), len(want.Services))
	}
	for i := range want.Services {
		w := &want.Services[i]
		g, ok := gm[w.Namespace+"/"+w.Name]
		if !ok {
			t.Errorf("Service %s/%s missing", w.Namespace, w.Name)
			continue
		}
		if (w.Spec.ClusterIP == corev1.ClusterIPNone) != (g.Spec.ClusterIP == corev1.ClusterIPNone) {
			t.Errorf("Service %s/%s: clusterIP %q, want headless=%v", w.Namespace, w.Name, g.Spec.ClusterIP, w.Spec.ClusterIP == corev1.ClusterIPNone)
		}
		if !maps.Equal(g.Spec.Selector, w.Spec.Selector) || g.Spec.Type != w.Spec.Type {
			t.Errorf("Service %s/%s: type %s selector %v, want %s %v", w.Namespace, w.Name, g.Spec.Type, g.Spec.Selector, w.Spec.Type, w.Spec.Selector)
		}
	}
}

func checkPods(t *testing.T, want, got *snapshot.Snapshot) {
	nodes := byName(got.Nodes, func(n *corev1.Node) string { return n.Name })
	running := 0
	for i := range got.Pods {
		p := &got.Pods[i]
		n, ok := nodes[p.Spec.NodeName]
		switch {
		case p.Status.Phase != corev1.PodRunning || !podReady(p):
			t.Errorf("pod %s/%s is %s, not Running and Ready", p.Namespace, p.Name, p.Status.Phase)
		case !ok || !materialize.IsKWOKNode(n):
			t.Errorf("pod %s/%s runs on %q, not on a KWOK node", p.Namespace, p.Name, p.Spec.NodeName)
		default:
			running++
		}
	}
	if len(got.Pods) != len(want.Pods) {
		t.Errorf("%d pods, want %d", len(got.Pods), len(want.Pods))
	}
	gw, ww := podsPerWorkload(got), podsPerWorkload(want)
	for _, k := range slices.Sorted(maps.Keys(ww)) {
		if gw[k] != ww[k] {
			t.Errorf("%s: %d pods, want %d", k, gw[k], ww[k])
		}
	}
	t.Logf("%d pods Running and Ready on KWOK nodes", running)
}

func checkVolumes(t *testing.T, want, got *snapshot.Snapshot) {
	gm := byName(got.PersistentVolumeClaims, func(c *corev1.PersistentVolumeClaim) string { return c.Namespace + "/" + c.Name })
	for i := range want.PersistentVolumeClaims {
		w := &want.PersistentVolumeClaims[i]
		key := w.Namespace + "/" + w.Name
		g, ok := gm[key]
		switch {
		case !ok:
			t.Errorf("claim %s missing", key)
		case g.Spec.VolumeName != w.Spec.VolumeName:
			t.Errorf("claim %s bound to %q, want %q", key, g.Spec.VolumeName, w.Spec.VolumeName)
		case g.Status.Phase != corev1.ClaimBound:
			t.Errorf("claim %s is %s, not Bound", key, g.Status.Phase)
		}
	}
	// A pod whose claim is bound to a volume pinned to one node runs there.
	volumeNode := map[string]string{}
	for i := range got.PersistentVolumes {
		pv := &got.PersistentVolumes[i]
		if host := pinnedHost(pv); host != "" {
			volumeNode[pv.Name] = host
		}
	}
	pinned := 0
	for i := range got.Pods {
		p := &got.Pods[i]
		for _, v := range p.Spec.Volumes {
			if v.PersistentVolumeClaim == nil {
				continue
			}
			c, ok := gm[p.Namespace+"/"+v.PersistentVolumeClaim.ClaimName]
			if !ok {
				continue
			}
			if host, ok := volumeNode[c.Spec.VolumeName]; ok {
				pinned++
				if p.Spec.NodeName != host {
					t.Errorf("pod %s/%s on %s, but its local volume %s is on %s", p.Namespace, p.Name, p.Spec.NodeName, c.Spec.VolumeName, host)
				}
			}
		}
	}
	t.Logf("%d pods on node-local volumes, each on its volume's node", pinned)
}

func checkCaptureMetadata(t *testing.T, _, got *snapshot.Snapshot) {
	if got.ServerVersion == "" || got.Source != capture.Source || got.TakenAt.IsZero() {
		t.Errorf("serverVersion %q, source %q, takenAt %v: want all set", got.ServerVersion, got.Source, got.TakenAt)
	}
	for i := range got.Pods {
		p := &got.Pods[i]
		if len(p.ManagedFields) > 0 {
			t.Fatalf("pod %s/%s kept its managedFields", p.Namespace, p.Name)
		}
		for _, c := range p.Spec.Containers {
			for _, e := range c.Env {
				if e.Value != "" && e.Value != snapshot.Redacted {
					t.Fatalf("pod %s/%s container %s kept the value of %s", p.Namespace, p.Name, c.Name, e.Name)
				}
			}
		}
	}
	counts := 0
	for _, c := range got.NamespaceCounts {
		counts += c.ServiceAccounts
		if c.ConfigMapBytes != 0 || c.SecretBytes != 0 {
			t.Errorf("capture reported ConfigMap or Secret sizes: it must not read their data")
		}
	}
	if counts == 0 {
		t.Errorf("no ServiceAccount counted")
	}
}

// Helpers.

func byName[T any](items []T, key func(*T) string) map[string]*T {
	m := make(map[string]*T, len(items))
	for i := range items {
		m[key(&items[i])] = &items[i]
	}
	return m
}

func names[T any, P interface {
	*T
	metav1.Object
}](items []T) []string {
	out := make([]string, len(items))
	for i := range items {
		o := P(&items[i])
		out[i] = o.GetNamespace() + "/" + o.GetName()
	}
	slices.Sort(out)
	return out
}

func activeReplicaSets(s *snapshot.Snapshot) []string {
	var out []string
	for i := range s.ReplicaSets {
		rs := &s.ReplicaSets[i]
		if rs.Spec.Replicas == nil || *rs.Spec.Replicas > 0 {
			out = append(out, rs.Namespace+"/"+ownerName(rs.OwnerReferences, rs.Name))
		}
	}
	slices.Sort(out)
	return out
}

func barePods(s *snapshot.Snapshot) []string {
	var out []string
	for i := range s.Pods {
		if metav1.GetControllerOf(&s.Pods[i]) == nil {
			out = append(out, s.Pods[i].Namespace+"/"+s.Pods[i].Name)
		}
	}
	slices.Sort(out)
	return out
}

func ownerName(refs []metav1.OwnerReference, self string) string {
	for _, r := range refs {
		if r.Controller != nil && *r.Controller {
			return r.Kind + "/" + r.Name
		}
	}
	return self
}

// podsPerWorkload counts pods by namespace and top-level workload (a
// ReplicaSet's pods count for its Deployment, whose ReplicaSet names differ
// between clusters).
func podsPerWorkload(s *snapshot.Snapshot) map[string]int {
	rsOwner := map[string]string{}
	for i := range s.ReplicaSets {
		rs := &s.ReplicaSets[i]
		rsOwner[rs.Namespace+"/"+rs.Name] = ownerName(rs.OwnerReferences, "ReplicaSet/"+rs.Name)
	}
	out := map[string]int{}
	for i := range s.Pods {
		p := &s.Pods[i]
		owner := metav1.GetControllerOf(p)
		key := p.Namespace + "/bare"
		switch {
		case owner == nil:
		case owner.Kind == "ReplicaSet":
			key = p.Namespace + "/" + rsOwner[p.Namespace+"/"+owner.Name]
		default:
			key = p.Namespace + "/" + owner.Kind + "/" + owner.Name
		}
		out[key]++
	}
	return out
}

func containerRequests(spec *corev1.PodSpec) map[string]corev1.ResourceList {
	out := map[string]corev1.ResourceList{}
	for _, c := range spec.InitContainers {
		out["init/"+c.Name] = c.Resources.Requests
	}
	for _, c := range spec.Containers {
		out[c.Name] = c.Resources.Requests
	}
	return out
}

func budget(minAvailable, maxUnavailable fmt.Stringer) string {
	return fmt.Sprintf("minAvailable=%v maxUnavailable=%v", minAvailable, maxUnavailable)
}

func resourcesEqual(a, b corev1.ResourceList) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || v.Cmp(w) != 0 {
			return false
		}
	}
	return true
}

func sameTaints(got, want []corev1.Taint) bool {
	key := func(t corev1.Taint) string { return t.Key + "=" + t.Value + ":" + string(t.Effect) }
	var g, w []string
	for _, t := range got {
		g = append(g, key(t))
	}
	for _, t := range want {
		w = append(w, key(t))
	}
	slices.Sort(g)
	slices.Sort(w)
	return slices.Equal(g, w)
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// pinnedHost returns the single hostname a volume's node affinity requires,
// if any.
func pinnedHost(pv *corev1.PersistentVolume) string {
	if pv.Spec.NodeAffinity == nil || pv.Spec.NodeAffinity.Required == nil {
		return ""
	}
	for _, term := range pv.Spec.NodeAffinity.Required.NodeSelectorTerms {
		for _, e := range term.MatchExpressions {
			if e.Key == corev1.LabelHostname && e.Operator == corev1.NodeSelectorOpIn && len(e.Values) == 1 {
				return e.Values[0]
			}
		}
	}
	return ""
}
