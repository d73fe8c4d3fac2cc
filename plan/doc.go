// Package plan holds the rollout plan's vocabulary and the semantics both of
// its interpreters share — the simulator (package sim) and the executor —
// so that each is defined exactly once:
//
//   - which pods a drain evicts, skips or loses (DrainDecision, the filters
//     of kubectl drain);
//   - how a PodDisruptionBudget answers an eviction (EvictionVerdict and
//     BudgetStatus, as the eviction subresource and the disruption
//     controller compute them);
//   - the time an eviction refused with 429 waits before it is retried.
//
// Everything here is a plain function over Kubernetes objects, with no
// clock and no client.
package plan
