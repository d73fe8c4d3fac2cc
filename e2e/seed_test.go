package e2e

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/noderoll/noderoll/snapshot/capture"
	"github.com/noderoll/noderoll/snapshot/materialize"
	"github.com/noderoll/noderoll/snapshot/synth"
)

// TestSeedScaleCapture measures the seed-scale round trip: it applies the
// seed profile (500 KWOK nodes, ~20,000 pods, 5,000 Services) to a cluster,
// waits until every pod is Running and Ready, captures it, and logs the
// times and the memory of each control-plane component. It is not part of
// `make test`; run it on its own:
//
//	NODEROLL_E2E_SEED=1 go test -run TestSeedScaleCapture -v -timeout 90m ./e2e/
//
// NODEROLL_E2E_SEED_NODES=N scales the profile down or up (pods and
// Services follow the nodes), to see how the times grow.
func TestSeedScaleCapture(t *testing.T) {
	if os.Getenv("NODEROLL_E2E_SEED") == "" {
		t.Skip("seed-scale measurement: set NODEROLL_E2E_SEED=1 to run it (several minutes, several GB of memory)")
	}
	nodes := 0 // the profile's 500
	if v := os.Getenv("NODEROLL_E2E_SEED_NODES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("NODEROLL_E2E_SEED_NODES=%q: want a positive number", v)
		}
		nodes = n
	}
	ctx, cancel := context.WithTimeout(context.Background(), 80*time.Minute)
	defer cancel()

	start := time.Now()
	c := NewTestCluster(t, Config{})
	up := time.Since(start)

	start = time.Now()
	snap, err := synth.Generate(ctx, synth.Config{Profile: "seed", Nodes: nodes, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	generate := time.Since(start)
	t.Logf("generated %d nodes, %d pods, %d services, %d PDBs in %v", len(snap.Nodes), len(snap.Pods), len(snap.Services),
		len(snap.PodDisruptionBudgets), generate.Round(time.Millisecond))

	var last time.Time
	progress := func(p materialize.Progress) {
		if time.Since(last) > 15*time.Second || p.Done == p.Total {
			last = time.Now()
			t.Logf("%s: %d/%d", p.Phase, p.Done, p.Total)
		}
	}
	res, err := materialize.Apply(ctx, snap, materialize.Config{REST: c.REST, Timeout: 60 * time.Minute, Progress: progress})
	if err != nil {
		t.Fatalf("applying: %v", err)
	}
	afterApply, err := c.Components()
	if err != nil {
		t.Fatal(err)
	}

	var selfBefore runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&selfBefore)
	start = time.Now()
	got, err := capture.Capture(ctx, capture.Config{REST: c.REST})
	if err != nil {
		t.Fatalf("capturing: %v", err)
	}
	captureTime := time.Since(start)
	var self runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&self)
	afterCapture, err := c.Components()
	if err != nil {
		t.Fatal(err)
	}
	runtime.KeepAlive(got)
	if len(got.Pods) < res.ExpectedPods || len(got.Nodes) != len(snap.Nodes) {
		t.Errorf("captured %d nodes and %d pods, want %d and %d", len(got.Nodes), len(got.Pods), len(snap.Nodes), res.ExpectedPods)
	}

	var b strings.Builder
	fmt.Fprintf(&b, "seed-scale round trip, %d nodes, %d pods, %d services:\n", len(snap.Nodes), res.ExpectedPods, len(snap.Services))
	fmt.Fprintf(&b, "  cluster up           %v\n", up.Round(time.Millisecond))
	fmt.Fprintf(&b, "  generate             %v\n", generate.Round(time.Millisecond))
	fmt.Fprintf(&b, "  apply: create        %v (%v objects)\n", res.CreateTime.Round(time.Millisecond), res.Created)
	fmt.Fprintf(&b, "  apply: settle        %v (%d pods Running and Ready)\n", res.SettleTime.Round(time.Millisecond), res.ReadyPods)
	fmt.Fprintf(&b, "  capture              %v (%d nodes, pods and services; it allocated %d MiB, the snapshot holds %d MiB)\n",
		captureTime.Round(time.Millisecond), len(got.Nodes)+len(got.Pods)+len(got.Services),
		(self.TotalAlloc-selfBefore.TotalAlloc)>>20, int64(self.HeapAlloc-selfBefore.HeapAlloc)>>20)
	fmt.Fprintf(&b, "  %-24s %12s %12s %12s\n", "component", "RSS settled", "RSS capture", "peak RSS")
	for i, comp := range afterCapture {
		settled := int64(0)
		if i < len(afterApply) && afterApply[i].Name == comp.Name {
			settled = afterApply[i].RSSBytes
		}
		fmt.Fprintf(&b, "  %-24s %9d MiB %9d MiB %9d MiB\n", comp.Name, settled>>20, comp.RSSBytes>>20, comp.PeakRSSBytes>>20)
	}
	t.Log(b.String())
}
