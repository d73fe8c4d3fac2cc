// Package plan holds the rollout plan's vocabulary and the semantics both of
// its interpreters share — the simulator (package sim) and the executor —
// so that each is defined exactly once:
//
//   - which pods a drain evicts, skips or loses (DrainDecision, the filters
//     of kubectl drain);
//   - how a PodDisruptionBudget answers an eviction (EvictionVerdict and
//     BudgetStatus, as the eviction subresource and the disruption
//     controller compute them);
//   - the time an eviction refused with 429 waits before it is retried;
//   - what the gates before a batch check (CheckDrift against the plan's
//     Baseline, ExhaustedBudgets, the pending-pods limit, CheckPrediction
//     for a re-simulation).
//
// The plan document (kind RolloutPlan, noderoll.dev/v1alpha1) is Plan: the
// snapshot's fingerprint and baseline, the strategy and its parameters,
// the simulation's totals and time model, the drain options, hooks, gates
// and the ordered batches, each with its predicted figures. Load and
// LoadBytes read it strictly (an unknown field is an error) and Validate
// names the field of every problem; Save writes it atomically. Digest
// identifies a plan's content.
//
// Everything here is a plain function over Kubernetes objects, with no
// clock and no client.
package plan
