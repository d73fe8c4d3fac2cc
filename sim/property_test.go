package sim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/noderoll/noderoll/plan"
	"github.com/noderoll/noderoll/sim"
	"github.com/noderoll/noderoll/sim/rolling"
	"github.com/noderoll/noderoll/snapshot"
	"github.com/noderoll/noderoll/snapshot/synth"
)

// Property tests: invariants that hold for every plan on every cluster,
// checked over generated "small" clusters (20 nodes, ~380 pods, PDBs of
// every kind, priorities, local volumes, bare pods), batch sizes and orders.
//
// Each run takes well under a second; the whole file stays within ~30 s on
// two cores.

var (
	propertySeeds  = []int64{1, 2, 3}
	propertySizes  = []string{"1", "10%", "25%"}
	propertyOrders = []string{rolling.OrderName, rolling.OrderZone, rolling.OrderFewestPods}
)

// A run must end well within this; a run that does not is reported as never
// ending (sim.Run returns the context's error).
const runDeadline = 60 * time.Second

var generatedSnapshots = map[int64]*snapshot.Snapshot{}

// generated returns a private copy of the small cluster of seed.
func generated(t *testing.T, seed int64) *snapshot.Snapshot {
	t.Helper()
	base, ok := generatedSnapshots[seed]
	if !ok {
		var err error
		base, err = synth.Generate(context.Background(), synth.Config{Profile: "small", Seed: seed})
		if err != nil {
			t.Fatalf("generating seed %d: %v", seed, err)
		}
		generatedSnapshots[seed] = base
	}
	return copySnapshot(t, base)
}

func copySnapshot(t *testing.T, s *snapshot.Snapshot) *snapshot.Snapshot {
	t.Helper()
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	out := &snapshot.Snapshot{}
	if err := json.Unmarshal(data, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// run plans and simulates with a deadline. The result is nil (and the test
// failed) when the simulation did not end in time or failed.
func run(t *testing.T, snap *snapshot.Snapshot, params rolling.Params, opts sim.Options) (*plan.Plan, *sim.Result) {
	t.Helper()
	p, err := rolling.Plan(snap, params)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), runDeadline)
	defer cancel()
	r, err := sim.Run(ctx, snap, p, opts)
	if err != nil {
		t.Errorf("the simulation did not end within %s (or failed): %v", runDeadline, err)
		return p, nil
	}
	return p, r
}

// TestProperties runs every seed x batch size x order once and checks the
// invariants on each result. Services count as degraded at their first lost
// endpoint (DegradedBelow 1), so that Result.Services gives the lowest
// ready count of every Service that ever lost one.
func TestProperties(t *testing.T) {
	checkedBudgets := 0
	for _, seed := range propertySeeds {
		for _, size := range propertySizes {
			for _, order := range propertyOrders {
				t.Run(fmt.Sprintf("seed %d batch %s order %s", seed, size, order), func(t *testing.T) {
					snap := generated(t, seed)
					p, r := run(t, snap, rolling.Params{BatchSize: size, Order: order}, everyDrop())
					if r == nil {
						return
					}
					t.Run("the simulation ends and its batches follow one another in time", func(t *testing.T) {
						checkBatchesContiguous(t, p, r)
					})
					t.Run("no PodDisruptionBudget goes below its budget through evictions", func(t *testing.T) {
						checkedBudgets += checkBudgetsThroughServices(t, snap, r)
					})
					t.Run("only bare pods are lost", func(t *testing.T) {
						checkOnlyBarePodsLost(t, snap, r)
					})
				})
			}
		}
	}
	// The budget check must not be vacuous: generated clusters have PDBs
	// whose Service selects the same pods.
	if checkedBudgets < len(propertySeeds)*len(propertySizes)*len(propertyOrders) {
		t.Errorf("the PDB invariant was checked on only %d budgets over all runs", checkedBudgets)
	}
}

// noPreemption is a scheduler profile without the DefaultPreemption
// PostFilter: nothing is ever preempted, so the only way a pod under a PDB
// stops being healthy is an eviction (or its node going while it tolerates
// the cordon), and the budget check covers almost every PDB.
const noPreemption = `apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- schedulerName: default-scheduler
  plugins:
    postFilter:
      disabled:
      - name: DefaultPreemption
`

// TestPropertyBudgetsWithoutPreemption checks the PDB invariant on the
// batch size that puts PDBs under the most pressure (25%), with preemption
// off so that no PDB has to be left out for it.
func TestPropertyBudgetsWithoutPreemption(t *testing.T) {
	profile := filepath.Join(t.TempDir(), "scheduler.yaml")
	if err := os.WriteFile(profile, []byte(noPreemption), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, seed := range propertySeeds {
		for _, order := range propertyOrders {
			t.Run(fmt.Sprintf("seed %d batch 25%% order %s", seed, order), func(t *testing.T) {
				snap := generated(t, seed)
				opts := everyDrop()
				opts.Scheduler.ConfigFile = profile
				p, r := run(t, snap, rolling.Params{BatchSize: "25%", Order: order}, opts)
				if r == nil {
					return
				}
				if r.Summary.PreemptedPods != 0 {
					t.Errorf("%d pods preempted although the scheduler profile disables DefaultPreemption", r.Summary.PreemptedPods)
				}
				checkBatchesContiguous(t, p, r)
				n := checkBudgetsThroughServices(t, snap, r)
				if r.Summary.PreemptedPods == 0 && n < len(snap.PodDisruptionBudgets)/2 {
					t.Errorf("only %d of %d PDBs could be checked", n, len(snap.PodDisruptionBudgets))
				}
				checkOnlyBarePodsLost(t, snap, r)
			})
		}
	}
}

// TestPropertyDeterministic: the same snapshot and plan give the same
// result, byte for byte (the requirement: no goroutines, no real
// time, seeded tie-breaking).
func TestPropertyDeterministic(t *testing.T) {
	for _, seed := range propertySeeds {
		for _, size := range propertySizes {
			t.Run(fmt.Sprintf("seed %d batch %s", seed, size), func(t *testing.T) {
				snap := generated(t, seed)
				var docs [][]byte
				for range 2 {
					_, r := run(t, snap, rolling.Params{BatchSize: size, Order: rolling.OrderName}, sim.Options{})
					if r == nil {
						return
					}
					doc, err := json.Marshal(r)
					if err != nil {
						t.Fatal(err)
					}
					docs = append(docs, doc)
				}
				if string(docs[0]) != string(docs[1]) {
					t.Errorf("two runs differ %s", firstDifference(docs[0], docs[1]))
				}
			})
		}
	}
}

// TestPropertyDurationIsTheEndOfTheLastBatch: a rollout is over when its
// last batch is (no soak here); nothing after it belongs to its duration.
func TestPropertyDurationIsTheEndOfTheLastBatch(t *testing.T) {
	for _, seed := range propertySeeds[:1] {
		for _, size := range propertySizes {
			t.Run(fmt.Sprintf("seed %d batch %s", seed, size), func(t *testing.T) {
				_, r := run(t, generated(t, seed), rolling.Params{BatchSize: size, Order: rolling.OrderName}, sim.Options{})
				if r == nil || len(r.Batches) == 0 {
					return
				}
				if last := r.Batches[len(r.Batches)-1].EndSeconds; r.Summary.DurationSeconds != last {
					t.Errorf("durationSeconds %v, but the last batch ended at %v (stuck nodes: %d)", r.Summary.DurationSeconds, last, r.Summary.StuckNodes)
				}
			})
		}
	}
}

// checkBatchesContiguous: every batch of the plan ran, in order, with its
// nodes; each starts when (or after) the previous one ended; the run's
// duration covers them.
func checkBatchesContiguous(t *testing.T, p *plan.Plan, r *sim.Result) {
	t.Helper()
	if len(r.Batches) != len(p.Spec.Batches) || r.Summary.Batches != len(p.Spec.Batches) {
		t.Fatalf("%d batches in the result (summary %d), %d in the plan", len(r.Batches), r.Summary.Batches, len(p.Spec.Batches))
	}
	prevEnd := 0.0
	for i, b := range r.Batches {
		if b.Index != i || !slices.Equal(b.Nodes, p.Spec.Batches[i].Nodes) {
			t.Errorf("batch %d is index %d with nodes %v, the plan says %v", i, b.Index, b.Nodes, p.Spec.Batches[i].Nodes)
		}
		if b.EndSeconds < b.StartSeconds {
			t.Errorf("batch %d ends (%v) before it starts (%v)", i, b.EndSeconds, b.StartSeconds)
		}
		if b.StartSeconds < prevEnd {
			t.Errorf("batch %d starts at %v, before batch %d ended at %v", i, b.StartSeconds, i-1, prevEnd)
		}
		prevEnd = b.EndSeconds
	}
	if r.Summary.DurationSeconds < prevEnd {
		t.Errorf("durationSeconds %v is before the last batch ended (%v)", r.Summary.DurationSeconds, prevEnd)
	}
	// The summary's counts are the batches' sums: an eviction, a 429 or a
	// stall counted in no batch (or in two) shows here.
	var evictions, blocked int
	var stall float64
	for _, b := range r.Batches {
		evictions += b.Evictions
		blocked += b.EvictionsBlocked
		stall += b.PDBStallSeconds
	}
	if evictions != r.Summary.Evictions || blocked != r.Summary.EvictionsBlocked || stall != r.Summary.PDBStallSeconds {
		t.Errorf("summary evictions %d, 429s %d, stall %vs; the batches sum to %d, %d, %vs",
			r.Summary.Evictions, r.Summary.EvictionsBlocked, r.Summary.PDBStallSeconds, evictions, blocked, stall)
	}
}

// --- PDB budgets ---

// budgetFacts is what the test derives, on its own, from the snapshot about
// one PDB: the disruption controller's desiredHealthy, the healthy pods at
// the start, and whether the invariant can be observed from the result.
type budgetFacts struct {
	pdb            *policyv1.PodDisruptionBudget
	pods           []*corev1.Pod // non-terminal pods it selects
	desiredHealthy int
	healthyAtStart int
	service        string // "Service/ns/name" selecting exactly the same pods, if any
	skip           string // why the invariant cannot be observed through the service
}

func podPriority(p *corev1.Pod) int32 {
	if p.Spec.Priority != nil {
		return *p.Spec.Priority
	}
	return 0
}

func healthy(p *corev1.Pod) bool { return p.DeletionTimestamp == nil && plan.IsReady(p) }

func terminal(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

func selects(sel *metav1.LabelSelector, ns string, p *corev1.Pod) bool {
	if p.Namespace != ns {
		return false
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	return err == nil && s.Matches(labels.Set(p.Labels))
}

// expectedScale is the disruption controller's expectedCount for a PDB
// with maxUnavailable or a percentage: the sum of the desired replicas of
// the controllers of its pods (a ReplicaSet's Deployment, a StatefulSet).
// ok is false when a pod has no such controller: the controller cannot
// compute a scale then.
func expectedScale(snap *snapshot.Snapshot, pods []*corev1.Pod) (int, bool) {
	replicas := func(r *int32) int {
		if r == nil {
			return 1
		}
		return int(*r)
	}
	seen := map[string]bool{}
	total := 0
	for _, p := range pods {
		ref := metav1.GetControllerOf(p)
		if ref == nil {
			return 0, false
		}
		key, n, found := "", 0, false
		switch ref.Kind {
		case "ReplicaSet":
			for i := range snap.ReplicaSets {
				rs := &snap.ReplicaSets[i]
				if rs.UID != ref.UID {
					continue
				}
				key, n, found = string(rs.UID), replicas(rs.Spec.Replicas), true
				if dref := metav1.GetControllerOf(rs); dref != nil && dref.Kind == "Deployment" {
					for j := range snap.Deployments {
						if d := &snap.Deployments[j]; d.UID == dref.UID {
							key, n = string(d.UID), replicas(d.Spec.Replicas)
						}
					}
				}
			}
		case "StatefulSet":
			for i := range snap.StatefulSets {
				if ss := &snap.StatefulSets[i]; ss.UID == ref.UID {
					key, n, found = string(ss.UID), replicas(ss.Spec.Replicas), true
				}
			}
		}
		if !found {
			return 0, false
		}
		if !seen[key] {
			seen[key] = true
			total += n
		}
	}
	return total, true
}

// desiredHealthy is the disruption controller's: minAvailable, or
// expectedCount - maxUnavailable, percentages scaled against expectedCount
// and rounded up.
func desiredHealthy(snap *snapshot.Snapshot, pdb *policyv1.PodDisruptionBudget, pods []*corev1.Pod) (int, bool) {
	spec := pdb.Spec
	if spec.MinAvailable != nil && spec.MinAvailable.Type == intstr.Int {
		return spec.MinAvailable.IntValue(), true
	}
	expected, ok := expectedScale(snap, pods)
	if !ok {
		return 0, false
	}
	if spec.MaxUnavailable != nil {
		v, err := intstr.GetScaledValueFromIntOrPercent(spec.MaxUnavailable, expected, true)
		if err != nil {
			return 0, false
		}
		return max(0, expected-v), true
	}
	if spec.MinAvailable != nil {
		v, err := intstr.GetScaledValueFromIntOrPercent(spec.MinAvailable, expected, true)
		if err != nil {
			return 0, false
		}
		return v, true
	}
	return 0, false
}

// toleratesCordon: a toleration of node.kubernetes.io/unschedulable:NoSchedule
// (the cordon taint has no value), as the TaintToleration plugin matches it.
func toleratesCordon(p *corev1.Pod) bool {
	for _, t := range p.Spec.Tolerations {
		keyOK := t.Key == corev1.TaintNodeUnschedulable || (t.Key == "" && t.Operator == corev1.TolerationOpExists)
		effectOK := t.Effect == "" || t.Effect == corev1.TaintEffectNoSchedule
		valueOK := t.Operator == corev1.TolerationOpExists || t.Value == ""
		if keyOK && effectOK && valueOK {
			return true
		}
	}
	return false
}

func controllerObject(p *corev1.Pod) string {
	if ref := metav1.GetControllerOf(p); ref != nil {
		return ref.Kind + "/" + p.Namespace + "/" + ref.Name
	}
	return "Pod/" + p.Namespace + "/" + p.Name
}

// preemptionBound is the highest priority of any pod that may have
// preempted others in this run: preemption only runs for a pod the
// scheduler could not place, and every such pod's workload carries an
// Unschedulable risk. Replacements keep their original's priority. A pod of
// this priority or more can never be a victim (victims have a strictly
// lower priority). MinInt32 when nothing was preempted.
func preemptionBound(snap *snapshot.Snapshot, r *sim.Result) int32 {
	if r.Summary.PreemptedPods == 0 {
		return math.MinInt32
	}
	unschedulable := map[string]bool{}
	for _, k := range r.Risks {
		if k.Code == plan.RiskUnschedulable {
			unschedulable[k.Object] = true
		}
	}
	bound := int32(math.MinInt32)
	for i := range snap.Pods {
		p := &snap.Pods[i]
		if unschedulable[controllerObject(p)] && podPriority(p) > bound {
			bound = podPriority(p)
		}
	}
	return bound
}

// budgetsOf derives budgetFacts for every PDB of the snapshot.
//
// The simulator does not expose a PDB's status over time, but a Service's
// ready endpoints are exactly the Ready, not terminating pods it selects —
// the same count as a PDB's currentHealthy when both select the same pods
// (replacements keep their labels, so they stay the same set). When the
// only way such a pod stops being healthy is an eviction, "no eviction takes
// the budget below desiredHealthy" implies that the Service never has fewer
// than min(healthyAtStart, desiredHealthy) ready endpoints: healthy pods
// can only be evicted while currentHealthy > desiredHealthy. Pods are
// excluded when something else can take them down:
//   - DaemonSet and mirror pods leave with their node, without eviction;
//   - a pod tolerating the cordon taint may land on a node being drained
//     after the drain listed its pods, and go with the node;
//   - a pod that may be a preemption victim (see preemptionBound):
//     preemption only prefers to respect PDBs.
func budgetsOf(snap *snapshot.Snapshot, r *sim.Result) []budgetFacts {
	bound := preemptionBound(snap, r)
	var out []budgetFacts
	for i := range snap.PodDisruptionBudgets {
		pdb := &snap.PodDisruptionBudgets[i]
		f := budgetFacts{pdb: pdb}
		for j := range snap.Pods {
			if p := &snap.Pods[j]; !terminal(p) && selects(pdb.Spec.Selector, pdb.Namespace, p) {
				f.pods = append(f.pods, p)
				if healthy(p) && p.Spec.NodeName != "" {
					f.healthyAtStart++
				}
			}
		}
		var ok bool
		f.desiredHealthy, ok = desiredHealthy(snap, pdb, f.pods)
		switch {
		case len(f.pods) == 0:
			f.skip = "selects no pod"
		case !ok:
			f.skip = "no scale for its pods"
		}
		for _, p := range f.pods {
			ref := metav1.GetControllerOf(p)
			_, mirror := p.Annotations[corev1.MirrorPodAnnotationKey]
			switch {
			case f.skip != "":
			case mirror || (ref != nil && ref.Kind == "DaemonSet"):
				f.skip = "DaemonSet or mirror pods"
			case p.DeletionTimestamp != nil:
				f.skip = "a pod is terminating at the start"
			case toleratesCordon(p):
				f.skip = "a pod tolerates the cordon taint"
			case podPriority(p) < bound:
				f.skip = fmt.Sprintf("a pod of priority %d may have been preempted (preemptors up to %d)", podPriority(p), bound)
			}
		}
		for j := range snap.Services {
			svc := &snap.Services[j]
			if svc.Namespace != pdb.Namespace || len(svc.Spec.Selector) == 0 {
				continue
			}
			sel := &metav1.LabelSelector{MatchLabels: svc.Spec.Selector}
			same := true
			n := 0
			for k := range snap.Pods {
				p := &snap.Pods[k]
				if terminal(p) {
					continue
				}
				in := selects(sel, svc.Namespace, p)
				if in {
					n++
				}
				if in != selects(pdb.Spec.Selector, pdb.Namespace, p) {
					same = false
					break
				}
			}
			if same && n > 0 {
				f.service = "Service/" + svc.Namespace + "/" + svc.Name
				break
			}
		}
		if f.service == "" && f.skip == "" {
			f.skip = "no Service selects exactly its pods"
		}
		out = append(out, f)
	}
	return out
}

// checkBudgetsThroughServices checks the PDB invariant through the Services
// (see budgetsOf) and returns how many budgets it could check.
func checkBudgetsThroughServices(t *testing.T, snap *snapshot.Snapshot, r *sim.Result) int {
	t.Helper()
	checked := 0
	skipped := map[string]int{}
	facts := budgetsOf(snap, r)
	defer func() { t.Logf("checked %d of %d PDBs; not observable: %v", checked, len(facts), skipped) }()
	for _, f := range facts {
		if f.skip != "" {
			skipped[f.skip]++
			continue
		}
		checked++
		floor := min(f.healthyAtStart, f.desiredHealthy)
		impact, dropped := serviceImpact(r, f.service)
		if !dropped {
			continue // never below its ready endpoints at the start
		}
		if impact.Desired != f.healthyAtStart {
			t.Errorf("%s: the simulator counts %d endpoints at the start, %d of its pods are Ready", f.service, impact.Desired, f.healthyAtStart)
		}
		if impact.MinReady < floor {
			t.Errorf("PodDisruptionBudget/%s/%s (minAvailable %v, maxUnavailable %v): desiredHealthy %d, %d healthy at the start, "+
				"yet %s fell to %d ready endpoints (in batches %v): an eviction took it below its budget",
				f.pdb.Namespace, f.pdb.Name, intOrStr(f.pdb.Spec.MinAvailable), intOrStr(f.pdb.Spec.MaxUnavailable),
				f.desiredHealthy, f.healthyAtStart, f.service, impact.MinReady, impact.Batches)
		}
	}
	return checked
}

func intOrStr(v *intstr.IntOrString) string {
	if v == nil {
		return "-"
	}
	return v.String()
}

// --- the direct check, on the OnEviction hook ---

// TestPropertyNoEvictionBelowBudget checks every allowed eviction against
// every PDB, as the eviction handler must: a pod selected by two PDBs is
// never evicted (500); a healthy pod is evicted only while its PDB's
// currentHealthy - 1 >= desiredHealthy, computed here from the live pods.
func TestPropertyNoEvictionBelowBudget(t *testing.T) {
	for _, seed := range propertySeeds {
		for _, size := range propertySizes {
			t.Run(fmt.Sprintf("seed %d batch %s", seed, size), func(t *testing.T) {
				snap := generated(t, seed)
				type fixed struct {
					pdb     *policyv1.PodDisruptionBudget
					desired int
					ok      bool
				}
				var budgets []fixed
				for i := range snap.PodDisruptionBudgets {
					pdb := &snap.PodDisruptionBudgets[i]
					var pods []*corev1.Pod
					for j := range snap.Pods {
						if p := &snap.Pods[j]; !terminal(p) && selects(pdb.Spec.Selector, pdb.Namespace, p) {
							pods = append(pods, p)
						}
					}
					d, ok := desiredHealthy(snap, pdb, pods)
					budgets = append(budgets, fixed{pdb, d, ok})
				}
				evictions, violations := 0, 0
				opts := everyDrop()
				opts.OnEviction = func(at time.Duration, evicted *corev1.Pod, live []*corev1.Pod) {
					evictions++
					var mine []fixed
					for _, b := range budgets {
						if selects(b.pdb.Spec.Selector, b.pdb.Namespace, evicted) {
							mine = append(mine, b)
						}
					}
					if len(mine) > 1 && evicted.Status.Phase != corev1.PodPending && evicted.DeletionTimestamp == nil {
						violations++
						t.Errorf("t=%v: %s/%s evicted although %d PDBs select it (the API server answers 500)", at, evicted.Namespace, evicted.Name, len(mine))
					}
					if len(mine) != 1 || !healthy(evicted) || !mine[0].ok {
						return
					}
					b := mine[0]
					current := 0
					for _, p := range live {
						if selects(b.pdb.Spec.Selector, b.pdb.Namespace, p) && healthy(p) {
							current++
						}
					}
					if current-1 < b.desired && violations < 10 {
						violations++
						t.Errorf("t=%v: evicting healthy %s/%s takes PodDisruptionBudget/%s/%s to %d healthy, below desiredHealthy %d",
							at, evicted.Namespace, evicted.Name, b.pdb.Namespace, b.pdb.Name, current-1, b.desired)
					}
				}
				_, r := run(t, snap, rolling.Params{BatchSize: size, Order: rolling.OrderName}, opts)
				if r != nil && evictions != r.Summary.Evictions {
					t.Errorf("the hook saw %d evictions, the result counts %d", evictions, r.Summary.Evictions)
				}
			})
		}
	}
}

// --- lost pods ---

// checkOnlyBarePodsLost: every lost pod is a bare pod of the snapshot (no
// controller, not a mirror pod), each reported once; every bound bare pod
// is lost (every node is drained, and kubectl drain --force evicts them at
// once unless a PDB selects them).
func checkOnlyBarePodsLost(t *testing.T, snap *snapshot.Snapshot, r *sim.Result) {
	t.Helper()
	pods := map[string]*corev1.Pod{}
	sure, maybe := 0, 0
	for i := range snap.Pods {
		p := &snap.Pods[i]
		pods[p.Namespace+"/"+p.Name] = p
		_, mirror := p.Annotations[corev1.MirrorPodAnnotationKey]
		if metav1.GetControllerOf(p) != nil || mirror || terminal(p) {
			continue
		}
		underPDB := false
		for j := range snap.PodDisruptionBudgets {
			pdb := &snap.PodDisruptionBudgets[j]
			underPDB = underPDB || selects(pdb.Spec.Selector, pdb.Namespace, p)
		}
		if p.Spec.NodeName == "" || underPDB {
			maybe++
		} else {
			sure++
		}
	}
	reported := 0
	for _, k := range r.Risks {
		if k.Code != plan.RiskUnmanagedPod {
			continue
		}
		reported++
		p := pods[strings.TrimPrefix(k.Object, "Pod/")]
		switch {
		case p == nil:
			t.Errorf("lost pod %s is not a pod of the snapshot (a replacement made by a controller?)", k.Object)
		case metav1.GetControllerOf(p) != nil:
			t.Errorf("lost pod %s has a controller (%s): its controller recreates it", k.Object, controllerObject(p))
		}
	}
	if reported != r.Summary.LostPods {
		t.Errorf("lostPods %d, but %d UnmanagedPod risks", r.Summary.LostPods, reported)
	}
	if r.Summary.LostPods < sure || r.Summary.LostPods > sure+maybe {
		t.Errorf("lostPods %d, want the %d bare pods evicted (up to %d more that are unbound or under a PDB)", r.Summary.LostPods, sure, maybe)
	}
}

// roomy scales every node's capacity and allocatable by k: resources never
// bind, and a pod's own node (where its local volume is, and whose labels
// and taints it was placed against) always has room for it at the end.
func roomy(snap *snapshot.Snapshot, k int64) {
	for i := range snap.Nodes {
		n := &snap.Nodes[i]
		for _, list := range []corev1.ResourceList{n.Status.Capacity, n.Status.Allocatable} {
			for name, q := range list {
				if name == corev1.ResourceCPU {
					list[name] = *resource.NewMilliQuantity(q.MilliValue()*k, q.Format)
				} else {
					list[name] = *resource.NewQuantity(q.Value()*k, q.Format)
				}
			}
		}
	}
}

// TestPropertyNothingPendingAtTheEndWhenCapacityAllows: with every node
// four times as large, at the end every node is back and uncordoned, so
// every pod that must run again fits on some node: on its original node as
// far as node-level rules go (labels, taints, volume topology, the same
// nodes as at the start) and resources never bind. Kubernetes' scheduler
// retries an unschedulable pod on every cluster event and at least every
// 5 minutes, so it places them all: pendingAtEnd must be 0, whatever was
// stuck on the way.
func TestPropertyNothingPendingAtTheEndWhenCapacityAllows(t *testing.T) {
	for _, seed := range propertySeeds {
		for _, size := range propertySizes {
			t.Run(fmt.Sprintf("seed %d batch %s", seed, size), func(t *testing.T) {
				snap := generated(t, seed)
				roomy(snap, 4)
				_, r := run(t, snap, rolling.Params{BatchSize: size, Order: rolling.OrderName}, sim.Options{})
				if r == nil {
					return
				}
				if r.Summary.PendingAtEnd != 0 {
					t.Errorf("pendingAtEnd %d with room for everything (stuck nodes %d, unschedulable %d, preempted %d)",
						r.Summary.PendingAtEnd, r.Summary.StuckNodes, r.Summary.UnschedulablePods, r.Summary.PreemptedPods)
				}
				checkOnlyBarePodsLost(t, snap, r)
			})
		}
	}
}

// TestPropertyAdversarialRunsEnd: plans that can never finish their drains
// still end, each node reported at most once as stuck, and the batches
// still follow one another.
func TestPropertyAdversarialRunsEnd(t *testing.T) {
	zero := intstr.FromInt32(0)
	tests := []struct {
		name   string
		mutate func(snap *snapshot.Snapshot) sim.Options
		check  func(t *testing.T, snap *snapshot.Snapshot, r *sim.Result)
	}{
		{
			// Every PDB allows no disruption: no pod any PDB selects can
			// ever be evicted; every node holding one is stuck.
			name: "every PDB with maxUnavailable 0",
			mutate: func(snap *snapshot.Snapshot) sim.Options {
				for i := range snap.PodDisruptionBudgets {
					snap.PodDisruptionBudgets[i].Spec.MinAvailable = nil
					snap.PodDisruptionBudgets[i].Spec.MaxUnavailable = &zero
				}
				return sim.Options{}
			},
			check: func(t *testing.T, snap *snapshot.Snapshot, r *sim.Result) {
				want := map[string]bool{}
				for i := range snap.Pods {
					p := &snap.Pods[i]
					if p.Spec.NodeName == "" || terminal(p) || !healthy(p) {
						continue
					}
					if ref := metav1.GetControllerOf(p); ref != nil && ref.Kind == "DaemonSet" {
						continue
					}
					for j := range snap.PodDisruptionBudgets {
						if pdb := &snap.PodDisruptionBudgets[j]; selects(pdb.Spec.Selector, pdb.Namespace, p) {
							want["Node/"+p.Spec.NodeName] = true
						}
					}
				}
				for n := range want {
					if findRisk(r, plan.RiskDrainStuck, n) == nil {
						t.Errorf("%s holds a pod no PDB lets go, yet is not reported stuck", n)
					}
				}
				if r.Summary.StuckNodes != len(want) {
					t.Errorf("%d stuck nodes, want the %d that hold such a pod", r.Summary.StuckNodes, len(want))
				}
			},
		},
		{
			// A pod that fits nowhere (more CPU than any node has) but is
			// bound in the snapshot: its replacement can never be placed.
			name: "a replacement that can never be placed",
			mutate: func(snap *snapshot.Snapshot) sim.Options {
				for i := range snap.Pods {
					p := &snap.Pods[i]
					if ref := metav1.GetControllerOf(p); ref != nil && ref.Kind == "ReplicaSet" && p.Spec.NodeName != "" {
						c := &p.Spec.Containers[0]
						if c.Resources.Requests == nil {
							c.Resources.Requests = corev1.ResourceList{}
						}
						c.Resources.Requests[corev1.ResourceCPU] = resource.MustParse("100000")
						break
					}
				}
				return sim.Options{}
			},
			check: func(t *testing.T, snap *snapshot.Snapshot, r *sim.Result) {
				if r.Summary.PendingAtEnd < 1 || r.Summary.UnschedulablePods < 1 {
					t.Errorf("want the giant replacement pending at the end, got %+v", r.Summary)
				}
			},
		},
		{
			// Pods that take 30 days to become Ready: drains behind a PDB
			// wait past their timeout; the run still ends.
			name: "replacements that take 30 days to become Ready",
			mutate: func(snap *snapshot.Snapshot) sim.Options {
				return withStartup(30 * 24 * 3600)
			},
			check: func(t *testing.T, snap *snapshot.Snapshot, r *sim.Result) {
				if r.Summary.StuckNodes == 0 {
					t.Errorf("want drains behind PDBs stuck, got %+v", r.Summary)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			snap := generated(t, 1)
			opts := tc.mutate(snap)
			p, r := run(t, snap, rolling.Params{BatchSize: "10%", Order: rolling.OrderName}, opts)
			if r == nil {
				return
			}
			checkBatchesContiguous(t, p, r)
			stuck := map[string]int{}
			for _, k := range r.Risks {
				if k.Code == plan.RiskDrainStuck {
					stuck[k.Object]++
				}
			}
			for n, c := range stuck {
				if c > 1 {
					t.Errorf("%s reported stuck %d times", n, c)
				}
			}
			tc.check(t, snap, r)
		})
	}
}
