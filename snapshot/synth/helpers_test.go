package synth

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8slabels "k8s.io/apimachinery/pkg/labels"

	"github.com/noderoll/noderoll/snapshot"
)

// fixture is a configuration the invariant tests run on.
type fixture struct {
	name string
	cfg  Config
	// tenants is the number of tenant namespaces the counts imply.
	tenants int
	// full marks the full seed profile: about a minute to generate on two
	// cores, skipped with -short.
	full bool
}

// fixtures: the small profile, a scaled-down seed profile that keeps the
// suite fast, and the full seed profile.
var fixtures = []fixture{
	{name: "small profile", cfg: Config{Profile: "small", Seed: 1}, tenants: 6},
	{name: "scaled-down seed profile", cfg: Config{Profile: "seed", Nodes: 60, Pods: 2400, Services: 600, Seed: 1}, tenants: 12},
	{name: "full seed profile", cfg: Config{Profile: "seed", Seed: 1}, tenants: 100, full: true},
}

var (
	smallFixture = fixtures[0]
	fullFixture  = fixtures[2]
)

var (
	generatedMu sync.Mutex
	generatedBy = map[string]*snapshot.Snapshot{}
)

// generated generates cfg once per test binary: the tests only read the
// snapshot.
func generated(t *testing.T, cfg Config) *snapshot.Snapshot {
	t.Helper()
	key := fmt.Sprintf("%s/%d/%d/%d/%d", cfg.Profile, cfg.Nodes, cfg.Pods, cfg.Services, cfg.Seed)
	generatedMu.Lock()
	defer generatedMu.Unlock()
	if s, ok := generatedBy[key]; ok {
		return s
	}
	start := time.Now()
	s, err := Generate(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Generate(%+v): %v", cfg, err)
	}
	t.Logf("generated %s profile (%d nodes, %d pods, %d services) in %v", cfg.Profile, len(s.Nodes), len(s.Pods), len(s.Services), time.Since(start).Round(time.Millisecond))
	generatedBy[key] = s
	return s
}

// forEachFixture runs f as a subtest on each fixture's snapshot; the full
// seed profile only without -short.
func forEachFixture(t *testing.T, f func(t *testing.T, fx fixture, s *snapshot.Snapshot)) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			if fx.full && testing.Short() {
				t.Skip("the full seed profile takes about a minute; skipped with -short")
			}
			f(t, fx, generated(t, fx.cfg))
		})
	}
}

// selects reports whether sel selects labels; an invalid selector fails
// the test.
func selects(t *testing.T, sel *metav1.LabelSelector, labels map[string]string) bool {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Fatalf("selector %v: %v", sel, err)
	}
	return s.Matches(k8slabels.Set(labels))
}

// podsByNamespace indexes the pods by namespace.
func podsByNamespace(s *snapshot.Snapshot) map[string][]*corev1.Pod {
	out := map[string][]*corev1.Pod{}
	for i := range s.Pods {
		p := &s.Pods[i]
		out[p.Namespace] = append(out[p.Namespace], p)
	}
	return out
}

// controllerOf returns the pod's controller reference, or nil.
func controllerOf(meta *metav1.ObjectMeta) *metav1.OwnerReference {
	for i := range meta.OwnerReferences {
		if r := &meta.OwnerReferences[i]; r.Controller != nil && *r.Controller {
			return r
		}
	}
	return nil
}

func isReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func isTenant(s *snapshot.Snapshot, ns string) bool {
	for _, n := range s.Namespaces {
		if n.Name == ns {
			return n.Labels[labelTenant] == "true"
		}
	}
	return false
}
