package sim

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/noderoll/noderoll/plan"
)

// This file holds the rolling variants: surge nodes, cordon-ahead and the
// windowed rollout, and the machinery they share with the migration (new
// machines joining the cluster).

// addSurge makes n new machines of the most common shape, with the new OS,
// join the cluster before the first batch. They stay to the end of the
// rollout; their cost is reported as extra machine-hours.
func (s *Simulation) addSurge(n int) error {
	if n <= 0 {
		return nil
	}
	_, err := s.addMachines("noderoll-surge", n, false)
	return err
}

// mostCommonShape is a node of the most common shape: allocatable CPU,
// memory and pods, zone and instance type; ties go to the first name.
func (s *Simulation) mostCommonShape() *corev1.Node {
	names := make([]string, 0, len(s.nodes))
	for name := range s.nodes {
		names = append(names, name)
	}
	sort.Strings(names)
	counts := map[string]int{}
	first := map[string]*corev1.Node{}
	best, bestCount := "", 0
	for _, name := range names {
		n := s.nodes[name].obj
		if n.Labels[plan.ClusterLabel] == plan.ClusterNew {
			continue
		}
		a := n.Status.Allocatable
		key := fmt.Sprintf("%d/%d/%d/%s", a.Cpu().MilliValue(), a.Memory().Value(), a.Pods().Value(), n.Labels[corev1.LabelInstanceTypeStable])
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

// addMachines registers n new Ready nodes of the most common shape, with
// the new OS image, named prefix-001...; with newCluster they join the
// migration's new cluster. Every DaemonSet gets its pod on each of them.
func (s *Simulation) addMachines(prefix string, n int, newCluster bool) ([]string, error) {
	shape := s.mostCommonShape()
	if shape == nil {
		return nil, fmt.Errorf("adding %d machines: the snapshot has no node to copy the shape of", n)
	}
	var names []string
	for i := 1; i <= n; i++ {
		obj := shape.DeepCopy()
		obj.Name = fmt.Sprintf("%s-%03d", prefix, i)
		obj.UID = types.UID("noderoll-" + obj.Name)
		obj.ResourceVersion = ""
		labels := map[string]string{}
		for k, v := range shape.Labels {
			labels[k] = v
		}
		labels[corev1.LabelHostname] = obj.Name
		obj.Labels = labels
		obj.Spec.Unschedulable = false
		obj.Spec.Taints = nil
		for _, t := range shape.Spec.Taints {
			if t.Key != corev1.TaintNodeUnschedulable {
				obj.Spec.Taints = append(obj.Spec.Taints, t)
			}
		}
		obj.Status.NodeInfo.OSImage = s.opts.NewOSImage
		if newCluster {
			markNewCluster(obj)
		}
		if s.nodes[obj.Name] != nil {
			return nil, fmt.Errorf("adding machine %s: a node of that name exists", obj.Name)
		}
		node := &simNode{obj: obj, pods: map[*simPod]bool{}, present: true}
		s.nodes[obj.Name] = node
		s.sched.AddNode(obj)
		s.extraMachines++
		if err := s.spawnDaemonPods(node, newCluster); err != nil {
			return nil, err
		}
		names = append(names, obj.Name)
	}
	s.clusterChanged(true, clusterOld)
	return names, nil
}

// spawnDaemonPods gives a new node one pod of every DaemonSet, made from
// one of the DaemonSet's existing pods, as the DaemonSet controller would.
func (s *Simulation) spawnDaemonPods(n *simNode, newCluster bool) error {
	models := map[*workload]*simPod{}
	var order []*workload
	for _, p := range s.pods {
		if p.owner == nil || p.owner.kind != "DaemonSet" || models[p.owner] != nil {
			continue
		}
		models[p.owner] = p
		order = append(order, p.owner)
	}
	for _, w := range order {
		w.created++
		p := s.respawn(models[w], fmt.Sprintf("%s-nr%d", w.name, w.created))
		p.obj.UID = types.UID(fmt.Sprintf("%s-%s", models[w].obj.UID, n.obj.Name))
		if newCluster {
			tolerateNewCluster(p.obj)
		}
		p.obj.Spec.NodeName = n.obj.Name
		pinToNode(p.obj, n.obj.Name)
		if err := s.sched.AddPod(p.obj); err != nil {
			return fmt.Errorf("adding DaemonSet pod %s to %s: %w", p.key(), n.obj.Name, err)
		}
		s.bind(p, n.obj.Name)
	}
	return nil
}

// pinToNode replaces a DaemonSet pod's node affinity with the one the
// DaemonSet controller sets for node.
func pinToNode(pod *corev1.Pod, node string) {
	if pod.Spec.Affinity == nil || pod.Spec.Affinity.NodeAffinity == nil {
		return
	}
	aff := pod.Spec.Affinity.DeepCopy()
	aff.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
		MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{node}}},
	}}}
	pod.Spec.Affinity = aff
}

// cordonAhead cordons the nodes of the CordonAhead batches after batch i,
// so that the pods batch i evicts avoid them. They are uncordoned when they
// rejoin after their own replacement.
func (s *Simulation) cordonAhead(p *plan.Plan, i int) {
	for j := i + 1; j <= i+p.Spec.CordonAhead && j < len(p.Spec.Batches); j++ {
		for _, name := range p.Spec.Batches[j].Nodes {
			s.setCordon(s.nodes[name], true)
		}
	}
}

// runWindow keeps p.Spec.Window nodes in flight: the nodes of the batches,
// in order, start one by one, the next as soon as one is back. The run is
// reported as one batch.
func (s *Simulation) runWindow(p *plan.Plan) {
	var names []string
	for _, b := range p.Spec.Batches {
		names = append(names, b.Nodes...)
	}
	s.clk.at(0, func() {
		bs := &batchStats{Batch: Batch{Index: 0, Nodes: names, StartSeconds: s.clk.now.Seconds()}, onDone: func() {}}
		s.batch = bs
		s.result.Batches = append(s.result.Batches, &bs.Batch)
		bs.Capacity = s.capacity()
		next := 0
		fill := func() {
			inFlight := 0
			for _, nr := range bs.runs {
				if !nr.finished {
					inFlight++
				}
			}
			for inFlight < p.Spec.Window && next < len(names) {
				n := s.nodes[names[next]]
				next++
				s.setCordon(n, true)
				nr := newNodeRun(n, bs, p.Spec.Drain)
				bs.runs = append(bs.runs, nr)
				inFlight++
				s.drain(nr)
			}
			if s.opts.Progress != nil {
				s.opts.Progress(next, len(names))
			}
		}
		bs.onRunDone = fill
		fill()
		if len(names) == 0 {
			s.finishBatch(bs)
		}
	})
	s.runClock()
}

// runClock runs the clock until nothing is left to happen, declaring stuck
// the drains nothing can unblock (see runBatches).
func (s *Simulation) runClock() {
	for s.err == nil {
		if (s.clk.onlyRetries() || s.clk.empty()) && !s.anyEvictionWouldPass() {
			s.declareStuck("no eviction can ever be allowed: the blocking budgets wait on pods that cannot become Ready")
			s.giveUpWaiting()
			if s.mig != nil && s.clk.empty() {
				s.mig.giveUp()
			}
		}
		if !s.clk.step() {
			break
		}
		s.notePendingPeak()
		if err := s.ctx.Err(); err != nil {
			s.fail(err)
		}
	}
}

// finishExtras adds what the variants cost once the duration is known.
func (s *Simulation) finishExtras() {
	s.result.Summary.ExtraMachineHours = float64(s.extraMachines) * s.result.Summary.DurationSeconds / 3600
}
