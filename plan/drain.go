package plan

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// EvictionRetryInterval is how long a drain waits before retrying an
// eviction the API server refused with 429 (kubectl drain's default).
const EvictionRetryInterval = 5 * time.Second

// DrainOptions are the drain flags a plan runs with, named as kubectl
// drain's.
type DrainOptions struct {
	// IgnoreDaemonSets leaves DaemonSet pods on the node instead of failing.
	IgnoreDaemonSets bool `json:"ignoreDaemonSets"`
	// DeleteEmptyDirData evicts pods with emptyDir volumes (their data is
	// lost) instead of failing.
	DeleteEmptyDirData bool `json:"deleteEmptyDirData"`
	// Force evicts pods no controller manages (they are lost) instead of
	// failing.
	Force bool `json:"force"`
	// GracePeriodSeconds overrides each pod's terminationGracePeriodSeconds
	// when set (kubectl's -1 means "use the pod's").
	GracePeriodSeconds *int64 `json:"gracePeriodSeconds,omitempty"`
	// TimeoutSeconds gives up on a drain after this long; 0 means never.
	TimeoutSeconds int64 `json:"timeoutSeconds,omitempty"`
}

// DefaultDrainOptions are `kubectl drain --ignore-daemonsets
// --delete-emptydir-data --force`, the flags an OS replacement needs.
func DefaultDrainOptions() DrainOptions {
	return DrainOptions{IgnoreDaemonSets: true, DeleteEmptyDirData: true, Force: true, TimeoutSeconds: 3600}
}

// DrainAction is what a drain does with one pod.
type DrainAction int

const (
	// Evict: the pod is evicted through the Eviction API.
	Evict DrainAction = iota
	// Skip: the pod stays (a DaemonSet or mirror pod).
	Skip
	// Refuse: the drain cannot proceed without a flag it was not given.
	Refuse
)

func (a DrainAction) String() string {
	switch a {
	case Evict:
		return "Evict"
	case Skip:
		return "Skip"
	}
	return "Refuse"
}

// DrainDecision is the verdict of the drain filters on one pod.
type DrainDecision struct {
	Action DrainAction
	// Reason says why a pod is skipped or refused, in kubectl's words.
	Reason string
	// LosesEmptyDirData: the pod is evicted with emptyDir volumes.
	LosesEmptyDirData bool
	// Unmanaged: no controller will recreate the pod once evicted.
	Unmanaged bool
}

// kubectl drain's messages.
const (
	daemonSetFatal      = "DaemonSet-managed Pods (use --ignore-daemonsets to ignore)"
	daemonSetWarning    = "ignoring DaemonSet-managed Pods"
	localStorageFatal   = "Pods with local storage (use --delete-emptydir-data to override)"
	localStorageWarning = "deleting Pods with local storage"
	unmanagedFatal      = "Pods that declare no controller (use --force to override)"
	unmanagedWarning    = "deleting Pods that declare no controller"
	mirrorPodSkip       = "mirror pod"
)

// Drain decides what a drain does with pod, applying kubectl drain's filters
// in kubectl's order: already deleted, DaemonSet, mirror, local storage,
// unreplicated. daemonSetExists reports whether the DaemonSet named by the
// pod's controller reference exists. (kubectl's first filter skips pods
// deleted longer ago than --skip-wait-for-delete-timeout; plans leave it at
// 0, which skips nothing: a terminating pod is waited for like any other.)
func Drain(pod *corev1.Pod, opts DrainOptions, daemonSetExists func(namespace, name string) bool) DrainDecision {
	var d DrainDecision
	ref := metav1.GetControllerOf(pod)
	terminal := pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
	if ref != nil && ref.Kind == "DaemonSet" && ref.APIVersion == "apps/v1" && !terminal {
		if !daemonSetExists(pod.Namespace, ref.Name) {
			// An orphan: kubectl deletes it with --force, and nothing
			// recreates it.
			notFound := fmt.Sprintf("daemonsets.apps %q not found", ref.Name)
			if !opts.Force {
				return DrainDecision{Action: Refuse, Reason: notFound}
			}
			d.Unmanaged, d.Reason = true, notFound
		} else if !opts.IgnoreDaemonSets {
			return DrainDecision{Action: Refuse, Reason: daemonSetFatal}
		} else {
			return DrainDecision{Action: Skip, Reason: daemonSetWarning}
		}
	}
	if IsMirrorPod(pod) {
		return DrainDecision{Action: Skip, Reason: mirrorPodSkip}
	}
	if hasEmptyDir(pod) && !terminal {
		if !opts.DeleteEmptyDirData {
			return DrainDecision{Action: Refuse, Reason: localStorageFatal}
		}
		d.LosesEmptyDirData = true
		d.Reason = localStorageWarning
	}
	if ref == nil && !terminal {
		if !opts.Force {
			return DrainDecision{Action: Refuse, Reason: unmanagedFatal}
		}
		d.Unmanaged = true
		d.Reason = unmanagedWarning
	}
	d.Action = Evict
	return d
}

func hasEmptyDir(pod *corev1.Pod) bool {
	for _, v := range pod.Spec.Volumes {
		if v.EmptyDir != nil {
			return true
		}
	}
	return false
}

// GracePeriod is the termination grace period an evicted pod gets.
func GracePeriod(pod *corev1.Pod, opts DrainOptions) time.Duration {
	if opts.GracePeriodSeconds != nil && *opts.GracePeriodSeconds >= 0 {
		return time.Duration(*opts.GracePeriodSeconds) * time.Second
	}
	if g := pod.Spec.TerminationGracePeriodSeconds; g != nil {
		return time.Duration(*g) * time.Second
	}
	return corev1.DefaultTerminationGracePeriodSeconds * time.Second
}

// IsMirrorPod reports whether pod is the API server's mirror of a static
// pod: the kubelet owns it, a drain leaves it, and it returns with its node.
func IsMirrorPod(pod *corev1.Pod) bool {
	_, ok := pod.Annotations[corev1.MirrorPodAnnotationKey]
	return ok
}
