package e2e

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

// diagnoseNotReady writes to the test log what explains pods that are not
// Running and Ready (Job and bare pods aside): for each, its phase,
// conditions, node, volumes and events; the state of its node (which may
// have been deleted and registered again by the reinstall hook) and of
// the PersistentVolumes it claims; and the lines of the scheduler, the
// controller manager and the KWOK controller that name it. With
// NODEROLL_E2E_ARTIFACTS=DIR it also copies the components' full logs
// there, so that a flake explains itself after the cluster is gone.
func diagnoseNotReady(ctx context.Context, t *testing.T, c *Cluster) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	var b strings.Builder
	defer func() { t.Logf("diagnosis of the pods that are not Running and Ready:\n%s", b.String()) }()
	pods, err := c.Client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		fmt.Fprintf(&b, "listing pods: %v\n", err)
		return
	}
	logs := componentLogs(c)
	if dir := os.Getenv("NODEROLL_E2E_ARTIFACTS"); dir != "" {
		saveArtifacts(t, c, filepath.Join(dir, fmt.Sprintf("%s-%s", strings.ReplaceAll(t.Name(), "/", "_"), time.Now().UTC().Format("150405"))))
	}
	n := 0
	for i := range pods.Items {
		p := &pods.Items[i]
		ref := metav1.GetControllerOf(p)
		if ref == nil || ref.Kind == "Job" || (p.Status.Phase == corev1.PodRunning && podReady(p) && p.DeletionTimestamp == nil) {
			continue
		}
		n++
		if n > 10 {
			fmt.Fprintf(&b, "(and more)\n")
			break
		}
		describePodFully(ctx, &b, c, p, ref, logs)
	}
	if n == 0 {
		fmt.Fprintf(&b, "every controlled pod is Running and Ready now\n")
	}
}

func describePodFully(ctx context.Context, b *strings.Builder, c *Cluster, p *corev1.Pod, ref *metav1.OwnerReference, logs map[string][]string) {
	fmt.Fprintf(b, "== pod %s/%s (uid %s) of %s/%s: created %s, phase %s, node %q, podIP %q",
		p.Namespace, p.Name, p.UID, ref.Kind, ref.Name, p.CreationTimestamp.UTC().Format(time.TimeOnly), p.Status.Phase, p.Spec.NodeName, p.Status.PodIP)
	if p.DeletionTimestamp != nil {
		fmt.Fprintf(b, ", deleted at %s", p.DeletionTimestamp.UTC().Format(time.TimeOnly))
	}
	fmt.Fprintln(b)
	for _, cond := range p.Status.Conditions {
		fmt.Fprintf(b, "   condition %s=%s since %s reason %q message %q\n", cond.Type, cond.Status,
			cond.LastTransitionTime.UTC().Format(time.TimeOnly), cond.Reason, cond.Message)
	}
	for _, cs := range p.Status.ContainerStatuses {
		fmt.Fprintf(b, "   container %s ready %v state %+v\n", cs.Name, cs.Ready, cs.State)
	}
	evs, err := c.Client.CoreV1().Events(p.Namespace).List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("involvedObject.name", p.Name).String()})
	if err == nil {
		sort.Slice(evs.Items, func(i, j int) bool { return evs.Items[i].LastTimestamp.Before(&evs.Items[j].LastTimestamp) })
		for _, ev := range evs.Items {
			fmt.Fprintf(b, "   event %s %s x%d %s/%s: %s (uid %s)\n", ev.LastTimestamp.UTC().Format(time.TimeOnly), ev.Source.Component,
				ev.Count, ev.Type, ev.Reason, ev.Message, ev.InvolvedObject.UID)
		}
	}
	if p.Spec.NodeName != "" {
		node, err := c.Client.CoreV1().Nodes().Get(ctx, p.Spec.NodeName, metav1.GetOptions{})
		if err != nil {
			fmt.Fprintf(b, "   node %s: %v\n", p.Spec.NodeName, err)
		} else {
			fmt.Fprintf(b, "   node %s: uid %s, created %s, unschedulable %v, Ready %v, OS image %q, taints %v, annotations %v\n",
				node.Name, node.UID, node.CreationTimestamp.UTC().Format(time.TimeOnly), node.Spec.Unschedulable, nodeReady(node),
				node.Status.NodeInfo.OSImage, node.Spec.Taints, node.Annotations)
		}
	}
	for _, v := range p.Spec.Volumes {
		if v.PersistentVolumeClaim == nil {
			continue
		}
		pvc, err := c.Client.CoreV1().PersistentVolumeClaims(p.Namespace).Get(ctx, v.PersistentVolumeClaim.ClaimName, metav1.GetOptions{})
		if err != nil {
			fmt.Fprintf(b, "   claim %s: %v\n", v.PersistentVolumeClaim.ClaimName, err)
			continue
		}
		fmt.Fprintf(b, "   claim %s: %s, volume %q, annotations %v\n", pvc.Name, pvc.Status.Phase, pvc.Spec.VolumeName, pvc.Annotations)
		if pvc.Spec.VolumeName == "" {
			continue
		}
		pv, err := c.Client.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
		if err != nil {
			fmt.Fprintf(b, "   volume %s: %v\n", pvc.Spec.VolumeName, err)
			continue
		}
		fmt.Fprintf(b, "   volume %s: %s, node affinity %v\n", pv.Name, pv.Status.Phase, pv.Spec.NodeAffinity)
	}
	for _, name := range slices.Sorted(maps.Keys(logs)) {
		var hits []string
		for _, line := range logs[name] {
			if strings.Contains(line, p.Namespace+"/"+p.Name) || strings.Contains(line, `"`+p.Name+`"`) || strings.Contains(line, string(p.UID)) {
				hits = append(hits, line)
			}
		}
		if len(hits) > 30 {
			hits = append(hits[:10], append([]string{"   ..."}, hits[len(hits)-20:]...)...)
		}
		for _, h := range hits {
			fmt.Fprintf(b, "   %s: %s\n", name, h)
		}
	}
}

// componentLogs reads the logs of the scheduler, the controller manager
// and the KWOK controller, by component, one line a string.
func componentLogs(c *Cluster) map[string][]string {
	out := map[string][]string{}
	for _, name := range []string{"kube-scheduler", "kube-controller-manager", "kwok-controller"} {
		data, err := os.ReadFile(filepath.Join(c.WorkDir, "clusters", c.Name, "logs", name+".log"))
		if err == nil {
			out[name] = strings.Split(string(data), "\n")
		}
	}
	return out
}

// saveArtifacts copies the components' logs to dir.
func saveArtifacts(t *testing.T, c *Cluster, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Logf("saving the logs: %v", err)
		return
	}
	logs, _ := filepath.Glob(filepath.Join(c.WorkDir, "clusters", c.Name, "logs", "*.log"))
	for _, path := range logs {
		data, err := os.ReadFile(path)
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, filepath.Base(path)), data, 0o644)
		}
		if err != nil {
			t.Logf("saving %s: %v", path, err)
		}
	}
	// The cluster's objects as they are, for what the summary leaves out.
	for _, kind := range []string{"nodes", "pods", "persistentvolumes", "persistentvolumeclaims", "events", "poddisruptionbudgets", "statefulsets", "replicasets"} {
		out, err := c.Kubectl(context.Background(), "get", kind, "-A", "-o", "yaml")
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, kind+".yaml"), out, 0o644)
		}
		if err != nil {
			t.Logf("saving %s: %v", kind, err)
		}
	}
	t.Logf("component logs and objects saved in %s", dir)
}
