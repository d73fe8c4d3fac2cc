package main

import (
	"encoding/json"
	"strings"
	"testing"
)

const analysisTestdata = "../../analysis/testdata/"

func TestAnalyze_printsTheRisksAsJSON(t *testing.T) {
	file := analysisTestdata + "cluster.yaml"
	code, stdout, stderr := runCLI(t, "analyze", file, "-o", "json")
	if code != 0 {
		t.Fatalf("exit code %d, stderr:\n%s", code, stderr)
	}
	var got struct {
		Snapshot struct {
			Fingerprint string `json:"fingerprint"`
			Nodes       *int   `json:"nodes"`
			Pods        *int   `json:"pods"`
			Services    *int   `json:"services"`
			PDBCoverage struct {
				Percent *int `json:"percent"`
			} `json:"pdbCoverage"`
		} `json:"snapshot"`
		Risks []struct {
			Code     string `json:"code"`
			Severity string `json:"severity"`
			Object   string `json:"object"`
			Batch    *int   `json:"batch"`
			Message  string `json:"message"`
		} `json:"risks"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, stdout)
	}
	s := got.Snapshot
	if s.Fingerprint != mustFingerprint(t, file) {
		t.Errorf("fingerprint %q, want the snapshot's", s.Fingerprint)
	}
	if s.Nodes == nil || *s.Nodes != 4 || s.Pods == nil || *s.Pods != 28 || s.Services == nil || *s.Services != 7 {
		t.Errorf("snapshot numbers %+v, want 4 nodes, 28 pods, 7 services", s)
	}
	if s.PDBCoverage.Percent == nil || *s.PDBCoverage.Percent != 71 {
		t.Errorf("PDB coverage %v, want 71", s.PDBCoverage.Percent)
	}
	if len(got.Risks) == 0 || got.Risks[0].Severity != "critical" {
		t.Fatalf("want risks, worst first; got %+v", got.Risks)
	}
	want := map[string]string{ // object -> a code it must have
		"PodDisruptionBudget/shop/search": "PDBBlocksEviction",
		"Deployment/shop/checkout":        "SinglePointOfFailure",
		"Pod/shop/debug":                  "UnmanagedPod",
		"StatefulSet/data/db":             "LocalStorage",
		"NodePool/gpu":                    "CapacityShortfall",
	}
	for _, k := range got.Risks {
		if k.Batch != nil {
			t.Errorf("static risk %s on %s has a batch", k.Code, k.Object)
		}
		if k.Message == "" {
			t.Errorf("risk %s on %s has no message", k.Code, k.Object)
		}
		if want[k.Object] == k.Code {
			delete(want, k.Object)
		}
	}
	if len(want) > 0 {
		t.Errorf("missing risks %v", want)
	}
}

func TestAnalyze_failOn(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		// stdout and stderr must contain these.
		stdout, stderr string
	}{
		{"risks at or above the threshold exit 1 after the report",
			[]string{"analyze", analysisTestdata + "cluster.yaml", "--fail-on", "high"}, 1,
			"SEVERITY   CODE", "noderoll: 10 risks of severity high or worse (--fail-on high)"},
		{"critical counts only critical risks",
			[]string{"analyze", analysisTestdata + "cluster.yaml", "--fail-on", "critical", "-o", "json"}, 1,
			`"risks": [`, "noderoll: 3 risks of severity critical or worse"},
		{"a snapshot without risks passes even --fail-on low",
			[]string{"analyze", analysisTestdata + "clean.yaml", "--fail-on", "low"}, 0,
			"No risks found.", ""},
		{"without --fail-on, risks do not fail the run",
			[]string{"analyze", analysisTestdata + "cluster.yaml", "-o", "markdown"}, 0,
			"| **critical** | PDBBlocksEviction |", ""},
		{"an unknown severity is a usage error",
			[]string{"analyze", analysisTestdata + "cluster.yaml", "--fail-on", "urgent"}, 2,
			"", `--fail-on: unknown severity "urgent"`},
		{"an unknown output format is a usage error",
			[]string{"analyze", analysisTestdata + "cluster.yaml", "-o", "yaml"}, 2,
			"", `unknown output format "yaml": want table, json or markdown`},
		{"a missing file is bad input",
			[]string{"analyze", analysisTestdata + "missing.yaml"}, 2,
			"", "missing.yaml: no such file or directory"},
		{"no file is a usage error",
			[]string{"analyze"}, 2,
			"", "noderoll analyze: missing FILE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tc.code, stderr)
			}
			if !strings.Contains(stdout, tc.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tc.stdout, stdout)
			}
			if !strings.Contains(stderr, tc.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.stderr, stderr)
			}
		})
	}
}
