package synth

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// kind is the kind of a workload's controller; kindBare is a pod with no
// controller.
type kind string

const (
	kindDeployment  kind = "Deployment"
	kindStatefulSet kind = "StatefulSet"
	kindDaemonSet   kind = "DaemonSet"
	kindJob         kind = "Job"
	kindCronJob     kind = "CronJob" // a CronJob and its one running Job
	kindBare        kind = "Pod"
)

// group is the set of nodes a workload's pods consume: the untainted pools
// or the tainted batch pool. Requests are sized per group.
type group int

const (
	groupGeneral group = iota
	groupBatch
)

type affinityMode int

const (
	affinityNone affinityMode = iota
	affinityPreferred
	affinityRequired
)

type storageKind int

const (
	storageNone  storageKind = iota
	storageZonal             // network block volumes, pinned to a zone
	storageLocal             // node-local disks, pinned to a node
)

type qos int

const (
	qosBurstable qos = iota
	qosGuaranteed
	qosBestEffort
)

// container is one container of a workload's pod template. Base sizes are
// the catalogue's; final sizes come from sizing, which scales the base
// sizes of non-fixed workloads so that the cluster lands at its target
// utilisation.
type container struct {
	name, image string
	cpuBase     int64 // millicores; 0 = no CPU request
	memBase     int64 // MiB; 0 = no memory request
	cpu         int64 // final millicores
	mem         int64 // final bytes
	cpuLimit    bool  // burstable: a CPU limit of twice the request
	memLimitMi  int64 // fixed workloads: an explicit memory limit
	ports       []corev1.ContainerPort
	probePort   int32
	mounts      []corev1.VolumeMount
	args        []string
}

// workload is the generator's plan of one controller (or bare pod) and its
// pods, from which the API objects are built.
type workload struct {
	kind      kind
	ns        *nsInfo
	name      string
	component string
	role      string
	replicas  int // pods that exist now; for Jobs the active ones
	created   time.Time
	group     group
	fixed     bool // sizes are not scaled
	system    bool // cluster add-on rather than tenant workload

	priorityClass string

	containers []*container
	inits      []*container
	qos        qos

	selector     map[string]string
	labels       map[string]string // template labels, a superset of selector
	nodeSelector map[string]string
	tolerations  []corev1.Toleration
	hostNetwork  bool
	hostVolumes  []corev1.Volume
	anti         affinityMode
	selfAffinity bool // required pod affinity to itself on hostname
	zoneSpread   corev1.UnsatisfiableConstraintAction
	hostSpread   bool
	emptyDir     bool
	storage      storageKind
	storageGi    int64
	claimName    string // volumeClaimTemplate name
	serviceAcct  string
	grace        int64
	restart      corev1.RestartPolicy
	parallel     bool // StatefulSet podManagementPolicy Parallel
	oldRevisions int  // Deployments: older ReplicaSets kept at zero replicas
	completions  int  // Jobs
	succeeded    int  // Jobs
	// minutes past the hour of a CronJob's schedule
	cronMinute int

	pdb      *pdbPlan
	services []*svcPlan

	// Built objects.
	meta     metav1.ObjectMeta // the controller's metadata
	template corev1.PodTemplateSpec
	owner    metav1.OwnerReference // the pods' controller reference
	hash     string                // pod-template-hash / controller-revision-hash
	rsMeta   metav1.ObjectMeta     // Deployments: the current ReplicaSet
	jobMeta  metav1.ObjectMeta     // CronJobs: the running Job
	claims   []int                 // StatefulSets: index of ordinal i's claim in snap.PersistentVolumeClaims
	pods     []*podRecord
}

// podRecord ties a placed pod to its index in the snapshot.
type podRecord struct {
	ordinal int
	node    *nodeInfo
	index   int // into snap.Pods
}

// podRequest is the effective request of one pod of w, as the
// scheduler computes it: the sum over containers, or the largest init
// container if that is larger.
func (w *workload) podRequest() (cpu, mem int64) {
	for _, c := range w.containers {
		cpu += c.cpu
		mem += c.mem
	}
	for _, c := range w.inits {
		cpu = max(cpu, c.cpu)
		mem = max(mem, c.mem)
	}
	return cpu, mem
}

// basePodRequest is podRequest over the catalogue sizes (millicores, MiB).
func (w *workload) basePodRequest() (cpu, mem int64) {
	for _, c := range w.containers {
		cpu += c.cpuBase
		mem += c.memBase
	}
	for _, c := range w.inits {
		cpu = max(cpu, c.cpuBase)
		mem = max(mem, c.memBase)
	}
	return cpu, mem
}

// newWorkload registers a workload under a name unique in its namespace.
func (g *generator) newWorkload(k kind, ns *nsInfo, base string, created time.Time) *workload {
	name := uniqueName(ns.usedNames, base)
	w := &workload{
		kind:     k,
		ns:       ns,
		name:     name,
		created:  created,
		selector: map[string]string{"app.kubernetes.io/name": name},
		grace:    30,
		restart:  corev1.RestartPolicyAlways,
	}
	w.labels = map[string]string{"app.kubernetes.io/name": name}
	ns.workloads = append(ns.workloads, w)
	g.workloads = append(g.workloads, w)
	return w
}

// dsRunsOn reports whether the DaemonSet w has a pod on node ni: every
// untainted node, and the tainted ones its tolerations allow.
func dsRunsOn(w *workload, ni *nodeInfo) bool {
	if !ni.pool.tainted {
		return true
	}
	for _, t := range w.tolerations {
		if t.Operator == corev1.TolerationOpExists && t.Key == "" {
			return true
		}
		if t.Key == taintKey && (t.Operator == corev1.TolerationOpExists || t.Value == batchPool) {
			return true
		}
	}
	return false
}

// tolerateAll is the toleration node agents carry to run everywhere.
var tolerateAll = []corev1.Toleration{{Operator: corev1.TolerationOpExists}}

// batchToleration lets a pod onto the tainted batch pool.
var batchToleration = corev1.Toleration{Key: taintKey, Operator: corev1.TolerationOpEqual, Value: batchPool, Effect: corev1.TaintEffectNoSchedule}
