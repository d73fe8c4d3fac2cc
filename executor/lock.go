package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
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

// LockedError: another executor holds the Lease.
type LockedError struct {
	Namespace string
	Holder    string
	// RenewedAt is when the holder last renewed it.
	RenewedAt time.Time
	// Expires is when it lapses unless renewed.
	Expires time.Time
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("another executor is running: Lease %s/%s is held by %q (renewed %s, expires %s unless renewed)",
		e.Namespace, LeaseName, e.Holder, e.RenewedAt.UTC().Format(time.RFC3339), e.Expires.UTC().Format(time.RFC3339))
}

// lease is the Lease this executor holds.
type lease struct {
	client    kubernetes.Interface
	namespace string
	identity  string
	duration  time.Duration
	clock     clock.Clock
}

// acquire takes the Lease: it creates it, or takes it over when it is free
// (no holder) or has lapsed. When another executor holds it, acquire
// returns a *LockedError at once, or, with wait, keeps trying until the
// holder's lease lapses (a killed executor stops renewing) or ctx ends.
func (l *lease) acquire(ctx context.Context, wait bool) error {
	for {
		err := l.tryAcquire(ctx)
		var le *LockedError
		if !errors.As(err, &le) || !wait {
			return err
		}
		delay := max(le.Expires.Sub(l.clock.Now()), 0) + 500*time.Millisecond
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the Lease: %w (last: %w)", ctx.Err(), err)
		case <-l.clock.After(delay):
		}
	}
}

func (l *lease) tryAcquire(ctx context.Context) error {
	leases := l.client.CoordinationV1().Leases(l.namespace)
	now := metav1.NewMicroTime(l.clock.Now())
	secs := int32(l.duration / time.Second)
	cur, err := leases.Get(ctx, LeaseName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = leases.Create(ctx, &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: LeaseName, Namespace: l.namespace},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: &l.identity, LeaseDurationSeconds: &secs,
				AcquireTime: &now, RenewTime: &now},
		}, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return l.tryAcquire(ctx)
		}
		if err != nil {
			return fmt.Errorf("creating Lease %s/%s: %w", l.namespace, LeaseName, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading Lease %s/%s: %w", l.namespace, LeaseName, err)
	}
	holder := ""
	if cur.Spec.HolderIdentity != nil {
		holder = *cur.Spec.HolderIdentity
	}
	if holder != "" && holder != l.identity {
		renewed := cur.CreationTimestamp.Time
		if cur.Spec.RenewTime != nil {
			renewed = cur.Spec.RenewTime.Time
		}
		dur := l.duration
		if cur.Spec.LeaseDurationSeconds != nil {
			dur = time.Duration(*cur.Spec.LeaseDurationSeconds) * time.Second
		}
		if expires := renewed.Add(dur); l.clock.Now().Before(expires) {
			return &LockedError{Namespace: l.namespace, Holder: holder, RenewedAt: renewed, Expires: expires}
		}
	}
	cur.Spec.HolderIdentity = &l.identity
	cur.Spec.LeaseDurationSeconds = &secs
	cur.Spec.AcquireTime, cur.Spec.RenewTime = &now, &now
	// The update carries the resourceVersion read: if another executor
	// took the Lease in between, it fails with a conflict.
	if _, err := leases.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		if apierrors.IsConflict(err) {
			return l.tryAcquire(ctx)
		}
		return fmt.Errorf("taking over Lease %s/%s: %w", l.namespace, LeaseName, err)
	}
	return nil
}

// renew keeps the Lease until ctx ends, renewing it every third of its
// duration. When it cannot renew for a whole duration (or someone else
// took the Lease), it calls lost and returns.
func (l *lease) renew(ctx context.Context, lost func(error)) {
	leases := l.client.CoordinationV1().Leases(l.namespace)
	lastOK := l.clock.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.clock.After(l.duration / 3):
		}
		err := func() error {
			cur, err := leases.Get(ctx, LeaseName, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if cur.Spec.HolderIdentity == nil || *cur.Spec.HolderIdentity != l.identity {
				return &LockedError{Namespace: l.namespace, Holder: ptrString(cur.Spec.HolderIdentity)}
			}
			now := metav1.NewMicroTime(l.clock.Now())
			cur.Spec.RenewTime = &now
			_, err = leases.Update(ctx, cur, metav1.UpdateOptions{})
			return err
		}()
		var le *LockedError
		switch {
		case err == nil:
			lastOK = l.clock.Now()
		case ctx.Err() != nil:
			return
		case errors.As(err, &le) || l.clock.Since(lastOK) > l.duration:
			lost(fmt.Errorf("lost Lease %s/%s: %w", l.namespace, LeaseName, err))
			return
		}
	}
}

// release gives the Lease up (clears its holder) if this executor holds it.
func (l *lease) release(ctx context.Context) error {
	leases := l.client.CoordinationV1().Leases(l.namespace)
	cur, err := leases.Get(ctx, LeaseName, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("releasing Lease %s/%s: %w", l.namespace, LeaseName, err)
	}
	if cur.Spec.HolderIdentity == nil || *cur.Spec.HolderIdentity != l.identity {
		return nil
	}
	cur.Spec.HolderIdentity = nil
	if _, err := leases.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("releasing Lease %s/%s: %w", l.namespace, LeaseName, err)
	}
	return nil
}

func ptrString(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// progressStore persists the run record in a ConfigMap.
type progressStore struct {
	client    kubernetes.Interface
	namespace string
}

// load returns the persisted record and the plan digest it belongs to;
// nil when there is none.
func (s *progressStore) load(ctx context.Context) (*Record, error) {
	cm, err := s.client.CoreV1().ConfigMaps(s.namespace).Get(ctx, ProgressName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading progress ConfigMap %s/%s: %w", s.namespace, ProgressName, err)
	}
	var r Record
	if err := json.Unmarshal([]byte(cm.Data[ProgressKey]), &r); err != nil {
		return nil, fmt.Errorf("progress ConfigMap %s/%s: data[%s]: %w", s.namespace, ProgressName, ProgressKey, err)
	}
	return &r, nil
}

// save writes the record, creating the ConfigMap when needed. Only the
// Lease holder writes, so a plain update is enough.
func (s *progressStore) save(ctx context.Context, r *Record) error {
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encoding progress: %w", err)
	}
	cms := s.client.CoreV1().ConfigMaps(s.namespace)
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: ProgressName, Namespace: s.namespace,
			Labels: map[string]string{"app.kubernetes.io/name": "noderoll"}},
		Data: map[string]string{ProgressKey: string(data), DigestKey: r.PlanDigest},
	}
	_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		_, err = cms.Create(ctx, cm, metav1.CreateOptions{})
	}
	if err != nil {
		return fmt.Errorf("saving progress in ConfigMap %s/%s: %w", s.namespace, ProgressName, err)
	}
	return nil
}
