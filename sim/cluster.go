package sim

import (
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/noderoll/noderoll/plan"
	"github.com/noderoll/noderoll/snapshot"
)

type podState int

const (
	podPending podState = iota
	podStarting
	podReady
	podTerminating
	podGone
)

// simPod is one pod's life in the simulation. obj is kept as the API server
// would show it (nodeName, deletionTimestamp, Ready condition), so the
// shared semantics in package plan read it directly.
type simPod struct {
	obj      *corev1.Pod
	state    podState
	owner    *workload // nil for a bare pod
	lineage  *lineage
	services []*service
	pdbs     []*budget
	seq      int // creation order, for the scheduling queue
	// startedAt is when the pod last started running (Job work is lost from
	// there on eviction).
	startedAt time.Duration
	// failedOnce: the scheduler could not place it at some moment.
	failedOnce bool
	// waitsForNode: only node-level plugins rejected it last time.
	waitsForNode bool
	// The scheduling queue's record of it: attempts that failed, the
	// cluster-event counters when it last failed (an event after that
	// moves it back to the queue), and the end of its backoff.
	attempts          int
	changesAtFail     uint64
	nodeChangesAtFail uint64
	backoffUntil      time.Duration
}

func (p *simPod) key() string { return p.obj.Namespace + "/" + p.obj.Name }

// lineage is a pod's identity across moves: a controller and a slot.
type lineage struct {
	key   string
	uid   types.UID // the first pod's: replacements' UIDs derive from it
	moves int
}

// workload is a pod controller as the simulation needs it.
type workload struct {
	kind        string // ReplicaSet, StatefulSet, DaemonSet, Job
	namespace   string
	name        string
	uid         types.UID
	replicas    int32 // desired replicas (the Deployment's for its ReplicaSets)
	annotations map[string]string
	created     int // replacement pods created, for names
}

func (w *workload) object() string {
	return fmt.Sprintf("%s/%s/%s", w.kind, w.namespace, w.name)
}

// budget is a PodDisruptionBudget and the pods it selects.
type budget struct {
	pdb           *policyv1.PodDisruptionBudget
	pods          map[*simPod]bool
	expectedScale int32
}

// status computes the budget's status now, as the disruption controller
// would publish it.
func (b *budget) status() plan.BudgetStatus {
	matching := make([]*corev1.Pod, 0, len(b.pods))
	for p := range b.pods {
		if p.state != podGone {
			matching = append(matching, p.obj)
		}
	}
	st, err := plan.Budget(b.pdb, matching, b.expectedScale)
	if err != nil {
		return plan.BudgetStatus{}
	}
	return st
}

// service tracks one Service's ready endpoints over time.
type service struct {
	svc      *corev1.Service
	selector labels.Selector
	desired  int
	ready    int
	minReady int
	// since when it has been degraded / down; -1 when it is not.
	degradedSince, downSince time.Duration
	degradedFor, downFor     time.Duration
	batches                  map[int]bool // batches it degraded or went down in
	everDown, everDegraded   bool
}

func (s *service) object() string { return "Service/" + s.svc.Namespace + "/" + s.svc.Name }

// simNode is one node's state.
type simNode struct {
	obj      *corev1.Node
	pods     map[*simPod]bool
	present  bool // registered with the cluster (false while reinstalling)
	cordoned bool
	stuck    bool
	// daemonPods and mirrorPods left with the node and return with it.
	daemonPods, mirrorPods []*simPod
}

// index builds the simulation's state from the snapshot.
func (s *Simulation) index(snap *snapshot.Snapshot) error {
	s.nodes = map[string]*simNode{}
	for i := range snap.Nodes {
		n := snap.Nodes[i].DeepCopy()
		s.nodes[n.Name] = &simNode{obj: n, pods: map[*simPod]bool{}, present: true, cordoned: n.Spec.Unschedulable}
	}
	deployReplicas := map[types.UID]int32{}
	for i := range snap.Deployments {
		d := &snap.Deployments[i]
		deployReplicas[d.UID] = replicasOf(d.Spec.Replicas)
	}
	s.workloads = map[types.UID]*workload{}
	for i := range snap.ReplicaSets {
		rs := &snap.ReplicaSets[i]
		w := &workload{kind: "ReplicaSet", namespace: rs.Namespace, name: rs.Name, uid: rs.UID,
			replicas: replicasOf(rs.Spec.Replicas), annotations: rs.Spec.Template.Annotations}
		if ref := metav1.GetControllerOf(rs); ref != nil && ref.Kind == "Deployment" {
			if r, ok := deployReplicas[ref.UID]; ok {
				w.replicas = r
			}
			for j := range snap.Deployments {
				if snap.Deployments[j].UID == ref.UID {
					w.annotations = mergeAnnotations(snap.Deployments[j].Annotations, w.annotations)
				}
			}
		}
		s.workloads[rs.UID] = w
	}
	for i := range snap.StatefulSets {
		ss := &snap.StatefulSets[i]
		s.workloads[ss.UID] = &workload{kind: "StatefulSet", namespace: ss.Namespace, name: ss.Name, uid: ss.UID,
			replicas: replicasOf(ss.Spec.Replicas), annotations: mergeAnnotations(ss.Annotations, ss.Spec.Template.Annotations)}
	}
	for i := range snap.DaemonSets {
		ds := &snap.DaemonSets[i]
		s.workloads[ds.UID] = &workload{kind: "DaemonSet", namespace: ds.Namespace, name: ds.Name, uid: ds.UID,
			annotations: mergeAnnotations(ds.Annotations, ds.Spec.Template.Annotations)}
	}
	for i := range snap.Jobs {
		j := &snap.Jobs[i]
		p := int32(1)
		if j.Spec.Parallelism != nil {
			p = *j.Spec.Parallelism
		}
		s.workloads[j.UID] = &workload{kind: "Job", namespace: j.Namespace, name: j.Name, uid: j.UID,
			replicas: p, annotations: mergeAnnotations(j.Annotations, j.Spec.Template.Annotations)}
	}

	servicesByNS := map[string][]*service{}
	for i := range snap.Services {
		svc := &snap.Services[i]
		if len(svc.Spec.Selector) == 0 {
			continue // no endpoints managed from pods
		}
		sv := &service{svc: svc, selector: labels.SelectorFromSet(svc.Spec.Selector), degradedSince: -1, downSince: -1, batches: map[int]bool{}}
		s.services = append(s.services, sv)
		servicesByNS[svc.Namespace] = append(servicesByNS[svc.Namespace], sv)
	}
	budgetsByNS := map[string][]*budget{}
	// Each budget's selector, parsed once (plan.Selects parses it on every
	// call).
	matchers := map[*budget]plan.BudgetMatcher{}
	for i := range snap.PodDisruptionBudgets {
		pdb := &snap.PodDisruptionBudgets[i]
		b := &budget{pdb: pdb, pods: map[*simPod]bool{}}
		s.budgets = append(s.budgets, b)
		budgetsByNS[pdb.Namespace] = append(budgetsByNS[pdb.Namespace], b)
		matchers[b] = plan.NewBudgetMatcher(pdb)
	}

	pods := make([]*corev1.Pod, 0, len(snap.Pods))
	for i := range snap.Pods {
		pods = append(pods, &snap.Pods[i])
	}
	sort.Slice(pods, func(i, j int) bool { return pods[i].Namespace+"/"+pods[i].Name < pods[j].Namespace+"/"+pods[j].Name })
	for _, src := range pods {
		if src.Status.Phase == corev1.PodSucceeded || src.Status.Phase == corev1.PodFailed {
			continue
		}
		p := &simPod{obj: src.DeepCopy(), seq: s.nextSeq()}
		if ref := metav1.GetControllerOf(src); ref != nil {
			p.owner = s.workloads[ref.UID]
		}
		p.lineage = &lineage{key: p.key(), uid: src.UID}
		for _, sv := range servicesByNS[src.Namespace] {
			if sv.selector.Matches(labels.Set(src.Labels)) {
				p.services = append(p.services, sv)
			}
		}
		for _, b := range budgetsByNS[src.Namespace] {
			if matchers[b].Selects(src) {
				p.pdbs = append(p.pdbs, b)
				b.pods[p] = true
			}
		}
		switch {
		case src.Spec.NodeName == "":
			p.state = podPending
			s.pending[p] = true
		case plan.IsReady(src):
			p.state = podReady
		default:
			p.state = podStarting
		}
		if n := s.nodes[src.Spec.NodeName]; n != nil {
			n.pods[p] = true
		}
		s.pods = append(s.pods, p)
	}
	// Expected scale of each budget: the desired replicas of the distinct
	// controllers of its pods.
	for _, b := range s.budgets {
		seen := map[types.UID]bool{}
		for p := range b.pods {
			if p.owner != nil && !seen[p.owner.uid] {
				seen[p.owner.uid] = true
				b.expectedScale += p.owner.replicas
			}
		}
	}
	for _, p := range s.pods {
		if p.state == podReady {
			for _, sv := range p.services {
				sv.desired++
			}
		}
	}
	for _, sv := range s.services {
		sv.ready, sv.minReady = sv.desired, sv.desired
	}
	return nil
}

func replicasOf(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

func mergeAnnotations(maps ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}
