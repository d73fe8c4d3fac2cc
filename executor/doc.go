// Package executor runs a plan (package plan) against a real cluster
// through client-go: the second interpreter of the plan, next to the
// simulator. It decides nothing the plan does not say; the semantics it
// shares with the simulator — which pods a drain evicts, how long a 429
// waits, what a gate checks — are plain functions of package plan.
//
// # The step machine
//
// Batches run in order; a batch's nodes run side by side, each through
// these phases (the Phase constants), and the batch ends when every node
// is Done:
//
//	Pending -> Draining -> Drained -> Reinstalling -> Reinstalled -> Rejoined -> Uncordoned -> Done
//
// The step each phase names:
//
//   - Draining: annotate the node (noderoll.dev/rollout), cordon it and
//     evict its pods with kubectl's drain library (k8s.io/kubectl/pkg/drain),
//     built from the plan's drain options by NewDrainHelper only: 429s are
//     retried every plan.EvictionRetryInterval, the drain waits for the
//     evicted pods to be gone.
//   - Reinstalling: run the plan's reinstall hook with NODE_NAME,
//     NODEROLL_BATCH, NODEROLL_PLAN_DIGEST, NODEROLL_EXPECTED_OS_IMAGE,
//     KUBECONFIG (when given) and the plan's variables (hooks.env) in its
//     environment, its output logged line by line; a failure stops the
//     rollout.
//   - Reinstalled: the rejoin gate — wait for the node to be registered
//     and Ready with gates.expectedOSImage.
//   - Rejoined: uncordon and remove the annotations.
//   - Uncordoned: wait until every controller whose pods the drain evicted
//     has as many Ready pods as it had when the drain began; then soak
//     (spec.soakSeconds) after the batch. Jobs are left out: the Job
//     controller recreates an evicted pod after its failure back-off (10 s,
//     doubling) and not at all past the Job's backoffLimit, so waiting on
//     batch work would hold the rollout hostage to it.
//
// # Gates
//
// Before a batch starts, against fresh state (and recorded in the run
// record): drift — the live nodes and PodDisruptionBudgets against the
// plan's baseline, within gates.drift, a node still to be replaced never
// missing (plan.CheckDrift); pending pods within gates.maxPendingPods;
// no budget that allows no disruption selects a pod the batch must evict
// (plan.ExhaustedBudgets); and, with a Resimulator, the prediction for the
// remaining batches within the plan's limits (plan.Gates.CheckPrediction).
// Pending pods and exhausted budgets may clear by themselves and are
// given gates.settleSeconds; drift and the prediction fail at once. A
// failed gate returns a *GateError: the nodes of earlier batches are
// replaced, those of later ones untouched, and a node stopped half-way
// stays cordoned with the reason in its noderoll.dev/stopped annotation,
// an Event and the record.
//
// # What is persisted, and how resume decides
//
// The run record (Record) is the progress: it is saved in the ConfigMap
// noderoll-progress of the executor's namespace (kube-system unless told
// otherwise) before every step starts and after it ends, keyed by the
// plan's digest. A node's phase is written before the step it names runs,
// so a killed executor leaves the step that was under way. With --resume
// the executor takes the recorded run of the same plan up: finished
// batches are skipped; in the batch under way each node continues from
// its phase — a drain under way is continued (the node is already
// cordoned; the drain library evicts what is left; counted as a drain
// resume, not a second drain), a finished drain is never started again,
// an interrupted hook is run again (hooks must be idempotent), waits are
// waited again. Without --resume, an unfinished run in the cluster makes
// the executor refuse to start.
//
// # Lock
//
// While it runs the executor holds the coordination.k8s.io Lease
// noderoll-executor in the same namespace, renewed every third of its
// duration. A second executor fails at once with a *LockedError naming
// the holder; with --resume it waits for a dead holder's Lease to lapse.
//
// # Output
//
// Progress lines on Config.Out, Kubernetes Events on the nodes (reasons
// Noderoll*), and the Record, whose per-batch Actual figures mirror the
// plan's Predicted ones: evictions and 429s counted from the API server's
// answers to the drain's eviction requests, the PDB stall from a drain's
// first 429 to its last refused eviction going through, the pending peak
// sampled every poll interval, unschedulable pods as the scheduler marks
// them (PodScheduled=False, reason Unschedulable) during the batch.
//
// A dry run (Config.DryRun) prints every action and changes nothing; see
// dryRun. Verify compares a plan's predictions with a run record.
package executor
