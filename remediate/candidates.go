package remediate

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/noderoll/noderoll/analysis"
	"github.com/noderoll/noderoll/plan"
	"github.com/noderoll/noderoll/sim"
	"github.com/noderoll/noderoll/snapshot"
	"github.com/noderoll/noderoll/whatif"
)

// workload is a pod controller a fix can change.
type workload struct {
	kind, namespace, name string
	replicas              int32
	selector              *metav1.LabelSelector
	// model is one of its pods, for the requests of a new replica.
	model *corev1.Pod
	// claims: a StatefulSet with volumeClaimTemplates (cannot be scaled
	// up in a what-if).
	claims bool
	uid    types.UID
	// colocated: its pods require, by a podAffinity term on the node's
	// hostname that selects their own labels, to run on a node that
	// already holds one of them. Every replica shares one node; once that
	// node is cordoned no replacement can be placed while one of them is
	// left on it, so its drain takes them all down at once. No replica
	// count, budget or surge node avoids that outage: more replicas land
	// on the same node, and a budget that keeps one of them makes the
	// drain wait forever.
	colocated bool
}

func (w *workload) object() string { return w.kind + "/" + w.namespace + "/" + w.name }

// index finds, in a snapshot, the workload of a pod and the pods and
// budgets of a namespace.
type index struct {
	snap        *snapshot.Snapshot
	byUID       map[types.UID]*workload
	rsToDeploy  map[types.UID]types.UID
	podsByNS    map[string][]*corev1.Pod
	budgetsByNS map[string][]*policyv1.PodDisruptionBudget
	pdbNames    map[string]bool
}

func newIndex(s *snapshot.Snapshot) *index {
	ix := &index{snap: s, byUID: map[types.UID]*workload{}, rsToDeploy: map[types.UID]types.UID{},
		podsByNS: map[string][]*corev1.Pod{}, budgetsByNS: map[string][]*policyv1.PodDisruptionBudget{}, pdbNames: map[string]bool{}}
	for i := range s.Deployments {
		d := &s.Deployments[i]
		ix.byUID[d.UID] = &workload{kind: "Deployment", namespace: d.Namespace, name: d.Name, replicas: replicasOf(d.Spec.Replicas), selector: d.Spec.Selector, uid: d.UID}
	}
	for i := range s.ReplicaSets {
		rs := &s.ReplicaSets[i]
		if ref := metav1.GetControllerOf(rs); ref != nil && ref.Kind == "Deployment" && ix.byUID[ref.UID] != nil {
			ix.rsToDeploy[rs.UID] = ref.UID
			continue
		}
		ix.byUID[rs.UID] = &workload{kind: "ReplicaSet", namespace: rs.Namespace, name: rs.Name, replicas: replicasOf(rs.Spec.Replicas), selector: rs.Spec.Selector, uid: rs.UID}
	}
	for i := range s.StatefulSets {
		ss := &s.StatefulSets[i]
		ix.byUID[ss.UID] = &workload{kind: "StatefulSet", namespace: ss.Namespace, name: ss.Name, replicas: replicasOf(ss.Spec.Replicas),
			selector: ss.Spec.Selector, claims: len(ss.Spec.VolumeClaimTemplates) > 0, uid: ss.UID}
	}
	for i := range s.Pods {
		p := &s.Pods[i]
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		ix.podsByNS[p.Namespace] = append(ix.podsByNS[p.Namespace], p)
		if w := ix.workloadOf(p); w != nil && w.model == nil {
			w.model = p
			w.colocated = selfColocated(p)
		}
	}
	for i := range s.PodDisruptionBudgets {
		b := &s.PodDisruptionBudgets[i]
		ix.budgetsByNS[b.Namespace] = append(ix.budgetsByNS[b.Namespace], b)
		ix.pdbNames[b.Namespace+"/"+b.Name] = true
	}
	return ix
}

// selfColocated reports whether a pod requires a node that already runs a
// pod of its own kind: a required podAffinity term on kubernetes.io/hostname
// whose selector matches the pod's labels in its own namespace. The
// scheduler places the first such pod anywhere only when no pod matches the
// term; while one is left, on a cordoned node, the others cannot be placed.
func selfColocated(p *corev1.Pod) bool {
	a := p.Spec.Affinity
	if a == nil || a.PodAffinity == nil {
		return false
	}
	for _, t := range a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
		if t.TopologyKey != corev1.LabelHostname || t.LabelSelector == nil {
			continue
		}
		ownNS := slices.Contains(t.Namespaces, p.Namespace) ||
			(len(t.Namespaces) == 0 && (t.NamespaceSelector == nil || len(t.NamespaceSelector.MatchLabels)+len(t.NamespaceSelector.MatchExpressions) == 0))
		sel, err := metav1.LabelSelectorAsSelector(t.LabelSelector)
		if err == nil && ownNS && !sel.Empty() && sel.Matches(labels.Set(p.Labels)) {
			return true
		}
	}
	return false
}

func replicasOf(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

// workloadOf is the pod's workload: its Deployment through its
// ReplicaSet, or its ReplicaSet or StatefulSet; nil for other pods.
func (ix *index) workloadOf(p *corev1.Pod) *workload {
	ref := metav1.GetControllerOf(p)
	if ref == nil {
		return nil
	}
	uid := ref.UID
	if d, ok := ix.rsToDeploy[uid]; ok {
		uid = d
	}
	return ix.byUID[uid]
}

// serviceWorkloads are the workloads of the pods a Service selects.
func (ix *index) serviceWorkloads(ns, name string) []*workload {
	var sel labels.Selector
	for i := range ix.snap.Services {
		if sv := &ix.snap.Services[i]; sv.Namespace == ns && sv.Name == name && len(sv.Spec.Selector) > 0 {
			sel = labels.SelectorFromSet(sv.Spec.Selector)
		}
	}
	if sel == nil {
		return nil
	}
	seen := map[*workload]bool{}
	var out []*workload
	for _, p := range ix.podsByNS[ns] {
		if !sel.Matches(labels.Set(p.Labels)) {
			continue
		}
		if w := ix.workloadOf(p); w != nil && !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].object() < out[j].object() })
	return out
}

// covered reports whether a budget selects one of the workload's pods.
func (ix *index) covered(w *workload) bool {
	for _, b := range ix.budgetsByNS[w.namespace] {
		for _, p := range ix.podsByNS[w.namespace] {
			if ix.workloadOf(p) == w && plan.Selects(b, p) {
				return true
			}
		}
	}
	return false
}

// zeroBudget reports whether a budget allows no disruption even with every
// pod it selects Ready.
func (ix *index) zeroBudget(b *policyv1.PodDisruptionBudget) bool {
	var matching []*corev1.Pod
	seen := map[*workload]bool{}
	var expected int32
	for _, p := range ix.podsByNS[b.Namespace] {
		if !plan.Selects(b, p) {
			continue
		}
		ready := p.DeepCopy()
		ready.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		matching = append(matching, ready)
		if w := ix.workloadOf(p); w != nil && !seen[w] {
			seen[w] = true
			expected += w.replicas
		}
	}
	st, err := plan.Budget(b, matching, expected)
	return err == nil && st.ExpectedPods > 0 && st.DisruptionsAllowed == 0
}

// colocatedBudget returns the co-located workloads a budget covers when
// every pod it selects belongs to one (nil otherwise): a drain of their
// node must evict all of them, which a budget keeping any of them forbids.
func (ix *index) colocatedBudget(b *policyv1.PodDisruptionBudget) []*workload {
	seen := map[*workload]bool{}
	var out []*workload
	for _, p := range ix.podsByNS[b.Namespace] {
		if !plan.Selects(b, p) {
			continue
		}
		w := ix.workloadOf(p)
		if w == nil || !w.colocated {
			return nil
		}
		if !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].object() < out[j].object() })
	return out
}

// requests sums a pod's container requests: cores and GiB.
func requests(p *corev1.Pod) (cpu, memGiB float64) {
	if p == nil {
		return 0, 0
	}
	for _, c := range p.Spec.Containers {
		cpu += float64(c.Resources.Requests.Cpu().MilliValue()) / 1000
		memGiB += float64(c.Resources.Requests.Memory().Value()) / (1 << 30)
	}
	return cpu, memGiB
}

// candidates are the fixes for the blocking risks of res, run on the
// what-if snapshot a, that were not tried yet, best first. Fixes that
// address the same object are merged.
func candidates(a *whatif.Applied, res *sim.Result, tried map[string]bool) []Fix {
	ix := newIndex(a.Snapshot)
	byKey := map[string]*Fix{}
	var order []string
	add := func(f Fix, risk string) {
		if tried[f.key] {
			return
		}
		if g, ok := byKey[f.key]; ok {
			if !contains(g.Addresses, risk) {
				g.Addresses = append(g.Addresses, risk)
			}
			return
		}
		f.Addresses = []string{risk}
		byKey[f.key] = &f
		order = append(order, f.key)
	}
	for _, r := range res.Risks {
		key := r.Code + " " + r.Object
		switch r.Code {
		case plan.RiskServiceOutage:
			if a.Accepted[r.Object] {
				continue
			}
			parts := strings.SplitN(r.Object, "/", 3)
			if len(parts) != 3 {
				continue
			}
			for _, w := range ix.serviceWorkloads(parts[1], parts[2]) {
				switch {
				case w.colocated:
					// Neither a replica nor a budget avoids the outage
					// (see workload.colocated): it is accepted after the
					// rounds; a budget would only make the drain stick.
				case w.replicas <= 1 && !(w.kind == "StatefulSet" && w.claims):
					add(scaleFix(w, 2), key)
				case w.replicas >= 2 && !ix.covered(w):
					add(newBudgetFix(ix, w), key)
				}
			}
		case plan.RiskDrainStuck:
			for _, m := range blockedBy.FindAllStringSubmatch(r.Message, -1) {
				for _, b := range ix.budgetsByNS[m[1]] {
					if b.Name != m[2] {
						continue
					}
					if ws := ix.colocatedBudget(b); len(ws) > 0 {
						add(groupBudgetFix(b, ws), key)
					} else if ix.zeroBudget(b) {
						add(relaxBudgetFix(b), key)
					}
				}
			}
		case plan.RiskUnmanagedPod:
			ns, name, ok := strings.Cut(strings.TrimPrefix(r.Object, "Pod/"), "/")
			if ok {
				add(deletePodFix(ns, name), key)
			}
		}
	}
	out := make([]Fix, 0, len(order))
	for _, k := range order {
		out = append(out, *byKey[k])
	}
	sortFixes(out)
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func scaleFix(w *workload, to int32) Fix {
	cpu, mem := requests(w.model)
	n := float64(to - w.replicas)
	kind, ns, name := w.kind, w.namespace, w.name
	return Fix{Kind: "scale", Object: w.object(), key: "scale " + w.object(),
		Change: fmt.Sprintf("scale from %d to %d replicas", w.replicas, to),
		Cost:   Cost{CPU: cpu * n, MemoryGiB: mem * n},
		Apply:  fmt.Sprintf("kubectl scale %s/%s -n %s --replicas=%d", strings.ToLower(kind), name, ns, to),
		edit: func(f *whatif.File) {
			f.Replicas = append(f.Replicas, whatif.Replicas{Kind: kind, Namespace: ns, Name: name, Replicas: to})
		}}
}

func newBudgetFix(ix *index, w *workload) Fix {
	name := w.name
	for i := 2; ix.pdbNames[w.namespace+"/"+name]; i++ {
		name = fmt.Sprintf("%s-%d", w.name, i)
	}
	one := intstr.FromInt32(1)
	sel := w.selector.DeepCopy()
	ns := w.namespace
	return Fix{Kind: "pdb", Object: "PodDisruptionBudget/" + ns + "/" + name, key: "pdb-new " + w.object(),
		Change: fmt.Sprintf("add a budget with maxUnavailable: 1 over %s's %d replicas", w.object(), w.replicas),
		Apply:  budgetManifest(ns, name, sel, &one),
		edit: func(f *whatif.File) {
			f.PDBs = append(f.PDBs, whatif.PDB{Namespace: ns, Name: name, Selector: sel, MaxUnavailable: &one})
		}}
}

func relaxBudgetFix(b *policyv1.PodDisruptionBudget) Fix {
	one := intstr.FromInt32(1)
	ns, name := b.Namespace, b.Name
	sel := b.Spec.Selector.DeepCopy()
	return Fix{Kind: "pdb", Object: "PodDisruptionBudget/" + ns + "/" + name, key: "pdb-relax " + ns + "/" + name,
		Change: fmt.Sprintf("replace %s (allows no disruption) with maxUnavailable: 1", plan.PDBBudget(b)),
		Apply:  budgetManifest(ns, name, sel, &one),
		edit: func(f *whatif.File) {
			f.PDBs = append(f.PDBs, whatif.PDB{Namespace: ns, Name: name, MaxUnavailable: &one})
		}}
}

// groupBudgetFix lets a budget over co-located replicas (see
// workload.colocated) be disrupted whole: their node's drain must evict
// them all before any replacement can be placed, so no budget that keeps
// one of them can ever be met. The outage that follows is accepted (see
// acceptable), not hidden.
func groupBudgetFix(b *policyv1.PodDisruptionBudget, ws []*workload) Fix {
	all := intstr.FromString("100%")
	ns, name := b.Namespace, b.Name
	sel := b.Spec.Selector.DeepCopy()
	objs := make([]string, len(ws))
	for i, w := range ws {
		objs[i] = w.object()
	}
	return Fix{Kind: "pdb", Object: "PodDisruptionBudget/" + ns + "/" + name, key: "pdb-group " + ns + "/" + name,
		Change: fmt.Sprintf("replace %s with maxUnavailable: 100%% (the replicas of %s require one another's node, podAffinity on %s: the drain must evict them all before one can be placed again, which a budget keeping any of them forbids; their outage is accepted)",
			plan.PDBBudget(b), strings.Join(objs, ", "), corev1.LabelHostname),
		Apply: budgetManifest(ns, name, sel, &all),
		edit: func(f *whatif.File) {
			f.PDBs = append(f.PDBs, whatif.PDB{Namespace: ns, Name: name, MaxUnavailable: &all})
		}}
}

func deletePodFix(ns, name string) Fix {
	return Fix{Kind: "deletePod", Object: "Pod/" + ns + "/" + name, key: "delete " + ns + "/" + name,
		Change: "delete the bare pod before the rollout (the drain deletes it anyway; recreate it under a controller if it matters)",
		Apply:  fmt.Sprintf("kubectl delete pod %s -n %s", name, ns),
		edit:   func(f *whatif.File) { f.DeletePods = append(f.DeletePods, ns+"/"+name) }}
}

// budgetManifest is a PodDisruptionBudget to kubectl apply.
func budgetManifest(ns, name string, sel *metav1.LabelSelector, maxUnavailable *intstr.IntOrString) string {
	pdb := policyv1.PodDisruptionBudget{
		TypeMeta:   metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       policyv1.PodDisruptionBudgetSpec{Selector: sel, MaxUnavailable: maxUnavailable},
	}
	data, err := yaml.Marshal(struct {
		APIVersion string                           `json:"apiVersion"`
		Kind       string                           `json:"kind"`
		Metadata   map[string]string                `json:"metadata"`
		Spec       policyv1.PodDisruptionBudgetSpec `json:"spec"`
	}{pdb.APIVersion, pdb.Kind, map[string]string{"namespace": ns, "name": name}, pdb.Spec})
	if err != nil {
		return fmt.Sprintf("# %s/%s: %v", ns, name, err)
	}
	return string(data)
}

// surgeFix is the minimal surge as a fix.
func surgeFix(s analysis.SurgeSearch, shape string, after, before *sim.Result) Fix {
	var addr []string
	for _, r := range before.Risks {
		if r.Code == plan.RiskCapacityShortfall || r.Code == plan.RiskUnschedulable {
			addr = append(addr, r.Code+" "+r.Object)
		}
	}
	n := s.Nodes
	return Fix{Kind: "surge", Object: fmt.Sprintf("Node/%s-001..%03d", whatif.DefaultSurgePrefix, n), key: "surge",
		Change:    fmt.Sprintf("add %d surge nodes shaped like %s before the rollout (found by bisection in %d runs: the fewest with no capacity shortfall and no unschedulable pod surge can place)", n, shape, s.Runs),
		Addresses: addr, Cost: Cost{MachineHours: float64(n) * after.Summary.DurationSeconds / 3600},
		Apply: fmt.Sprintf("register %d nodes shaped like %s named %s-001 to %s-%03d before the rollout; remove them after it", n, shape, whatif.DefaultSurgePrefix, whatif.DefaultSurgePrefix, n),
		Round: 0}
}

// acceptable are the outages left that no change a what-if can make
// avoids: a Service whose workloads include pods bound to node-local
// volumes (a LocalStorage risk) waits for their node; a single-replica
// StatefulSet with volume claims cannot be given a replica without
// volumes the simulation cannot provision (and, for a database, without
// the application's own clustering). They are accepted, to be announced
// (or the workload scaled in the cluster and the snapshot captured
// again).
func acceptable(a *whatif.Applied, res *sim.Result) []Fix {
	local := map[string]bool{}
	for _, r := range res.Risks {
		if r.Code == plan.RiskLocalStorage {
			local[r.Object] = true
		}
	}
	ix := newIndex(a.Snapshot)
	var out []Fix
	for _, r := range res.Risks {
		if r.Code != plan.RiskServiceOutage || a.Accepted[r.Object] {
			continue
		}
		parts := strings.SplitN(r.Object, "/", 3)
		if len(parts) != 3 {
			continue
		}
		why := ""
		ws := ix.serviceWorkloads(parts[1], parts[2])
		// Co-location excuses the outage only when every workload behind
		// the Service is co-located: another one could have been given a
		// replica or a budget.
		allColocated := len(ws) > 0
		for _, w := range ws {
			allColocated = allColocated && w.colocated
		}
		for _, w := range ws {
			switch {
			case local[w.object()]:
				why = "its pods wait on node-local volumes for their node"
			case why == "" && allColocated:
				why = fmt.Sprintf("the replicas of %s require one another's node (podAffinity on %s): draining it takes them all down at once, and no replica count, budget or surge node avoids that (make the affinity preferred in the cluster, and capture again)", w.object(), corev1.LabelHostname)
			case why == "" && w.kind == "StatefulSet" && w.claims && w.replicas <= 1:
				why = "a single-replica StatefulSet with volume claims (scale it in the cluster if the application supports it, and capture again)"
			}
		}
		if why == "" {
			continue
		}
		svc := parts[1] + "/" + parts[2]
		down := 0.0
		for _, sv := range res.Services {
			if sv.Service == r.Object {
				down = sv.DownSeconds
			}
		}
		out = append(out, Fix{Kind: "acceptOutage", Object: r.Object, key: "accept " + svc, Addresses: []string{r.Code + " " + r.Object},
			Change: fmt.Sprintf("accept and announce %.0fs without ready endpoints: %s", down, why),
			Apply:  fmt.Sprintf("announce the outage of Service %s to its owners", svc),
			edit:   func(f *whatif.File) { f.AcceptOutage = append(f.AcceptOutage, svc) }})
	}
	return out
}
