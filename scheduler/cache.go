package scheduler

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	fwk "k8s.io/kube-scheduler/framework"
)

// maxSignatures bounds the cache: past it the cache starts afresh. Each
// signature costs one entry per node.
const maxSignatures = 4096

// evalCache remembers, per pod signature and node slot, the verdict and raw
// scores of the node-local plugins and the node generation they were
// computed at. Node generations come from a process-wide counter that never
// repeats, so an entry whose generation matches describes the node as it
// is now, even after a Revert brought back an older state.
type evalCache struct {
	bySignature map[string][]cacheEntry
	// Buffers signature reuses (a Scheduler runs one cycle at a time).
	volumes                    []corev1.Volume
	containers, initContainers []corev1.Container
}

type cacheEntry struct {
	generation int64
	fits       bool
	// rejection is the first node-local plugin's rejection, nil when they
	// all passed; decisive when that plugin runs before every plugin that
	// looks beyond the node (the whole chain would return it).
	rejection *fwk.Status
	decisive  bool
	scored    bool
	local     []int64
	// The node-object plugins' results (nodeObjectPlugins), kept while the
	// node's Node object (nodeState.object) is filterObject (filters) or
	// scoreObject (their raw scores in local); 0 is none. objectReject is
	// the first of them to reject, at objectAt in the cycle's node-local
	// filters, or none (objectAt -1).
	filterObject, scoreObject int64
	objectReject              *fwk.Status
	objectAt                  int32
}

// decidesAt reports whether the entry holds a decisive rejection computed
// at node generation gen: what the whole filter chain would return there.
func (e *cacheEntry) decidesAt(gen int64) bool {
	return e.generation == gen && e.rejection != nil && e.decisive
}

func newEvalCache() *evalCache { return &evalCache{bySignature: map[string][]cacheEntry{}} }

// entriesFor returns the entries for pod's signature, one per node slot.
func (c *evalCache) entriesFor(pod *corev1.Pod, slots int) []cacheEntry {
	sig := c.signature(pod)
	e, ok := c.bySignature[sig]
	if !ok {
		if len(c.bySignature) >= maxSignatures {
			clear(c.bySignature)
		}
		e = make([]cacheEntry, slots)
		c.bySignature[sig] = e
	}
	if len(e) < slots {
		e = append(e, make([]cacheEntry, slots-len(e))...)
		c.bySignature[sig] = e
	}
	return e
}

// signature identifies everything a node-local plugin reads from a pod: its
// namespace (volume lookups) and its spec, less the node it may already be
// bound to, plus the resources its containers were allocated (in-place
// resize). Two pods with the same signature get the same verdict from those
// plugins on the same node state.
//
// What no node-local plugin reads is left out, so that the replicas of one
// template share a signature: the volume names of projected, ConfigMap,
// Secret, downward-API and emptyDir volumes (admission gives every pod its
// own kube-api-access-xxxxx token volume; the plugins look at claims and
// volume sources, never at these names), the containers' volume mounts,
// and the pod's hostname and subdomain. The other volumes keep their names
// (a generic ephemeral volume's claim is named after its volume).
func (c *evalCache) signature(pod *corev1.Pod) string {
	spec := pod.Spec
	spec.NodeName, spec.Hostname, spec.Subdomain = "", "", ""
	c.volumes = append(c.volumes[:0], spec.Volumes...)
	for i := range c.volumes {
		if anonymousVolume(&c.volumes[i]) {
			c.volumes[i].Name = ""
		}
	}
	spec.Volumes = c.volumes
	c.containers = withoutMounts(c.containers[:0], spec.Containers)
	spec.Containers = c.containers
	c.initContainers = withoutMounts(c.initContainers[:0], spec.InitContainers)
	spec.InitContainers = c.initContainers
	b, err := spec.Marshal()
	if err != nil {
		// Unreachable for a valid spec; a unique key keeps the cache correct.
		return string(pod.UID) + "/" + pod.Namespace + "/" + pod.Name
	}
	key := make([]byte, 0, len(b)+len(pod.Namespace)+64)
	key = append(key, pod.Namespace...)
	key = append(key, 0)
	key = append(key, b...)
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.AllocatedResources == nil && cs.Resources == nil {
			continue
		}
		if rb, err := cs.Marshal(); err == nil {
			key = append(key, rb...)
		}
	}
	return string(key)
}

// anonymousVolume reports whether no node-local plugin reads the volume's
// name: it is a projected, ConfigMap, Secret, downward-API or emptyDir
// volume.
func anonymousVolume(v *corev1.Volume) bool {
	src := &v.VolumeSource
	return src.Projected != nil || src.ConfigMap != nil || src.Secret != nil || src.DownwardAPI != nil || src.EmptyDir != nil
}

// withoutMounts appends containers to buf with their volume mounts left
// out.
func withoutMounts(buf, containers []corev1.Container) []corev1.Container {
	for _, ctr := range containers {
		ctr.VolumeMounts = nil
		buf = append(buf, ctr)
	}
	return buf
}

// cacheable reports whether a pod's node-local verdicts may be reused.
//
// Pods with resource claims or generic ephemeral volumes are evaluated
// afresh every time. A pod with PersistentVolumeClaims is cacheable when
// every claim is bound and none is ReadWriteOncePod: the scheduler loads
// claims, volumes and storage classes once (New) and never binds or
// changes them (it runs no Reserve or PreBind), so what VolumeBinding and
// VolumeZone read of a bound claim (its volume's node affinity and
// labels) is the same in every cycle, and what NodeVolumeLimits and
// VolumeRestrictions read of the node's pods changes its generation. A
// ReadWriteOncePod claim is left out: VolumeRestrictions rejects it for
// its use by pods anywhere in the cluster, not on the node. An unbound
// claim is left out: VolumeBinding's score and its choice of volume depend
// on the whole cycle's Filter.
func (s *Scheduler) cacheable(pod *corev1.Pod) bool {
	if len(pod.Spec.ResourceClaims) > 0 {
		return false
	}
	for _, v := range pod.Spec.Volumes {
		switch {
		case v.Ephemeral != nil:
			return false
		case v.PersistentVolumeClaim != nil:
			pvc, err := s.parts.informers.Core().V1().PersistentVolumeClaims().Lister().
				PersistentVolumeClaims(pod.Namespace).Get(v.PersistentVolumeClaim.ClaimName)
			if err != nil || pvc.Spec.VolumeName == "" || slices.Contains(pvc.Spec.AccessModes, corev1.ReadWriteOncePod) {
				return false
			}
		}
	}
	return true
}
