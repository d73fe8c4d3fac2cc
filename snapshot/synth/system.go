package synth

import (
	"fmt"
	"math"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func hostPathVolume(name, path string, t corev1.HostPathType) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: path, Type: &t}}}
}

func tcp(name string, port int32) corev1.ContainerPort {
	return corev1.ContainerPort{Name: name, ContainerPort: port, Protocol: corev1.ProtocolTCP}
}

// planSystem plans the cluster add-ons: the node agents (DaemonSets) and
// the control-plane-adjacent Deployments and StatefulSets. Their sizes are
// fixed, as their charts set them; a few grow with the cluster.
func (g *generator) planSystem() {
	ks, mon, logging, ingress := g.nsByName["kube-system"], g.nsByName["monitoring"], g.nsByName["logging"], g.nsByName["ingress-nginx"]
	at := func(ns *nsInfo) time.Time { return g.later(ns.created, time.Minute, 2*time.Hour) }
	n := g.p.nodes

	// kube-proxy: host network, runs everywhere.
	w := g.newWorkload(kindDaemonSet, ks, "kube-proxy", epoch.Add(5*time.Minute))
	w.selector = map[string]string{"k8s-app": "kube-proxy"}
	w.labels = map[string]string{"k8s-app": "kube-proxy"}
	w.priorityClass = pcNodeCritical
	w.hostNetwork = true
	w.tolerations = tolerateAll
	w.serviceAcct = "kube-proxy"
	w.hostVolumes = []corev1.Volume{
		hostPathVolume("xtables-lock", "/run/xtables.lock", corev1.HostPathFileOrCreate),
		hostPathVolume("lib-modules", "/lib/modules", ""),
	}
	w.containers = []*container{{name: "kube-proxy", image: "registry.k8s.io/kube-proxy:" + kubeletVer, cpuBase: 100,
		args:   []string{"--config=/var/lib/kube-proxy/config.conf", "--hostname-override=$(NODE_NAME)"},
		mounts: []corev1.VolumeMount{{Name: "xtables-lock", MountPath: "/run/xtables.lock"}, {Name: "lib-modules", MountPath: "/lib/modules", ReadOnly: true}}}}
	w.fixed = true

	// The CSI driver's node plugin: runs everywhere.
	w = g.newWorkload(kindDaemonSet, ks, "block-csi-node", epoch.Add(10*time.Minute))
	w.priorityClass = pcNodeCritical
	w.tolerations = tolerateAll
	w.serviceAcct = "block-csi-node-sa"
	w.hostVolumes = []corev1.Volume{
		hostPathVolume("kubelet-dir", "/var/lib/kubelet", corev1.HostPathDirectory),
		hostPathVolume("plugin-dir", "/var/lib/kubelet/plugins/"+csiDriver+"/", corev1.HostPathDirectoryOrCreate),
		hostPathVolume("registration-dir", "/var/lib/kubelet/plugins_registry/", corev1.HostPathDirectory),
	}
	w.containers = []*container{
		{name: "node-driver", image: "registry.example.com/csi/block-driver:v1.4.0", cpuBase: 50, memBase: 64, memLimitMi: 256, ports: []corev1.ContainerPort{tcp("healthz", 9808)},
			mounts: []corev1.VolumeMount{{Name: "kubelet-dir", MountPath: "/var/lib/kubelet"}, {Name: "plugin-dir", MountPath: "/csi"}}},
		{name: "node-driver-registrar", image: "registry.k8s.io/sig-storage/csi-node-driver-registrar:v2.14.0", cpuBase: 10, memBase: 32, memLimitMi: 64,
			mounts: []corev1.VolumeMount{{Name: "plugin-dir", MountPath: "/csi"}, {Name: "registration-dir", MountPath: "/registration"}}},
		{name: "liveness-probe", image: "registry.k8s.io/sig-storage/livenessprobe:v2.16.0", cpuBase: 10, memBase: 32, memLimitMi: 64,
			mounts: []corev1.VolumeMount{{Name: "plugin-dir", MountPath: "/csi"}}},
	}
	w.fixed = true

	// node-exporter: host network and a host port, runs everywhere.
	w = g.newWorkload(kindDaemonSet, mon, "node-exporter", at(mon))
	w.priorityClass = pcPlatform
	w.hostNetwork = true
	w.tolerations = tolerateAll
	w.serviceAcct = "node-exporter"
	w.hostVolumes = []corev1.Volume{hostPathVolume("proc", "/proc", ""), hostPathVolume("sys", "/sys", "")}
	w.containers = []*container{{name: "node-exporter", image: "quay.io/prometheus/node-exporter:v1.9.1", cpuBase: 100, memBase: 180, memLimitMi: 180,
		ports:  []corev1.ContainerPort{{Name: "metrics", ContainerPort: 9100, HostPort: 9100, Protocol: corev1.ProtocolTCP}},
		mounts: []corev1.VolumeMount{{Name: "proc", MountPath: "/host/proc", ReadOnly: true}, {Name: "sys", MountPath: "/host/sys", ReadOnly: true}}}}
	w.fixed = true
	w.services = []*svcPlan{{name: "node-exporter", ports: []corev1.ServicePort{svcPort("metrics", 9100, 9100)}}}

	// fluent-bit: no tolerations, so it stays off the tainted batch pool.
	w = g.newWorkload(kindDaemonSet, logging, "fluent-bit", at(logging))
	w.priorityClass = pcPlatform
	w.serviceAcct = "fluent-bit"
	w.hostVolumes = []corev1.Volume{hostPathVolume("varlog", "/var/log", ""), hostPathVolume("containers", "/var/lib/containerd", "")}
	w.containers = []*container{{name: "fluent-bit", image: "cr.fluentbit.io/fluent/fluent-bit:4.0.3", cpuBase: 100, memBase: 128, memLimitMi: 256, ports: []corev1.ContainerPort{tcp("http", 2020)},
		mounts: []corev1.VolumeMount{{Name: "varlog", MountPath: "/var/log", ReadOnly: true}, {Name: "containers", MountPath: "/var/lib/containerd", ReadOnly: true}}}}
	w.fixed = true

	// CoreDNS, replicas as the cluster-proportional autoscaler sets them.
	w = g.newWorkload(kindDeployment, ks, "coredns", epoch.Add(5*time.Minute))
	w.selector = map[string]string{"k8s-app": "kube-dns"}
	w.labels = map[string]string{"k8s-app": "kube-dns"}
	w.replicas = max(2, int(math.Ceil(float64(n)/16)))
	w.priorityClass = pcClusterCritical
	w.tolerations = []corev1.Toleration{{Key: "CriticalAddonsOnly", Operator: corev1.TolerationOpExists}}
	w.serviceAcct = "coredns"
	w.anti = affinityPreferred
	w.zoneSpread = corev1.ScheduleAnyway
	w.containers = []*container{{name: "coredns", image: "registry.k8s.io/coredns/coredns:v1.12.1", cpuBase: 100, memBase: 70, memLimitMi: 170, probePort: 8181,
		ports: []corev1.ContainerPort{{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP}, tcp("dns-tcp", 53), tcp("metrics", 9153)}}}
	w.fixed, w.system = true, true
	w.services = []*svcPlan{{name: "kube-dns", clusterIP: "10.96.0.10", ports: []corev1.ServicePort{
		{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(53)},
		{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(53)},
		{Name: "metrics", Port: 9153, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(9153)}}}}
	w.pdb = &pdbPlan{maxUnavailable: ptr(intstr.FromInt32(1))}

	// metrics-server: a single replica, as usually installed.
	w = g.newWorkload(kindDeployment, ks, "metrics-server", epoch.Add(20*time.Minute))
	w.selector = map[string]string{"k8s-app": "metrics-server"}
	w.labels = map[string]string{"k8s-app": "metrics-server"}
	w.replicas = 1
	w.priorityClass = pcClusterCritical
	w.serviceAcct = "metrics-server"
	w.containers = []*container{{name: "metrics-server", image: "registry.k8s.io/metrics-server/metrics-server:v0.8.0", cpuBase: 100, memBase: 200, probePort: 10250, ports: []corev1.ContainerPort{tcp("https", 10250)}}}
	w.fixed, w.system = true, true
	w.services = []*svcPlan{{name: "metrics-server", ports: []corev1.ServicePort{svcPort("https", 443, 10250)}}}

	// The ingress controller: one per node at most, spread over zones.
	w = g.newWorkload(kindDeployment, ingress, "ingress-nginx-controller", at(ingress))
	w.selector = map[string]string{"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller"}
	w.labels = map[string]string{"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller", "app.kubernetes.io/instance": "ingress-nginx"}
	w.replicas = max(2, n/50)
	w.priorityClass = pcPlatform
	w.serviceAcct = "ingress-nginx"
	w.anti = affinityRequired
	w.zoneSpread = corev1.DoNotSchedule
	w.grace = 300
	w.containers = []*container{{name: "controller", image: "registry.k8s.io/ingress-nginx/controller:v1.13.0", cpuBase: 500, memBase: 512, probePort: 10254,
		ports: []corev1.ContainerPort{tcp("http", 80), tcp("https", 443), tcp("webhook", 8443)}}}
	w.fixed, w.system = true, true
	w.services = []*svcPlan{
		{name: "ingress-nginx-controller", typ: corev1.ServiceTypeLoadBalancer, ports: []corev1.ServicePort{svcPort("http", 80, 80), svcPort("https", 443, 443)}},
		{name: "ingress-nginx-controller-admission", ports: []corev1.ServicePort{svcPort("https-webhook", 443, 8443)}},
	}
	w.pdb = &pdbPlan{minAvailable: ptr(intstr.FromInt32(1))}

	// kube-state-metrics: a single replica whose memory grows with the cluster.
	w = g.newWorkload(kindDeployment, mon, "kube-state-metrics", at(mon))
	w.replicas = 1
	w.priorityClass = pcPlatform
	w.serviceAcct = "kube-state-metrics"
	w.containers = []*container{{name: "kube-state-metrics", image: "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.16.0", cpuBase: 100, memBase: 256 + int64(n)/2, probePort: 8080,
		ports: []corev1.ContainerPort{tcp("http-metrics", 8080), tcp("telemetry", 8081)}}}
	w.fixed, w.system = true, true
	w.services = []*svcPlan{{name: "kube-state-metrics", ports: []corev1.ServicePort{svcPort("http-metrics", 8080, 8080)}}}

	// Prometheus: two replicas on zonal volumes, sized by the cluster.
	w = g.newWorkload(kindStatefulSet, mon, "prometheus", at(mon))
	w.replicas = 2
	w.priorityClass = pcPlatform
	w.serviceAcct = "prometheus"
	w.anti = affinityRequired
	w.storage, w.storageGi, w.claimName = storageZonal, max(100, int64(n)), "prometheus-db"
	w.grace = 600
	w.containers = []*container{{name: "prometheus", image: "quay.io/prometheus/prometheus:v3.5.0", cpuBase: 500 + 6*int64(n), memBase: 2048 + 40*int64(n), probePort: 9090, ports: []corev1.ContainerPort{tcp("web", 9090)}}}
	w.fixed, w.system = true, true
	w.services = []*svcPlan{{name: "prometheus-operated", headless: true, ports: []corev1.ServicePort{svcPort("web", 9090, 9090)}},
		{name: "prometheus", ports: []corev1.ServicePort{svcPort("web", 9090, 9090)}}}

	// Alertmanager: three replicas, a PDB.
	w = g.newWorkload(kindStatefulSet, mon, "alertmanager", at(mon))
	w.replicas = 3
	w.priorityClass = pcPlatform
	w.serviceAcct = "alertmanager"
	w.anti = affinityPreferred
	w.storage, w.storageGi, w.claimName = storageZonal, 10, "alertmanager-db"
	w.containers = []*container{{name: "alertmanager", image: "quay.io/prometheus/alertmanager:v0.28.1", cpuBase: 100, memBase: 256, probePort: 9093, ports: []corev1.ContainerPort{tcp("web", 9093)}}}
	w.fixed, w.system = true, true
	w.services = []*svcPlan{{name: "alertmanager-operated", headless: true, ports: []corev1.ServicePort{svcPort("web", 9093, 9093)}},
		{name: "alertmanager", ports: []corev1.ServicePort{svcPort("web", 9093, 9093)}}}
	w.pdb = &pdbPlan{maxUnavailable: ptr(intstr.FromInt32(1))}

	for _, w := range g.workloads {
		w.system = true
		if w.serviceAcct != "" {
			w.ns.serviceAccounts[w.serviceAcct] = true
		}
		if w.kind == kindDaemonSet {
			for _, ni := range g.nodes {
				if dsRunsOn(w, ni) {
					w.replicas++
				}
			}
		}
	}
}

// plannedPods counts the pods planned so far.
func (g *generator) plannedPods() int {
	total := 0
	for _, w := range g.workloads {
		total += w.replicas
	}
	return total
}

func svcPort(name string, port, target int32) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Port: port, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(target)}
}

func (w *workload) String() string { return fmt.Sprintf("%s %s/%s", w.kind, w.ns.name, w.name) }
