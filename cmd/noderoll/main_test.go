package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/noderoll/noderoll/snapshot"
)

const testdata = "../../snapshot/testdata/"

// runCLI runs the command line and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestInspect_printsTheSummaryAsJSON(t *testing.T) {
	code, stdout, stderr := runCLI(t, "snapshot", "inspect", testdata+"cluster-list.yaml", "-o", "json")
	if code != 0 {
		t.Fatalf("exit code %d, stderr:\n%s", code, stderr)
	}
	var got struct {
		File        string         `json:"file"`
		Nodes       *int           `json:"nodes"`
		Pods        *int           `json:"pods"`
		Services    *int           `json:"services"`
		PDBs        *int           `json:"pdbs"`
		Namespaces  *int           `json:"namespaces"`
		Fingerprint string         `json:"fingerprint"`
		Workloads   map[string]int `json:"workloads"`
		Capacity    struct {
			Zones []struct {
				Name      string `json:"name"`
				Nodes     int    `json:"nodes"`
				Requested struct {
					MilliCPU int64 `json:"milliCPU"`
				} `json:"requested"`
			} `json:"zones"`
			Pools []struct {
				Name string `json:"name"`
			} `json:"pools"`
			Total struct {
				Nodes int `json:"nodes"`
			} `json:"total"`
		} `json:"capacity"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, stdout)
	}
	for name, tc := range map[string]struct {
		got  *int
		want int
	}{
		"nodes": {got.Nodes, 3}, "pods": {got.Pods, 10}, "services": {got.Services, 3},
		"pdbs": {got.PDBs, 2}, "namespaces": {got.Namespaces, 3},
	} {
		if tc.got == nil {
			t.Errorf("no numeric field %q", name)
		} else if *tc.got != tc.want {
			t.Errorf("%s = %d, want %d", name, *tc.got, tc.want)
		}
	}
	want := mustFingerprint(t, testdata+"cluster-list.yaml")
	if got.Fingerprint != want {
		t.Errorf("fingerprint %q, want %q", got.Fingerprint, want)
	}
	if got.Workloads["Deployment"] != 1 || got.Workloads["BarePod"] != 2 {
		t.Errorf("workloads %v, want 1 Deployment and 2 bare pods", got.Workloads)
	}
	if len(got.Capacity.Zones) != 2 || got.Capacity.Zones[0].Name != "zone-a" || got.Capacity.Zones[0].Requested.MilliCPU != 3200 {
		t.Errorf("zones %+v, want zone-a (3200m requested) and zone-b", got.Capacity.Zones)
	}
	if len(got.Capacity.Pools) != 2 || got.Capacity.Total.Nodes != 3 {
		t.Errorf("pools %+v, total %+v: want 2 pools and 3 nodes", got.Capacity.Pools, got.Capacity.Total)
	}
}

func mustFingerprint(t *testing.T, path string) string {
	t.Helper()
	s, err := snapshot.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return s.Fingerprint()
}

func TestInspect_printsATable(t *testing.T) {
	code, stdout, stderr := runCLI(t, "snapshot", "inspect", testdata+"cluster.json.gz")
	if code != 0 {
		t.Fatalf("exit code %d, stderr:\n%s", code, stderr)
	}
	for _, want := range []string{
		"FINGERPRINT   " + mustFingerprint(t, testdata+"cluster.json.gz"),
		"TAKEN AT      2026-01-02T03:04:05Z",
		"NODES   PODS   SERVICES   PDBS   NAMESPACES\n3       10     3          2      3\n",
		"zone-a   2       5/168 (2%)   3.2/11.6 (27%)   0.8Gi/30Gi (2%)",
		"BarePod       2",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
}

func TestRun_exitCodesAndMessages(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	for _, tc := range []struct {
		name string
		args []string
		code int
		// stderr must contain each of these.
		stderr []string
	}{
		{"a pod on a missing node is bad input naming the file, object and field",
			[]string{"snapshot", "inspect", testdata + "invalid/pod-on-missing-node.yaml"}, 2,
			[]string{`noderoll: ../../snapshot/testdata/invalid/pod-on-missing-node.yaml: Pod/shop/web-1: spec.nodeName: node "n9" does not exist`}},
		{"a malformed quantity is bad input naming the file, object and field",
			[]string{"snapshot", "inspect", "-o", "json", testdata + "invalid/bad-quantity.yaml"}, 2,
			[]string{`noderoll: ../../snapshot/testdata/invalid/bad-quantity.yaml: Pod/shop/web-1: spec.containers[1].resources.requests[cpu]: invalid quantity "1.5.3"`}},
		{"a YAML syntax error is bad input naming the file and line",
			[]string{"snapshot", "inspect", testdata + "invalid/syntax.yaml"}, 2,
			[]string{"noderoll: ../../snapshot/testdata/invalid/syntax.yaml:11: document 2: "}},
		{"a missing file is bad input naming the file",
			[]string{"snapshot", "inspect", missing}, 2,
			[]string{"noderoll: " + missing + ": no such file or directory"}},
		{"a missing owner is only a warning",
			[]string{"snapshot", "inspect", testdata + "invalid/missing-owner.yaml"}, 0,
			[]string{`noderoll: warning: ../../snapshot/testdata/invalid/missing-owner.yaml: Pod/shop/web-old-1: metadata.ownerReferences[0]: owner ReplicaSet "web-old" is not in the snapshot`}},
		{"an unknown flag is a usage error",
			[]string{"snapshot", "inspect", "--nope", testdata + "cluster.json"}, 2,
			[]string{"noderoll: unknown flag: --nope", "See 'noderoll snapshot inspect --help' for usage."}},
		{"a missing argument is a usage error",
			[]string{"snapshot", "inspect"}, 2,
			[]string{"noderoll: noderoll snapshot inspect: missing FILE"}},
		{"an extra argument is a usage error",
			[]string{"snapshot", "inspect", "a", "b"}, 2,
			[]string{`unexpected argument "b"`}},
		{"an unknown output format is a usage error",
			[]string{"snapshot", "inspect", "-o", "yaml", testdata + "cluster.json"}, 2,
			[]string{`unknown output format "yaml"`}},
		{"an unknown command is a usage error",
			[]string{"snapshots"}, 2,
			[]string{`unknown command "snapshots" for "noderoll"`}},
		{"an unknown snapshot verb is a usage error",
			[]string{"snapshot", "inspekt"}, 2,
			[]string{`unknown command "inspekt" for "noderoll snapshot"`}},
		{"generate without a profile is a usage error",
			[]string{"snapshot", "generate", "-o", "x.json.gz"}, 2,
			[]string{"--profile is required"}},
		{"generate with an unknown profile is a usage error",
			[]string{"snapshot", "generate", "--profile", "huge", "-o", "x.json.gz"}, 2,
			[]string{`unknown profile "huge"`}},
		{"generate without an output file is a usage error",
			[]string{"snapshot", "generate", "--profile", "small"}, 2,
			[]string{"-o FILE is required"}},
		{"a bad flag value is a usage error",
			[]string{"snapshot", "generate", "--profile", "small", "--nodes", "many", "-o", "x.json"}, 2,
			[]string{`invalid argument "many" for "--nodes"`}},
		{"a bad scheduler configuration is bad input naming the file",
			[]string{"simulate", testdata + "cluster.json", "--strategy", "rolling", "-o", "json", "--scheduler-config", testdata + "cluster.json"}, 2,
			[]string{"noderoll: ../../snapshot/testdata/cluster.json: "}},
		{"a missing scheduler configuration is bad input",
			[]string{"simulate", testdata + "cluster.json", "--strategy", "rolling", "-o", "json", "--scheduler-config", missing}, 2,
			[]string{"noderoll: reading scheduler configuration: open " + missing}},
		{"help is not an error",
			[]string{"snapshot", "--help"}, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tc.code, stderr)
			}
			for _, want := range tc.stderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
		})
	}
}

func TestVersion_namesTheKubernetesRelease(t *testing.T) {
	code, stdout, stderr := runCLI(t, "version")
	if code != 0 {
		t.Fatalf("exit code %d, stderr:\n%s", code, stderr)
	}
	for _, want := range []string{"noderoll:", "go:         go1.", "kubernetes: v1.37.2"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
}

func TestGenerate_savesASnapshotThatLoads(t *testing.T) {
	out := filepath.Join(t.TempDir(), "small.json.gz")
	code, _, stderr := runCLI(t, "snapshot", "generate", "--profile", "small", "--seed", "3", "-o", out)
	if code != 0 {
		t.Fatalf("exit code %d, stderr:\n%s", code, stderr)
	}
	s, err := snapshot.Load(out)
	if err != nil {
		t.Fatalf("the generated snapshot does not load: %v", err)
	}
	if !strings.Contains(stderr, "wrote "+out) || !strings.Contains(stderr, s.Fingerprint()) {
		t.Errorf("stderr does not say where it wrote and what:\n%s", stderr)
	}
}
