package snapshot

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite the testdata files derived from testdata/cluster-list.yaml")

// The small cluster of the tests, in every input form. cluster-list.yaml and
// cluster-multidoc.yaml are written by hand; the others are derived from
// cluster-list.yaml by TestDerivedTestdataIsUpToDate (go test -update).
const (
	clusterListYAML  = "testdata/cluster-list.yaml"
	clusterMultiDoc  = "testdata/cluster-multidoc.yaml"
	clusterListJSON  = "testdata/cluster-list.json"
	clusterNative    = "testdata/cluster.json"
	clusterNativeGz  = "testdata/cluster.json.gz"
	secretValue      = "s3cr3t-hunter2"       // the Secret's data, decoded
	secretValueB64   = "czNjcjN0LWh1bnRlcjI=" // the Secret's data as written
	configMapContent = "worker_processes 2;"
)

// fixedTakenAt is the TakenAt of the derived native files.
var fixedTakenAt = metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))

func mustLoad(t *testing.T, path string) *Snapshot {
	t.Helper()
	s, err := Load(path)
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	return s
}

// derivedTestdata returns the contents of the derived files, from
// cluster-list.yaml.
func derivedTestdata(t *testing.T) map[string][]byte {
	t.Helper()
	src, err := os.ReadFile(clusterListYAML)
	if err != nil {
		t.Fatal(err)
	}
	listJSON, err := yaml.YAMLToJSON(src)
	if err != nil {
		t.Fatal(err)
	}
	var indented bytes.Buffer
	if err := json.Indent(&indented, listJSON, "", "    "); err != nil {
		t.Fatal(err)
	}
	indented.WriteByte('\n')

	s := mustLoad(t, clusterListYAML)
	s.TakenAt = fixedTakenAt
	s.Source = "capture"
	s.ServerVersion = "v1.37.2"
	out := map[string][]byte{clusterListJSON: indented.Bytes()}
	dir := t.TempDir()
	for _, name := range []string{clusterNative, clusterNativeGz} {
		path := filepath.Join(dir, filepath.Base(name))
		if err := s.Save(path); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = data
	}
	return out
}

func gunzip(t *testing.T, data []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return plain
}

func TestDerivedTestdataIsUpToDate(t *testing.T) {
	for name, want := range derivedTestdata(t) {
		if *update {
			if err := os.WriteFile(name, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatalf("%v (run go test -update to create it)", err)
		}
		if filepath.Ext(name) == ".gz" { // compare the content, not the compressor's output
			got, want = gunzip(t, got), gunzip(t, want)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is out of date with %s: run go test ./snapshot/ -run TestDerivedTestdataIsUpToDate -update", name, clusterListYAML)
		}
	}
}
