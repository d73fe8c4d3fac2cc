package scheduler

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	corev1 "k8s.io/api/core/v1"
	resourceapi "k8s.io/api/resource/v1"
	schedulingv1alpha3 "k8s.io/api/scheduling/v1alpha3"
	schedulingv1beta1 "k8s.io/api/scheduling/v1beta1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apiserver/pkg/util/feature"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/dynamic-resource-allocation/structured"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/apis/config"
	"k8s.io/kubernetes/pkg/scheduler/apis/config/latest"
	configscheme "k8s.io/kubernetes/pkg/scheduler/apis/config/scheme"
	"k8s.io/kubernetes/pkg/scheduler/apis/config/validation"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework/parallelize"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins"
	plfeature "k8s.io/kubernetes/pkg/scheduler/framework/plugins/feature"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/names"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/podtopologyspread"
	frameworkruntime "k8s.io/kubernetes/pkg/scheduler/framework/runtime"
	"k8s.io/kubernetes/pkg/scheduler/metrics"
)

var registerMetrics sync.Once

// MaxConfigBytes bounds a scheduler configuration file (--scheduler-config):
// a larger one is refused without being read whole.
const MaxConfigBytes = 1 << 20

// ConfigError is a scheduler configuration file (--scheduler-config) that
// cannot be used: missing, too large, not a valid KubeSchedulerConfiguration
// or without the profile asked for. Its message names the file. The CLI
// maps it to exit code 2, as other bad input.
type ConfigError struct {
	// File is the configuration file.
	File string
	// Err says what is wrong with it.
	Err error
}

func (e *ConfigError) Error() string { return e.Err.Error() }

// Unwrap returns what is wrong with the file.
func (e *ConfigError) Unwrap() error { return e.Err }

// loadProfile returns the scheduler profile to run: the named (or first)
// profile of the KubeSchedulerConfiguration in file, decoded and defaulted by
// the scheduler's own scheme, or the default profile when file is empty.
func loadProfile(file, name string) (*config.KubeSchedulerProfile, error) {
	if file == "" {
		def, err := latest.Default()
		if err != nil {
			return nil, fmt.Errorf("building the default scheduler configuration: %w", err)
		}
		return pickProfile(file, def, name)
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, &ConfigError{File: file, Err: fmt.Errorf("reading scheduler configuration: %w", err)}
	}
	defer func() { _ = f.Close() }() // read-only: nothing to lose
	data, err := io.ReadAll(io.LimitReader(f, MaxConfigBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading scheduler configuration %s: %w", file, err)
	}
	p, err := decodeProfile(file, data, name)
	if err != nil {
		return nil, &ConfigError{File: file, Err: err}
	}
	return p, nil
}

// decodeProfile decodes, defaults and validates the KubeSchedulerConfiguration
// in data, read from file, and returns its named (or first) profile. Every
// error names the file.
func decodeProfile(file string, data []byte, name string) (*config.KubeSchedulerProfile, error) {
	if len(data) > MaxConfigBytes {
		return nil, fmt.Errorf("%s: the file is larger than the limit of %d MiB", file, MaxConfigBytes>>20)
	}
	obj, _, err := configscheme.Codecs.UniversalDecoder().Decode(data, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: decoding KubeSchedulerConfiguration: %w", file, err)
	}
	c, ok := obj.(*config.KubeSchedulerConfiguration)
	if !ok {
		return nil, fmt.Errorf("%s: expected a KubeSchedulerConfiguration, got %T", file, obj)
	}
	if err := validation.ValidateKubeSchedulerConfiguration(c); err != nil {
		return nil, fmt.Errorf("%s: invalid KubeSchedulerConfiguration: %w", file, err)
	}
	return pickProfile(file, c, name)
}

// pickProfile returns the profile of cfg named name, or its first profile
// when name is empty.
func pickProfile(file string, cfg *config.KubeSchedulerConfiguration, name string) (*config.KubeSchedulerProfile, error) {
	if len(cfg.Profiles) == 0 {
		return nil, fmt.Errorf("%s: the scheduler configuration has no profile", file)
	}
	for i := range cfg.Profiles {
		p := &cfg.Profiles[i]
		if name == "" || p.SchedulerName == name {
			if p.PercentageOfNodesToScore == nil {
				p.PercentageOfNodesToScore = cfg.PercentageOfNodesToScore
			}
			return p, nil
		}
	}
	return nil, fmt.Errorf("%s: no scheduler profile named %q", file, name)
}

// frameworkParts is what buildFramework returns: the framework, the plugin
// instances it runs (by name), and the view it gives PodTopologySpread.
type frameworkParts struct {
	fw        framework.Framework
	plugins   map[string]fwk.Plugin
	nsView    *spreadView
	affView   *affinityView
	informers informers.SharedInformerFactory
	nominator *nominator
}

// buildFramework builds the real scheduling framework for profile over the
// in-memory store. Informer-backed listers (Services, controllers, volumes,
// PDBs, namespaces) are filled directly by the caller; the informers are
// never started, so nothing talks to an API server.
func buildFramework(ctx context.Context, profile *config.KubeSchedulerProfile, st *store, useViews bool, engine Engine, parallelism int) (*frameworkParts, error) {
	registerMetrics.Do(metrics.Register)

	client := fake.NewClientset()
	factory := informers.NewSharedInformerFactory(client, 0)
	parts := &frameworkParts{
		nominator: newNominator(),
		plugins:   map[string]fwk.Plugin{},
		nsView:    &spreadView{s: st, selectors: newDefaultSelectors(factory), serial: parallelism <= 1},
		affView:   &affinityView{s: st},
		informers: factory,
	}
	lister := storeLister{s: st}

	registry := plugins.NewInTreeRegistry()
	for name, factoryFn := range registry {
		name, factoryFn := name, factoryFn
		registry[name] = func(ctx context.Context, args runtime.Object, h fwk.Handle) (fwk.Plugin, error) {
			vh := viewHandle{Handle: h, lister: lister, par: newParallelizer(parallelism)}
			switch {
			case useViews && name == names.PodTopologySpread:
				vh.lister = spreadLister{storeLister: lister, v: parts.nsView}
			case useViews && name == names.InterPodAffinity:
				vh.lister = affinityLister{storeLister: lister, v: parts.affView}
			}
			if engine == EngineIncremental && name == names.PodTopologySpread {
				vh.lister = lister
				p, err := factoryFn(ctx, args, vh)
				if err != nil {
					return nil, err
				}
				spreadArgs, _ := args.(*config.PodTopologySpreadArgs)
				inTree, ok := p.(*podtopologyspread.PodTopologySpread)
				if !ok {
					return nil, fmt.Errorf("plugin %s: built a %T", name, p)
				}
				if spreadArgs == nil {
					spreadArgs = &config.PodTopologySpreadArgs{DefaultingType: config.SystemDefaulting}
				}
				inc := newIncrementalSpread(inTree, spreadArgs, st, newDefaultSelectors(factory), plfeature.NewSchedulerFeaturesFromGates(feature.DefaultFeatureGate))
				parts.plugins[name] = inc
				return inc, nil
			}
			p, err := factoryFn(ctx, args, vh)
			if err != nil {
				return nil, err
			}
			if useViews {
				p = onView(p, parts, profile)
			}
			parts.plugins[name] = p
			return p, nil
		}
	}

	fw, err := frameworkruntime.NewFramework(ctx, registry, profile,
		frameworkruntime.WithClientSet(client),
		frameworkruntime.WithInformerFactory(factory),
		frameworkruntime.WithSnapshotSharedLister(lister),
		frameworkruntime.WithMutableSnapshotLister(lister),
		frameworkruntime.WithSharedDRAManager(noDRA{}),
		frameworkruntime.WithSharedCSIManager(noCSI{}),
		frameworkruntime.WithPodNominator(parts.nominator),
		frameworkruntime.WithEventRecorder(events.NewFakeRecorder(0)),
		frameworkruntime.WithParallelism(parallelism),
		frameworkruntime.WithLogger(klog.Background()),
	)
	if err != nil {
		return nil, fmt.Errorf("building scheduler framework for profile %q: %w", profile.SchedulerName, err)
	}
	parts.fw = fw
	return parts, nil
}

// viewHandle is the framework handle a plugin is built with: the
// snapshot lister it reads (a view for the plugins that get one) and the
// parallelizer it fans out with (newParallelizer).
type viewHandle struct {
	fwk.Handle
	lister fwk.SharedLister
	par    fwk.Parallelizer
}

func (h viewHandle) SnapshotSharedLister() fwk.SharedLister { return h.lister }
func (h viewHandle) Parallelizer() fwk.Parallelizer         { return h.par }

// newParallelizer is the framework's parallelizer for parallelism
// goroutines, or, for one, a loop on the calling goroutine: the
// framework's would start a goroutine and wait for it on every call (a few
// per scheduling cycle, each waking the other core), for the same work
// done in the same order.
func newParallelizer(parallelism int) fwk.Parallelizer {
	if parallelism <= 1 {
		return serialParallelizer{}
	}
	return parallelize.NewParallelizer(parallelism)
}

// serialParallelizer runs every piece on the calling goroutine, in order,
// and stops, as the framework's does, once ctx is done.
type serialParallelizer struct{}

func (serialParallelizer) Until(ctx context.Context, pieces int, doWorkPiece workqueue.DoWorkPieceFunc, _ string) {
	done := ctx.Done()
	for i := range pieces {
		select {
		case <-done:
			return
		default:
			doWorkPiece(i)
		}
	}
}

// --- empty implementations of the managers the framework requires ---

type noPodGroups struct{}

func (noPodGroups) Get(namespace, name string) (fwk.PodGroupState, error) {
	return nil, fmt.Errorf("pod group %s/%s not found", namespace, name)
}

// The pod-group listers have methods named Get with different signatures,
// so each needs its own type.
type (
	noPodGroupLister          struct{}
	noCompositePodGroupStates struct{}
	noCompositePodGroupLister struct{}
)

func (noPodGroupLister) Get(namespace, name string) (*schedulingv1beta1.PodGroup, error) {
	return nil, fmt.Errorf("pod group %s/%s not found", namespace, name)
}
func (noCompositePodGroupStates) Get(namespace, name string) (fwk.CompositePodGroupState, error) {
	return nil, fmt.Errorf("composite pod group %s/%s not found", namespace, name)
}
func (noCompositePodGroupLister) Get(namespace, name string) (*schedulingv1alpha3.CompositePodGroup, error) {
	return nil, fmt.Errorf("composite pod group %s/%s not found", namespace, name)
}

type noDRA struct{}

func (noDRA) ResourceClaims() fwk.ResourceClaimTracker                           { return noClaims{} }
func (noDRA) ResourceSlices() fwk.ResourceSliceLister                            { return noSlices{} }
func (noDRA) DeviceClasses() fwk.DeviceClassLister                               { return noClasses{} }
func (noDRA) DeviceClassResolver() fwk.DeviceClassResolver                       { return noClasses{} }
func (noSlices) ListWithDeviceTaintRules() ([]*resourceapi.ResourceSlice, error) { return nil, nil }

type (
	noClaims  struct{}
	noSlices  struct{}
	noClasses struct{}
)

func (noClasses) List() ([]*resourceapi.DeviceClass, error) { return nil, nil }
func (noClasses) Get(name string) (*resourceapi.DeviceClass, error) {
	return nil, fmt.Errorf("device class %q not found", name)
}
func (noClasses) GetDeviceClass(corev1.ResourceName) *resourceapi.DeviceClass { return nil }

func (noClaims) List() ([]*resourceapi.ResourceClaim, error) { return nil, nil }
func (noClaims) Get(namespace, name string) (*resourceapi.ResourceClaim, error) {
	return nil, fmt.Errorf("resource claim %s/%s not found", namespace, name)
}
func (noClaims) ListAllAllocatedDevices() (sets.Set[structured.DeviceID], error) { return nil, nil }
func (noClaims) GatherAllocatedState() (*structured.AllocatedState, error) {
	return &structured.AllocatedState{}, nil
}
func (noClaims) SignalClaimPendingAllocation(types.UID, *resourceapi.ResourceClaim) error {
	return nil
}
func (noClaims) GetPendingAllocation(types.UID) *resourceapi.AllocationResult { return nil }
func (noClaims) MaybeRemoveClaimPendingAllocation(types.UID, bool) bool       { return false }
func (noClaims) AssumeClaimAfterAPICall(*resourceapi.ResourceClaim) error     { return nil }
func (noClaims) AssumedClaimRestore(string, string)                           {}

type noCSI struct{}

func (noCSI) CSINodes() fwk.CSINodeLister { return noCSINodes{} }

type noCSINodes struct{}

func (noCSINodes) List() ([]*storagev1.CSINode, error) { return nil, nil }
func (noCSINodes) Get(name string) (*storagev1.CSINode, error) {
	return nil, fmt.Errorf("csinode %q not found", name)
}
