package plan

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoadBytes feeds the plan loader arbitrary documents: each either
// loads, encodes and loads again to the same plan, or comes back as an
// *InvalidError naming the file. The seeds are the golden plan and edits
// of it like those of the load tests.
func FuzzLoadBytes(f *testing.F) {
	old := maxPlanBytes
	maxPlanBytes = 1 << 20 // a long document the fuzzer builds stops here
	f.Cleanup(func() { maxPlanBytes = old })
	golden, err := os.ReadFile(filepath.Join("testdata", "plan.yaml.golden"))
	if err != nil {
		f.Fatal(err)
	}
	g := string(golden)
	for _, s := range []string{
		g,
		strings.Replace(g, "soakSeconds: 30", "soakSeconds: 30\n  soakMinutes: 1", 1),
		strings.NewReplacer("kind: RolloutPlan", "kind: Plan", "noderoll.dev/v1alpha1", "noderoll.dev/v9").Replace(g),
		strings.Replace(g, "index: 1", "index: 3", 1),
		strings.Replace(g, "maxPendingPods: 10", "maxPendingPods: -1", 1),
		strings.Replace(g, "strategy: rolling", "strategy: \"\"", 1),
		`{"apiVersion":"noderoll.dev/v1alpha1","kind":"RolloutPlan","metadata":{"strategy":"rolling"},"spec":{"batches":[{"index":0,"nodes":["n1"]}]}}`,
		"spec:\n  batches: [null]\n",
		"a: &a [*a, *a]\n",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "fuzz.yaml"
		p, err := LoadBytes(name, data)
		if err != nil {
			var ie *InvalidError
			if !errors.As(err, &ie) || ie.File != name {
				t.Fatalf("error %v (%T), want an *InvalidError naming %s", err, err, name)
			}
			if !strings.HasPrefix(err.Error(), name+": ") {
				t.Fatalf("error %q does not start with the file name", err)
			}
			return
		}
		var buf bytes.Buffer
		if err := p.Encode(&buf); err != nil {
			t.Fatalf("encoding a loaded plan: %v", err)
		}
		again, err := LoadBytes("saved.yaml", buf.Bytes())
		if err != nil {
			t.Fatalf("loading an encoded plan: %v\n%s", err, buf.Bytes())
		}
		if Digest(again) != Digest(p) {
			t.Fatalf("the plan changed through Encode and LoadBytes:\n%s", buf.Bytes())
		}
	})
}

func TestLoad_refusesAPlanOverTheLimitNamingTheFile(t *testing.T) {
	old := maxPlanBytes
	maxPlanBytes = 1 << 20
	t.Cleanup(func() { maxPlanBytes = old })
	path := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(path, bytes.Repeat([]byte("# padding\n"), 200<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		load func() error
	}{
		{"Load stops reading at the limit", func() error { _, err := Load(path); return err }},
		{"LoadBytes checks the size first", func() error {
			_, err := LoadBytes(path, bytes.Repeat([]byte{'\n'}, 1<<20+1))
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.load()
			if want := path + ": the plan is too large: more than the limit of 1 MiB"; err == nil || err.Error() != want {
				t.Errorf("error %v, want %q", err, want)
			}
			if !errors.Is(err, ErrTooLarge) {
				t.Errorf("error %v does not wrap ErrTooLarge", err)
			}
		})
	}
}

func TestSave_writesThePlanForItsOwnerOnly(t *testing.T) {
	p, err := LoadBytes("p.yaml", []byte(`{"apiVersion":"noderoll.dev/v1alpha1","kind":"RolloutPlan","metadata":{"strategy":"rolling"},"spec":{"batches":[{"index":0,"nodes":["n1"]}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "plan.yaml")
	if err := p.Save(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("mode %v, want -rw-------", got)
	}
}
