// Package synth generates synthetic cluster snapshots: plausible production
// clusters, reproducible from a seed, whose every pod was placed by the real
// kube-scheduler framework (package scheduler).
//
// # Profiles
//
// "seed" is the reference cluster of the design: 500 nodes, 20,000 pods,
// 5,000 Services, 100 tenant namespaces plus the system ones (default,
// kube-system, kube-public, kube-node-lease, ingress-nginx, monitoring,
// logging). "small" has the same shape and the same variety at 20 nodes,
// 380 pods, 80 Services and 6 tenants: every kind of object and every risk
// a rollout must find appears in both. Config's Nodes, Pods and Services
// rescale a profile: unset counts follow the first one given, so
// --nodes 100 gives 4,000 pods and 1,000 Services; namespaces follow pods.
//
// # Nodes
//
// Four pools, each spread evenly over zone-a, zone-b and zone-c
// (topology.kubernetes.io/zone; region region-1), labelled
// noderoll.dev/pool and node.kubernetes.io/instance-type:
//
//	pool     share  shape          notes
//	general  50%    16 CPU  64 GiB
//	memory   20%    16 CPU 128 GiB local NVMe disks (noderoll.dev/local-ssd=true)
//	compute  20%    32 CPU  64 GiB
//	batch    10%    32 CPU 128 GiB tainted dedicated=batch:NoSchedule
//
// Nodes are Ready, run Ubuntu 22.04.4 LTS and kubelet v1.37.2 with 110
// pods, and their allocatable is capacity minus the tiered kube-reserved
// CPU and memory the managed offerings use, minus the 100Mi eviction
// threshold. Each node has a /24 pod CIDR from which its pods get their IPs.
//
// # Workloads
//
// Cluster add-ons come first, with their charts' fixed sizes: DaemonSets
// kube-proxy, the CSI node plugin and node-exporter on every node, and
// fluent-bit on every untainted one (it does not tolerate the batch taint);
// CoreDNS scaled as the cluster-proportional autoscaler does (one replica
// per 16 nodes), a single metrics-server, an ingress controller with
// required anti-affinity and zone spreading, kube-state-metrics, and
// Prometheus and Alertmanager StatefulSets on zonal volumes.
//
// The tenants share the remaining pods: about 4% in StatefulSets
// (datastores, a third of them on node-local PersistentVolumes), 4% on the
// batch pool (Jobs at low priority and long-running executors, tolerating
// and selecting it), 1% in Jobs on the general pools, a CronJob or two
// with their running Job, a few bare pods, and Deployments for the rest
// (each with its current ReplicaSet and often older ones at zero). Replicas
// are mostly 2-3, 12% single, a tail up to 30. Tenant sizes follow a
// Zipf-like law. Drawn per Deployment: required podAffinity to itself on
// the hostname (1.5%: all replicas on one node), required (8%) or
// preferred (25%) hostname anti-affinity, zone spreading DoNotSchedule
// (22%) or ScheduleAnyway (15%), hostname spreading (5%), emptyDir scratch
// space (30%), an envoy sidecar (20%), an init container (10%), QoS class
// (15% Guaranteed, 3% BestEffort), the tenant-critical priority class (5%).
// About 40% of Deployments and StatefulSets have a PodDisruptionBudget:
// minAvailable: 90% on large services, maxUnavailable: 1 on most others,
// and a few that allow no disruption at all (a single replica with
// minAvailable: 1, minAvailable equal to the replicas). Most Deployments
// have a Service, some several, every StatefulSet a headless one; 1.5% of
// the Services are selector-less ExternalName aliases, and extra Services
// on some Deployments bring the count to the target exactly.
//
// Requests are sized last: the catalogue sizes of the tenant containers
// are scaled, per node group (untainted pools, batch pool) and per
// resource, so that requests take 68% of allocatable CPU and memory, then
// rounded to the values people write. A batch of nodes taken out of a
// cluster that full runs it short, as it would in production.
//
// # Placement
//
// Everything but the pods is built first, because the scheduler's plugins
// read Services, controllers, claims and volumes. Then the pods are created
// in the order they would have appeared: DaemonSet pods first, then by
// priority, highest first, within a priority in a seeded shuffle of the
// workloads so that tenants interleave, the pods of a workload in ordinal
// order. Each pod is placed with scheduler.Place; a pod that fits nowhere
// is an error (ErrUnplaceable), never silently dropped. A StatefulSet pod
// whose claim waits for a local volume cannot pass VolumeBinding (the class
// has no provisioner and no volume exists yet), so it is placed without
// the claim; the volume is then created on the chosen node, pinned to it by
// required node affinity on its hostname, and bound to the claim both ways,
// as the local static provisioner and the PV controller would have done.
//
// # Determinism and fidelity
//
// All randomness comes from one math/rand/v2 PCG seeded with Config.Seed,
// consumed in a fixed order; names, UIDs (UUID-shaped), hashes and IDs are
// derived from the seed and the object's kind, namespace and name;
// timestamps count from 2026-01-01, the snapshot being taken 90 days later.
// The same Config gives a byte-identical snapshot.
//
// Objects look as read from the API server: defaults filled in, what
// admission adds (the ServiceAccount token volume, the 300-second
// not-ready/unreachable tolerations, the resolved priority), what the
// controllers add (pod-template-hash, controller-revision-hash, pod-name and
// job labels, the DaemonSet pod's matchFields node affinity and
// tolerations), and statuses as the kubelet and the controllers report them
// with every pod Running and Ready, PDB status as the disruption controller
// computes it. Left out: managedFields, events, ControllerRevisions,
// EndpointSlices, node images and container environment values (a capture
// never stores them either).
package synth
