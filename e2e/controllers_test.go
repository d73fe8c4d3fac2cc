package e2e

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/noderoll/noderoll/plan"
	"github.com/noderoll/noderoll/sim"
	"github.com/noderoll/noderoll/sim/rolling"
	"github.com/noderoll/noderoll/snapshot"
	"github.com/noderoll/noderoll/snapshot/capture"
	"github.com/noderoll/noderoll/snapshot/materialize"
)

// Fixed KWOK stage delays for the pods of these tests (see
// kwok/stages.yaml: each stage's delay and jitter can be set per pod), so
// that a pod's start-up is known: 0.5 s to get an IP, then 5 s to turn
// Running and Ready.
var fixedStartup = map[string]string{
	"pod-create.stage.kwok.x-k8s.io/delay":        "500ms",
	"pod-create.stage.kwok.x-k8s.io/jitter-delay": "500ms",
	"pod-ready.stage.kwok.x-k8s.io/delay":         "5s",
	"pod-ready.stage.kwok.x-k8s.io/jitter-delay":  "5s",
	// What the simulator is told: the same 5.5 s.
	sim.StartupAnnotation: "5.5",
}

// twoNodes are two KWOK nodes; the second starts cordoned, so that every
// pod of the scenario lands on node-0 first.
func twoNodes() []corev1.Node {
	var nodes []corev1.Node
	for i := range 2 {
		name := fmt.Sprintf("node-%d", i)
		nodes = append(nodes, corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name}},
			Spec:       corev1.NodeSpec{PodCIDR: fmt.Sprintf("10.244.%d.0/24", i), Unschedulable: i == 1},
			Status: corev1.NodeStatus{
				Capacity:    corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8"), corev1.ResourceMemory: resource.MustParse("32Gi"), corev1.ResourcePods: resource.MustParse("110")},
				Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8"), corev1.ResourceMemory: resource.MustParse("32Gi"), corev1.ResourcePods: resource.MustParse("110")},
			},
		})
	}
	return nodes
}

// setCordon cordons or uncordons a node. Uncordoning waits until the
// node lifecycle controller has taken the node's unschedulable taint
// away, so that a capture made next sees the node schedulable.
func setCordon(ctx context.Context, c kubernetes.Interface, node string, on bool) error {
	patch := fmt.Sprintf(`{"spec":{"unschedulable":%t}}`, on)
	if _, err := c.CoreV1().Nodes().Patch(ctx, node, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("patching node %s: %w", node, err)
	}
	if on {
		return nil
	}
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		n, err := c.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, t := range n.Spec.Taints {
			if t.Key == corev1.TaintNodeUnschedulable {
				return false, nil
			}
		}
		return true, nil
	})
}

// readyPods counts the pods matching sel that are Ready and not being
// deleted.
func readyPods(ctx context.Context, c kubernetes.Interface, ns string, sel labels.Set) (int, []corev1.Pod, error) {
	pods, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return 0, nil, err
	}
	n := 0
	for i := range pods.Items {
		if pods.Items[i].DeletionTimestamp == nil && plan.IsReady(&pods.Items[i]) {
			n++
		}
	}
	return n, pods.Items, nil
}

// uncordonAndCapture makes node-1 schedulable (every pod of the scenario
// sits on node-0 by then) and captures the cluster.
func uncordonAndCapture(ctx context.Context, t *testing.T, c *Cluster) *snapshot.Snapshot {
	t.Helper()
	if err := setCordon(ctx, c.Client, "node-1", false); err != nil {
		t.Fatal(err)
	}
	snap, err := capture.Capture(ctx, capture.Config{REST: c.REST})
	if err != nil {
		t.Fatalf("capturing: %v", err)
	}
	return snap
}

// predictFirstBatch simulates replacing node-0 then node-1 of snap, one at
// a time, with reinstalls and joins that take no time, and returns the
// result: its first batch is node-0's drain and the recovery of its pods.
func predictFirstBatch(t *testing.T, snap *snapshot.Snapshot) *sim.Result {
	t.Helper()
	p, err := rolling.Plan(snap, rolling.Params{BatchSize: "1", Order: rolling.OrderName})
	if err != nil {
		t.Fatal(err)
	}
	cfg := sim.DefaultConfig()
	cfg.Timing.ReinstallSeconds, cfg.Timing.JoinSeconds = 0, 0
	res, err := sim.Run(context.Background(), snap, p, sim.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Batches) == 0 || res.Batches[0].Nodes[0] != "node-0" {
		t.Fatalf("the plan's first batch is not node-0: %+v", res.Batches)
	}
	return res
}

// TestOrderedReadyStatefulSetRecoversAsPredicted drains the node holding
// all three replicas of an OrderedReady StatefulSet and measures how long
// the set takes to have three Ready pods again: the StatefulSet controller
// recreates db-0, then db-1 once db-0 is Ready, then db-2, so recovery is
// the grace period plus three start-ups (19.5 s here), not one (8.5 s, as
// for Parallel). The simulation's prediction must be within 20%.
func TestOrderedReadyStatefulSetRecoversAsPredicted(t *testing.T) {
	c := NewTestCluster(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	const ns, app = "data", "db"
	sel := map[string]string{"app": app}
	replicas := int32(3)
	want := &snapshot.Snapshot{Nodes: twoNodes(), Namespaces: []corev1.Namespace{{ObjectMeta: metav1.ObjectMeta{Name: ns}}}}
	want.StatefulSets = []appsv1.StatefulSet{{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: app},
		Spec: appsv1.StatefulSetSpec{
			Replicas: &replicas, ServiceName: app, PodManagementPolicy: appsv1.OrderedReadyPodManagement,
			Selector: &metav1.LabelSelector{MatchLabels: sel},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: sel, Annotations: fixedStartup},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: new(int64(3)),
					Containers: []corev1.Container{{Name: "db", Image: "db:1", Resources: corev1.ResourceRequirements{
						Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}}},
				},
			},
		},
	}}
	for i := range replicas {
		want.Pods = append(want.Pods, corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("%s-%d", app, i), Labels: sel,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "StatefulSet", Name: app, Controller: new(true)}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning},
		})
	}
	if _, err := materialize.Apply(ctx, want, materialize.Config{REST: c.REST, Timeout: 2 * time.Minute}); err != nil {
		t.Fatalf("applying the scenario: %v", err)
	}
	snap := uncordonAndCapture(ctx, t, c)
	for _, p := range snap.Pods {
		if p.Namespace == ns && p.Spec.NodeName != "node-0" {
			t.Fatalf("pod %s is on %q, want every db pod on node-0", p.Name, p.Spec.NodeName)
		}
	}
	predicted := predictFirstBatch(t, snap).Batches[0].EndSeconds

	// Drain node-0 as kubectl drain does: cordon, then evict every pod.
	start := time.Now()
	if err := setCordon(ctx, c.Client, "node-0", true); err != nil {
		t.Fatal(err)
	}
	for i := range replicas {
		if err := evict(ctx, c.Client, ns, fmt.Sprintf("%s-%d", app, i)); err != nil {
			t.Fatalf("evicting: %v", err)
		}
	}
	// The old pods are gone once their grace period ends; then three
	// pods must be Ready.
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 2*time.Minute, false, func(ctx context.Context) (bool, error) {
		ready, pods, err := readyPods(ctx, c.Client, ns, sel)
		if err != nil {
			return false, err
		}
		for _, p := range pods {
			if p.Spec.NodeName == "node-0" {
				return false, nil
			}
		}
		return ready == int(replicas), nil
	})
	if err != nil {
		t.Fatalf("waiting for the StatefulSet to recover: %v", err)
	}
	actual := time.Since(start).Seconds()
	t.Logf("recovery: predicted %.1f s, actual %.1f s", predicted, actual)
	if math.Abs(predicted-actual) > 0.2*actual {
		t.Fatalf("predicted recovery %.1f s is not within 20%% of the actual %.1f s", predicted, actual)
	}
}

// The custom resource of the operator stand-in.
var brokerGVR = schema.GroupVersionResource{Group: "example.noderoll.dev", Version: "v1", Resource: "brokers"}

// installBrokerCRD installs the Broker custom resource definition and
// waits until it is served.
func installBrokerCRD(ctx context.Context, dc dynamic.Interface) error {
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": "brokers.example.noderoll.dev"},
		"spec": map[string]any{
			"group": "example.noderoll.dev",
			"names": map[string]any{"kind": "Broker", "plural": "brokers", "singular": "broker"},
			"scope": "Namespaced",
			"versions": []any{map[string]any{
				"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
			}},
		},
	}}
	crdGVR := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	if _, err := dc.Resource(crdGVR).Create(ctx, crd, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating the Broker CRD: %w", err)
	}
	return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := dc.Resource(brokerGVR).Namespace("default").List(ctx, metav1.ListOptions{})
		return err == nil, nil
	})
}

// brokerController is the operator stand-in: it keeps `replicas` pods
// owned by the Broker, creating a new one (a new name, as a ReplicaSet
// does) whenever one is being deleted or gone.
func brokerController(ctx context.Context, c kubernetes.Interface, ns string, owner metav1.OwnerReference, replicas int, errs chan<- error) {
	created := 0
	for {
		pods, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=broker"})
		if err != nil {
			if ctx.Err() == nil {
				errs <- err
			}
			return
		}
		live := 0
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil {
				live++
			}
		}
		for ; live < replicas; live++ {
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("broker-%d", created), Labels: map[string]string{"app": "broker"},
					Annotations: fixedStartup, OwnerReferences: []metav1.OwnerReference{owner}},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: new(int64(2)),
					Containers: []corev1.Container{{Name: "broker", Image: "broker:1", Resources: corev1.ResourceRequirements{
						Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}}},
				},
			}
			created++
			if _, err := c.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
				if ctx.Err() == nil {
					errs <- err
				}
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// TestPodsOfAnOperatorAreNeitherLostNorCountedTwice: pods owned by a
// custom resource that the snapshot cannot hold (a CRD's object, with a
// small controller in the test standing in for its operator) are captured
// with their owner reference; the simulation evicts and recreates them —
// none lost, none left pending — and counts each pod once; and the drain
// of their node really is followed by the operator's replacements.
func TestPodsOfAnOperatorAreNeitherLostNorCountedTwice(t *testing.T) {
	c := NewTestCluster(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dc, err := dynamic.NewForConfig(c.REST)
	if err != nil {
		t.Fatal(err)
	}
	base := &snapshot.Snapshot{Nodes: twoNodes()}
	if _, err := materialize.Apply(ctx, base, materialize.Config{REST: c.REST, Timeout: time.Minute}); err != nil {
		t.Fatalf("applying the nodes: %v", err)
	}
	if err := installBrokerCRD(ctx, dc); err != nil {
		t.Fatal(err)
	}
	const ns = "default"
	broker, err := dc.Resource(brokerGVR).Namespace(ns).Create(ctx, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "example.noderoll.dev/v1", "kind": "Broker", "metadata": map[string]any{"name": "kafka"},
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating the Broker: %v", err)
	}
	owner := metav1.OwnerReference{APIVersion: "example.noderoll.dev/v1", Kind: "Broker", Name: "kafka", UID: broker.GetUID(), Controller: new(true)}
	ctrlCtx, stop := context.WithCancel(ctx)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Go(func() { brokerController(ctrlCtx, c.Client, ns, owner, 2, errs) })
	defer func() { stop(); wg.Wait() }()

	sel := labels.Set{"app": "broker"}
	waitReady := func(what string, cond func([]corev1.Pod) bool) {
		t.Helper()
		err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
			select {
			case err := <-errs:
				return false, err
			default:
			}
			ready, pods, err := readyPods(ctx, c.Client, ns, sel)
			return err == nil && ready == 2 && len(pods) == 2 && cond(pods), err
		})
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
	}
	on := func(node string) func([]corev1.Pod) bool {
		return func(pods []corev1.Pod) bool {
			for _, p := range pods {
				if p.Spec.NodeName != node {
					return false
				}
			}
			return true
		}
	}
	waitReady("two Ready broker pods on node-0", on("node-0"))
	snap := uncordonAndCapture(ctx, t, c)
	for _, p := range snap.Pods {
		if p.Namespace == ns && metav1.GetControllerOf(&p) == nil {
			t.Fatalf("captured pod %s lost its owner reference", p.Name)
		}
	}

	res := predictFirstBatch(t, snap)
	s := res.Summary
	if s.LostPods != 0 || s.PendingAtEnd != 0 {
		t.Fatalf("the simulation lost %d pods and left %d pending: %+v", s.LostPods, s.PendingAtEnd, res.Risks)
	}
	wantAssumed := []sim.AssumedController{{Kind: "Broker", Namespace: ns, Name: "kafka", Pods: 2, Identity: sim.IdentityNew}}
	if got := res.Semantics.AssumedControllers; len(got) != 1 || got[0] != wantAssumed[0] {
		t.Fatalf("assumed controllers %+v, want %+v", got, wantAssumed)
	}
	if got := res.Batches[0].Evictions; got != 2 {
		t.Fatalf("node-0's drain evicts %d pods in the simulation, want the 2 broker pods once each", got)
	}

	// The real drain: the operator's replacements land on node-1.
	if err := setCordon(ctx, c.Client, "node-0", true); err != nil {
		t.Fatal(err)
	}
	for _, p := range snap.Pods {
		if p.Namespace == ns {
			if err := evict(ctx, c.Client, ns, p.Name); err != nil {
				t.Fatalf("evicting %s: %v", p.Name, err)
			}
		}
	}
	start := time.Now()
	waitReady("the operator's two replacements Ready on node-1", on("node-1"))
	t.Logf("replacements Ready %.1f s after the evictions; the simulation's batch 0 took %.1f s", time.Since(start).Seconds(), res.Batches[0].EndSeconds)
}
