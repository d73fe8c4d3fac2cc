package snapshot

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzLimits are the limits while fuzzing: low enough that a gzip bomb or a
// long document the fuzzer builds hits them in a few megabytes.
var fuzzLimits = struct{ input, yamlDocument int64 }{1 << 20, 64 << 10}

// withLimits sets the loader's limits for the test and restores them after.
func withLimits(tb testing.TB, input, yamlDocument int64) {
	tb.Helper()
	old := limits
	limits.input, limits.yamlDocument = input, yamlDocument
	tb.Cleanup(func() { limits = old })
}

// gzipped compresses data.
func gzipped(tb testing.TB, data []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// FuzzLoadBytes feeds the loader arbitrary input: every input either loads
// scrubbed, saves and loads again, or comes back as an *InputError whose
// issues all name the file and say what is wrong. The seeds are every file of
// testdata/ and testdata/invalid/, gzip-compressed or not, and the inputs
// of the load tests.
func FuzzLoadBytes(f *testing.F) {
	withLimits(f, fuzzLimits.input, fuzzLimits.yamlDocument)
	for _, pattern := range []string{"testdata/*.*", "testdata/invalid/*"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
			if !bytes.HasPrefix(data, gzipMagic) {
				f.Add(gzipped(f, data))
			}
		}
	}
	for _, s := range []string{
		"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i}]}\n",
		`{"apiVersion":"v1","kind":"NodeList","items":[{"metadata":{"name":"n1"}},{"metadata":{"name":"n2"}}]}`,
		"apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata: {name: web, namespace: shop}\nspec: {minAvailable: 1}\n",
		"# head\n---\na: 1\n--- # second\nb: 2\nc: 3\n...\n---\nd: 4",
		`{"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"}}` + "\n" +
			`{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Node","metadata":{"name":"n2"}}]}`,
		"apiVersion: v1\nkind: List\nitems: []\n",
		`{"apiVersion":"noderoll.dev/v1alpha1","kind":"ClusterSnapshot","takenAt":null,"nodes":[{"metadata":{"name":"n1"}}]}`,
		"a: &a [*a, *a]\nb: *a\n",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Add(gzipped(f, bytes.Repeat([]byte{' '}, int(fuzzLimits.input)+1))) // a gzip bomb
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "fuzz.yaml"
		s, err := LoadBytes(name, data)
		if err != nil {
			checkInputError(t, name, err)
			return
		}
		var buf bytes.Buffer
		if err := s.encode(&buf, false); err != nil {
			t.Fatalf("encoding a loaded snapshot: %v", err)
		}
		// What loads is scrubbed already: Save's scrub changes nothing.
		s.Scrub()
		var again bytes.Buffer
		if err := s.encode(&again, false); err != nil {
			t.Fatalf("encoding a scrubbed snapshot: %v", err)
		}
		if !bytes.Equal(buf.Bytes(), again.Bytes()) {
			t.Fatalf("scrubbing a loaded snapshot changed it")
		}
		if _, err := LoadBytes("saved.json", buf.Bytes()); err != nil && !isTooLarge(err) {
			t.Fatalf("loading a saved snapshot: %v\n%s", err, buf.Bytes())
		}
	})
}

// checkInputError fails the test unless err is an *InputError whose issues
// all name file and carry a message.
func checkInputError(t *testing.T, file string, err error) {
	t.Helper()
	var ie *InputError
	if !errors.As(err, &ie) {
		t.Fatalf("error %v (%T), want an *InputError", err, err)
	}
	if len(ie.Issues) == 0 {
		t.Fatalf("an *InputError without issues: %v", err)
	}
	for _, i := range ie.Issues {
		if i.File != file || i.Message == "" || i.Severity != SeverityError {
			t.Errorf("issue %+v: want an error naming %s with a message", i, file)
		}
		if !strings.HasPrefix(i.String(), file+":") {
			t.Errorf("issue %q does not start with the file name", i)
		}
	}
}

// isTooLarge reports whether err is an *InputError over a limit: a saved
// snapshot may be larger than its input (Save writes every field).
func isTooLarge(err error) bool {
	var ie *InputError
	return errors.As(err, &ie) && len(ie.Issues) > 0 && ie.Issues[0].Code == IssueTooLarge
}
