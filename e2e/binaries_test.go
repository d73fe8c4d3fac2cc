package e2e

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindBinaries(t *testing.T) {
	all := []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "etcd", "kwok", "kwokctl"}
	for _, tc := range []struct {
		name        string
		present     []string
		notExec     string
		wantMissing string
	}{
		{name: "a directory with every binary gives their paths", present: all},
		{name: "an empty directory names every binary missing", wantMissing: strings.Join(all, ", ")},
		{name: "a missing binary is named", present: all[:6], wantMissing: "kwokctl missing"},
		{name: "a file that is not executable counts as missing", present: all, notExec: "etcd", wantMissing: "etcd missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, name := range tc.present {
				mode := os.FileMode(0o755)
				if name == tc.notExec {
					mode = 0o644
				}
				if err := os.WriteFile(filepath.Join(dir, name), nil, mode); err != nil {
					t.Fatal(err)
				}
			}
			b, err := FindBinaries(dir)
			if tc.wantMissing != "" {
				if !errors.Is(err, ErrMissingBinaries) || !strings.Contains(err.Error(), tc.wantMissing) {
					t.Fatalf("error %v, want ErrMissingBinaries naming %q", err, tc.wantMissing)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b.Kwokctl != filepath.Join(dir, "kwokctl") || b.Etcd != filepath.Join(dir, "etcd") {
				t.Errorf("binaries %+v", b)
			}
		})
	}
}

func TestWithoutKwokEnv(t *testing.T) {
	got := withoutKwokEnv([]string{"HOME=/root", "KWOK_RUNTIME=docker", "PATH=/bin", "KWOK_WORKDIR=/x"})
	if strings.Join(got, " ") != "HOME=/root PATH=/bin" {
		t.Errorf("got %v, want the KWOK_* variables dropped", got)
	}
}
