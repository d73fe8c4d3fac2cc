package executor

import (
	"errors"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/noderoll/noderoll/plan"
)

// TestLease: one executor at a time; a second is told who holds the Lease;
// a Lease that lapsed or was released is taken over.
func TestLease(t *testing.T) {
	client := fake.NewClientset()
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	a := &lease{client: client, namespace: "kube-system", identity: "a", duration: 30 * time.Second, clock: clk}
	b := &lease{client: client, namespace: "kube-system", identity: "b", duration: 30 * time.Second, clock: clk}
	ctx := t.Context()
	holder := func() string {
		l, err := client.CoordinationV1().Leases("kube-system").Get(ctx, LeaseName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return ptrString(l.Spec.HolderIdentity)
	}

	if err := a.acquire(ctx, false); err != nil {
		t.Fatalf("the first executor: %v", err)
	}
	err := b.acquire(ctx, false)
	var le *LockedError
	if !errors.As(err, &le) || le.Holder != "a" || !strings.Contains(err.Error(), `held by "a"`) {
		t.Fatalf("the second executor: %v, want a LockedError naming a", err)
	}
	if err := a.acquire(ctx, false); err != nil {
		t.Errorf("the holder acquiring again: %v", err)
	}
	clk.Step(29 * time.Second)
	if err := b.acquire(ctx, false); !errors.As(err, &le) {
		t.Errorf("before the Lease lapses: %v, want a LockedError", err)
	}
	clk.Step(2 * time.Second)
	if err := b.acquire(ctx, false); err != nil || holder() != "b" {
		t.Errorf("after the Lease lapsed: %v, holder %q; want b to take it over", err, holder())
	}
	if err := a.release(ctx); err != nil || holder() != "b" {
		t.Errorf("a releasing a Lease it lost: %v, holder %q; want b to keep it", err, holder())
	}
	if err := b.release(ctx); err != nil || holder() != "" {
		t.Errorf("b releasing: %v, holder %q", err, holder())
	}
	if err := a.acquire(ctx, false); err != nil || holder() != "a" {
		t.Errorf("after the release: %v, holder %q; want a", err, holder())
	}
}

// TestProgressRoundTrips: the record saved in the ConfigMap is the one
// loaded, with the plan's digest beside it.
func TestProgressRoundTrips(t *testing.T) {
	client := fake.NewClientset()
	s := &progressStore{client: client, namespace: "ops"}
	if r, err := s.load(t.Context()); r != nil || err != nil {
		t.Fatalf("no progress yet: %v, %v", r, err)
	}
	p := &plan.Plan{Metadata: plan.Metadata{Strategy: "rolling"}, Spec: plan.Spec{Batches: []plan.Batch{{Index: 0, Nodes: []string{"n1", "n2"}}}}}
	r := newRecord(p, plan.Digest(p), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	r.Batches[0].NodeRuns[1].Phase = PhaseDraining
	for range 2 { // create, then update
		if err := s.save(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got.PlanDigest != r.PlanDigest || got.Batches[0].NodeRuns[1].Phase != PhaseDraining || got.Batches[0].done() || !got.Batches[0].started() {
		t.Errorf("loaded %+v", got.Batches[0])
	}
	cm, err := client.CoreV1().ConfigMaps("ops").Get(t.Context(), ProgressName, metav1.GetOptions{})
	if err != nil || cm.Data[DigestKey] != r.PlanDigest {
		t.Errorf("ConfigMap %v, %v", cm, err)
	}
}
