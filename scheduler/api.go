package scheduler

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework"
)

// Options configures a Scheduler.
type Options struct {
	// ConfigFile is a KubeSchedulerConfiguration file. Empty means the
	// default profile of the kube-scheduler this module is built with.
	ConfigFile string
	// Profile names the profile to use from ConfigFile; empty means the first.
	Profile string
	// Seed drives tie-breaking between equally scored nodes. The same
	// snapshot, pods and seed give the same placements.
	Seed int64
	// Engine chooses the plugins behind the hot in-tree names: the
	// incremental ones (the default) or the in-tree ones (reference).
	// Naive implies the reference engine.
	Engine Engine
	// Naive turns off every optimisation: each pod runs the framework's
	// PreFilter, Filter on every node, PreScore and Score, as a plain loop
	// over the upstream framework would. It exists as the baseline that
	// benchmarks and equivalence tests compare against.
	Naive bool
	// Parallelism is how many goroutines a scheduling cycle spreads its
	// per-node work over; 0 means 1. A cycle's work per node is a few
	// microseconds, less than handing it to another goroutine costs: the
	// seed profile's rolling 5% took 46.9 s wall and 53.7 s CPU with one
	// goroutine, 50.9 s and 67.7 s with two, on 2 cores (the other core
	// then does the garbage collection). Preemption's dry run, whose work
	// per node is larger, runs on GOMAXPROCS goroutines unless Parallelism
	// is set.
	Parallelism int
	// BudgetStatus, when set, gives a PodDisruptionBudget's status as the
	// disruption controller publishes it now. Preemption reads each
	// budget's disruptionsAllowed and disruptedPods to prefer victims that
	// violate none (filterPodsWithPDBViolation), as upstream reads the live
	// objects; without it the budgets keep the status they were loaded
	// with. Called from the scheduling goroutine, before the dry run, for
	// the budgets that select a possible victim.
	BudgetStatus func(pdb *policyv1.PodDisruptionBudget) policyv1.PodDisruptionBudgetStatus
}

// Engine is how the scheduler computes the plugins whose per-node work
// dominates a cycle. Both run the profile through the framework: the same
// plugin set, order, weights and args, extension points, normalization and
// preemption.
type Engine string

const (
	// EngineIncremental registers incremental implementations under the
	// in-tree names of the hot plugins (PodTopologySpread), which keep
	// their counts between cycles and recount only what changed. Held
	// equal to EngineReference by the differential tests.
	EngineIncremental Engine = "incremental"
	// EngineReference runs the in-tree plugins themselves.
	EngineReference Engine = "reference"
)

// ParseEngine returns the engine named s ("" is the default, incremental).
func ParseEngine(s string) (Engine, error) {
	switch Engine(s) {
	case "", EngineIncremental:
		return EngineIncremental, nil
	case EngineReference:
		return EngineReference, nil
	}
	return "", fmt.Errorf("unknown engine %q: want incremental or reference", s)
}

// engine is the engine the options ask for.
func (o Options) engine() Engine {
	if o.Naive || o.Engine == EngineReference {
		return EngineReference
	}
	return EngineIncremental
}

// Result is the outcome of one scheduling attempt. An unschedulable pod is
// an expected outcome, reported here, not as an error.
type Result struct {
	// NodeName is the chosen node; empty when the pod fits nowhere.
	NodeName string
	// Unschedulable explains why the pod fits nowhere; nil on success.
	Unschedulable *Unschedulable
	// Victims are the lower-priority pods preemption would evict so that the
	// pod fits on NominatedNode. Set only when the pod fits nowhere as is.
	Victims []*corev1.Pod
	// NominatedNode is where the pod would go once Victims are gone; or,
	// with no Victims, the node the pod stays nominated to while an earlier
	// preemption's victims leave it (the scheduler does not preempt again
	// then). Empty: the pod is nominated nowhere (upstream clears the
	// nomination of a pod whose preemption finds no candidate).
	NominatedNode string
}

// Unschedulable describes why a pod fits on no node, in the scheduler's own
// words. Its message and reasons are put together when asked for: a
// simulation retries a waiting pod many times and reads them rarely.
type Unschedulable struct {
	// Plugins are the plugins that rejected the pod on at least one node.
	Plugins []string

	fitErr *framework.FitError
}

// Message is the scheduler's message, e.g.
// "0/500 nodes are available: 312 Insufficient cpu, ...".
func (u *Unschedulable) Message() string { return u.fitErr.Error() }

// Reasons counts nodes by the reason that rejected them.
func (u *Unschedulable) Reasons() map[string]int {
	diag := u.fitErr.Diagnosis
	reasons := map[string]int{}
	if diag.PreFilterMsg != "" {
		reasons[diag.PreFilterMsg] = u.fitErr.NumAllNodes
		return reasons
	}
	diag.NodeToStatus.ForEachExplicitNode(func(_ string, st *fwk.Status) {
		for _, r := range st.Reasons() {
			reasons[r]++
		}
	})
	if absent := u.fitErr.NumAllNodes - diag.NodeToStatus.Len(); absent > 0 {
		for _, r := range diag.NodeToStatus.AbsentNodesStatus().Reasons() {
			reasons[r] += absent
		}
	}
	return reasons
}
