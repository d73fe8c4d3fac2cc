package synth

import (
	"path/filepath"
	"testing"

	"github.com/noderoll/noderoll/snapshot"
)

func TestGeneratedSnapshotValidatesAndSurvivesSaveAndLoad(t *testing.T) {
	forEachFixture(t, func(t *testing.T, fx fixture, s *snapshot.Snapshot) {
		warnings, err := s.Validate()
		if err != nil {
			t.Fatalf("Validate: %v", err)
		}
		for _, w := range warnings {
			t.Errorf("Validate warning: %v", w)
		}
		path := filepath.Join(t.TempDir(), "snap.json.gz")
		if err := s.Save(path); err != nil {
			t.Fatalf("Save: %v", err)
		}
		loaded, err := snapshot.Load(path)
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		if got, want := loaded.Fingerprint(), s.Fingerprint(); got != want {
			t.Errorf("fingerprint after Save and Load = %s, want %s", got, want)
		}
		if len(loaded.Pods) != len(s.Pods) || len(loaded.Services) != len(s.Services) {
			t.Errorf("loaded %d pods and %d services, saved %d and %d", len(loaded.Pods), len(loaded.Services), len(s.Pods), len(s.Services))
		}
	})
}
