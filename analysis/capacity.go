package analysis

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	resourcehelper "k8s.io/component-helpers/resource"
	corev1helper "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"

	"github.com/noderoll/noderoll/plan"
	"github.com/noderoll/noderoll/snapshot"
)

// The resources the capacity check compares.
const (
	resCPU    = iota // millicores
	resMemory        // bytes
	resPods          // pod slots
	numRes
)

// amount is a quantity of each resource.
type amount [numRes]int64

func (a *amount) add(b amount) {
	for r := range a {
		a[r] += b[r]
	}
}

// capNode is a node as the capacity check sees it.
type capNode struct {
	node        *corev1.Node
	idx         int // position in the name-sorted nodes
	pool, zone  string
	schedulable bool
	alloc, req  amount
	// evicted are the pods a drain of the node evicts and that need a
	// place on another node: not the DaemonSet and mirror pods, which stay
	// with it, nor bare pods, which are lost, nor pods bound to node-local
	// volumes, which wait for it.
	evicted []capPod
}

// capPod is an evicted pod: its requests, the nodes it may run on, and the
// narrowest group those nodes lie in, where its room is judged:
// "NodePool/pool" when they are in one pool, else "Zone/zone" when in one
// zone, else "Cluster/total".
type capPod struct {
	req   amount
	where []*capNode
	home  string
}

// group is a set of nodes the check takes nodes out of: the cluster, a
// node pool, a zone.
type group struct {
	kind, name string // "Cluster"/"total", "NodePool"/pool, "Zone"/zone
	nodes      []*capNode
}

func (g *group) object() string { return g.kind + "/" + g.name }

const clusterObject = "Cluster/total"

// checkCapacity reports the node groups whose evicted pods do not fit once
// the group's largest nodes are out, and the pools and zones whose pods
// can run nowhere else that have a single node or are nearly full. Each
// evicted pod is judged once, in the narrowest group that holds every node
// it may run on (see capPod), so that one cause is reported once: a Job
// that only a tainted pool admits is the pool's problem, not the cluster's.
//
// Assumed, and said here because the numbers depend on it: requests are
// the scheduler's effective requests; a pod may run wherever its node
// selector, required node affinity, taints and volumes' node affinity
// allow (inter-pod affinity, topology spread and ports are left to the
// simulator); free room is summed over the nodes, so a pod larger than any
// node's free room is not caught here.
func (x *index) checkCapacity(risks *riskSet, opts PreflightOptions) {
	nodes := x.capNodes()
	if len(nodes) == 0 {
		return
	}
	groups := []*group{{kind: "Cluster", name: "total", nodes: nodes}}
	for _, kind := range []string{"NodePool", "Zone"} {
		byName := map[string]*group{}
		for _, n := range nodes {
			name := n.pool
			if kind == "Zone" {
				name = n.zone
			}
			if byName[name] == nil {
				byName[name] = &group{kind: kind, name: name}
			}
			byName[name].nodes = append(byName[name].nodes, n)
		}
		if len(byName) < 2 {
			continue // one group of all the nodes is the cluster
		}
		for _, name := range slices.Sorted(maps.Keys(byName)) {
			groups = append(groups, byName[name])
		}
	}
	for _, g := range groups {
		if msg := judgeGroup(g, nodes, opts); msg != "" {
			risks.add(plan.RiskCapacityShortfall, plan.High, g.object(), msg)
		}
	}
}

// capNodes builds the nodes, by name, with their requests and evicted pods.
func (x *index) capNodes() []*capNode {
	byName := make(map[string]*capNode, len(x.snap.Nodes))
	nodes := make([]*capNode, 0, len(x.snap.Nodes))
	pools, zones := map[string]bool{}, map[string]bool{}
	for i := range x.snap.Nodes {
		n := &x.snap.Nodes[i]
		cn := &capNode{node: n, pool: snapshot.NodePool(n), zone: snapshot.NodeZone(n), schedulable: !n.Spec.Unschedulable,
			alloc: amount{n.Status.Allocatable.Cpu().MilliValue(), n.Status.Allocatable.Memory().Value(), n.Status.Allocatable.Pods().Value()}}
		byName[n.Name] = cn
		nodes = append(nodes, cn)
		pools[cn.pool], zones[cn.zone] = true, true
	}
	slices.SortFunc(nodes, func(a, b *capNode) int { return cmp.Compare(a.node.Name, b.node.Name) })
	for i, n := range nodes {
		n.idx = i
	}
	el := newEligibility(nodes)
	for _, p := range x.pods {
		cn := byName[p.Spec.NodeName]
		if cn == nil {
			continue // Pending, or on a node the snapshot lacks
		}
		rl := resourcehelper.PodRequests(p, resourcehelper.PodResourcesOptions{})
		req := amount{rl.Cpu().MilliValue(), rl.Memory().Value(), 1}
		cn.req.add(req)
		if d := x.permissive[p]; d.Action == plan.Skip || d.Unmanaged {
			continue
		}
		if len(x.localVolumes(p)) > 0 {
			continue // it waits for its node (LocalStorage says so)
		}
		where := el.eligible(p, x.podPVs(p))
		if len(where) == 0 {
			continue // it fits nowhere whatever is taken out
		}
		cp := capPod{req: req, where: where, home: clusterObject}
		if pool := only(where, func(n *capNode) string { return n.pool }); pool != "" && len(pools) > 1 {
			cp.home = "NodePool/" + pool
		} else if zone := only(where, func(n *capNode) string { return n.zone }); zone != "" && len(zones) > 1 {
			cp.home = "Zone/" + zone
		}
		cn.evicted = append(cn.evicted, cp)
	}
	return nodes
}

// only returns the one value f takes on nodes, or "".
func only(nodes []*capNode, f func(*capNode) string) string {
	v := ""
	for i, n := range nodes {
		if i == 0 {
			v = f(n)
		} else if f(n) != v {
			return ""
		}
	}
	return v
}

// judgeGroup returns the message of g's CapacityShortfall, or "".
func judgeGroup(g *group, all []*capNode, opts PreflightOptions) string {
	// The pods judged here, and the schedulable nodes of g they may use.
	var total, alloc amount
	pinned := 0
	usable := map[*capNode]bool{}
	for _, n := range g.nodes {
		total.add(n.req)
		alloc.add(n.alloc)
		for _, p := range n.evicted {
			if p.home != g.object() {
				continue
			}
			pinned++
			for _, u := range p.where {
				usable[u] = true
			}
		}
	}
	var cand []*capNode
	for _, n := range g.nodes {
		if n.schedulable && usable[n] {
			cand = append(cand, n)
		}
	}
	if pinned == 0 || len(cand) == 0 {
		return ""
	}
	// Take out the k largest of those nodes: the most cpu, then memory,
	// then by name. The pods evicted from them need room on the rest.
	slices.SortStableFunc(cand, func(a, b *capNode) int {
		return cmp.Or(-cmp.Compare(a.alloc[resCPU], b.alloc[resCPU]), -cmp.Compare(a.alloc[resMemory], b.alloc[resMemory]))
	})
	k := max(1, int(math.Ceil(opts.NodesOutFraction*float64(len(cand))-1e-9)))
	k = min(k, len(cand))
	out, rest := cand[:k], cand[k:]
	var need, free amount
	for _, n := range out {
		for _, p := range n.evicted {
			if p.home == g.object() {
				need.add(p.req)
			}
		}
	}
	for _, n := range rest {
		for r := range free {
			free[r] += max(0, n.alloc[r]-n.req[r])
		}
	}
	var short []string
	for r := range need {
		if need[r] > free[r] {
			short = append(short, fmt.Sprintf("%s (need %s, free %s)",
				quantity(r, need[r]-free[r], true), quantity(r, need[r], false), quantity(r, free[r], false)))
		}
	}
	fullRes, fullPct := "", int64(0)
	for r := range alloc {
		if alloc[r] > 0 && float64(total[r]) > opts.FullFraction*float64(alloc[r]) && total[r]*100/alloc[r] > fullPct {
			fullRes, fullPct = resName(r), total[r]*100/alloc[r]
		}
	}
	if g.kind == "Cluster" {
		if len(short) == 0 {
			return ""
		}
		return fmt.Sprintf("with %s out, the pods evicted from %s request more than the other nodes they may "+
			"run on have free: short by %s. They stay Pending until nodes come back. Add nodes (or surge "+
			"capacity) before the rollout, or take fewer nodes out at a time.",
			outNodes(out, len(cand)), them(k), strings.Join(short, ", "))
	}
	single := len(cand) == 1
	if len(short) == 0 && !single && fullRes == "" {
		return ""
	}
	they, has := "they", "they have"
	if pinned == 1 {
		they, has = "it", "it has"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s can only run in %s", plural(pinned, "pod"), where(g))
	if taints := exclusiveTaints(g, all); len(taints) > 0 {
		verb := "tolerate"
		if pinned == 1 {
			verb = "tolerates"
		}
		fmt.Fprintf(&b, " (%s %s %s, which no other node has)", they, verb, strings.Join(taints, ", "))
	}
	var reasons []string
	if single {
		reasons = append(reasons, fmt.Sprintf("%s may run on a single node, %s, and while %s is replaced %s nowhere to go",
			they, cand[0].node.Name, cand[0].node.Name, has))
	} else if len(short) > 0 {
		reasons = append(reasons, fmt.Sprintf("with %s out, the pods evicted from %s request more than the rest has "+
			"free: short by %s", outNodes(out, len(cand)), them(k), strings.Join(short, ", ")))
	}
	if fullRes != "" {
		reasons = append(reasons, fmt.Sprintf("its pods request %d%% of its allocatable %s (above %d%%)", fullPct, fullRes,
			int(math.Round(opts.FullFraction*100))))
	}
	fmt.Fprintf(&b, ": %s. Add nodes to the %s before the rollout, or let those pods run elsewhere (tolerations, "+
		"node selectors, volumes).", strings.Join(reasons, "; "), strings.ToLower(strings.TrimPrefix(g.kind, "Node")))
	return b.String()
}

func where(g *group) string {
	if g.kind == "NodePool" {
		return "node pool " + g.name
	}
	return "zone " + g.name
}

func them(k int) string {
	if k == 1 {
		return "it"
	}
	return "them"
}

// outNodes says which nodes are out: "its largest node (n3: 7.8 cpu,
// 15Gi)" or "its 50 largest nodes (10% of 500: n1, n2, n3 and 47 more)".
func outNodes(out []*capNode, of int) string {
	if len(out) == 1 {
		n := out[0]
		return fmt.Sprintf("its largest node (%s: %s cpu, %s)", n.node.Name,
			quantity(resCPU, n.alloc[resCPU], false), quantity(resMemory, n.alloc[resMemory], false))
	}
	names := make([]string, len(out))
	for i, n := range out {
		names[i] = n.node.Name
	}
	return fmt.Sprintf("its %d largest nodes (of %d: %s)", len(out), of, listOf(names, 3))
}

func resName(r int) string {
	return [numRes]string{"cpu", "memory", "pods"}[r]
}

// quantity renders an amount of resource r: cores, Gi, pods. unit adds the
// resource's name where the number alone does not say it.
func quantity(r int, v int64, unit bool) string {
	switch r {
	case resCPU:
		s := trimDecimal(float64(v) / 1000)
		if unit {
			s += " cpu"
		}
		return s
	case resMemory:
		s := trimDecimal(float64(v)/(1<<30)) + "Gi"
		if unit {
			s += " of memory"
		}
		return s
	}
	if unit {
		return plural(int(v), "pod slot")
	}
	return strconv.FormatInt(v, 10)
}

func trimDecimal(f float64) string {
	s := strconv.FormatFloat(f, 'f', 1, 64)
	return strings.TrimSuffix(s, ".0")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// exclusiveTaints returns the NoSchedule and NoExecute taints every node of
// g has and no other node has, as key=value:effect.
func exclusiveTaints(g *group, all []*capNode) []string {
	in := map[*capNode]bool{}
	for _, n := range g.nodes {
		in[n] = true
	}
	var out []string
	for _, t := range g.nodes[0].node.Spec.Taints {
		if !repels(t) {
			continue
		}
		everyIn, anyOut := true, false
		for _, n := range all {
			has := slices.ContainsFunc(n.node.Spec.Taints, func(o corev1.Taint) bool {
				return o.Key == t.Key && o.Value == t.Value && o.Effect == t.Effect
			})
			if in[n] && !has {
				everyIn = false
			}
			if !in[n] && has {
				anyOut = true
			}
		}
		if everyIn && !anyOut {
			s := t.Key
			if t.Value != "" {
				s += "=" + t.Value
			}
			out = append(out, s+":"+string(t.Effect))
		}
	}
	slices.Sort(out)
	return out
}

func repels(t corev1.Taint) bool {
	return t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute
}

// eligibility computes, and caches by scheduling constraints, the nodes a
// pod may run on as the scheduler's static filters decide: node
// unschedulable, node selector and required node affinity, taints
// (NoSchedule, NoExecute), and the node affinity of its volumes.
type eligibility struct {
	nodes []*capNode
	base  map[string][]*capNode // by pod constraints
	pv    map[string][]bool     // by PersistentVolume, per node
}

func newEligibility(nodes []*capNode) *eligibility {
	return &eligibility{nodes: nodes, base: map[string][]*capNode{}, pv: map[string][]bool{}}
}

// constraints is what decides a pod's base eligibility; its JSON is the
// cache key.
type constraints struct {
	NodeSelector map[string]string    `json:"s,omitempty"`
	Affinity     *corev1.NodeSelector `json:"a,omitempty"`
	Tolerations  []corev1.Toleration  `json:"t,omitempty"`
}

func (e *eligibility) eligible(p *corev1.Pod, pvs []*corev1.PersistentVolume) []*capNode {
	c := constraints{NodeSelector: p.Spec.NodeSelector, Tolerations: p.Spec.Tolerations}
	if a := p.Spec.Affinity; a != nil && a.NodeAffinity != nil {
		c.Affinity = a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution
	}
	key, _ := json.Marshal(c) // maps, strings and numbers only: cannot fail
	base, ok := e.base[string(key)]
	if !ok {
		base = e.filter(p)
		e.base[string(key)] = base
	}
	var out []*capNode
	for _, pv := range pvs {
		if pv.Spec.NodeAffinity == nil || pv.Spec.NodeAffinity.Required == nil {
			continue
		}
		fits, ok := e.pv[pv.Name]
		if !ok {
			fits = make([]bool, len(e.nodes))
			sel := nodeaffinity.NewLazyErrorNodeSelector(pv.Spec.NodeAffinity.Required) // as MatchNodeSelectorTerms, parsed once
			for i, n := range e.nodes {
				fits[i], _ = sel.Match(n.node)
			}
			e.pv[pv.Name] = fits
		}
		if out == nil {
			out = slices.Clone(base)
		}
		out = slices.DeleteFunc(out, func(n *capNode) bool { return !fits[n.idx] })
	}
	if out == nil {
		return base
	}
	return out
}

var (
	noLogger = logr.Discard()
	// unschedulableTaint is how the scheduler sees a cordoned node.
	unschedulableTaint = corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}
)

func (e *eligibility) filter(p *corev1.Pod) []*capNode {
	aff := nodeaffinity.GetRequiredNodeAffinity(p)
	var out []*capNode
	for _, n := range e.nodes {
		if n.node.Spec.Unschedulable && !corev1helper.TolerationsTolerateTaint(noLogger, p.Spec.Tolerations, &unschedulableTaint, false) {
			continue
		}
		if ok, err := aff.Match(n.node); !ok || err != nil {
			continue
		}
		if _, untolerated := corev1helper.FindMatchingUntoleratedTaint(noLogger, n.node.Spec.Taints, p.Spec.Tolerations,
			func(t *corev1.Taint) bool { return repels(*t) }, false); untolerated {
			continue
		}
		out = append(out, n)
	}
	return out
}
