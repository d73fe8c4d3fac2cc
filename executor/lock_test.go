package executor

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"

	"github.com/noderoll/noderoll/plan"
)

// testLease is the Lease duration of the unit tests: renewed every 167
// ms, lost when not renewed for 667 ms.
const testLease = time.Second

func newTestHolder(c kubernetes.Interface, identity string) *leaseHolder {
	return newLeaseHolder(c, "ops", identity, testLease, 300*time.Millisecond, func(string, ...any) {})
}

func leaseHolderOf(t *testing.T, c kubernetes.Interface) string {
	t.Helper()
	l, err := c.CoordinationV1().Leases("ops").Get(context.Background(), LeaseName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ptrString(l.Spec.HolderIdentity)
}

// TestLease: one executor at a time; a second is told who holds the
// Lease, also when it was given the same --identity; a released Lease is
// taken at once.
func TestLease(t *testing.T) {
	c := newFakeAPI()
	ctx := t.Context()
	a := newTestHolder(c, "a")
	if err := a.acquire(ctx, false, nil); err != nil {
		t.Fatalf("the first executor: %v", err)
	}
	if err := a.held(); err != nil {
		t.Fatalf("the first executor does not hold its Lease: %v", err)
	}
	for _, id := range []string{"b", "a"} {
		err := newTestHolder(c, id).acquire(ctx, false, nil)
		var le *LockedError
		if !errors.As(err, &le) || le.Holder != "a" || !strings.Contains(err.Error(), `held by "a"`) {
			t.Fatalf("a second executor named %s: %v, want a LockedError naming a", id, err)
		}
	}
	// Three Lease durations: a renews all along.
	wctx, cancel := context.WithTimeout(ctx, 3*testLease)
	defer cancel()
	if err := newTestHolder(c, "a").acquire(wctx, true, nil); err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("an executor of the same identity waiting for a live holder: %v, want it still waiting when its context ends", err)
	}
	if got := leaseHolderOf(t, c); got != a.instance || a.held() != nil {
		t.Errorf("the Lease is held by %q (held: %v), want %q", got, a.held(), a.instance)
	}
	if err := a.release(ctx); err != nil || leaseHolderOf(t, c) != "" {
		t.Fatalf("releasing: %v, holder %q", err, leaseHolderOf(t, c))
	}
	b := newTestHolder(c, "b")
	start := time.Now()
	if err := b.acquire(ctx, false, nil); err != nil || leaseHolderOf(t, c) != b.instance {
		t.Fatalf("after the release: %v, holder %q", err, leaseHolderOf(t, c))
	}
	if d := time.Since(start); d > testLease/2 {
		t.Errorf("taking a released Lease took %v", d)
	}
	if err := a.release(ctx); err != nil || leaseHolderOf(t, c) != b.instance {
		t.Errorf("a releasing a Lease it no longer holds: %v, holder %q; want b to keep it", err, leaseHolderOf(t, c))
	}
	_ = b.release(ctx)
}

// TestLeaseExpiryIsObservedLocally: whether a holder is alive is judged
// by whether its Lease changes, as this executor observes it, never by
// comparing the holder's renewTime with the local clock — which clock
// skew makes wrong both ways.
func TestLeaseExpiryIsObservedLocally(t *testing.T) {
	for _, tc := range []struct {
		name string
		// skew is the holder's clock minus ours.
		skew     time.Duration
		renewing bool
		wantTake bool
	}{
		{"a live holder whose clock is an hour behind is not taken over", -time.Hour, true, false},
		{"a dead holder whose clock was an hour ahead is taken over one duration after it is first seen", time.Hour, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			secs := int32(testLease / time.Second)
			holder := "other#1234"
			renewed := metav1.NewMicroTime(time.Now().Add(tc.skew))
			c := newFakeAPI(&coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: LeaseName, Namespace: "ops"},
				Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &secs, RenewTime: &renewed}})
			ctx, cancel := context.WithTimeout(t.Context(), 4*testLease)
			defer cancel()
			var wg sync.WaitGroup
			stop := make(chan struct{})
			if tc.renewing {
				wg.Go(func() {
					for {
						select {
						case <-stop:
							return
						case <-time.After(testLease / 6):
						}
						l, err := c.CoordinationV1().Leases("ops").Get(ctx, LeaseName, metav1.GetOptions{})
						if err != nil || ptrString(l.Spec.HolderIdentity) != holder {
							return
						}
						now := metav1.NewMicroTime(time.Now().Add(tc.skew))
						l.Spec.RenewTime = &now
						_, _ = c.CoordinationV1().Leases("ops").Update(ctx, l, metav1.UpdateOptions{})
					}
				})
			}
			h := newTestHolder(c, "me")
			start := time.Now()
			err := h.acquire(ctx, true, nil)
			close(stop)
			wg.Wait()
			took := time.Since(start)
			switch {
			case tc.wantTake && err != nil:
				t.Fatalf("not taken over: %v", err)
			case tc.wantTake && (took < testLease || took > 3*testLease):
				t.Errorf("taken over after %v, want about one Lease duration (%v) after it was first seen", took, testLease)
			case !tc.wantTake && err == nil:
				t.Errorf("a live holder's Lease was taken over after %v", took)
			}
			_ = h.release(context.Background())
		})
	}
}

// TestLeaseIsLostWhenItCannotBeRenewed: a holder that cannot renew its
// Lease (the API server unreachable, or another executor took it) gives it
// up at the renew deadline, before anyone may take it over, and stays
// without it when renewals work again.
func TestLeaseIsLostWhenItCannotBeRenewed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		break_ func(c *fake.Clientset, fail *atomic.Bool)
	}{
		{"renewals fail", func(_ *fake.Clientset, fail *atomic.Bool) { fail.Store(true) }},
		{"another executor took the Lease", func(c *fake.Clientset, _ *atomic.Bool) {
			l, err := c.CoordinationV1().Leases("ops").Get(context.Background(), LeaseName, metav1.GetOptions{})
			if err != nil {
				panic(err)
			}
			other := "thief#0000"
			l.Spec.HolderIdentity = &other
			if _, err := c.CoordinationV1().Leases("ops").Update(context.Background(), l, metav1.UpdateOptions{}); err != nil {
				panic(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newFakeAPI()
			var fail atomic.Bool
			c.PrependReactor("update", "leases", func(k8stesting.Action) (bool, runtime.Object, error) {
				if fail.Load() {
					return true, nil, apierrors.NewServiceUnavailable("etcd is down")
				}
				return false, nil, nil
			})
			h := newTestHolder(c, "a")
			lost := make(chan error, 1)
			if err := h.acquire(t.Context(), false, func(err error) { lost <- err }); err != nil {
				t.Fatal(err)
			}
			broken := time.Now()
			tc.break_(c, &fail)
			select {
			case err := <-lost:
				if !errors.Is(err, ErrLeaseLost) {
					t.Errorf("lost with %v, want ErrLeaseLost", err)
				}
				if d := time.Since(broken); d >= testLease {
					t.Errorf("the Lease was given up %v after the last renewal could have been, not before the Lease duration %v", d, testLease)
				}
			case <-time.After(2 * testLease):
				t.Fatal("the Lease was never given up")
			}
			fail.Store(false)
			time.Sleep(testLease / 2)
			if err := h.held(); !errors.Is(err, ErrLeaseLost) {
				t.Errorf("after renewals work again, held: %v; want the Lease still lost", err)
			}
			_ = h.release(context.Background())
		})
	}
}

// TestFenceSendsNoWriteWithoutTheLease: the executor's clients send a
// request that changes the cluster only while the Lease is held; reads
// and server-side dry runs always go.
func TestFenceSendsNoWriteWithoutTheLease(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.Path)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","namespace":"ops"}}`))
	}))
	defer srv.Close()
	var heldErr atomic.Pointer[error]
	lostErr := error(ErrLeaseLost)
	heldErr.Store(&lostErr)
	rc := &rest.Config{Host: srv.URL}
	rc.Wrap(fence(func() error { return *heldErr.Load() }))
	c, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "ops"}}
	cms := c.CoreV1().ConfigMaps("ops")
	ctx := t.Context()
	for _, tc := range []struct {
		name   string
		held   bool
		call   func() error
		sent   bool
		wantIs error
	}{
		{"a create without the Lease is not sent", false, func() error { _, err := cms.Create(ctx, cm, metav1.CreateOptions{}); return err }, false, ErrLeaseLost},
		{"an update without the Lease is not sent", false, func() error { _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); return err }, false, ErrLeaseLost},
		{"a delete without the Lease is not sent", false, func() error { return cms.Delete(ctx, "x", metav1.DeleteOptions{}) }, false, ErrLeaseLost},
		{"a read without the Lease is sent", false, func() error { _, err := cms.Get(ctx, "x", metav1.GetOptions{}); return err }, true, nil},
		{"a server-side dry run without the Lease is sent", false, func() error {
			_, err := cms.Create(ctx, cm, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			return err
		}, true, nil},
		{"a create with the Lease is sent", true, func() error { _, err := cms.Create(ctx, cm, metav1.CreateOptions{}); return err }, true, nil},
		// The Eviction API takes its dry run in the body.
		{"an eviction's server-side dry run without the Lease is sent", false, func() error {
			return c.PolicyV1().Evictions("ops").Evict(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "ops"},
				DeleteOptions: &metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}}})
		}, true, nil},
		{"an eviction without the Lease is not sent", false, func() error {
			return c.PolicyV1().Evictions("ops").Evict(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "ops"}})
		}, false, ErrLeaseLost},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.held {
				var none error
				heldErr.Store(&none)
			} else {
				heldErr.Store(&lostErr)
			}
			mu.Lock()
			before := len(got)
			mu.Unlock()
			err := tc.call()
			mu.Lock()
			sent := len(got) > before
			mu.Unlock()
			if sent != tc.sent {
				t.Errorf("sent %v, want %v", sent, tc.sent)
			}
			if tc.wantIs == nil && err != nil || tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("error %v, want %v", err, tc.wantIs)
			}
		})
	}
}

// TestProgressRoundTrips: the record saved in the ConfigMap is the one
// loaded, with the plan's digest beside it.
func TestProgressRoundTrips(t *testing.T) {
	client := newFakeAPI()
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
	got, err := (&progressStore{client: client, namespace: "ops"}).load(t.Context())
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

// TestProgressConflicts: a save is based on the ConfigMap as this store
// last read or wrote it; one that finds it changed, created or deleted by
// someone else is an ErrProgressConflict — unless it holds exactly what
// this save writes (an earlier attempt of it landed and its answer was
// lost).
func TestProgressConflicts(t *testing.T) {
	p := &plan.Plan{Metadata: plan.Metadata{Strategy: "rolling"}, Spec: plan.Spec{Batches: []plan.Batch{{Index: 0, Nodes: []string{"n1"}}}}}
	rec := func(ph Phase) *Record {
		r := newRecord(p, plan.Digest(p), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		r.Batches[0].NodeRuns[0].Phase = ph
		return r
	}
	for _, tc := range []struct {
		name     string
		meddle   func(t *testing.T, c *fake.Clientset, other *progressStore)
		conflict bool
	}{
		{"nobody else wrote", func(*testing.T, *fake.Clientset, *progressStore) {}, false},
		{"another executor saved its progress", func(t *testing.T, _ *fake.Clientset, other *progressStore) {
			if err := other.save(t.Context(), rec(PhaseDone)); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"someone deleted the ConfigMap", func(t *testing.T, c *fake.Clientset, _ *progressStore) {
			if err := c.CoreV1().ConfigMaps("ops").Delete(t.Context(), ProgressName, metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"someone deleted and created it again", func(t *testing.T, c *fake.Clientset, other *progressStore) {
			if err := c.CoreV1().ConfigMaps("ops").Delete(t.Context(), ProgressName, metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			other.rv = ""
			if err := other.save(t.Context(), rec(PhasePending)); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"the same save landed already", func(t *testing.T, _ *fake.Clientset, other *progressStore) {
			if err := other.save(t.Context(), rec(PhaseDrained)); err != nil {
				t.Fatal(err)
			}
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newFakeAPI()
			mine := &progressStore{client: c, namespace: "ops"}
			if err := mine.save(t.Context(), rec(PhaseDraining)); err != nil {
				t.Fatal(err)
			}
			other := &progressStore{client: c, namespace: "ops"}
			if _, err := other.load(t.Context()); err != nil {
				t.Fatal(err)
			}
			tc.meddle(t, c, other)
			err := mine.save(t.Context(), rec(PhaseDrained))
			if got := errors.Is(err, ErrProgressConflict); got != tc.conflict {
				t.Errorf("save: %v; conflict %v, want %v", err, got, tc.conflict)
			}
		})
	}
}
