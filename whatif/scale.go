package whatif

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/noderoll/noderoll/scheduler"
)

// scale sets a workload's replicas: the controller's spec, and its pods.
// New pods copy an existing one (the last by name), are placed by the
// scheduler on the what-if snapshot and start Running and Ready, as they
// would be once the user has scaled the workload and waited for it; the
// pods removed are the last by name.
func (a *Applied) scale(ctx context.Context, sched *scheduler.Scheduler, r Replicas) error {
	s := a.Snapshot
	var podOwner types.UID // the pods' controller
	var from int32
	set := func(p **int32) {
		if *p != nil {
			from = **p
		} else {
			from = 1
		}
		v := r.Replicas
		*p = &v
	}
	stateful := false
	switch r.Kind {
	case "Deployment":
		di := -1
		for i := range s.Deployments {
			if d := &s.Deployments[i]; d.Namespace == r.Namespace && d.Name == r.Name {
				di = i
			}
		}
		if di < 0 {
			return fmt.Errorf("no such Deployment in the snapshot")
		}
		d := s.Deployments[di].DeepCopy()
		set(&d.Spec.Replicas)
		s.Deployments[di] = *d
		// Its current ReplicaSet: the one owned with the most replicas
		// (the newest by name on a tie).
		ri := -1
		for i := range s.ReplicaSets {
			rs := &s.ReplicaSets[i]
			ref := metav1.GetControllerOf(rs)
			if ref == nil || ref.UID != d.UID {
				continue
			}
			if ri < 0 || replicas(rs.Spec.Replicas) > replicas(s.ReplicaSets[ri].Spec.Replicas) ||
				(replicas(rs.Spec.Replicas) == replicas(s.ReplicaSets[ri].Spec.Replicas) && rs.Name > s.ReplicaSets[ri].Name) {
				ri = i
			}
		}
		if ri < 0 {
			return fmt.Errorf("the Deployment has no ReplicaSet in the snapshot")
		}
		rs := s.ReplicaSets[ri].DeepCopy()
		v := r.Replicas
		rs.Spec.Replicas = &v
		s.ReplicaSets[ri] = *rs
		podOwner = rs.UID
	case "ReplicaSet":
		ri := -1
		for i := range s.ReplicaSets {
			if rs := &s.ReplicaSets[i]; rs.Namespace == r.Namespace && rs.Name == r.Name {
				ri = i
			}
		}
		if ri < 0 {
			return fmt.Errorf("no such ReplicaSet in the snapshot")
		}
		rs := s.ReplicaSets[ri].DeepCopy()
		set(&rs.Spec.Replicas)
		s.ReplicaSets[ri] = *rs
		podOwner = rs.UID
	case "StatefulSet":
		si := -1
		for i := range s.StatefulSets {
			if ss := &s.StatefulSets[i]; ss.Namespace == r.Namespace && ss.Name == r.Name {
				si = i
			}
		}
		if si < 0 {
			return fmt.Errorf("no such StatefulSet in the snapshot")
		}
		ss := s.StatefulSets[si].DeepCopy()
		if len(ss.Spec.VolumeClaimTemplates) > 0 && r.Replicas > replicas(ss.Spec.Replicas) {
			return fmt.Errorf("the StatefulSet has volumeClaimTemplates: new replicas need volumes the simulation cannot provision; scale it in the cluster and capture again")
		}
		set(&ss.Spec.Replicas)
		s.StatefulSets[si] = *ss
		podOwner = ss.UID
		stateful = true
	}
	var mine []int
	for i := range s.Pods {
		p := &s.Pods[i]
		if ref := metav1.GetControllerOf(p); ref != nil && ref.UID == podOwner && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			mine = append(mine, i)
		}
	}
	sort.Slice(mine, func(i, j int) bool { return podLess(&s.Pods[mine[i]], &s.Pods[mine[j]], stateful) })
	have := int32(len(mine))
	obj := r.Kind + "/" + r.Namespace + "/" + r.Name
	switch {
	case r.Replicas < have:
		drop := map[int]bool{}
		var names []string
		var gone []*corev1.Pod
		for _, i := range mine[r.Replicas:] {
			drop[i] = true
			names = append(names, s.Pods[i].Name)
			if s.Pods[i].Spec.NodeName != "" {
				gone = append(gone, s.Pods[i].DeepCopy())
			}
		}
		kept := s.Pods[:0]
		for i := range s.Pods {
			if !drop[i] {
				kept = append(kept, s.Pods[i])
			}
		}
		s.Pods = kept
		for _, p := range gone {
			if err := sched.RemovePod(p); err != nil {
				return fmt.Errorf("removing a replica from the scheduler: %w", err)
			}
		}
		a.logf("%s: replicas %d → %d (pods removed: %s)", obj, from, r.Replicas, strings.Join(names, ", "))
	case r.Replicas > have:
		if have == 0 {
			return fmt.Errorf("the workload has no pod in the snapshot to copy the new replicas from")
		}
		model := &s.Pods[mine[len(mine)-1]]
		var placed []string
		var added []corev1.Pod
		for k := have; k < r.Replicas; k++ {
			p := model.DeepCopy()
			if stateful {
				p.Name = fmt.Sprintf("%s-%d", r.Name, k)
				if p.Labels != nil {
					p.Labels["statefulset.kubernetes.io/pod-name"] = p.Name
				}
				if p.Spec.Hostname != "" {
					p.Spec.Hostname = p.Name
				}
			} else {
				p.Name = fmt.Sprintf("%s-whatif-%d", ownerName(model), k)
			}
			p.UID = types.UID(fmt.Sprintf("noderoll-whatif-%s-%s", r.Namespace, p.Name))
			p.ResourceVersion = ""
			p.Spec.NodeName = ""
			p.Status.NominatedNodeName = ""
			res, err := sched.Place(ctx, p)
			if err != nil {
				return fmt.Errorf("placing new replica %s: %w", p.Name, err)
			}
			if res.NodeName == "" {
				p.Status = corev1.PodStatus{Phase: corev1.PodPending}
				placed = append(placed, p.Name+" (fits no node: left pending)")
			} else {
				p.Spec.NodeName = res.NodeName
				p.Status = corev1.PodStatus{Phase: corev1.PodRunning, StartTime: model.Status.StartTime,
					Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}
				placed = append(placed, p.Name+" on "+res.NodeName)
			}
			added = append(added, *p)
		}
		s.Pods = append(s.Pods, added...)
		a.logf("%s: replicas %d → %d (new: %s)", obj, from, r.Replicas, strings.Join(placed, ", "))
	default:
		a.logf("%s: replicas %d → %d", obj, from, r.Replicas)
	}
	return nil
}

func replicas(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

// podLess orders a workload's pods: by ordinal for a StatefulSet, by name
// otherwise.
func podLess(a, b *corev1.Pod, stateful bool) bool {
	if stateful && len(a.Name) != len(b.Name) {
		return len(a.Name) < len(b.Name)
	}
	return a.Name < b.Name
}
