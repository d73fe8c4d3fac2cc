package reports

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/noderoll/noderoll/analysis"
	"github.com/noderoll/noderoll/snapshot"
)

// preflight analyses one of the hand-made clusters of package analysis.
func preflight(t *testing.T, name string) analysis.Report {
	t.Helper()
	path := filepath.Join("..", "analysis", "testdata", name)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Named as package analysis names it, so that the output is the same.
	s, err := snapshot.LoadBytes(filepath.Join("testdata", name), data)
	if err != nil {
		t.Fatalf("loading %s: %v", path, err)
	}
	return analysis.Preflight(s, analysis.PreflightOptions{})
}

func TestPreflight_golden(t *testing.T) {
	writers := []struct {
		ext   string
		write func(io.Writer, analysis.Report) error
	}{{"table", WritePreflightTable}, {"json", WritePreflightJSON}, {"md", WritePreflightMarkdown}}
	for _, input := range []string{"cluster", "clean"} {
		r := preflight(t, input+".yaml")
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

// TestPreflight_jsonIsTheContract reads the JSON as a consumer outside the
// project does: the field names of the contract and nothing else in a risk.
func TestPreflight_jsonIsTheContract(t *testing.T) {
	var buf bytes.Buffer
	if err := WritePreflightJSON(&buf, preflight(t, "cluster.yaml")); err != nil {
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
