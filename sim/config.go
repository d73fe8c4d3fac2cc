package sim

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

// StartupAnnotation on a workload (or pod) overrides its pods' start-up
// time, in seconds.
const StartupAnnotation = "noderoll.dev/startup-seconds"

// Timing is the time model. Every duration has a documented default and can
// be overridden by the config file.
type Timing struct {
	// PodStartupSeconds: from a pod being bound to a node to Ready (image
	// pull, start, readiness probe). Default 10.
	PodStartupSeconds float64 `json:"podStartupSeconds"`
	// TerminationSeconds: how long an evicted pod takes to go away. nil
	// means its full terminationGracePeriodSeconds (default 30), the upper
	// bound the kubelet allows.
	TerminationSeconds *float64 `json:"terminationSeconds,omitempty"`
	// ReinstallSeconds: OS reinstall, from the node leaving to it booting.
	// Default 600.
	ReinstallSeconds float64 `json:"reinstallSeconds"`
	// JoinSeconds: from boot to the node registering Ready. Default 60.
	JoinSeconds float64 `json:"joinSeconds"`
	// SoakSeconds: wait after a batch before the next. Default 0.
	SoakSeconds float64 `json:"soakSeconds"`
	// EvictionRetrySeconds: wait after a 429. Default 5 (kubectl drain).
	EvictionRetrySeconds float64 `json:"evictionRetrySeconds"`
	// DrainTimeoutSeconds: a drain still blocked after this long is stuck.
	// Default 3600.
	DrainTimeoutSeconds float64 `json:"drainTimeoutSeconds"`
	// ObjectCopySeconds (migration): time to copy one object to the new
	// cluster (a namespace, PriorityClass, StorageClass, ServiceAccount,
	// Role, RoleBinding, ConfigMap, Secret, Service, PDB or workload).
	// Default 0.2.
	ObjectCopySeconds float64 `json:"objectCopySeconds"`
	// CutoverSeconds (migration): shifting a tenant's traffic at the load
	// balancer. Default 60.
	CutoverSeconds float64 `json:"cutoverSeconds"`
	// DataSwitchSeconds (migration, dual-write): switching a tenant's
	// volumes over to the new cluster's copy. Default 300.
	DataSwitchSeconds float64 `json:"dataSwitchSeconds"`
}

// DefaultTiming is the documented default time model.
func DefaultTiming() Timing {
	return Timing{
		PodStartupSeconds:    10,
		ReinstallSeconds:     600,
		JoinSeconds:          60,
		EvictionRetrySeconds: 5,
		DrainTimeoutSeconds:  3600,
		ObjectCopySeconds:    0.2,
		CutoverSeconds:       60,
		DataSwitchSeconds:    300,
	}
}

// Override sets start-up and termination times for the pods of matching
// workloads.
type Override struct {
	// Namespace restricts the override to one namespace; empty means all.
	Namespace string `json:"namespace,omitempty"`
	// Selector restricts it to pods whose labels match.
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
	// PodStartupSeconds replaces the start-up time when set.
	PodStartupSeconds *float64 `json:"podStartupSeconds,omitempty"`
	// TerminationSeconds replaces the termination time when set.
	TerminationSeconds *float64 `json:"terminationSeconds,omitempty"`

	selector labels.Selector
}

// Config is the simulator's configuration file (`--config`).
type Config struct {
	Timing Timing `json:"timing"`
	// Overrides apply in order; the last that matches a pod wins.
	Overrides []Override `json:"overrides,omitempty"`
	// DegradedBelow is the fraction of a Service's endpoints under which it
	// counts as degraded. Default 0.75.
	DegradedBelow float64 `json:"degradedBelow"`
	// Variability is how much each duration varies around its configured
	// value, for Monte Carlo runs (analysis.MonteCarlo); a single run uses
	// the configured values.
	Variability Variability `json:"variability"`
	// Controllers says how the controllers the snapshot does not hold
	// behave (an operator's custom resources, ReplicationControllers): by
	// default such a controller recreates a deleted pod at once under a new
	// name, as a ReplicaSet does.
	Controllers []ControllerBehaviour `json:"controllers,omitempty"`
	// NodeLabelsPreserved: a reinstalled node re-registers with the labels
	// and taints it had (the reinstall hook restores those set through the
	// API, or the kubelet's flags set them). false: it comes back with the
	// kubelet's own labels only (hostname, os, arch, instance type, zone
	// and region) and no taints. Default true.
	NodeLabelsPreserved *bool `json:"nodeLabelsPreserved,omitempty"`
}

// ControllerBehaviour models the pod controllers of one owner kind that
// the snapshot does not hold.
type ControllerBehaviour struct {
	// Kind is the owner reference's kind (e.g. "Kafka", "Cluster").
	Kind string `json:"kind"`
	// Identity is "new" (the default: a deleted pod is replaced at once
	// under a new name, ReplicaSet-like) or "stable" (the same name comes
	// back once the old pod is gone, with its volumes, StatefulSet-like).
	Identity string `json:"identity,omitempty"`
	// HasScale says the resource serves a scale subresource, so that the
	// disruption controller can work out a budget's expected pods from it
	// (taken as the pods the controller has in the snapshot). Without it, a
	// budget with maxUnavailable or a percentage over its pods allows no
	// disruption.
	HasScale bool `json:"hasScale,omitempty"`
}

// Identities of ControllerBehaviour.
const (
	IdentityNew    = "new"
	IdentityStable = "stable"
)

// nodeLabelsPreserved is NodeLabelsPreserved with its default.
func (c *Config) nodeLabelsPreserved() bool {
	return c.NodeLabelsPreserved == nil || *c.NodeLabelsPreserved
}

// controller returns the behaviour configured for an owner kind the
// snapshot lacks.
func (c *Config) controller(kind string) ControllerBehaviour {
	for _, b := range c.Controllers {
		if b.Kind == kind {
			return b
		}
	}
	return ControllerBehaviour{Kind: kind, Identity: IdentityNew}
}

// Variability gives, per kind of duration, the sigma of a log-normal
// distribution whose median is the configured duration: a draw is the
// median times e^(sigma·Z), Z standard normal, so sigma 0.25 puts about
// two draws in three between 0.78 and 1.28 times the median. 0 means the
// duration does not vary. Termination draws never exceed the configured
// value (the grace period bounds them).
type Variability struct {
	// PodStartupSigma: pod start-up to Ready (image pulls, probes vary
	// most). Default 0.5.
	PodStartupSigma float64 `json:"podStartupSigma"`
	// TerminationSigma: graceful termination. Default 0.3.
	TerminationSigma float64 `json:"terminationSigma"`
	// ReinstallSigma: OS reinstall. Default 0.25.
	ReinstallSigma float64 `json:"reinstallSigma"`
	// JoinSigma: boot to node Ready. Default 0.3.
	JoinSigma float64 `json:"joinSigma"`
}

// DefaultVariability is the documented default spread of each duration.
func DefaultVariability() Variability {
	return Variability{PodStartupSigma: 0.5, TerminationSigma: 0.3, ReinstallSigma: 0.25, JoinSigma: 0.3}
}

// Sigma returns the sigma for a kind of duration (a Duration* constant);
// 0 for an unknown kind.
func (v Variability) Sigma(kind string) float64 {
	switch kind {
	case DurationPodStartup:
		return v.PodStartupSigma
	case DurationTermination:
		return v.TerminationSigma
	case DurationReinstall:
		return v.ReinstallSigma
	case DurationJoin:
		return v.JoinSigma
	}
	return 0
}

// DefaultConfig is the configuration with every default.
func DefaultConfig() Config {
	return Config{Timing: DefaultTiming(), DegradedBelow: 0.75, Variability: DefaultVariability()}
}

// MaxConfigBytes bounds a config file: LoadConfig refuses a larger one
// without reading it whole.
const MaxConfigBytes = 1 << 20

// maxConfigSeconds bounds every duration of a config file: 10^7 s, about
// 116 days, far below where a time.Duration overflows.
const maxConfigSeconds = 1e7

// LoadConfig reads a config file over the defaults. Every error names the
// file and, for a bad value, its field.
func LoadConfig(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return DefaultConfig(), fmt.Errorf("reading simulation config: %w", err)
	}
	defer func() { _ = f.Close() }() // read-only: nothing to lose
	data, err := io.ReadAll(io.LimitReader(f, MaxConfigBytes+1))
	if err != nil {
		return DefaultConfig(), fmt.Errorf("reading simulation config %s: %w", path, err)
	}
	return parseConfig(path, data)
}

// parseConfig decodes a config document over the defaults and checks it;
// name is the file it came from, for messages.
func parseConfig(name string, data []byte) (Config, error) {
	cfg := DefaultConfig()
	if len(data) > MaxConfigBytes {
		return cfg, fmt.Errorf("%s: the file is larger than the limit of %d MiB", name, MaxConfigBytes>>20)
	}
	if err := yaml.UnmarshalStrict(data, &cfg); err != nil {
		return cfg, fmt.Errorf("%s: %w", name, err)
	}
	return cfg, cfg.compile(name)
}

// namedValue is a config value and its field path, for messages.
type namedValue struct {
	name string
	v    float64
}

func (c *Config) compile(source string) error {
	t := c.Timing
	durations := []namedValue{
		{"timing.podStartupSeconds", t.PodStartupSeconds}, {"timing.reinstallSeconds", t.ReinstallSeconds},
		{"timing.joinSeconds", t.JoinSeconds}, {"timing.soakSeconds", t.SoakSeconds},
		{"timing.evictionRetrySeconds", t.EvictionRetrySeconds}, {"timing.drainTimeoutSeconds", t.DrainTimeoutSeconds},
		{"timing.objectCopySeconds", t.ObjectCopySeconds}, {"timing.cutoverSeconds", t.CutoverSeconds},
		{"timing.dataSwitchSeconds", t.DataSwitchSeconds},
	}
	if t.TerminationSeconds != nil {
		durations = append(durations, namedValue{"timing.terminationSeconds", *t.TerminationSeconds})
	}
	for i, o := range c.Overrides {
		if o.PodStartupSeconds != nil {
			durations = append(durations, namedValue{fmt.Sprintf("overrides[%d].podStartupSeconds", i), *o.PodStartupSeconds})
		}
		if o.TerminationSeconds != nil {
			durations = append(durations, namedValue{fmt.Sprintf("overrides[%d].terminationSeconds", i), *o.TerminationSeconds})
		}
	}
	for _, d := range durations {
		// NaN fails both comparisons: !(v >= 0) catches it.
		if !(d.v >= 0) {
			return fmt.Errorf("%s: %s: must not be negative, got %v", source, d.name, d.v)
		}
		if d.v > maxConfigSeconds {
			return fmt.Errorf("%s: %s: must be at most %g seconds, got %v", source, d.name, maxConfigSeconds, d.v)
		}
	}
	v := c.Variability
	for _, x := range []namedValue{
		{"variability.podStartupSigma", v.PodStartupSigma}, {"variability.terminationSigma", v.TerminationSigma},
		{"variability.reinstallSigma", v.ReinstallSigma}, {"variability.joinSigma", v.JoinSigma},
	} {
		if !(x.v >= 0 && x.v <= 3) {
			return fmt.Errorf("%s: %s: want a value between 0 and 3, got %v", source, x.name, x.v)
		}
	}
	if t.EvictionRetrySeconds == 0 {
		return fmt.Errorf("%s: timing.evictionRetrySeconds: must be positive", source)
	}
	if !(c.DegradedBelow > 0 && c.DegradedBelow <= 1) {
		return fmt.Errorf("%s: degradedBelow: must be in (0, 1], got %v", source, c.DegradedBelow)
	}
	for i, b := range c.Controllers {
		if b.Kind == "" {
			return fmt.Errorf("%s: controllers[%d].kind: must be set", source, i)
		}
		if b.Identity != "" && b.Identity != IdentityNew && b.Identity != IdentityStable {
			return fmt.Errorf("%s: controllers[%d].identity: want %q or %q, got %q", source, i, IdentityNew, IdentityStable, b.Identity)
		}
	}
	for i := range c.Overrides {
		o := &c.Overrides[i]
		o.selector = labels.Everything()
		if o.Selector != nil {
			sel, err := metav1.LabelSelectorAsSelector(o.Selector)
			if err != nil {
				return fmt.Errorf("%s: overrides[%d].selector: %w", source, i, err)
			}
			o.selector = sel
		}
	}
	return nil
}

func seconds(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

// startup is the time from bind to Ready for pod; owner is the workload's
// annotations, if any.
func (c *Config) startup(pod *corev1.Pod, ownerAnnotations map[string]string) time.Duration {
	d := c.Timing.PodStartupSeconds
	for _, ann := range []map[string]string{ownerAnnotations, pod.Annotations} {
		if v, ok := ann[StartupAnnotation]; ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 {
				d = f
			}
		}
	}
	for i := range c.Overrides {
		o := &c.Overrides[i]
		if o.PodStartupSeconds != nil && o.matches(pod) {
			d = *o.PodStartupSeconds
		}
	}
	return seconds(d)
}

// termination is how long an evicted pod takes to go away.
func (c *Config) termination(pod *corev1.Pod, grace time.Duration) time.Duration {
	d := grace
	if c.Timing.TerminationSeconds != nil {
		d = min(grace, seconds(*c.Timing.TerminationSeconds))
	}
	for i := range c.Overrides {
		o := &c.Overrides[i]
		if o.TerminationSeconds != nil && o.matches(pod) {
			d = min(grace, seconds(*o.TerminationSeconds))
		}
	}
	return d
}

func (o *Override) matches(pod *corev1.Pod) bool {
	if o.Namespace != "" && o.Namespace != pod.Namespace {
		return false
	}
	return o.selector == nil || o.selector.Matches(labels.Set(pod.Labels))
}
