package snapshot

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestSave_neverWritesSecretOrConfigMapData(t *testing.T) {
	s := mustLoad(t, clusterListYAML)
	dir := t.TempDir()
	for _, name := range []string{"s.json", "s.json.gz"} {
		path := filepath.Join(dir, name)
		if err := s.Save(path); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Ext(name) == ".gz" {
			data = gunzip(t, data)
		}
		for _, secret := range []string{secretValue, secretValueB64, configMapContent} {
			if bytes.Contains(data, []byte(secret)) {
				t.Errorf("%s contains %q", name, secret)
			}
		}
	}
}

func TestSave_writesTheNativeFormCompressedOnlyForGz(t *testing.T) {
	s := mustLoad(t, clusterListYAML)
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		gzip bool
	}{{"s.json", false}, {"s.json.gz", true}, {"s.gz", true}} {
		path := filepath.Join(dir, tc.name)
		if err := s.Save(path); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := bytes.HasPrefix(data, gzipMagic); got != tc.gzip {
			t.Errorf("%s: gzip %v, want %v", tc.name, got, tc.gzip)
		}
		if tc.gzip {
			data = gunzip(t, data)
		}
		if !bytes.Contains(data, []byte(`"apiVersion": "noderoll.dev/v1alpha1"`)) && !bytes.Contains(data, []byte(`"apiVersion":"noderoll.dev/v1alpha1"`)) {
			t.Errorf("%s: no apiVersion %s", tc.name, APIVersion)
		}
		back := mustLoad(t, path)
		if back.Fingerprint() != s.Fingerprint() {
			t.Errorf("%s: fingerprint changed on the round trip", tc.name)
		}
	}
}

func TestSave_leavesNothingBehindWhenItFails(t *testing.T) {
	s := mustLoad(t, clusterListYAML)
	for _, tc := range []struct {
		name  string
		setup func(dir string) string // returns the path to save to
	}{
		{"into a directory that does not exist", func(dir string) string {
			return filepath.Join(dir, "missing", "s.json.gz")
		}},
		{"over a directory", func(dir string) string {
			path := filepath.Join(dir, "taken.json")
			if err := os.Mkdir(path, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(path, "keep"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			return path
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := tc.setup(dir)
			before := listDir(t, dir)
			if err := s.Save(path); err == nil {
				t.Fatal("Save succeeded, want an error")
			}
			if after := listDir(t, dir); !equalStrings(before, after) {
				t.Errorf("directory changed from %v to %v", before, after)
			}
		})
	}
}

func TestSave_replacesAnExistingFileWithoutLeavingTemporaryFiles(t *testing.T) {
	s := mustLoad(t, clusterListYAML)
	dir := t.TempDir()
	path := filepath.Join(dir, "s.json")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(path); err != nil {
		t.Fatal(err)
	}
	if got := listDir(t, dir); !equalStrings(got, []string{"s.json"}) {
		t.Errorf("directory holds %v, want only s.json", got)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600: a snapshot is for its owner only", fi.Mode().Perm())
	}
	if mustLoad(t, path).Fingerprint() != s.Fingerprint() {
		t.Error("the saved snapshot differs")
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(dir, func(path string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		names = append(names, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names[1:] // without dir itself
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
