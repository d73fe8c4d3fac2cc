package synth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/noderoll/noderoll/snapshot"
)

func TestGenerateProducesTheConfiguredCounts(t *testing.T) {
	forEachFixture(t, func(t *testing.T, fx fixture, s *snapshot.Snapshot) {
		p, err := resolve(fx.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(s.Nodes); got != p.nodes {
			t.Errorf("nodes = %d, want %d", got, p.nodes)
		}
		if got := len(s.Pods); got != p.pods {
			t.Errorf("pods = %d, want %d", got, p.pods)
		}
		if got := len(s.Services); got != p.services {
			t.Errorf("services = %d, want %d", got, p.services)
		}
		tenants := 0
		for _, ns := range s.Namespaces {
			if ns.Labels[labelTenant] == "true" {
				tenants++
			}
		}
		if tenants != fx.tenants {
			t.Errorf("tenant namespaces = %d, want %d", tenants, fx.tenants)
		}
		for _, want := range []string{"default", "kube-system", "kube-public", "kube-node-lease"} {
			if _, ok := s.NamespaceCounts[want]; !ok {
				t.Errorf("namespace %s missing from NamespaceCounts", want)
			}
		}
		if len(s.NamespaceCounts) != len(s.Namespaces) {
			t.Errorf("NamespaceCounts has %d namespaces, snapshot has %d", len(s.NamespaceCounts), len(s.Namespaces))
		}
	})
}

func TestResolveScalesUnsetCountsWithTheFirstGivenOne(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want params
	}{
		{"defaults give the profile's counts", Config{Profile: "seed"}, params{"seed", 500, 20000, 5000, 100}},
		{"nodes alone scale pods, services and namespaces", Config{Profile: "seed", Nodes: 100}, params{"seed", 100, 4000, 1000, 20}},
		{"pods alone scale nodes and services", Config{Profile: "small", Pods: 760}, params{"small", 40, 760, 160, 12}},
		{"services alone scale the rest", Config{Profile: "seed", Services: 2500}, params{"seed", 250, 10000, 2500, 50}},
		{"given counts are kept as they are", Config{Profile: "seed", Nodes: 60, Pods: 2400, Services: 600}, params{"seed", 60, 2400, 600, 12}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := resolve(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("resolve(%+v) = %+v, want %+v", tt.cfg, got, tt.want)
			}
		})
	}
}

func TestGenerateRejectsConfigurationsItCannotHonour(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want error
	}{
		{"an unknown profile", Config{Profile: "huge"}, ErrUnknownProfile},
		{"negative counts", Config{Profile: "small", Pods: -1}, ErrBadConfig},
		{"too few nodes for the pools and zones", Config{Profile: "small", Nodes: 5}, ErrBadConfig},
		{"more pods per node than a drain leaves room for", Config{Profile: "seed", Nodes: 100, Pods: 10000}, ErrBadConfig},
		{"too few services for the add-ons", Config{Profile: "small", Services: 10}, ErrBadConfig},
		{"too few pods left for tenants after the DaemonSets", Config{Profile: "seed", Nodes: 100, Pods: 450}, ErrBadConfig},
		{"fewer services than the StatefulSets need", Config{Profile: "seed", Nodes: 500, Services: 40}, ErrBadConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Generate(context.Background(), tt.cfg)
			if !errors.Is(err, tt.want) {
				t.Errorf("Generate(%+v) error = %v, want %v", tt.cfg, err, tt.want)
			}
		})
	}
}

func TestGenerateIsDeterministicForASeed(t *testing.T) {
	forEachFixture(t, func(t *testing.T, fx fixture, s *snapshot.Snapshot) {
		if fx.full {
			t.Skip("two more full generations; the scaled-down seed profile covers the same code")
		}
		first, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		again, err := Generate(context.Background(), fx.cfg)
		if err != nil {
			t.Fatal(err)
		}
		second, err := json.Marshal(again)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, second) {
			t.Errorf("two runs with seed %d differ (%d vs %d bytes)", fx.cfg.Seed, len(first), len(second))
		}
		other := fx.cfg
		other.Seed++
		diff, err := Generate(context.Background(), other)
		if err != nil {
			t.Fatal(err)
		}
		third, err := json.Marshal(diff)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(first, third) {
			t.Errorf("seeds %d and %d give the same snapshot", fx.cfg.Seed, other.Seed)
		}
	})
}

func TestGenerateReportsProgressUpToTheTotal(t *testing.T) {
	var calls [][2]int
	cfg := Config{Profile: "small", Seed: 7, Progress: func(done, total int) { calls = append(calls, [2]int{done, total}) }}
	s, err := Generate(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) < 2 {
		t.Fatalf("Progress called %d times, want several", len(calls))
	}
	for i, c := range calls {
		if c[1] != len(s.Pods) {
			t.Errorf("call %d: total = %d, want %d", i, c[1], len(s.Pods))
		}
		if i > 0 && c[0] < calls[i-1][0] {
			t.Errorf("call %d: done went back from %d to %d", i, calls[i-1][0], c[0])
		}
	}
	if last := calls[len(calls)-1]; last[0] != last[1] {
		t.Errorf("last call = %v, want done == total", last)
	}
}

func TestGenerateStopsWhenTheContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Generate(ctx, Config{Profile: "small", Seed: 1})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled", err)
	}
}

func TestFullSeedProfileIsTheReferenceCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("the full seed profile takes about a minute; skipped with -short")
	}
	s := generated(t, fullFixture.cfg)
	tenants := 0
	for _, ns := range s.Namespaces {
		if isTenant(s, ns.Name) {
			tenants++
		}
	}
	if len(s.Nodes) != 500 || len(s.Pods) < 20000 || len(s.Services) < 5000 || tenants < 95 || tenants > 105 {
		t.Errorf("%d nodes, %d pods, %d services, %d tenant namespaces; want 500, >= 20000, >= 5000, about 100",
			len(s.Nodes), len(s.Pods), len(s.Services), tenants)
	}
	t.Logf("%d deployments, %d replicasets, %d statefulsets, %d daemonsets, %d jobs, %d cronjobs, %d PDBs, %d PVCs, %d namespaces",
		len(s.Deployments), len(s.ReplicaSets), len(s.StatefulSets), len(s.DaemonSets), len(s.Jobs), len(s.CronJobs),
		len(s.PodDisruptionBudgets), len(s.PersistentVolumeClaims), len(s.Namespaces))
}
