package executor

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilnet "k8s.io/apimachinery/pkg/util/net"
)

// Retries of transient API errors: the first after retryInitial, each
// next one twice as late up to retryMax, for at most retryBudget in all —
// enough for a kube-apiserver restart or an etcd leader election.
var (
	retryInitial = 250 * time.Millisecond
	retryMax     = 8 * time.Second
	retryBudget  = 2 * time.Minute
)

// multiplePDBsMessage is in the API server's answer to the eviction of a
// pod that more than one PodDisruptionBudget selects (a 500 that retrying
// does not cure; see plan.EvictionMultiplePDBs).
const multiplePDBsMessage = "more than one PodDisruptionBudget"

// isTransient reports whether err is an API error that may go away by
// itself: a 5xx (but the 500 of a pod under two budgets), a 429 of API
// priority and fairness, a request that timed out, a connection refused
// (an API server restarting), reset or cut short. Never the Lease fence,
// nor the end of the caller's context.
func isTransient(err error) bool {
	switch {
	case err == nil, errors.Is(err, ErrLeaseLost), errors.Is(err, errNotHolding), errors.Is(err, ErrProgressConflict),
		errors.Is(err, context.Canceled):
		return false
	case strings.Contains(err.Error(), multiplePDBsMessage):
		return false
	case apierrors.IsInternalError(err), apierrors.IsServiceUnavailable(err), apierrors.IsServerTimeout(err),
		apierrors.IsTimeout(err), apierrors.IsTooManyRequests(err), apierrors.IsUnexpectedServerError(err):
		return true
	}
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		return st.Status().Code >= 500
	}
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, io.ErrUnexpectedEOF) ||
		utilnet.IsConnectionReset(err) || utilnet.IsProbableEOF(err) || (errors.As(err, &ne) && ne.Timeout())
}

// retry calls f until it succeeds, fails with an error that is not
// transient, the retry budget is spent or ctx ends (the sleeps between
// calls end with it). It returns f's last error.
func (e *executor) retry(ctx context.Context, f func(context.Context) error) error {
	return e.retryIf(ctx, isTransient, f)
}

// retryIf is retry with the errors transient says are.
func (e *executor) retryIf(ctx context.Context, transient func(error) bool, f func(context.Context) error) error {
	delay := retryInitial
	deadline := e.cfg.Clock.Now().Add(retryBudget)
	for {
		err := f(ctx)
		if !transient(err) || ctx.Err() != nil || !e.cfg.Clock.Now().Add(delay).Before(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-e.cfg.Clock.After(delay):
		}
		delay = min(2*delay, retryMax)
	}
}
