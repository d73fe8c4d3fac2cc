package executor

import (
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	. "github.com/noderoll/noderoll/internal/testutil"
)

// TestShortWorkloads: the workloads-ready gate's message names each
// workload short of Ready pods, and says of each of its other pods where
// it is and why it is not Ready.
func TestShortWorkloads(t *testing.T) {
	unschedulable := func(name string) *corev1.Pod {
		p := Pod(name).OwnedBy("ReplicaSet", "web").Obj()
		p.Status.Phase = corev1.PodPending
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
			Reason: corev1.PodReasonUnschedulable, Message: "0/3 nodes are available: 3 Insufficient cpu."}}
		return p
	}
	terminating := Pod("web-old").OwnedBy("ReplicaSet", "web").On("n1").Running().Obj()
	terminating.DeletionTimestamp = &metav1.Time{}
	var many []*corev1.Pod
	for i := range 5 {
		many = append(many, unschedulable(fmt.Sprintf("web-%d", i)))
	}
	for _, tc := range []struct {
		name      string
		displaced map[string]int
		pods      []*corev1.Pod
		want      []string
	}{
		{"every workload is back", map[string]int{"ReplicaSet/default/web": 1},
			[]*corev1.Pod{Pod("web-a").OwnedBy("ReplicaSet", "web").On("n2").Running().Obj()}, nil},
		{"a pod the scheduler cannot place", map[string]int{"ReplicaSet/default/web": 2},
			[]*corev1.Pod{Pod("web-a").OwnedBy("ReplicaSet", "web").On("n2").Running().Obj(), unschedulable("web-b")},
			[]string{"ReplicaSet/default/web (1 of 2 Ready; not Ready: web-b Pending on no node, PodScheduled: 0/3 nodes are available: 3 Insufficient cpu.)"}},
		{"a terminating pod is not counted", map[string]int{"ReplicaSet/default/web": 1},
			[]*corev1.Pod{terminating},
			[]string{"ReplicaSet/default/web (0 of 1 Ready; not Ready: web-old Running on n1, terminating)"}},
		{"a StatefulSet that has not recreated its pod", map[string]int{"StatefulSet/default/db": 1, "ReplicaSet/default/web": 1},
			[]*corev1.Pod{Pod("web-a").OwnedBy("ReplicaSet", "web").On("n2").Running().Obj()},
			[]string{"StatefulSet/default/db (0 of 1 Ready; no other pod exists: its controller has not replaced the evicted ones)"}},
		{"at most three pods are described", map[string]int{"ReplicaSet/default/web": 5}, many,
			[]string{"ReplicaSet/default/web (0 of 5 Ready; not Ready: " +
				"web-0 Pending on no node, PodScheduled: 0/3 nodes are available: 3 Insufficient cpu., " +
				"web-1 Pending on no node, PodScheduled: 0/3 nodes are available: 3 Insufficient cpu., " +
				"web-2 Pending on no node, PodScheduled: 0/3 nodes are available: 3 Insufficient cpu., 2 more)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := shortWorkloads(tc.displaced, tc.pods); !slices.Equal(got, tc.want) {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}
