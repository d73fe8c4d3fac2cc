package analysis

import (
	"cmp"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/noderoll/noderoll/plan"
	"github.com/noderoll/noderoll/snapshot"
)

// Kinds of the workloads Preflight reports on.
const (
	kindDeployment  = "Deployment"
	kindReplicaSet  = "ReplicaSet"
	kindStatefulSet = "StatefulSet"
	kindDaemonSet   = "DaemonSet"
	kindJob         = "Job"
	kindPod         = "Pod"
)

// workload is a pod owner as the checks see it: a Deployment (its
// ReplicaSets' pods together), a ReplicaSet no Deployment owns, a
// StatefulSet, a DaemonSet, a Job, or an owner the snapshot lacks.
type workload struct {
	kind, namespace, name string
	// known: the object is in the snapshot, so replicas, selector and
	// labels are its own.
	known bool
	// replicas is the desired replica count of a Deployment, ReplicaSet or
	// StatefulSet (spec.replicas, 1 when unset).
	replicas int32
	selector *metav1.LabelSelector
	// labels are the pod template's labels (the selector's matchLabels when
	// the template has none).
	labels map[string]string
	// pods are its pods that have not terminated, by name.
	pods []*corev1.Pod
	// services are the Services whose selector picks its pods, as objects.
	services []string
	// pdbCovered: some PodDisruptionBudget selects its pods.
	pdbCovered bool
}

func (w *workload) object() string { return w.kind + "/" + w.namespace + "/" + w.name }

// serving: the workloads whose replica count matters to availability.
func (w *workload) serving() bool {
	return w.known && (w.kind == kindDeployment || w.kind == kindReplicaSet || w.kind == kindStatefulSet)
}

// templatePod is a pod as the workload's template makes it, for selector
// matching when the workload has no pod in the snapshot.
func (w *workload) templatePod() *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: w.namespace, Labels: w.labels}}
}

// budget is a PodDisruptionBudget with the pods it selects.
type budget struct {
	pdb *policyv1.PodDisruptionBudget
	// pods are all the pods it selects, terminated ones included, as the
	// disruption controller lists them.
	pods []*corev1.Pod
}

func (b *budget) object() string {
	return "PodDisruptionBudget/" + b.pdb.Namespace + "/" + b.pdb.Name
}

// index holds the snapshot's objects arranged for the checks.
type index struct {
	snap  *snapshot.Snapshot
	drain plan.DrainOptions
	// nodes by name.
	nodes map[string]*corev1.Node
	// pods that have not terminated, by namespace and name.
	pods []*corev1.Pod
	// allPods: every pod, by namespace and name.
	allPods []*corev1.Pod
	// workloads by object, and in object order.
	workloads map[string]*workload
	ordered   []*workload
	// owner of each pod; nil for a pod without a controller.
	owner map[*corev1.Pod]*workload
	// daemonSets present, by namespace/name.
	daemonSets map[string]bool
	// budgets in object order; podBudgets: the PDBs that select each pod.
	budgets    []*budget
	podBudgets map[*corev1.Pod][]*policyv1.PodDisruptionBudget
	pvcs       map[string]*corev1.PersistentVolumeClaim // by namespace/name
	pvs        map[string]*corev1.PersistentVolume
	// decisions: what the drain (as configured) and a drain with every
	// flag set do with each bound pod that has not terminated.
	decision, permissive map[*corev1.Pod]plan.DrainDecision
}

func nsName(ns, name string) string { return ns + "/" + name }

func replicasOf(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

func isTerminal(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

func byNamespaceName(a, b *corev1.Pod) int {
	return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
}

// newIndex arranges snap for the checks; drain is the rollout's drain.
func newIndex(snap *snapshot.Snapshot, drain plan.DrainOptions) *index {
	x := &index{
		snap:       snap,
		drain:      drain,
		nodes:      make(map[string]*corev1.Node, len(snap.Nodes)),
		workloads:  map[string]*workload{},
		owner:      make(map[*corev1.Pod]*workload, len(snap.Pods)),
		daemonSets: map[string]bool{},
		podBudgets: map[*corev1.Pod][]*policyv1.PodDisruptionBudget{},
		pvcs:       make(map[string]*corev1.PersistentVolumeClaim, len(snap.PersistentVolumeClaims)),
		pvs:        make(map[string]*corev1.PersistentVolume, len(snap.PersistentVolumes)),
		decision:   make(map[*corev1.Pod]plan.DrainDecision, len(snap.Pods)),
		permissive: make(map[*corev1.Pod]plan.DrainDecision, len(snap.Pods)),
	}
	for i := range snap.Nodes {
		x.nodes[snap.Nodes[i].Name] = &snap.Nodes[i]
	}
	for i := range snap.PersistentVolumeClaims {
		c := &snap.PersistentVolumeClaims[i]
		x.pvcs[nsName(c.Namespace, c.Name)] = c
	}
	for i := range snap.PersistentVolumes {
		x.pvs[snap.PersistentVolumes[i].Name] = &snap.PersistentVolumes[i]
	}
	x.indexWorkloads()
	x.indexPods()
	x.indexServices()
	x.indexBudgets()
	return x
}

func (x *index) addWorkload(w *workload) *workload {
	if old, ok := x.workloads[w.object()]; ok {
		return old
	}
	x.workloads[w.object()] = w
	return w
}

func templateLabels(tmpl map[string]string, sel *metav1.LabelSelector) map[string]string {
	if len(tmpl) > 0 || sel == nil {
		return tmpl
	}
	return sel.MatchLabels
}

func (x *index) indexWorkloads() {
	s := x.snap
	for i := range s.Deployments {
		d := &s.Deployments[i]
		x.addWorkload(&workload{kind: kindDeployment, namespace: d.Namespace, name: d.Name, known: true,
			replicas: replicasOf(d.Spec.Replicas), selector: d.Spec.Selector,
			labels: templateLabels(d.Spec.Template.Labels, d.Spec.Selector)})
	}
	for i := range s.ReplicaSets {
		rs := &s.ReplicaSets[i]
		if x.deploymentOf(rs) != nil {
			continue
		}
		x.addWorkload(&workload{kind: kindReplicaSet, namespace: rs.Namespace, name: rs.Name, known: true,
			replicas: replicasOf(rs.Spec.Replicas), selector: rs.Spec.Selector,
			labels: templateLabels(rs.Spec.Template.Labels, rs.Spec.Selector)})
	}
	for i := range s.StatefulSets {
		ss := &s.StatefulSets[i]
		x.addWorkload(&workload{kind: kindStatefulSet, namespace: ss.Namespace, name: ss.Name, known: true,
			replicas: replicasOf(ss.Spec.Replicas), selector: ss.Spec.Selector,
			labels: templateLabels(ss.Spec.Template.Labels, ss.Spec.Selector)})
	}
	for i := range s.DaemonSets {
		ds := &s.DaemonSets[i]
		x.daemonSets[nsName(ds.Namespace, ds.Name)] = true
		x.addWorkload(&workload{kind: kindDaemonSet, namespace: ds.Namespace, name: ds.Name, known: true,
			selector: ds.Spec.Selector, labels: templateLabels(ds.Spec.Template.Labels, ds.Spec.Selector)})
	}
	for i := range s.Jobs {
		j := &s.Jobs[i]
		x.addWorkload(&workload{kind: kindJob, namespace: j.Namespace, name: j.Name, known: true,
			selector: j.Spec.Selector, labels: j.Spec.Template.Labels})
	}
}

// deploymentOf returns the workload of the Deployment that controls rs,
// when the snapshot has it.
func (x *index) deploymentOf(rs *appsv1.ReplicaSet) *workload {
	ref := metav1.GetControllerOf(rs)
	if ref == nil || ref.Kind != kindDeployment {
		return nil
	}
	if w, ok := x.workloads[kindDeployment+"/"+rs.Namespace+"/"+ref.Name]; ok && w.known {
		return w
	}
	return nil
}

// ownerOf resolves a pod's controller to its workload: a ReplicaSet's pods
// belong to its Deployment. An owner the snapshot lacks gets a workload of
// its own that is not known.
func (x *index) ownerOf(p *corev1.Pod, rsOwner map[string]*workload) *workload {
	ref := metav1.GetControllerOf(p)
	if ref == nil {
		return nil
	}
	if ref.Kind == kindReplicaSet {
		if w, ok := rsOwner[nsName(p.Namespace, ref.Name)]; ok {
			return w
		}
	}
	if w, ok := x.workloads[ref.Kind+"/"+p.Namespace+"/"+ref.Name]; ok {
		return w
	}
	return x.addWorkload(&workload{kind: ref.Kind, namespace: p.Namespace, name: ref.Name})
}

func (x *index) indexPods() {
	s := x.snap
	rsOwner := make(map[string]*workload, len(s.ReplicaSets))
	for i := range s.ReplicaSets {
		rs := &s.ReplicaSets[i]
		if w := x.deploymentOf(rs); w != nil {
			rsOwner[nsName(rs.Namespace, rs.Name)] = w
		}
	}
	x.allPods = make([]*corev1.Pod, 0, len(s.Pods))
	for i := range s.Pods {
		x.allPods = append(x.allPods, &s.Pods[i])
	}
	slices.SortFunc(x.allPods, byNamespaceName)
	dsExists := func(ns, name string) bool { return x.daemonSets[nsName(ns, name)] }
	permissive := plan.DrainOptions{IgnoreDaemonSets: true, DeleteEmptyDirData: true, Force: true}
	for _, p := range x.allPods {
		w := x.ownerOf(p, rsOwner)
		x.owner[p] = w
		if isTerminal(p) {
			continue
		}
		x.pods = append(x.pods, p)
		if w != nil {
			w.pods = append(w.pods, p)
		}
		if p.Spec.NodeName != "" {
			x.decision[p] = plan.Drain(p, x.drain, dsExists)
			x.permissive[p] = plan.Drain(p, permissive, dsExists)
		}
	}
	x.ordered = make([]*workload, 0, len(x.workloads))
	for _, w := range x.workloads {
		x.ordered = append(x.ordered, w)
	}
	slices.SortFunc(x.ordered, func(a, b *workload) int { return cmp.Compare(a.object(), b.object()) })
}

// indexServices records which Services pick each serving workload's pods.
func (x *index) indexServices() {
	byNS := map[string][]*workload{}
	for _, w := range x.ordered {
		if w.serving() {
			byNS[w.namespace] = append(byNS[w.namespace], w)
		}
	}
	svcs := make([]*corev1.Service, 0, len(x.snap.Services))
	for i := range x.snap.Services {
		svcs = append(svcs, &x.snap.Services[i])
	}
	slices.SortFunc(svcs, func(a, b *corev1.Service) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	for _, svc := range svcs {
		if len(svc.Spec.Selector) == 0 {
			continue // endpoints not managed from pods
		}
		sel := labels.SelectorFromSet(svc.Spec.Selector)
		for _, w := range byNS[svc.Namespace] {
			if picks(sel, w) {
				w.services = append(w.services, "Service/"+svc.Namespace+"/"+svc.Name)
			}
		}
	}
}

func picks(sel labels.Selector, w *workload) bool {
	if len(w.labels) > 0 && sel.Matches(labels.Set(w.labels)) {
		return true
	}
	for _, p := range w.pods {
		if sel.Matches(labels.Set(p.Labels)) {
			return true
		}
	}
	return false
}

// indexBudgets finds the pods each PDB selects (plan.Selects) and the
// workloads it covers.
func (x *index) indexBudgets() {
	podsByNS := map[string][]*corev1.Pod{}
	for _, p := range x.allPods {
		podsByNS[p.Namespace] = append(podsByNS[p.Namespace], p)
	}
	servingByNS := map[string][]*workload{}
	for _, w := range x.ordered {
		if w.serving() {
			servingByNS[w.namespace] = append(servingByNS[w.namespace], w)
		}
	}
	for i := range x.snap.PodDisruptionBudgets {
		x.budgets = append(x.budgets, &budget{pdb: &x.snap.PodDisruptionBudgets[i]})
	}
	slices.SortFunc(x.budgets, func(a, b *budget) int { return cmp.Compare(a.object(), b.object()) })
	for _, b := range x.budgets {
		// plan.Selects decides; the selector parsed once here only spares
		// it the pods it cannot match (it parses the selector on every
		// call, which at 20,000 pods is most of Preflight's time).
		sel, err := metav1.LabelSelectorAsSelector(b.pdb.Spec.Selector)
		if err != nil {
			continue // selects nothing, as plan.Selects says
		}
		for _, p := range podsByNS[b.pdb.Namespace] {
			if sel.Matches(labels.Set(p.Labels)) && plan.Selects(b.pdb, p) {
				b.pods = append(b.pods, p)
				x.podBudgets[p] = append(x.podBudgets[p], b.pdb)
			}
		}
		for _, w := range servingByNS[b.pdb.Namespace] {
			if w.pdbCovered {
				continue
			}
			if sel.Matches(labels.Set(w.labels)) && plan.Selects(b.pdb, w.templatePod()) {
				w.pdbCovered = true
				continue
			}
			for _, p := range w.pods {
				if sel.Matches(labels.Set(p.Labels)) && plan.Selects(b.pdb, p) {
					w.pdbCovered = true
					break
				}
			}
		}
	}
}

// objectOf names what a risk about pod p is reported on: its workload, or
// the pod itself when no controller manages it.
func (x *index) objectOf(p *corev1.Pod) string {
	if w := x.owner[p]; w != nil {
		return w.object()
	}
	return kindPod + "/" + p.Namespace + "/" + p.Name
}

// workloadCounts counts the workloads by kind, for the overview.
func (x *index) workloadCounts() map[string]int {
	counts := map[string]int{}
	for _, w := range x.ordered {
		if w.known {
			counts[w.kind]++
		}
	}
	for _, p := range x.pods {
		if x.owner[p] == nil {
			counts[snapshot.WorkloadBarePod]++
		}
	}
	return counts
}

// pdbCoverage counts the replicated serving workloads and those a PDB
// selects.
func (x *index) pdbCoverage() PDBCoverage {
	var c PDBCoverage
	for _, w := range x.ordered {
		if w.serving() && w.replicas >= 2 {
			c.Workloads++
			if w.pdbCovered {
				c.Covered++
			}
		}
	}
	c.Percent = 100
	if c.Workloads > 0 {
		c.Percent = c.Covered * 100 / c.Workloads
	}
	return c
}
