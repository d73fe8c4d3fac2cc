package snapshot

import (
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Redacted replaces every value a snapshot does not keep because it may be
// a secret. The field (the annotation key, the argument's place, the
// header's name) stays, so that the snapshot still says what was there.
const Redacted = "(redacted)"

// Scrub redacts, in place, every value of s that may carry a secret and
// that nothing in noderoll reads (ScrubObject, for each object). Load,
// capture and Save call it: whatever its origin, no snapshot noderoll
// holds or writes keeps such a value. It is idempotent.
func (s *Snapshot) Scrub() {
	for i := range storedKinds {
		storedKinds[i].each(s, func(_ int, obj metav1.Object) { ScrubObject(obj) })
	}
}

// ScrubObject redacts, in place, what obj may hold of secrets. What the
// simulator, the planner and the executor read is kept: labels, owner
// references, requests and limits, node names, affinity, tolerations,
// topology spread, priorities, volumes' kinds and claims, images, ports,
// PDB selectors and budgets, StorageClass provisioners and binding modes.
//
//   - Every object: managedFields and kubectl's
//     last-applied-configuration annotation (a whole copy of the object as
//     applied) are dropped. The values of the other annotations are
//     Redacted, but for keys in the domains that Kubernetes reserves
//     (kubernetes.io, k8s.io, x-k8s.io and their subdomains: the scheduler,
//     the controllers and the drain read some of them), noderoll.dev
//     (noderoll.dev/startup-seconds) and deprecated.daemonset.template.generation.
//   - Pods and the pod templates of Deployments, ReplicaSets, StatefulSets,
//     DaemonSets, Jobs and CronJobs: the template's annotations as above;
//     for every container (init and ephemeral ones too), env values (names,
//     valueFrom and envFrom stay: they only say where a value comes from),
//     command and args, exec commands and httpGet header values of the
//     probes and lifecycle hooks; volumes' gitRepo.repository,
//     flexVolume.options values and csi.volumeAttributes values.
//   - PersistentVolumes: csi.volumeAttributes and flexVolume.options values.
//   - StorageClasses: parameters values.
//
// Secrets and ConfigMaps are never stored at all (only counted).
func ScrubObject(obj metav1.Object) {
	scrubMeta(obj)
	switch o := obj.(type) {
	case *corev1.Pod:
		scrubPodSpec(&o.Spec)
	case *appsv1.Deployment:
		scrubTemplate(&o.Spec.Template)
	case *appsv1.ReplicaSet:
		scrubTemplate(&o.Spec.Template)
	case *appsv1.StatefulSet:
		scrubTemplate(&o.Spec.Template)
		for i := range o.Spec.VolumeClaimTemplates {
			scrubMeta(&o.Spec.VolumeClaimTemplates[i])
		}
	case *appsv1.DaemonSet:
		scrubTemplate(&o.Spec.Template)
	case *batchv1.Job:
		scrubTemplate(&o.Spec.Template)
	case *batchv1.CronJob:
		scrubMeta(&o.Spec.JobTemplate)
		scrubTemplate(&o.Spec.JobTemplate.Spec.Template)
	case *corev1.PersistentVolume:
		if o.Spec.CSI != nil {
			redactValues(o.Spec.CSI.VolumeAttributes)
		}
		if o.Spec.FlexVolume != nil {
			redactValues(o.Spec.FlexVolume.Options)
		}
	case *storagev1.StorageClass:
		redactValues(o.Parameters)
	}
}

// scrubMeta drops managedFields and the last applied configuration, and
// redacts the annotations noderoll does not read.
func scrubMeta(m metav1.Object) {
	m.SetManagedFields(nil)
	ann := m.GetAnnotations()
	if ann == nil {
		return
	}
	delete(ann, corev1.LastAppliedConfigAnnotation)
	if len(ann) == 0 {
		m.SetAnnotations(nil)
		return
	}
	for k, v := range ann {
		if v != "" && !keptAnnotation(k) {
			ann[k] = Redacted
		}
	}
}

// keptAnnotation reports whether the value of the annotation key is kept:
// its prefix is a domain Kubernetes reserves, or noderoll's own.
func keptAnnotation(key string) bool {
	if key == "deprecated.daemonset.template.generation" {
		return true
	}
	domain, _, ok := strings.Cut(key, "/")
	if !ok {
		return false
	}
	for _, d := range []string{"kubernetes.io", "k8s.io", "x-k8s.io", "noderoll.dev"} {
		if domain == d || strings.HasSuffix(domain, "."+d) {
			return true
		}
	}
	return false
}

func scrubTemplate(t *corev1.PodTemplateSpec) {
	scrubMeta(&t.ObjectMeta)
	scrubPodSpec(&t.Spec)
}

func scrubPodSpec(spec *corev1.PodSpec) {
	for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range cs {
			c := &cs[i]
			scrubContainer(c.Env, c.Command, c.Args, []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe}, c.Lifecycle)
		}
	}
	for i := range spec.EphemeralContainers {
		c := &spec.EphemeralContainers[i]
		scrubContainer(c.Env, c.Command, c.Args, []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe}, c.Lifecycle)
	}
	for i := range spec.Volumes {
		v := &spec.Volumes[i].VolumeSource
		if v.GitRepo != nil && v.GitRepo.Repository != "" {
			v.GitRepo.Repository = Redacted
		}
		if v.FlexVolume != nil {
			redactValues(v.FlexVolume.Options)
		}
		if v.CSI != nil {
			redactValues(v.CSI.VolumeAttributes)
		}
	}
}

// scrubContainer redacts the fields of one container (a Container or an
// EphemeralContainer, whose fields are the same) that may carry secrets.
func scrubContainer(env []corev1.EnvVar, command, args []string, probes []*corev1.Probe, lc *corev1.Lifecycle) {
	for i := range env {
		if env[i].Value != "" {
			env[i].Value = Redacted
		}
	}
	redactStrings(command)
	redactStrings(args)
	for _, p := range probes {
		if p != nil {
			scrubHandler(p.Exec, p.HTTPGet)
		}
	}
	if lc != nil {
		for _, h := range []*corev1.LifecycleHandler{lc.PostStart, lc.PreStop} {
			if h != nil {
				scrubHandler(h.Exec, h.HTTPGet)
			}
		}
	}
}

func scrubHandler(exec *corev1.ExecAction, get *corev1.HTTPGetAction) {
	if exec != nil {
		redactStrings(exec.Command)
	}
	if get != nil {
		for i := range get.HTTPHeaders {
			if get.HTTPHeaders[i].Value != "" {
				get.HTTPHeaders[i].Value = Redacted
			}
		}
	}
}

func redactStrings(ss []string) {
	for i := range ss {
		if ss[i] != "" {
			ss[i] = Redacted
		}
	}
}

func redactValues(m map[string]string) {
	for k, v := range m {
		if v != "" {
			m[k] = Redacted
		}
	}
}
