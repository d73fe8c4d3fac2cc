package snapshot

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoad_rejectsInputOverTheLimitsNamingTheFileAndTheLimit(t *testing.T) {
	withLimits(t, 1<<20, 64<<10)
	pod := "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i}]}\n"
	long := "apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\n  labels: {a: \"" + strings.Repeat("x", 70<<10) + "\"}\n"
	for _, tc := range []struct {
		name string
		data []byte
		want string // the error, or "" for none
	}{
		{"a gzip bomb stops at the limit on decompressed data",
			gzipped(t, bytes.Repeat([]byte{' '}, 2<<20)), "big.yaml: the gzip data decompresses to more than the limit of 1 MiB"},
		{"plain input over the limit is rejected before it is parsed",
			[]byte(`{"a":"` + strings.Repeat("x", 1<<20) + `"}`), "big.yaml: the input is 1048584 bytes, more than the limit of 1 MiB"},
		{"a YAML document over its limit is rejected by its position",
			[]byte(pod + "---\n" + long), "big.yaml:6: document 2: the YAML document is 71745 bytes, more than the limit of 64 KiB"},
		{"a JSON document of the same size is within the limits",
			[]byte(`{"apiVersion":"v1","kind":"Node","metadata":{"name":"n1","labels":{"a":"` + strings.Repeat("x", 70<<10) + `"}}}`), ""},
		{"gzip data within the limit loads", gzipped(t, []byte(pod)), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadBytes("big.yaml", tc.data)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want == "":
			case err == nil:
				t.Fatalf("loaded, want the error %q", tc.want)
			case !strings.HasPrefix(err.Error(), tc.want):
				t.Errorf("error %q, want it to start with %q", err, tc.want)
			case !isTooLarge(err):
				t.Errorf("error %v: want the code %s", err, IssueTooLarge)
			}
		})
	}
}

func TestLoad_rejectsAFileOverTheLimitWithoutReadingIt(t *testing.T) {
	withLimits(t, 1<<10, 1<<10)
	path := filepath.Join(t.TempDir(), "big.json")
	if err := os.WriteFile(path, bytes.Repeat([]byte{' '}, 2<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if want := path + ": the file is 2048 bytes, more than the limit of 1 KiB"; err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
	if !errors.Is(err, errTooLarge) {
		t.Errorf("error %v does not wrap errTooLarge", err)
	}
}
