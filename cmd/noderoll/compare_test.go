package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestCompare_badSpecsAreUsageErrorsNamingSpecAndKey(t *testing.T) {
	for _, tc := range []struct {
		name, spec string
		want       []string
	}{
		{"a bad batch size", "rolling:7x", []string{`strategy "rolling:7x"`, `key "7x"`}},
		{"an unknown key", "rolling:5%,speed=3", []string{`strategy "rolling:5%,speed=3"`, `key "speed"`}},
		{"an unknown strategy", "rolling:5%,canary", []string{`strategy "canary"`, "unknown strategy"}},
		{"a seed fraction out of range", "migration:seed=1.5", []string{`strategy "migration:seed=1.5"`, `key "seed"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, "compare", testdata+"cluster.json", "--strategies", tc.spec)
			if code != 2 {
				t.Errorf("exit code %d, want 2; stderr:\n%s", code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}

func TestCompare_printsResultsAndRankingAsJSON(t *testing.T) {
	md := filepath.Join(t.TempDir(), "cmp.md")
	code, stdout, stderr := runCLI(t, "compare", smallSnapshot(t, t.TempDir()), "--strategies", "rolling:1,rolling:50%,migration:seed-nodes=1",
		"-o", "json", "--markdown", md)
	if code != 0 {
		t.Fatalf("exit code %d; stderr:\n%s", code, stderr)
	}
	var out struct {
		Results []struct {
			Strategy string `json:"strategy"`
			Summary  struct {
				PodMovesMax *int `json:"podMovesMax"`
			} `json:"summary"`
		} `json:"results"`
		Ranking []struct {
			Place    int    `json:"place"`
			Strategy string `json:"strategy"`
		} `json:"ranking"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, stdout)
	}
	// How long each run took goes to stderr, strategy by strategy.
	if !regexp.MustCompile(`rolling:1 [0-9.]+s, rolling:50% [0-9.]+s, migration:seed-nodes=1 [0-9.]+s`).MatchString(stderr) {
		t.Errorf("stderr does not give each run's wall time:\n%s", stderr)
	}
	if len(out.Results) != 3 || out.Results[2].Strategy != "migration" || out.Results[0].Summary.PodMovesMax == nil {
		t.Errorf("results %+v: want rolling, rolling, migration with their summaries", out.Results)
	}
	if len(out.Ranking) != 3 || out.Ranking[0].Place != 1 {
		t.Errorf("ranking %+v", out.Ranking)
	}
	data, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "| 1 | ") || !strings.Contains(string(data), "migration:seed-nodes=1") {
		t.Errorf("markdown lacks the ranking:\n%s", data)
	}
}

func TestSimulate_migrationFlags(t *testing.T) {
	snap := smallSnapshot(t, t.TempDir())
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"a migration with new seed machines", []string{"--seed-nodes", "1", "--data-bandwidth", "50MiB/s"}, 0, `"strategy": "migration"`},
		{"a bad bandwidth", []string{"--data-bandwidth", "fast"}, 2, "--data-bandwidth"},
		{"a bad wave grouping", []string{"--wave-by", "team"}, 2, "--wave-by"},
		{"a seed fraction of 1", []string{"--seed-fraction", "1"}, 2, "--seed-fraction"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"simulate", snap, "--strategy", "migration", "-o", "json"}, tc.args...)
			code, stdout, stderr := runCLI(t, args...)
			if code != tc.code {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, tc.code, stderr)
			}
			if !strings.Contains(stdout+stderr, tc.want) {
				t.Errorf("output lacks %q:\n%s\n%s", tc.want, stdout, stderr)
			}
		})
	}
}
