package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/noderoll/noderoll/executor"
	"github.com/noderoll/noderoll/plan"
)

// TestPlan_writesTheSimulatedPlanWithItsPredictions: `plan` writes a
// plan that loads, whose batches carry the figures `simulate` prints for
// the same flags, with the hook, the gates and the snapshot's baseline.
func TestPlan_writesTheSimulatedPlanWithItsPredictions(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "plan.yaml")
	args := []string{smallSnapshot(t, dir), "--strategy", "rolling", "--batch-size", "2", "--order", "name"}
	code, stdout, stderr := runCLI(t, append([]string{"plan"}, append(args, "-o", out, "--reinstall", "reinstall.sh",
		"--hook-env", "IMAGE=os-2", "--max-pending-pods", "3", "--new-os-image", "os-2")...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, stdout, stderr)
	}
	p, err := plan.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	code, simOut, stderr := runCLI(t, append([]string{"simulate"}, append(args, "-o", "json")...)...)
	if code != 0 {
		t.Fatalf("simulate: exit %d: %s", code, stderr)
	}
	for i, b := range p.Spec.Batches {
		if b.Predicted == nil {
			t.Fatalf("batch %d has no prediction", i)
		}
		if want := `"evictions": ` + strconv.Itoa(b.Predicted.Evictions); !strings.Contains(simOut, want) {
			t.Errorf("batch %d predicts %d evictions; simulate's result has no %q", i, b.Predicted.Evictions, want)
		}
	}
	if h := p.Spec.Hooks; strings.Join(h.Reinstall, " ") != "/bin/sh -c reinstall.sh" || h.Env["IMAGE"] != "os-2" {
		t.Errorf("hooks %+v", h)
	}
	if g := p.Spec.Gates; g.MaxPendingPods == nil || *g.MaxPendingPods != 3 || g.ExpectedOSImage != "os-2" {
		t.Errorf("gates %+v", g)
	}
	if b := p.Metadata.Baseline; b == nil || len(b.Nodes) != 20 || len(b.PDBs) != 40 {
		t.Errorf("baseline %+v, want the small profile's 20 nodes and 40 PDBs", b)
	}
	if s := p.Metadata.Simulation; s == nil || s.Assumptions["podStartupSeconds"] != 10 {
		t.Errorf("simulation %+v, want the default time model", s)
	}
}

// TestExecuteAndVerify_refuseBadInputWithExit2: a plan that does not load,
// a migration plan, and a record of another plan are usage errors that
// name the file and the field.
func TestExecuteAndVerify_refuseBadInputWithExit2(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "plan.yaml")
	if code, _, stderr := runCLI(t, "plan", smallSnapshot(t, dir), "--batch-size", "25%", "--grace-period", "5", "-o", good); code != 0 {
		t.Fatalf("plan: %s", stderr)
	}
	if p, err := plan.Load(good); err != nil || p.Spec.Drain.GracePeriodSeconds == nil || *p.Spec.Drain.GracePeriodSeconds != 5 {
		t.Errorf("--grace-period 5 is not in the plan's drain options (%v)", err)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	migration := write("migration.yaml", strings.Replace(string(data), "strategy: rolling", "strategy: migration", 1))
	broken := write("broken.yaml", strings.Replace(string(data), "index: 1", "index: 7", 1))
	other := &executor.Record{APIVersion: plan.APIVersion, Kind: executor.RecordKind, PlanDigest: "0123456789abcdef", StartedAt: time.Now()}
	recordFile := filepath.Join(dir, "run.json")
	if err := other.Save(recordFile); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"a migration plan cannot be executed", []string{"execute", migration, "--kubeconfig", filepath.Join(dir, "none")}, `metadata.strategy "migration"`},
		{"a plan with batches out of order is refused", []string{"execute", broken, "--dry-run"}, "broken.yaml: spec.batches[1].index"},
		{"verify needs a record", []string{"verify", good}, "--record FILE is required"},
		{"verify refuses the record of another plan", []string{"verify", good, "--record", recordFile}, "not of this plan"},
		{"plan needs an output file", []string{"plan", testdata + "cluster-list.yaml"}, "-o FILE is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tc.args...)
			if code != exitUsage || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, tc.want)
			}
		})
	}
}

// smallSnapshot generates the small profile into dir.
func smallSnapshot(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "small.json.gz")
	if code, _, stderr := runCLI(t, "snapshot", "generate", "--profile", "small", "-o", path); code != 0 {
		t.Fatalf("generating the small profile: %s", stderr)
	}
	return path
}
