package remediate_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/noderoll/noderoll/analysis"
	. "github.com/noderoll/noderoll/internal/testutil"
	"github.com/noderoll/noderoll/remediate"
	"github.com/noderoll/noderoll/scheduler"
	"github.com/noderoll/noderoll/sim"
	"github.com/noderoll/noderoll/snapshot"
)

// cluster builds a hand-made scenario: nodes of 2 cores, Deployments
// (Deployment, ReplicaSet, Running pods on the nodes given, a Service).
type cluster struct{ snap *snapshot.Snapshot }

func newCluster(nodes int, cpu string) *cluster {
	c := &cluster{snap: &snapshot.Snapshot{TakenAt: metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))}}
	for i := 1; i <= nodes; i++ {
		c.snap.Nodes = append(c.snap.Nodes, *Node(fmt.Sprintf("n%d", i)).Cap("cpu", cpu).Cap("memory", "16Gi").Cap("pods", "110").Zone("z1").Obj())
	}
	return c
}

func (c *cluster) deployment(name, cpu string, nodes ...string) {
	c.workload(name, cpu, false, nodes...)
}

// colocated is a Deployment whose pods require one another's node (a
// required podAffinity to their own labels on kubernetes.io/hostname).
func (c *cluster) colocated(name, cpu string, nodes ...string) { c.workload(name, cpu, true, nodes...) }

func (c *cluster) workload(name, cpu string, colocated bool, nodes ...string) {
	r := int32(len(nodes))
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}
	c.snap.Deployments = append(c.snap.Deployments, appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID("uid-Deployment-" + name)},
		Spec: appsv1.DeploymentSpec{Replicas: &r, Selector: sel}})
	rs := name + "-1"
	c.snap.ReplicaSets = append(c.snap.ReplicaSets, appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: rs, UID: types.UID("uid-ReplicaSet-" + rs),
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: name, UID: types.UID("uid-Deployment-" + name), Controller: new(true)}}},
		Spec: appsv1.ReplicaSetSpec{Replicas: &r, Selector: sel}})
	c.snap.Services = append(c.snap.Services, corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": name}}})
	for i, n := range nodes {
		b := Pod(fmt.Sprintf("%s-%d", rs, i)).Label("app", name).Req("cpu", cpu).Req("memory", "100Mi").OwnedBy("ReplicaSet", rs).Grace(10).On(n).Running()
		if colocated {
			b = b.Affinity("app", name, corev1.LabelHostname)
		}
		p := b.Obj()
		p.UID = types.UID("pod-" + p.Name)
		c.snap.Pods = append(c.snap.Pods, *p)
	}
}

func (c *cluster) budget(name string, minAvailable intstr.IntOrString) {
	c.snap.PodDisruptionBudgets = append(c.snap.PodDisruptionBudgets, policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: &minAvailable, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}}})
}

func search(t *testing.T, c *cluster, spec string) *remediate.Outcome {
	t.Helper()
	st, err := analysis.ParseStrategy(spec)
	if err != nil {
		t.Fatal(err)
	}
	out, err := remediate.Run(context.Background(), c.snap, remediate.Options{Strategy: st, Sim: sim.Options{Scheduler: scheduler.Options{Seed: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRemediateScenarios(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func() *cluster
		spec  string
		// want are the fixes expected, as "Object: change" prefixes.
		want []string
		// surge is the minimal surge expected (-1: no search run).
		surge int
	}{
		{
			name: "a single-replica Deployment that goes down is fixed by scaling it to 2",
			build: func() *cluster {
				c := newCluster(3, "4")
				c.deployment("web", "500m", "n1")
				return c
			},
			spec:  "rolling:1",
			want:  []string{"Deployment/default/web: scale from 1 to 2 replicas"},
			surge: -1,
		},
		{
			name: "a budget that allows no disruption is fixed by maxUnavailable: 1",
			build: func() *cluster {
				c := newCluster(3, "4")
				c.deployment("db", "500m", "n1", "n2")
				c.budget("db", intstr.FromInt32(2))
				return c
			},
			spec:  "rolling:1",
			want:  []string{"PodDisruptionBudget/default/db: replace selector=app=db minAvailable=2 (allows no disruption) with maxUnavailable: 1"},
			surge: -1,
		},
		{
			// The pair must share a node: once n1 is cordoned, the
			// replacement of the first pod evicted can go nowhere while the
			// second is left on n1, and minAvailable: 1 keeps the second
			// there: the drain never ends. Only letting the budget go
			// whole ends it, and the outage that follows is accepted (no
			// replica or budget avoids it). solo, a single co-located
			// replica, is not scaled: a second replica would land on n1
			// too, and go down with it.
			name: "co-located replicas: the budget is let go whole and the outage accepted, no replica added",
			build: func() *cluster {
				c := newCluster(3, "4")
				c.colocated("pair", "500m", "n1", "n1")
				c.budget("pair", intstr.FromInt32(1))
				c.colocated("solo", "500m", "n2")
				return c
			},
			spec: "rolling:1",
			want: []string{
				"PodDisruptionBudget/default/pair: replace selector=app=pair minAvailable=1 with maxUnavailable: 100%",
				"Service/default/pair: accept and announce",
				"Service/default/solo: accept and announce",
			},
			// The replacements wait for the last pod of their group to
			// be gone: unschedulable for a moment, which no surge node
			// changes (the search finds 0).
			surge: 0,
		},
		{
			// Worked out by hand: 5 nodes of 2 cores hold 9 pods of 1 core
			// (2, 2, 2, 2, 1). A batch of 2 nodes leaves 6 cores for 9
			// cores of pods: 3 short. One surge node of 2 cores leaves 8
			// (1 short); two leave 10: the minimal surge is 2.
			name: "a capacity shortfall is fixed by the exact minimal surge",
			build: func() *cluster {
				c := newCluster(5, "2")
				c.deployment("api", "1", "n1", "n1", "n2", "n2", "n3", "n3", "n4", "n4", "n5")
				return c
			},
			spec:  "rolling:2",
			want:  []string{"Node/surge-001..002: add 2 surge nodes"},
			surge: 2,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := search(t, tc.build(), tc.spec)
			if remediate.Approvable(out.Before) {
				t.Fatal("the run before the fixes is approvable: the scenario tests nothing")
			}
			var got []string
			for _, f := range out.Fixes {
				got = append(got, f.Object+": "+f.Change)
				if f.RiskRemoved == 0 {
					t.Errorf("fix %s removed no risk", f.Object)
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("fixes %q, want %q", got, tc.want)
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(got[i], w) {
					t.Errorf("fix %d is %q, want %q", i, got[i], w)
				}
			}
			if !out.Approvable {
				t.Errorf("the fixed run is not approvable: %v", out.Blocking)
			}
			switch {
			case tc.surge < 0 && out.Surge != nil:
				t.Errorf("a surge search ran (%+v) where no capacity was short", *out.Surge)
			case tc.surge >= 0 && (out.Surge == nil || out.Surge.Nodes != tc.surge):
				t.Errorf("minimal surge %+v, want %d", out.Surge, tc.surge)
			}
			if out.Simulations < 2 {
				t.Errorf("%d simulations: the fixes were not confirmed by a re-simulation", out.Simulations)
			}
		})
	}
}

func TestMinimalSurgeBisects(t *testing.T) {
	// A fake run: k nodes short of need leave a shortfall.
	for _, tc := range []struct {
		name        string
		need, upper int
		wantNodes   int
		maxRuns     int
		wantEnough  bool
	}{
		{"a need of 3 in 8 is found in 1 + log2(8) runs", 3, 8, 3, 4, true},
		{"a need of the upper bound is found", 8, 8, 8, 4, true},
		{"a need of 1 is found", 1, 25, 1, 6, true},
		{"a need beyond the upper bound says so", 9, 8, 8, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runs := 0
			run := func(_ context.Context, k int) (*sim.Result, error) {
				runs++
				return fakeRun(k < tc.need), nil
			}
			got, err := analysis.MinimalSurge(context.Background(), tc.upper, fakeRun(true), run)
			if err != nil {
				t.Fatal(err)
			}
			if got.Nodes != tc.wantNodes || got.Enough != tc.wantEnough || got.Runs != runs || runs > tc.maxRuns {
				t.Fatalf("got %d nodes (enough %v) in %d runs (counted %d), want %d (enough %v) in at most %d",
					got.Nodes, got.Enough, got.Runs, runs, tc.wantNodes, tc.wantEnough, tc.maxRuns)
			}
		})
	}
}

func fakeRun(short bool) *sim.Result {
	r := &sim.Result{Params: map[string]string{}}
	if short {
		r.Risks = append(r.Risks, riskShortfall())
	}
	return r
}
