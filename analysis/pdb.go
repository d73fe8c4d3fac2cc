package analysis

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/noderoll/noderoll/plan"
)

// checkPDBs reports the PodDisruptionBudgets that allow no eviction, for
// ever (critical) or now (high), and the pods that two PDBs select.
func (x *index) checkPDBs(risks *riskSet) {
	status := make(map[*policyv1.PodDisruptionBudget]plan.BudgetStatus, len(x.budgets))
	for _, b := range x.budgets {
		st, sev, msg := x.judgeBudget(b)
		status[b.pdb] = st
		if msg != "" {
			risks.add(plan.RiskPDBBlocksEviction, sev, b.object(), msg)
		}
	}
	x.checkOverlaps(risks, func(pdb *policyv1.PodDisruptionBudget) plan.BudgetStatus { return status[pdb] })
}

// expectedScale is what the disruption controller divides a percentage by:
// the sum of the desired replicas of the distinct controllers (a
// Deployment for its ReplicaSets' pods) of the pods b selects. Pods without
// a controller are left out, as the controller does. noScale lists the
// controllers that have no scale subresource (DaemonSets, Jobs), for which
// the controller gives up when it needs the scale.
func (x *index) expectedScale(b *budget) (scale int32, noScale []string) {
	seen := map[*workload]bool{}
	for _, p := range b.pods {
		w := x.owner[p]
		if w == nil || seen[w] {
			continue
		}
		seen[w] = true
		switch {
		case w.serving():
			scale += w.replicas
		case w.kind == kindDaemonSet || w.kind == kindJob:
			noScale = append(noScale, w.object())
		}
	}
	slices.Sort(noScale)
	return scale, noScale
}

// needsScale: the budget is computed from the controllers' scale
// (maxUnavailable, or a percentage minAvailable).
func needsScale(pdb *policyv1.PodDisruptionBudget) bool {
	return pdb.Spec.MaxUnavailable != nil || (pdb.Spec.MinAvailable != nil && pdb.Spec.MinAvailable.Type == intstr.String)
}

// readyPods returns n Ready pods, to ask plan.Budget what a budget allows
// when every pod is healthy.
func readyPods(n int) []*corev1.Pod {
	ready := &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning,
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}}
	out := make([]*corev1.Pod, n)
	for i := range out {
		out[i] = ready
	}
	return out
}

// judgeBudget computes b's status now with plan.Budget and, when it allows
// no eviction, the severity and message of the risk. An empty message
// means no risk.
func (x *index) judgeBudget(b *budget) (plan.BudgetStatus, plan.Severity, string) {
	if len(b.pods) == 0 {
		return plan.BudgetStatus{}, "", "" // it protects nothing and blocks nothing
	}
	scale, noScale := x.expectedScale(b)
	if needsScale(b.pdb) && len(noScale) > 0 {
		return plan.BudgetStatus{}, plan.Critical, fmt.Sprintf(
			"the disruption controller cannot compute this budget: %s needs the scale of every controller of "+
				"the pods it selects, and %s has none (no scale subresource), so it keeps disruptionsAllowed at 0 "+
				"and no pod it selects can ever be evicted. Narrow the selector to the pods of Deployments and "+
				"StatefulSets, or use an integer minAvailable.", specOf(b.pdb), listOf(noScale, 3))
	}
	if needsScale(b.pdb) && scale == 0 {
		return plan.BudgetStatus{}, plan.Critical, fmt.Sprintf(
			"%s is computed from the replicas of the controllers of the pods it selects, and no controller "+
				"manages them: the disruption controller expects 0 pods and allows no disruption, so none of its "+
				"%d pods can ever be evicted. Use an integer minAvailable, or put the pods under a Deployment.",
			specOf(b.pdb), len(b.pods))
	}
	// With every pod the controllers want present and Ready.
	healthy := max(len(b.pods), int(scale))
	ideal, err := plan.Budget(b.pdb, readyPods(healthy), scale)
	if err != nil {
		return plan.BudgetStatus{}, plan.Critical, fmt.Sprintf(
			"the disruption controller cannot compute this budget (%v), so it keeps disruptionsAllowed at 0 and "+
				"no pod it selects can ever be evicted. Fix the PDB's spec.", err)
	}
	now, _ := plan.Budget(b.pdb, b.pods, scale) // same spec: cannot fail where ideal did not
	if ideal.DisruptionsAllowed == 0 {
		return now, plan.Critical, fmt.Sprintf(
			"%s, so even with every pod Ready disruptionsAllowed is %d - %d = 0: no pod it selects can ever be "+
				"evicted, and the drain of every node that runs one waits until it times out (kubectl drain "+
				"retries the 429 for ever by default). %s",
			needs(b.pdb, ideal), ideal.CurrentHealthy, ideal.DesiredHealthy, remedy(b.pdb, ideal))
	}
	if now.DisruptionsAllowed == 0 {
		return now, plan.High, fmt.Sprintf(
			"%s; %d are Ready now, so disruptionsAllowed is 0 (it would be %d with every pod Ready): every "+
				"eviction of its pods is answered 429 until more of them are Ready, and drains wait. Fix or "+
				"replace the unready pods before the rollout (or set unhealthyPodEvictionPolicy: AlwaysAllow so "+
				"that unready pods can be evicted).",
			needs(b.pdb, now), now.CurrentHealthy, ideal.DisruptionsAllowed)
	}
	return now, "", ""
}

// specOf renders the budget's rule as in its manifest.
func specOf(pdb *policyv1.PodDisruptionBudget) string {
	switch {
	case pdb.Spec.MaxUnavailable != nil:
		return "maxUnavailable: " + pdb.Spec.MaxUnavailable.String()
	case pdb.Spec.MinAvailable != nil:
		return "minAvailable: " + pdb.Spec.MinAvailable.String()
	}
	return "a PDB with neither minAvailable nor maxUnavailable"
}

// needs says what the budget requires, with the numbers: "minAvailable:
// 90% needs 9 of its 9 expected pods healthy (90% of 9, rounded up)".
func needs(pdb *policyv1.PodDisruptionBudget, st plan.BudgetStatus) string {
	of := fmt.Sprintf("of its %d pods", st.ExpectedPods)
	if needsScale(pdb) {
		of = fmt.Sprintf("of its %d expected pods", st.ExpectedPods)
	}
	s := fmt.Sprintf("%s needs %d %s healthy", specOf(pdb), st.DesiredHealthy, of)
	var pct *intstr.IntOrString
	switch {
	case pdb.Spec.MaxUnavailable != nil && pdb.Spec.MaxUnavailable.Type == intstr.String:
		pct = pdb.Spec.MaxUnavailable
		s += fmt.Sprintf(" (%s of %d, rounded up, may be unavailable)", pct.StrVal, st.ExpectedPods)
	case pdb.Spec.MinAvailable != nil && pdb.Spec.MinAvailable.Type == intstr.String:
		pct = pdb.Spec.MinAvailable
		s += fmt.Sprintf(" (%s of %d, rounded up)", pct.StrVal, st.ExpectedPods)
	}
	return s
}

// remedy says how to make a budget that never allows an eviction allow one.
func remedy(pdb *policyv1.PodDisruptionBudget, st plan.BudgetStatus) string {
	switch {
	case st.ExpectedPods <= 1:
		return "A single replica cannot be both protected and moved: run at least 2 replicas with " +
			"maxUnavailable: 1, or delete the PDB and plan the downtime."
	case pdb.Spec.MaxUnavailable != nil:
		return "Set maxUnavailable: 1."
	case pdb.Spec.MinAvailable != nil && pdb.Spec.MinAvailable.Type == intstr.String:
		return fmt.Sprintf("Use maxUnavailable: 1 instead: a percentage minAvailable rounds up, so it allows "+
			"nothing on %d pods.", st.ExpectedPods)
	case pdb.Spec.MinAvailable != nil:
		return fmt.Sprintf("Set minAvailable: %d (or maxUnavailable: 1), or add replicas.", st.ExpectedPods-1)
	}
	return "Set maxUnavailable: 1: a policy/v1 PDB with neither field allows no disruption."
}

// checkOverlaps reports the pods a drain would evict that more than one PDB
// selects: the Eviction API answers them 500 (plan.AnswerEviction), so no
// drain ever evicts them. One risk per workload.
func (x *index) checkOverlaps(risks *riskSet, status func(*policyv1.PodDisruptionBudget) plan.BudgetStatus) {
	var found podFindings
	pdbsOf := map[string][]string{}
	answer := map[string]string{}
	for _, p := range x.pods {
		pdbs := x.podBudgets[p]
		if len(pdbs) < 2 || x.permissive[p].Action != plan.Evict || p.Spec.NodeName == "" {
			continue
		}
		v := plan.AnswerEviction(p, pdbs, status)
		if v.Result != plan.EvictionMultiplePDBs {
			continue
		}
		obj := x.objectOf(p)
		found.add(obj, p)
		answer[obj] = v.Message
		for _, pdb := range pdbs {
			name := "PodDisruptionBudget/" + pdb.Namespace + "/" + pdb.Name
			if !slices.Contains(pdbsOf[obj], name) {
				pdbsOf[obj] = append(pdbsOf[obj], name)
			}
		}
	}
	for _, obj := range found.order {
		names := pdbsOf[obj]
		slices.Sort(names)
		risks.add(plan.RiskPDBBlocksEviction, plan.Critical, obj, fmt.Sprintf(
			"%s selected by %d PodDisruptionBudgets (%s): the Eviction API refuses them with 500 (%q), so no "+
				"drain can ever evict them, whatever the budgets allow. Delete one of the PDBs or make their "+
				"selectors disjoint.",
			podCount(obj, len(found.pods[obj]), "are", "is"), len(names), listOf(names, 3), answer[obj]))
	}
}
