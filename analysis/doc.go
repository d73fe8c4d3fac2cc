// Package analysis turns snapshots and simulation results into findings an
// SRE can act on.
//
// Preflight is the static part: it reads a snapshot.Snapshot, before any
// rollout, and reports the risks that can be known without simulating — each
// a plan.Risk with a stable code, a severity, the object concerned
// ("kind/namespace/name") and a message that says what the risk means and
// what to do about it. One risk is reported per code and object; the object
// is the workload (Deployment, StatefulSet, ReplicaSet without a Deployment,
// DaemonSet, Job), not its pods, except for pods no controller manages.
//
//	SinglePointOfFailure  high      a Deployment, StatefulSet or standalone ReplicaSet with one
//	                                desired replica that backs a Service (medium without one),
//	                                or whose running replicas all sit on one node
//	NoPDB                 medium    a workload with at least 2 replicas that no PDB selects
//	PDBBlocksEviction     critical  a PDB that allows no eviction even with every pod Ready
//	                                (minAvailable = replicas, maxUnavailable 0, minAvailable 90%
//	                                of 9 pods or fewer, a budget the disruption controller cannot
//	                                compute); pods selected by two PDBs (the Eviction API answers
//	                                500), reported on their workload
//	                      high      a PDB that allows none now because pods are not Ready
//	UnmanagedPod          high      a pod without a controller: drain --force deletes it for good
//	LocalStorage          high      pods bound through PVC and PV to a node-local volume
//	EmptyDirData          medium    pods whose emptyDir data an eviction deletes (high when the
//	                                drain as configured refuses them)
//	Unschedulable         high      pods Pending, bound to no node
//	CapacityShortfall     high      Cluster/total, NodePool/<pool> or Zone/<zone>: the pods evicted
//	                                from the group's largest nodes (10%, at least one) do not fit
//	                                in what the rest has free; or a pool or zone whose pods can
//	                                run nowhere else has a single node or is over 90% requested
//
// The shared semantics come from package plan, never from here: which pods a
// drain evicts, skips or loses (plan.Drain), how the disruption controller
// computes a budget (plan.Budget), which PDBs select a pod (plan.Selects),
// how the Eviction API answers (plan.AnswerEviction). Static node
// eligibility (node selector, required node affinity, taints, volume node
// affinity) comes from k8s.io/component-helpers, as the scheduler's filters
// use it.
//
// MonteCarlo runs a plan many times with durations drawn from log-normal
// distributions around the configured ones and returns the duration's
// spread (Band: P50, P90, P99, with the seed and the number of runs).
//
// Package reports renders a Report (table, the JSON contract of `noderoll
// analyze -o json`, Markdown); analysis only computes. Output is
// deterministic: risks are sorted worst first,
// then by code, object and message, and nothing depends on map order or on
// the order of objects in the snapshot.
package analysis
