package executor

import (
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"

	. "github.com/noderoll/noderoll/internal/testutil"
	"github.com/noderoll/noderoll/plan"
)

// drainPods is one pod of each kind the drain filters tell apart, all on
// node n1 (the fake clientset ignores the drain's field selector).
func drainPods() []*corev1.Pod {
	mirror := Pod("kube-apiserver-n1").NS("kube-system").On("n1").Running().Obj()
	mirror.Annotations = map[string]string{corev1.MirrorPodAnnotationKey: "x"}
	done := Pod("job-x").OwnedBy("Job", "job").On("n1").EmptyDir().Obj()
	done.Status.Phase = corev1.PodSucceeded
	return []*corev1.Pod{
		Pod("web-0").OwnedBy("ReplicaSet", "web").On("n1").Running().Obj(),
		Pod("db-0").OwnedBy("StatefulSet", "db").On("n1").Running().Obj(),
		Pod("agent-n1").OwnedBy("DaemonSet", "agent").On("n1").Running().Obj(),
		Pod("ghost-n1").OwnedBy("DaemonSet", "ghost").On("n1").Running().Obj(),
		Pod("cache-0").OwnedBy("ReplicaSet", "cache").On("n1").EmptyDir().Running().Obj(),
		Pod("bare").On("n1").Running().Obj(),
		mirror,
		done,
	}
}

// TestNewDrainHelperAgreesWithPlanDrain: the helper the executor drains
// with, made from a plan's drain options by NewDrainHelper, deletes exactly
// the pods plan.Drain (the simulator's drain policy) evicts, refuses when
// plan.Drain refuses, and gives evicted pods the grace period
// plan.GracePeriod says — for every combination of the flags.
func TestNewDrainHelperAgreesWithPlanDrain(t *testing.T) {
	pods := drainPods()
	objs := []runtime.Object{&appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "default"}}}
	for _, p := range pods {
		objs = append(objs, p)
	}
	client := fake.NewClientset(objs...)
	exists := func(ns, name string) bool { return ns == "default" && name == "agent" }
	for _, force := range []bool{true, false} {
		for _, ignoreDS := range []bool{true, false} {
			for _, emptyDir := range []bool{true, false} {
				for _, grace := range []*int64{nil, new(int64(7)), new(int64(-1))} {
					opts := plan.DrainOptions{Force: force, IgnoreDaemonSets: ignoreDS, DeleteEmptyDirData: emptyDir, GracePeriodSeconds: grace, TimeoutSeconds: 60}
					h := NewDrainHelper(t.Context(), client, opts, io.Discard, io.Discard, false)
					list, errs := h.GetPodsForDeletion("n1")
					var kubectl, ours []string
					for _, p := range list.Pods() {
						kubectl = append(kubectl, p.Name)
					}
					refuses := false
					for _, p := range pods {
						switch plan.Drain(p, opts, exists).Action {
						case plan.Evict:
							ours = append(ours, p.Name)
						case plan.Refuse:
							refuses = true
						}
					}
					slices.Sort(kubectl)
					slices.Sort(ours)
					if !slices.Equal(kubectl, ours) {
						t.Errorf("%+v: the helper deletes %v, plan.Drain evicts %v", opts, kubectl, ours)
					}
					if refuses != (len(errs) > 0) {
						t.Errorf("%+v: plan.Drain refuses %v, the helper's errors: %v", opts, refuses, errs)
					}
					for _, p := range list.Pods() {
						want := plan.GracePeriod(&p, opts)
						got := time.Duration(h.GracePeriodSeconds) * time.Second
						if h.GracePeriodSeconds < 0 {
							got = plan.GracePeriod(&p, plan.DrainOptions{})
						}
						if got != want {
							t.Errorf("%+v: pod %s: helper grace %v, plan.GracePeriod %v", opts, p.Name, got, want)
						}
					}
					if h.EvictErrorRetryDelay != plan.EvictionRetryInterval || h.Timeout != time.Minute || h.DryRunStrategy != cmdutil.DryRunNone {
						t.Errorf("%+v: retry %v, timeout %v, dry run %v", opts, h.EvictErrorRetryDelay, h.Timeout, h.DryRunStrategy)
					}
				}
			}
		}
	}
	if h := NewDrainHelper(t.Context(), client, plan.DefaultDrainOptions(), io.Discard, io.Discard, true); h.DryRunStrategy != cmdutil.DryRunServer {
		t.Errorf("a dry-run helper has strategy %v, want server", h.DryRunStrategy)
	}
}

// TestEvictionCounter: answers to eviction requests are counted for the
// node the pod was registered with; a 429 followed by a success is a PDB
// stall from the first 429 to that success; other requests are ignored.
func TestEvictionCounter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := newEvictionCounter(func() time.Time { return now })
	c.register("shop", "web-0", "n1")
	c.register("shop", "web-1", "n1")
	c.register("shop", "db-0", "n2")
	for _, r := range []struct {
		path    string
		status  int
		advance time.Duration
	}{
		{"/api/v1/namespaces/shop/pods/web-0/eviction", http.StatusCreated, 0},
		{"/api/v1/namespaces/shop/pods/web-1/eviction", http.StatusTooManyRequests, 0},
		{"/api/v1/namespaces/shop/pods/web-1/eviction", http.StatusTooManyRequests, 5 * time.Second},
		{"/api/v1/namespaces/shop/pods/web-1/eviction", http.StatusCreated, 5 * time.Second},
		{"/api/v1/namespaces/shop/pods/db-0/eviction", http.StatusCreated, 0},
		{"/api/v1/namespaces/shop/pods/other/eviction", http.StatusCreated, 0},
		{"/api/v1/namespaces/shop/pods/web-0", http.StatusOK, 0},
	} {
		now = now.Add(r.advance)
		c.observe(r.path, r.status)
	}
	for _, tc := range []struct {
		node             string
		evictions, block int
		stall            time.Duration
	}{
		{"n1", 2, 2, 10 * time.Second},
		{"n2", 1, 0, 0},
		{"n3", 0, 0, 0},
	} {
		ev, bl, st := c.figures(tc.node)
		if ev != tc.evictions || bl != tc.block || st != tc.stall {
			t.Errorf("node %s: %d evictions, %d blocked, stall %v; want %d, %d, %v", tc.node, ev, bl, st, tc.evictions, tc.block, tc.stall)
		}
	}
	c.forget("n1")
	if ev, _, _ := c.figures("n1"); ev != 0 {
		t.Errorf("forgotten node still has %d evictions", ev)
	}
}
