package analysis

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/noderoll/noderoll/plan"
	"github.com/noderoll/noderoll/snapshot"
)

// Defaults of PreflightOptions.
const (
	// DefaultNodesOutFraction is the share of a node group assumed out of
	// service at once: one rolling batch of the default size.
	DefaultNodesOutFraction = 0.10
	// DefaultFullFraction is the share of its allocatable above which a node
	// group whose pods cannot run elsewhere is reported.
	DefaultFullFraction = 0.90
)

// PreflightOptions tune Preflight. The zero value asks for the defaults.
type PreflightOptions struct {
	// Drain is how the rollout drains nodes; it decides which pods are
	// evicted, skipped or lost (plan.Drain) and whether a drain refuses a
	// node. Nil means plan.DefaultDrainOptions() (--ignore-daemonsets
	// --delete-emptydir-data --force).
	Drain *plan.DrainOptions
	// NodesOutFraction is the share of a node group's schedulable nodes the
	// capacity check takes out at once, rounded up, at least one node. 0
	// means DefaultNodesOutFraction.
	NodesOutFraction float64
	// FullFraction: a node pool or zone whose pods can run nowhere else is
	// reported when its requests exceed this share of its allocatable cpu,
	// memory or pods. 0 means DefaultFullFraction.
	FullFraction float64
}

// Validate reports options out of range.
func (o PreflightOptions) Validate() error {
	switch {
	case o.NodesOutFraction < 0 || o.NodesOutFraction > 1:
		return fmt.Errorf("nodes-out fraction %g: want a value between 0 and 1", o.NodesOutFraction)
	case o.FullFraction < 0 || o.FullFraction > 1:
		return fmt.Errorf("full fraction %g: want a value between 0 and 1", o.FullFraction)
	}
	return nil
}

// withDefaults fills in the defaults, also in place of values Validate
// rejects.
func (o PreflightOptions) withDefaults() PreflightOptions {
	if o.Drain == nil {
		d := plan.DefaultDrainOptions()
		o.Drain = &d
	}
	if o.NodesOutFraction <= 0 || o.NodesOutFraction > 1 {
		o.NodesOutFraction = DefaultNodesOutFraction
	}
	if o.FullFraction <= 0 || o.FullFraction > 1 {
		o.FullFraction = DefaultFullFraction
	}
	return o
}

// Report is what Preflight found: an overview of the snapshot and the
// risks, worst first. Its JSON form is the output of `noderoll analyze -o
// json`; the field names are part of the CLI's contract.
type Report struct {
	Snapshot Overview    `json:"snapshot"`
	Risks    []plan.Risk `json:"risks"`
}

// Overview is the summary an SRE reads first: how big the cluster is, how
// much of it PDBs protect, and how full each zone and pool is.
type Overview struct {
	Fingerprint string    `json:"fingerprint"`
	Source      string    `json:"source,omitempty"`
	TakenAt     time.Time `json:"takenAt,omitzero"`
	Nodes       int       `json:"nodes"`
	Pods        int       `json:"pods"`
	Services    int       `json:"services"`
	PDBs        int       `json:"pdbs"`
	Namespaces  int       `json:"namespaces"`
	// Workloads counts the owners of the pods a rollout moves, by kind
	// (the snapshot.Workload* constants): Deployments, ReplicaSets that no
	// Deployment owns, StatefulSets, DaemonSets, Jobs, and the pods that
	// have not terminated and have no controller (BarePod). Kinds with none
	// are absent.
	Workloads map[string]int `json:"workloads"`
	// PDBCoverage says how many replicated workloads a PDB protects.
	PDBCoverage PDBCoverage `json:"pdbCoverage"`
	// AssumedControllers counts, by owner kind, the controllers of pods
	// that the snapshot does not hold (an operator's custom resources,
	// ReplicationControllers): the simulation assumes how they recreate
	// their pods (sim.Config.Controllers). Absent when there are none.
	AssumedControllers map[string]int `json:"assumedControllers,omitempty"`
	// Capacity compares requests with allocatable per zone, per pool and in
	// total, as snapshot.Summary computes it.
	Capacity snapshot.CapacitySummary `json:"capacity"`
}

// PDBCoverage counts the Deployments, standalone ReplicaSets and
// StatefulSets with at least 2 desired replicas, and those of them a
// PodDisruptionBudget selects.
type PDBCoverage struct {
	Workloads int `json:"workloads"`
	Covered   int `json:"covered"`
	// Percent is Covered*100/Workloads rounded down; 100 when Workloads is
	// 0.
	Percent int `json:"percent"`
}

// WorkloadTotal is the number of workloads of every kind.
func (o Overview) WorkloadTotal() int {
	n := 0
	for _, c := range o.Workloads {
		n += c
	}
	return n
}

// Count returns how many risks have severity s or worse.
func (r Report) Count(s plan.Severity) int {
	n := 0
	for _, k := range r.Risks {
		if k.Severity.Rank() <= s.Rank() {
			n++
		}
	}
	return n
}

// ParseSeverity parses "critical", "high", "medium" or "low".
func ParseSeverity(s string) (plan.Severity, error) {
	switch sev := plan.Severity(s); sev {
	case plan.Critical, plan.High, plan.Medium, plan.Low:
		return sev, nil
	}
	return "", fmt.Errorf("unknown severity %q: want critical, high, medium or low", s)
}

// Preflight finds the risks of replacing every node of snap that are known
// before any rollout (see the package documentation for the list). It never
// fails: objects it cannot judge (a pod whose owner is not in the snapshot,
// a PVC without its volume) are left out of the checks that need them.
// Options out of the range Validate accepts are replaced by the defaults.
func Preflight(snap *snapshot.Snapshot, opts PreflightOptions) Report {
	opts = opts.withDefaults()
	x := newIndex(snap, *opts.Drain)
	sum := snap.Summary()
	r := Report{
		Snapshot: Overview{
			Fingerprint:        sum.Fingerprint,
			Source:             sum.Source,
			TakenAt:            sum.TakenAt,
			Nodes:              sum.Nodes,
			Pods:               sum.Pods,
			Services:           sum.Services,
			PDBs:               sum.PDBs,
			Namespaces:         sum.Namespaces,
			Workloads:          x.workloadCounts(),
			PDBCoverage:        x.pdbCoverage(),
			AssumedControllers: x.assumedControllers(),
			Capacity:           sum.Capacity,
		},
		Risks: []plan.Risk{},
	}
	var risks riskSet
	x.checkWorkloads(&risks)
	x.checkPods(&risks)
	x.checkAssumedControllers(&risks)
	x.checkPDBs(&risks)
	x.checkCapacity(&risks, opts)
	r.Risks = risks.sorted()
	return r
}

// riskSet collects risks, at most one per code and object.
type riskSet struct {
	risks []plan.Risk
	seen  map[string]bool
}

func (s *riskSet) add(code string, sev plan.Severity, object, msg string) {
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	key := code + "|" + object
	if s.seen[key] {
		return
	}
	s.seen[key] = true
	s.risks = append(s.risks, plan.Risk{Code: code, Severity: sev, Object: object, Message: msg})
}

// sorted returns the risks worst first, then by code, object and message.
func (s *riskSet) sorted() []plan.Risk {
	out := slices.Clone(s.risks)
	if out == nil {
		out = []plan.Risk{}
	}
	slices.SortFunc(out, compareRisks)
	return out
}

func compareRisks(a, b plan.Risk) int {
	return cmp.Or(
		cmp.Compare(a.Severity.Rank(), b.Severity.Rank()),
		cmp.Compare(a.Code, b.Code),
		cmp.Compare(a.Object, b.Object),
		cmp.Compare(a.Message, b.Message),
	)
}
