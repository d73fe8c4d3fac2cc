package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/noderoll/noderoll/plan"
)

// DefaultNamespace is where the executor keeps its Lease and its progress
// ConfigMap unless told otherwise: a namespace of its own,
// which deploy/rbac.yaml creates and binds the executor's Role in. Not
// kube-system: RBAC cannot limit create to a name, and a role that may
// create any ConfigMap in kube-system may create the well-known ones some
// managed clusters read their configuration from.
const DefaultNamespace = "noderoll-system"

// DefaultRequestTimeout bounds every request of the executor (but the
// pod watch) when the REST configuration sets no timeout: a request that
// hangs fails and is retried (see retry) instead of holding a step.
const DefaultRequestTimeout = 30 * time.Second

// DefaultHookGracePeriod is how long a hook that is stopped (its timeout,
// the executor stopping) is given between SIGTERM and SIGKILL.
const DefaultHookGracePeriod = 10 * time.Second

// DefaultQPS is the client's rate limit when the REST configuration sets
// none.
const DefaultQPS = 100

// DefaultLeaseDuration is how long the Lease outlives an executor that
// stops renewing it.
const DefaultLeaseDuration = 30 * time.Second

// Annotations the executor puts on a node it has cordoned, and removes
// when it uncordons it.
const (
	// AnnotationRollout says which plan and batch cordoned the node.
	AnnotationRollout = "noderoll.dev/rollout"
	// AnnotationStopped says why a rollout stopped with the node cordoned.
	AnnotationStopped = "noderoll.dev/stopped"
)

// Event reasons on nodes.
const (
	ReasonCordoned       = "NoderollCordoned"
	ReasonDrainStarted   = "NoderollDrainStarted"
	ReasonDrainResumed   = "NoderollDrainResumed"
	ReasonDrained        = "NoderollDrained"
	ReasonReinstalling   = "NoderollReinstalling"
	ReasonRejoined       = "NoderollRejoined"
	ReasonUncordoned     = "NoderollUncordoned"
	ReasonReplaced       = "NoderollReplaced"
	ReasonRolloutStopped = "NoderollRolloutStopped"
)

// ErrUnsupportedStrategy is returned for plans the executor cannot run:
// a migration plan involves two clusters; surge nodes, windows and
// cordon-ahead are simulated but not carried out yet.
var ErrUnsupportedStrategy = errors.New("the executor runs rolling plans on one cluster, in batches, without surge nodes or cordon-ahead")

// ErrRunInProgress: the cluster holds the progress of an unfinished run
// and --resume was not given, or it belongs to another plan.
var ErrRunInProgress = errors.New("an unfinished run is recorded in the cluster")

// GateError is a gate that failed: the rollout stopped before or during
// a batch, leaving every node either replaced, untouched, or cordoned with
// the reason in its noderoll.dev/stopped annotation.
type GateError struct {
	Batch   int
	Gate    string
	Message string
}

func (e *GateError) Error() string {
	return fmt.Sprintf("rollout stopped in batch %d: gate %s: %s", e.Batch, e.Gate, e.Message)
}

// Resimulator predicts the figures of the remaining batches of a plan
// from a fresh capture of the cluster: it returns the batches of
// remaining with Predicted filled in. The executor does not simulate by
// itself (the simulator is not among its imports); the command wires one.
type Resimulator func(ctx context.Context, remaining *plan.Plan) ([]plan.Batch, error)

// Config configures Run.
type Config struct {
	// Plan is the plan to run. Required.
	Plan *plan.Plan
	// REST reaches the cluster. Required.
	REST *rest.Config
	// Namespace holds the Lease and the progress ConfigMap; empty means
	// DefaultNamespace. It must exist.
	Namespace string
	// Identity names this executor in the Lease; empty means
	// "HOSTNAME-PID".
	Identity string
	// Kubeconfig, when set, is given to hooks as KUBECONFIG.
	Kubeconfig string
	// DryRun prints every action and changes nothing.
	DryRun bool
	// Resume takes up the unfinished run recorded in the cluster, waiting
	// for the Lease of a dead executor to lapse.
	Resume bool
	// Resimulate, when set, is run before each batch.
	Resimulate Resimulator
	// LeaseDuration: zero means DefaultLeaseDuration. The Lease is renewed
	// every sixth of it, and given up as lost when it could not be renewed
	// for two thirds of it.
	LeaseDuration time.Duration
	// HookGracePeriod: zero means DefaultHookGracePeriod.
	HookGracePeriod time.Duration
	// PollInterval is how often waits look again; zero means 1 s.
	PollInterval time.Duration
	// Out receives progress lines and hook output; nil discards them.
	Out io.Writer
	// Clock: nil means the real clock.
	Clock clock.Clock
}

// Run runs the plan against the cluster (see the package documentation)
// and returns the run record, also when it stopped or failed. In a dry
// run it returns a nil record.
func Run(ctx context.Context, cfg Config) (*Record, error) {
	if cfg.Plan == nil || cfg.REST == nil {
		return nil, errors.New("executor: Config.Plan and Config.REST are required")
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.defaults()
	rc := rest.CopyConfig(cfg.REST)
	if rc.QPS == 0 && rc.RateLimiter == nil {
		// client-go's default, 5 requests a second, cannot keep up with a
		// batch of drains: each waits for its evicted pods by polling them
		// every second.
		rc.QPS, rc.Burst = DefaultQPS, 2*DefaultQPS
	}
	// The lease client is not fenced; its requests are bounded well within
	// the renew deadline, as client-go's NewFromKubeconfig does.
	lrc := rest.CopyConfig(rc)
	rd, _ := leaseTimings(cfg.LeaseDuration)
	lrc.Timeout = max(rd/2, time.Second)
	leaseClient, err := kubernetes.NewForConfig(lrc)
	if err != nil {
		return nil, fmt.Errorf("building the client: %w", err)
	}
	e := newExecutor(cfg, clients{lease: leaseClient})
	e.leaseTimeout = lrc.Timeout
	// The pod watch is long-lived: no request timeout.
	wrc := rest.CopyConfig(rc)
	wrc.Wrap(fence(e.held))
	if rc.Timeout == 0 {
		rc.Timeout = DefaultRequestTimeout
	}
	rc.Wrap(fence(e.held))
	drc := rest.CopyConfig(rc)
	drc.Wrap(e.counter.wrap)
	for _, c := range []struct {
		rc  *rest.Config
		out *kubernetes.Interface
	}{{rc, &e.client}, {drc, &e.drainClient}, {wrc, &e.watchClient}} {
		if *c.out, err = kubernetes.NewForConfig(c.rc); err != nil {
			return nil, fmt.Errorf("building the client: %w", err)
		}
	}
	if cfg.DryRun {
		return nil, e.dryRun(ctx)
	}
	return e.run(ctx)
}

// validate checks what the executor can run.
func (cfg *Config) validate() error {
	if s := cfg.Plan.Metadata.Strategy; s != "rolling" {
		return fmt.Errorf("plan strategy %q: %w", s, ErrUnsupportedStrategy)
	}
	if sp := cfg.Plan.Spec; sp.Surge > 0 || sp.Window > 0 || sp.CordonAhead > 0 {
		return fmt.Errorf("plan with surge %d, window %d, cordon-ahead %d: %w", sp.Surge, sp.Window, sp.CordonAhead, ErrUnsupportedStrategy)
	}
	if errs := cfg.Plan.Validate(); len(errs) > 0 {
		return &plan.InvalidError{File: "plan", Errs: errs}
	}
	return nil
}

// defaults fills in the zero fields.
func (cfg *Config) defaults() {
	if cfg.Namespace == "" {
		cfg.Namespace = DefaultNamespace
	}
	if cfg.Identity == "" {
		host, _ := os.Hostname()
		cfg.Identity = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if cfg.LeaseDuration <= 0 {
		cfg.LeaseDuration = DefaultLeaseDuration
	}
	if cfg.HookGracePeriod <= 0 {
		cfg.HookGracePeriod = DefaultHookGracePeriod
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
}

// clients are the executor's clientsets: client for its requests, drain
// for the drain's (its eviction answers are counted), watch for the pod
// informer (no request timeout), all three fenced by the Lease; lease for
// the Lease itself.
type clients struct {
	client, drain, watch, lease kubernetes.Interface
}

// newExecutor is a run of cfg (defaults applied) with these clients.
func newExecutor(cfg Config, c clients) *executor {
	e := &executor{cfg: cfg, p: cfg.Plan, digest: plan.Digest(cfg.Plan), out: &syncWriter{w: cfg.Out},
		client: c.client, drainClient: c.drain, watchClient: c.watch, leaseClient: c.lease, leaseTimeout: DefaultRequestTimeout}
	e.counter = newEvictionCounter(cfg.Clock.Now)
	return e
}

// executor is one run.
type executor struct {
	cfg    Config
	p      *plan.Plan
	digest string
	// client, drainClient and watchClient are fenced by held; leaseClient
	// is not.
	client, drainClient, watchClient, leaseClient kubernetes.Interface
	leaseTimeout                                  time.Duration
	counter                                       *evictionCounter
	out                                           io.Writer
	pods                                          corelisters.PodLister
	// lease is the Lease held during a run; nil in a dry run.
	lease *leaseHolder

	mu      sync.Mutex // guards rec, version, saved and what observation writes
	rec     *Record
	store   *progressStore
	cur     *BatchRun
	unsched map[types.UID]bool
	// version counts the states of rec persist was asked to save, and
	// saved is the version of the last one saved; saveMu makes one save at
	// a time (see persist).
	version, saved uint64
	saveMu         sync.Mutex
}

func (e *executor) logf(format string, args ...any) {
	fmt.Fprintf(e.out, "%s %s\n", e.cfg.Clock.Now().UTC().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// mayRecord says whether the executor may still record how it stopped:
// nil unless the Lease was lost (lctx ended) or the executor was otherwise
// told to write nothing more.
func (e *executor) mayRecord(lctx context.Context) error {
	if err := context.Cause(lctx); err != nil {
		return err
	}
	return e.held()
}

// held is the fence of the executor's clients: nil while the executor
// holds its Lease and may change the cluster.
func (e *executor) held() error { return e.lease.held() }

func (e *executor) run(ctx context.Context) (rec *Record, err error) {
	// Two contexts: ctx ends when the caller's does (SIGINT) or the Lease
	// is lost; lctx only when the Lease is lost. The steps run under ctx;
	// what the executor records when it stops (the node's stopped
	// annotation, the outcome) is written under lctx: after a Ctrl-C it
	// is still written, after the Lease is lost nothing is.
	lctx, lost := context.WithCancelCause(context.WithoutCancel(ctx))
	defer lost(nil)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	l := newLeaseHolder(e.leaseClient, e.cfg.Namespace, e.cfg.Identity, e.cfg.LeaseDuration, e.leaseTimeout, e.logf)
	if err := l.acquire(ctx, e.cfg.Resume, func(err error) {
		e.logf("%v: stopping; nothing more is written", err)
		lost(err)
		cancel(err)
	}); err != nil {
		return nil, err
	}
	e.lease = l
	e.logf("holding Lease %s/%s as %s", e.cfg.Namespace, LeaseName, l.instance)
	defer func() {
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), e.leaseTimeout)
		defer rcancel()
		if rerr := l.release(rctx); rerr != nil && err == nil {
			err = rerr
		}
	}()

	e.store = &progressStore{client: e.client, namespace: e.cfg.Namespace}
	var prev *Record
	if err := e.retry(ctx, func(ctx context.Context) (err error) { prev, err = e.store.load(ctx); return err }); err != nil {
		return nil, err
	}
	if prev != nil {
		if err := prev.check(e.p); err != nil {
			return nil, fmt.Errorf("progress ConfigMap %s/%s: %w", e.cfg.Namespace, ProgressName, err)
		}
	}
	now := e.cfg.Clock.Now()
	switch {
	case prev != nil && prev.Outcome != OutcomeCompleted && !e.cfg.Resume:
		return nil, fmt.Errorf("%w: ConfigMap %s/%s holds a %s run of plan %.12s: take it up with --resume, or delete the ConfigMap to start over",
			ErrRunInProgress, e.cfg.Namespace, ProgressName, strings.ToLower(prev.Outcome), prev.PlanDigest)
	case prev != nil && e.cfg.Resume && prev.PlanDigest != e.digest && prev.Outcome != OutcomeCompleted:
		return nil, fmt.Errorf("%w: ConfigMap %s/%s holds a run of plan %.12s, not of this plan (%.12s)",
			ErrRunInProgress, e.cfg.Namespace, ProgressName, prev.PlanDigest, e.digest)
	case prev != nil && e.cfg.Resume && prev.PlanDigest == e.digest && prev.Outcome == OutcomeCompleted:
		e.logf("--resume: the run of plan %.12s has completed; nothing to do", e.digest)
		return prev, nil
	case prev != nil && e.cfg.Resume && prev.PlanDigest == e.digest:
		e.rec = prev
		e.logf("resuming the run of plan %.12s started %s", e.digest, prev.StartedAt.UTC().Format(time.RFC3339))
	default:
		if e.cfg.Resume {
			e.logf("--resume: no unfinished run of this plan is recorded; starting from the first batch")
		}
		e.rec = newRecord(e.p, e.digest, now)
	}
	e.rec.Outcome, e.rec.Message, e.rec.FinishedAt = OutcomeRunning, "", nil
	e.rec.Executors = append(e.rec.Executors, e.cfg.Identity)
	if err := e.persist(ctx); err != nil {
		return nil, err
	}

	if err := e.startObserving(ctx); err != nil {
		return e.finish(ctx, lctx, err)
	}
	e.logf("running %s", e.p)
	for i, b := range e.rec.Batches {
		if b.done() {
			continue
		}
		if err := e.runBatch(ctx, lctx, i, b); err != nil {
			return e.finish(ctx, lctx, err)
		}
	}
	return e.finish(ctx, lctx, nil)
}

// finish records the outcome, persists it (unless the Lease was lost:
// lctx ended) and returns it with err.
func (e *executor) finish(ctx, lctx context.Context, err error) (*Record, error) {
	if cause := context.Cause(ctx); err != nil && cause != nil && !errors.Is(err, cause) {
		err = fmt.Errorf("%w (%w)", err, cause)
	}
	e.mu.Lock()
	now := e.cfg.Clock.Now()
	e.rec.FinishedAt = &now
	var ge *GateError
	switch {
	case err == nil:
		e.rec.Outcome = OutcomeCompleted
	case errors.As(err, &ge):
		e.rec.Outcome, e.rec.Message = OutcomeStopped, err.Error()
	default:
		e.rec.Outcome, e.rec.Message = OutcomeFailed, err.Error()
	}
	e.mu.Unlock()
	if lerr := e.mayRecord(lctx); lerr != nil {
		e.logf("not recording the outcome in the cluster: %v", lerr)
	} else {
		sctx, cancel := context.WithTimeout(lctx, DefaultRequestTimeout)
		defer cancel()
		if perr := e.persist(sctx); perr != nil {
			err = errors.Join(err, perr)
		}
	}
	if err == nil {
		e.logf("completed: %d nodes replaced in %d batches", e.p.NodeCount(), len(e.p.Spec.Batches))
	} else {
		e.logf("%s: %v", strings.ToLower(e.rec.Outcome), err)
	}
	return e.rec, err
}

// persist saves the record in the progress ConfigMap, as it is now or
// newer. The nodes of a batch change the record side by side: saves go one
// at a time, each of the state when it starts, so that an older state can
// never overwrite a newer one (a resumed run would take up a step already
// done: drain a node again), and a caller whose change a save that
// started after it already holds returns at once, so that waiting callers
// share one save.
func (e *executor) persist(ctx context.Context) error {
	e.mu.Lock()
	e.version++
	want := e.version
	e.mu.Unlock()
	e.saveMu.Lock()
	defer e.saveMu.Unlock()
	e.mu.Lock()
	if e.saved >= want {
		e.mu.Unlock()
		return nil
	}
	v := e.version
	r := *e.rec
	r.Executors = slices.Clone(r.Executors)
	batches := make([]*BatchRun, len(r.Batches))
	for i, b := range r.Batches {
		bc := *b
		bc.Gates = slices.Clone(b.Gates)
		bc.NodeRuns = make([]*NodeRun, len(b.NodeRuns))
		for j, n := range b.NodeRuns {
			nc := *n
			// Encoded after the lock is released: nothing shared.
			nc.Displaced, nc.LastReady = maps.Clone(n.Displaced), slices.Clone(n.LastReady)
			bc.NodeRuns[j] = &nc
		}
		batches[i] = &bc
	}
	r.Batches = batches
	e.mu.Unlock()
	if err := e.retry(ctx, func(ctx context.Context) error { return e.store.save(ctx, &r) }); err != nil {
		if errors.Is(err, ErrProgressConflict) || errors.Is(err, ErrRecordTooLarge) {
			// Another executor writes the progress (or it cannot be
			// written at all): stop, and write nothing more.
			e.lease.lose(err)
		}
		return err
	}
	e.mu.Lock()
	e.saved = v
	e.mu.Unlock()
	return nil
}

// update changes the record under the lock and persists it.
func (e *executor) update(ctx context.Context, f func()) error {
	e.mu.Lock()
	f()
	e.mu.Unlock()
	return e.persist(ctx)
}

// startObserving runs a pod informer: the executor's view of pods for its
// gates and waits, and its measure of pending and unschedulable pods.
func (e *executor) startObserving(ctx context.Context) error {
	f := informers.NewSharedInformerFactory(e.watchClient, 0)
	inf := f.Core().V1().Pods()
	e.pods = inf.Lister()
	e.unsched = map[types.UID]bool{}
	note := func(obj any) {
		p, ok := obj.(*corev1.Pod)
		if !ok || !plan.IsUnschedulable(p) {
			return
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.cur != nil && !e.unsched[p.UID] {
			e.unsched[p.UID] = true
			e.cur.Actual.Unschedulable++
		}
	}
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    note,
		UpdateFunc: func(_, obj any) { note(obj) },
	}); err != nil {
		return fmt.Errorf("watching pods: %w", err)
	}
	f.Start(ctx.Done())
	for typ, ok := range f.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("listing %v: %w", typ, context.Cause(ctx))
		}
	}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-e.cfg.Clock.After(e.cfg.PollInterval):
			}
			pods, err := e.pods.List(labels.Everything())
			if err != nil {
				continue
			}
			n := plan.PendingPods(pods)
			e.mu.Lock()
			if e.cur != nil && n > e.cur.Actual.PendingPeak {
				e.cur.Actual.PendingPeak = n
			}
			e.mu.Unlock()
		}
	}()
	return nil
}

// runBatch checks the gates (unless the batch had started before a
// resume), then replaces the batch's nodes side by side.
func (e *executor) runBatch(ctx, lctx context.Context, i int, b *BatchRun) error {
	n := len(e.rec.Batches)
	if !b.started() {
		if err := e.gates(ctx, i, b); err != nil {
			return err
		}
		if err := e.update(ctx, func() { b.StartedAt = stamp(e.cfg.Clock.Now()) }); err != nil {
			return err
		}
		e.logf("batch %d/%d: starting %s", i+1, n, strings.Join(b.Nodes, ", "))
	} else {
		e.logf("batch %d/%d: taking up %s", i+1, n, strings.Join(b.Nodes, ", "))
	}
	e.mu.Lock()
	e.cur = b
	e.unsched = map[types.UID]bool{}
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		e.cur = nil
		e.mu.Unlock()
	}()

	errs := make([]error, len(b.NodeRuns))
	var wg sync.WaitGroup
	for j, nr := range b.NodeRuns {
		wg.Go(func() { errs[j] = e.replaceNode(ctx, lctx, i, nr) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := e.update(ctx, func() {
		end := e.cfg.Clock.Now()
		b.EndedAt = &end
		if b.StartedAt != nil {
			b.Actual.DurationSeconds = end.Sub(*b.StartedAt).Seconds()
		}
		b.Actual.Evictions, b.Actual.EvictionsBlocked, b.Actual.PDBStallSeconds = 0, 0, 0
		for _, nr := range b.NodeRuns {
			b.Actual.Evictions += nr.Evictions
			b.Actual.EvictionsBlocked += nr.EvictionsBlocked
			b.Actual.PDBStallSeconds = max(b.Actual.PDBStallSeconds, nr.PDBStallSeconds)
		}
	}); err != nil {
		return err
	}
	a := b.Actual
	e.logf("batch %d/%d: done in %s: %d evictions, %d refused with 429, pending peak %d, %d unschedulable",
		i+1, n, time.Duration(a.DurationSeconds*float64(time.Second)).Round(time.Second), a.Evictions, a.EvictionsBlocked, a.PendingPeak, a.Unschedulable)
	if soak := e.p.Spec.SoakSeconds; soak > 0 && i < n-1 {
		e.logf("batch %d/%d: soaking %ds", i+1, n, soak)
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-e.cfg.Clock.After(time.Duration(soak) * time.Second):
		}
	}
	return nil
}

// event records a Kubernetes Event on the node, in namespace default (the
// API server requires it of the Events of a cluster-scoped object);
// failures are only logged.
func (e *executor) event(ctx context.Context, node, eventType, reason, message string) {
	now := metav1.NewTime(e.cfg.Clock.Now())
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{
			Name:      fmt.Sprintf("%s.%x", node, now.UnixNano()),
			Namespace: metav1.NamespaceDefault,
		},
		InvolvedObject: corev1.ObjectReference{Kind: "Node", APIVersion: "v1", Name: node},
		Reason:         reason,
		Message:        message,
		Type:           eventType,
		Source:         corev1.EventSource{Component: "noderoll"},
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
		ReportingController: "noderoll.dev/executor", ReportingInstance: e.cfg.Identity,
	}
	if _, err := e.client.CoreV1().Events(metav1.NamespaceDefault).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
		e.logf("node %s: recording event %s: %v", node, reason, err)
	}
}

// annotate sets (or, with an empty value, removes) an annotation of the
// node. A node that is gone is left alone.
func (e *executor) annotate(ctx context.Context, node, key, value string) error {
	patch, err := annotationPatch(key, value)
	if err != nil {
		return err
	}
	err = e.retry(ctx, func(ctx context.Context) error {
		_, err := e.client.CoreV1().Nodes().Patch(ctx, node, types.MergePatchType, patch, metav1.PatchOptions{})
		return err
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("annotating node %s: %w", node, err)
	}
	return nil
}

// annotationPatch is the JSON merge patch that sets the annotation (or
// removes it, with an empty value).
func annotationPatch(key, value string) ([]byte, error) {
	var v *string
	if value != "" {
		v = &value
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]*string{key: v}}})
	if err != nil {
		return nil, fmt.Errorf("encoding the annotation patch: %w", err)
	}
	return patch, nil
}

// ownerKey names a pod's controller as "Kind/namespace/name"; "" for a
// pod without one.
func ownerKey(p *corev1.Pod) string {
	ref := metav1.GetControllerOf(p)
	if ref == nil {
		return ""
	}
	return ref.Kind + "/" + p.Namespace + "/" + ref.Name
}

// readyOf counts the Ready pods, not being deleted, of each controller.
func readyOf(pods []*corev1.Pod) map[string]int {
	out := map[string]int{}
	for _, p := range pods {
		if k := ownerKey(p); k != "" && p.DeletionTimestamp == nil && plan.IsReady(p) {
			out[k]++
		}
	}
	return out
}

// sortedKeys returns the map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// syncWriter serialises writes from the batch's goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
