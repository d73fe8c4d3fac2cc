package synth

import (
	"fmt"
	"math"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// svcPlan is a Service. A workload's services select its pods; the
// cluster's own (kubernetes, ExternalName aliases) select nothing.
type svcPlan struct {
	ns           *nsInfo // only for services without a workload
	name         string
	typ          corev1.ServiceType // empty means ClusterIP
	headless     bool
	clusterIP    string // fixed address; allocated when empty
	externalName string
	ports        []corev1.ServicePort
	created      time.Time
}

type servicePort struct {
	name         string
	port, target int32
}

func servicePorts(ps []servicePort) []corev1.ServicePort {
	out := make([]corev1.ServicePort, len(ps))
	for i, p := range ps {
		out[i] = svcPort(p.name, p.port, p.target)
	}
	return out
}

// planServices brings the Service count to the target: one per serving
// Deployment, two per StatefulSet (headless and client), the add-ons', a
// share of selector-less ExternalName aliases, and then extra services
// (metrics, grpc, admin, ...) on some Deployments to make up the count, or
// fewer Deployment services when the target is lower.
func (g *generator) planServices() error {
	g.extraServices = append(g.extraServices, &svcPlan{ns: g.nsByName["default"], name: "kubernetes", clusterIP: "10.96.0.1",
		ports: []corev1.ServicePort{svcPort("https", 443, 6443)}, created: epoch})
	ext := max(1, int(math.Round(float64(g.p.services)*0.015)))
	for range ext {
		ns := g.pickTenant()
		host := g.pick(hostDBs)
		name := uniqueName(ns.usedNames, host)
		g.extraServices = append(g.extraServices, &svcPlan{ns: ns, name: name, typ: corev1.ServiceTypeExternalName,
			externalName: host + ".corp.example.com", created: g.tenantCreated(ns)})
	}
	count := len(g.extraServices)
	var serving []*workload // tenant Deployments with a service
	for _, w := range g.workloads {
		count += len(w.services)
		if !w.system && w.kind == kindDeployment && len(w.services) > 0 {
			serving = append(serving, w)
		}
	}
	g.rng.Shuffle(len(serving), func(i, j int) { serving[i], serving[j] = serving[j], serving[i] })
	gap := g.p.services - count
	for round := 0; gap > 0 && round < len(extraSvc) && len(serving) > 0; round++ {
		for _, w := range serving {
			if gap == 0 {
				break
			}
			// Round 0 gives one extra to as many Deployments as the gap
			// needs; later rounds (small --services-heavy configs) stack more.
			if round > 0 && len(w.services) < round+1 {
				continue
			}
			suffix := extraSvc[(len(w.services)-1)%len(extraSvc)]
			name := uniqueName(w.ns.usedNames, w.name+"-"+suffix)
			w.services = append(w.services, &svcPlan{name: name, ports: servicePorts([]servicePort{{suffix, 8081 + int32(len(w.services)), 8081 + int32(len(w.services))}})})
			gap--
		}
	}
	for _, w := range serving {
		if gap >= 0 {
			break
		}
		gap += len(w.services)
		w.services = nil
	}
	if gap < 0 {
		return fmt.Errorf("%w: %d services is fewer than the %d the StatefulSets and add-ons need", ErrBadConfig, g.p.services, g.p.services-gap)
	}
	for gap > 0 { // only when there are no Deployments to hang extras on
		ns := g.pickTenant()
		g.extraServices = append(g.extraServices, &svcPlan{ns: ns, name: uniqueName(ns.usedNames, g.pick(hostDBs)), typ: corev1.ServiceTypeExternalName,
			externalName: "alias.corp.example.com", created: g.tenantCreated(ns)})
		gap--
	}
	return nil
}

// buildServices creates the Service objects as the API server stores them
// (allocated ClusterIPs, single-stack IPv4, defaults filled in).
func (g *generator) buildServices() {
	for _, w := range g.workloads {
		for _, s := range w.services {
			s.ns = w.ns
			s.created = g.later(w.created, 0, time.Minute)
			g.addService(s, w.selector)
		}
	}
	for _, s := range g.extraServices {
		g.addService(s, nil)
	}
}

func (g *generator) addService(s *svcPlan, selector map[string]string) {
	meta := g.meta("Service", s.ns.name, s.name, s.created)
	if selector != nil {
		meta.Labels = copyMap(selector)
	}
	if s.name == "kubernetes" {
		meta.Labels = map[string]string{"component": "apiserver", "provider": "kubernetes"}
	}
	spec := corev1.ServiceSpec{
		Ports:           s.ports,
		Selector:        copyMap(selector),
		Type:            s.typ,
		SessionAffinity: corev1.ServiceAffinityNone,
	}
	var status corev1.ServiceStatus
	switch {
	case s.typ == corev1.ServiceTypeExternalName:
		spec.ExternalName = s.externalName
	default:
		if spec.Type == "" {
			spec.Type = corev1.ServiceTypeClusterIP
		}
		ip := s.clusterIP
		switch {
		case s.headless:
			ip = corev1.ClusterIPNone
			spec.PublishNotReadyAddresses = true
		case ip == "":
			ip = g.nextClusterIP()
		}
		spec.ClusterIP, spec.ClusterIPs = ip, []string{ip}
		spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol}
		spec.IPFamilyPolicy = ptr(corev1.IPFamilyPolicySingleStack)
		spec.InternalTrafficPolicy = ptr(corev1.ServiceInternalTrafficPolicyCluster)
		if s.typ == corev1.ServiceTypeLoadBalancer {
			spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
			spec.AllocateLoadBalancerNodePorts = ptr(true)
			for i := range spec.Ports {
				spec.Ports[i].NodePort = g.nextNodePort()
			}
			status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: fmt.Sprintf("203.0.113.%d", 10+g.nodePort%200), IPMode: ptr(corev1.LoadBalancerIPModeVIP)}}
		}
	}
	for i := range spec.Ports {
		if spec.Ports[i].TargetPort == (intstr.IntOrString{}) {
			spec.Ports[i].TargetPort = intstr.FromInt32(spec.Ports[i].Port)
		}
	}
	g.snap.Services = append(g.snap.Services, corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: meta,
		Spec:       spec,
		Status:     status,
	})
}
