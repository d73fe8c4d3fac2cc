package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSimulate_writesTheReports(t *testing.T) {
	dir := t.TempDir()
	html, md, snap := filepath.Join(dir, "report.html"), filepath.Join(dir, "report.md"), filepath.Join(dir, "small.json.gz")
	if code, _, stderr := runCLI(t, "snapshot", "generate", "--profile", "small", "-o", snap); code != 0 {
		t.Fatalf("generating: exit code %d, stderr:\n%s", code, stderr)
	}
	code, stdout, stderr := runCLI(t, "simulate", snap, "--batch-size", "25%", "--runs", "3", "--mc-seed", "9",
		"--html", html, "--markdown", md, "-o", "json")
	if code != 0 {
		t.Fatalf("exit code %d, stderr:\n%s", code, stderr)
	}
	if stderr != "" {
		t.Errorf("with -o json, stderr should stay empty (no progress, no notes), got:\n%s", stderr)
	}
	var res struct {
		Timeline []map[string]any `json:"timeline"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("stdout is not the JSON result: %v", err)
	}
	if len(res.Timeline) == 0 {
		t.Error("the JSON result has no timeline")
	}
	page, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<!DOCTYPE html>", "rolling:25%", "over 3 Monte Carlo runs, seed 9", "Preflight findings"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the HTML report lacks %q", want)
		}
	}
	if strings.Contains(strings.ToLower(string(page)), "<script src") {
		t.Error("the HTML report loads a script from outside")
	}
	text, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# Node OS replacement", "| 1 | rolling:25% |", "P50", "## Preflight findings"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("the Markdown report lacks %q", want)
		}
	}
}

func TestSimulate_refusesNegativeRuns(t *testing.T) {
	code, _, stderr := runCLI(t, "simulate", testdata+"cluster-list.yaml", "--runs", "-1")
	if code != 2 || !strings.Contains(stderr, "--runs -1") {
		t.Errorf("exit code %d, stderr %q; want 2 naming --runs", code, stderr)
	}
}
