package plan_test

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/noderoll/noderoll/plan"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// goldenPlan is a plan with every part filled in.
func goldenPlan() *plan.Plan {
	return &plan.Plan{
		TypeMeta: metav1.TypeMeta{APIVersion: plan.APIVersion, Kind: plan.Kind},
		Metadata: plan.Metadata{
			SnapshotFingerprint: "c51cc178ebee0ae8",
			Strategy:            "rolling",
			Params:              map[string]string{"batchSize": "50%", "order": "name"},
			Simulation: &plan.Simulation{Seed: 1, Assumptions: map[string]float64{"podStartupSeconds": 10, "reinstallSeconds": 600},
				Summary: plan.PredictedSummary{DurationSeconds: 1340, Evictions: 5, EvictionsBlocked: 2, PDBStallSeconds: 5}},
			Baseline: &plan.Baseline{Nodes: []string{"n1", "n2", "n3", "n4"},
				PDBs: []plan.PDBDigest{{Name: "shop/web", Budget: "selector=app=web maxUnavailable=1"}}},
		},
		Spec: plan.Spec{
			Drain:       plan.DefaultDrainOptions(),
			Hooks:       plan.Hooks{Reinstall: []string{"/bin/sh", "-c", "reinstall $NODE_NAME"}, Env: map[string]string{"IMAGE": "os-2"}, TimeoutSeconds: 900},
			Gates:       plan.Gates{MaxPendingPods: new(10), ExpectedOSImage: "os-2", Drift: plan.DriftTolerance{NodesAdded: 1}, RejoinTimeoutSeconds: 1200},
			SoakSeconds: 30,
			Batches: []plan.Batch{
				{Index: 0, Nodes: []string{"n1", "n2"}, Predicted: &plan.Predicted{DurationSeconds: 670, Evictions: 3, EvictionsBlocked: 2, PDBStallSeconds: 5, PendingPeak: 1}},
				{Index: 1, Nodes: []string{"n3", "n4"}, Predicted: &plan.Predicted{DurationSeconds: 670, Evictions: 2}},
			},
		},
	}
}

// TestPlanRoundTripsThroughItsGoldenYAML: a plan saves to the golden
// document, and the document loads back to the same plan.
func TestPlanRoundTripsThroughItsGoldenYAML(t *testing.T) {
	p := goldenPlan()
	var buf bytes.Buffer
	if err := p.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "plan.yaml.golden")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if buf.String() != string(want) {
		t.Errorf("encoded plan differs from %s (run with -update):\n%s", golden, buf.String())
	}
	path := filepath.Join(t.TempDir(), "plan.yaml")
	if err := p.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := plan.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Digest(got) != plan.Digest(p) {
		t.Errorf("the loaded plan differs from the saved one")
	}
}

// TestLoadNamesTheFieldOfEachError: every problem in a plan document is
// reported with the file and the field.
func TestLoadNamesTheFieldOfEachError(t *testing.T) {
	var valid bytes.Buffer
	if err := goldenPlan().Encode(&valid); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		edit      func(string) string
		wantField []string
	}{
		{"an unknown field is refused", func(s string) string {
			return strings.Replace(s, "soakSeconds: 30", "soakSeconds: 30\n  soakMinutes: 1", 1)
		}, []string{`unknown field "spec.soakMinutes"`}},
		{"the wrong kind and version", func(s string) string {
			return strings.NewReplacer("kind: RolloutPlan", "kind: Plan", "noderoll.dev/v1alpha1", "noderoll.dev/v9").Replace(s)
		}, []string{"apiVersion: Unsupported value", "kind: Unsupported value"}},
		{"a node in two batches", func(s string) string {
			i := strings.LastIndex(s, "- n4")
			return s[:i] + "- n1" + s[i+len("- n4"):]
		}, []string{"spec.batches[1].nodes[1]: Duplicate value: \"n1 (already in batch 0)\""}},
		{"batches out of order", func(s string) string {
			return strings.Replace(s, "index: 1", "index: 3", 1)
		}, []string{"spec.batches[1].index: Invalid value: 3"}},
		{"negative figures and limits", func(s string) string {
			return strings.NewReplacer("maxPendingPods: 10", "maxPendingPods: -1", "evictions: 2\n", "evictions: -2\n", "soakSeconds: 30", "soakSeconds: -30").Replace(s)
		}, []string{"spec.batches[1].predicted.evictions", "spec.gates.maxPendingPods", "spec.soakSeconds"}},
		{"no strategy", func(s string) string {
			return strings.Replace(s, "strategy: rolling", "strategy: \"\"", 1)
		}, []string{"metadata.strategy: Required value"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := plan.LoadBytes("plan.yaml", []byte(tc.edit(valid.String())))
			var ie *plan.InvalidError
			if !errors.As(err, &ie) {
				t.Fatalf("got %v, want an *InvalidError", err)
			}
			for _, want := range tc.wantField {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %q", err, want)
				}
			}
			if !strings.HasPrefix(err.Error(), "plan.yaml: ") {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}
