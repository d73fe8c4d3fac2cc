package synth

import (
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	serviceAccountMountPath = "/var/run/secrets/kubernetes.io/serviceaccount"
	jobTrackingFinalizer    = "batch.kubernetes.io/job-tracking"
)

// podName names ordinal i of w as its controller would: StatefulSets by
// ordinal, bare pods by their own name, the others by generateName with a
// derived five-character suffix.
func (g *generator) podName(w *workload, i int, ni *nodeInfo) (name, generateName string) {
	switch w.kind {
	case kindStatefulSet:
		return w.name + "-" + strconv.Itoa(i), ""
	case kindBare:
		return w.name, ""
	}
	prefix := w.owner.Name + "-"
	key := strconv.Itoa(i)
	if ni != nil {
		key = ni.name
	}
	for attempt := 0; ; attempt++ {
		name = prefix + g.suffix(5, w.ns.name, w.owner.Name, key, strconv.Itoa(attempt))
		if !g.podNames[w.ns.name+"/"+name] {
			g.podNames[w.ns.name+"/"+name] = true
			return name, prefix
		}
	}
}

// newPod creates ordinal i of w as its controller and the API server's
// admission would: the template plus the controller's labels, owner and
// per-pod fields, the ServiceAccount token volume, the default
// not-ready/unreachable tolerations, and the resolved priority. ni is the
// node of a DaemonSet pod; other pods get their node from the scheduler.
func (g *generator) newPod(w *workload, i int, ni *nodeInfo) *corev1.Pod {
	name, generateName := g.podName(w, i, ni)
	tmpl := w.template.DeepCopy()
	meta := metav1.ObjectMeta{
		Name:         name,
		GenerateName: generateName,
		Namespace:    w.ns.name,
		UID:          g.uid("Pod", w.ns.name, name),
		Labels:       tmpl.Labels,
		Annotations:  tmpl.Annotations,
		Generation:   1,
	}
	spec := tmpl.Spec
	if w.kind != kindBare {
		meta.OwnerReferences = []metav1.OwnerReference{w.owner}
	}
	switch w.kind {
	case kindDeployment:
		meta.Labels[labelPodTemplateHash] = w.hash
	case kindStatefulSet:
		meta.Labels[labelRevisionHash] = w.hash
		meta.Labels[labelPodName] = name
		meta.Labels[labelPodIndex] = strconv.Itoa(i)
		spec.Hostname = name
		for _, s := range w.services {
			if s.headless {
				spec.Subdomain = s.name
				break
			}
		}
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: w.claimName, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: g.snap.PersistentVolumeClaims[w.claims[i]].Name}}})
	case kindDaemonSet:
		meta.Labels[labelRevisionHash] = w.hash
		meta.Labels[labelTemplateGen] = "1"
		addDaemonTolerations(&spec)
		spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{{Key: metav1.ObjectNameField, Operator: corev1.NodeSelectorOpIn, Values: []string{ni.name}}}}},
		}}}
	case kindJob, kindCronJob:
		meta.Finalizers = []string{jobTrackingFinalizer}
	}

	// ServiceAccount admission: the projected token volume, mounted in
	// every container.
	tokenVol := "kube-api-access-" + g.suffix(5, w.ns.name, name, "token")
	spec.Volumes = append(spec.Volumes, corev1.Volume{Name: tokenVol, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{ExpirationSeconds: ptr(int64(3607)), Path: "token"}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}, Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
		},
		DefaultMode: ptr(int32(0o644)),
	}}})
	mount := corev1.VolumeMount{Name: tokenVol, ReadOnly: true, MountPath: serviceAccountMountPath}
	for k := range spec.InitContainers {
		spec.InitContainers[k].VolumeMounts = append(spec.InitContainers[k].VolumeMounts, mount)
	}
	for k := range spec.Containers {
		spec.Containers[k].VolumeMounts = append(spec.Containers[k].VolumeMounts, mount)
	}

	// DefaultTolerationSeconds admission.
	if !tolerates(spec.Tolerations, corev1.TaintNodeNotReady) {
		spec.Tolerations = append(spec.Tolerations, corev1.Toleration{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr(int64(300))})
	}
	if !tolerates(spec.Tolerations, corev1.TaintNodeUnreachable) {
		spec.Tolerations = append(spec.Tolerations, corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr(int64(300))})
	}
	// Priority admission.
	spec.Priority = ptr(priorityValues[w.priorityClass])
	policy := corev1.PreemptLowerPriority
	if w.priorityClass == pcBatchLow {
		policy = corev1.PreemptNever
	}
	spec.PreemptionPolicy = &policy
	spec.EnableServiceLinks = ptr(true)

	return &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: meta, Spec: spec}
}

// addDaemonTolerations adds the tolerations the DaemonSet controller adds
// to its pods (pkg/controller/daemon/util AddOrUpdateDaemonPodTolerations),
// in its order.
func addDaemonTolerations(spec *corev1.PodSpec) {
	add := []corev1.Toleration{
		{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
		{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
		{Key: corev1.TaintNodeDiskPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodeMemoryPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodePIDPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	}
	if spec.HostNetwork {
		add = append(add, corev1.Toleration{Key: corev1.TaintNodeNetworkUnavailable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule})
	}
	for _, t := range add {
		found := false
		for k := range spec.Tolerations {
			if spec.Tolerations[k].MatchToleration(&t) {
				spec.Tolerations[k] = t
				found = true
			}
		}
		if !found {
			spec.Tolerations = append(spec.Tolerations, t)
		}
	}
}

// tolerates reports whether the tolerations already cover the NoExecute
// taint key, as DefaultTolerationSeconds checks before adding its own.
func tolerates(ts []corev1.Toleration, key string) bool {
	for _, t := range ts {
		if (t.Key == key || t.Key == "") && (t.Effect == corev1.TaintEffectNoExecute || t.Effect == "") {
			return true
		}
	}
	return false
}

// podCreated returns when ordinal i of w was created: shortly after its
// controller's current revision (or after the node joined, for pods
// recreated when their node was replaced), before the snapshot.
func (g *generator) podCreated(w *workload, i int, ni *nodeInfo) time.Time {
	var t time.Time
	switch w.kind {
	case kindDaemonSet:
		t = latest(ni.created, w.created).Add(20 * time.Second)
	case kindDeployment:
		t = latest(w.rsMeta.CreationTimestamp.Time, ni.created)
	case kindStatefulSet:
		t = latest(w.created.Add(time.Duration(i)*40*time.Second), ni.created)
	case kindJob:
		t = w.meta.CreationTimestamp.Time
	case kindCronJob:
		t = w.jobMeta.CreationTimestamp.Time
	default:
		t = latest(w.created, ni.created)
	}
	t = g.later(t, time.Second, 90*time.Second)
	if end := g.takenAt.Add(-time.Minute); t.After(end) {
		return end
	}
	return t
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// finishPod binds the pod to its node and fills the status the kubelet
// reports for a Running, Ready pod.
func (g *generator) finishPod(pod *corev1.Pod, w *workload, i int, ni *nodeInfo) {
	pod.Spec.NodeName = ni.name
	created := g.podCreated(w, i, ni)
	pod.CreationTimestamp = metav1.NewTime(created)
	pod.ResourceVersion = g.nextRV()
	scheduled := metav1.NewTime(created)
	sandbox := metav1.NewTime(created.Add(time.Duration(1+g.rng.IntN(3)) * time.Second))
	t := sandbox.Time
	var inits []corev1.ContainerStatus
	for _, c := range pod.Spec.InitContainers {
		start := t.Add(time.Duration(1+g.rng.IntN(5)) * time.Second)
		t = start.Add(time.Duration(1+g.rng.IntN(20)) * time.Second)
		inits = append(inits, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: g.imageID(c.Image), ContainerID: "containerd://" + g.hexID(64, pod.Namespace, pod.Name, c.Name),
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed",
				StartedAt: metav1.NewTime(start), FinishedAt: metav1.NewTime(t), ContainerID: "containerd://" + g.hexID(64, pod.Namespace, pod.Name, c.Name)}},
			Ready: true, Started: ptr(false),
		})
	}
	initialized := metav1.NewTime(t)
	var statuses []corev1.ContainerStatus
	for _, c := range pod.Spec.Containers {
		statuses = append(statuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: g.imageID(c.Image), ContainerID: "containerd://" + g.hexID(64, pod.Namespace, pod.Name, c.Name),
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(t.Add(time.Duration(1+g.rng.IntN(10)) * time.Second))}},
			Ready: true, Started: ptr(true),
		})
	}
	ready := metav1.NewTime(t.Add(time.Duration(5+g.rng.IntN(40)) * time.Second))
	podIP := ni.ip
	if !pod.Spec.HostNetwork {
		podIP = ni.nextPodIP()
	}
	cond := func(c corev1.PodConditionType, at metav1.Time) corev1.PodCondition {
		return corev1.PodCondition{Type: c, Status: corev1.ConditionTrue, LastTransitionTime: at, ObservedGeneration: 1}
	}
	pod.Status = corev1.PodStatus{
		ObservedGeneration: 1,
		Phase:              corev1.PodRunning,
		Conditions: []corev1.PodCondition{
			cond(corev1.PodReadyToStartContainers, sandbox),
			cond(corev1.PodInitialized, initialized),
			cond(corev1.PodReady, ready),
			cond(corev1.ContainersReady, ready),
			cond(corev1.PodScheduled, scheduled),
		},
		HostIP:                ni.ip,
		HostIPs:               []corev1.HostIP{{IP: ni.ip}},
		PodIP:                 podIP,
		PodIPs:                []corev1.PodIP{{IP: podIP}},
		StartTime:             &scheduled,
		InitContainerStatuses: inits,
		ContainerStatuses:     statuses,
		QOSClass:              qosClassOf(&pod.Spec),
	}
}

// imageID is the digest reference the runtime reports for an image.
func (g *generator) imageID(image string) string {
	repo := image
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		repo = image[:i]
	}
	return repo + "@sha256:" + g.hexID(64, "image", image)
}

// qosClassOf computes the pod's QoS class as the API server does
// (pkg/apis/core/v1/helper/qos): BestEffort without any request or limit,
// Guaranteed when every container limits CPU and memory to its requests,
// Burstable otherwise.
func qosClassOf(spec *corev1.PodSpec) corev1.PodQOSClass {
	some, guaranteed := false, true
	for _, c := range append(append([]corev1.Container(nil), spec.InitContainers...), spec.Containers...) {
		if len(c.Resources.Requests) > 0 || len(c.Resources.Limits) > 0 {
			some = true
		}
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			l, ok := c.Resources.Limits[r]
			if !ok {
				guaranteed = false
				continue
			}
			if q, ok := c.Resources.Requests[r]; ok && q.Cmp(l) != 0 {
				guaranteed = false
			}
		}
	}
	switch {
	case !some:
		return corev1.PodQOSBestEffort
	case guaranteed:
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}
