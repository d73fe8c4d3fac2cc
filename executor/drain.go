package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/drain"

	"github.com/noderoll/noderoll/plan"
)

// NewDrainHelper is the one place the executor turns a plan's drain
// options into kubectl's drain library: the same flags the simulator
// assumed (plan.Drain decides from the same options which pods go), the
// grace period as plan.GracePeriod reads it (-1 or unset: the pod's own),
// the plan's timeout, and a retry after a 429 every
// plan.EvictionRetryInterval (the library's zero value would retry at
// once, in a busy loop). With dryRun, evictions and cordons are sent as
// server-side dry runs.
func NewDrainHelper(ctx context.Context, client kubernetes.Interface, opts plan.DrainOptions, out, errOut io.Writer, dryRun bool) *drain.Helper {
	h := &drain.Helper{
		Ctx:                  ctx,
		Client:               client,
		Force:                opts.Force,
		IgnoreAllDaemonSets:  opts.IgnoreDaemonSets,
		DeleteEmptyDirData:   opts.DeleteEmptyDirData,
		GracePeriodSeconds:   -1,
		Timeout:              time.Duration(opts.TimeoutSeconds) * time.Second,
		EvictErrorRetryDelay: plan.EvictionRetryInterval,
		Out:                  out,
		ErrOut:               errOut,
	}
	if g := opts.GracePeriodSeconds; g != nil && *g >= 0 {
		h.GracePeriodSeconds = int(*g)
	}
	if dryRun {
		h.DryRunStrategy = cmdutil.DryRunServer
	}
	return h
}

// evictionCounter watches the answers to eviction requests on their way
// back from the API server, and counts them per node: the drain library
// reports neither its 429s nor its successful evictions in a form one can
// count. Pods are attributed to the node being drained by register.
type evictionCounter struct {
	mu    sync.Mutex
	node  map[string]string // "namespace/name" -> node
	stats map[string]*evictionStats
	now   func() time.Time
}

type evictionStats struct {
	evictions, blocked int
	// refused: pods answered 429 at least once and not yet evicted.
	refused                   map[string]bool
	firstBlocked, lastThrough time.Time
}

func newEvictionCounter(now func() time.Time) *evictionCounter {
	return &evictionCounter{node: map[string]string{}, stats: map[string]*evictionStats{}, now: now}
}

// register attributes the pod's evictions to node.
func (c *evictionCounter) register(namespace, name, node string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.node[namespace+"/"+name] = node
	if c.stats[node] == nil {
		c.stats[node] = &evictionStats{refused: map[string]bool{}}
	}
}

// forget drops the node's figures.
func (c *evictionCounter) forget(node string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.stats, node)
}

// figures returns the node's figures since it was registered.
func (c *evictionCounter) figures(node string) (evictions, blocked int, stall time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats[node]
	if s == nil {
		return 0, 0, 0
	}
	if !s.firstBlocked.IsZero() && s.lastThrough.After(s.firstBlocked) {
		stall = s.lastThrough.Sub(s.firstBlocked)
	}
	return s.evictions, s.blocked, stall
}

// observe records one answer to POST .../namespaces/NS/pods/NAME/eviction.
func (c *evictionCounter) observe(path string, status int) {
	// /api/v1/namespaces/NS/pods/NAME/eviction
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if len(parts) < 7 || parts[len(parts)-1] != "eviction" || parts[len(parts)-3] != "pods" {
		return
	}
	key := parts[len(parts)-4] + "/" + parts[len(parts)-2]
	c.mu.Lock()
	defer c.mu.Unlock()
	node, ok := c.node[key]
	if !ok {
		return
	}
	s := c.stats[node]
	if s == nil {
		s = &evictionStats{refused: map[string]bool{}}
		c.stats[node] = s
	}
	now := c.now()
	switch {
	case status == http.StatusTooManyRequests:
		s.blocked++
		s.refused[key] = true
		if s.firstBlocked.IsZero() {
			s.firstBlocked = now
		}
	case status >= 200 && status < 300:
		s.evictions++
		if s.refused[key] {
			delete(s.refused, key)
			s.lastThrough = now
		}
	}
}

// wrap is a rest.Config WrapTransport that feeds the counter.
func (c *evictionCounter) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := rt.RoundTrip(req)
		if err == nil && req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/eviction") {
			c.observe(req.URL.Path, resp.StatusCode)
		}
		return resp, err
	})
}

// evictPods evicts the pods side by side and waits for each to be gone,
// as kubectl drain's evictPods does (k8s.io/kubectl/pkg/drain), and
// otherwise where that is unsafe or fragile:
//
//   - every eviction carries the pod's UID as a precondition, and a pod
//     refused with 429 is asked for again as the same pod, never re-read by
//     name: a StatefulSet's replacement of the same name is never evicted
//     (its answer, 409, means the pod meant is gone);
//   - a 429 is retried every plan.EvictionRetryInterval, a wait that ends
//     with ctx; transient errors (5xx, timeouts, resets) are retried with
//     backoff (retry);
//   - any other answer — the 500 of a pod that two budgets select, a 403 —
//     fails that pod, as kubectl does: the other pods keep being evicted,
//     and once every pod is done or failed the drain fails with each
//     pod's error, the node still cordoned;
//   - the plan's drain timeout bounds the whole.
func (e *executor) evictPods(ctx context.Context, node string, pods []corev1.Pod) error {
	if t := e.p.Spec.Drain.TimeoutSeconds; t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, time.Duration(t)*time.Second,
			fmt.Errorf("the drain's timeout (drain.timeoutSeconds %d) was reached", t))
		defer cancel()
	}
	errs := make([]error, len(pods))
	var wg sync.WaitGroup
	for i := range pods {
		wg.Go(func() { errs[i] = e.evictPod(ctx, node, &pods[i]) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// evictPod evicts one pod and waits for it to be gone (see evictPods).
func (e *executor) evictPod(ctx context.Context, node string, pod *corev1.Pod) error {
	name := pod.Namespace + "/" + pod.Name
	uid := pod.UID
	opts := metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}
	if gp := e.p.Spec.Drain.GracePeriodSeconds; gp != nil && *gp >= 0 {
		opts.GracePeriodSeconds = gp
	}
	ev := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace}, DeleteOptions: &opts}
	notBudget := func(err error) bool { return !apierrors.IsTooManyRequests(err) && isTransient(err) }
	e.logf("node %s: evicting pod %s", node, name)
	for {
		err := e.retryIf(ctx, notBudget, func(ctx context.Context) error {
			return e.drainClient.PolicyV1().Evictions(pod.Namespace).Evict(ctx, ev)
		})
		switch {
		case err == nil:
			return e.waitGone(ctx, pod)
		case apierrors.IsNotFound(err):
			return nil
		case ctx.Err() != nil:
			return fmt.Errorf("evicting pod %s: %w (last answer: %w)", name, context.Cause(ctx), err)
		case apierrors.IsConflict(err):
			// The UID precondition failed (the pod of this name is another
			// one: ours is gone), or the eviction met a change of the budget
			// and may be asked again.
			if gone, gerr := e.podGone(ctx, pod); gerr == nil && gone {
				return nil
			}
		case apierrors.IsTooManyRequests(err):
			e.logf("node %s: pod %s: eviction refused (retrying every %v): %v", node, name, plan.EvictionRetryInterval, err)
		case apierrors.IsForbidden(err) && apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
			if pod.DeletionTimestamp != nil {
				return e.waitGone(ctx, pod)
			}
			e.logf("node %s: pod %s: its namespace is being deleted (retrying every %v): %v", node, name, plan.EvictionRetryInterval, err)
		case strings.Contains(err.Error(), multiplePDBsMessage):
			return fmt.Errorf("pod %s: more than one PodDisruptionBudget selects it, and the Eviction API refuses to evict such a pod (500) however often it is asked; give it one budget: %w", name, err)
		default:
			return fmt.Errorf("evicting pod %s: %w", name, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("evicting pod %s: %w (last answer: %w)", name, context.Cause(ctx), err)
		case <-e.cfg.Clock.After(plan.EvictionRetryInterval):
		}
	}
}

// podGone reports whether the pod is gone: no pod of its name, or one
// with another UID.
func (e *executor) podGone(ctx context.Context, pod *corev1.Pod) (bool, error) {
	cur, err := e.client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return true, nil
	case err != nil:
		return false, err
	}
	return cur.UID != pod.UID, nil
}

// waitGone waits, polling every second as kubectl does, until the
// evicted pod is gone (see podGone); errors in between are transient by
// assumption, the wait ends with ctx.
func (e *executor) waitGone(ctx context.Context, pod *corev1.Pod) error {
	for {
		if gone, err := e.podGone(ctx, pod); err == nil && gone {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for pod %s/%s to terminate: %w", pod.Namespace, pod.Name, context.Cause(ctx))
		case <-e.cfg.Clock.After(time.Second):
		}
	}
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
