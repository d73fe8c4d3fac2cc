// Package sim predicts what a rollout plan does to a cluster: it runs the
// plan on an in-memory copy of the snapshot, on a virtual clock, with every
// placement made by the real kube-scheduler framework (package scheduler).
//
//	snapshot ──► index (pods, controllers, PDBs, Services) ──┐
//	                                                         ▼
//	plan.Plan ──► batches ──► per node: cordon ─► drain ─► reinstall ─► rejoin ─► uncordon ─► displaced pods Ready
//	                                     │
//	                                     ├─ plan.Drain: kubectl drain's filters (DaemonSet, mirror, emptyDir, unmanaged)
//	                                     ├─ plan.AnswerEviction: 201, 429 (retried every 5 s) or 500 (two PDBs)
//	                                     └─ controllers: ReplicaSet/Job replace at once, StatefulSet once the old pod is gone,
//	                                        DaemonSet pods leave and return with the node, bare pods are lost
//	pending pods ──► scheduler.Place (priority, then age) ──► bound ──► Ready after start-up
//	                                         ▲
//	                     retried on every cluster event; pods only node-level plugins rejected wait for a node event
//
// Semantics and assumptions (stated in every Result's "assumptions"):
//
//   - Time: start-up to Ready 10 s, termination = the pod's grace period
//     (30 s unless set), reinstall 600 s, join 60 s, soak 0, eviction retry
//     5 s; a config file (--config) overrides them globally and per
//     namespace/selector, and the annotation noderoll.dev/startup-seconds on
//     a workload overrides its start-up time.
//   - A batch cordons all its nodes first; each node then proceeds on its
//     own; a node is done when it is back, uncordoned, and the pods
//     displaced from it are Ready again (what the executor waits for); the
//     batch ends when all its nodes are done, and the next starts after the
//     soak.
//   - PDB status is recomputed at every eviction from the pods as they are
//     (the disruption controller's arithmetic in package plan); a pod
//     being deleted counts as disrupted, as DisruptedPods makes it.
//   - A drain that can never finish — an eviction answered 500, a budget
//     that nothing left in the simulation can satisfy, or the drain timeout
//     (1 h) — is reported as DrainStuck with the pods left and what blocks
//     them; the node is uncordoned and the rollout goes on, so the rest of
//     the plan is still predicted. The executor stops there instead.
//   - Services: a Service's desired endpoints are its Ready pods at the
//     start; it is degraded below 75% of them (configurable) and down at 0.
//   - Churn: a pod's lineage is its controller and slot; every replacement
//     is a move.
//
// Plans other than plain batches (each in its own file, hooked into the
// run by a call):
//
//   - variants.go: Spec.Surge new machines join at time 0 (their cost is
//     Summary.ExtraMachineHours); Spec.CordonAhead cordons the next batches'
//     nodes when a batch starts; Spec.Window keeps N nodes in flight,
//     reported as one batch.
//   - migration.go: Spec.Migration — seed, waves, recycling — with both
//     clusters in the one scheduler, told apart by a label and a taint; its
//     modelling decisions are documented in package sim/migration.
//
// Runs are deterministic: events at the same instant run in the order they
// were scheduled, maps are never iterated where order matters, and the
// scheduler breaks ties with a seeded hash.
//
// Result.Timeline samples the cluster once per virtual instant, when what
// it shows changed (nodes out, pods pending, evictions and 429s so far,
// cpu and memory of the in-service nodes against what is requested); see
// timeline.go. Options.Durations lets a caller draw each duration the
// simulator waits (pod start-up, termination, reinstall, join) instead of
// using the configured value: analysis.MonteCarlo draws them from
// log-normal distributions whose sigmas are Config.Variability.
package sim
