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
//   - Draining: record whether the node was cordoned before the run,
//     annotate it (noderoll.dev/rollout), cordon it and list its pods with
//     kubectl's drain library (k8s.io/kubectl/pkg/drain), built from the
//     plan's drain options by NewDrainHelper only, then evict them
//     (evictPods): each eviction carries the pod's UID as a precondition,
//     429s are retried every plan.EvictionRetryInterval as the same pod,
//     transient errors with backoff, a pod that cannot be evicted (two
//     budgets select it: 500) fails the drain once the other pods are
//     gone, and the drain waits for the evicted pods to be gone.
//   - Reinstalling: run the plan's reinstall hook with NODE_NAME,
//     NODEROLL_BATCH, NODEROLL_PLAN_DIGEST, NODEROLL_EXPECTED_OS_IMAGE,
//     KUBECONFIG (when given) and the plan's variables (hooks.env) in its
//     environment — the only way they reach it: argv is the plan's, never
//     a shell string —, its output logged line by line with the node's
//     name, in a process group of its own: past hooks.timeoutSeconds (or
//     when the executor stops) the group gets SIGTERM, then SIGKILL after
//     Config.HookGracePeriod. A failure stops the rollout.
//   - Reinstalled: the rejoin gate — wait for the node to be registered
//     and Ready with gates.expectedOSImage, and, when a hook ran, to have
//     come back since it started: registered again (another UID), booted
//     again (another boot ID) or its Ready condition changed since
//     (NodeBoot, as the API server reports them).
//   - Rejoined: uncordon (or leave cordoned, a node cordoned before the
//     run) and remove the annotations.
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
// (plan.ExhaustedBudgets); no pod the batch must evict is selected by more
// than one budget (pdb-overlap: the Eviction API refuses it); and, with a Resimulator, the prediction for the
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
// noderoll-progress of the executor's namespace (noderoll-system unless
// told otherwise; deploy/rbac.yaml creates it) before every step starts and
// after it ends, keyed by the plan's digest, with optimistic concurrency:
// every save carries the resourceVersion of the executor's last one, and
// one that finds the ConfigMap changed by someone else
// (ErrProgressConflict) stops the executor, which writes nothing more. A
// record whose JSON passes MaxProgressBytes is stored compressed, and one
// too large even so stops the run (ErrRecordTooLarge). A resumed record is
// checked against the plan (its batches and nodes, none null). A node's phase is written before the step it names runs,
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
// noderoll-executor in the same namespace through client-go's leader
// election (resourcelock.LeaseLock): renewed every sixth of its duration,
// given up when it could not be renewed for two thirds of it — before any
// other executor may take it over, which it does only once the Lease has
// not changed for a whole duration as it observes it (never by the
// holder's renewTime: clocks differ). The Lease's holder is the
// executor's identity and an instance token, so that an executor given
// the same --identity as a live one never takes its Lease. A second
// executor fails at once with a *LockedError naming the holder; with
// --resume it waits for a dead holder's Lease to lapse.
//
// Every write of the executor goes through a fence (its clients'
// transport) that sends it only while the Lease is held. Once the Lease is
// lost (ErrLeaseLost) the executor stops and writes nothing: not its
// progress, not a node's stopped annotation, not its outcome, not an
// Event; the record stays as it last saved it, for the next holder to take
// up. A stop for any other reason (a gate, a failed step, SIGINT) records
// where it stopped on the nodes and in the record.
//
// Every request has a timeout (DefaultRequestTimeout unless the REST
// configuration sets one); transient errors (5xx, timeouts, connections
// refused or reset) are retried with backoff for up to two minutes.
//
// # Output
//
// Progress lines on Config.Out, Kubernetes Events on the nodes (reasons
// Noderoll*, in namespace default as the API server requires of a
// cluster-scoped object's Events), and the Record, whose per-batch Actual figures mirror the
// plan's Predicted ones: evictions and 429s counted from the API server's
// answers to the drain's eviction requests, the PDB stall from a drain's
// first 429 to its last refused eviction going through, the pending peak
// sampled every poll interval, unschedulable pods as the scheduler marks
// them (PodScheduled=False, reason Unschedulable) during the batch.
//
// A dry run (Config.DryRun) prints every action and changes nothing; see
// dryRun. Verify compares a plan's predictions with a run record.
package executor
