package analysis

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/noderoll/noderoll/plan"
	"github.com/noderoll/noderoll/snapshot"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ with the current output")

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

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./analysis/ -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run go test ./analysis/ -update and review the diff):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestReport_golden(t *testing.T) {
	writers := []struct {
		ext   string
		write func(io.Writer, Report) error
	}{{"table", WriteTable}, {"json", WriteJSON}, {"md", WriteMarkdown}}
	for _, input := range []string{"cluster", "clean"} {
		r := Preflight(loadTestdata(t, input+".yaml"), PreflightOptions{})
		for _, w := range writers {
			t.Run(input+"."+w.ext, func(t *testing.T) {
				var buf bytes.Buffer
				if err := w.write(&buf, r); err != nil {
					t.Fatal(err)
				}
				golden(t, "preflight-"+input+"."+w.ext+".golden", buf.Bytes())
			})
		}
	}
}

// TestReport_jsonIsTheContract reads the JSON as a consumer outside the
// project does: the field names of the contract and nothing else in a risk.
func TestReport_jsonIsTheContract(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJSON(&buf, Preflight(loadTestdata(t, "cluster.yaml"), PreflightOptions{})); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Snapshot map[string]json.RawMessage `json:"snapshot"`
		Risks    []map[string]any           `json:"risks"`
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"fingerprint", "nodes", "pods", "services", "pdbs", "workloads", "pdbCoverage", "capacity"} {
		if _, ok := got.Snapshot[key]; !ok {
			t.Errorf("snapshot lacks %q", key)
		}
	}
	if len(got.Risks) == 0 {
		t.Fatal("no risks")
	}
	for _, k := range got.Risks {
		for key := range k {
			if !slices.Contains([]string{"code", "severity", "object", "message"}, key) {
				t.Errorf("a static risk has field %q", key)
			}
		}
		for _, key := range []string{"code", "severity", "object", "message"} {
			if s, _ := k[key].(string); s == "" {
				t.Errorf("risk %v lacks %q", k, key)
			}
		}
	}
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
	var a, b bytes.Buffer
	if err := WriteJSON(&a, want); err != nil {
		t.Fatal(err)
	}
	if err := WriteJSON(&b, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Errorf("the report changes with the order of the objects:\n%s\n---\n%s", a.Bytes(), b.Bytes())
	}
}
