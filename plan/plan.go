package plan

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// APIVersion and Kind identify a plan document.
const (
	APIVersion = "noderoll.dev/v1alpha1"
	Kind       = "RolloutPlan"
)

// Plan is an ordered rollout: the batches of nodes to replace and how. The
// simulator and the executor both run it; neither decides anything a plan
// does not say.
type Plan struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        Metadata `json:"metadata"`
	Spec            Spec     `json:"spec"`
}

// Metadata ties a plan to the snapshot and strategy it was made from.
type Metadata struct {
	// SnapshotFingerprint is the fingerprint of the snapshot planned on.
	SnapshotFingerprint string `json:"snapshotFingerprint"`
	// Strategy is the generator's name: "rolling", "migration".
	Strategy string `json:"strategy"`
	// Params are the generator's parameters, as given.
	Params map[string]string `json:"params,omitempty"`
	// Simulation is what the simulator predicted for the whole plan and
	// the time model it assumed; absent in a plan nobody simulated.
	Simulation *Simulation `json:"simulation,omitempty"`
	// Baseline is the part of the snapshot the executor's drift gate
	// compares the live cluster with.
	Baseline *Baseline `json:"baseline,omitempty"`
	// WhatIf, when set, is the what-if file the plan was simulated with:
	// the Baseline is then the snapshot with its overrides applied, so the
	// plan runs once the cluster has been changed to match.
	WhatIf *WhatIf `json:"whatIf,omitempty"`
}

// WhatIf records a what-if file in a plan.
type WhatIf struct {
	// File is the path it was read from.
	File string `json:"file,omitempty"`
	// Content is the file as read (YAML).
	Content string `json:"content"`
	// Applied lists what each override did, one line each.
	Applied []string `json:"applied,omitempty"`
}

// Spec is what to do.
type Spec struct {
	// Drain is how every node is drained.
	Drain DrainOptions `json:"drain"`
	// Hooks run around each node's replacement.
	Hooks Hooks `json:"hooks,omitempty"`
	// Gates are checked before each batch.
	Gates Gates `json:"gates,omitempty"`
	// SoakSeconds is the wait after a batch before the next starts.
	SoakSeconds int64 `json:"soakSeconds,omitempty"`
	// Batches are done in order; a batch's nodes proceed independently and
	// the batch ends when all of them are back.
	Batches []Batch `json:"batches"`
	// Surge new nodes of the most common shape, with the new OS, join before
	// the first batch (rolling). They cost extra machine-hours.
	Surge int `json:"surge,omitempty"`
	// CordonAhead cordons the nodes of the next K batches when a batch
	// starts, so that the pods it evicts avoid nodes about to be replaced
	// (rolling).
	CordonAhead int `json:"cordonAhead,omitempty"`
	// Window, when set, keeps that many nodes in flight instead of running
	// batches: the next node starts as soon as one is back (rolling). The
	// batches then list single nodes in order.
	Window int `json:"window,omitempty"`
	// Migration, when set, makes the plan a cluster migration; Batches is
	// then empty and filled in by the simulation (seed, waves, recycling).
	Migration *MigrationSpec `json:"migration,omitempty"`
}

// Hooks are commands the executor runs.
type Hooks struct {
	// Reinstall is run per node with NODE_NAME in its environment.
	Reinstall []string `json:"reinstall,omitempty"`
	// Env are the plan's variables, added to every hook's environment.
	Env map[string]string `json:"env,omitempty"`
	// TimeoutSeconds bounds one run of a hook; 0 means
	// DefaultHookTimeoutSeconds.
	TimeoutSeconds int64 `json:"timeoutSeconds,omitempty"`
}

// Gates are conditions checked before each batch.
type Gates struct {
	// MaxPendingPods stops the rollout when more pods wait for a node.
	MaxPendingPods *int `json:"maxPendingPods,omitempty"`
	// MaxPDBStallSeconds stops the rollout when a drain has waited longer on
	// PodDisruptionBudgets.
	MaxPDBStallSeconds *int64 `json:"maxPDBStallSeconds,omitempty"`
	// ExpectedOSImage is the OS image a node must report after it rejoins.
	ExpectedOSImage string `json:"expectedOSImage,omitempty"`
	// Drift is how far the live cluster may have moved from the plan's
	// Baseline before a batch starts.
	Drift DriftTolerance `json:"drift,omitempty"`
	// RejoinTimeoutSeconds bounds the wait, after the reinstall hook, for
	// the node to register Ready with ExpectedOSImage; 0 means
	// DefaultRejoinTimeoutSeconds.
	RejoinTimeoutSeconds int64 `json:"rejoinTimeoutSeconds,omitempty"`
	// ReadyTimeoutSeconds bounds the wait, after a node is uncordoned, for
	// the workloads its drain displaced to be Ready again; 0 means
	// DefaultReadyTimeoutSeconds.
	ReadyTimeoutSeconds int64 `json:"readyTimeoutSeconds,omitempty"`
	// SettleSeconds is how long a gate that can clear by itself (pending
	// pods, an exhausted budget) may wait before it fails; 0 means
	// DefaultSettleSeconds.
	SettleSeconds int64 `json:"settleSeconds,omitempty"`
}

// Batch is a set of nodes replaced together.
type Batch struct {
	Index int      `json:"index"`
	Nodes []string `json:"nodes"`
	// Predicted are the simulator's figures for the batch; absent in a
	// plan nobody simulated.
	Predicted *Predicted `json:"predicted,omitempty"`
}

// Severity ranks a risk.
type Severity string

// Severities, worst first.
const (
	Critical Severity = "critical"
	High     Severity = "high"
	Medium   Severity = "medium"
	Low      Severity = "low"
)

// Rank orders severities: 0 for critical, 3 for low.
func (s Severity) Rank() int {
	switch s {
	case Critical:
		return 0
	case High:
		return 1
	case Medium:
		return 2
	}
	return 3
}

// Risk codes, stable identifiers of the contract.
const (
	RiskSinglePointOfFailure = "SinglePointOfFailure"
	RiskAllReplicasInBatch   = "AllReplicasInBatch"
	RiskNoPDB                = "NoPDB"
	RiskPDBBlocksEviction    = "PDBBlocksEviction"
	RiskUnmanagedPod         = "UnmanagedPod"
	RiskLocalStorage         = "LocalStorage"
	RiskEmptyDirData         = "EmptyDirData"
	RiskUnschedulable        = "Unschedulable"
	RiskCapacityShortfall    = "CapacityShortfall"
	RiskServiceOutage        = "ServiceOutage"
	RiskServiceDegraded      = "ServiceDegraded"
	RiskDrainStuck           = "DrainStuck"
	RiskPodMovedRepeatedly   = "PodMovedRepeatedly"
	// RiskJobFailed: a Job's evicted pods count as failures and take it
	// past its backoffLimit; the Job controller fails it.
	RiskJobFailed = "JobFailed"
	// RiskAssumedController: pods whose controller the snapshot does not
	// hold; the simulation assumed how it recreates them.
	RiskAssumedController = "AssumedController"
)

// Risk is one finding: what, how bad, on which object, in which batch.
type Risk struct {
	Code     string   `json:"code"`
	Severity Severity `json:"severity"`
	// Object is "kind/namespace/name" ("kind/name" for cluster objects).
	Object string `json:"object"`
	// Batch is the batch index the risk materialises in; absent for static
	// findings.
	Batch   *int   `json:"batch,omitempty"`
	Message string `json:"message"`
}
