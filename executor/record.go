package executor

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/noderoll/noderoll/internal/atomicfile"
	"github.com/noderoll/noderoll/plan"
)

// RecordKind identifies a run record document.
const RecordKind = "RunRecord"

// Outcomes of a run.
const (
	// OutcomeRunning: the run has not ended (a record read from the
	// cluster while an executor works, or after one was killed).
	OutcomeRunning = "Running"
	// OutcomeCompleted: every node of the plan was replaced.
	OutcomeCompleted = "Completed"
	// OutcomeStopped: a gate failed; the record's Message says which.
	OutcomeStopped = "Stopped"
	// OutcomeFailed: a step failed (a hook, a drain, the API server).
	OutcomeFailed = "Failed"
)

// Phase is where a node is in its replacement. The executor persists a
// node's phase before it starts the step the phase names, so that a
// resumed run knows what was under way.
type Phase string

// The phases, in order.
const (
	PhasePending      Phase = ""
	PhaseDraining     Phase = "Draining"     // cordon and drain under way
	PhaseDrained      Phase = "Drained"      // every evictable pod gone
	PhaseReinstalling Phase = "Reinstalling" // the reinstall hook runs
	PhaseReinstalled  Phase = "Reinstalled"  // the hook succeeded
	PhaseRejoined     Phase = "Rejoined"     // Ready again with the expected OS image
	PhaseUncordoned   Phase = "Uncordoned"   // schedulable; its workloads settle
	PhaseDone         Phase = "Done"         // its displaced workloads are Ready
)

// Record is the run record (`--record run.json`): what the executor did,
// when, and the figures the simulator predicted, measured. It is also
// the progress the executor persists in the cluster.
type Record struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// PlanDigest is plan.Digest of the plan run.
	PlanDigest          string     `json:"planDigest"`
	SnapshotFingerprint string     `json:"snapshotFingerprint"`
	Strategy            string     `json:"strategy"`
	StartedAt           time.Time  `json:"startedAt"`
	FinishedAt          *time.Time `json:"finishedAt,omitempty"`
	// Outcome is one of the Outcome constants; Message says why a run
	// stopped or failed.
	Outcome string `json:"outcome"`
	Message string `json:"message,omitempty"`
	// Executors lists the identities of the executors that worked on the
	// run, in order: more than one when a run was resumed.
	Executors []string    `json:"executors"`
	Batches   []*BatchRun `json:"batches"`
}

// BatchRun is one batch as it happened.
type BatchRun struct {
	Index     int        `json:"index"`
	Nodes     []string   `json:"nodes"`
	StartedAt *time.Time `json:"startedAt,omitempty"`
	EndedAt   *time.Time `json:"endedAt,omitempty"`
	// Gates are the checks made before the batch started.
	Gates []GateResult `json:"gates,omitempty"`
	// Actual are the batch's figures, as the plan's predicted ones.
	Actual plan.Predicted `json:"actual"`
	// NodeRuns are the batch's nodes, in the plan's order.
	NodeRuns []*NodeRun `json:"nodeRuns"`
}

// GateResult is one gate checked before a batch.
type GateResult struct {
	Gate    string    `json:"gate"`
	Passed  bool      `json:"passed"`
	Message string    `json:"message,omitempty"`
	At      time.Time `json:"at"`
	// WaitedSeconds is how long a gate that may clear by itself waited
	// (up to gates.settleSeconds), and WaitedFor what its first check
	// found.
	WaitedSeconds float64 `json:"waitedSeconds,omitempty"`
	WaitedFor     string  `json:"waitedFor,omitempty"`
}

// NodeRun is one node's replacement as it happened.
type NodeRun struct {
	Name  string `json:"name"`
	Phase Phase  `json:"phase"`
	// Drains counts drains started; DrainResumes drains taken up again
	// by a resumed executor after the one that started them died.
	Drains       int `json:"drains"`
	DrainResumes int `json:"drainResumes,omitempty"`
	// HookRuns counts runs of the reinstall hook.
	HookRuns         int `json:"hookRuns"`
	Evictions        int `json:"evictions"`
	EvictionsBlocked int `json:"evictionsBlocked"`
	// PDBStallSeconds is the time between the drain's first 429 and the
	// last refused eviction going through.
	PDBStallSeconds float64 `json:"pdbStallSeconds"`
	// PodsToEvict is how many pods the node's drain listed to evict when
	// it first started. Evictions counts the API server's 201s as they
	// come, except for a drain that was resumed: an executor that dies
	// takes the answers of its last moments with it, so once such a drain
	// ends — every pod of that first list gone, each evicted once —
	// Evictions is PodsToEvict.
	PodsToEvict int `json:"podsToEvict,omitempty"`
	// EvictionsCompleted counts the pods a resumed drain found granted
	// eviction by their budget but never deleted (the executor that asked
	// died in the request), and deleted (see grantedEvictions).
	EvictionsCompleted int `json:"evictionsCompleted,omitempty"`
	// Displaced are the controllers ("Kind/namespace/name") of the pods
	// the drain evicted, with how many of their pods were Ready before.
	Displaced map[string]int `json:"displaced,omitempty"`
	// LastReady are the displaced controllers the node waited for last
	// after it was uncordoned, with their Ready pods at that moment.
	LastReady []string `json:"lastReady,omitempty"`
	// Times of the steps.
	DrainStarted *time.Time `json:"drainStarted,omitempty"`
	Drained      *time.Time `json:"drained,omitempty"`
	Reinstalled  *time.Time `json:"reinstalled,omitempty"`
	Rejoined     *time.Time `json:"rejoined,omitempty"`
	Uncordoned   *time.Time `json:"uncordoned,omitempty"`
	Done         *time.Time `json:"done,omitempty"`
	// Message says why the node stopped where it is, when it did.
	Message string `json:"message,omitempty"`
	// CordonedBefore: the node was cordoned before the run (read before
	// its first drain); uncordon leaves it cordoned.
	CordonedBefore bool `json:"cordonedBefore,omitempty"`
	// BeforeHook is the node as it was registered and booted before the
	// reinstall hook first ran: the rejoin gate waits for it to have come
	// back since.
	BeforeHook *NodeBoot `json:"beforeHook,omitempty"`
}

// NodeBoot is a node's registration and boot at one moment, as the API
// server reports them (no local clock enters it).
type NodeBoot struct {
	// Absent: the node object did not exist.
	Absent bool `json:"absent,omitempty"`
	// UID is the node object's UID: a node registered again has another.
	UID string `json:"uid,omitempty"`
	// BootID is status.nodeInfo.bootID, which the kubelet changes at
	// every boot.
	BootID string `json:"bootID,omitempty"`
	// ReadySince is the lastTransitionTime of the node's Ready condition.
	ReadySince *time.Time `json:"readySince,omitempty"`
}

// newRecord is the record of a run of p that has not started.
func newRecord(p *plan.Plan, digest string, now time.Time) *Record {
	r := &Record{
		APIVersion: plan.APIVersion, Kind: RecordKind, PlanDigest: digest,
		SnapshotFingerprint: p.Metadata.SnapshotFingerprint, Strategy: p.Metadata.Strategy,
		StartedAt: now, Outcome: OutcomeRunning,
	}
	for _, b := range p.Spec.Batches {
		br := &BatchRun{Index: b.Index, Nodes: b.Nodes}
		for _, n := range b.Nodes {
			br.NodeRuns = append(br.NodeRuns, &NodeRun{Name: n})
		}
		r.Batches = append(r.Batches, br)
	}
	return r
}

// knownPhases are the phases a record may hold.
var knownPhases = []Phase{PhasePending, PhaseDraining, PhaseDrained, PhaseReinstalling, PhaseReinstalled, PhaseRejoined, PhaseUncordoned, PhaseDone}

// check reports whether the record is one of a run of p: its batches and
// nodes those of the plan, in order, none missing or null, every phase
// known. A record that is not is never resumed: the executor would take
// up steps on the wrong nodes.
func (r *Record) check(p *plan.Plan) error {
	if len(r.Batches) != len(p.Spec.Batches) {
		return fmt.Errorf("the record has %d batches, the plan %d", len(r.Batches), len(p.Spec.Batches))
	}
	for i, b := range r.Batches {
		pb := p.Spec.Batches[i]
		if b == nil {
			return fmt.Errorf("batches[%d]: null", i)
		}
		if len(b.NodeRuns) != len(pb.Nodes) {
			return fmt.Errorf("batches[%d]: %d nodes, the plan's batch has %d", i, len(b.NodeRuns), len(pb.Nodes))
		}
		for j, n := range b.NodeRuns {
			switch {
			case n == nil:
				return fmt.Errorf("batches[%d].nodeRuns[%d]: null", i, j)
			case n.Name != pb.Nodes[j]:
				return fmt.Errorf("batches[%d].nodeRuns[%d]: node %q, the plan's is %q", i, j, n.Name, pb.Nodes[j])
			case !slices.Contains(knownPhases, n.Phase):
				return fmt.Errorf("batches[%d].nodeRuns[%d]: node %s: unknown phase %q", i, j, n.Name, n.Phase)
			}
		}
	}
	return nil
}

// done reports whether every node of the batch is Done.
func (b *BatchRun) done() bool {
	for _, n := range b.NodeRuns {
		if n.Phase != PhaseDone {
			return false
		}
	}
	return true
}

// started reports whether some node of the batch has left Pending.
func (b *BatchRun) started() bool {
	for _, n := range b.NodeRuns {
		if n.Phase != PhasePending {
			return true
		}
	}
	return false
}

// LoadRecord reads a run record.
func LoadRecord(path string) (*Record, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading run record: %w", err)
	}
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if r.Kind != RecordKind {
		return nil, fmt.Errorf("%s: kind: %q, want %s", path, r.Kind, RecordKind)
	}
	return &r, nil
}

// Save writes the record as indented JSON, atomically, readable by its
// owner only: its messages may quote hook output and variables.
func (r *Record) Save(path string) error {
	if err := atomicfile.WriteMode(path, 0o600, r.encode); err != nil {
		return fmt.Errorf("writing run record %s: %w", path, err)
	}
	return nil
}

func (r *Record) encode(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func stamp(t time.Time) *time.Time { return &t }
