// Package materialize recreates a snapshot.Snapshot on a test or demo
// cluster whose nodes are simulated by KWOK (`noderoll snapshot apply`).
//
// Apply creates, in this order, each step waiting for the one before:
//
//  1. the nodes, as KWOK nodes (annotation kwok.x-k8s.io/node=fake, label
//     type=kwok) with their labels, taints, unschedulable flag, pod CIDRs,
//     capacity, allocatable and node info (OS image, kubelet version);
//     KWOK's controller then reports them Ready;
//  2. the namespaces (those of the snapshot and any a namespaced object is
//     in), the PriorityClasses (but the built-in system-* ones) and the
//     StorageClasses;
//  3. the PersistentVolumes and PersistentVolumeClaims, pre-bound to each
//     other by name, and the ServiceAccounts the pods run as;
//  4. the Services and PodDisruptionBudgets;
//  5. the CronJobs (suspended, so that the copy starts no new run);
//  6. the workloads: Deployments, StatefulSets, DaemonSets, ReplicaSets
//     that no Deployment owns, and Jobs (a CronJob's Job owned by the new
//     CronJob; a finished Job suspended, so that it does not run again);
//  7. the bare pods: pods whose controller is not among the objects
//     created, without their node, so that the scheduler places them.
//
// What the API server or a controller sets is cleared first:
// resourceVersion, uid, creation time, generation, status, finalizers,
// managedFields, ClusterIPs and node ports, the bind annotations of
// volumes and claims, the uid in a volume's claimRef, the pod-template
// labels and selector the API server generates for a Job, the priority
// that admission resolves from the priority class, the ServiceAccount token
// volume admission adds. ReplicaSets owned by a Deployment and the pods of
// every controller are not created: the real controllers create them and
// the real scheduler places them, so placement is the scheduler's, not the
// snapshot's.
//
// Then Apply waits until the cluster settles: every pod Running and Ready,
// and at least as many as the snapshot had running. A cluster whose nodes
// are not KWOK-managed is refused (ErrNotKWOK) unless Config.Force is set.
package materialize
