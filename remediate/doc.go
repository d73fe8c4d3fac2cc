// Package remediate finds the fix list: a small set of changes to the
// cluster that makes a strategy's run approvable (analysis.Safe: no
// Service down except those accepted, no stuck drain, no pod lost, none
// left pending) and free of capacity shortfalls.
//
// Decision: remediation has a package of its own, not a file of analysis.
// It composes three packages that know nothing of each other's jobs:
// analysis (the approvable rule, the ranking, the minimal surge by
// bisection, which `compare` uses too for its surge=auto variant), whatif
// (the changes, expressed as what-if overrides and applied to a copy of the
// snapshot) and sim (the runs that confirm them). analysis importing whatif
// to run a comparison with overrides is the only edge between them; putting
// the search in analysis would have made analysis depend on everything.
//
// The search, greedy by risk removed per change:
//
//	before := simulate(strategy)                       run 1
//	round r (at most MaxRounds):
//	    candidates := fixes for the blocking risks of the last run, each with
//	                  the risks it addresses and its cost
//	    keep the candidates not tried yet, best first (risks addressed per
//	                  unit of cost); apply them all at once (a round is one
//	                  re-simulation, not one per fix: a seed-scale run takes
//	                  about a minute)
//	    re-simulate; stop when the run is approvable
//	minimal surge := analysis.MinimalSurge on the fixed run (1 + log2(batch) runs
//	                  at most, none when the run has no shortfall and no
//	                  unschedulable pod)
//	accepted outages: Services whose pods wait on node-local volumes for
//	                  their node, or whose replicas are co-located (no
//	                  replica or budget avoids the outage) are
//	                  listed as accepted, to be announced; no re-simulation
//	                  (acceptance changes the verdict, not the run)
//
// The candidate fixes, by blocking risk:
//
//	ServiceOutage   a single-replica Deployment, ReplicaSet or StatefulSet
//	                (without volume claims) behind the Service: scale to 2;
//	                a workload of 2 or more that no budget covers: a
//	                PodDisruptionBudget with maxUnavailable: 1; neither for
//	                co-located replicas (below)
//	DrainStuck      a budget over co-located replicas only: maxUnavailable:
//	                100% (same selector); otherwise a budget that allows no
//	                disruption with every pod Ready: replace it with
//	                maxUnavailable: 1 (same selector)
//	UnmanagedPod    delete the bare pod before the rollout (the drain deletes
//	                it anyway; recreate it under a controller if it matters)
//	CapacityShortfall, Unschedulable
//	                surge nodes of the most common shape, the fewest enough
//
// Co-located replicas are the pods of a workload that require, by a
// podAffinity term on kubernetes.io/hostname selecting their own labels, a
// node already running one of them: the scheduler places the first one
// anywhere only when none is left, so every replica shares one node, and
// once that node is cordoned no replacement can be placed while one of them
// is left on it. A budget that keeps any of them sticks the drain for good;
// a replica more lands on the same node. Their outage is accepted (with the
// advice to make the affinity preferred), and the search does not propose
// the replicas and budgets that turned it into a stuck drain.
//
// Each fix is confirmed on the final run: RiskRemoved counts the risks it
// addressed in the run before it that are gone after all fixes.
package remediate
