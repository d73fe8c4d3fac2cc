package plan_test

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	. "github.com/noderoll/noderoll/internal/testutil"
	"github.com/noderoll/noderoll/plan"
)

// kubectl drain's words (k8s.io/kubectl v0.37.2, pkg/drain/filters.go).
const (
	kubectlDaemonSetFatal      = "DaemonSet-managed Pods (use --ignore-daemonsets to ignore)"
	kubectlDaemonSetWarning    = "ignoring DaemonSet-managed Pods"
	kubectlLocalStorageFatal   = "Pods with local storage (use --delete-emptydir-data to override)"
	kubectlLocalStorageWarning = "deleting Pods with local storage"
	kubectlUnmanagedFatal      = "Pods that declare no controller (use --force to override)"
	kubectlUnmanagedWarning    = "deleting Pods that declare no controller"
)

// daemonSetNotFound is the message daemonSetFilter reports for a pod whose
// DaemonSet is gone: the NotFound error of the DaemonSet Get.
func daemonSetNotFound(name string) string {
	return apierrors.NewNotFound(schema.GroupResource{Group: "apps", Resource: "daemonsets"}, name).Error()
}

// The flag combinations of the drain tests.
var (
	allFlags = plan.DrainOptions{IgnoreDaemonSets: true, DeleteEmptyDirData: true, Force: true}
	noFlags  = plan.DrainOptions{}
)

func without(opts plan.DrainOptions, f func(*plan.DrainOptions)) plan.DrainOptions {
	f(&opts)
	return opts
}

// TestDrain follows kubectl's filters in order (skipDeletedFilter with
// --skip-wait-for-delete-timeout=0, daemonSetFilter, mirrorPodFilter,
// localStorageFilter, unreplicatedFilter), the first filter that does not
// delete deciding; Reason is the message of the deciding filter (or, for an
// evicted pod, of the last warning).
func TestDrain(t *testing.T) {
	// The DaemonSets that exist: default/fluentd only.
	exists := func(namespace, name string) bool { return namespace == "default" && name == "fluentd" }
	dsPod := func() *PodBuilder { return Pod("fluentd-x").OwnedBy("DaemonSet", "fluentd").On("n1").Running() }
	orphan := func() *PodBuilder { return Pod("ghost-x").OwnedBy("DaemonSet", "ghost").On("n1").Running() }
	rsPod := func() *PodBuilder { return Pod("web-0").OwnedBy("ReplicaSet", "web").On("n1").Running() }
	bare := func() *PodBuilder { return Pod("bare").On("n1").Running() }
	noForce := without(allFlags, func(o *plan.DrainOptions) { o.Force = false })
	noIgnoreDS := without(allFlags, func(o *plan.DrainOptions) { o.IgnoreDaemonSets = false })
	noEmptyDir := without(allFlags, func(o *plan.DrainOptions) { o.DeleteEmptyDirData = false })

	tests := []struct {
		name  string
		pod   *corev1.Pod
		opts  plan.DrainOptions
		want  plan.DrainDecision
		known knownDiscrepancy
	}{
		{
			name: "a ReplicaSet pod is evicted with no flag",
			pod:  rsPod().Obj(),
			opts: noFlags,
			want: plan.DrainDecision{Action: plan.Evict},
		},
		{
			name: "a StatefulSet pod is evicted with no flag",
			pod:  Pod("db-0").OwnedBy("StatefulSet", "db").On("n1").Running().Obj(),
			opts: noFlags,
			want: plan.DrainDecision{Action: plan.Evict},
		},
		{
			name: "a running Job pod is evicted with no flag",
			pod:  Pod("job-x").OwnedBy("Job", "batch").On("n1").Running().Obj(),
			opts: noFlags,
			want: plan.DrainDecision{Action: plan.Evict},
		},
		{
			name: "a terminating ReplicaSet pod is evicted like any other, as plans never skip deleted pods",
			pod:  terminating(rsPod().Obj()),
			opts: noFlags,
			want: plan.DrainDecision{Action: plan.Evict},
		},
		{
			name: "a DaemonSet pod is skipped with IgnoreDaemonSets",
			pod:  dsPod().Obj(),
			opts: allFlags,
			want: plan.DrainDecision{Action: plan.Skip, Reason: kubectlDaemonSetWarning},
		},
		{
			name: "a DaemonSet pod is refused without IgnoreDaemonSets, even with Force",
			pod:  dsPod().Obj(),
			opts: noIgnoreDS,
			want: plan.DrainDecision{Action: plan.Refuse, Reason: kubectlDaemonSetFatal},
		},
		{
			name: "a DaemonSet pod with emptyDir is skipped with IgnoreDaemonSets though DeleteEmptyDirData is off",
			pod:  dsPod().EmptyDir().Obj(),
			opts: noEmptyDir,
			want: plan.DrainDecision{Action: plan.Skip, Reason: kubectlDaemonSetWarning},
		},
		{
			name: "a DaemonSet pod whose DaemonSet is missing is evicted with Force, and lost",
			pod:  orphan().Obj(),
			opts: allFlags,
			want: plan.DrainDecision{Action: plan.Evict, Unmanaged: true, Reason: daemonSetNotFound("ghost")},
		},
		{
			name: "a DaemonSet pod whose DaemonSet is missing is evicted with Force alone, and lost",
			pod:  orphan().Obj(),
			opts: plan.DrainOptions{Force: true},
			want: plan.DrainDecision{Action: plan.Evict, Unmanaged: true, Reason: daemonSetNotFound("ghost")},
		},
		{
			name: "a DaemonSet pod whose DaemonSet is missing is refused without Force, even with IgnoreDaemonSets",
			pod:  orphan().Obj(),
			opts: noForce,
			want: plan.DrainDecision{Action: plan.Refuse, Reason: daemonSetNotFound("ghost")},
		},
		{
			name: "a DaemonSet pod whose DaemonSet is missing and which has emptyDir is refused without DeleteEmptyDirData, even with Force",
			pod:  orphan().EmptyDir().Obj(),
			opts: noEmptyDir,
			want: plan.DrainDecision{Action: plan.Refuse, Reason: kubectlLocalStorageFatal},
		},
		{
			name: "a DaemonSet pod whose DaemonSet exists in another namespace only is orphaned",
			pod:  Pod("fluentd-y").NS("kube-system").OwnedBy("DaemonSet", "fluentd").On("n1").Running().Obj(),
			opts: plan.DrainOptions{Force: true},
			want: plan.DrainDecision{Action: plan.Evict, Unmanaged: true, Reason: daemonSetNotFound("fluentd")},
		},
		{
			name: "a DaemonSet pod whose DaemonSet exists in another namespace only is refused without Force",
			pod:  Pod("fluentd-y").NS("kube-system").OwnedBy("DaemonSet", "fluentd").On("n1").Running().Obj(),
			opts: noForce,
			want: plan.DrainDecision{Action: plan.Refuse, Reason: daemonSetNotFound("fluentd")},
		},
		{
			name: "a pod controlled by a DaemonSet of another API version is no DaemonSet pod",
			pod:  ownedBy(Pod("old-ds").On("n1").Running().Obj(), "extensions/v1beta1", "DaemonSet", "fluentd", true),
			opts: noFlags,
			want: plan.DrainDecision{Action: plan.Evict},
		},
		{
			name: "a Succeeded DaemonSet pod is evicted without IgnoreDaemonSets",
			pod:  phase(dsPod().Obj(), corev1.PodSucceeded),
			opts: noFlags,
			want: plan.DrainDecision{Action: plan.Evict},
		},
		{
			name: "a Failed orphaned DaemonSet pod is evicted without Force",
			pod:  phase(orphan().EmptyDir().Obj(), corev1.PodFailed),
			opts: noFlags,
			want: plan.DrainDecision{Action: plan.Evict},
		},
		{
			name: "a mirror pod is skipped with no flag",
			pod:  mirror(Pod("etcd-n1").NS("kube-system").On("n1").Running().Obj(), "n1"),
			opts: noFlags,
			want: plan.DrainDecision{Action: plan.Skip, Reason: "mirror pod"},
		},
		{
			name: "a mirror pod with emptyDir and no controller is skipped with no flag",
			pod: func() *corev1.Pod {
				p := mirror(Pod("static").On("n1").EmptyDir().Running().Obj(), "n1")
				p.OwnerReferences = nil
				return p
			}(),
			opts: noFlags,
			want: plan.DrainDecision{Action: plan.Skip, Reason: "mirror pod"},
		},
		{
			name: "a Failed mirror pod is still skipped",
			pod:  phase(mirror(Pod("etcd-n1").NS("kube-system").On("n1").Obj(), "n1"), corev1.PodFailed),
			opts: noFlags,
			want: plan.DrainDecision{Action: plan.Skip, Reason: "mirror pod"},
		},
		{
			name: "an emptyDir pod is evicted with its data loss flagged under DeleteEmptyDirData",
			pod:  rsPod().EmptyDir().Obj(),
			opts: plan.DrainOptions{DeleteEmptyDirData: true},
			want: plan.DrainDecision{Action: plan.Evict, LosesEmptyDirData: true, Reason: kubectlLocalStorageWarning},
		},
		{
			name: "an emptyDir pod is refused without DeleteEmptyDirData",
			pod:  rsPod().EmptyDir().Obj(),
			opts: noEmptyDir,
			want: plan.DrainDecision{Action: plan.Refuse, Reason: kubectlLocalStorageFatal},
		},
		{
			name: "a pod with only other volume types is no emptyDir pod",
			pod:  rsPod().PVC("data").Obj(),
			opts: noFlags,
			want: plan.DrainDecision{Action: plan.Evict},
		},
		{
			name: "a bare pod is evicted and flagged unmanaged with Force",
			pod:  bare().Obj(),
			opts: plan.DrainOptions{Force: true},
			want: plan.DrainDecision{Action: plan.Evict, Unmanaged: true, Reason: kubectlUnmanagedWarning},
		},
		{
			name: "a bare pod is refused without Force",
			pod:  bare().Obj(),
			opts: noForce,
			want: plan.DrainDecision{Action: plan.Refuse, Reason: kubectlUnmanagedFatal},
		},
		{
			name: "a bare pod with emptyDir is evicted with both flags and kubectl's last warning",
			pod:  bare().EmptyDir().Obj(),
			opts: allFlags,
			want: plan.DrainDecision{Action: plan.Evict, LosesEmptyDirData: true, Unmanaged: true, Reason: kubectlUnmanagedWarning},
		},
		{
			name: "a bare pod with emptyDir is refused for its local storage first, even with Force",
			pod:  bare().EmptyDir().Obj(),
			opts: noEmptyDir,
			want: plan.DrainDecision{Action: plan.Refuse, Reason: kubectlLocalStorageFatal},
		},
		{
			name: "a pod whose only owner reference is not a controller is bare",
			pod:  ownedBy(Pod("adopted").On("n1").Running().Obj(), "apps/v1", "ReplicaSet", "web", false),
			opts: noForce,
			want: plan.DrainDecision{Action: plan.Refuse, Reason: kubectlUnmanagedFatal},
		},
		{
			name: "a Succeeded bare pod with emptyDir is evicted with no flag and nothing flagged",
			pod:  phase(bare().EmptyDir().Obj(), corev1.PodSucceeded),
			opts: noFlags,
			want: plan.DrainDecision{Action: plan.Evict},
		},
		{
			name: "a Failed bare pod is evicted with no flag and nothing flagged",
			pod:  phase(bare().Obj(), corev1.PodFailed),
			opts: noFlags,
			want: plan.DrainDecision{Action: plan.Evict},
		},
		{
			name: "a completed Job pod is evicted with no flag",
			pod:  phase(Pod("job-y").OwnedBy("Job", "batch").On("n1").Obj(), corev1.PodSucceeded),
			opts: noFlags,
			want: plan.DrainDecision{Action: plan.Evict},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := plan.Drain(tc.pod, tc.opts, exists)
			tc.known.check(t, got == tc.want, fmt.Sprintf("Drain() = %+v\n   want %+v", got, tc.want))
		})
	}
}

// TestDrainLooksUpDaemonSetsOnlyWhenKubectlDoes: daemonSetFilter Gets the
// DaemonSet of a controller reference to an apps/v1 DaemonSet, in the pod's
// namespace, unless the pod is Succeeded or Failed.
func TestDrainLooksUpDaemonSetsOnlyWhenKubectlDoes(t *testing.T) {
	tests := []struct {
		name string
		pod  *corev1.Pod
		want []string // namespace/name looked up
	}{
		{"a running DaemonSet pod's DaemonSet is looked up in the pod's namespace",
			Pod("ds-x").NS("monitoring").OwnedBy("DaemonSet", "agent").Running().Obj(), []string{"monitoring/agent"}},
		{"a pending DaemonSet pod's DaemonSet is looked up",
			phase(Pod("ds-x").OwnedBy("DaemonSet", "agent").Obj(), corev1.PodPending), []string{"default/agent"}},
		{"a Succeeded DaemonSet pod's DaemonSet is not looked up",
			phase(Pod("ds-x").OwnedBy("DaemonSet", "agent").Obj(), corev1.PodSucceeded), nil},
		{"a Failed DaemonSet pod's DaemonSet is not looked up",
			phase(Pod("ds-x").OwnedBy("DaemonSet", "agent").Obj(), corev1.PodFailed), nil},
		{"a ReplicaSet pod looks nothing up",
			Pod("web-0").OwnedBy("ReplicaSet", "web").Running().Obj(), nil},
		{"a pod with a non-controller DaemonSet owner looks nothing up",
			ownedBy(Pod("x").Running().Obj(), "apps/v1", "DaemonSet", "agent", false), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			plan.Drain(tc.pod, allFlags, func(namespace, name string) bool {
				got = append(got, namespace+"/"+name)
				return true
			})
			if len(got) != len(tc.want) || (len(got) > 0 && got[0] != tc.want[0]) {
				t.Errorf("daemonSetExists called with %v, want %v", got, tc.want)
			}
		})
	}
}

// TestGracePeriod follows kubectl drain: a non-negative --grace-period
// overrides the pod's terminationGracePeriodSeconds, -1 keeps it, and a pod
// without one has the API default of 30s.
func TestGracePeriod(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	tests := []struct {
		name     string
		pod      *corev1.Pod
		override *int64
		want     time.Duration
	}{
		{"the pod's own grace period applies with no override", Pod("a").Grace(45).Obj(), nil, 45 * time.Second},
		{"a pod without a grace period gets the API default of 30s", Pod("a").Obj(), nil, 30 * time.Second},
		{"an override of -1 keeps the pod's grace period", Pod("a").Grace(45).Obj(), i64(-1), 45 * time.Second},
		{"a positive override replaces the pod's grace period", Pod("a").Grace(45).Obj(), i64(5), 5 * time.Second},
		{"an override of 0 means immediately, as the drain library's GracePeriodSeconds 0 does", Pod("a").Grace(45).Obj(), i64(0), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := plan.GracePeriod(tc.pod, plan.DrainOptions{GracePeriodSeconds: tc.override}); got != tc.want {
				t.Errorf("GracePeriod() = %v, want %v", got, tc.want)
			}
		})
	}
}
