package sim

import (
	"math"
	"sort"

	resourcehelper "k8s.io/component-helpers/resource"

	"github.com/noderoll/noderoll/plan"
)

// Sample is the cluster's state at one moment of the rollout, as the
// report's timeline charts draw it.
type Sample struct {
	// Seconds since the rollout started (virtual time).
	Seconds float64 `json:"seconds"`
	// NodesOut counts the nodes out of service: cordoned, drained,
	// reinstalling or joining.
	NodesOut int `json:"nodesOut"`
	// PodsPending counts the pods waiting for a node.
	PodsPending int `json:"podsPending"`
	// Evictions and EvictionsBlocked are cumulative: evictions allowed and
	// evictions answered 429 so far.
	Evictions        int `json:"evictions"`
	EvictionsBlocked int `json:"evictionsBlocked"`
	// CPU (cores) and Memory (GiB): what the in-service nodes offer, and
	// what the pods that must keep running request (as Batch.Capacity
	// counts them).
	CPU    Amount `json:"cpu"`
	Memory Amount `json:"memory"`
}

// timeline records Samples. It samples once per virtual instant (after
// the instant's last event) and only when something it shows changed, so a
// run of ~100,000 events costs one pass over the nodes per instant. The
// requested side of the capacity needs a pass over every pod: it is redone
// only when a node leaves or returns, since between such moments an
// eviction swaps a terminating pod for its pending replacement and leaves
// the demand as it was (only bare pods lost on a drain lower it, and the
// next node change catches that).
type timeline struct {
	nodes []*simNode
	alloc [][2]int64 // milli-CPU, bytes of each node in nodes
	req   [][2]int64 // milli-CPU, bytes requested by s.pods[i]
	// outCount and inAlloc identify the in-service nodes at the last
	// sample; demand is what was requested then.
	outCount int
	inAlloc  [2]int64
	demand   [3]int64
	started  bool
}

// observe records a Sample when the current instant is over and the state
// differs from the last Sample.
func (s *Simulation) observe() {
	if len(s.clk.q) > 0 && s.clk.q[0].at == s.clk.now {
		return // more events at this instant
	}
	tl := &s.tl
	if !tl.started {
		tl.started = true
		for _, name := range sortedNodeNames(s.nodes) {
			n := s.nodes[name]
			a := n.obj.Status.Allocatable
			tl.nodes = append(tl.nodes, n)
			tl.alloc = append(tl.alloc, [2]int64{a.Cpu().MilliValue(), a.Memory().Value()})
		}
		tl.outCount = -1
	}
	out := 0
	var in [2]int64
	for i, n := range tl.nodes {
		if !n.present || n.cordoned {
			out++
			continue
		}
		in[0] += tl.alloc[i][0]
		in[1] += tl.alloc[i][1]
	}
	if out != tl.outCount || in != tl.inAlloc {
		tl.outCount, tl.inAlloc = out, in
		tl.demand = s.demand()
	}
	const gib = 1 << 30
	smp := Sample{
		Seconds:          s.clk.now.Seconds(),
		NodesOut:         out,
		PodsPending:      len(s.pending),
		Evictions:        s.result.Summary.Evictions,
		EvictionsBlocked: s.result.Summary.EvictionsBlocked,
		CPU:              Amount{Allocatable: milli(float64(in[0]) / 1000), Requested: milli(float64(tl.demand[0]) / 1000)},
		Memory:           Amount{Allocatable: milli(float64(in[1]) / gib), Requested: milli(float64(tl.demand[1]) / gib)},
	}
	r := s.result
	if k := len(r.Timeline); k > 0 {
		last := r.Timeline[k-1]
		if last.Seconds == smp.Seconds {
			// The instant went on after a sample (the stuck-drain check
			// queues events at the current time): the new state replaces it.
			r.Timeline[k-1] = smp
			return
		}
		last.Seconds = smp.Seconds
		if last == smp {
			return
		}
	}
	r.Timeline = append(r.Timeline, smp)
}

// demand sums the requests (CPU millicores, memory bytes, pods) of the
// pods that need room on the schedulable nodes: those on them, those
// waiting, and those the cordoned nodes will shed, but not the DaemonSet and
// static pods that leave with their node, nor bare pods, which are lost.
// Each pod's requests are computed once.
func (s *Simulation) demand() [3]int64 {
	tl := &s.tl
	for i := len(tl.req); i < len(s.pods); i++ {
		req := resourcehelper.PodRequests(s.pods[i].obj, resourcehelper.PodResourcesOptions{})
		tl.req = append(tl.req, [2]int64{req.Cpu().MilliValue(), req.Memory().Value()})
	}
	var sum [3]int64
	for i, p := range s.pods {
		if p.state == podGone || p.state == podTerminating {
			continue
		}
		if n := s.nodes[p.obj.Spec.NodeName]; p.state != podPending && (n == nil || !n.present || n.cordoned) {
			if p.owner == nil || p.owner.kind == "DaemonSet" || plan.IsMirrorPod(p.obj) {
				continue
			}
		}
		sum[0] += tl.req[i][0]
		sum[1] += tl.req[i][1]
		sum[2]++
	}
	return sum
}

// milli rounds to three decimals: enough for cores and GiB, and short in
// JSON.
func milli(f float64) float64 { return math.Round(f*1000) / 1000 }

func sortedNodeNames(nodes map[string]*simNode) []string {
	names := make([]string, 0, len(nodes))
	for name := range nodes {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}
