package materialize

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// podCensus is what one look at the cluster's pods found.
type podCensus struct {
	// ready counts pods Running and Ready; notReady the others that are
	// neither finished nor terminating.
	ready, notReady int
	// examples describes a few pods that are not Ready, with why.
	examples []string
}

// settle waits until every pod in the cluster is Running and Ready and
// there are at least res.ExpectedPods of them. It polls the pods; the
// interval grows with the time a list takes, so that a large cluster is
// not listed continuously.
func settle(ctx context.Context, client kubernetes.Interface, res *Result, cfg Config) error {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	var last podCensus
	var lastErr error
	for {
		t0 := time.Now()
		c, err := census(ctx, client)
		if err == nil {
			last, lastErr = c, nil
			res.ReadyPods = c.ready
			if cfg.Progress != nil {
				cfg.Progress(Progress{Phase: PhaseSettling, Done: min(c.ready, res.ExpectedPods), Total: res.ExpectedPods})
			}
			if c.ready >= res.ExpectedPods && c.notReady == 0 {
				return nil
			}
		} else if ctx.Err() == nil {
			lastErr = err
		}
		wait := max(time.Second, 3*time.Since(t0))
		select {
		case <-ctx.Done():
			if ctx.Err() == context.DeadlineExceeded {
				return notSettled(time.Since(start), res.ExpectedPods, last, lastErr)
			}
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

func notSettled(after time.Duration, expected int, c podCensus, lastErr error) error {
	msg := fmt.Sprintf("after %v: %d pods Running and Ready (%d expected), %d not",
		after.Round(time.Second), c.ready, expected, c.notReady)
	if len(c.examples) > 0 {
		msg += ", e.g. " + strings.Join(c.examples, "; ")
	}
	if lastErr != nil {
		msg += fmt.Sprintf(" (last error listing pods: %v)", lastErr)
	}
	return fmt.Errorf("%w %s", ErrNotSettled, msg)
}

// census lists every pod, page by page, and counts them.
func census(ctx context.Context, client kubernetes.Interface) (podCensus, error) {
	var c podCensus
	opts := metav1.ListOptions{Limit: 500}
	for {
		l, err := client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, opts)
		if err != nil {
			return podCensus{}, err
		}
		for i := range l.Items {
			p := &l.Items[i]
			if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
				continue
			}
			if p.Status.Phase == corev1.PodRunning && podReady(p) {
				c.ready++
				continue
			}
			c.notReady++
			if len(c.examples) < 5 {
				c.examples = append(c.examples, fmt.Sprintf("%s/%s: %s", p.Namespace, p.Name, whyNotReady(p)))
			}
		}
		if l.Continue == "" {
			return c, nil
		}
		opts.Continue = l.Continue
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// whyNotReady says what a pod waits for: the scheduler's message when it is
// not placed, else its phase.
func whyNotReady(p *corev1.Pod) string {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			return fmt.Sprintf("not scheduled: %s", c.Message)
		}
	}
	if p.Spec.NodeName == "" {
		return "not scheduled yet"
	}
	return fmt.Sprintf("%s on %s, not Ready", p.Status.Phase, p.Spec.NodeName)
}
