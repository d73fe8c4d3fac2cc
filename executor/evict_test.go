package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"

	. "github.com/noderoll/noderoll/internal/testutil"
	"github.com/noderoll/noderoll/plan"
)

// autoClock is a fake clock that steps to the next waiter's time as soon
// as someone waits: waits of seconds take no time.
func autoClock(t *testing.T) *clocktesting.FakeClock {
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
			if clk.HasWaiters() {
				clk.Step(250 * time.Millisecond)
			}
		}
	}()
	t.Cleanup(func() { close(done) })
	return clk
}

// evictions is what the fake API server answered to evictions, per pod.
type evictions struct {
	mu   sync.Mutex
	uids map[string][]types.UID // the UID precondition of each request
}

func (ev *evictions) add(name string, uid types.UID) int {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if ev.uids == nil {
		ev.uids = map[string][]types.UID{}
	}
	ev.uids[name] = append(ev.uids[name], uid)
	return len(ev.uids[name])
}

func (ev *evictions) of(name string) []types.UID {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return append([]types.UID(nil), ev.uids[name]...)
}

// TestEvictPods: the drain's evictions, as kubectl drain's and where that
// is unsafe otherwise.
func TestEvictPods(t *testing.T) {
	type answer func(h *harness, pod *policyv1.Eviction, n int) error
	// evicted deletes the pod, as an allowed eviction does (at once: the
	// grace period is the kubelet's business).
	evicted := func(h *harness, ev *policyv1.Eviction) error {
		return h.c.Tracker().Delete(corev1.SchemeGroupVersion.WithResource("pods"), ev.Namespace, ev.Name)
	}
	for _, tc := range []struct {
		name string
		pods []string
		// answer answers the nth eviction request of a pod.
		answer  answer
		wantErr string // "" for none
		// gone and kept are the pods (by name and UID suffix) after.
		gone, kept []string
		check      func(t *testing.T, ev *evictions)
	}{
		{
			name: "a pod refused with 429 is asked again as the same pod, and a same-name replacement is never evicted",
			pods: []string{"db-0"},
			answer: func(h *harness, ev *policyv1.Eviction, n int) error {
				pods := corev1.SchemeGroupVersion.WithResource("pods")
				cur, err := h.c.Tracker().Get(pods, ev.Namespace, ev.Name)
				if err != nil {
					return err
				}
				if uid := *ev.DeleteOptions.Preconditions.UID; uid != cur.(*corev1.Pod).UID {
					return apierrors.NewConflict(pods.GroupResource(), ev.Name, fmt.Errorf("precondition failed: UID in precondition: %s, UID in object meta: %s", uid, cur.(*corev1.Pod).UID))
				}
				if n == 1 {
					// Refused; meanwhile the StatefulSet's pod goes away
					// and its replacement of the same name comes.
					if err := h.c.Tracker().Delete(pods, ev.Namespace, ev.Name); err != nil {
						return err
					}
					repl := Pod("db-0").OwnedBy("StatefulSet", "db").On("n2").Running().Obj()
					repl.UID = "uid-replacement"
					if err := h.c.Tracker().Add(repl); err != nil {
						return err
					}
					return apierrors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 0)
				}
				return evicted(h, ev)
			},
			kept: []string{"db-0"},
			check: func(t *testing.T, ev *evictions) {
				for _, uid := range ev.of("db-0") {
					if uid != "uid-pod-db-0" {
						t.Errorf("an eviction of db-0 carried UID %q, want the original pod's", uid)
					}
				}
				if n := len(ev.of("db-0")); n != 2 {
					t.Errorf("%d evictions of db-0, want 2 (429, then 409 for the replacement)", n)
				}
			},
		},
		{
			name: "a pod under two budgets fails with a clear message while the others are evicted",
			pods: []string{"a", "b", "c"},
			answer: func(h *harness, ev *policyv1.Eviction, _ int) error {
				if ev.Name == "b" {
					return apierrors.NewInternalError(errors.New("This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."))
				}
				return evicted(h, ev)
			},
			wantErr: "pod default/b: more than one PodDisruptionBudget selects it",
			gone:    []string{"a", "c"},
			kept:    []string{"b"},
			check: func(t *testing.T, ev *evictions) {
				if n := len(ev.of("b")); n != 1 {
					t.Errorf("b was asked %d times; a 500 of two budgets is not retried", n)
				}
			},
		},
		{
			name: "transient errors are retried with backoff",
			pods: []string{"a"},
			answer: func(h *harness, ev *policyv1.Eviction, n int) error {
				switch n {
				case 1:
					return apierrors.NewServiceUnavailable("the API server is restarting")
				case 2:
					return &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
				case 3:
					return apierrors.NewInternalError(errors.New("etcdserver: leader changed"))
				}
				return evicted(h, ev)
			},
			gone: []string{"a"},
			check: func(t *testing.T, ev *evictions) {
				if n := len(ev.of("a")); n != 4 {
					t.Errorf("a was asked %d times, want 4", n)
				}
			},
		},
		{
			name: "a forbidden eviction fails that pod",
			pods: []string{"a", "b"},
			answer: func(h *harness, ev *policyv1.Eviction, _ int) error {
				if ev.Name == "a" {
					return apierrors.NewForbidden(policyv1.Resource("evictions"), "a", errors.New("no"))
				}
				return evicted(h, ev)
			},
			wantErr: "evicting pod default/a",
			gone:    []string{"b"},
			kept:    []string{"a"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var objs []runtime.Object
			var pods []corev1.Pod
			for _, name := range tc.pods {
				p := Pod(name).OwnedBy("StatefulSet", "db").On("n1").Running().Obj()
				objs = append(objs, p)
				pods = append(pods, *p)
			}
			h := newHarness(t, testPlan([]string{"n1"}), objs...)
			h.e.cfg.Clock = autoClock(t)
			// Evictions pass the fence only while the Lease is held.
			h.e.lease = &leaseHolder{renewed: time.Now(), renewDeadline: time.Hour, now: time.Now}
			var ev evictions
			h.onEviction(func(a k8stesting.CreateAction) (bool, runtime.Object, error) {
				e := a.GetObject().(*policyv1.Eviction)
				n := ev.add(e.Name, *e.DeleteOptions.Preconditions.UID)
				if err := tc.answer(h, e, n); err != nil {
					return true, nil, err
				}
				return true, e, nil
			})
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			err := h.e.evictPods(ctx, "n1", pods)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("evictPods: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("evictPods: %v, want an error saying %q", err, tc.wantErr)
			}
			for _, name := range tc.gone {
				if _, err := h.c.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
					t.Errorf("pod %s is still there (%v)", name, err)
				}
			}
			for _, name := range tc.kept {
				if _, err := h.c.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{}); err != nil {
					t.Errorf("pod %s: %v, want it kept", name, err)
				}
			}
			if tc.check != nil {
				tc.check(t, &ev)
			}
		})
	}
}

// TestEvictionRetriesEndWithTheContext: a drain waiting to retry a 429
// (every 5 s) stops as soon as its context ends.
func TestEvictionRetriesEndWithTheContext(t *testing.T) {
	p := Pod("a").OwnedBy("ReplicaSet", "web").On("n1").Running().Obj()
	h := newHarness(t, testPlan([]string{"n1"}), p)
	h.e.lease = &leaseHolder{renewed: time.Now(), renewDeadline: time.Hour, now: time.Now}
	h.onEviction(func(k8stesting.CreateAction) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 0)
	})
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := h.e.evictPods(ctx, "n1", []corev1.Pod{*p})
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the drain stopped %v after its context ended", d)
	}
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "disruption budget") {
		t.Errorf("got %v, want the context's end and the last 429", err)
	}
}

// TestIsTransient: what the executor retries, and what it does not.
func TestIsTransient(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"503", apierrors.NewServiceUnavailable("x"), true},
		{"500", apierrors.NewInternalError(errors.New("etcd")), true},
		{"504", apierrors.NewTimeoutError("x", 1), true},
		{"a connection reset", &net.OpError{Op: "read", Err: syscall.ECONNRESET}, true},
		{"a connection refused (an API server restarting)", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, true},
		{"a request that timed out", context.DeadlineExceeded, true},
		{"the 500 of a pod under two budgets", apierrors.NewInternalError(errors.New("This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.")), false},
		{"403", apierrors.NewForbidden(policyv1.Resource("evictions"), "a", errors.New("no")), false},
		{"404", apierrors.NewNotFound(corev1.Resource("pods"), "a"), false},
		{"409", apierrors.NewConflict(corev1.Resource("pods"), "a", errors.New("x")), false},
		{"the Lease lost", fmt.Errorf("not sending: %w", ErrLeaseLost), false},
		{"a progress conflict", fmt.Errorf("saving: %w", ErrProgressConflict), false},
		{"the caller's context", context.Canceled, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := isTransient(tc.err); got != tc.want {
				t.Errorf("isTransient(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

// TestAnnotationPatchIsJSON: the node annotation patch is JSON whatever
// the message holds (Go's %q is not, for control characters).
func TestAnnotationPatchIsJSON(t *testing.T) {
	for _, value := range []string{"stopped in phase Draining: pod \"a\"\x01\x7f\u2028 \\ \t\n", ""} {
		patch, err := annotationPatch(AnnotationStopped, value)
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Metadata struct {
				Annotations map[string]*string `json:"annotations"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(patch, &got); err != nil {
			t.Fatalf("patch %s: %v", patch, err)
		}
		v, ok := got.Metadata.Annotations[AnnotationStopped]
		switch {
		case !ok:
			t.Errorf("patch %s lacks the annotation", patch)
		case value == "" && v != nil:
			t.Errorf("an empty value sets %q, want null (removal)", *v)
		case value != "" && (v == nil || *v != value):
			t.Errorf("the patch sets %v, want %q", v, value)
		}
	}
}

// TestProgressRecordSize: a record too large for a ConfigMap as JSON is
// stored compressed and read back the same; one too large even so is
// refused before it is sent.
func TestProgressRecordSize(t *testing.T) {
	var nodes []string
	for i := range 8000 {
		nodes = append(nodes, "node-with-a-long-name-in-a-large-pool-"+strconv.Itoa(i))
	}
	p := testPlan(nodes)
	r := newRecord(p, plan.Digest(p), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	cm, err := encodeProgress("ops", r)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cm.BinaryData[ProgressGzipKey]; !ok || cm.Data[ProgressKey] != "" {
		t.Fatalf("a %d-node record is not compressed", len(nodes))
	}
	back, err := decodeProgress(cm)
	if err != nil || len(back.Batches[0].NodeRuns) != len(nodes) || back.check(p) != nil {
		t.Errorf("read back: %v", err)
	}
	// Incompressible: random bytes in messages.
	data := make([]byte, 2<<20)
	f, err := os.Open("/dev/urandom")
	if err != nil {
		t.Skip(err)
	}
	defer func() { _ = f.Close() }()
	if _, err := f.Read(data); err != nil {
		t.Fatal(err)
	}
	r.Message = fmt.Sprintf("%x", data)
	if _, err := encodeProgress("ops", r); !errors.Is(err, ErrRecordTooLarge) {
		t.Errorf("a record of 4 MiB of random text: %v, want ErrRecordTooLarge", err)
	}
}

// TestRecordFileIsPrivate: the run record (it may carry hook variables in
// messages) is written readable by its owner only.
func TestRecordFileIsPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.json")
	p := testPlan([]string{"n1"})
	if err := newRecord(p, plan.Digest(p), time.Now()).Save(path); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if m := st.Mode().Perm(); m != 0o600 {
		t.Errorf("mode %v, want 0600", m)
	}
}
