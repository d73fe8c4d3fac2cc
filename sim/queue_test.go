package sim

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/noderoll/noderoll/plan"
)

// TestFailedAttemptsBackOffAsTheScheduler checks the scheduling queue's
// record of a pod that keeps failing: kube-scheduler's backoff (1 s,
// doubling, at most 10 s) from the failed attempt, and a pod back in the
// queue only after a cluster event that can help it.
func TestFailedAttemptsBackOffAsTheScheduler(t *testing.T) {
	s := &Simulation{result: &Result{riskSeen: map[string]bool{}}}
	p := &simPod{obj: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web-0"}}}
	if !s.requeued(p) {
		t.Fatalf("a pod never tried is not in the queue")
	}
	wantBackoff := []time.Duration{1, 2, 4, 8, 10, 10, 10}
	for i, want := range wantBackoff {
		s.clk.now = time.Duration(100*i) * time.Second
		s.failedAttempt(p)
		if got := p.backoffUntil - s.clk.now; got != want*time.Second {
			t.Errorf("attempt %d: backoff %v, want %v", i+1, got, want*time.Second)
		}
		if s.requeued(p) {
			t.Errorf("attempt %d: back in the queue with no event since it failed", i+1)
		}
		s.clusterChanged(false, clusterOld)
		if !s.requeued(p) {
			t.Errorf("attempt %d: a cluster event did not move it back to the queue", i+1)
		}
	}
	if !p.failedOnce {
		t.Errorf("a failed pod is not counted unschedulable")
	}

	// A pod only node-level plugins rejected waits for a node event.
	p.waitsForNode = true
	s.failedAttempt(p)
	s.clusterChanged(false, clusterOld)
	if s.requeued(p) {
		t.Errorf("a pod waiting for a node went back to the queue on a pod event")
	}
	s.clusterChanged(true, clusterOld)
	if !s.requeued(p) {
		t.Errorf("a node event did not move a pod waiting for a node back to the queue")
	}
}

// TestEachClusterHasItsOwnQueue: in a migration the old and the new
// cluster have a scheduler each; an event in one cluster does not move the
// other's waiting pods back to its queue.
func TestEachClusterHasItsOwnQueue(t *testing.T) {
	newNode := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "new-1", Labels: map[string]string{plan.ClusterLabel: plan.ClusterNew}}}
	oldNode := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "old-1"}}
	s := &Simulation{result: &Result{riskSeen: map[string]bool{}}, mig: &migrationRun{},
		nodes: map[string]*simNode{"new-1": {obj: newNode, present: true}, "old-1": {obj: oldNode, present: true}}}
	copyPod := &simPod{obj: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web-0"},
		Spec: corev1.PodSpec{NodeSelector: map[string]string{plan.ClusterLabel: plan.ClusterNew}}}}
	oldPod := &simPod{obj: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "db-0"}}}
	s.failedAttempt(copyPod)
	s.failedAttempt(oldPod)

	s.clusterChanged(false, s.clusterOfNode("old-1"))
	if s.requeued(copyPod) {
		t.Errorf("an old cluster's event moved a pod of the new cluster back to its queue")
	}
	if !s.requeued(oldPod) {
		t.Errorf("an old cluster's event did not move the old cluster's pod back to its queue")
	}
	s.failedAttempt(oldPod)
	s.clusterChanged(false, s.clusterOfNode("new-1"))
	if !s.requeued(copyPod) {
		t.Errorf("a new cluster's event did not move its pod back to its queue")
	}
	if s.requeued(oldPod) {
		t.Errorf("a new cluster's event moved the old cluster's pod back to its queue")
	}
}

// TestTheQueueOrdersByPriorityThenQueueTime: the scheduling queue pops
// higher priority first, then the pod that entered it first
// (queuesort.PrioritySort's Less compares the queued pod infos'
// Timestamp, which a failed attempt resets when it puts the pod back): a
// pod that just failed goes behind one created before its failure.
func TestTheQueueOrdersByPriorityThenQueueTime(t *testing.T) {
	prio := func(p int32) *int32 { return &p }
	pod := func(name string, priority *int32) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}, Spec: corev1.PodSpec{Priority: priority}}
	}
	s := &Simulation{result: &Result{riskSeen: map[string]bool{}}}
	old := &simPod{obj: pod("old", nil), seq: 1}
	young := &simPod{obj: pod("young", nil), seq: 2, queuedAt: 3 * time.Second}
	urgent := &simPod{obj: pod("urgent", prio(100)), seq: 3, queuedAt: 9 * time.Second}
	if !queuedBefore(old, young) {
		t.Fatalf("the older pod should come first while neither failed")
	}
	s.clk.now = 5 * time.Second
	s.failedAttempt(old)
	if !queuedBefore(young, old) || queuedBefore(old, young) {
		t.Fatalf("a pod that failed at 5 s should queue behind one queued at 3 s")
	}
	if !queuedBefore(urgent, young) || !queuedBefore(urgent, old) {
		t.Fatalf("higher priority comes first whatever the time")
	}
}
