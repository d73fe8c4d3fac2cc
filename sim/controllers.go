package sim

import (
	"fmt"
	"sort"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/noderoll/noderoll/plan"
)

// This file holds what the StatefulSet and Job controllers do about a pod
// that leaves, beyond "create the replacement": the StatefulSet
// controller's ordering, and the Job controller's failure back-off and
// backoffLimit.

// --- StatefulSet ---

// statefulPodGone is the StatefulSet controller's answer to one of its pods
// being gone: with podManagementPolicy Parallel it creates the same
// identity again at once; with OrderedReady (the default) the identity
// waits until every lower ordinal is Running and Ready (syncStatefulSet).
func (s *Simulation) statefulPodGone(p *simPod) {
	w := p.owner
	delete(w.members, p)
	ord := ordinal(p)
	if !w.ordered || ord < 0 {
		s.recreate(p)
		return
	}
	w.awaiting[ord] = p
	for _, nr := range s.activeRuns() {
		if nr.node.obj.Name == p.obj.Spec.NodeName {
			nr.awaitingIdentity[p] = true
		}
	}
	s.syncStatefulSet(w)
}

// syncStatefulSet creates the lowest missing ordinal of an OrderedReady
// StatefulSet when every lower one is Running and Ready (and Available for
// spec.minReadySeconds), and nothing more: the controller walks the
// ordinals in order, creates one missing pod and returns; a pod that is
// terminating, or not Running and Ready, or not yet Available, stops the
// walk (defaultStatefulSetControl.processReplica with monotonic set). It
// runs again when a pod of the set is gone or turns Ready, and when one
// becomes Available.
func (s *Simulation) syncStatefulSet(w *workload) {
	if len(w.awaiting) == 0 {
		return
	}
	live := make(map[int]*simPod, len(w.members))
	ords := make([]int, 0, len(w.members)+len(w.awaiting))
	for p := range w.members {
		if p.state == podGone {
			continue
		}
		o := ordinal(p)
		if _, dup := live[o]; !dup {
			ords = append(ords, o)
		}
		live[o] = p
	}
	for o := range w.awaiting {
		if _, ok := live[o]; !ok {
			ords = append(ords, o)
		}
	}
	sort.Ints(ords)
	for _, o := range ords {
		if p := live[o]; p != nil {
			if p.state != podReady {
				return // terminating, or not Running and Ready yet
			}
			if avail := p.readyAt + w.minReady; w.minReady > 0 && s.clk.now < avail {
				s.clk.at(avail, func() { s.syncStatefulSet(w) })
				return
			}
			continue
		}
		old := w.awaiting[o]
		delete(w.awaiting, o)
		s.recreate(old)
		return
	}
}

// --- Job ---

// jobState is a Job's failure accounting, as the Job controller keeps it.
type jobState struct {
	backoffLimit int32
	// failed counts the failures that count against backoffLimit:
	// status.failed at the snapshot, then each evicted pod that no
	// podFailurePolicy rule ignores.
	failed int32
	// The back-off record: failures since the last success, and the last
	// failure's time. It counts every failed pod, ignored ones included
	// (backoffStore.newBackoffRecord is given all new failed pods).
	failuresSinceSuccess int32
	lastFailure          time.Duration
	// onlyFailed: podReplacementPolicy Failed — a replacement waits for
	// the pod to be gone (Failed), not just terminating.
	onlyFailed bool
	// onDisruption is the action of the first podFailurePolicy rule that
	// matches the DisruptionTarget condition an evicted pod carries
	// ("" when none does: the failure counts).
	onDisruption batchv1.PodFailurePolicyAction
	// replace holds the failed pods whose replacement waits for the
	// back-off; syncAt is when the queued sync runs (-1: none queued).
	replace []*simPod
	syncAt  time.Duration
	// failedJob: the Job has failed; nothing is replaced any more.
	failedJob bool
}

// Defaults of the Job API and controller.
const (
	defaultBackoffLimit = 6
	// jobBackoff and maxJobBackoff are DefaultJobPodFailureBackOff and
	// MaxJobPodFailureBackOff.
	jobBackoff    = 10 * time.Second
	maxJobBackoff = 10 * time.Minute
)

func newJobState(j *batchv1.Job) *jobState {
	st := &jobState{backoffLimit: defaultBackoffLimit, failed: j.Status.Failed, syncAt: -1}
	if j.Spec.BackoffLimit != nil {
		st.backoffLimit = *j.Spec.BackoffLimit
	}
	// The API defaults podReplacementPolicy to Failed when a
	// podFailurePolicy is set, to TerminatingOrFailed otherwise.
	if r := j.Spec.PodReplacementPolicy; r != nil {
		st.onlyFailed = *r == batchv1.Failed
	} else {
		st.onlyFailed = j.Spec.PodFailurePolicy != nil
	}
	if pfp := j.Spec.PodFailurePolicy; pfp != nil {
		st.onDisruption = disruptionAction(pfp.Rules)
	}
	return st
}

// disruptionAction is the action of the first rule that matches a pod
// carrying the DisruptionTarget condition (True). Rules on exit codes are
// taken not to match: an evicted container's exit code is whatever it
// returns on SIGTERM, which the snapshot cannot tell.
func disruptionAction(rules []batchv1.PodFailurePolicyRule) batchv1.PodFailurePolicyAction {
	for _, r := range rules {
		for _, c := range r.OnPodConditions {
			status := c.Status
			if status == "" {
				status = corev1.ConditionTrue
			}
			if c.Type == corev1.DisruptionTarget && status == corev1.ConditionTrue {
				return r.Action
			}
		}
	}
	return ""
}

// backoff is the delay before the controller creates pods again after
// failures since the last success: 10 s, doubling, at most 10 minutes
// (getRemainingTimeForFailuresCount).
func (j *jobState) backoff() time.Duration {
	if j.failuresSinceSuccess == 0 {
		return 0
	}
	d := jobBackoff
	for i := int32(1); i < j.failuresSinceSuccess; i++ {
		d *= 2
		if d >= maxJobBackoff {
			return maxJobBackoff
		}
	}
	return d
}

// jobPodFailed is the Job controller's answer to one of its pods failing:
// with podReplacementPolicy TerminatingOrFailed when it starts terminating
// (a deleted pod counts as failed: isPodFailed), with Failed once it is
// gone. The failure counts unless the podFailurePolicy ignores
// DisruptionTarget (a FailJob rule fails the Job at once); past
// backoffLimit the Job fails (failed > backoffLimit, syncJob). Otherwise
// the pod is replaced once the back-off since the last failure is over
// (manageJob).
func (s *Simulation) jobPodFailed(p *simPod) {
	w := p.owner
	j := w.job
	if j.failedJob {
		return
	}
	j.failuresSinceSuccess++
	j.lastFailure = s.clk.now
	disrupted := hasCondition(p.obj, corev1.DisruptionTarget)
	switch {
	case disrupted && j.onDisruption == batchv1.PodFailurePolicyActionFailJob:
		s.failJob(w, fmt.Sprintf("pod %s was disrupted and the Job's podFailurePolicy fails the Job on DisruptionTarget", p.key()))
		return
	case disrupted && j.onDisruption == batchv1.PodFailurePolicyActionIgnore:
	default:
		j.failed++
	}
	if j.failed > j.backoffLimit {
		s.failJob(w, fmt.Sprintf("%d failed pods exceed its backoffLimit of %d (an evicted pod counts as failed unless a podFailurePolicy rule ignores DisruptionTarget)", j.failed, j.backoffLimit))
		return
	}
	j.replace = append(j.replace, p)
	s.syncJob(w)
}

// syncJob creates the replacements the back-off held back once it is over.
func (s *Simulation) syncJob(w *workload) {
	j := w.job
	if j.failedJob || len(j.replace) == 0 {
		return
	}
	at := j.lastFailure + j.backoff()
	if at > s.clk.now {
		if j.syncAt != at {
			j.syncAt = at
			s.clk.at(at, func() {
				if j.syncAt == at {
					j.syncAt = -1
					s.syncJob(w)
				}
			})
		}
		return
	}
	replace := j.replace
	j.replace = nil
	for _, p := range replace {
		s.recreate(p)
	}
}

// failJob: the Job controller marks the Job Failed and deletes its active
// pods; nothing replaces them.
func (s *Simulation) failJob(w *workload, why string) {
	j := w.job
	j.failedJob = true
	j.replace = nil
	s.result.Summary.FailedJobs++
	s.result.addRisk(plan.RiskJobFailed, plan.Critical, w.object(), s.batchIndex(), "the Job fails: "+why)
	var active []*simPod
	for _, p := range s.pods {
		if p.owner == w && p.state != podGone && p.state != podTerminating {
			active = append(active, p)
		}
	}
	for _, p := range active {
		s.terminate(p, plan.GracePeriod(p.obj, plan.DrainOptions{}))
	}
}

func hasCondition(p *corev1.Pod, t corev1.PodConditionType) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}
