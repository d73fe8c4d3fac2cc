package executor

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/noderoll/noderoll/plan"
)

func TestVerify(t *testing.T) {
	p := &plan.Plan{
		Metadata: plan.Metadata{Strategy: "rolling", Simulation: &plan.Simulation{Assumptions: map[string]float64{"podStartupSeconds": 3, "reinstallSeconds": 3, "joinSeconds": 1}}},
		Spec: plan.Spec{Batches: []plan.Batch{
			{Index: 0, Nodes: []string{"n1"}, Predicted: &plan.Predicted{Evictions: 10, EvictionsBlocked: 4, PendingPeak: 3, Unschedulable: 0, DurationSeconds: 20}},
			{Index: 1, Nodes: []string{"n2"}, Predicted: &plan.Predicted{Evictions: 10}},
		}},
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := newRecord(p, plan.Digest(p), t0)
	r.Outcome = OutcomeStopped
	b := r.Batches[0]
	b.StartedAt, b.EndedAt = stamp(t0), stamp(t0.Add(80*time.Second))
	b.Actual = plan.Predicted{Evictions: 10, EvictionsBlocked: 20, PendingPeak: 4, Unschedulable: 1, DurationSeconds: 80}
	n := b.NodeRuns[0]
	n.Drained, n.Reinstalled, n.Uncordoned, n.Done = stamp(t0.Add(10*time.Second)), stamp(t0.Add(14*time.Second)), stamp(t0.Add(16*time.Second)), stamp(t0.Add(80*time.Second))
	n.LastReady = []string{"StatefulSet/shop/db (0 of 1 Ready)"}
	n.Displaced = map[string]int{"StatefulSet/shop/db": 1, "ReplicaSet/shop/web": 2}

	v, err := Verify(p, r)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Comparisons) != 5 {
		t.Fatalf("%d comparisons, want the 5 figures of the batch that ended", len(v.Comparisons))
	}
	agrees := map[string]bool{}
	for _, c := range v.Comparisons {
		agrees[c.Figure] = c.Agrees
		if !c.Agrees && c.Why == "" {
			t.Errorf("%s disagrees without a reason", c.Figure)
		}
	}
	want := map[string]bool{FigureEvictions: true, FigureEvictionsBlocked: false, FigurePendingPeak: true, FigureUnschedulable: true, FigureDuration: false}
	for f, w := range want {
		if agrees[f] != w {
			t.Errorf("%s agrees %v, want %v", f, agrees[f], w)
		}
	}
	// (1 + 4/20 + 3/4 + 0) / 4
	if wantScore := (1 + 0.2 + 0.75 + 0) / 4; math.Abs(v.Score-wantScore) > 1e-9 {
		t.Errorf("score %v, want %v", v.Score, wantScore)
	}
	var buf bytes.Buffer
	if err := v.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"did not complete", "StatefulSet/shop/db", "podStartupSeconds=3", "evicted pods of StatefulSet/shop/db: a StatefulSet's replacement"} {
		if !strings.Contains(buf.String(), s) {
			t.Errorf("the report does not mention %q:\n%s", s, buf.String())
		}
	}
	r.PlanDigest = "other"
	if _, err := Verify(p, r); err == nil {
		t.Errorf("the record of another plan was compared")
	}
}
