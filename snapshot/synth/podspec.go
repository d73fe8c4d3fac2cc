package synth

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// buildTemplate builds the workload's pod template as the API server
// stores it in the controller (defaults filled in). What the controllers
// and admission add to each pod (hash labels, claim volumes, the
// ServiceAccount token volume, default tolerations, priority) is added in
// newPod.
func (g *generator) buildTemplate(w *workload) corev1.PodTemplateSpec {
	sa := w.serviceAcct
	if sa == "" {
		sa = "default"
	}
	dns := corev1.DNSClusterFirst
	if w.hostNetwork {
		dns = corev1.DNSClusterFirstWithHostNet
	}
	spec := corev1.PodSpec{
		RestartPolicy:                 w.restart,
		TerminationGracePeriodSeconds: ptr(w.grace),
		DNSPolicy:                     dns,
		ServiceAccountName:            sa,
		DeprecatedServiceAccount:      sa,
		HostNetwork:                   w.hostNetwork,
		SecurityContext:               &corev1.PodSecurityContext{},
		SchedulerName:                 corev1.DefaultSchedulerName,
		PriorityClassName:             w.priorityClass,
		NodeSelector:                  copyMap(w.nodeSelector),
		Tolerations:                   append([]corev1.Toleration(nil), w.tolerations...),
		Affinity:                      w.affinity(),
		TopologySpreadConstraints:     w.spread(),
		Volumes:                       append([]corev1.Volume(nil), w.hostVolumes...),
	}
	var extraMounts []corev1.VolumeMount
	if w.emptyDir {
		v := corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
		if g.rng.IntN(2) == 0 {
			v.EmptyDir.SizeLimit = ptr(resource.MustParse("1Gi"))
		}
		spec.Volumes = append(spec.Volumes, v)
		extraMounts = append(extraMounts, corev1.VolumeMount{Name: "scratch", MountPath: "/tmp"})
	}
	if w.storage != storageNone {
		extraMounts = append(extraMounts, corev1.VolumeMount{Name: w.claimName, MountPath: "/data"})
	}
	for _, c := range w.inits {
		spec.InitContainers = append(spec.InitContainers, w.containerSpec(c, nil, false))
	}
	for i, c := range w.containers {
		var mounts []corev1.VolumeMount
		if i == 0 {
			mounts = extraMounts
		}
		spec.Containers = append(spec.Containers, w.containerSpec(c, mounts, true))
	}
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: copyMap(w.labels)},
		Spec:       spec,
	}
}

// containerSpec builds one container with its requests and limits by QoS
// class: Guaranteed sets limits equal to requests; Burstable sets a memory
// limit (the chart's, or twice the request) and sometimes a CPU limit;
// BestEffort sets nothing.
func (w *workload) containerSpec(c *container, mounts []corev1.VolumeMount, probes bool) corev1.Container {
	ct := corev1.Container{
		Name:                     c.name,
		Image:                    c.image,
		Args:                     c.args,
		Ports:                    c.ports,
		VolumeMounts:             append(append([]corev1.VolumeMount(nil), c.mounts...), mounts...),
		TerminationMessagePath:   corev1.TerminationMessagePathDefault,
		TerminationMessagePolicy: corev1.TerminationMessageReadFile,
		ImagePullPolicy:          corev1.PullIfNotPresent,
	}
	req := corev1.ResourceList{}
	if c.cpu > 0 {
		req[corev1.ResourceCPU] = *resource.NewMilliQuantity(c.cpu, resource.DecimalSI)
	}
	if c.mem > 0 {
		req[corev1.ResourceMemory] = *resource.NewQuantity(c.mem, resource.BinarySI)
	}
	lim := corev1.ResourceList{}
	switch {
	case len(req) == 0:
	case w.qos == qosGuaranteed:
		lim = req.DeepCopy()
	default:
		switch {
		case c.memLimitMi > 0:
			lim[corev1.ResourceMemory] = *resource.NewQuantity(c.memLimitMi<<20, resource.BinarySI)
		case c.mem > 0 && !w.fixed:
			lim[corev1.ResourceMemory] = *resource.NewQuantity(2*c.mem, resource.BinarySI)
		}
		if c.cpuLimit && c.cpu > 0 {
			lim[corev1.ResourceCPU] = *resource.NewMilliQuantity(2*c.cpu, resource.DecimalSI)
		}
	}
	if len(req) > 0 {
		ct.Resources.Requests = req
	}
	if len(lim) > 0 {
		ct.Resources.Limits = lim
	}
	if probes && c.probePort > 0 {
		ct.ReadinessProbe = &corev1.Probe{
			ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(c.probePort), Scheme: corev1.URISchemeHTTP}},
			TimeoutSeconds:   1,
			PeriodSeconds:    10,
			SuccessThreshold: 1,
			FailureThreshold: 3,
		}
	}
	return ct
}

// affinity returns the workload's pod (anti-)affinity, on hostname unless
// stated otherwise.
func (w *workload) affinity() *corev1.Affinity {
	term := corev1.PodAffinityTerm{
		LabelSelector: &metav1.LabelSelector{MatchLabels: copyMap(w.selector)},
		TopologyKey:   labelHostname,
	}
	switch {
	case w.selfAffinity:
		return &corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{term}}}
	case w.anti == affinityRequired:
		return &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{term}}}
	case w.anti == affinityPreferred:
		return &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: 100, PodAffinityTerm: term}}}}
	}
	return nil
}

// spread returns the workload's topology spread constraints.
func (w *workload) spread() []corev1.TopologySpreadConstraint {
	var out []corev1.TopologySpreadConstraint
	if w.zoneSpread != "" {
		out = append(out, corev1.TopologySpreadConstraint{
			MaxSkew:           1,
			TopologyKey:       labelZone,
			WhenUnsatisfiable: w.zoneSpread,
			LabelSelector:     &metav1.LabelSelector{MatchLabels: copyMap(w.selector)},
		})
	}
	if w.hostSpread {
		out = append(out, corev1.TopologySpreadConstraint{
			MaxSkew:           1,
			TopologyKey:       labelHostname,
			WhenUnsatisfiable: corev1.ScheduleAnyway,
			LabelSelector:     &metav1.LabelSelector{MatchLabels: copyMap(w.selector)},
		})
	}
	return out
}
