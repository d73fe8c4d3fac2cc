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
//	                                     └─ controllers: ReplicaSet replaces at once, Job after its failure back-off,
//	                                        StatefulSet once the old pod is gone (OrderedReady: lowest ordinal first),
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
//     displaced from it are Ready again (see "Node done" below); the batch
//     ends when all its nodes are done, and the next starts after the
//     soak.
//   - PDB status is recomputed at every eviction from the pods as they are
//     (the disruption controller's arithmetic in package plan); a pod
//     being deleted counts as disrupted, as DisruptedPods makes it.
//   - A drain that can never finish — an eviction answered 500, a budget
//     that nothing left in the simulation can satisfy, or the drain timeout
//     (1 h) — is reported as DrainStuck with the pods left and what blocks
//     them; the rollout goes on, so the rest of the plan is still
//     predicted (the node is uncordoned, except after a 500: see Drains).
//     The executor stops there instead.
//   - Controllers (controllers.go), as the upstream controllers of the
//     same release do. A ReplicaSet creates the replacement as soon as the
//     pod is terminating. A StatefulSet recreates the same name once the
//     old pod is gone; with podManagementPolicy OrderedReady (the default)
//     only the lowest missing ordinal, and only while every lower one is
//     Running and Ready (and Available for minReadySeconds): k replicas
//     evicted together come back one start-up after another, and a low
//     ordinal that cannot be placed holds back every higher one. A Job
//     counts an evicted pod as failed (at its deletion, or once it is gone
//     with podReplacementPolicy Failed), unless the first podFailurePolicy
//     rule matching DisruptionTarget says Ignore (FailJob fails the Job;
//     rules on exit codes are taken not to match); it replaces the pod
//     after the back-off since the last failure (10 s, doubling, at most
//     10 min), and fails once failures exceed backoffLimit (default 6),
//     deleting its other pods: a JobFailed risk. A pod whose controller the
//     snapshot lacks (an operator's custom resource, a
//     ReplicationController) is evicted like any controlled pod and
//     recreated ReplicaSet-like, or StatefulSet-like with identity
//     "stable" in Config.Controllers (and always for an absent
//     StatefulSet); the result lists each such controller
//     (Semantics.AssumedControllers). An absent DaemonSet's pod is an
//     orphan: kubectl drain deletes it with --force, nothing recreates it.
//     (In a migration the copies of a tenant's StatefulSet are created in
//     the new cluster together: the new cluster's ordering is not modelled
//     yet.)
//   - Budgets: the expected pods of a budget with maxUnavailable or a
//     percentage are the desired replicas of its pods' controllers, a
//     Deployment counted once however many ReplicaSets its pods are in;
//     over a Job's, a DaemonSet's or an unknown controller's pods (unless
//     configured hasScale) the disruption controller fails safe and allows
//     no disruption. The scheduler's preemption reads each budget's live
//     status (disruptionsAllowed, and disruptedPods: pods evicted less
//     than two minutes ago that are not gone yet).
//   - Pods: a pod bound to a node is in phase Pending until it is Ready
//     (the start-up time covers image pull, start and readiness), so an
//     eviction deletes it without asking its budget, as the eviction
//     handler does. The scheduling queue orders by priority, then by when
//     the pod last entered it (its creation, or its last failed attempt).
//   - Drains: an eviction answered 500 (a pod under two budgets) fails
//     that pod only; the drain evicts the node's other pods, then fails
//     with the node left cordoned, as kubectl drain does.
//   - Reinstalls: a node that re-registers keeps its labels and taints
//     (the reinstall hook restores them) unless Config.NodeLabelsPreserved
//     is false, when it comes back with the kubelet's own labels only; the
//     data of node-local PersistentVolumes is wiped unless the reinstall
//     keeps the disk (a LocalStorage risk names each such workload).
//   - Node done: once a node is back, its run waits for the pods its drain
//     displaced to be Ready again (StatefulSet identities not created yet
//     included), except Job pods (plan.AwaitedAfterDrain, what the
//     executor's workloads-Ready gate waits for).
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
