package capture

import (
	"context"
	"errors"
	"fmt"
	"net/url"
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
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"

	"github.com/noderoll/noderoll/snapshot"
)

// Defaults for Config.
const (
	// DefaultPageSize is how many objects one list request asks for.
	DefaultPageSize = 500
	// DefaultParallelism is how many kinds are listed at once.
	DefaultParallelism = 4
)

// Source is the Snapshot.Source of a capture.
const Source = "capture"

// Config configures Capture.
type Config struct {
	// REST is how to reach the cluster. Capture copies it; zero QPS and
	// Burst become 50 and 100, a zero Timeout two minutes per request.
	REST *rest.Config
	// Namespace, when not empty, limits the namespaced kinds (and the
	// Namespace objects) to that namespace. Nodes, PersistentVolumes,
	// StorageClasses and PriorityClasses are always listed in full.
	Namespace string
	// PageSize is the Limit of every list request; zero means
	// DefaultPageSize.
	PageSize int64
	// Parallelism is how many kinds are listed at once; zero means
	// DefaultParallelism.
	Parallelism int
	// Progress, when not nil, is called, never concurrently, with the
	// number of objects listed so far and the estimated total (which grows
	// as the first page of each kind says how many objects remain).
	Progress func(done, total int)
	// Now returns the capture time; nil means time.Now.
	Now func() time.Time
	// CountConfigMapsAndSecrets also lists ConfigMaps and Secrets, as
	// metadata only, to count them per namespace (OptionalPermissions).
	// RBAC cannot grant a metadata-only list, and whoever may list Secrets
	// may read them, so deploy/rbac.yaml does not grant it: when the lists
	// are refused, the capture goes on without the counts and says so in
	// the snapshot's Uncounted and Warnings. When false, neither kind is
	// listed and both are Uncounted.
	CountConfigMapsAndSecrets bool
}

// Permission is an RBAC permission capture needs.
type Permission struct {
	Verb string
	// Group is the API group, "" for the core group.
	Group    string
	Resource string
}

// String renders the permission as RBAC names it: "list pods",
// "list deployments.apps".
func (p Permission) String() string {
	if p.Group == "" {
		return p.Verb + " " + p.Resource
	}
	return p.Verb + " " + p.Resource + "." + p.Group
}

// Permissions returns every permission a capture needs, in a stable order:
// "list" on each resource it reads. deploy/rbac.yaml grants exactly these:
// nothing on Secrets and ConfigMaps.
func Permissions() []Permission { return permissions(false) }

// OptionalPermissions returns what Config.CountConfigMapsAndSecrets uses
// besides Permissions: "list" on configmaps and secrets. A capture without
// them still succeeds, without those counts.
func OptionalPermissions() []Permission { return permissions(true) }

func permissions(optional bool) []Permission {
	var out []Permission
	for _, k := range kinds {
		if k.optional == optional {
			out = append(out, k.permission())
		}
	}
	return out
}

// ForbiddenError is returned when the API server refused some lists. It
// names every permission that was missing.
type ForbiddenError struct {
	// Missing are the refused permissions; Namespace, when set, is where
	// they were refused.
	Missing   []Permission
	Namespace string
	// Errs are the API server's answers, in the order of Missing.
	Errs []error
}

func (e *ForbiddenError) Error() string {
	names := make([]string, len(e.Missing))
	for i, p := range e.Missing {
		names[i] = p.String()
	}
	where := "cluster-wide"
	if e.Namespace != "" {
		where = "in namespace " + e.Namespace
	}
	return fmt.Sprintf("forbidden: the credentials may not %s (%s); the ClusterRole in deploy/rbac.yaml grants what capture needs",
		strings.Join(names, ", "), where)
}

// Unwrap returns the API server's answers.
func (e *ForbiddenError) Unwrap() []error { return e.Errs }

// UnreachableError is returned when the API server cannot be reached.
type UnreachableError struct {
	// Host is the server's address as configured.
	Host string
	Err  error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach the API server at %s: %v", e.Host, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// Capture lists the cluster's objects into a new Snapshot, with TakenAt set
// to when it started, Source "capture" and the server's version.
func Capture(ctx context.Context, cfg Config) (*snapshot.Snapshot, error) {
	if cfg.REST == nil {
		return nil, errors.New("capture: no REST config")
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = DefaultPageSize
	}
	if cfg.Parallelism <= 0 {
		cfg.Parallelism = DefaultParallelism
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	rc := rest.CopyConfig(cfg.REST)
	if rc.QPS == 0 {
		rc.QPS = 50
	}
	if rc.Burst == 0 {
		rc.Burst = 100
	}
	if rc.Timeout == 0 {
		rc.Timeout = 2 * time.Minute
	}
	rc.UserAgent = rest.DefaultKubernetesUserAgent() + " noderoll-capture"
	meta, err := metadata.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	// Protobuf decodes the built-in kinds several times faster than JSON.
	typedConfig := rest.CopyConfig(rc)
	typedConfig.ContentType = "application/vnd.kubernetes.protobuf"
	typedConfig.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	typed, err := kubernetes.NewForConfig(typedConfig)
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}

	takenAt := cfg.Now()
	info, err := typed.Discovery().ServerVersion()
	if err != nil {
		return nil, classify(rc.Host, err)
	}

	s := &snapshot.Snapshot{
		TypeMeta:      metav1.TypeMeta{APIVersion: snapshot.APIVersion, Kind: snapshot.Kind},
		TakenAt:       metav1.NewTime(takenAt),
		Source:        Source,
		ServerVersion: info.GitVersion,
	}
	var active []kind
	for _, k := range kinds {
		if !k.optional || cfg.CountConfigMapsAndSecrets {
			active = append(active, k)
		} else {
			s.Uncounted = append(s.Uncounted, k.countedKind)
		}
	}
	c := &capturer{
		cfg:    cfg,
		kinds:  active,
		typed:  typed,
		meta:   meta,
		snap:   s,
		counts: make([]map[string]snapshot.ObjectCounts, len(active)),
		seen:   make([]int, len(active)),
		known:  make([]int, len(active)),
	}
	errs := c.run(ctx)
	c.optionalRefused(errs)
	if err := c.combine(rc.Host, errs); err != nil {
		return nil, err
	}
	for _, m := range c.counts {
		for ns, n := range m {
			if s.NamespaceCounts == nil {
				s.NamespaceCounts = make(map[string]snapshot.ObjectCounts)
			}
			acc := s.NamespaceCounts[ns]
			acc.ConfigMaps += n.ConfigMaps
			acc.Secrets += n.Secrets
			acc.ServiceAccounts += n.ServiceAccounts
			acc.Roles += n.Roles
			acc.RoleBindings += n.RoleBindings
			s.NamespaceCounts[ns] = acc
		}
	}
	return s, nil
}

// capturer is one Capture's state. Each kind i writes only its own slot
// (its Snapshot slice, counts[i], seen[i], known[i]); mu guards the
// progress figures across kinds.
type capturer struct {
	cfg    Config
	kinds  []kind // what this capture lists
	typed  kubernetes.Interface
	meta   metadata.Interface
	snap   *snapshot.Snapshot
	counts []map[string]snapshot.ObjectCounts

	mu    sync.Mutex
	seen  []int // objects listed, per kind
	known []int // objects known to exist (listed + remaining), per kind
}

// run lists every kind, at most cfg.Parallelism at once, and returns each
// kind's error in slot i.
func (c *capturer) run(ctx context.Context) []error {
	errs := make([]error, len(c.kinds))
	sem := make(chan struct{}, c.cfg.Parallelism)
	var wg sync.WaitGroup
	for i := range c.kinds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			defer func() { <-sem }()
			errs[i] = c.listKind(ctx, i)
		}()
	}
	wg.Wait()
	return errs
}

// listKind lists kind i page by page. An expired continue token (the list
// took longer than etcd keeps history) restarts the list, up to three
// times.
func (c *capturer) listKind(ctx context.Context, i int) error {
	k := &c.kinds[i]
	ns := ""
	if k.namespaced {
		ns = c.cfg.Namespace
	}
	for attempt := 0; ; attempt++ {
		k.reset(c, i)
		c.progress(i, 0, 0, true)
		opts := metav1.ListOptions{Limit: c.cfg.PageSize}
		if k.gvr.Resource == "namespaces" && c.cfg.Namespace != "" {
			opts.FieldSelector = fields.OneTermEqualSelector("metadata.name", c.cfg.Namespace).String()
		}
		err := c.pages(ctx, i, ns, opts)
		if apierrors.IsResourceExpired(err) && attempt < 3 {
			continue
		}
		if err != nil {
			return fmt.Errorf("listing %s: %w", k.gvr.GroupResource(), err)
		}
		return nil
	}
}

// pages lists every page of kind i into the snapshot.
func (c *capturer) pages(ctx context.Context, i int, ns string, opts metav1.ListOptions) error {
	k := &c.kinds[i]
	for {
		n, lm, err := k.page(ctx, c, i, ns, opts)
		if err != nil {
			return err
		}
		remaining := 0
		if r := lm.GetRemainingItemCount(); r != nil {
			remaining = int(*r)
		}
		c.progress(i, n, remaining, false)
		if lm.GetContinue() == "" {
			return nil
		}
		opts.Continue = lm.GetContinue()
	}
}

// progress records that kind i listed n more objects, with remaining more
// to come, and reports the totals. reset forgets what kind i listed before.
func (c *capturer) progress(i, n, remaining int, reset bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if reset {
		c.seen[i], c.known[i] = 0, 0
	} else {
		c.seen[i] += n
		c.known[i] = c.seen[i] + remaining
	}
	if c.cfg.Progress == nil || reset {
		return
	}
	done, total := 0, 0
	for j := range c.seen {
		done += c.seen[j]
		total += c.known[j]
	}
	c.cfg.Progress(done, total)
}

// optionalRefused clears the errors of the optional kinds the API server
// refused: their counts are left out, Uncounted names them and a warning
// says why.
func (c *capturer) optionalRefused(errs []error) {
	for i, err := range errs {
		k := &c.kinds[i]
		if !k.optional || !apierrors.IsForbidden(err) {
			continue
		}
		errs[i] = nil
		c.counts[i] = nil
		c.snap.Uncounted = append(c.snap.Uncounted, k.countedKind)
		c.snap.Warnings = append(c.snap.Warnings, snapshot.Issue{
			Severity: snapshot.SeverityWarning, Code: snapshot.IssueNotCounted,
			Message: fmt.Sprintf("%ss are not counted: the credentials may not %s", k.countedKind, k.permission()),
			Err:     err,
		})
	}
}

// combine turns the kinds' errors into Capture's: a *ForbiddenError naming
// every refused permission, else an *UnreachableError, else the first
// error in kind order.
func (c *capturer) combine(host string, errs []error) error {
	var forbidden ForbiddenError
	for i, err := range errs {
		if apierrors.IsForbidden(err) {
			forbidden.Missing = append(forbidden.Missing, c.kinds[i].permission())
			forbidden.Errs = append(forbidden.Errs, err)
		}
	}
	if len(forbidden.Missing) > 0 {
		forbidden.Namespace = c.cfg.Namespace
		return &forbidden
	}
	for _, err := range errs {
		if err != nil {
			return classify(host, err)
		}
	}
	return nil
}

// classify wraps an error that did not come from the API server as an
// *UnreachableError; the API server's own answers pass unchanged, with
// 401 explained.
func classify(host string, err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if apierrors.IsUnauthorized(err) {
		return fmt.Errorf("unauthorized: the API server at %s refused the kubeconfig's credentials: %w", host, err)
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return err
	}
	var uerr *url.Error
	if errors.As(err, &uerr) || isNetError(err) {
		return &UnreachableError{Host: host, Err: err}
	}
	return err
}

// kind is one resource Capture lists.
type kind struct {
	gvr        schema.GroupVersionResource
	namespaced bool
	// optional kinds are listed only with Config.CountConfigMapsAndSecrets.
	optional bool
	// countedKind is the Kind of a counted resource ("Secret").
	countedKind string
	// reset empties what the kind stored, before a (re)start.
	reset func(c *capturer, i int)
	// page lists one page into the snapshot and returns how many objects
	// it held and its list metadata.
	page func(ctx context.Context, c *capturer, i int, ns string, opts metav1.ListOptions) (int, metav1.ListInterface, error)
}

// kinds lists, in order, what Capture reads. The order is that of
// snapshot.Snapshot's fields, then the counted kinds.
var kinds = []kind{
	stored(corev1.SchemeGroupVersion.WithResource("nodes"), false,
		func(c kubernetes.Interface, _ string) listFunc[*corev1.NodeList] { return c.CoreV1().Nodes().List },
		func(l *corev1.NodeList) []corev1.Node { return l.Items },
		func(s *snapshot.Snapshot) *[]corev1.Node { return &s.Nodes }),
	stored(corev1.SchemeGroupVersion.WithResource("pods"), true,
		func(c kubernetes.Interface, ns string) listFunc[*corev1.PodList] { return c.CoreV1().Pods(ns).List },
		func(l *corev1.PodList) []corev1.Pod { return l.Items },
		func(s *snapshot.Snapshot) *[]corev1.Pod { return &s.Pods }),
	stored(policyv1.SchemeGroupVersion.WithResource("poddisruptionbudgets"), true,
		func(c kubernetes.Interface, ns string) listFunc[*policyv1.PodDisruptionBudgetList] {
			return c.PolicyV1().PodDisruptionBudgets(ns).List
		},
		func(l *policyv1.PodDisruptionBudgetList) []policyv1.PodDisruptionBudget { return l.Items },
		func(s *snapshot.Snapshot) *[]policyv1.PodDisruptionBudget { return &s.PodDisruptionBudgets }),
	stored(appsv1.SchemeGroupVersion.WithResource("deployments"), true,
		func(c kubernetes.Interface, ns string) listFunc[*appsv1.DeploymentList] {
			return c.AppsV1().Deployments(ns).List
		},
		func(l *appsv1.DeploymentList) []appsv1.Deployment { return l.Items },
		func(s *snapshot.Snapshot) *[]appsv1.Deployment { return &s.Deployments }),
	stored(appsv1.SchemeGroupVersion.WithResource("replicasets"), true,
		func(c kubernetes.Interface, ns string) listFunc[*appsv1.ReplicaSetList] {
			return c.AppsV1().ReplicaSets(ns).List
		},
		func(l *appsv1.ReplicaSetList) []appsv1.ReplicaSet { return l.Items },
		func(s *snapshot.Snapshot) *[]appsv1.ReplicaSet { return &s.ReplicaSets }),
	stored(appsv1.SchemeGroupVersion.WithResource("statefulsets"), true,
		func(c kubernetes.Interface, ns string) listFunc[*appsv1.StatefulSetList] {
			return c.AppsV1().StatefulSets(ns).List
		},
		func(l *appsv1.StatefulSetList) []appsv1.StatefulSet { return l.Items },
		func(s *snapshot.Snapshot) *[]appsv1.StatefulSet { return &s.StatefulSets }),
	stored(appsv1.SchemeGroupVersion.WithResource("daemonsets"), true,
		func(c kubernetes.Interface, ns string) listFunc[*appsv1.DaemonSetList] {
			return c.AppsV1().DaemonSets(ns).List
		},
		func(l *appsv1.DaemonSetList) []appsv1.DaemonSet { return l.Items },
		func(s *snapshot.Snapshot) *[]appsv1.DaemonSet { return &s.DaemonSets }),
	stored(batchv1.SchemeGroupVersion.WithResource("jobs"), true,
		func(c kubernetes.Interface, ns string) listFunc[*batchv1.JobList] { return c.BatchV1().Jobs(ns).List },
		func(l *batchv1.JobList) []batchv1.Job { return l.Items },
		func(s *snapshot.Snapshot) *[]batchv1.Job { return &s.Jobs }),
	stored(batchv1.SchemeGroupVersion.WithResource("cronjobs"), true,
		func(c kubernetes.Interface, ns string) listFunc[*batchv1.CronJobList] {
			return c.BatchV1().CronJobs(ns).List
		},
		func(l *batchv1.CronJobList) []batchv1.CronJob { return l.Items },
		func(s *snapshot.Snapshot) *[]batchv1.CronJob { return &s.CronJobs }),
	stored(corev1.SchemeGroupVersion.WithResource("services"), true,
		func(c kubernetes.Interface, ns string) listFunc[*corev1.ServiceList] {
			return c.CoreV1().Services(ns).List
		},
		func(l *corev1.ServiceList) []corev1.Service { return l.Items },
		func(s *snapshot.Snapshot) *[]corev1.Service { return &s.Services }),
	stored(corev1.SchemeGroupVersion.WithResource("persistentvolumeclaims"), true,
		func(c kubernetes.Interface, ns string) listFunc[*corev1.PersistentVolumeClaimList] {
			return c.CoreV1().PersistentVolumeClaims(ns).List
		},
		func(l *corev1.PersistentVolumeClaimList) []corev1.PersistentVolumeClaim { return l.Items },
		func(s *snapshot.Snapshot) *[]corev1.PersistentVolumeClaim { return &s.PersistentVolumeClaims }),
	stored(corev1.SchemeGroupVersion.WithResource("persistentvolumes"), false,
		func(c kubernetes.Interface, _ string) listFunc[*corev1.PersistentVolumeList] {
			return c.CoreV1().PersistentVolumes().List
		},
		func(l *corev1.PersistentVolumeList) []corev1.PersistentVolume { return l.Items },
		func(s *snapshot.Snapshot) *[]corev1.PersistentVolume { return &s.PersistentVolumes }),
	stored(storagev1.SchemeGroupVersion.WithResource("storageclasses"), false,
		func(c kubernetes.Interface, _ string) listFunc[*storagev1.StorageClassList] {
			return c.StorageV1().StorageClasses().List
		},
		func(l *storagev1.StorageClassList) []storagev1.StorageClass { return l.Items },
		func(s *snapshot.Snapshot) *[]storagev1.StorageClass { return &s.StorageClasses }),
	stored(corev1.SchemeGroupVersion.WithResource("namespaces"), false,
		func(c kubernetes.Interface, _ string) listFunc[*corev1.NamespaceList] {
			return c.CoreV1().Namespaces().List
		},
		func(l *corev1.NamespaceList) []corev1.Namespace { return l.Items },
		func(s *snapshot.Snapshot) *[]corev1.Namespace { return &s.Namespaces }),
	stored(schedulingv1.SchemeGroupVersion.WithResource("priorityclasses"), false,
		func(c kubernetes.Interface, _ string) listFunc[*schedulingv1.PriorityClassList] {
			return c.SchedulingV1().PriorityClasses().List
		},
		func(l *schedulingv1.PriorityClassList) []schedulingv1.PriorityClass { return l.Items },
		func(s *snapshot.Snapshot) *[]schedulingv1.PriorityClass { return &s.PriorityClasses }),

	counted(corev1.SchemeGroupVersion.WithResource("serviceaccounts"), "ServiceAccount", false,
		func(c *snapshot.ObjectCounts) { c.ServiceAccounts++ }),
	counted(schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"}, "Role", false,
		func(c *snapshot.ObjectCounts) { c.Roles++ }),
	counted(schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"}, "RoleBinding", false,
		func(c *snapshot.ObjectCounts) { c.RoleBindings++ }),
	counted(corev1.SchemeGroupVersion.WithResource("configmaps"), "ConfigMap", true,
		func(c *snapshot.ObjectCounts) { c.ConfigMaps++ }),
	counted(corev1.SchemeGroupVersion.WithResource("secrets"), "Secret", true,
		func(c *snapshot.ObjectCounts) { c.Secrets++ }),
}

// permission is the RBAC permission listing the kind needs.
func (k *kind) permission() Permission {
	return Permission{Verb: "list", Group: k.gvr.Group, Resource: k.gvr.Resource}
}

// listFunc is a typed client's List method.
type listFunc[L any] func(ctx context.Context, opts metav1.ListOptions) (L, error)

// stored builds a kind whose objects the snapshot keeps in the slice dst
// returns, each passed through snapshot.ScrubObject first.
func stored[L metav1.ListInterface, T any, P interface {
	*T
	metav1.Object
}](gvr schema.GroupVersionResource, namespaced bool,
	list func(c kubernetes.Interface, ns string) listFunc[L], items func(L) []T,
	dst func(*snapshot.Snapshot) *[]T) kind {
	return kind{
		gvr:        gvr,
		namespaced: namespaced,
		reset:      func(c *capturer, _ int) { *dst(c.snap) = nil },
		page: func(ctx context.Context, c *capturer, _ int, ns string, opts metav1.ListOptions) (int, metav1.ListInterface, error) {
			l, err := list(c.typed, ns)(ctx, opts)
			if err != nil {
				return 0, nil, err
			}
			objs := items(l)
			for j := range objs {
				snapshot.ScrubObject(P(&objs[j]))
			}
			*dst(c.snap) = append(*dst(c.snap), objs...)
			return len(objs), l, nil
		},
	}
}

// counted builds a kind that is only counted per namespace, from its
// metadata: the objects' content is never requested. An optional one is
// listed only when asked for.
func counted(gvr schema.GroupVersionResource, kindName string, optional bool, count func(*snapshot.ObjectCounts)) kind {
	return kind{
		gvr:         gvr,
		namespaced:  true,
		optional:    optional,
		countedKind: kindName,
		reset:       func(c *capturer, i int) { c.counts[i] = make(map[string]snapshot.ObjectCounts) },
		page: func(ctx context.Context, c *capturer, i int, ns string, opts metav1.ListOptions) (int, metav1.ListInterface, error) {
			l, err := c.meta.Resource(gvr).Namespace(ns).List(ctx, opts)
			if err != nil {
				return 0, nil, err
			}
			for j := range l.Items {
				n := c.counts[i][l.Items[j].Namespace]
				count(&n)
				c.counts[i][l.Items[j].Namespace] = n
			}
			return len(l.Items), l, nil
		},
	}
}
