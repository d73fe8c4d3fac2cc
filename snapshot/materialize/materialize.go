package materialize

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/noderoll/noderoll/snapshot"
)

// Defaults for Config.
const (
	// DefaultTimeout is how long Apply waits for the cluster to settle.
	DefaultTimeout = 10 * time.Minute
	// DefaultParallelism is how many objects Apply creates at once.
	DefaultParallelism = 16
)

// ErrNotKWOK is wrapped by the error Apply returns for a cluster that has
// nodes KWOK does not manage.
var ErrNotKWOK = errors.New("the cluster has nodes that are not KWOK nodes")

// ErrNotSettled is wrapped by the error Apply returns when the pods are not
// all Running and Ready within the timeout.
var ErrNotSettled = errors.New("the cluster did not settle")

// Phase says what Apply is doing.
type Phase string

// The phases, in order.
const (
	PhaseCreating Phase = "creating"
	PhaseSettling Phase = "waiting for pods"
)

// Progress is what Apply reports as it goes.
type Progress struct {
	Phase Phase
	// Done and Total count objects created (PhaseCreating) or pods Running
	// and Ready out of those expected (PhaseSettling).
	Done, Total int
}

// Config configures Apply.
type Config struct {
	// REST is how to reach the cluster. Apply copies it; zero QPS and Burst
	// become 500 and 1000.
	REST *rest.Config
	// Force applies even to a cluster whose nodes are not all KWOK nodes.
	// Only for clusters made for tests and demonstrations.
	Force bool
	// NoWait returns as soon as everything is created.
	NoWait bool
	// Timeout bounds the wait for the cluster to settle; zero means
	// DefaultTimeout.
	Timeout time.Duration
	// Parallelism is how many objects are created at once; zero means
	// DefaultParallelism.
	Parallelism int
	// Progress, when not nil, is called (never concurrently) as objects are
	// created and as pods turn Ready.
	Progress func(Progress)
}

// Result says what Apply did.
type Result struct {
	// Created counts the objects created, by kind; Existing those that
	// were already there (Apply can be run again).
	Created, Existing map[string]int
	// Skipped counts the snapshot's objects left to the controllers or not
	// recreated, by kind and reason, e.g. "Pod (made by its controller)".
	Skipped map[string]int
	// ExpectedPods is how many pods the snapshot had running; ReadyPods
	// how many were Running and Ready when Apply returned.
	ExpectedPods, ReadyPods int
	// CreateTime is how long creating took, SettleTime how long the pods
	// then took to be Running and Ready.
	CreateTime, SettleTime time.Duration
}

// Apply recreates the snapshot on the cluster (see the package
// documentation for what it creates and how) and waits until the cluster
// settles. It refuses, with an error wrapping ErrNotKWOK that names the
// nodes, a cluster with nodes KWOK does not manage unless cfg.Force is set.
// Objects that already exist are left as they are.
func Apply(ctx context.Context, s *snapshot.Snapshot, cfg Config) (*Result, error) {
	if cfg.REST == nil {
		return nil, errors.New("apply: no REST config")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Parallelism <= 0 {
		cfg.Parallelism = DefaultParallelism
	}
	rc := rest.CopyConfig(cfg.REST)
	if rc.QPS == 0 {
		rc.QPS, rc.Burst = 500, 1000
	}
	rc.UserAgent = rest.DefaultKubernetesUserAgent() + " noderoll-apply"
	// Protobuf: the wait lists every pod, again and again.
	rc.ContentType = "application/vnd.kubernetes.protobuf"
	rc.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("apply: %w", err)
	}
	if !cfg.Force {
		if err := checkKWOK(ctx, client); err != nil {
			return nil, err
		}
	}

	steps, skip := plan(s)
	res := &Result{Created: map[string]int{}, Existing: map[string]int{}, Skipped: skip, ExpectedPods: expectedPods(s)}
	a := &applier{client: client, cfg: cfg, res: res, uids: map[snapshot.ObjectRef]types.UID{}}
	for _, st := range steps {
		a.total += len(st.objs)
	}
	start := time.Now()
	for _, st := range steps {
		if err := a.run(ctx, st); err != nil {
			return res, err
		}
	}
	res.CreateTime = time.Since(start)
	if cfg.NoWait {
		return res, nil
	}
	start = time.Now()
	err = settle(ctx, client, res, cfg)
	res.SettleTime = time.Since(start)
	return res, err
}

// checkKWOK refuses a cluster with a node that lacks KWOK's annotation.
func checkKWOK(ctx context.Context, client kubernetes.Interface) error {
	var foreign []string
	opts := metav1.ListOptions{Limit: 500}
	for {
		l, err := client.CoreV1().Nodes().List(ctx, opts)
		if err != nil {
			return fmt.Errorf("listing nodes to check they are KWOK nodes: %w", err)
		}
		for i := range l.Items {
			if !IsKWOKNode(&l.Items[i]) {
				foreign = append(foreign, l.Items[i].Name)
			}
		}
		if l.Continue == "" {
			break
		}
		opts.Continue = l.Continue
	}
	if len(foreign) == 0 {
		return nil
	}
	shown := foreign[:min(len(foreign), 5)]
	more := ""
	if len(foreign) > len(shown) {
		more = fmt.Sprintf(" and %d more", len(foreign)-len(shown))
	}
	verb := "lack"
	if len(foreign) == 1 {
		verb = "lacks"
	}
	return fmt.Errorf("%w: node %s%s %s the annotation %s=%s; apply is for KWOK test clusters (use --force to apply anyway)",
		ErrNotKWOK, strings.Join(shown, ", "), more, verb, KWOKNodeAnnotation, KWOKNodeAnnotationValue)
}

// applier creates the objects of the steps.
type applier struct {
	client kubernetes.Interface
	cfg    Config
	res    *Result

	mu    sync.Mutex
	uids  map[snapshot.ObjectRef]types.UID
	done  int
	total int
}

// run creates a step's objects, cfg.Parallelism at a time. It returns a
// *CreateError naming every object that failed.
func (a *applier) run(ctx context.Context, st step) error {
	errs := make([]error, len(st.objs))
	sem := make(chan struct{}, a.cfg.Parallelism)
	var wg sync.WaitGroup
	for i := range st.objs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return ctx.Err()
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = a.create(ctx, &st.objs[i])
		}()
	}
	wg.Wait()
	ce := &CreateError{Step: st.name}
	for i, err := range errs {
		if err != nil {
			ce.Failed = append(ce.Failed, st.objs[i].ref)
			ce.Errs = append(ce.Errs, err)
		}
	}
	if len(ce.Failed) == 0 {
		return ctx.Err()
	}
	return ce
}

// create creates one object; one that already exists counts as such.
func (a *applier) create(ctx context.Context, o *object) error {
	if o.prepare != nil {
		a.mu.Lock()
		uids := maps.Clone(a.uids)
		a.mu.Unlock()
		if err := o.prepare(uids); err != nil {
			return err
		}
	}
	uid, err := createObject(ctx, a.client, o.obj)
	existed := apierrors.IsAlreadyExists(err)
	if err != nil && !existed {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if existed {
		a.res.Existing[o.ref.Kind]++
	} else {
		a.res.Created[o.ref.Kind]++
		a.uids[o.ref] = uid
	}
	a.done++
	if a.cfg.Progress != nil {
		a.cfg.Progress(Progress{Phase: PhaseCreating, Done: a.done, Total: a.total})
	}
	return nil
}

// createObject creates obj with the typed client of its kind and returns
// the new object's UID.
func createObject(ctx context.Context, c kubernetes.Interface, obj runtime.Object) (types.UID, error) {
	opts := metav1.CreateOptions{FieldManager: "noderoll"}
	var out metav1.Object
	var err error
	switch o := obj.(type) {
	case *corev1.Node:
		out, err = c.CoreV1().Nodes().Create(ctx, o, opts)
	case *corev1.Namespace:
		out, err = c.CoreV1().Namespaces().Create(ctx, o, opts)
	case *schedulingv1.PriorityClass:
		out, err = c.SchedulingV1().PriorityClasses().Create(ctx, o, opts)
	case *storagev1.StorageClass:
		out, err = c.StorageV1().StorageClasses().Create(ctx, o, opts)
	case *corev1.PersistentVolume:
		out, err = c.CoreV1().PersistentVolumes().Create(ctx, o, opts)
	case *corev1.PersistentVolumeClaim:
		out, err = c.CoreV1().PersistentVolumeClaims(o.Namespace).Create(ctx, o, opts)
	case *corev1.ServiceAccount:
		out, err = c.CoreV1().ServiceAccounts(o.Namespace).Create(ctx, o, opts)
	case *corev1.Service:
		out, err = c.CoreV1().Services(o.Namespace).Create(ctx, o, opts)
	case *policyv1.PodDisruptionBudget:
		out, err = c.PolicyV1().PodDisruptionBudgets(o.Namespace).Create(ctx, o, opts)
	case *batchv1.CronJob:
		out, err = c.BatchV1().CronJobs(o.Namespace).Create(ctx, o, opts)
	case *appsv1.Deployment:
		out, err = c.AppsV1().Deployments(o.Namespace).Create(ctx, o, opts)
	case *appsv1.ReplicaSet:
		out, err = c.AppsV1().ReplicaSets(o.Namespace).Create(ctx, o, opts)
	case *appsv1.StatefulSet:
		out, err = c.AppsV1().StatefulSets(o.Namespace).Create(ctx, o, opts)
	case *appsv1.DaemonSet:
		out, err = c.AppsV1().DaemonSets(o.Namespace).Create(ctx, o, opts)
	case *batchv1.Job:
		out, err = c.BatchV1().Jobs(o.Namespace).Create(ctx, o, opts)
	case *corev1.Pod:
		out, err = c.CoreV1().Pods(o.Namespace).Create(ctx, o, opts)
	default:
		return "", fmt.Errorf("cannot create a %T", obj)
	}
	if err != nil {
		return "", err
	}
	return out.GetUID(), nil
}

// CreateError lists the objects of a step that could not be created.
type CreateError struct {
	// Step names the step, e.g. "workloads".
	Step string
	// Failed are the objects, and Errs the API server's answers, in the
	// same order.
	Failed []snapshot.ObjectRef
	Errs   []error
}

func (e *CreateError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "creating %s: %d failed: ", e.Step, len(e.Failed))
	for i := range e.Failed {
		if i == 5 {
			fmt.Fprintf(&b, "; and %d more", len(e.Failed)-i)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s: %v", e.Failed[i], e.Errs[i])
	}
	return b.String()
}

// Unwrap returns the API server's answers.
func (e *CreateError) Unwrap() []error { return e.Errs }
