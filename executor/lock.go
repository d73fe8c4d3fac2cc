package executor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// Names of the objects the executor keeps in its namespace.
const (
	// LeaseName is the coordination.k8s.io Lease an executor holds while it
	// runs.
	LeaseName = "noderoll-executor"
	// ProgressName is the ConfigMap holding the run's progress (its run
	// record, key ProgressKey).
	ProgressName = "noderoll-progress"
	// ProgressKey is the ConfigMap key of the record.
	ProgressKey = "record.json"
	// DigestKey is the ConfigMap key of the plan's digest.
	DigestKey = "planDigest"
)

// ErrLeaseLost: the executor no longer holds its Lease (it could not renew
// it within the renew deadline, or another executor holds it). From that
// moment it changes nothing in the cluster: not its progress, not a node,
// not an Event.
var ErrLeaseLost = errors.New("the executor lost its Lease")

// ErrProgressConflict: the progress ConfigMap changed under the executor
// (its resourceVersion is not the one the executor last wrote). Another
// executor writes it: this one stops at once and writes nothing more.
var ErrProgressConflict = errors.New("the progress ConfigMap was changed by someone else")

// LockedError: another executor holds the Lease.
type LockedError struct {
	Namespace string
	// Holder is the --identity of the executor holding the Lease, and
	// Instance the token that tells apart two processes given the same
	// identity.
	Holder, Instance string
	// RenewedAt is when the holder last renewed it, by the holder's clock.
	RenewedAt time.Time
	// Duration is how long after its last renewal, as this executor
	// observes it, the Lease lapses.
	Duration time.Duration
}

func (e *LockedError) Error() string {
	inst := ""
	if e.Instance != "" {
		inst = "instance " + e.Instance + ", "
	}
	return fmt.Sprintf("another executor is running: Lease %s/%s is held by %q (%srenewed %s by its clock; it lapses %v after its last renewal is seen)",
		e.Namespace, LeaseName, e.Holder, inst, e.RenewedAt.UTC().Format(time.RFC3339), e.Duration)
}

// instanceSep separates the identity from the instance token in the
// Lease's holderIdentity.
const instanceSep = "#"

// splitHolder splits a Lease's holderIdentity into the executor's
// identity and its instance token.
func splitHolder(h string) (identity, instance string) {
	if i := strings.LastIndex(h, instanceSep); i >= 0 {
		return h[:i], h[i+1:]
	}
	return h, ""
}

// leaseTimings derives client-go's leader-election timings from the
// Lease's duration, in the ratios of kube-controller-manager's defaults
// (15 s, 10 s, 2 s): the holder gives up when it could not renew for two
// thirds of the duration, before anyone else may take the Lease over.
func leaseTimings(d time.Duration) (renewDeadline, retryPeriod time.Duration) {
	return d * 2 / 3, d / 6
}

// leaseHolder holds the executor's Lease with client-go's leader election
// (resourcelock.LeaseLock): the Lease is renewed every retry period,
// updates carry the resourceVersion read, and a Lease held by another
// instance is taken over only once it has not changed for a whole
// duration as this process observes it (its own clock, never the
// holder's renewTime). Its holderIdentity is the executor's identity and
// an instance token, so that an executor started with the same --identity
// as a live one never takes its Lease.
//
// held says whether the Lease may be relied on: it is, until renewDeadline
// after the start of the last successful write of the Lease. Once it is
// not, it never is again (the executor stops); onLost is called once.
type leaseHolder struct {
	client                               kubernetes.Interface // not fenced
	namespace, identity, instance        string
	duration, renewDeadline, retryPeriod time.Duration
	// requestTimeout bounds each request of the lease client.
	requestTimeout time.Duration
	now            func() time.Time
	logf           func(format string, args ...any)

	mu       sync.Mutex
	renewed  time.Time // start of the last successful write as holder
	lostErr  error
	lostAt   time.Time
	onLost   func(error)
	stopping bool
	stop     context.CancelFunc
	done     chan struct{}
}

func newLeaseHolder(client kubernetes.Interface, namespace, identity string, duration, requestTimeout time.Duration,
	logf func(string, ...any)) *leaseHolder {
	var b [4]byte
	_, _ = rand.Read(b[:])
	rd, rp := leaseTimings(duration)
	return &leaseHolder{client: client, namespace: namespace, identity: identity, instance: identity + instanceSep + hex.EncodeToString(b[:]),
		duration: duration, renewDeadline: rd, retryPeriod: rp, requestTimeout: requestTimeout, now: time.Now, logf: logf}
}

// errNotHolding: the Lease was never acquired.
var errNotHolding = errors.New("the executor does not hold its Lease")

// held returns nil while the Lease may be relied on, and why not
// otherwise.
func (h *leaseHolder) held() error {
	if h == nil {
		return errNotHolding
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lostErr != nil {
		return h.lostErr
	}
	if h.renewed.IsZero() {
		return errNotHolding
	}
	if since := h.now().Sub(h.renewed); since >= h.renewDeadline {
		h.loseLocked(fmt.Errorf("%w: Lease %s/%s not renewed for %v (renew deadline %v)", ErrLeaseLost, h.namespace, LeaseName,
			since.Round(time.Millisecond), h.renewDeadline))
		return h.lostErr
	}
	return nil
}

// lose marks the Lease lost (or the executor otherwise stopped from
// writing), once.
func (h *leaseHolder) lose(err error) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.loseLocked(err)
}

func (h *leaseHolder) loseLocked(err error) {
	if h.lostErr != nil {
		return
	}
	h.lostErr, h.lostAt = err, h.now()
	if h.stop != nil {
		h.stop()
	}
	if f := h.onLost; f != nil {
		go f(err)
	}
}

// wrote records a successful write of the Lease that started at start.
func (h *leaseHolder) wrote(start time.Time, holder string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if holder == h.instance && h.lostErr == nil && start.After(h.renewed) {
		h.renewed = start
	}
}

// recordingLock is the LeaseLock, telling the holder when a write of it as
// holder succeeded.
type recordingLock struct {
	resourcelock.Interface
	h *leaseHolder
}

func (l *recordingLock) Create(ctx context.Context, r resourcelock.LeaderElectionRecord) error {
	start := l.h.now()
	if err := l.Interface.Create(ctx, r); err != nil {
		return err
	}
	l.h.wrote(start, r.HolderIdentity)
	return nil
}

func (l *recordingLock) Update(ctx context.Context, r resourcelock.LeaderElectionRecord) error {
	start := l.h.now()
	if err := l.Interface.Update(ctx, r); err != nil {
		return err
	}
	l.h.wrote(start, r.HolderIdentity)
	return nil
}

// acquire takes the Lease. When another executor holds it and seems
// alive (by its renewTime), acquire returns a *LockedError at once, or,
// with wait, waits until the holder stops renewing (a killed executor)
// for a whole duration, or ctx ends. onLost is called, once, when the
// Lease is lost after it was acquired.
func (h *leaseHolder) acquire(ctx context.Context, wait bool, onLost func(error)) error {
	cur, err := h.ensureLease(ctx)
	if err != nil {
		return err
	}
	if le := h.lockedBy(cur); le != nil {
		if !wait && h.now().Before(le.RenewedAt.Add(le.Duration)) {
			return le
		}
		h.logf("Lease %s/%s is held by %q: waiting until it has not been renewed for %v", h.namespace, LeaseName, le.Holder, le.Duration)
	}
	lock := &recordingLock{h: h, Interface: &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: h.namespace, Name: LeaseName},
		Client:     h.client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: h.instance},
	}}
	started := make(chan struct{})
	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock: lock, Name: LeaseName,
		LeaseDuration: h.duration, RenewDeadline: h.renewDeadline, RetryPeriod: h.retryPeriod,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(context.Context) { close(started) },
			OnStoppedLeading: func() {
				h.mu.Lock()
				defer h.mu.Unlock()
				if !h.stopping {
					h.loseLocked(fmt.Errorf("%w: Lease %s/%s could not be renewed within %v, or another executor holds it",
						ErrLeaseLost, h.namespace, LeaseName, h.renewDeadline))
				}
			},
		},
		// Not ReleaseOnCancel: client-go's release retries a conflict
		// blindly, and could clear the Lease of an executor that took it
		// over; release does it only while the Lease is surely ours.
	})
	if err != nil {
		return fmt.Errorf("Lease %s/%s: %w", h.namespace, LeaseName, err)
	}
	ectx, stop := context.WithCancel(context.WithoutCancel(ctx))
	h.mu.Lock()
	h.stop, h.done, h.onLost = stop, make(chan struct{}), onLost
	h.mu.Unlock()
	go func() {
		defer close(h.done)
		elector.Run(ectx)
	}()
	var timeout <-chan time.Time
	if !wait {
		// A Lease free or lapsed by its holder's renewTime: it is taken at
		// once, or once it has not changed for a duration as observed here.
		timeout = time.After(h.duration + 3*h.retryPeriod + h.requestTimeout)
	}
	select {
	case <-started:
		go h.watch(ectx)
		return nil
	case <-ctx.Done():
		h.shutdown()
		return fmt.Errorf("waiting for the Lease %s/%s: %w", h.namespace, LeaseName, context.Cause(ctx))
	case <-timeout:
		h.shutdown()
		cur, err := h.client.CoordinationV1().Leases(h.namespace).Get(ctx, LeaseName, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("reading Lease %s/%s: %w", h.namespace, LeaseName, err)
		}
		if le := h.lockedBy(cur); le != nil {
			return le
		}
		return fmt.Errorf("could not take Lease %s/%s within %v", h.namespace, LeaseName, h.duration)
	}
}

// watch looks at held every half retry period, so that a Lease that was
// not renewed in time stops the executor at its renew deadline, not when
// the elector's own poll gives up a little later.
func (h *leaseHolder) watch(ctx context.Context) {
	t := time.NewTicker(h.retryPeriod / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if h.held() != nil {
				return
			}
		}
	}
}

// ensureLease reads the Lease, creating it without a holder when there is
// none, so that a missing namespace is reported as such.
func (h *leaseHolder) ensureLease(ctx context.Context) (*coordinationv1.Lease, error) {
	leases := h.client.CoordinationV1().Leases(h.namespace)
	for {
		cur, err := leases.Get(ctx, LeaseName, metav1.GetOptions{})
		if err == nil {
			return cur, nil
		}
		if !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("reading Lease %s/%s: %w", h.namespace, LeaseName, err)
		}
		secs := int32(h.duration / time.Second)
		_, err = leases.Create(ctx, &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: LeaseName, Namespace: h.namespace,
				Labels: map[string]string{"app.kubernetes.io/name": "noderoll"}},
			Spec: coordinationv1.LeaseSpec{LeaseDurationSeconds: &secs},
		}, metav1.CreateOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return nil, fmt.Errorf("creating Lease %s/%s: namespace %s does not exist (kubectl apply -f deploy/rbac.yaml creates it): %w",
				h.namespace, LeaseName, h.namespace, err)
		case err != nil && !apierrors.IsAlreadyExists(err):
			return nil, fmt.Errorf("creating Lease %s/%s: %w", h.namespace, LeaseName, err)
		}
	}
}

// lockedBy describes the Lease's holder when it is not this instance;
// nil when it is free or this instance's.
func (h *leaseHolder) lockedBy(l *coordinationv1.Lease) *LockedError {
	holder := ptrString(l.Spec.HolderIdentity)
	if holder == "" || holder == h.instance {
		return nil
	}
	id, inst := splitHolder(holder)
	le := &LockedError{Namespace: h.namespace, Holder: id, Instance: inst, RenewedAt: l.CreationTimestamp.Time, Duration: h.duration}
	if l.Spec.RenewTime != nil {
		le.RenewedAt = l.Spec.RenewTime.Time
	}
	if l.Spec.LeaseDurationSeconds != nil && *l.Spec.LeaseDurationSeconds > 0 {
		le.Duration = time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second
	}
	return le
}

// shutdown stops the elector and waits for it.
func (h *leaseHolder) shutdown() {
	h.mu.Lock()
	h.stopping = true
	stop, done := h.stop, h.done
	h.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}

// release stops renewing and gives the Lease up (clears its holder), if it
// is still surely this executor's; a Lease that was lost is left alone.
func (h *leaseHolder) release(ctx context.Context) error {
	h.shutdown()
	if h.held() != nil {
		return nil
	}
	leases := h.client.CoordinationV1().Leases(h.namespace)
	cur, err := leases.Get(ctx, LeaseName, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("releasing Lease %s/%s: %w", h.namespace, LeaseName, err)
	}
	if ptrString(cur.Spec.HolderIdentity) != h.instance || h.held() != nil {
		return nil
	}
	cur.Spec.HolderIdentity = nil
	// The update carries the resourceVersion read: a conflict means the
	// Lease is no longer ours to clear.
	if _, err := leases.Update(ctx, cur, metav1.UpdateOptions{}); err != nil && !apierrors.IsConflict(err) {
		return fmt.Errorf("releasing Lease %s/%s: %w", h.namespace, LeaseName, err)
	}
	return nil
}

func ptrString(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// isWrite reports whether a request of this method may change the
// cluster.
func isWrite(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// isServerDryRun reports whether the request is a server-side dry run: the
// dryRun=All query parameter, or an eviction whose body's deleteOptions
// ask for it (the Eviction API takes its dry run in the body).
func isServerDryRun(req *http.Request) bool {
	if req.URL.Query().Get("dryRun") == metav1.DryRunAll {
		return true
	}
	if req.Method != http.MethodPost || !strings.HasSuffix(req.URL.Path, "/eviction") || req.GetBody == nil {
		return false
	}
	body, err := req.GetBody()
	if err != nil {
		return false
	}
	defer body.Close()
	var eviction policyv1.Eviction
	if err := json.NewDecoder(io.LimitReader(body, 1<<20)).Decode(&eviction); err != nil {
		return false
	}
	return eviction.DeleteOptions != nil && slices.Equal(eviction.DeleteOptions.DryRun, []string{metav1.DryRunAll})
}

// fence wraps the transport of the executor's clients (all but the lease
// client): a request that would change the cluster is sent only while
// held says the Lease is held. Server-side dry runs change nothing and
// always go.
func fence(held func() error) func(http.RoundTripper) http.RoundTripper {
	return func(rt http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
			if isWrite(req.Method) && !isServerDryRun(req) {
				if err := held(); err != nil {
					return nil, fmt.Errorf("not sending %s %s: %w", req.Method, req.URL.Path, err)
				}
			}
			return rt.RoundTrip(req)
		})
	}
}
