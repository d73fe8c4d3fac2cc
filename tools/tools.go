//go:build tools

// Package tools records the commands the end-to-end tests run, so that
// their versions are pinned by this module's go.mod and go.sum: the
// Kubernetes control plane (built with the same replace block as the
// libraries noderoll imports) and etcd at the version Kubernetes requires.
// KWOK is not listed: its k8s.io dependencies are on another minor, so the
// Makefile installs it on its own with `go install ...@version`.
//
// `make e2e-bins` builds them into .cache/bin/; the build tag keeps this file
// out of every ordinary build.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
