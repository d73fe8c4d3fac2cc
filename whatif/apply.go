package whatif

import (
	"context"
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/noderoll/noderoll/plan"
	"github.com/noderoll/noderoll/scheduler"
	"github.com/noderoll/noderoll/sim"
	"github.com/noderoll/noderoll/snapshot"
)

// Applied is a what-if file applied to a snapshot.
type Applied struct {
	// Source names the file ("" when there is none).
	Source string
	// File is what was applied; nil when nothing was.
	File *File
	// Snapshot is the snapshot with the overrides applied: what the
	// simulator runs. It shares every object the file does not change with
	// the original, which is never modified.
	Snapshot *snapshot.Snapshot
	// Planning is Snapshot without the excluded and the surge nodes: what
	// the plan generators see, so that no batch holds them.
	Planning *snapshot.Snapshot
	// Config is the simulation config with the file's timings appended.
	Config sim.Config
	// Log says what each override did, one line each, in the order
	// applied.
	Log []string
	// SurgeNodes are the names of the nodes the file added.
	SurgeNodes []string
	// Accepted are the Services ("Service/namespace/name") whose outage is
	// accepted.
	Accepted map[string]bool

	originalFingerprint string
}

// None is the identity: the snapshot and config as they are.
func None(snap *snapshot.Snapshot, cfg sim.Config) *Applied {
	return &Applied{Snapshot: snap, Planning: snap, Config: cfg, Accepted: map[string]bool{}}
}

// ApplyOptions configure Apply.
type ApplyOptions struct {
	// Scheduler places the replicas a file adds (its seed and profile
	// should be the simulation's).
	Scheduler scheduler.Options
}

// Apply applies f (read from source) to a copy of snap, and its timings to
// cfg. A nil or empty f gives None.
func Apply(ctx context.Context, source string, f *File, snap *snapshot.Snapshot, cfg sim.Config, opts ApplyOptions) (*Applied, error) {
	if f.Empty() {
		a := None(snap, cfg)
		a.Source, a.File = source, f
		return a, nil
	}
	c := *snap
	// Own slices: the overrides replace, add and drop elements; the
	// elements themselves are deep-copied only when changed.
	c.Nodes = append([]corev1.Node(nil), snap.Nodes...)
	c.Pods = append([]corev1.Pod(nil), snap.Pods...)
	c.PodDisruptionBudgets = append([]policyv1.PodDisruptionBudget(nil), snap.PodDisruptionBudgets...)
	c.Deployments = append([]appsv1.Deployment(nil), snap.Deployments...)
	c.ReplicaSets = append([]appsv1.ReplicaSet(nil), snap.ReplicaSets...)
	c.StatefulSets = append([]appsv1.StatefulSet(nil), snap.StatefulSets...)
	c.Warnings = nil
	a := &Applied{Source: source, File: f, Snapshot: &c, Config: cfg, Accepted: map[string]bool{}, originalFingerprint: snap.Fingerprint()}
	a.Config.Overrides = append(append([]sim.Override(nil), cfg.Overrides...), f.Timings...)
	bad := func(field, object, reason string) error {
		return &FileError{File: source, Field: field, Object: object, Reason: reason}
	}
	if err := a.excludeNamespaces(f.ExcludeNamespaces); err != nil {
		return nil, err
	}
	for i, key := range f.DeletePods {
		if err := a.deletePod(key); err != nil {
			return nil, bad(fmt.Sprintf("deletePods[%d]", i), "Pod/"+key, err.Error())
		}
	}
	for i, p := range f.PDBs {
		if err := a.pdb(p); err != nil {
			return nil, bad(fmt.Sprintf("pdbs[%d]", i), "PodDisruptionBudget/"+p.Namespace+"/"+p.Name, err.Error())
		}
	}
	if f.Surge != nil && f.Surge.Nodes > 0 {
		if err := a.surge(*f.Surge); err != nil {
			return nil, bad("surge", "", err.Error())
		}
	}
	if len(f.Replicas) > 0 {
		sched, err := scheduler.New(ctx, a.Snapshot, opts.Scheduler)
		if err != nil {
			return nil, fmt.Errorf("building the scheduler to place the what-if replicas: %w", err)
		}
		for i, r := range f.Replicas {
			if err := a.scale(ctx, sched, r); err != nil {
				return nil, bad(fmt.Sprintf("replicas[%d]", i), r.Kind+"/"+r.Namespace+"/"+r.Name, err.Error())
			}
		}
	}
	for i, t := range f.Timings {
		var what []string
		if t.PodStartupSeconds != nil {
			what = append(what, fmt.Sprintf("start-up %gs", *t.PodStartupSeconds))
		}
		if t.TerminationSeconds != nil {
			what = append(what, fmt.Sprintf("termination %gs", *t.TerminationSeconds))
		}
		scope := "all namespaces"
		if t.Namespace != "" {
			scope = "namespace " + t.Namespace
		}
		if t.Selector != nil {
			scope += ", pods " + metav1.FormatLabelSelector(t.Selector)
		}
		a.logf("timings[%d]: %s for %s", i, strings.Join(what, " and "), scope)
	}
	services := map[string]bool{}
	for i := range a.Snapshot.Services {
		s := &a.Snapshot.Services[i]
		services[s.Namespace+"/"+s.Name] = true
	}
	for i, s := range f.AcceptOutage {
		if !services[s] {
			return nil, bad(fmt.Sprintf("acceptOutage[%d]", i), "Service/"+s, "no such Service in the snapshot")
		}
		a.Accepted["Service/"+s] = true
		a.logf("Service/%s: outage accepted (does not block approval)", s)
	}
	nodes := map[string]bool{}
	for i := range a.Snapshot.Nodes {
		nodes[a.Snapshot.Nodes[i].Name] = true
	}
	left := map[string]bool{}
	for i, n := range f.ExcludeNodes {
		if !nodes[n] {
			return nil, bad(fmt.Sprintf("excludeNodes[%d]", i), "Node/"+n, "no such node in the snapshot")
		}
		left[n] = true
		a.logf("Node/%s: left out of the rollout", n)
	}
	for _, n := range a.SurgeNodes {
		left[n] = true
	}
	p := *a.Snapshot
	p.Nodes = nil
	for _, n := range a.Snapshot.Nodes {
		if !left[n.Name] {
			p.Nodes = append(p.Nodes, n)
		}
	}
	a.Planning = &p
	return a, nil
}

func (a *Applied) logf(format string, args ...any) {
	a.Log = append(a.Log, fmt.Sprintf(format, args...))
}

// excludeNamespaces drops every namespaced object of the namespaces.
func (a *Applied) excludeNamespaces(namespaces []string) error {
	if len(namespaces) == 0 {
		return nil
	}
	out := map[string]bool{}
	for _, ns := range namespaces {
		out[ns] = true
	}
	s := a.Snapshot
	known := map[string]bool{}
	for i := range s.Namespaces {
		known[s.Namespaces[i].Name] = true
	}
	for i := range s.Pods {
		known[s.Pods[i].Namespace] = true
	}
	for i, ns := range namespaces {
		if !known[ns] {
			return &FileError{File: a.Source, Field: fmt.Sprintf("excludeNamespaces[%d]", i), Object: "Namespace/" + ns, Reason: "no such namespace in the snapshot"}
		}
	}
	pods := 0
	s.Pods = filter(s.Pods, func(p *corev1.Pod) bool { keep := !out[p.Namespace]; pods += boolInt(!keep); return keep })
	s.PodDisruptionBudgets = filter(s.PodDisruptionBudgets, func(p *policyv1.PodDisruptionBudget) bool { return !out[p.Namespace] })
	s.Deployments = filter(s.Deployments, func(d *appsv1.Deployment) bool { return !out[d.Namespace] })
	s.ReplicaSets = filter(s.ReplicaSets, func(r *appsv1.ReplicaSet) bool { return !out[r.Namespace] })
	s.StatefulSets = filter(s.StatefulSets, func(r *appsv1.StatefulSet) bool { return !out[r.Namespace] })
	s.DaemonSets = filter(append([]appsv1.DaemonSet(nil), s.DaemonSets...), func(r *appsv1.DaemonSet) bool { return !out[r.Namespace] })
	s.Services = filter(append([]corev1.Service(nil), s.Services...), func(r *corev1.Service) bool { return !out[r.Namespace] })
	s.PersistentVolumeClaims = filter(append([]corev1.PersistentVolumeClaim(nil), s.PersistentVolumeClaims...), func(r *corev1.PersistentVolumeClaim) bool { return !out[r.Namespace] })
	jobs := append(s.Jobs[:0:0], s.Jobs...)
	s.Jobs = jobs[:0]
	for _, j := range jobs {
		if !out[j.Namespace] {
			s.Jobs = append(s.Jobs, j)
		}
	}
	for _, ns := range namespaces {
		a.logf("Namespace/%s: left out of the simulation", ns)
	}
	a.logf("excludeNamespaces: %d pods not simulated", pods)
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// filter keeps the elements keep says to keep, in place.
func filter[T any](list []T, keep func(*T) bool) []T {
	out := list[:0]
	for i := range list {
		if keep(&list[i]) {
			out = append(out, list[i])
		}
	}
	return out
}

// deletePod removes a bare pod.
func (a *Applied) deletePod(key string) error {
	ns, name, _ := strings.Cut(key, "/")
	for i := range a.Snapshot.Pods {
		p := &a.Snapshot.Pods[i]
		if p.Namespace != ns || p.Name != name {
			continue
		}
		if ref := metav1.GetControllerOf(p); ref != nil {
			return fmt.Errorf("the pod has a controller (%s %s): scale the controller instead", ref.Kind, ref.Name)
		}
		a.Snapshot.Pods = append(a.Snapshot.Pods[:i], a.Snapshot.Pods[i+1:]...)
		a.logf("Pod/%s: deleted before the rollout", key)
		return nil
	}
	return fmt.Errorf("no such pod in the snapshot")
}

// pdb adds, replaces or deletes a budget.
func (a *Applied) pdb(o PDB) error {
	s := a.Snapshot
	idx := -1
	for i := range s.PodDisruptionBudgets {
		if p := &s.PodDisruptionBudgets[i]; p.Namespace == o.Namespace && p.Name == o.Name {
			idx = i
		}
	}
	obj := "PodDisruptionBudget/" + o.Namespace + "/" + o.Name
	if o.Delete {
		if idx < 0 {
			return fmt.Errorf("no such budget to delete")
		}
		s.PodDisruptionBudgets = append(s.PodDisruptionBudgets[:idx], s.PodDisruptionBudgets[idx+1:]...)
		a.logf("%s: deleted", obj)
		return nil
	}
	var pdb policyv1.PodDisruptionBudget
	verb := "added"
	if idx >= 0 {
		pdb = *s.PodDisruptionBudgets[idx].DeepCopy()
		verb = "replaced (was " + plan.PDBBudget(&pdb) + ")"
	} else {
		if o.Selector == nil {
			return fmt.Errorf("selector: a new budget needs one")
		}
		pdb = policyv1.PodDisruptionBudget{
			TypeMeta:   metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"},
			ObjectMeta: metav1.ObjectMeta{Namespace: o.Namespace, Name: o.Name, UID: types.UID("noderoll-whatif-pdb-" + o.Namespace + "-" + o.Name)},
		}
	}
	if o.Selector != nil {
		pdb.Spec.Selector = o.Selector.DeepCopy()
	}
	pdb.Spec.MinAvailable, pdb.Spec.MaxUnavailable = o.MinAvailable, o.MaxUnavailable
	if o.UnhealthyPodEvictionPolicy != "" {
		v := policyv1.UnhealthyPodEvictionPolicyType(o.UnhealthyPodEvictionPolicy)
		pdb.Spec.UnhealthyPodEvictionPolicy = &v
	}
	// The status is the disruption controller's; the simulator works it
	// out from the pods. Zero it so that no stale figure is read.
	pdb.Status = policyv1.PodDisruptionBudgetStatus{}
	if idx >= 0 {
		s.PodDisruptionBudgets[idx] = pdb
	} else {
		s.PodDisruptionBudgets = append(s.PodDisruptionBudgets, pdb)
	}
	a.logf("%s: %s, now %s", obj, verb, plan.PDBBudget(&pdb))
	return nil
}

// surge adds the surge nodes and their DaemonSet pods.
func (a *Applied) surge(sg Surge) error {
	s := a.Snapshot
	var shape *corev1.Node
	if sg.Like != "" {
		for i := range s.Nodes {
			if s.Nodes[i].Name == sg.Like {
				shape = &s.Nodes[i]
			}
		}
		if shape == nil {
			return fmt.Errorf("like: no node %q in the snapshot", sg.Like)
		}
	} else if shape = MostCommonShape(s); shape == nil {
		return fmt.Errorf("the snapshot has no node to copy the shape of")
	}
	prefix := sg.NamePrefix
	if prefix == "" {
		prefix = DefaultSurgePrefix
	}
	names := map[string]bool{}
	for i := range s.Nodes {
		names[s.Nodes[i].Name] = true
	}
	// One model pod per DaemonSet: the first by name.
	models := map[types.UID]*corev1.Pod{}
	var dsOrder []types.UID
	for i := range s.Pods {
		p := &s.Pods[i]
		ref := metav1.GetControllerOf(p)
		if ref == nil || ref.Kind != "DaemonSet" {
			continue
		}
		if m := models[ref.UID]; m == nil {
			dsOrder = append(dsOrder, ref.UID)
			models[ref.UID] = p
		} else if p.Name < m.Name {
			models[ref.UID] = p
		}
	}
	sort.Slice(dsOrder, func(i, j int) bool {
		return models[dsOrder[i]].Namespace+"/"+models[dsOrder[i]].Name < models[dsOrder[j]].Namespace+"/"+models[dsOrder[j]].Name
	})
	var daemonPods []corev1.Pod
	for i := 1; i <= sg.Nodes; i++ {
		n := shape.DeepCopy()
		n.Name = fmt.Sprintf("%s-%03d", prefix, i)
		if names[n.Name] {
			return fmt.Errorf("namePrefix: a node named %s exists", n.Name)
		}
		n.UID = types.UID("noderoll-whatif-" + n.Name)
		n.ResourceVersion = ""
		n.Labels = map[string]string{}
		for k, v := range shape.Labels {
			n.Labels[k] = v
		}
		n.Labels[corev1.LabelHostname] = n.Name
		n.Spec.Unschedulable = false
		n.Spec.ProviderID = ""
		n.Spec.Taints = nil
		for _, t := range shape.Spec.Taints {
			if t.Key != corev1.TaintNodeUnschedulable {
				n.Spec.Taints = append(n.Spec.Taints, t)
			}
		}
		s.Nodes = append(s.Nodes, *n)
		a.SurgeNodes = append(a.SurgeNodes, n.Name)
		for _, uid := range dsOrder {
			m := models[uid]
			p := m.DeepCopy()
			p.Name = fmt.Sprintf("%s-%s", ownerName(m), n.Name)
			p.UID = types.UID(fmt.Sprintf("%s-%s", m.UID, n.Name))
			p.Spec.NodeName = n.Name
			pinToNode(p, n.Name)
			daemonPods = append(daemonPods, *p)
		}
	}
	s.Pods = append(s.Pods, daemonPods...)
	a.logf("surge: %d nodes shaped like %s (%s cores, %s memory) added before the rollout and left out of it: %s",
		sg.Nodes, shape.Name, shape.Status.Allocatable.Cpu(), shape.Status.Allocatable.Memory(), strings.Join(a.SurgeNodes, ", "))
	return nil
}

func ownerName(p *corev1.Pod) string {
	if ref := metav1.GetControllerOf(p); ref != nil {
		return ref.Name
	}
	return p.Name
}

// pinToNode gives a DaemonSet pod the node affinity the DaemonSet
// controller sets for its node.
func pinToNode(pod *corev1.Pod, node string) {
	if pod.Spec.Affinity == nil || pod.Spec.Affinity.NodeAffinity == nil {
		return
	}
	pod.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
		MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{node}}},
	}}}
}

// MostCommonShape is the first node, by name, of the most common shape
// (allocatable CPU, memory and pods, and instance type), as the
// simulator's own surge picks it; nil without nodes.
func MostCommonShape(s *snapshot.Snapshot) *corev1.Node {
	idx := make([]int, len(s.Nodes))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(i, j int) bool { return s.Nodes[idx[i]].Name < s.Nodes[idx[j]].Name })
	counts := map[string]int{}
	first := map[string]*corev1.Node{}
	best, bestCount := "", 0
	for _, i := range idx {
		n := &s.Nodes[i]
		al := n.Status.Allocatable
		key := fmt.Sprintf("%d/%d/%d/%s", al.Cpu().MilliValue(), al.Memory().Value(), al.Pods().Value(), n.Labels[corev1.LabelInstanceTypeStable])
		counts[key]++
		if first[key] == nil {
			first[key] = n
		}
		if counts[key] > bestCount {
			best, bestCount = key, counts[key]
		}
	}
	return first[best]
}
