package sim

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
		s.clusterChanged(false)
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
	s.clusterChanged(false)
	if s.requeued(p) {
		t.Errorf("a pod waiting for a node went back to the queue on a pod event")
	}
	s.clusterChanged(true)
	if !s.requeued(p) {
		t.Errorf("a node event did not move a pod waiting for a node back to the queue")
	}
}
