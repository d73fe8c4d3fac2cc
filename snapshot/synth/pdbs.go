package synth

import (
	"time"

	"math"

	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// pdbPlan is a workload's PodDisruptionBudget: exactly one of minAvailable
// and maxUnavailable is set.
type pdbPlan struct {
	minAvailable   *intstr.IntOrString
	maxUnavailable *intstr.IntOrString
	alwaysAllow    bool // unhealthyPodEvictionPolicy: AlwaysAllow
}

var (
	pct90 = intstr.FromString("90%")
	pct50 = intstr.FromString("50%")
)

// planPDB gives about 40% of the tenant Deployments and StatefulSets a PDB.
// Large services mostly use minAvailable: 90%, the others maxUnavailable: 1.
// A few budgets allow no disruption at all (a single replica with
// minAvailable: 1, minAvailable equal to the replicas): the stuck drains a
// rollout must detect.
func (g *generator) planPDB(w *workload) {
	if g.rng.Float64() >= 0.4 {
		return
	}
	p := &pdbPlan{alwaysAllow: g.rng.Float64() < 0.2}
	one := intstr.FromInt32(1)
	x := g.rng.Float64()
	switch {
	case w.kind == kindStatefulSet && x < 0.8, w.replicas == 1 && x < 0.95:
		p.maxUnavailable = &one
	case w.kind == kindStatefulSet:
		p.minAvailable = ptr(intstr.FromInt32(int32(max(1, w.replicas-1))))
	case w.replicas == 1:
		p.minAvailable = &one
	case w.replicas >= 10 && x < 0.6:
		p.minAvailable = &pct90
	case w.replicas >= 10:
		p.maxUnavailable = &one
	case x < 0.90:
		p.maxUnavailable = &one
	case x < 0.99:
		p.minAvailable = &pct50
	default:
		p.minAvailable = ptr(intstr.FromInt32(int32(w.replicas)))
	}
	w.pdb = p
}

// ensurePDBVariety makes sure both styles and a budget that allows no
// disruption appear at any scale.
func (g *generator) ensurePDBVariety(deps []*workload) {
	count := func(f func(*workload) bool) int {
		n := 0
		for _, w := range deps {
			if w.pdb != nil && f(w) {
				n++
			}
		}
		return n
	}
	is90 := func(w *workload) bool { return w.pdb.minAvailable != nil && *w.pdb.minAvailable == pct90 }
	isMU1 := func(w *workload) bool {
		return w.pdb.maxUnavailable != nil && *w.pdb.maxUnavailable == intstr.FromInt32(1)
	}
	blocks := func(w *workload) bool {
		_, desired := pdbExpected(w.pdb, w.replicas)
		return desired >= int32(w.replicas)
	}
	// free returns the Deployments without a PDB, largest first.
	free := func() []*workload {
		var out []*workload
		for _, w := range deps {
			if w.pdb == nil {
				out = append(out, w)
			}
		}
		for i := 1; i < len(out); i++ {
			for j := i; j > 0 && out[j].replicas > out[j-1].replicas; j-- {
				out[j], out[j-1] = out[j-1], out[j]
			}
		}
		return out
	}
	if count(is90) == 0 {
		if f := free(); len(f) > 0 {
			f[0].pdb = &pdbPlan{minAvailable: &pct90}
		}
	}
	if count(isMU1) == 0 {
		for _, w := range free() {
			if w.replicas >= 2 {
				w.pdb = &pdbPlan{maxUnavailable: ptr(intstr.FromInt32(1))}
				break
			}
		}
	}
	if count(blocks) < 2 {
		for _, w := range free() {
			if w.replicas >= 2 && w.replicas <= 5 {
				w.pdb = &pdbPlan{minAvailable: ptr(intstr.FromInt32(int32(w.replicas)))}
				if count(blocks) >= 2 {
					break
				}
			}
		}
	}
}

// pdbExpected computes expectedPods and desiredHealthy as the disruption
// controller does (pkg/controller/disruption getExpectedPodCount) for a
// budget over one controller with the given scale, all of whose pods exist:
// percentages round up, and an integer minAvailable counts the pods.
func pdbExpected(p *pdbPlan, scale int) (expected, desired int32) {
	expected = int32(scale)
	scaled := func(v *intstr.IntOrString) int32 {
		if v.Type == intstr.Int {
			return v.IntVal
		}
		var pct float64
		for _, ch := range v.StrVal {
			if ch >= '0' && ch <= '9' {
				pct = pct*10 + float64(ch-'0')
			}
		}
		return int32(math.Ceil(pct * float64(scale) / 100))
	}
	if p.maxUnavailable != nil {
		desired = max(0, expected-scaled(p.maxUnavailable))
		return expected, desired
	}
	return expected, scaled(p.minAvailable)
}

// buildPDBs creates the budgets with the status the disruption controller
// writes when every selected pod is Ready.
func (g *generator) buildPDBs() {
	for _, w := range g.workloads {
		if w.pdb == nil {
			continue
		}
		created := g.later(w.created, time.Second, time.Minute)
		meta := g.meta("PodDisruptionBudget", w.ns.name, w.name, created)
		meta.Generation = 1
		meta.Labels = copyMap(w.selector)
		spec := policyv1.PodDisruptionBudgetSpec{
			MinAvailable:   w.pdb.minAvailable,
			MaxUnavailable: w.pdb.maxUnavailable,
			Selector:       &metav1.LabelSelector{MatchLabels: copyMap(w.selector)},
		}
		if w.pdb.alwaysAllow {
			spec.UnhealthyPodEvictionPolicy = ptr(policyv1.AlwaysAllow)
		}
		expected, desired := pdbExpected(w.pdb, w.replicas)
		healthy := int32(w.replicas)
		allowed := max(0, healthy-desired)
		cond := metav1.Condition{
			Type:               policyv1.DisruptionAllowedCondition,
			Status:             metav1.ConditionTrue,
			Reason:             policyv1.SufficientPodsReason,
			ObservedGeneration: 1,
			LastTransitionTime: metav1.NewTime(g.later(w.created, 2*time.Minute, 10*time.Minute)),
		}
		if allowed == 0 {
			cond.Status, cond.Reason = metav1.ConditionFalse, policyv1.InsufficientPodsReason
		}
		g.snap.PodDisruptionBudgets = append(g.snap.PodDisruptionBudgets, policyv1.PodDisruptionBudget{
			TypeMeta:   metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"},
			ObjectMeta: meta,
			Spec:       spec,
			Status: policyv1.PodDisruptionBudgetStatus{
				ObservedGeneration: 1,
				DisruptionsAllowed: allowed,
				CurrentHealthy:     healthy,
				DesiredHealthy:     desired,
				ExpectedPods:       expected,
				Conditions:         []metav1.Condition{cond},
			},
		})
	}
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
