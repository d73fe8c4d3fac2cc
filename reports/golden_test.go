package reports

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ with the current output")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./reports/ -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run go test ./reports/ -update and review the diff):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// TestFixes_markdownGolden pins the "Before / after fixes" section of the
// fix search for rolling 10% on the small profile, as `remediate -o
// markdown` writes it.
func TestFixes_markdownGolden(t *testing.T) {
	rep := fixesReport(t)
	var b bytes.Buffer
	if err := WriteRemediationMarkdown(&b, rep.Fixes); err != nil {
		t.Fatal(err)
	}
	golden(t, "fixes.md.golden", b.Bytes())
}
