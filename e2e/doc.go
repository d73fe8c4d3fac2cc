// Package e2e runs noderoll against a real Kubernetes control plane whose
// nodes and pods are simulated by KWOK, and holds the end-to-end tests.
//
// # The control plane
//
// A Cluster is etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler and the KWOK controller, started by
// `kwokctl create cluster --runtime binary` as plain processes on
// 127.0.0.1 only, with every file (certificates, etcd data, logs,
// kubeconfig) under a working directory of the caller's choosing. Nothing
// is downloaded: every binary is built from Go modules by `make e2e-bins`
// into .cache/bin/ at the module root (FindBinaries); kwokctl is given
// their paths.
//
// kwok/kwokctl.yaml also widens the Service range (10.96.0.0/16, for 5,000
// Services) and gives the KWOK controller 32 pod-stage workers instead of
// 4, which otherwise make it the bottleneck of a cluster of thousands of
// pods.
//
// KWOK makes nodes and pods behave according to its stages
// (kwok/stages.yaml, also used by `make kwok-up`): a node turns Ready at
// once and keeps its lease; a scheduled pod gets an IP after 0.2-1 s and
// turns Running and Ready 1-3 s later; a deleted pod disappears when its
// grace period ends. Those delays are the tests' time model: with them a
// replacement pod is not Ready at once, so an eviction under a
// PodDisruptionBudget is answered 429 as on a real cluster.
//
// # Tests
//
// NewTestCluster starts a cluster for a test and tears it down in
// t.Cleanup, whatever the outcome. It skips the test, saying why, when the
// binaries have not been built, so that `go test ./...` works without
// them; `make test` builds them first. (A test binary killed outright, by
// -timeout for instance, cannot clean up: its components keep running
// until they are killed.)
//
// When the full-rollout test fails it writes what explains the pods that
// are not Ready to its log (diagnoseNotReady); with
// NODEROLL_E2E_ARTIFACTS=DIR it also copies the components' logs and the
// cluster's objects to DIR before the cluster is deleted.
//
// The seed-scale measurement (500 nodes, ~20,000 pods) is not part of
// `make test`: it runs only when NODEROLL_E2E_SEED=1 is set, see
// TestSeedScaleCapture.
package e2e
