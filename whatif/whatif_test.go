package whatif_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	. "github.com/noderoll/noderoll/internal/testutil"
	"github.com/noderoll/noderoll/plan"
	"github.com/noderoll/noderoll/scheduler"
	"github.com/noderoll/noderoll/sim"
	"github.com/noderoll/noderoll/snapshot"
	"github.com/noderoll/noderoll/whatif"
)

func TestParseRejectsBadInputNamingTheField(t *testing.T) {
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"an unknown field of a budget is named by its path", "pdbs:\n- {namespace: a, name: b, maxUnavailabel: 1}\n", "f.yaml: pdbs[0].maxUnavailabel: unknown field"},
		{"an unknown top-level field is named", "replica: []\n", "f.yaml: replica: unknown field"},
		{"an unknown selector field is named by its path", "timings:\n- {selector: {matchLabel: {a: b}}, podStartupSeconds: 1}\n", "f.yaml: timings[0].selector.matchLabel: unknown field"},
		{"a workload kind that cannot be scaled is refused", "replicas:\n- {kind: DaemonSet, namespace: a, name: b, replicas: 2}\n", "f.yaml: replicas[0].kind: \"DaemonSet\""},
		{"negative replicas are refused with the object", "replicas:\n- {kind: Deployment, namespace: a, name: b, replicas: -1}\n", "f.yaml: replicas[0].replicas (Deployment/a/b): -1"},
		{"a budget with both minAvailable and maxUnavailable is refused", "pdbs:\n- {namespace: a, name: b, minAvailable: 1, maxUnavailable: 1}\n", "f.yaml: pdbs[0] (PodDisruptionBudget/a/b): set exactly one"},
		{"a deleted budget with a spec is refused", "pdbs:\n- {namespace: a, name: b, delete: true, maxUnavailable: 1}\n", "pdbs[0].delete"},
		{"an accepted outage that is not namespace/name is refused", "acceptOutage: [web]\n", "f.yaml: acceptOutage[0]: \"web\": want namespace/name"},
		{"a wrong kind is refused", "kind: Plan\n", "f.yaml: kind: \"Plan\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := whatif.Parse("f.yaml", []byte(tc.doc))
			var fe *whatif.FileError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want a FileError containing %q", err, tc.want)
			}
		})
	}
}

// shop is a small cluster: three nodes, a Deployment web of one replica
// behind a Service, a StatefulSet-less database db of two pods under a
// budget that allows no disruption, a bare debug pod.
func shop() *snapshot.Snapshot {
	s := &snapshot.Snapshot{TakenAt: metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))}
	for _, n := range []string{"n1", "n2", "n3"} {
		s.Nodes = append(s.Nodes, *Node(n).Cap("cpu", "4").Cap("memory", "8Gi").Cap("pods", "110").Zone("z1").Obj())
	}
	one := int32(1)
	s.Deployments = []appsv1.Deployment{{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", UID: "uid-Deployment-web"},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}}
	s.ReplicaSets = []appsv1.ReplicaSet{{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-1", UID: "uid-ReplicaSet-web-1",
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: "uid-Deployment-web", Controller: new(true)}}},
		Spec: appsv1.ReplicaSetSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}}
	two := int32(2)
	s.ReplicaSets = append(s.ReplicaSets, appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db", UID: "uid-ReplicaSet-db"},
		Spec: appsv1.ReplicaSetSpec{Replicas: &two, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}}})
	s.Pods = []corev1.Pod{
		*Pod("web-1-a").NS("shop").Label("app", "web").Req("cpu", "1").OwnedBy("ReplicaSet", "web-1").On("n1").Running().Obj(),
		*Pod("db-a").NS("shop").Label("app", "db").Req("cpu", "1").OwnedBy("ReplicaSet", "db").On("n1").Running().Obj(),
		*Pod("db-b").NS("shop").Label("app", "db").Req("cpu", "1").OwnedBy("ReplicaSet", "db").On("n2").Running().Obj(),
		*Pod("debug").NS("shop").Req("cpu", "100m").On("n2").Running().Obj(),
	}
	for i := range s.Pods {
		s.Pods[i].UID = types.UID("pod-" + s.Pods[i].Name)
	}
	all := intstr.FromString("100%")
	s.PodDisruptionBudgets = []policyv1.PodDisruptionBudget{{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db"},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: &all, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}}}}
	s.Services = []corev1.Service{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db"}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "db"}}},
	}
	return s
}

func applyFixes(t *testing.T, snap *snapshot.Snapshot) (*whatif.Applied, []byte) {
	t.Helper()
	data, err := os.ReadFile("testdata/fixes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := whatif.Parse("testdata/fixes.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	a, err := whatif.Apply(context.Background(), "testdata/fixes.yaml", f, snap, sim.DefaultConfig(), whatif.ApplyOptions{Scheduler: scheduler.Options{Seed: 1}})
	if err != nil {
		t.Fatal(err)
	}
	return a, data
}

func TestApplyChangesACopyAndListsEveryOverride(t *testing.T) {
	orig := shop()
	fp := orig.Fingerprint()
	a, _ := applyFixes(t, orig)
	if orig.Fingerprint() != fp {
		t.Fatal("Apply changed the original snapshot")
	}
	s := a.Snapshot
	var web []string
	for _, p := range s.Pods {
		if p.Labels["app"] == "web" {
			if p.Spec.NodeName == "" || !plan.IsReady(&p) {
				t.Errorf("new replica %s is not placed and Ready", p.Name)
			}
			web = append(web, p.Name)
		}
		if p.Name == "debug" {
			t.Error("the bare pod deleted by the file is still there")
		}
	}
	if len(web) != 2 || *s.Deployments[0].Spec.Replicas != 2 || *s.ReplicaSets[0].Spec.Replicas != 2 {
		t.Errorf("web scaled to %v pods, Deployment %d, ReplicaSet %d; want 2 each", web, *s.Deployments[0].Spec.Replicas, *s.ReplicaSets[0].Spec.Replicas)
	}
	budgets := map[string]string{}
	for i := range s.PodDisruptionBudgets {
		budgets[s.PodDisruptionBudgets[i].Name] = plan.PDBBudget(&s.PodDisruptionBudgets[i])
	}
	if budgets["db"] != "selector=app=db maxUnavailable=1" || budgets["web"] != "selector=app=web maxUnavailable=1" {
		t.Errorf("budgets %v: want db replaced and web added, both maxUnavailable=1", budgets)
	}
	if len(s.Nodes) != 4 || !slices.Equal(a.SurgeNodes, []string{"surge-001"}) {
		t.Errorf("nodes %d, surge %v: want one surge node added", len(s.Nodes), a.SurgeNodes)
	}
	var planning []string
	for _, n := range a.Planning.Nodes {
		planning = append(planning, n.Name)
	}
	if !slices.Equal(planning, []string{"n1", "n2"}) {
		t.Errorf("plan generators see %v: want the excluded node and the surge node left out", planning)
	}
	if len(a.Config.Overrides) != 1 || !a.Accepted["Service/shop/db"] {
		t.Errorf("timings %d, accepted %v", len(a.Config.Overrides), a.Accepted)
	}
	if len(a.Log) != 8 {
		t.Errorf("log has %d lines, want one per override (8):\n%s", len(a.Log), strings.Join(a.Log, "\n"))
	}
}

func TestApplyRejectsObjectsTheSnapshotLacks(t *testing.T) {
	for _, tc := range []struct{ name, doc, want string }{
		{"scaling a missing Deployment names it", "replicas:\n- {kind: Deployment, namespace: shop, name: api, replicas: 2}\n", "f.yaml: replicas[0] (Deployment/shop/api): no such Deployment"},
		{"accepting the outage of a missing Service names it", "acceptOutage: [shop/api]\n", "f.yaml: acceptOutage[0] (Service/shop/api): no such Service"},
		{"deleting a pod with a controller is refused", "deletePods: [shop/db-a]\n", "f.yaml: deletePods[0] (Pod/shop/db-a): the pod has a controller"},
		{"a new budget without a selector is refused", "pdbs:\n- {namespace: shop, name: api, maxUnavailable: 1}\n", "pdbs[0] (PodDisruptionBudget/shop/api): selector"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := whatif.Parse("f.yaml", []byte(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			_, err = whatif.Apply(context.Background(), "f.yaml", f, shop(), sim.DefaultConfig(), whatif.ApplyOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// The plan records the file, and its baseline is the cluster with the
// fixes made: the drift gate refuses the cluster as it is and passes it
// once changed.
func TestRecordedPlanDriftGateExpectsTheFixedCluster(t *testing.T) {
	orig := shop()
	a, content := applyFixes(t, orig)
	p := &plan.Plan{}
	a.Record(p, content)
	if p.Metadata.WhatIf == nil || p.Metadata.WhatIf.Content != string(content) || len(p.Metadata.WhatIf.Applied) != len(a.Log) {
		t.Fatalf("plan records %+v", p.Metadata.WhatIf)
	}
	live := func(s *snapshot.Snapshot) ([]*corev1.Node, []*policyv1.PodDisruptionBudget, map[string]int32) {
		var ns []*corev1.Node
		for i := range s.Nodes {
			ns = append(ns, &s.Nodes[i])
		}
		var bs []*policyv1.PodDisruptionBudget
		for i := range s.PodDisruptionBudgets {
			bs = append(bs, &s.PodDisruptionBudgets[i])
		}
		return ns, bs, map[string]int32{"Deployment/shop/web": *s.Deployments[0].Spec.Replicas}
	}
	b := p.Metadata.Baseline
	for _, tc := range []struct {
		name string
		snap *snapshot.Snapshot
		want []string
	}{
		{"the cluster as captured fails: surge node missing, budgets differ, web not scaled", orig,
			[]string{"plan's nodes are gone", "PodDisruptionBudgets differ", "Deployment/shop/web: 1 replicas"}},
		{"the cluster with the fixes made passes", a.Snapshot, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nodes, pdbs, replicas := live(tc.snap)
			v := plan.CheckDrift(b, nodes, pdbs).Violations(plan.DriftTolerance{}, []string{"n1", "n2"})
			v = append(v, b.CheckReplicas(replicas)...)
			got := strings.Join(v, "; ")
			if len(tc.want) == 0 && got != "" {
				t.Fatalf("violations %q, want none", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("violations %q lack %q", got, w)
				}
			}
		})
	}
}
