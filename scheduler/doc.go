// Package scheduler places pods on an in-memory cluster with the real
// kube-scheduler framework (k8s.io/kubernetes v1.37 pkg/scheduler): the
// profile of a KubeSchedulerConfiguration (or the default one), its plugin
// set, order, weights and args, every extension point, NormalizeScore, the
// scheduler's own search for feasible nodes and its unschedulable
// messages, nominated pods and default preemption's dry run.
//
// The cluster lives in a store of copy-on-write layers (Fork, Revert,
// Commit), so that a simulation can try a placement and take it back.
//
// # Engines
//
// The framework always drives; Options.Engine chooses what sits behind
// the hot plugins' in-tree names:
//
//   - EngineIncremental (the default) registers incrementalSpread as
//     PodTopologySpread. It keeps, between cycles, the count per node of
//     every (namespace, selector) a constraint has used, each topology
//     key's value per node and each pod's default selector, and recounts a
//     node only when its NodeInfo generation changed (after a placement on
//     node X, X alone). Its answers are the in-tree plugin's.
//   - EngineReference runs the in-tree plugins themselves.
//
// With either engine the scheduler also avoids asking the plugins what
// cannot change their answer: node-local verdicts and scores are cached
// per pod signature and node generation (cache.go), plugins that read only
// the Node object keep their verdicts until it changes, and the reference
// engine's PodTopologySpread and InterPodAffinity see views that hide pods
// no selector of the incoming pod can match (views.go). Options.Naive turns
// all of that off: a plain loop over the framework, the baseline of the
// benchmarks.
//
// Equality is tested, not assumed: engine_test.go compares every answer of
// the incremental and the in-tree PodTopologySpread (PreFilter, Filter on
// every node, RemovePod and AddPod, PreScore, raw and normalized scores)
// and every placement, over randomized clusters with every kind of spread
// constraint, while pods come, go and start terminating and nodes join,
// change and leave; tools/engine-mutants.sh checks that the test catches
// each of its mutants; bench.BenchmarkEnginesSeed requires byte-identical
// result JSON from both engines on the seed cluster.
package scheduler
