package synth

import (
	"fmt"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Well-known labels and annotations the controllers set.
const (
	labelPodTemplateHash = appsv1.DefaultDeploymentUniqueLabelKey // pod-template-hash
	labelRevisionHash    = appsv1.ControllerRevisionHashLabelKey  // controller-revision-hash
	labelPodName         = appsv1.StatefulSetPodNameLabel         // statefulset.kubernetes.io/pod-name
	labelPodIndex        = appsv1.PodIndexLabel                   // apps.kubernetes.io/pod-index
	labelTemplateGen     = "pod-template-generation"              // extensions.DaemonSetTemplateGenerationKey
	annRevision          = "deployment.kubernetes.io/revision"
)

// buildControllers builds every workload's pod template and controller
// objects, with the status their controllers report once every pod is
// Running and Ready.
func (g *generator) buildControllers() {
	for _, w := range g.workloads {
		w.template = g.buildTemplate(w)
		switch w.kind {
		case kindDeployment:
			g.buildDeployment(w)
		case kindStatefulSet:
			g.buildStatefulSet(w)
		case kindDaemonSet:
			g.buildDaemonSet(w)
		case kindJob:
			w.meta = g.meta("Job", w.ns.name, w.name, w.created)
			g.buildJob(w, nil)
		case kindCronJob:
			g.buildCronJob(w)
		}
	}
}

func objectLabels(w *workload) map[string]string {
	l := copyMap(w.selector)
	if v, ok := w.labels["app.kubernetes.io/part-of"]; ok {
		l["app.kubernetes.io/part-of"] = v
	}
	return l
}

// buildDeployment creates the Deployment, its current ReplicaSet (which
// owns the pods) and the older ReplicaSets a rollout history leaves at zero
// replicas.
func (g *generator) buildDeployment(w *workload) {
	rev := w.oldRevisions + 1
	w.meta = g.meta("Deployment", w.ns.name, w.name, w.created)
	w.meta.Generation = int64(rev)
	w.meta.Labels = objectLabels(w)
	w.meta.Annotations = map[string]string{annRevision: strconv.Itoa(rev)}
	replicas := int32(w.replicas)
	quarter := intstr.FromString("25%")
	dep := appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: w.meta,
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: copyMap(w.selector)},
			Template: w.template,
			Strategy: appsv1.DeploymentStrategy{
				Type:          appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: &quarter, MaxSurge: &quarter},
			},
			RevisionHistoryLimit:    ptr(int32(10)),
			ProgressDeadlineSeconds: ptr(int32(600)),
		},
	}

	// Older revisions first, then the current one.
	var rsCreated time.Time
	last := w.created
	for r := 1; r <= rev; r++ {
		created := w.created
		if r > 1 {
			created = g.between(last.Add(time.Hour), g.takenAt.Add(-time.Duration(rev-r+1)*24*time.Hour))
		}
		last = created
		hash := g.templateHash("ReplicaSet", w.ns.name, w.name, strconv.Itoa(r))
		rs := g.replicaSet(w, hash, r, created, r == rev)
		if r == rev {
			w.hash, w.rsMeta, rsCreated = hash, rs.ObjectMeta, created
		}
		g.snap.ReplicaSets = append(g.snap.ReplicaSets, rs)
	}
	w.owner = ownerRef("apps/v1", "ReplicaSet", w.rsMeta)

	updated := metav1.NewTime(g.later(rsCreated, 30*time.Second, 5*time.Minute))
	dep.Status = appsv1.DeploymentStatus{
		ObservedGeneration: int64(rev),
		Replicas:           replicas,
		UpdatedReplicas:    replicas,
		ReadyReplicas:      replicas,
		AvailableReplicas:  replicas,
		Conditions: []appsv1.DeploymentCondition{
			{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, LastUpdateTime: updated, LastTransitionTime: updated,
				Reason: "MinimumReplicasAvailable", Message: "Deployment has minimum availability."},
			{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, LastUpdateTime: updated, LastTransitionTime: metav1.NewTime(w.created.Add(time.Second)),
				Reason: "NewReplicaSetAvailable", Message: fmt.Sprintf("ReplicaSet %q has successfully progressed.", w.rsMeta.Name)},
		},
	}
	g.snap.Deployments = append(g.snap.Deployments, dep)
}

// replicaSet creates one ReplicaSet of a Deployment: the current one with
// all the replicas, or an older one scaled to zero.
func (g *generator) replicaSet(w *workload, hash string, rev int, created time.Time, current bool) appsv1.ReplicaSet {
	meta := g.meta("ReplicaSet", w.ns.name, w.name+"-"+hash, created)
	replicas := int32(0)
	meta.Generation = 2
	if current {
		replicas = int32(w.replicas)
		meta.Generation = 1
	}
	tmpl := *w.template.DeepCopy()
	tmpl.Labels[labelPodTemplateHash] = hash
	meta.Labels = copyMap(tmpl.Labels)
	surge := (w.replicas + 3) / 4
	meta.Annotations = map[string]string{
		"deployment.kubernetes.io/desired-replicas": strconv.Itoa(w.replicas),
		"deployment.kubernetes.io/max-replicas":     strconv.Itoa(w.replicas + surge),
		annRevision:                                 strconv.Itoa(rev),
	}
	meta.OwnerReferences = []metav1.OwnerReference{ownerRef("apps/v1", "Deployment", w.meta)}
	sel := copyMap(w.selector)
	sel[labelPodTemplateHash] = hash
	return appsv1.ReplicaSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "ReplicaSet"},
		ObjectMeta: meta,
		Spec: appsv1.ReplicaSetSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: sel},
			Template: tmpl,
		},
		Status: appsv1.ReplicaSetStatus{
			Replicas:             replicas,
			FullyLabeledReplicas: replicas,
			ReadyReplicas:        replicas,
			AvailableReplicas:    replicas,
			ObservedGeneration:   meta.Generation,
		},
	}
}

// buildStatefulSet creates the StatefulSet with its volumeClaimTemplate.
func (g *generator) buildStatefulSet(w *workload) {
	w.meta = g.meta("StatefulSet", w.ns.name, w.name, w.created)
	w.meta.Generation = 1
	w.meta.Labels = objectLabels(w)
	w.hash = w.name + "-" + g.templateHash("StatefulSet", w.ns.name, w.name)
	w.owner = ownerRef("apps/v1", "StatefulSet", w.meta)
	replicas := int32(w.replicas)
	policy := appsv1.OrderedReadyPodManagement
	if w.parallel {
		policy = appsv1.ParallelPodManagement
	}
	serviceName := w.name
	for _, s := range w.services {
		if s.headless {
			serviceName = s.name
			break
		}
	}
	sc := scStandard
	if w.storage == storageLocal {
		sc = scLocal
	}
	claim := corev1.PersistentVolumeClaim{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
		ObjectMeta: metav1.ObjectMeta{Name: w.claimName},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: *resource.NewQuantity(w.storageGi<<30, resource.BinarySI)}},
			StorageClassName: ptr(sc),
			VolumeMode:       ptr(corev1.PersistentVolumeFilesystem),
		},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending},
	}
	sts := appsv1.StatefulSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
		ObjectMeta: w.meta,
		Spec: appsv1.StatefulSetSpec{
			Replicas:             &replicas,
			Selector:             &metav1.LabelSelector{MatchLabels: copyMap(w.selector)},
			Template:             w.template,
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{claim},
			ServiceName:          serviceName,
			PodManagementPolicy:  policy,
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{
				Type:          appsv1.RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr(int32(0))},
			},
			RevisionHistoryLimit: ptr(int32(10)),
			PersistentVolumeClaimRetentionPolicy: &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
				WhenDeleted: appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
				WhenScaled:  appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
			},
		},
		Status: appsv1.StatefulSetStatus{
			ObservedGeneration: 1,
			Replicas:           replicas,
			ReadyReplicas:      replicas,
			CurrentReplicas:    replicas,
			UpdatedReplicas:    replicas,
			AvailableReplicas:  replicas,
			CurrentRevision:    w.hash,
			UpdateRevision:     w.hash,
			CollisionCount:     ptr(int32(0)),
		},
	}
	g.snap.StatefulSets = append(g.snap.StatefulSets, sts)
}

// buildDaemonSet creates the DaemonSet; w.replicas is the number of nodes
// it runs on.
func (g *generator) buildDaemonSet(w *workload) {
	w.meta = g.meta("DaemonSet", w.ns.name, w.name, w.created)
	w.meta.Generation = 1
	w.meta.Labels = objectLabels(w)
	w.meta.Annotations = map[string]string{"deprecated.daemonset.template.generation": "1"}
	w.hash = g.templateHash("DaemonSet", w.ns.name, w.name)
	w.owner = ownerRef("apps/v1", "DaemonSet", w.meta)
	n := int32(w.replicas)
	one, zero := intstr.FromInt32(1), intstr.FromInt32(0)
	g.snap.DaemonSets = append(g.snap.DaemonSets, appsv1.DaemonSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"},
		ObjectMeta: w.meta,
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: copyMap(w.selector)},
			Template: w.template,
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{
				Type:          appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: &one, MaxSurge: &zero},
			},
			RevisionHistoryLimit: ptr(int32(10)),
		},
		Status: appsv1.DaemonSetStatus{
			CurrentNumberScheduled: n,
			NumberMisscheduled:     0,
			DesiredNumberScheduled: n,
			NumberReady:            n,
			ObservedGeneration:     1,
			UpdatedNumberScheduled: n,
			NumberAvailable:        n,
		},
	})
}

// buildJob creates a running Job (w.meta already set) owned by cron when
// given. Its selector and pod labels are the ones the API server generates
// from the Job's UID.
func (g *generator) buildJob(w *workload, cron *metav1.ObjectMeta) {
	meta := w.meta
	if cron != nil {
		meta = w.jobMeta
		meta.OwnerReferences = []metav1.OwnerReference{ownerRef("batch/v1", "CronJob", *cron)}
	}
	meta.Generation = 1
	meta.Labels = copyMap(w.labels)
	uid := string(meta.UID)
	w.selector = map[string]string{batchv1.ControllerUidLabel: uid}
	for k, v := range map[string]string{
		batchv1.ControllerUidLabel: uid, batchv1.JobNameLabel: meta.Name,
		"controller-uid": uid, "job-name": meta.Name,
	} {
		w.template.Labels[k] = v
	}
	w.owner = ownerRef("batch/v1", "Job", meta)
	parallelism, completions := int32(w.replicas), int32(max(w.completions, w.replicas))
	mode := batchv1.NonIndexedCompletion
	start := metav1.NewTime(meta.CreationTimestamp.Add(time.Second))
	g.snap.Jobs = append(g.snap.Jobs, batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: meta,
		Spec: batchv1.JobSpec{
			Parallelism:          &parallelism,
			Completions:          &completions,
			BackoffLimit:         ptr(int32(6)),
			Selector:             &metav1.LabelSelector{MatchLabels: copyMap(w.selector)},
			ManualSelector:       nil,
			Template:             w.template,
			CompletionMode:       &mode,
			Suspend:              ptr(false),
			PodReplacementPolicy: ptr(batchv1.TerminatingOrFailed),
		},
		Status: batchv1.JobStatus{
			StartTime:               &start,
			Active:                  parallelism,
			Ready:                   ptr(parallelism),
			Succeeded:               int32(w.succeeded),
			Terminating:             ptr(int32(0)),
			UncountedTerminatedPods: &batchv1.UncountedTerminatedPods{},
		},
	})
	if cron != nil {
		w.jobMeta = meta
	} else {
		w.meta = meta
	}
}

// buildCronJob creates an hourly CronJob and the Job of its latest run,
// still running.
func (g *generator) buildCronJob(w *workload) {
	w.meta = g.meta("CronJob", w.ns.name, w.name, w.created)
	w.meta.Generation = 1
	w.meta.Labels = objectLabels(w)
	sched := g.takenAt.Truncate(time.Hour).Add(time.Duration(w.cronMinute) * time.Minute)
	if sched.After(g.takenAt.Add(-2 * time.Minute)) {
		sched = sched.Add(-time.Hour)
	}
	jobName := fmt.Sprintf("%s-%d", w.name, sched.Unix()/60)
	w.jobMeta = g.meta("Job", w.ns.name, jobName, sched.Add(time.Second))
	w.jobMeta.Annotations = map[string]string{batchv1.CronJobScheduledTimestampAnnotation: sched.Format(time.RFC3339)}
	jobTemplate := batchv1.JobTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: copyMap(w.labels)},
		Spec: batchv1.JobSpec{
			BackoffLimit: ptr(int32(6)),
			Template:     *w.template.DeepCopy(),
		},
	}
	g.buildJob(w, &w.meta)
	last := metav1.NewTime(sched)
	lastOK := metav1.NewTime(sched.Add(-time.Hour + 5*time.Minute))
	g.snap.CronJobs = append(g.snap.CronJobs, batchv1.CronJob{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"},
		ObjectMeta: w.meta,
		Spec: batchv1.CronJobSpec{
			Schedule:                   fmt.Sprintf("%d * * * *", w.cronMinute),
			ConcurrencyPolicy:          batchv1.ForbidConcurrent,
			Suspend:                    ptr(false),
			JobTemplate:                jobTemplate,
			SuccessfulJobsHistoryLimit: ptr(int32(3)),
			FailedJobsHistoryLimit:     ptr(int32(1)),
		},
		Status: batchv1.CronJobStatus{
			Active: []corev1.ObjectReference{{
				Kind: "Job", Namespace: w.ns.name, Name: w.jobMeta.Name, UID: w.jobMeta.UID,
				APIVersion: "batch/v1", ResourceVersion: w.jobMeta.ResourceVersion,
			}},
			LastScheduleTime:   &last,
			LastSuccessfulTime: &lastOK,
		},
	})
}
