package snapshot

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// fingerprintVersion starts the hashed text; change it whenever the
// canonical form changes, so that old and new fingerprints never match by
// accident.
const fingerprintVersion = "noderoll-fingerprint-v1"

// Fingerprint returns a stable hex SHA-256 digest of the snapshot's
// scheduling-relevant state:
//
//   - nodes: name, labels, taints, unschedulable, allocatable;
//   - pods: namespace/name, labels, nodeName, schedulerName, priority and
//     priorityClassName, nodeSelector, affinity, tolerations,
//     topologySpreadConstraints, overhead, pod-level requests, and per
//     container (init containers included): name, restartPolicy, requests
//     and host ports;
//   - PodDisruptionBudgets: namespace/name, selector, minAvailable,
//     maxUnavailable, unhealthyPodEvictionPolicy.
//
// It does not depend on the input form or on the order of objects, and
// quantities count by value ("1000m" and "1" are the same). Everything else
// (status other than allocatable, annotations, volumes, other kinds) is left
// out.
func (s *Snapshot) Fingerprint() string {
	var lines [][]byte
	add := func(prefix string, v any) {
		data, err := json.Marshal(v)
		if err != nil {
			// The canonical types hold only strings, numbers and
			// Kubernetes API structs, all of which marshal.
			data = []byte(`"unmarshalable: ` + err.Error() + `"`)
		}
		lines = append(lines, append([]byte(prefix), data...))
	}
	for i := range s.Nodes {
		add("node ", canonicalNode(&s.Nodes[i]))
	}
	for i := range s.Pods {
		add("pod ", canonicalPod(&s.Pods[i]))
	}
	for i := range s.PodDisruptionBudgets {
		pdb := &s.PodDisruptionBudgets[i]
		add("pdb ", fpPDB{
			Name:                       pdb.Namespace + "/" + pdb.Name,
			Selector:                   pdb.Spec.Selector,
			MinAvailable:               pdb.Spec.MinAvailable,
			MaxUnavailable:             pdb.Spec.MaxUnavailable,
			UnhealthyPodEvictionPolicy: stringOf(pdb.Spec.UnhealthyPodEvictionPolicy),
		})
	}
	// Each line starts with its kind and name, so sorting the lines sorts
	// the objects; JSON never holds a raw newline, so lines cannot run into
	// each other.
	slices.SortFunc(lines, bytes.Compare)
	h := sha256.New()
	h.Write([]byte(fingerprintVersion + "\n"))
	for _, l := range lines {
		h.Write(l)
		h.Write([]byte("\n"))
	}
	return hex.EncodeToString(h.Sum(nil))
}

type fpNode struct {
	Name          string            `json:"name"`
	Labels        map[string]string `json:"labels,omitempty"`
	Taints        []corev1.Taint    `json:"taints,omitempty"`
	Unschedulable bool              `json:"unschedulable,omitempty"`
	Allocatable   map[string]string `json:"allocatable,omitempty"`
}

func canonicalNode(n *corev1.Node) fpNode {
	taints := make([]corev1.Taint, len(n.Spec.Taints))
	for i, t := range n.Spec.Taints {
		t.TimeAdded = nil // when a taint was added does not change what it does
		taints[i] = t
	}
	return fpNode{
		Name:          n.Name,
		Labels:        n.Labels,
		Taints:        taints,
		Unschedulable: n.Spec.Unschedulable,
		Allocatable:   canonicalResources(n.Status.Allocatable),
	}
}

type fpPod struct {
	Name                      string                            `json:"name"`
	Labels                    map[string]string                 `json:"labels,omitempty"`
	NodeName                  string                            `json:"nodeName,omitempty"`
	SchedulerName             string                            `json:"schedulerName,omitempty"`
	Priority                  *int32                            `json:"priority,omitempty"`
	PriorityClassName         string                            `json:"priorityClassName,omitempty"`
	NodeSelector              map[string]string                 `json:"nodeSelector,omitempty"`
	Affinity                  *corev1.Affinity                  `json:"affinity,omitempty"`
	Tolerations               []corev1.Toleration               `json:"tolerations,omitempty"`
	TopologySpreadConstraints []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints,omitempty"`
	Overhead                  map[string]string                 `json:"overhead,omitempty"`
	Requests                  map[string]string                 `json:"requests,omitempty"`
	InitContainers            []fpContainer                     `json:"initContainers,omitempty"`
	Containers                []fpContainer                     `json:"containers,omitempty"`
}

type fpContainer struct {
	Name          string            `json:"name"`
	RestartPolicy string            `json:"restartPolicy,omitempty"`
	Requests      map[string]string `json:"requests,omitempty"`
	HostPorts     []string          `json:"hostPorts,omitempty"`
}

func canonicalPod(p *corev1.Pod) fpPod {
	fp := fpPod{
		Name:                      p.Namespace + "/" + p.Name,
		Labels:                    p.Labels,
		NodeName:                  p.Spec.NodeName,
		SchedulerName:             p.Spec.SchedulerName,
		Priority:                  p.Spec.Priority,
		PriorityClassName:         p.Spec.PriorityClassName,
		NodeSelector:              p.Spec.NodeSelector,
		Tolerations:               p.Spec.Tolerations,
		TopologySpreadConstraints: p.Spec.TopologySpreadConstraints,
		Overhead:                  canonicalResources(p.Spec.Overhead),
	}
	if a := p.Spec.Affinity; a != nil && (a.NodeAffinity != nil || a.PodAffinity != nil || a.PodAntiAffinity != nil) {
		fp.Affinity = a
	}
	if p.Spec.Resources != nil {
		fp.Requests = canonicalResources(p.Spec.Resources.Requests)
	}
	for i := range p.Spec.InitContainers {
		fp.InitContainers = append(fp.InitContainers, canonicalContainer(&p.Spec.InitContainers[i]))
	}
	for i := range p.Spec.Containers {
		fp.Containers = append(fp.Containers, canonicalContainer(&p.Spec.Containers[i]))
	}
	return fp
}

func canonicalContainer(c *corev1.Container) fpContainer {
	fc := fpContainer{
		Name:          c.Name,
		RestartPolicy: stringOf(c.RestartPolicy),
		Requests:      canonicalResources(c.Resources.Requests),
	}
	for _, port := range c.Ports {
		if port.HostPort != 0 {
			proto := port.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			fc.HostPorts = append(fc.HostPorts, port.HostIP+":"+strconv.Itoa(int(port.HostPort))+"/"+string(proto))
		}
	}
	return fc
}

type fpPDB struct {
	Name                       string                `json:"name"`
	Selector                   *metav1.LabelSelector `json:"selector,omitempty"`
	MinAvailable               *intstr.IntOrString   `json:"minAvailable,omitempty"`
	MaxUnavailable             *intstr.IntOrString   `json:"maxUnavailable,omitempty"`
	UnhealthyPodEvictionPolicy string                `json:"unhealthyPodEvictionPolicy,omitempty"`
}

// canonicalResources renders a resource list with every quantity as an
// exact decimal without trailing zeros, so that equal amounts written
// differently ("1000m" and "1"; "1Gi" and "1073741824") look the same.
func canonicalResources(rl corev1.ResourceList) map[string]string {
	if len(rl) == 0 {
		return nil
	}
	out := make(map[string]string, len(rl))
	for name, q := range rl {
		out[string(name)] = canonicalQuantity(q)
	}
	return out
}

func canonicalQuantity(q resource.Quantity) string {
	s := q.AsDec().String()
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

// stringOf returns *p, or "" when p is nil.
func stringOf[T ~string](p *T) string {
	if p == nil {
		return ""
	}
	return string(*p)
}

// sortedResourceNames returns rl's names in order.
func sortedResourceNames(rl corev1.ResourceList) []corev1.ResourceName {
	return slices.Sorted(maps.Keys(rl))
}
