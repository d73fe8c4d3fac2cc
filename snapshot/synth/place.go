package synth

import (
	"context"
	"errors"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"

	"github.com/noderoll/noderoll/scheduler"
)

// ErrUnplaceable is returned by Generate when the scheduler finds no node
// for a generated pod. For the built-in profiles at their default scale
// that is a generator bug.
var ErrUnplaceable = errors.New("generated pod fits on no node")

// progressEvery is how many placements pass between Progress calls.
const progressEvery = 100

// placement is one pod to create: ordinal i of w, and for DaemonSet pods
// the node the DaemonSet controller targets.
type placement struct {
	w    *workload
	i    int
	node *nodeInfo
}

// placementOrder orders the pods as they would have been created and
// scheduled: DaemonSet pods first (they arrive with their nodes), then
// workloads by priority, highest first, and within a priority in a seeded
// shuffle so that tenants interleave; the pods of one workload in ordinal
// order.
func (g *generator) placementOrder() []placement {
	var order []placement
	var rest []*workload
	for _, w := range g.workloads {
		if w.kind != kindDaemonSet {
			rest = append(rest, w)
			continue
		}
		for _, ni := range g.nodes {
			if dsRunsOn(w, ni) {
				order = append(order, placement{w: w, i: len(order), node: ni})
			}
		}
	}
	pos := g.rng.Perm(len(rest))
	idx := make(map[*workload]int, len(rest))
	for i, w := range rest {
		idx[w] = pos[i]
	}
	sort.SliceStable(rest, func(a, b int) bool {
		pa, pb := priorityValues[rest[a].priorityClass], priorityValues[rest[b].priorityClass]
		if pa != pb {
			return pa > pb
		}
		return idx[rest[a]] < idx[rest[b]]
	})
	for _, w := range rest {
		for i := range w.replicas {
			order = append(order, placement{w: w, i: i})
		}
	}
	return order
}

// placePods builds the scheduler on everything but the pods, then creates
// and places every pod in placementOrder, calling progress as it goes.
func (g *generator) placePods(ctx context.Context, progress func(done, total int)) error {
	s, err := scheduler.New(ctx, deepCopy(g.snap), scheduler.Options{Seed: g.seed})
	if err != nil {
		return fmt.Errorf("building the scheduler: %w", err)
	}
	order := g.placementOrder()
	for n, pl := range order {
		if err := ctx.Err(); err != nil {
			return err
		}
		if progress != nil && n%progressEvery == 0 {
			progress(n, len(order))
		}
		pod := g.newPod(pl.w, pl.i, pl.node)
		nodeName, err := g.place(ctx, s, pod, pl.w)
		if err != nil {
			return err
		}
		ni, ok := g.nodeByName[nodeName]
		if !ok {
			return fmt.Errorf("placing pod %s/%s: the scheduler chose unknown node %q", pod.Namespace, pod.Name, nodeName)
		}
		g.finishPod(pod, pl.w, pl.i, ni)
		switch pl.w.storage {
		case storageLocal:
			g.bindLocal(pl.w, pl.i, ni)
		case storageZonal:
			g.selectNode(pl.w, pl.i, ni)
		}
		pl.w.pods = append(pl.w.pods, &podRecord{ordinal: pl.i, node: ni, index: len(g.snap.Pods)})
		g.snap.Pods = append(g.snap.Pods, *pod)
	}
	if progress != nil {
		progress(len(order), len(order))
	}
	return nil
}

// place asks the scheduler for the pod's node (Place keeps its own copy of
// the pod). A pod whose claim waits for a local volume cannot pass
// VolumeBinding (no-provisioner class, no volume yet): such a pod is placed
// without the claim, and the volume is then created on the chosen node, as
// a local static provisioner would have offered it.
func (g *generator) place(ctx context.Context, s *scheduler.Scheduler, pod *corev1.Pod, w *workload) (string, error) {
	res, err := s.Place(ctx, pod)
	if err != nil {
		return "", fmt.Errorf("placing pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	if res.NodeName == "" && w.storage == storageLocal {
		trial := pod.DeepCopy()
		vols := trial.Spec.Volumes[:0]
		for _, v := range trial.Spec.Volumes {
			if v.PersistentVolumeClaim == nil {
				vols = append(vols, v)
			}
		}
		trial.Spec.Volumes = vols
		if res, err = s.Place(ctx, trial); err != nil {
			return "", fmt.Errorf("placing pod %s/%s: %w", pod.Namespace, pod.Name, err)
		}
	}
	if res.NodeName == "" {
		msg := "no reason given"
		if res.Unschedulable != nil {
			msg = res.Unschedulable.Message()
		}
		return "", fmt.Errorf("%w: pod %s/%s of %s: %s", ErrUnplaceable, pod.Namespace, pod.Name, w, msg)
	}
	return res.NodeName, nil
}
