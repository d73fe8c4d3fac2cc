package sim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	. "github.com/noderoll/noderoll/internal/testutil"
	"github.com/noderoll/noderoll/plan"
	"github.com/noderoll/noderoll/sim"
	"github.com/noderoll/noderoll/sim/rolling"
	"github.com/noderoll/noderoll/snapshot/synth"
)

// The expected figures below are worked out from the Kubernetes rules and
// the simulator's documented default time model (sim.DefaultTiming): pod
// start-up to Ready 10 s, reinstall 600 s + join 60 s = 660 s with the node
// away, 5 s between eviction retries. Every pod built here has a 10 s
// termination grace period and the simulator takes all of it.

// replicaSet adds, like deployment, a ReplicaSet with one Running pod per
// node listed and a Service in front of it; tweak adjusts each pod (as the
// pod template would) before it is added.
func replicaSet(c *cluster, name, cpu string, tweak func(*PodBuilder), nodes ...string) {
	r := int32(len(nodes))
	c.snap.ReplicaSets = append(c.snap.ReplicaSets, appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: uid("ReplicaSet", name)},
		Spec:       appsv1.ReplicaSetSpec{Replicas: &r, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}},
	})
	c.snap.Services = append(c.snap.Services, corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": name}},
	})
	for i, n := range nodes {
		b := Pod(fmt.Sprintf("%s-%d", name, i)).Label("app", name).Req("cpu", cpu).OwnedBy("ReplicaSet", name).Grace(10).On(n).Running()
		if tweak != nil {
			tweak(b)
		}
		c.pod(b.Obj())
	}
}

// ownedByDeployment puts the ReplicaSet name under a Deployment of the same
// name carrying annotations (and the ReplicaSet's replicas).
func ownedByDeployment(c *cluster, name string, annotations map[string]string) {
	for i := range c.snap.ReplicaSets {
		rs := &c.snap.ReplicaSets[i]
		if rs.Name != name {
			continue
		}
		t := true
		rs.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: name, UID: uid("Deployment", name), Controller: &t}}
		c.snap.Deployments = append(c.snap.Deployments, appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: uid("Deployment", name), Annotations: annotations},
			Spec:       appsv1.DeploymentSpec{Replicas: rs.Spec.Replicas, Selector: rs.Spec.Selector},
		})
	}
}

// templateAnnotation sets an annotation on a ReplicaSet's pod template.
func templateAnnotation(c *cluster, name, key, value string) {
	for i := range c.snap.ReplicaSets {
		if rs := &c.snap.ReplicaSets[i]; rs.Name == name {
			if rs.Spec.Template.Annotations == nil {
				rs.Spec.Template.Annotations = map[string]string{}
			}
			rs.Spec.Template.Annotations[key] = value
		}
	}
}

func simulateWith(t *testing.T, c *cluster, params rolling.Params, opts sim.Options) *sim.Result {
	t.Helper()
	p, err := rolling.Plan(&c.snap, params)
	if err != nil {
		t.Fatal(err)
	}
	res, err := sim.Run(context.Background(), &c.snap, p, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func serviceImpact(r *sim.Result, object string) (sim.ServiceImpact, bool) {
	for _, s := range r.Services {
		if s.Service == object {
			return s, true
		}
	}
	return sim.ServiceImpact{}, false
}

func findRisk(r *sim.Result, code, object string) *plan.Risk {
	for i := range r.Risks {
		if r.Risks[i].Code == code && r.Risks[i].Object == object {
			return &r.Risks[i]
		}
	}
	return nil
}

// everyDrop is the default configuration with a Service counted as degraded
// as soon as it loses one ready endpoint, so that Result.Services reports
// the lowest ready count of every Service that lost any.
func everyDrop() sim.Options {
	cfg := sim.DefaultConfig()
	cfg.DegradedBelow = 1
	return sim.Options{Config: cfg}
}

func withStartup(seconds float64, overrides ...sim.Override) sim.Options {
	cfg := sim.DefaultConfig()
	if seconds >= 0 {
		cfg.Timing.PodStartupSeconds = seconds
	}
	cfg.Overrides = overrides
	return sim.Options{Config: cfg}
}

func f64(v float64) *float64 { return &v }

func ptrIntOrString(v intstr.IntOrString) *intstr.IntOrString { return &v }

func byName(size string) rolling.Params {
	return rolling.Params{BatchSize: size, Order: rolling.OrderName}
}

func TestMoreRollingScenarios(t *testing.T) {
	maxUnavailable1 := ptrIntOrString(intstr.FromInt32(1))
	antiAffine := func(b *PodBuilder) { b.AntiAffinity("app", "web", corev1.LabelHostname) }
	gpuPool := func() *cluster {
		pool := func(name string) *corev1.Node {
			return Node(name).Zone("a").Label("pool", "gpu").Taint("dedicated", "gpu", corev1.TaintEffectNoSchedule).Obj()
		}
		// Sorted by name: a1 a2 | gpu-1 gpu-2 | z1 — with batches of two the
		// pool is exactly batch 1.
		c := newCluster(Node("a1").Zone("a").Obj(), Node("a2").Zone("a").Obj(), pool("gpu-1"), pool("gpu-2"), Node("z1").Zone("a").Obj())
		replicaSet(c, "train", "1", func(b *PodBuilder) {
			b.NodeSelector("pool", "gpu").Toleration("dedicated", "gpu", corev1.TaintEffectNoSchedule)
		}, "gpu-1", "gpu-2")
		return c
	}
	spread := func(minAvailable string) func() *cluster {
		return func() *cluster {
			c := newCluster(Node("n1").Obj(), Node("n2").Obj(), Node("n3").Obj(), Node("n4").Obj(), Node("n5").Obj())
			c.deployment("web", "100m", "n1", "n1", "n2", "n2", "n3", "n3", "n4", "n4", "n5", "n5")
			c.pdb("web", "web", ptrIntOrString(intstr.FromString(minAvailable)), nil)
			return c
		}
	}

	tests := []struct {
		name   string
		build  func() *cluster
		params rolling.Params
		opts   sim.Options
		check  func(t *testing.T, r *sim.Result)
	}{
		{
			// Required anti-affinity on the hostname: at most one web pod per
			// node. Three replicas fill the three nodes; batch size 1.
			// Batch k cordons node k and evicts its replica at its start
			// (no PDB); the replacement is created at once (ReplicaSet) but
			// fits nowhere: its own node is cordoned (NodeUnschedulable) and
			// the two others hold a web pod (InterPodAffinity). It waits
			// until its node is back (10 s grace + 660 s = 670 s), lands
			// there and is Ready 10 s later: each batch lasts 680 s, and
			// the Service has 2 of 3 endpoints (< 75%: degraded, never 0:
			// not down) for 680 s per batch.
			name: "required anti-affinity with no spare node: the evicted replica waits for its own node to return",
			build: func() *cluster {
				c := newCluster(three()...)
				replicaSet(c, "web", "100m", antiAffine, "n1", "n2", "n3")
				return c
			},
			params: byName("1"),
			check: func(t *testing.T, r *sim.Result) {
				s := r.Summary
				if s.UnschedulablePods != 3 || s.PendingAtEnd != 0 {
					t.Errorf("unschedulable %d, pending at end %d; want 3 (one per batch) and 0", s.UnschedulablePods, s.PendingAtEnd)
				}
				if s.ServicesDegraded != 1 || s.ServicesWithOutage != 0 {
					t.Errorf("degraded %d, outage %d; want 1 and 0", s.ServicesDegraded, s.ServicesWithOutage)
				}
				for _, b := range r.Batches {
					if b.Unschedulable != 1 || b.PendingPeak != 1 {
						t.Errorf("batch %d: unschedulable %d, pending peak %d; want 1 and 1", b.Index, b.Unschedulable, b.PendingPeak)
					}
					if d := b.EndSeconds - b.StartSeconds; d != 680 {
						t.Errorf("batch %d lasted %vs, want 680 s (grace 10 + reinstall and join 660 + start-up 10)", b.Index, d)
					}
				}
				web, ok := serviceImpact(r, "Service/default/web")
				if !ok || web.MinReady != 2 || web.DownSeconds != 0 || web.DegradedSeconds != 3*680 {
					t.Errorf("web impact %+v (found %v), want min ready 2, never down, degraded 3 x 680 s", web, ok)
				}
				if s.DurationSeconds != 3*680 {
					t.Errorf("duration %vs, want %d", s.DurationSeconds, 3*680)
				}
				if findRisk(r, plan.RiskUnschedulable, "ReplicaSet/default/web") == nil {
					t.Errorf("want an Unschedulable risk on the web ReplicaSet, got %+v", r.Risks)
				}
				if s.PodMovesMax != 1 {
					t.Errorf("each replica should move once (back to its own node), got podMovesMax %d", s.PodMovesMax)
				}
			},
		},
		{
			// The same with a fourth, empty node: each evicted replica has a
			// node without a web pod to go to at once (n4, then the node
			// the previous batch emptied), so nothing is ever unschedulable.
			name: "required anti-affinity with a spare node: the evicted replica moves at once",
			build: func() *cluster {
				c := newCluster(append(three(), Node("n4").Zone("a").Obj())...)
				replicaSet(c, "web", "100m", antiAffine, "n1", "n2", "n3")
				return c
			},
			params: byName("1"),
			check: func(t *testing.T, r *sim.Result) {
				if r.Summary.UnschedulablePods != 0 || r.Summary.PendingAtEnd != 0 || r.Summary.ServicesWithOutage != 0 {
					t.Errorf("want nothing unschedulable and no outage, got %+v", r.Summary)
				}
			},
		},
		{
			// The pool gpu-1, gpu-2 is tainted dedicated=gpu:NoSchedule; the
			// train pods tolerate the taint and select pool=gpu, one on each
			// pool node. Batch 0 (a1, a2) holds nothing: 660 s. Batch 1
			// cordons the whole pool at 660 and evicts both train pods (no
			// PDB): the Service has no endpoint from 660. Their replacements
			// fit nowhere — the other nodes fail the node selector, the pool
			// is cordoned — until the pool nodes are back at 660+10+660 =
			// 1330; Ready at 1340: 680 s down, in batch 1 only.
			name:   "a tainted pool taken whole by one batch: its workload is unschedulable and its service down in that batch",
			build:  gpuPool,
			params: byName("2"),
			check: func(t *testing.T, r *sim.Result) {
				if got := batchNodes(r); fmt.Sprint(got) != "[[a1 a2] [gpu-1 gpu-2] [z1]]" {
					t.Fatalf("batches %v, want the pool as batch 1", got)
				}
				if r.Summary.UnschedulablePods != 2 || r.Batches[1].Unschedulable != 2 || r.Batches[1].PendingPeak != 2 {
					t.Errorf("want both train replacements unschedulable in batch 1: summary %+v batch 1 %+v", r.Summary, *r.Batches[1])
				}
				if r.Batches[0].Unschedulable != 0 || r.Batches[2].Unschedulable != 0 {
					t.Errorf("only batch 1 should have unschedulable pods: %+v / %+v", *r.Batches[0], *r.Batches[2])
				}
				if r.Summary.ServicesWithOutage != 1 {
					t.Errorf("want one service down, got %d", r.Summary.ServicesWithOutage)
				}
				train, ok := serviceImpact(r, "Service/default/train")
				if !ok || train.MinReady != 0 || train.DownSeconds != 680 || fmt.Sprint(train.Batches) != "[1]" {
					t.Errorf("train impact %+v (found %v), want down 680 s in batch 1 only", train, ok)
				}
				if k := findRisk(r, plan.RiskServiceOutage, "Service/default/train"); k == nil || k.Batch == nil || *k.Batch != 1 {
					t.Errorf("want a ServiceOutage risk on train in batch 1, got %+v", k)
				}
				if k := findRisk(r, plan.RiskAllReplicasInBatch, "ReplicaSet/default/train"); k == nil || k.Batch == nil || *k.Batch != 1 {
					t.Errorf("want AllReplicasInBatch on train in batch 1, got %+v", k)
				}
				if r.Summary.PendingAtEnd != 0 {
					t.Errorf("the pool is back at the end, yet %d pods are pending", r.Summary.PendingAtEnd)
				}
			},
		},
		{
			// The same pool with a PDB maxUnavailable 1 on train. Batch 1
			// (from 660): train-0 is evicted (2 healthy > 1 desired),
			// train-1 is refused (1 healthy, 1 desired) and retried every
			// 5 s. train-0's replacement waits for a pool node; gpu-1,
			// drained at 670, is back at 1330 and takes it; Ready at 1340,
			// when the retry scheduled at 1335 lets train-1 go: 680 s of
			// stall, 136 refusals (660, 665, ..., 1335). One endpoint is
			// left throughout: degraded, never down.
			name: "a tainted pool taken whole with a PDB: the service survives, the drain stalls for a whole reinstall",
			build: func() *cluster {
				c := gpuPool()
				c.pdb("train", "train", nil, maxUnavailable1)
				return c
			},
			params: byName("2"),
			check: func(t *testing.T, r *sim.Result) {
				b := r.Batches[1]
				if b.PDBStallSeconds != 680 || b.EvictionsBlocked != 136 {
					t.Errorf("batch 1 stall %vs with %d refusals, want 680 s and 136", b.PDBStallSeconds, b.EvictionsBlocked)
				}
				if r.Summary.ServicesWithOutage != 0 || r.Summary.ServicesDegraded != 1 {
					t.Errorf("want train degraded and never down, got %+v", r.Summary)
				}
				if train, ok := serviceImpact(r, "Service/default/train"); !ok || train.MinReady != 1 {
					t.Errorf("train impact %+v, want min ready 1", train)
				}
				if r.Summary.UnschedulablePods != 1 || r.Summary.StuckNodes != 0 || r.Summary.PendingAtEnd != 0 {
					t.Errorf("want one pod unschedulable for a while, nothing stuck or pending: %+v", r.Summary)
				}
			},
		},
		{
			// minAvailable 90% of 10 replicas: desiredHealthy = ceil(9.0) = 9,
			// so one disruption at a time. A drain starting on a node with k
			// web pods (all 10 healthy: the previous batch ended with its
			// replacements Ready) evicts one and is refused for the k-1
			// others; each replacement is Ready 10 s after its eviction, so
			// the j-th refused pod is refused at 0, 5, ..., 10j-5 (2j times)
			// and goes at 10j. Per batch: k(k-1) refusals and 10(k-1) s of
			// stall, always a multiple of the 5 s retry; the Service never
			// has fewer than 9 ready endpoints.
			name:   "minAvailable 90% on 10 replicas over 5 nodes allows exactly one disruption at a time",
			build:  spread("90%"),
			params: byName("1"),
			opts:   everyDrop(),
			check:  oneDisruptionAtATime(9),
		},
		{
			// 85% of 10 is 8.5, rounded up as the disruption controller
			// does (GetScaledValueFromIntOrPercent with roundUp): 9, the
			// same as 90%.
			name:   "minAvailable 85% rounds up to 9 of 10: still one disruption at a time",
			build:  spread("85%"),
			params: byName("1"),
			opts:   everyDrop(),
			check:  oneDisruptionAtATime(9),
		},
		{
			// minAvailable 80%: 8 of 10, two disruptions allowed. Batch 0's
			// node holds 2 web pods: both evicted at once, no refusal.
			name:   "minAvailable 80% on 10 replicas lets a node with two replicas drain without a refusal",
			build:  spread("80%"),
			params: byName("1"),
			opts:   everyDrop(),
			check: func(t *testing.T, r *sim.Result) {
				b := r.Batches[0]
				if b.Evictions != 2 || b.EvictionsBlocked != 0 || b.PDBStallSeconds != 0 {
					t.Errorf("batch 0: %d evictions, %d refusals, %vs stall; want 2, 0, 0", b.Evictions, b.EvictionsBlocked, b.PDBStallSeconds)
				}
				if web, ok := serviceImpact(r, "Service/default/web"); !ok || web.MinReady < 8 {
					t.Errorf("web impact %+v, want never below 8 ready", web)
				}
				if r.Summary.StuckNodes != 0 || r.Summary.PendingAtEnd != 0 {
					t.Errorf("nothing should be stuck or pending: %+v", r.Summary)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.check(t, simulateWith(t, tc.build(), tc.params, tc.opts))
		})
	}
}

func oneDisruptionAtATime(desiredHealthy int) func(t *testing.T, r *sim.Result) {
	return func(t *testing.T, r *sim.Result) {
		t.Helper()
		if len(r.Batches) != 5 {
			t.Fatalf("want 5 batches, got %d", len(r.Batches))
		}
		evictions, blocked, stall := 0, 0, 0.0
		for _, b := range r.Batches {
			k := b.Evictions
			if b.EvictionsBlocked != k*(k-1) {
				t.Errorf("batch %d: %d evictions and %d refusals, want k(k-1) = %d refusals for one disruption at a time",
					b.Index, k, b.EvictionsBlocked, k*(k-1))
			}
			want := 0.0
			if k > 1 {
				want = float64(10 * (k - 1))
			}
			if b.PDBStallSeconds != want {
				t.Errorf("batch %d: stall %vs for %d evictions, want %vs", b.Index, b.PDBStallSeconds, k, want)
			}
			if math.Mod(b.PDBStallSeconds, 5) != 0 {
				t.Errorf("batch %d: stall %vs is not a multiple of the 5 s retry", b.Index, b.PDBStallSeconds)
			}
			evictions += k
			blocked += b.EvictionsBlocked
			stall += b.PDBStallSeconds
		}
		if b := r.Batches[0]; b.Evictions != 2 || b.EvictionsBlocked != 2 || b.PDBStallSeconds != 10 {
			t.Errorf("batch 0 (2 web pods on n1): %d evictions, %d refusals, %vs stall; want 2, 2, 10 s", b.Evictions, b.EvictionsBlocked, b.PDBStallSeconds)
		}
		if evictions < 10 || r.Summary.Evictions != evictions || r.Summary.EvictionsBlocked != blocked || r.Summary.PDBStallSeconds != stall {
			t.Errorf("summary %+v does not add up the batches (%d evictions, %d refusals, %vs stall), or fewer than 10 evictions",
				r.Summary, evictions, blocked, stall)
		}
		web, ok := serviceImpact(r, "Service/default/web")
		if !ok || web.MinReady != desiredHealthy || web.DownSeconds != 0 {
			t.Errorf("web impact %+v (found %v), want min ready exactly %d", web, ok, desiredHealthy)
		}
		if r.Summary.StuckNodes != 0 || r.Summary.PendingAtEnd != 0 {
			t.Errorf("nothing should be stuck or pending: %+v", r.Summary)
		}
	}
}

func batchNodes(r *sim.Result) [][]string {
	out := make([][]string, len(r.Batches))
	for i, b := range r.Batches {
		out[i] = b.Nodes
	}
	return out
}

// TestStartupTime checks where a pod's start-up time comes from: the
// default, the noderoll.dev/startup-seconds annotation, the global timing
// and per-workload overrides of the config (namespace + selector).
//
// Each case is two web replicas on n1 under a PDB maxUnavailable 1, batch
// size 1: the drain evicts web-0 and is refused for web-1 (1 healthy, 1
// desired) until web-0's replacement is Ready, S seconds after its eviction
// at 0. Retries come every 5 s, at 5, ..., and the replacement turning Ready
// at S (scheduled before the retry due then) lets the retry at S through:
// for S a multiple of 5, batch 0 stalls S seconds with S/5 refusals.
func TestStartupTime(t *testing.T) {
	webSelector := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	apiSelector := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}}
	annotated := func(b *PodBuilder) {
		p := b.Obj()
		p.Annotations = map[string]string{sim.StartupAnnotation: "60"}
	}
	tests := []struct {
		name  string
		tweak func(*PodBuilder)
		setup func(c *cluster)
		opts  sim.Options
		want  float64 // start-up seconds, hence batch 0's stall
	}{
		{name: "by default a pod is Ready 10 s after it is placed", want: 10},
		{
			name:  "the startup-seconds annotation on the pods (from their template) makes it 60 s",
			tweak: annotated,
			setup: func(c *cluster) { templateAnnotation(c, "web", sim.StartupAnnotation, "60") },
			want:  60,
		},
		{
			name:  "the startup-seconds annotation on the Deployment makes it 60 s",
			setup: func(c *cluster) { ownedByDeployment(c, "web", map[string]string{sim.StartupAnnotation: "60"}) },
			want:  60,
		},
		{name: "the global timing of the config applies to every pod", opts: withStartup(20), want: 20},
		{
			name: "an override for the pods' namespace and labels applies",
			opts: withStartup(-1, sim.Override{Namespace: "default", Selector: webSelector, PodStartupSeconds: f64(30)}),
			want: 30,
		},
		{
			name: "an override for another namespace does not apply",
			opts: withStartup(-1, sim.Override{Namespace: "prod", Selector: webSelector, PodStartupSeconds: f64(30)}),
			want: 10,
		},
		{
			name: "an override for other labels does not apply",
			opts: withStartup(-1, sim.Override{Namespace: "default", Selector: apiSelector, PodStartupSeconds: f64(30)}),
			want: 10,
		},
		{
			name: "an override without namespace or selector applies to every pod",
			opts: withStartup(-1, sim.Override{PodStartupSeconds: f64(45)}),
			want: 45,
		},
		{
			name: "of two matching overrides the last wins",
			opts: withStartup(-1,
				sim.Override{Selector: webSelector, PodStartupSeconds: f64(30)},
				sim.Override{Namespace: "default", PodStartupSeconds: f64(40)}),
			want: 40,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(three()...)
			replicaSet(c, "web", "100m", tc.tweak, "n1", "n1")
			c.pdb("web", "web", nil, ptrIntOrString(intstr.FromInt32(1)))
			if tc.setup != nil {
				tc.setup(c)
			}
			r := simulateWith(t, c, byName("1"), tc.opts)
			b := r.Batches[0]
			if b.PDBStallSeconds != tc.want || b.EvictionsBlocked != int(tc.want/5) {
				t.Errorf("batch 0: stall %vs with %d refusals, want %vs with %d", b.PDBStallSeconds, b.EvictionsBlocked, tc.want, int(tc.want/5))
			}
			// The second eviction goes through once the first replacement is
			// Ready: the node is drained, never stuck.
			if b.Evictions != 2 || r.Summary.StuckNodes != 0 {
				t.Errorf("batch 0: %d evictions, %d stuck nodes; want both web pods evicted and nothing stuck", b.Evictions, r.Summary.StuckNodes)
			}
		})
	}

	t.Run("a Deployment annotated 60 s stalls its drains longer than one with the default", func(t *testing.T) {
		build := func(tweak func(*PodBuilder)) *cluster {
			c := newCluster(three()...)
			replicaSet(c, "web", "100m", tweak, "n1", "n1")
			c.pdb("web", "web", nil, ptrIntOrString(intstr.FromInt32(1)))
			return c
		}
		slow := simulateWith(t, build(annotated), byName("1"), sim.Options{})
		fast := simulateWith(t, build(nil), byName("1"), sim.Options{})
		if slow.Summary.PDBStallSeconds <= fast.Summary.PDBStallSeconds {
			t.Fatalf("stall with start-up 60 s: %vs, with the default: %vs; want the first longer",
				slow.Summary.PDBStallSeconds, fast.Summary.PDBStallSeconds)
		}
		if slow.Summary.DurationSeconds <= fast.Summary.DurationSeconds {
			t.Fatalf("duration with start-up 60 s: %vs, with the default: %vs; want the first longer",
				slow.Summary.DurationSeconds, fast.Summary.DurationSeconds)
		}
	})
}

// TestDeterministicResult runs the same snapshot and plan twice (and on a
// second copy of the snapshot) and wants byte-identical JSON, and the
// snapshot left as it was.
func TestDeterministicResult(t *testing.T) {
	handBuilt := func() *cluster {
		c := newCluster(append(three(), Node("n4").Zone("a").Obj())...)
		c.daemonSet("agent")
		c.deployment("web", "500m", "n1", "n1", "n2", "n3")
		c.pdb("web", "web", nil, ptrIntOrString(intstr.FromInt32(1)))
		replicaSet(c, "spread", "100m", func(b *PodBuilder) { b.AntiAffinity("app", "spread", corev1.LabelHostname) }, "n1", "n2", "n3")
		c.statefulSetOnLocalPVs("db", "n2", "n4")
		c.job("report", "n3")
		c.pod(Pod("bare").On("n4").Running().Obj())
		return c
	}
	generatedSeed := func(seed int64) func() *cluster {
		return func() *cluster {
			snap, err := synth.Generate(context.Background(), synth.Config{Profile: "small", Seed: seed})
			if err != nil {
				t.Fatal(err)
			}
			return &cluster{snap: *snap}
		}
	}
	for _, tc := range []struct {
		name   string
		build  func() *cluster
		params rolling.Params
	}{
		{"a hand-built cluster in batches of one", handBuilt, byName("1")},
		{"a hand-built cluster in batches of two by fewest pods", handBuilt, rolling.Params{BatchSize: "2", Order: rolling.OrderFewestPods}},
		{"a generated cluster in 10% batches by name (no preemption)", generatedSeed(1), byName("10%")},
		// Batches of 25% leave too little room: pods of higher priority
		// preempt others (about 40 preemptions with this seed).
		{"a generated cluster in 25% batches by name (preemption, stuck drains)", generatedSeed(1), byName("25%")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.build()
			before, err := json.Marshal(c.snap)
			if err != nil {
				t.Fatal(err)
			}
			run := func(c *cluster) []byte {
				r := simulateWith(t, c, tc.params, sim.Options{})
				out, err := json.Marshal(r)
				if err != nil {
					t.Fatal(err)
				}
				return out
			}
			first, second, other := run(c), run(c), run(tc.build())
			if !bytes.Equal(first, second) {
				t.Fatalf("two runs on the same snapshot differ: %s", firstDifference(first, second))
			}
			if !bytes.Equal(first, other) {
				t.Fatalf("runs on two copies of the same snapshot differ: %s", firstDifference(first, other))
			}
			after, err := json.Marshal(c.snap)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(before, after) {
				t.Fatalf("sim.Run modified the snapshot it was given")
			}
		})
	}
}

// firstDifference shows where two JSON documents first differ, and their
// summaries.
func firstDifference(a, b []byte) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	from := max(0, i-80)
	excerpt := func(d []byte) string { return string(d[from:min(len(d), i+80)]) }
	summary := func(d []byte) string {
		var r struct {
			Summary json.RawMessage `json:"summary"`
		}
		_ = json.Unmarshal(d, &r)
		return string(r.Summary)
	}
	return fmt.Sprintf("at byte %d:\n  first:  ...%s...\n  second: ...%s...\n  summaries:\n  %s\n  %s",
		i, excerpt(a), excerpt(b), summary(a), summary(b))
}

// TestDisplacedPodsThatNeverBecomeReadyAreReported: two replicas that must
// share a node (required pod affinity to their own label) leave n1; the
// first replacement goes to n2, which has room for one, and the second can
// then never join it while n2 stands. The executor would stop at its
// workloads-Ready gate after n1: the prediction says so, and goes on (n2's
// own batch later lets the pair meet again on n1).
func TestDisplacedPodsThatNeverBecomeReadyAreReported(t *testing.T) {
	c := newCluster(Node("n1").Cap("cpu", "4").Obj(), Node("n2").Cap("cpu", "2").Obj(), Node("n3").Cap("cpu", "1").Obj())
	replicaSet(c, "pair", "1500m", func(b *PodBuilder) { b.Affinity("app", "pair", corev1.LabelHostname) }, "n1", "n1")
	res := simulateWith(t, c, rolling.Params{BatchSize: "1", Order: rolling.OrderName}, sim.Options{Config: sim.DefaultConfig()})
	var found *plan.Risk
	for i, r := range res.Risks {
		if r.Code == plan.RiskUnschedulable && r.Object == "Node/n1" {
			found = &res.Risks[i]
		}
	}
	if found == nil {
		t.Fatalf("no risk names n1, whose displaced pod never becomes Ready; risks: %+v", res.Risks)
	}
	if found.Severity != plan.Critical || !strings.Contains(found.Message, "workloads-Ready gate") {
		t.Errorf("risk %+v: want a critical one saying the executor's gate would stop there", *found)
	}
	if found.Batch == nil || *found.Batch != 0 {
		t.Errorf("risk in batch %v, want batch 0 (n1's)", found.Batch)
	}
}
