// Package whatif reads a what-if overrides file (`--what-if FILE`) and
// applies it to a copy of a snapshot before a simulation: what the cluster
// would look like once the changes it lists are made.
//
// The overrides:
//
//	replicas:          set a Deployment's, StatefulSet's or ReplicaSet's replicas
//	                   (new replicas are placed by the real scheduler; removed
//	                   ones are the last by name)
//	pdbs:              add, replace or delete a PodDisruptionBudget
//	timings:           start-up or termination times for a selector (the
//	                   simulator's own per-workload overrides, sim.Override)
//	surge:             new nodes of a given shape, registered before the
//	                   rollout and left out of it (they already run the new OS)
//	excludeNodes:      nodes the rollout leaves alone
//	excludeNamespaces: tenants not simulated (moved or torn down beforehand);
//	                   the drift gate ignores their budgets
//	deletePods:        bare pods deleted before the rollout (the drain would
//	                   delete them anyway)
//	acceptOutage:      Services whose outage the change board accepts: they
//	                   no longer block approval (analysis.Safe)
//
// The pipeline:
//
//	Load(FILE) --> File --Apply(snapshot, config)--> Applied
//	                                                  |- Snapshot: the copy the simulator runs
//	                                                  |- Planning: what plan generators see (no excluded or surge nodes)
//	                                                  |- Config:   the simulator's config with the timings
//	                                                  |- Log:      every override applied, one line each
//	Applied.Annotate(result): the result lists the overrides, marks accepted outages, counts surge machine-hours
//	Applied.Record(plan):     the plan carries the file and a baseline of the what-if snapshot, so that
//	                          `execute`'s drift gate compares the live cluster with the cluster once fixed
//
// Bad input is a *FileError naming the file, the field path and the
// object.
package whatif
