package analysis

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/noderoll/noderoll/plan"
	"github.com/noderoll/noderoll/snapshot"
)

// checkWorkloads reports the serving workloads with a single replica, with
// all their replicas on one node, and with replicas but no PDB.
func (x *index) checkWorkloads(risks *riskSet) {
	for _, w := range x.ordered {
		if !w.serving() || w.replicas == 0 {
			continue
		}
		if w.replicas == 1 {
			risks.add(plan.RiskSinglePointOfFailure, singleReplicaSeverity(w), w.object(), singleReplicaMessage(w))
		} else if node, n := sharedNode(w.pods); n >= 2 {
			risks.add(plan.RiskSinglePointOfFailure, plan.High, w.object(), oneNodeMessage(w, node, n))
		}
		if w.replicas >= 2 && !w.pdbCovered {
			risks.add(plan.RiskNoPDB, plan.Medium, w.object(), fmt.Sprintf(
				"%d replicas and no PodDisruptionBudget selects them: a drain evicts them without limit, so a "+
					"batch that holds several of them takes them all down at once. Add a PDB with maxUnavailable: 1 "+
					"and selector %s.", w.replicas, selectorString(w)))
		}
	}
}

func singleReplicaSeverity(w *workload) plan.Severity {
	if len(w.services) > 0 {
		return plan.High
	}
	return plan.Medium
}

func singleReplicaMessage(w *workload) string {
	if len(w.services) == 0 {
		return "1 desired replica and no Service selects it: it stops while its node is drained and starts " +
			"again elsewhere. Fine for a singleton that tolerates a restart; otherwise run at least 2 replicas " +
			"on different nodes."
	}
	wait := "until the replacement pod is scheduled and Ready"
	if w.kind == kindStatefulSet {
		wait = "until the old pod is gone and the StatefulSet's replacement is scheduled and Ready"
	}
	has := "the Service has"
	if len(w.services) > 1 {
		has = "the Services have"
	}
	return fmt.Sprintf("1 desired replica behind %s: while its node is drained %s no ready endpoint %s. "+
		"Run at least 2 replicas on different nodes (pod anti-affinity or a topology spread constraint on %s) "+
		"with a PDB maxUnavailable: 1, or plan the downtime.",
		listOf(w.services, 3), has, wait, corev1.LabelHostname)
}

// sharedNode returns the node that all the bound pods run on and how many
// they are; "" when they run on more than one node or none is bound.
func sharedNode(pods []*corev1.Pod) (node string, n int) {
	for _, p := range pods {
		switch {
		case p.Spec.NodeName == "":
			continue
		case node == "":
			node = p.Spec.NodeName
		case node != p.Spec.NodeName:
			return "", 0
		}
		n++
	}
	return node, n
}

func oneNodeMessage(w *workload, node string, n int) string {
	replicas := fmt.Sprintf("all %d replicas run", n)
	if n == 2 {
		replicas = "both replicas run"
	}
	if int32(n) != w.replicas {
		replicas = fmt.Sprintf("all %d running replicas (of %d desired) run", n, w.replicas)
	}
	down := "the workload"
	if len(w.services) > 0 {
		down = "the service (" + listOf(w.services, 3) + ")"
	}
	return fmt.Sprintf("%s on node %s: one node's drain takes %s down. Spread them with pod anti-affinity "+
		"or a topology spread constraint on %s and roll the workload so that the scheduler places them again.",
		replicas, node, down, corev1.LabelHostname)
}

// selectorString renders the workload's selector for a PDB to copy.
func selectorString(w *workload) string {
	if w.selector != nil {
		return metav1.FormatLabelSelector(w.selector)
	}
	return labels.SelectorFromSet(w.labels).String()
}

// podFindings gathers, per reported object, the pods a pod-level check
// found.
type podFindings struct {
	order []string
	pods  map[string][]*corev1.Pod
}

func (f *podFindings) add(object string, p *corev1.Pod) {
	if f.pods == nil {
		f.pods = map[string][]*corev1.Pod{}
	}
	if _, ok := f.pods[object]; !ok {
		f.order = append(f.order, object)
	}
	f.pods[object] = append(f.pods[object], p)
}

// checkPods reports bare pods, emptyDir data, node-local volumes and
// Pending pods, one risk per workload (per pod for bare pods).
func (x *index) checkPods(risks *riskSet) {
	var emptyDir, local, pending podFindings
	for _, p := range x.pods {
		if p.Spec.NodeName == "" {
			pending.add(x.objectOf(p), p)
			continue
		}
		d := x.permissive[p]
		if d.Action == plan.Skip {
			continue // DaemonSet and mirror pods stay with their node
		}
		if d.Unmanaged {
			risks.add(plan.RiskUnmanagedPod, plan.High, x.objectOf(p), x.unmanagedMessage(p))
		}
		if d.LosesEmptyDirData {
			emptyDir.add(x.objectOf(p), p)
		}
		if len(x.localVolumes(p)) > 0 {
			local.add(x.objectOf(p), p)
		}
	}
	for _, obj := range emptyDir.order {
		sev, msg := x.emptyDirRisk(obj, emptyDir.pods[obj])
		risks.add(plan.RiskEmptyDirData, sev, obj, msg)
	}
	for _, obj := range local.order {
		risks.add(plan.RiskLocalStorage, plan.High, obj, x.localStorageMessage(obj, local.pods[obj]))
	}
	for _, obj := range pending.order {
		risks.add(plan.RiskUnschedulable, plan.High, obj, x.pendingMessage(obj, pending.pods[obj]))
	}
}

// refusal says how the drain as configured refuses p's node, or "".
func (x *index) refusal(p *corev1.Pod) string {
	if d := x.decision[p]; d.Action == plan.Refuse {
		return fmt.Sprintf(" The drain as configured refuses node %s: %s.", p.Spec.NodeName, d.Reason)
	}
	return ""
}

func (x *index) unmanagedMessage(p *corev1.Pod) string {
	n := p.Spec.NodeName
	return fmt.Sprintf("no controller manages this pod (on node %s): kubectl drain refuses it without --force, "+
		"and with --force deletes it for good; nothing recreates it. Move it under a Deployment or a Job, or "+
		"save its manifest (kubectl get pod -o yaml) and recreate it once %s is back.%s", n, n, x.refusal(p))
}

// podCount says "2 pods use" or "the pod uses" (for a bare pod).
func podCount(object string, n int, verb, verbs string) string {
	if strings.HasPrefix(object, kindPod+"/") {
		return "the pod " + verbs
	}
	if n == 1 {
		return "1 pod " + verbs
	}
	return fmt.Sprintf("%d pods %s", n, verb)
}

func (x *index) emptyDirRisk(object string, pods []*corev1.Pod) (plan.Severity, string) {
	var vols []string
	refused := ""
	for _, p := range pods {
		for _, v := range p.Spec.Volumes {
			if v.EmptyDir != nil && !slices.Contains(vols, v.Name) {
				vols = append(vols, v.Name)
			}
		}
		if refused == "" {
			refused = x.refusal(p)
		}
	}
	slices.Sort(vols)
	msg := fmt.Sprintf("%s emptyDir volumes (%s): an eviction deletes their contents, and kubectl drain needs "+
		"--delete-emptydir-data to evict them. Fine for caches and scratch space; keep anything that must "+
		"survive on a PersistentVolume.%s", podCount(object, len(pods), "use", "uses"), listOf(vols, 5), refused)
	if refused != "" {
		return plan.High, msg
	}
	return plan.Medium, msg
}

// localVolume is a node-local PersistentVolume a pod is bound to.
type localVolume struct {
	pv, node string
}

// localVolumes returns the node-local PersistentVolumes p is bound to,
// through its PVCs (and generic ephemeral volumes' PVCs).
func (x *index) localVolumes(p *corev1.Pod) []localVolume {
	var out []localVolume
	for _, pv := range x.podPVs(p) {
		if node, ok := nodeLocal(pv); ok {
			if node == "" {
				node = p.Spec.NodeName
			}
			out = append(out, localVolume{pv: pv.Name, node: node})
		}
	}
	return out
}

// podPVs returns the PersistentVolumes p's claims are bound to.
func (x *index) podPVs(p *corev1.Pod) []*corev1.PersistentVolume {
	var out []*corev1.PersistentVolume
	for _, v := range p.Spec.Volumes {
		claim := ""
		switch {
		case v.PersistentVolumeClaim != nil:
			claim = v.PersistentVolumeClaim.ClaimName
		case v.Ephemeral != nil:
			claim = p.Name + "-" + v.Name
		default:
			continue
		}
		pvc := x.pvcs[nsName(p.Namespace, claim)]
		if pvc == nil || pvc.Spec.VolumeName == "" {
			continue
		}
		if pv := x.pvs[pvc.Spec.VolumeName]; pv != nil {
			out = append(out, pv)
		}
	}
	return out
}

// nodeLocal reports whether pv lives on one node: a local or hostPath
// volume, or one whose node affinity pins it to hostnames (or node names).
// node is that node when the affinity names exactly one.
func nodeLocal(pv *corev1.PersistentVolume) (node string, ok bool) {
	ok = pv.Spec.Local != nil || pv.Spec.HostPath != nil
	var hosts []string
	if na := pv.Spec.NodeAffinity; na != nil && na.Required != nil && len(na.Required.NodeSelectorTerms) > 0 {
		pinned := true
		for _, term := range na.Required.NodeSelectorTerms {
			h := termHosts(term)
			if len(h) == 0 {
				pinned = false
			}
			hosts = append(hosts, h...)
		}
		ok = ok || pinned
	}
	slices.Sort(hosts)
	hosts = slices.Compact(hosts)
	if ok && len(hosts) == 1 {
		node = hosts[0]
	}
	return node, ok
}

// termHosts returns the hostnames or node names a node selector term
// requires with the In operator.
func termHosts(term corev1.NodeSelectorTerm) []string {
	for _, r := range term.MatchExpressions {
		if r.Key == corev1.LabelHostname && r.Operator == corev1.NodeSelectorOpIn {
			return r.Values
		}
	}
	for _, r := range term.MatchFields {
		if r.Key == "metadata.name" && r.Operator == corev1.NodeSelectorOpIn {
			return r.Values
		}
	}
	return nil
}

func (x *index) localStorageMessage(object string, pods []*corev1.Pod) string {
	var where []string
	zones := map[string]bool{}
	for _, p := range pods {
		for _, lv := range x.localVolumes(p) {
			where = append(where, fmt.Sprintf("%s on %s via %s", p.Name, lv.node, lv.pv))
			zone := snapshot.NoGroup
			if n := x.nodes[lv.node]; n != nil {
				zone = snapshot.NodeZone(n)
			}
			zones[zone] = true
		}
	}
	count := podCount(object, len(pods), "keep their", "keeps its")
	if w := x.workloads[object]; w != nil && len(w.pods) > len(pods) {
		count = fmt.Sprintf("%d of %d pods keep their", len(pods), len(w.pods))
	} else if w != nil && len(pods) > 1 {
		count = fmt.Sprintf("all %d pods keep their", len(pods))
	}
	msg := fmt.Sprintf("%s data on node-local PersistentVolumes (%s): such a pod can only run on its "+
		"node, so it is down from its node's drain until the node is back, and its data survives only if the "+
		"reinstall keeps the disk. Replace these nodes one at a time with the other replicas healthy (a PDB "+
		"maxUnavailable: 1), make sure the reinstall preserves the local disks, or move the data off first "+
		"(the migration strategy).", count, listOf(where, 3))
	if len(pods) >= 2 && len(zones) == 1 {
		for z := range zones {
			msg += fmt.Sprintf(" All %d are in zone %s: a zone-by-zone order takes them down together.", len(pods), z)
		}
	}
	return msg
}

func (x *index) pendingMessage(object string, pods []*corev1.Pod) string {
	count := "the pod is Pending"
	if w := x.workloads[object]; w != nil {
		count = fmt.Sprintf("%d of %d pods are Pending", len(pods), len(w.pods))
		if len(pods) == 1 {
			count = fmt.Sprintf("1 of %d pods is Pending", len(w.pods))
		}
	}
	why := ""
	for _, p := range pods {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Message != "" {
				why = fmt.Sprintf(" (%s: %q)", p.Name, c.Message)
				break
			}
		}
		if why != "" {
			break
		}
	}
	they, their := "they find", "their"
	if len(pods) == 1 {
		they, their = "it finds", "its"
	}
	return fmt.Sprintf("%s, bound to no node%s: %s no node before any node is taken out, and a rollout only "+
		"makes the queue longer. Fix %s requests, node selectors or tolerations, or add capacity, before the "+
		"rollout.", count, why, they, their)
}

// listOf joins the first limit items and says how many more there are.
func listOf(items []string, limit int) string {
	if len(items) <= limit {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:limit], ", "), len(items)-limit)
}

// assumedOwner reports whether w owns pods but is not in the snapshot
// (an orphaned DaemonSet pod is left to the drain rules: nothing
// recreates it; a static pod's mirror is owned by its Node and returns
// with it).
func (w *workload) assumedOwner() bool {
	return !w.known && w.kind != kindDaemonSet && w.kind != "Node" && len(w.pods) > 0
}

// assumedControllers counts the controllers the snapshot lacks, by kind.
func (x *index) assumedControllers() map[string]int {
	var out map[string]int
	for _, w := range x.ordered {
		if w.assumedOwner() {
			if out == nil {
				out = map[string]int{}
			}
			out[w.kind]++
		}
	}
	return out
}

// checkAssumedControllers reports each controller of pods that the
// snapshot does not hold: a drain evicts its pods (they have a
// controller), and the simulation assumes it recreates them.
func (x *index) checkAssumedControllers(risks *riskSet) {
	for _, w := range x.ordered {
		if !w.assumedOwner() {
			continue
		}
		how := "recreates an evicted pod at once under a new name, as a ReplicaSet does"
		if w.kind == kindStatefulSet {
			how = "recreates an evicted pod under the same name once it is gone, as a StatefulSet does"
		}
		risks.add(plan.RiskAssumedController, plan.Low, w.object(), fmt.Sprintf(
			"the controller of %s is not in the snapshot: the simulation assumes it %s (set its identity under controllers: in the --config file if it keeps pod names and volumes), and that a budget with maxUnavailable or a percentage over its pods allows no disruption unless its resource serves /scale (hasScale)",
			pods(len(w.pods)), how))
	}
}

// pods says "1 pod" or "n pods".
func pods(n int) string {
	if n == 1 {
		return "1 pod"
	}
	return fmt.Sprintf("%d pods", n)
}
