package executor

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

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

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
