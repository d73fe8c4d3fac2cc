// Package snapshot holds noderoll's point-in-time copy of a cluster and
// everything that reads, writes and checks it.
//
// A Snapshot comes from a live cluster (capture), from a synthetic profile
// (package synth) or from a file (Load): the native form that Save writes
// (gzip-compressed or plain JSON, apiVersion noderoll.dev/v1alpha1, kind
// ClusterSnapshot), any Kubernetes List as `kubectl get -o yaml|json`
// writes it, or multi-document YAML. Every object read from a file is
// decoded through the client-go scheme; ConfigMaps, Secrets,
// ServiceAccounts, Roles and RoleBindings are only counted, and the data of
// ConfigMaps and Secrets is never kept.
//
// Input is bounded: MaxInputBytes (2 GiB) for the file and for gzip data
// decompressed, MaxYAMLDocumentBytes (256 MiB) per YAML document; larger
// input is an IssueTooLarge naming the file and the limit.
//
// Whatever its origin, a snapshot keeps no value that may be a secret:
// LoadBytes, capture, synth and Save run Scrub, which drops managedFields
// and last-applied configurations and replaces with Redacted env values,
// command lines, probe headers, volume attributes, StorageClass parameters
// and annotations outside the Kubernetes-reserved domains (ScrubObject
// lists exactly what, and what is kept for the simulator). Save writes
// mode 0600.
//
// Problems with the input are Issues: typed values with a code, a severity,
// and the file, object (kind/namespace/name) and field they concern, e.g.
//
//	snapshot.yaml: Pod/shop/web-1: spec.nodeName: node "n9" does not exist
//
// Errors come back together as an *InputError; warnings in
// Snapshot.Warnings.
//
// Fingerprint identifies the scheduling-relevant state whatever the input
// form or object order; Summary counts objects and compares requested with
// allocatable resources per zone and node pool.
package snapshot
