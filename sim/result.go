package sim

import (
	"fmt"
	"slices"
	"sort"

	policyv1 "k8s.io/api/policy/v1"

	"github.com/noderoll/noderoll/plan"
	"github.com/noderoll/noderoll/scheduler"
	"github.com/noderoll/noderoll/snapshot"
)

// Result is the predicted outcome of a plan: the contract of
// `noderoll simulate -o json`.
type Result struct {
	Strategy string            `json:"strategy"`
	Params   map[string]string `json:"params"`
	Snapshot SnapshotRef       `json:"snapshot"`
	Summary  Summary           `json:"summary"`
	Batches  []*Batch          `json:"batches"`
	Risks    []plan.Risk       `json:"risks"`
	// Services lists the Services that degraded or went down.
	Services []ServiceImpact `json:"services,omitempty"`
	// Assumptions states the time model the prediction rests on, and the
	// scheduling engine that made it.
	Assumptions Assumptions `json:"assumptions"`
	// Semantics states the other modelling choices it rests on.
	Semantics Semantics `json:"semantics"`
	// Timeline samples the cluster over the rollout (see Sample).
	Timeline []Sample `json:"timeline,omitempty"`
	// WhatIf lists the what-if overrides applied to the snapshot before
	// the run, one line each (package whatif); empty without a what-if
	// file.
	WhatIf []string `json:"whatIf,omitempty"`

	riskSeen map[string]bool
}

// Semantics are the modelling choices of a run that the time model does
// not say.
type Semantics struct {
	// NodeLabelsPreserved: reinstalled nodes come back with their labels
	// and taints (Config.NodeLabelsPreserved).
	NodeLabelsPreserved bool `json:"nodeLabelsPreserved"`
	// AssumedControllers are the controllers of pods that the snapshot
	// does not hold, and how the run assumed they behave.
	AssumedControllers []AssumedController `json:"assumedControllers,omitempty"`
}

// AssumedController is one controller the snapshot lacks.
type AssumedController struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Pods      int    `json:"pods"`
	// Identity is "new" (replaced at once under a new name, as a
	// ReplicaSet does) or "stable" (the same name once the old pod is
	// gone, as a StatefulSet does).
	Identity string `json:"identity"`
	// HasScale: a budget over its pods can work out its expected pods.
	HasScale bool `json:"hasScale"`
}

// SnapshotRef identifies the snapshot simulated.
type SnapshotRef struct {
	Fingerprint string `json:"fingerprint"`
	Nodes       int    `json:"nodes"`
	Pods        int    `json:"pods"`
}

// Summary holds the run's totals.
type Summary struct {
	DurationSeconds float64 `json:"durationSeconds"`
	Batches         int     `json:"batches"`
	Evictions       int     `json:"evictions"`
	// EvictionsBlocked counts evictions answered 429.
	EvictionsBlocked int `json:"evictionsBlocked"`
	// PDBStallSeconds sums, over batches, the longest time one of the
	// batch's drains spent between its first 429 and its last blocked
	// eviction going through.
	PDBStallSeconds       float64 `json:"pdbStallSeconds"`
	PodMovesMax           int     `json:"podMovesMax"`
	PodsMovedMoreThanOnce int     `json:"podsMovedMoreThanOnce"`
	// UnschedulablePods counts pods the scheduler could not place at some
	// moment (they may have been placed later).
	UnschedulablePods int `json:"unschedulablePods"`
	// LostPods counts pods no controller recreates (bare pods).
	LostPods int `json:"lostPods"`
	// ServicesWithOutage: Services that had no ready endpoint at some moment.
	ServicesWithOutage int `json:"servicesWithOutage"`
	// ServicesDegraded: Services below the degraded threshold at some
	// moment that never went down.
	ServicesDegraded int `json:"servicesDegraded"`
	// OutagesAccepted: Services among ServicesWithOutage whose outage a
	// what-if file accepts; they do not block approval.
	OutagesAccepted int `json:"outagesAccepted,omitempty"`
	StuckNodes      int `json:"stuckNodes"`
	// PendingAtEnd counts pods still waiting for a node when the rollout is
	// over.
	PendingAtEnd      int     `json:"pendingAtEnd"`
	EmptyDirPodsLost  int     `json:"emptyDirPodsLost"`
	LostJobPodSeconds float64 `json:"lostJobPodSeconds"`
	// FailedJobs counts Jobs the rollout's evictions made fail (past their
	// backoffLimit, or a podFailurePolicy rule that fails the Job).
	FailedJobs    int `json:"failedJobs,omitempty"`
	PreemptedPods int `json:"preemptedPods"`
	// ExtraMachineHours are the machine-hours of machines added for the
	// rollout (rolling surge, migration seed nodes): count × duration.
	ExtraMachineHours float64 `json:"extraMachineHours"`
	// ServicesSplit (migration): Services whose namespace was half-moved —
	// some of its tenants cut over, others not yet — at some moment.
	ServicesSplit int `json:"servicesSplit"`
	// DataCopySeconds (migration): the longest data migration of a tenant.
	DataCopySeconds float64 `json:"dataCopySeconds"`
}

// Batch is one batch's figures.
type Batch struct {
	Index            int      `json:"index"`
	Nodes            []string `json:"nodes"`
	StartSeconds     float64  `json:"startSeconds"`
	EndSeconds       float64  `json:"endSeconds"`
	Evictions        int      `json:"evictions"`
	EvictionsBlocked int      `json:"evictionsBlocked"`
	PDBStallSeconds  float64  `json:"pdbStallSeconds"`
	PendingPeak      int      `json:"pendingPeak"`
	Unschedulable    int      `json:"unschedulable"`
	// Capacity of the schedulable nodes once the batch is cordoned.
	Capacity Capacity `json:"capacity"`
	// Phase (migration): "seed", "wave" or "recycle".
	Phase string `json:"phase,omitempty"`
	// Tenants (migration) moved in this wave, in order.
	Tenants []string `json:"tenants,omitempty"`
	// DataCopySeconds (migration): the longest data migration of the wave.
	DataCopySeconds float64 `json:"dataCopySeconds,omitempty"`
}

// Capacity compares what the schedulable nodes offer with what their pods
// request, per resource.
type Capacity struct {
	CPU    Amount `json:"cpu"`    // cores
	Memory Amount `json:"memory"` // GiB
	Pods   Amount `json:"pods"`
}

// Amount is an allocatable total and the requests against it.
type Amount struct {
	Allocatable float64 `json:"allocatable"`
	Requested   float64 `json:"requested"`
}

// ServiceImpact is a Service that degraded or went down.
type ServiceImpact struct {
	Service         string  `json:"service"`
	Desired         int     `json:"desired"`
	MinReady        int     `json:"minReady"`
	DownSeconds     float64 `json:"downSeconds"`
	DegradedSeconds float64 `json:"degradedSeconds"`
	Batches         []int   `json:"batches"`
	// Accepted: a what-if file accepts its outage.
	Accepted bool `json:"accepted,omitempty"`
}

// batchStats is a batch in progress.
type batchStats struct {
	Batch
	runs   []*nodeRun
	onDone func()
	done   bool
	// onRunDone, when set, is called whenever one of the runs may have
	// finished (windowed rollouts start the next node then).
	onRunDone func()
}

// detach copies each batch out of the batchStats it is embedded in: a
// pointer into a batchStats keeps it alive, and through its node runs and
// callbacks the whole simulation (every pod, the scheduler's state) for
// as long as the Result is kept — a comparison keeps every run's.
func (r *Result) detach() {
	for i, b := range r.Batches {
		c := *b
		r.Batches[i] = &c
	}
}

func (b *batchStats) notePending(n int) {
	if n > b.PendingPeak {
		b.PendingPeak = n
	}
}

func newResult(snap *snapshot.Snapshot, p *plan.Plan) *Result {
	return &Result{
		Strategy: p.Metadata.Strategy,
		Params:   p.Metadata.Params,
		Snapshot: SnapshotRef{Fingerprint: snap.Fingerprint(), Nodes: len(snap.Nodes), Pods: len(snap.Pods)},
		Batches:  []*Batch{},
		Risks:    []plan.Risk{},
		riskSeen: map[string]bool{},
	}
}

func (r *Result) addRisk(code string, sev plan.Severity, object string, batch int, msg string) {
	key := code + "|" + object
	if r.riskSeen[key] {
		return
	}
	r.riskSeen[key] = true
	risk := plan.Risk{Code: code, Severity: sev, Object: object, Message: msg}
	if batch >= 0 {
		b := batch
		risk.Batch = &b
	}
	r.Risks = append(r.Risks, risk)
}

func podObject(p *simPod) string { return "Pod/" + p.obj.Namespace + "/" + p.obj.Name }

func (r *Result) lost(p *simPod) {
	r.Summary.LostPods++
	r.addRisk(plan.RiskUnmanagedPod, plan.High, podObject(p), -1,
		"no controller recreates this pod: the drain deletes it for good (kubectl drain --force)")
}

func (r *Result) emptyDirLost(p *simPod, batch int) {
	r.Summary.EmptyDirPodsLost++
	obj := podObject(p)
	if p.owner != nil {
		obj = p.owner.object()
	}
	r.addRisk(plan.RiskEmptyDirData, plan.Medium, obj, batch, "emptyDir data is lost when the pod is evicted")
}

func (r *Result) notePDBBlock(pdb *policyv1.PodDisruptionBudget, p *simPod, batch int) {
	r.addRisk(plan.RiskPDBBlocksEviction, plan.Medium, "PodDisruptionBudget/"+pdb.Namespace+"/"+pdb.Name, batch,
		fmt.Sprintf("evictions answered 429 (first: %s); the drain waits and retries", p.key()))
}

func (r *Result) noteUnschedulable(p *simPod, batch int) {
	obj := podObject(p)
	if p.owner != nil {
		obj = p.owner.object()
	}
	r.addRisk(plan.RiskUnschedulable, plan.High, obj, batch, "the scheduler could not place "+p.key()+" at some moment")
}

func (r *Result) stuck(node string, batch int, msg string) {
	r.Summary.StuckNodes++
	r.addRisk(plan.RiskDrainStuck, plan.Critical, "Node/"+node, batch, msg)
}

// noteBatchStart records the risks visible when a batch starts: workloads
// whose every running replica sits on the batch's nodes, and a cordoned
// capacity smaller than what is requested.
func (r *Result) noteBatchStart(s *Simulation, b plan.Batch) {
	inBatch := map[string]bool{}
	for _, n := range b.Nodes {
		inBatch[n] = true
	}
	type tally struct{ in, all int }
	counts := map[*workload]*tally{}
	for _, p := range s.pods {
		// Jobs are batch work and DaemonSet pods leave with their node:
		// only serving replicas count.
		if p.owner == nil || p.owner.kind == "DaemonSet" || p.owner.kind == "Job" || p.state == podGone || p.state == podPending {
			continue
		}
		t := counts[p.owner]
		if t == nil {
			t = &tally{}
			counts[p.owner] = t
		}
		t.all++
		if inBatch[p.obj.Spec.NodeName] {
			t.in++
		}
	}
	// Only workloads with every replica in the batch are reported, in the
	// order of their object names.
	type whole struct {
		object   string
		replicas int
	}
	var ws []whole
	for w, t := range counts {
		if t.all > 1 && t.in == t.all {
			ws = append(ws, whole{w.object(), t.all})
		}
	}
	sort.Slice(ws, func(i, j int) bool { return ws[i].object < ws[j].object })
	for _, w := range ws {
		r.addRisk(plan.RiskAllReplicasInBatch, plan.Critical, w.object, b.Index,
			fmt.Sprintf("all %d running replicas are on nodes of batch %d", w.replicas, b.Index))
	}
	c := s.batch.Capacity
	for _, a := range []struct {
		name string
		amt  Amount
	}{{"cpu", c.CPU}, {"memory", c.Memory}, {"pods", c.Pods}} {
		if a.amt.Requested > a.amt.Allocatable {
			r.addRisk(plan.RiskCapacityShortfall, plan.High, "Batch/"+fmt.Sprint(b.Index), b.Index,
				fmt.Sprintf("with batch %d cordoned, %s requested %.1f exceeds the %.1f the other nodes offer", b.Index, a.name, a.amt.Requested, a.amt.Allocatable))
		}
	}
}

// capacity sums allocatable and requests over the schedulable nodes. Sums
// are kept in integers (milli-CPU, bytes) so that they do not depend on the
// order nodes are visited in.
func (s *Simulation) capacity() Capacity {
	var allocCPU, allocMem, allocPods int64
	for _, n := range s.nodes {
		if !n.present || n.cordoned {
			continue
		}
		a := n.obj.Status.Allocatable
		allocCPU += a.Cpu().MilliValue()
		allocMem += a.Memory().Value()
		allocPods += a.Pods().Value()
	}
	// Every pod that must keep running needs room on the schedulable nodes.
	req := s.demand()
	const gib = 1 << 30
	return Capacity{
		CPU:    Amount{Allocatable: float64(allocCPU) / 1000, Requested: float64(req[0]) / 1000},
		Memory: Amount{Allocatable: float64(allocMem) / gib, Requested: float64(req[1]) / gib},
		Pods:   Amount{Allocatable: float64(allocPods), Requested: float64(req[2])},
	}
}

// finish closes the books: Services' clocks, pending pods, risks order.
func (s *Simulation) finish() {
	r := s.result
	// The rollout is over when its last batch is; events still queued past
	// that (drain timeouts of nodes that finished) change nothing.
	now := s.clk.now
	if n := len(r.Batches); n > 0 {
		now = seconds(r.Batches[n-1].EndSeconds)
	}
	r.Summary.DurationSeconds = now.Seconds()
	r.Summary.Batches = len(r.Batches)
	r.Summary.PendingAtEnd = len(s.pending)
	r.Assumptions = Assumptions{Timing: s.cfg.Timing, Engine: s.sched.Engine()}
	r.Semantics.NodeLabelsPreserved = s.cfg.nodeLabelsPreserved()
	for _, w := range s.assumed {
		identity := IdentityNew
		if w.kind == "StatefulSet" {
			identity = IdentityStable
		}
		r.Semantics.AssumedControllers = append(r.Semantics.AssumedControllers, AssumedController{
			Kind: w.ownerKind, Namespace: w.namespace, Name: w.name, Pods: int(w.replicas), Identity: identity, HasScale: w.hasScale})
	}
	sort.Slice(r.Semantics.AssumedControllers, func(i, j int) bool {
		a, b := r.Semantics.AssumedControllers[i], r.Semantics.AssumedControllers[j]
		return a.Kind+"/"+a.Namespace+"/"+a.Name < b.Kind+"/"+b.Namespace+"/"+b.Name
	})
	for _, sv := range s.services {
		if sv.downSince >= 0 {
			sv.downFor += now - sv.downSince
		}
		if sv.degradedSince >= 0 {
			sv.degradedFor += now - sv.degradedSince
		}
		if !sv.everDegraded && !sv.everDown {
			continue
		}
		var batches []int
		for b := range sv.batches {
			batches = append(batches, b)
		}
		sort.Ints(batches)
		r.Services = append(r.Services, ServiceImpact{Service: sv.object(), Desired: sv.desired, MinReady: sv.minReady,
			DownSeconds: sv.downFor.Seconds(), DegradedSeconds: sv.degradedFor.Seconds(), Batches: batches})
		first := -1
		if len(batches) > 0 {
			first = batches[0]
		}
		if sv.everDown {
			r.Summary.ServicesWithOutage++
			r.addRisk(plan.RiskServiceOutage, plan.Critical, sv.object(), first,
				fmt.Sprintf("no ready endpoint for %.0fs (of %d)", sv.downFor.Seconds(), sv.desired))
		} else {
			r.Summary.ServicesDegraded++
			r.addRisk(plan.RiskServiceDegraded, plan.Medium, sv.object(), first,
				fmt.Sprintf("down to %d of %d ready endpoints for %.0fs", sv.minReady, sv.desired, sv.degradedFor.Seconds()))
		}
	}
	moved := slices.Clone(s.churned)
	sort.Slice(moved, func(i, j int) bool { return moved[i].key < moved[j].key })
	for _, l := range moved {
		r.addRisk(plan.RiskPodMovedRepeatedly, plan.Low, "Pod/"+l.key, -1, fmt.Sprintf("moved %d times", l.moves))
	}
	sort.SliceStable(r.Risks, func(i, j int) bool {
		a, b := r.Risks[i], r.Risks[j]
		if a.Severity.Rank() != b.Severity.Rank() {
			return a.Severity.Rank() < b.Severity.Rank()
		}
		if a.Code != b.Code {
			return a.Code < b.Code
		}
		return a.Object < b.Object
	})
}

// Assumptions are what a prediction rests on: the time model (its fields
// inline) and the scheduling engine ("incremental" or "reference"; both
// predict the same, see scheduler.Engine).
type Assumptions struct {
	Timing
	// Engine is the scheduling engine the simulation ran.
	Engine scheduler.Engine `json:"engine"`
}
