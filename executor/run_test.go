package executor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"

	. "github.com/noderoll/noderoll/internal/testutil"
	"github.com/noderoll/noderoll/plan"
)

// lockedBuffer is a bytes.Buffer safe for concurrent use.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// harness is an executor on a fake API server, its writes fenced as the
// transport fences them and logged.
type harness struct {
	c   *fake.Clientset
	e   *executor
	log *writeLog
	out *lockedBuffer
}

func testPlan(batches ...[]string) *plan.Plan {
	p := &plan.Plan{TypeMeta: metav1.TypeMeta{APIVersion: plan.APIVersion, Kind: "Plan"}, Metadata: plan.Metadata{Strategy: "rolling"},
		Spec: plan.Spec{Drain: plan.DefaultDrainOptions()}}
	for i, nodes := range batches {
		p.Spec.Batches = append(p.Spec.Batches, plan.Batch{Index: i, Nodes: nodes})
	}
	return p
}

func newHarness(t *testing.T, p *plan.Plan, objs ...runtime.Object) *harness {
	t.Helper()
	c := newFakeAPI(objs...)
	out := &lockedBuffer{}
	cfg := Config{Plan: p, REST: &rest.Config{}, Namespace: "ops", Identity: "a", LeaseDuration: testLease,
		PollInterval: 20 * time.Millisecond, HookGracePeriod: 200 * time.Millisecond, Out: out}
	cfg.defaults()
	e := newExecutor(cfg, clients{client: c, drain: c, watch: c, lease: c})
	e.leaseTimeout = 300 * time.Millisecond
	h := &harness{c: c, e: e, log: &writeLog{}, out: out}
	fenceReactor(c, e.held, h.log)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("executor output:\n%s", out.String())
		}
	})
	return h
}

// onEviction answers every eviction with f (after the fence).
func (h *harness) onEviction(f func(a k8stesting.CreateAction) (bool, runtime.Object, error)) {
	h.c.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "eviction" {
			return false, nil, nil
		}
		return f(a.(k8stesting.CreateAction))
	})
	// The fence first, as on the wire.
	fenceReactor(h.c, h.e.held, h.log)
}

func (h *harness) record(t *testing.T) *Record {
	t.Helper()
	cm, err := h.c.CoreV1().ConfigMaps("ops").Get(context.Background(), ProgressName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := decodeProgress(cm)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// recordsStop reports whether the write records how a run or node
// stopped: the stopped annotation, a Failed or Stopped outcome, the
// RolloutStopped Event.
func recordsStop(a k8stesting.Action) bool {
	switch a := a.(type) {
	case k8stesting.PatchAction:
		return strings.Contains(string(a.GetPatch()), AnnotationStopped)
	case k8stesting.UpdateAction:
		if cm, ok := a.GetObject().(*corev1.ConfigMap); ok {
			r, err := decodeProgress(cm)
			return err == nil && r.Outcome != OutcomeRunning
		}
	case k8stesting.CreateAction:
		if ev, ok := a.GetObject().(*corev1.Event); ok {
			return ev.Reason == ReasonRolloutStopped
		}
	}
	return false
}

// TestNothingIsWrittenAfterTheLeaseIsLost loses the Lease in the middle of
// a drain (a budget answers 429): the executor stops at its renew
// deadline, before anyone else may take the Lease, and from then on sends
// no write at all — no progress, no stopped annotation, no Failed
// outcome, no Event; the progress in the cluster stays as the holder left
// it, for the next one to take up.
func TestNothingIsWrittenAfterTheLeaseIsLost(t *testing.T) {
	for _, tc := range []struct {
		name string
		lose func(t *testing.T, h *harness)
	}{
		{"the Lease cannot be renewed", func(_ *testing.T, h *harness) {
			h.c.PrependReactor("update", "leases", func(k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, apierrors.NewServiceUnavailable("etcd is down")
			})
		}},
		{"another executor took the Lease", func(t *testing.T, h *harness) {
			l, err := h.c.CoordinationV1().Leases("ops").Get(context.Background(), LeaseName, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			other := "b#0000"
			l.Spec.HolderIdentity = &other
			if _, err := h.c.CoordinationV1().Leases("ops").Update(context.Background(), l, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		}},
		{"another executor saved its progress", func(t *testing.T, h *harness) {
			other := &progressStore{client: h.c, namespace: "ops"}
			r, err := other.load(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			r.Executors = append(r.Executors, "b")
			if err := other.save(context.Background(), r); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, testPlan([]string{"n1"}), Node("n1").Obj(),
				Pod("web-0").OwnedBy("ReplicaSet", "web").On("n1").Running().Obj())
			evicting := make(chan struct{})
			var once sync.Once
			h.onEviction(func(k8stesting.CreateAction) (bool, runtime.Object, error) {
				once.Do(func() { close(evicting) })
				return true, nil, apierrors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 0)
			})
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			type result struct {
				rec *Record
				err error
			}
			done := make(chan result, 1)
			go func() {
				rec, err := h.e.run(ctx)
				done <- result{rec, err}
			}()
			select {
			case <-evicting:
			case r := <-done:
				t.Fatalf("the run ended before its drain: %v", r.err)
			}
			time.Sleep(5 * h.e.cfg.PollInterval) // the drain's figures are flushed meanwhile
			broken := time.Now()
			tc.lose(t, h)
			var r result
			select {
			case r = <-done:
			case <-time.After(3 * testLease):
				t.Fatal("the executor did not stop")
			}
			returned := time.Now()
			if !errors.Is(r.err, ErrLeaseLost) && !errors.Is(r.err, ErrProgressConflict) {
				t.Errorf("the run ended with %v, want ErrLeaseLost or ErrProgressConflict", r.err)
			}
			h.e.lease.mu.Lock()
			lostAt := h.e.lease.lostAt
			h.e.lease.mu.Unlock()
			if lostAt.IsZero() || lostAt.Sub(broken) >= testLease {
				t.Errorf("the executor stopped writing %v after the Lease broke, want less than its duration %v", lostAt.Sub(broken), testLease)
			}
			time.Sleep(5 * h.e.cfg.PollInterval)
			for _, w := range h.log.all() {
				switch {
				case !w.refused && w.at.After(lostAt):
					t.Errorf("%s %s sent after the Lease was lost", w.action.GetVerb(), w.action.GetResource().Resource)
				case recordsStop(w.action):
					t.Errorf("after the Lease was lost, the executor tried to record how it stopped: %s %s (refused: %v)",
						w.action.GetVerb(), w.action.GetResource().Resource, w.refused)
				case w.at.After(returned):
					t.Errorf("%s %s tried after the run returned", w.action.GetVerb(), w.action.GetResource().Resource)
				}
			}
			got := h.record(t)
			if got.Outcome != OutcomeRunning || got.Batches[0].NodeRuns[0].Phase != PhaseDraining {
				t.Errorf("the progress in the cluster: %s, node n1 %s; want it as the holder left it: Running, Draining", got.Outcome, got.Batches[0].NodeRuns[0].Phase)
			}
			if r.rec == nil || r.rec.Outcome != OutcomeFailed {
				t.Errorf("the record returned: %+v, want Failed", r.rec)
			}
		})
	}
}

// TestARunRestoresTheCordonStateOfBeforeIt: a node an admin cordoned
// before the run is replaced and left cordoned; the others are
// uncordoned; the run completes and gives the Lease up.
func TestARunRestoresTheCordonStateOfBeforeIt(t *testing.T) {
	h := newHarness(t, testPlan([]string{"n1", "n2"}), Node("n1").Cordon().Obj(), Node("n2").Obj())
	rec, err := h.e.run(t.Context())
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if rec.Outcome != OutcomeCompleted {
		t.Errorf("outcome %s", rec.Outcome)
	}
	for _, tc := range []struct {
		node        string
		cordoned    bool
		wantRecords bool
	}{
		{"n1", true, true},
		{"n2", false, false},
	} {
		n, err := h.c.CoreV1().Nodes().Get(t.Context(), tc.node, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if n.Spec.Unschedulable != tc.cordoned {
			t.Errorf("node %s: unschedulable %v, want %v (as before the run)", tc.node, n.Spec.Unschedulable, tc.cordoned)
		}
		if _, ok := n.Annotations[AnnotationRollout]; ok {
			t.Errorf("node %s keeps %s", tc.node, AnnotationRollout)
		}
		for _, nr := range rec.Batches[0].NodeRuns {
			if nr.Name == tc.node && nr.CordonedBefore != tc.wantRecords {
				t.Errorf("node %s: cordonedBefore %v in the record", tc.node, nr.CordonedBefore)
			}
		}
	}
	if holder := leaseHolderOf(t, h.c); holder != "" {
		t.Errorf("the Lease is still held by %q", holder)
	}
}

// TestTheRejoinGateWaitsForTheNodeToComeBack: a hook that returns before
// the node goes down (it is still Ready, same registration and boot) does
// not pass the rejoin gate on the node's old status.
func TestTheRejoinGateWaitsForTheNodeToComeBack(t *testing.T) {
	p := testPlan([]string{"n1"})
	p.Spec.Hooks.Reinstall = []string{"/bin/true"}
	p.Spec.Gates.RejoinTimeoutSeconds = 1
	n := Node("n1").Obj()
	n.Status.NodeInfo.BootID = "boot-1"
	h := newHarness(t, p, n)
	_, err := h.e.run(t.Context())
	var ge *GateError
	if !errors.As(err, &ge) || ge.Gate != "rejoin" || !strings.Contains(ge.Message, "not rebooted since the hook started") {
		t.Fatalf("got %v, want the rejoin gate saying the node was not rebooted", err)
	}
}

// TestRebooted: the rejoin gate's test that a node came back since the
// hook started, on what the API server reports only.
func TestRebooted(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	node := func(uid, boot string, readySince time.Time) *corev1.Node {
		n := Node("n1").Obj()
		n.UID = types.UID("uid-" + uid)
		n.Status.NodeInfo.BootID = boot
		n.Status.Conditions[0].LastTransitionTime = metav1.NewTime(readySince)
		return n
	}
	before := &NodeBoot{UID: "uid-1", BootID: "boot-1", ReadySince: &at}
	for _, tc := range []struct {
		name   string
		before *NodeBoot
		now    *corev1.Node
		want   bool
	}{
		{"the same registration, boot and Ready condition", before, node("1", "boot-1", at), false},
		{"a new registration", before, node("2", "boot-1", at), true},
		{"another boot ID", before, node("1", "boot-2", at), true},
		{"a Ready condition that changed since", before, node("1", "boot-1", at.Add(time.Minute)), true},
		{"a node absent before the hook", &NodeBoot{Absent: true}, node("1", "boot-1", at), true},
		{"a record of an executor that did not record the node", nil, node("1", "boot-1", at), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, why := rebooted(tc.before, tc.now); got != tc.want {
				t.Errorf("rebooted %v (%s), want %v", got, why, tc.want)
			}
		})
	}
}

// TestAResumedRunChecksTheRecordAgainstThePlan: a progress record with
// null entries, or other batches or nodes than the plan's, is refused
// with the path of what is wrong, never resumed (nor a panic).
func TestAResumedRunChecksTheRecordAgainstThePlan(t *testing.T) {
	p := testPlan([]string{"n1", "n2"}, []string{"n3"})
	good := func() map[string]any {
		r := newRecord(p, plan.Digest(p), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		data, _ := json.Marshal(r)
		var m map[string]any
		_ = json.Unmarshal(data, &m)
		return m
	}
	batches := func(m map[string]any) []any { return m["batches"].([]any) }
	nodeRuns := func(m map[string]any, i int) []any { return batches(m)[i].(map[string]any)["nodeRuns"].([]any) }
	for _, tc := range []struct {
		name   string
		change func(m map[string]any)
		want   string
	}{
		{"a null batch", func(m map[string]any) { batches(m)[1] = nil }, "batches[1]: null"},
		{"a null node", func(m map[string]any) { nodeRuns(m, 0)[1] = nil }, "batches[0].nodeRuns[1]: null"},
		{"null batches", func(m map[string]any) { m["batches"] = nil }, "0 batches, the plan 2"},
		{"another node", func(m map[string]any) { nodeRuns(m, 1)[0].(map[string]any)["name"] = "n9" }, `node "n9", the plan's is "n3"`},
		{"a node missing", func(m map[string]any) { b := batches(m)[0].(map[string]any); b["nodeRuns"] = nodeRuns(m, 0)[:1] }, "batches[0]: 1 nodes"},
		{"an unknown phase", func(m map[string]any) { nodeRuns(m, 0)[0].(map[string]any)["phase"] = "Exploded" }, `unknown phase "Exploded"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := good()
			tc.change(m)
			data, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: ProgressName, Namespace: "ops"},
				Data: map[string]string{ProgressKey: string(data), DigestKey: plan.Digest(p)}}
			h := newHarness(t, p, cm, Node("n1").Obj(), Node("n2").Obj(), Node("n3").Obj())
			h.e.cfg.Resume = true
			_, err = h.e.run(t.Context())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error saying %q", err, tc.want)
			}
			for _, w := range h.log.all() {
				if _, ok := w.action.(k8stesting.PatchAction); ok {
					t.Errorf("a node was patched: %v", w.action)
				}
			}
		})
	}
	t.Run("the record of the plan is resumed", func(t *testing.T) {
		data, _ := json.Marshal(good())
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: ProgressName, Namespace: "ops"},
			Data: map[string]string{ProgressKey: string(data), DigestKey: plan.Digest(p)}}
		h := newHarness(t, p, cm, Node("n1").Obj(), Node("n2").Obj(), Node("n3").Obj())
		h.e.cfg.Resume = true
		if _, err := h.e.run(t.Context()); err != nil {
			t.Errorf("run: %v", err)
		}
	})
}
