package analysis

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/noderoll/noderoll/plan"
	"github.com/noderoll/noderoll/snapshot"
)

// loadTestdata loads a snapshot from testdata/ without the file's
// modification time, so that the output is the same on every machine.
func loadTestdata(t *testing.T, name string) *snapshot.Snapshot {
	t.Helper()
	path := filepath.Join("testdata", name)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := snapshot.LoadBytes(path, data)
	if err != nil {
		t.Fatalf("loading %s: %v", path, err)
	}
	return s
}

func TestPreflight_everyStaticRiskCodeOccursInTheHandMadeCluster(t *testing.T) {
	r := Preflight(loadTestdata(t, "cluster.yaml"), PreflightOptions{})
	for _, code := range []string{
		plan.RiskSinglePointOfFailure, plan.RiskNoPDB, plan.RiskPDBBlocksEviction, plan.RiskUnmanagedPod,
		plan.RiskLocalStorage, plan.RiskEmptyDirData, plan.RiskUnschedulable, plan.RiskCapacityShortfall,
	} {
		if !slices.ContainsFunc(r.Risks, func(k plan.Risk) bool { return k.Code == code }) {
			t.Errorf("no %s risk in testdata/cluster.yaml", code)
		}
	}
	for _, obj := range []string{"Deployment/shop/web", "DaemonSet/kube-system/agent", "Pod/kube-system/etcd-n1", "PodDisruptionBudget/shop/web"} {
		if slices.ContainsFunc(r.Risks, func(k plan.Risk) bool { return k.Object == obj }) {
			t.Errorf("a risk on %s, which has none", obj)
		}
	}
}

// TestPreflight_doesNotDependOnObjectOrder reverses every list of the
// snapshot and expects the same report.
func TestPreflight_doesNotDependOnObjectOrder(t *testing.T) {
	s := loadTestdata(t, "cluster.yaml")
	want := Preflight(s, PreflightOptions{})
	slices.Reverse(s.Nodes)
	slices.Reverse(s.Pods)
	slices.Reverse(s.PodDisruptionBudgets)
	slices.Reverse(s.Deployments)
	slices.Reverse(s.ReplicaSets)
	slices.Reverse(s.StatefulSets)
	slices.Reverse(s.Services)
	slices.Reverse(s.PersistentVolumes)
	slices.Reverse(s.PersistentVolumeClaims)
	got := Preflight(s, PreflightOptions{})
	a, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Errorf("the report changes with the order of the objects:\n%s\n---\n%s", a, b)
	}
}
