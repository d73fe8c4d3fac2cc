package sim

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
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
	seq      int // creation order
	// queuedAt is when the pod last entered the scheduling queue: its
	// creation, then each failed attempt (the queue orders by priority,
	// then by this time).
	queuedAt time.Duration
	// readyAt is when the pod last turned Ready; evictedAt when an
	// eviction of it was allowed (-1: never).
	readyAt, evictedAt time.Duration
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
	// kind is how the controller behaves: ReplicaSet, StatefulSet,
	// DaemonSet or Job.
	kind string
	// ownerKind is the kind its pods' owner references name when that is
	// not kind: a controller the snapshot does not hold (an operator's
	// custom resource, a ReplicationController), modelled as kind.
	ownerKind   string
	namespace   string
	name        string
	uid         types.UID
	replicas    int32 // desired replicas (the Deployment's for its ReplicaSets)
	annotations map[string]string
	created     int // replacement pods created, for names
	// scaleUID is the controller whose scale the disruption controller
	// counts for a budget (a ReplicaSet's Deployment), and hasScale says
	// it finds one at all (not for Jobs and DaemonSets).
	scaleUID types.UID
	hasScale bool
	// StatefulSets: members are the pods of the set in the cluster (not
	// migration copies); ordered is podManagementPolicy OrderedReady;
	// minReady is spec.minReadySeconds; awaiting holds, by ordinal, the
	// pods gone whose identity the controller has not created again yet.
	members  map[*simPod]bool
	ordered  bool
	minReady time.Duration
	awaiting map[int]*simPod
	// job is a Job's failure accounting.
	job *jobState
}

func (w *workload) object() string {
	kind := w.kind
	if w.ownerKind != "" {
		kind = w.ownerKind
	}
	return fmt.Sprintf("%s/%s/%s", kind, w.namespace, w.name)
}

// budget is a PodDisruptionBudget and the pods it selects.
type budget struct {
	pdb           *policyv1.PodDisruptionBudget
	pods          map[*simPod]bool
	expectedScale int32
	// failSafe: the budget needs its pods' expected scale and one of them
	// has a controller without a scale (a Job, a DaemonSet, a controller
	// the snapshot lacks): the disruption controller cannot compute it and
	// publishes no disruption allowed (DisruptionController.failSafe).
	failSafe bool
}

// status computes the budget's status now, as the disruption controller
// would publish it.
func (b *budget) status() plan.BudgetStatus {
	if b.failSafe {
		return plan.BudgetStatus{}
	}
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
			replicas: replicasOf(rs.Spec.Replicas), annotations: rs.Spec.Template.Annotations, scaleUID: rs.UID, hasScale: true}
		if ref := metav1.GetControllerOf(rs); ref != nil && ref.Kind == "Deployment" {
			if r, ok := deployReplicas[ref.UID]; ok {
				// The disruption controller counts a Deployment's scale
				// once, however many ReplicaSets its pods are in
				// (getPodDeployment).
				w.replicas, w.scaleUID = r, ref.UID
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
			replicas: replicasOf(ss.Spec.Replicas), annotations: mergeAnnotations(ss.Annotations, ss.Spec.Template.Annotations),
			scaleUID: ss.UID, hasScale: true, members: map[*simPod]bool{}, awaiting: map[int]*simPod{},
			ordered:  ss.Spec.PodManagementPolicy != appsv1.ParallelPodManagement,
			minReady: time.Duration(ss.Spec.MinReadySeconds) * time.Second}
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
		s.workloads[j.UID] = &workload{kind: "Job", namespace: j.Namespace, name: j.Name, uid: j.UID, scaleUID: j.UID,
			replicas: p, annotations: mergeAnnotations(j.Annotations, j.Spec.Template.Annotations), job: newJobState(j)}
	}
	s.assumeControllers(snap)

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
	s.budgetByKey = map[string]*budget{}
	s.localClaims = map[string]string{}
	for i := range snap.PersistentVolumes {
		pv := &snap.PersistentVolumes[i]
		if ref := pv.Spec.ClaimRef; ref != nil && (pv.Spec.Local != nil || pv.Spec.HostPath != nil) {
			s.localClaims[ref.Namespace+"/"+ref.Name] = pv.Name
		}
	}
	// Each budget's selector, parsed once (plan.Selects parses it on every
	// call).
	matchers := map[*budget]plan.BudgetMatcher{}
	for i := range snap.PodDisruptionBudgets {
		pdb := &snap.PodDisruptionBudgets[i]
		b := &budget{pdb: pdb, pods: map[*simPod]bool{}}
		s.budgets = append(s.budgets, b)
		s.budgetByKey[pdb.Namespace+"/"+pdb.Name] = b
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
		p := &simPod{obj: src.DeepCopy(), seq: s.nextSeq(), evictedAt: -1}
		if ref := metav1.GetControllerOf(src); ref != nil {
			p.owner = s.workloads[ref.UID]
		}
		if p.owner != nil && p.owner.members != nil {
			p.owner.members[p] = true
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
	// controllers of its pods, a Deployment counted once
	// (DisruptionController.getExpectedScale; pods without a controller
	// are left out). A budget that needs it over pods of a controller
	// without a scale fails safe.
	for _, b := range s.budgets {
		seen := map[types.UID]bool{}
		for p := range b.pods {
			if metav1.GetControllerOf(p.obj) != nil && (p.owner == nil || !p.owner.hasScale) {
				b.failSafe = plan.NeedsExpectedScale(b.pdb)
			}
			if p.owner != nil && !seen[p.owner.scaleUID] {
				seen[p.owner.scaleUID] = true
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

// assumeControllers gives the pods whose controller the snapshot does not
// hold (an operator's custom resource, a ReplicationController, a
// ReplicaSet or StatefulSet left out of the capture) a workload that
// behaves as the configuration says: kubectl drain evicts such a pod
// without --force (it has a controller reference), and its controller
// recreates it. By default it does so ReplicaSet-like, at once under a new
// name; identity "stable" (and an absent StatefulSet) recreates the same
// name once the old pod is gone. An owner named DaemonSet that is absent
// stays an orphan: kubectl drain deletes it with --force and nothing
// recreates it (plan.Drain); a mirror pod (owned by its Node) returns with
// its node. Each such controller is listed in the
// result (Result.Semantics.AssumedControllers).
func (s *Simulation) assumeControllers(snap *snapshot.Snapshot) {
	for i := range snap.Pods {
		src := &snap.Pods[i]
		ref := metav1.GetControllerOf(src)
		// A static pod's mirror is owned by its Node: the kubelet, not a
		// controller, brings it back with the node.
		if ref == nil || ref.Kind == "DaemonSet" || ref.Kind == "Node" || plan.IsMirrorPod(src) ||
			src.Status.Phase == corev1.PodSucceeded || src.Status.Phase == corev1.PodFailed {
			continue
		}
		if w := s.workloads[ref.UID]; w != nil {
			if w.ownerKind != "" {
				w.replicas++
			}
			continue
		}
		b := s.cfg.controller(ref.Kind)
		w := &workload{kind: "ReplicaSet", ownerKind: ref.Kind, namespace: src.Namespace, name: ref.Name, uid: ref.UID,
			replicas: 1, annotations: map[string]string{}, scaleUID: ref.UID, hasScale: b.HasScale}
		switch ref.Kind {
		case "ReplicaSet", "ReplicationController":
			w.hasScale = true
		case "StatefulSet":
			w.hasScale, b.Identity = true, IdentityStable
		}
		if b.Identity == IdentityStable {
			// Parallel: without the object its policy is unknown.
			w.kind, w.members, w.awaiting = "StatefulSet", map[*simPod]bool{}, map[int]*simPod{}
		}
		s.workloads[ref.UID] = w
		s.assumed = append(s.assumed, w)
	}
}

// ordinal is a StatefulSet pod's ordinal, from its name (-1 when the name
// does not end in one).
func ordinal(p *simPod) int {
	name := p.obj.Name
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return -1
	}
	n, err := strconv.Atoi(name[i+1:])
	if err != nil || n < 0 {
		return -1
	}
	return n
}
