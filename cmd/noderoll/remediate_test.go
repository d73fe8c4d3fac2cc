package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/noderoll/noderoll/plan"
)

// TestRemediate_whatIfRoundTripsThroughCompareAndPlan: the what-if file
// remediate writes makes compare mark the run approvable, and plan records
// it with a baseline of the fixed cluster (its surge nodes, its budgets,
// the replicas it set).
func TestRemediate_whatIfRoundTripsThroughCompareAndPlan(t *testing.T) {
	dir := t.TempDir()
	snap := smallSnapshot(t, dir)
	wi := filepath.Join(dir, "what-if.yaml")
	fixes := filepath.Join(dir, "fixes.yaml")
	code, stdout, stderr := runCLI(t, "remediate", snap, "--strategy", "rolling", "--batch-size", "10%", "--what-if-out", wi, "--fixes-out", fixes)
	if code != 0 {
		t.Fatalf("remediate: exit %d: %s%s", code, stdout, stderr)
	}
	if !strings.HasPrefix(stdout, "Approve rolling:10% once the ") {
		t.Fatalf("remediate's headline: %s", stdout)
	}
	if data, err := os.ReadFile(fixes); err != nil || !strings.Contains(string(data), "kubectl scale deployment/") {
		t.Fatalf("fix list %s (%v): want kubectl scale lines", data, err)
	}
	code, out, stderr := runCLI(t, "compare", snap, "--strategies", "rolling:10%", "--what-if", wi, "-o", "json")
	if code != 0 {
		t.Fatalf("compare: exit %d: %s", code, stderr)
	}
	var c struct {
		Results []struct {
			Summary struct {
				ServicesWithOutage, OutagesAccepted, StuckNodes, LostPods int
			} `json:"summary"`
			WhatIf []string `json:"whatIf"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatal(err)
	}
	r := c.Results[0]
	if s := r.Summary; s.ServicesWithOutage != s.OutagesAccepted || s.StuckNodes != 0 || s.LostPods != 0 || len(r.WhatIf) == 0 {
		t.Fatalf("compare with the what-if file: %+v, %d overrides listed; want an approvable run", s, len(r.WhatIf))
	}
	planFile := filepath.Join(dir, "plan.yaml")
	if code, _, stderr := runCLI(t, "plan", snap, "--strategy", "rolling", "--batch-size", "10%", "--what-if", wi, "-o", planFile); code != 0 {
		t.Fatalf("plan: exit %d: %s", code, stderr)
	}
	p, err := plan.Load(planFile)
	if err != nil {
		t.Fatal(err)
	}
	content, _ := os.ReadFile(wi)
	if p.Metadata.WhatIf == nil || p.Metadata.WhatIf.Content != string(content) {
		t.Fatalf("the plan does not record the what-if file: %+v", p.Metadata.WhatIf)
	}
	b := p.Metadata.Baseline
	if len(b.Replicas) == 0 || len(b.Nodes) <= 20 {
		t.Errorf("baseline has %d nodes and %d workloads' replicas: want the surge nodes and the scaled workloads", len(b.Nodes), len(b.Replicas))
	}
	for _, batch := range p.Spec.Batches {
		for _, n := range batch.Nodes {
			if strings.HasPrefix(n, "surge-") {
				t.Errorf("batch %d replaces surge node %s", batch.Index, n)
			}
		}
	}
}

// TestWhatIf_badFieldExitsWith2NamingItsPath.
func TestWhatIf_badFieldExitsWith2NamingItsPath(t *testing.T) {
	dir := t.TempDir()
	snap := smallSnapshot(t, dir)
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("pdbs:\n- {namespace: a, name: b, maxUnavailabel: 1}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"simulate", "compare", "plan"} {
		args := []string{cmd, snap, "--what-if", bad}
		if cmd == "plan" {
			args = append(args, "-o", filepath.Join(dir, "p.yaml"))
		}
		code, _, stderr := runCLI(t, args...)
		if code != 2 || !strings.Contains(stderr, bad+": pdbs[0].maxUnavailabel: unknown field") {
			t.Errorf("%s: exit %d, stderr %q; want 2 naming the file and the field", cmd, code, stderr)
		}
	}
}
