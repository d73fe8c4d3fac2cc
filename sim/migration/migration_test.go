package migration_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	. "github.com/noderoll/noderoll/internal/testutil"
	"github.com/noderoll/noderoll/plan"
	"github.com/noderoll/noderoll/sim"
	"github.com/noderoll/noderoll/sim/migration"
	"github.com/noderoll/noderoll/sim/rolling"
	"github.com/noderoll/noderoll/snapshot"
)

// cluster is a hand-built scenario.
type cluster struct{ snap snapshot.Snapshot }

func newCluster(n int, cpu string) *cluster {
	c := &cluster{snap: snapshot.Snapshot{TakenAt: metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))}}
	for i := 1; i <= n; i++ {
		c.snap.Nodes = append(c.snap.Nodes, *Node(fmt.Sprintf("n%d", i)).Cap("cpu", cpu).Zone("a").Obj())
	}
	return c
}

func (c *cluster) service(ns, app string) {
	c.snap.Services = append(c.snap.Services, corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: app, Namespace: ns},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": app}},
	})
}

// deployment adds a ReplicaSet in ns with one Ready pod of cpu on each node
// listed, and a Service.
func (c *cluster) deployment(ns, name, cpu string, nodes ...string) {
	r := int32(len(nodes))
	c.snap.ReplicaSets = append(c.snap.ReplicaSets, appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID("uid-ReplicaSet-" + name)},
		Spec:       appsv1.ReplicaSetSpec{Replicas: &r, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}},
	})
	c.service(ns, name)
	for i, n := range nodes {
		c.snap.Pods = append(c.snap.Pods, *Pod(fmt.Sprintf("%s-%d", name, i)).NS(ns).Label("app", name).Req("cpu", cpu).
			OwnedBy("ReplicaSet", name).Grace(10).On(n).Running().Obj())
	}
}

// statefulSet adds a StatefulSet in ns with one pod per node listed, each on
// a local PV of size bound to its node, and a Service.
func (c *cluster) statefulSet(ns, name, size string, nodes ...string) {
	r := int32(len(nodes))
	c.snap.StatefulSets = append(c.snap.StatefulSets, appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID("uid-StatefulSet-" + name)},
		Spec:       appsv1.StatefulSetSpec{Replicas: &r, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}},
	})
	c.service(ns, name)
	sc := "local-storage"
	for i, n := range nodes {
		claim := fmt.Sprintf("data-%s-%d", name, i)
		pv := fmt.Sprintf("pv-%s-%d", name, i)
		c.snap.PersistentVolumes = append(c.snap.PersistentVolumes, corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: pv},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)},
				AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				StorageClassName:       sc,
				PersistentVolumeSource: corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: "/mnt/disk"}},
				NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
					MatchExpressions: []corev1.NodeSelectorRequirement{{Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{n}}}}}}},
				ClaimRef: &corev1.ObjectReference{Kind: "PersistentVolumeClaim", Namespace: ns, Name: claim},
			},
			Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeBound},
		})
		c.snap.PersistentVolumeClaims = append(c.snap.PersistentVolumeClaims, corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: claim, Namespace: ns, Annotations: map[string]string{"pv.kubernetes.io/bind-completed": "yes"}},
			Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				StorageClassName: &sc, VolumeName: pv,
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}}},
			Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound},
		})
		c.snap.Pods = append(c.snap.Pods, *Pod(fmt.Sprintf("%s-%d", name, i)).NS(ns).Label("app", name).Req("cpu", "500m").
			OwnedBy("StatefulSet", name).PVC(claim).Grace(10).On(n).Running().Obj())
	}
}

func run(t *testing.T, c *cluster, p *plan.Plan) *sim.Result {
	t.Helper()
	res, err := sim.Run(context.Background(), &c.snap, p, sim.Options{Config: sim.DefaultConfig()})
	if err != nil {
		t.Fatalf("simulating: %v", err)
	}
	return res
}

func migrate(t *testing.T, c *cluster, params migration.Params) *sim.Result {
	t.Helper()
	p, err := migration.Plan(&c.snap, params)
	if err != nil {
		t.Fatalf("planning: %v", err)
	}
	return run(t, c, p)
}

func roll(t *testing.T, c *cluster, batch string) *sim.Result {
	t.Helper()
	p, err := rolling.Plan(&c.snap, rolling.Params{BatchSize: batch, Order: rolling.OrderName})
	if err != nil {
		t.Fatalf("planning: %v", err)
	}
	return run(t, c, p)
}

func impact(r *sim.Result, svc string) *sim.ServiceImpact {
	for i := range r.Services {
		if r.Services[i].Service == svc {
			return &r.Services[i]
		}
	}
	return nil
}

func hasRisk(r *sim.Result, code, object string, sev plan.Severity) bool {
	for _, k := range r.Risks {
		if k.Code == code && k.Object == object && k.Severity == sev {
			return true
		}
	}
	return false
}

// statefulCluster: a database on local volumes on n1 and n2, a stateless
// web tier on n3 and n4.
func statefulCluster() *cluster {
	c := newCluster(4, "4")
	c.statefulSet("db", "pg", "10Gi", "n1", "n2")
	c.deployment("web", "front", "1", "n3", "n4")
	return c
}

func TestLocalVolumesRollingStallsEveryReinstallMigrationMovesOnce(t *testing.T) {
	timing := sim.DefaultTiming()
	reinstall := timing.ReinstallSeconds + timing.JoinSeconds

	rollingRes := roll(t, statefulCluster(), "1")
	pg := impact(rollingRes, "Service/db/pg")
	if pg == nil {
		t.Fatalf("rolling: Service/db/pg never degraded; services: %+v", rollingRes.Services)
	}
	// Each StatefulSet pod waits for its own node: two reinstalls, one
	// after the other, each with one of the two endpoints gone.
	if pg.DegradedSeconds < 2*reinstall {
		t.Errorf("rolling: db/pg degraded %.0fs, want at least two reinstalls (%.0fs)", pg.DegradedSeconds, 2*reinstall)
	}

	migRes := migrate(t, statefulCluster(), migration.Params{SeedNodes: 2})
	s := migRes.Summary
	if s.PodMovesMax != 1 || s.PodsMovedMoreThanOnce != 0 {
		t.Errorf("migration: podMovesMax %d, movedMoreThanOnce %d; want every pod moved exactly once", s.PodMovesMax, s.PodsMovedMoreThanOnce)
	}
	if s.ServicesWithOutage != 0 || s.ServicesDegraded != 0 {
		t.Errorf("migration: %d services down, %d degraded; want none: old pods serve until the cut-over (%+v)", s.ServicesWithOutage, s.ServicesDegraded, migRes.Services)
	}
	if s.Evictions != 0 {
		t.Errorf("migration with new seed machines: %d evictions, want 0 (tenants are deleted after cut-over, recycled nodes are empty)", s.Evictions)
	}
	if s.ExtraMachineHours <= 0 || math.Abs(s.ExtraMachineHours-2*s.DurationSeconds/3600) > 1e-9 {
		t.Errorf("migration: extra machine-hours %.3f, want 2 machines × %.0fs", s.ExtraMachineHours, s.DurationSeconds)
	}
	if s.PendingAtEnd != 0 || s.UnschedulablePods != 0 {
		t.Errorf("migration: %d unschedulable, %d pending at the end; want 0", s.UnschedulablePods, s.PendingAtEnd)
	}
	last := migRes.Batches[len(migRes.Batches)-1]
	recycled := map[string]bool{}
	for _, b := range migRes.Batches {
		if b.Phase != "seed" {
			for _, n := range b.Nodes {
				recycled[n] = true
			}
		}
	}
	for _, n := range []string{"n1", "n2", "n3", "n4"} {
		if !recycled[n] {
			t.Errorf("migration: old node %s was never recycled into the new cluster (last batch %+v)", n, *last)
		}
	}
}

func TestStatelessClusterRollingIsFaster(t *testing.T) {
	stateless := func() *cluster {
		c := newCluster(6, "4")
		c.deployment("shop", "cart", "1", "n1", "n2", "n3", "n4", "n5", "n6")
		c.deployment("blog", "posts", "1", "n1", "n3", "n5")
		return c
	}
	r := roll(t, stateless(), "50%")
	m := migrate(t, stateless(), migration.Params{SeedFraction: 0.34})
	if r.Summary.DurationSeconds >= m.Summary.DurationSeconds {
		t.Errorf("rolling 50%% took %.0fs, migration %.0fs: want rolling faster on a stateless cluster", r.Summary.DurationSeconds, m.Summary.DurationSeconds)
	}
	if m.Summary.PodMovesMax != 2 {
		// The seed's drain moves the pods of the seed node once, the
		// migration once more.
		t.Errorf("migration with a seed of old nodes: podMovesMax %d, want 2", m.Summary.PodMovesMax)
	}
}

func TestTenantTooBigForTheSeedCluster(t *testing.T) {
	t.Run("the emptiest old node is recycled to make room, its pod moving twice", func(t *testing.T) {
		c := newCluster(4, "4")
		c.deployment("big", "api", "2", "n1", "n2", "n3")
		c.deployment("mid", "cache", "3", "n4")
		res := migrate(t, c, migration.Params{SeedNodes: 1})
		if !hasRisk(res, plan.RiskCapacityShortfall, "Tenant/big", plan.Medium) {
			t.Errorf("want a medium CapacityShortfall on Tenant/big, risks: %+v", res.Risks)
		}
		s := res.Summary
		if s.PendingAtEnd != 0 || s.ServicesWithOutage != 0 {
			t.Errorf("pending at end %d, services down %d: want the tenant moved whole, with no outage", s.PendingAtEnd, s.ServicesWithOutage)
		}
		if s.PodMovesMax != 2 || s.Evictions == 0 {
			t.Errorf("podMovesMax %d, evictions %d: want the recycled node's pod evicted then migrated (2 moves)", s.PodMovesMax, s.Evictions)
		}
	})
	t.Run("a tenant nothing can make room for is a critical shortfall and the run still ends", func(t *testing.T) {
		c := newCluster(2, "4")
		c.deployment("big", "api", "3", "n1", "n2")
		res := migrate(t, c, migration.Params{SeedNodes: 1})
		if !hasRisk(res, plan.RiskCapacityShortfall, "Tenant/big", plan.Critical) {
			t.Errorf("want a critical CapacityShortfall on Tenant/big, risks: %+v", res.Risks)
		}
		if res.Summary.UnschedulablePods == 0 {
			t.Errorf("want the copy that fits nowhere counted unschedulable")
		}
	})
}

func TestDataCopyTimeFollowsVolumeSizesAndBandwidth(t *testing.T) {
	const mib = 1 << 20
	cutover := sim.DefaultTiming().CutoverSeconds
	tests := []struct {
		name      string
		size      string
		params    migration.Params
		wantData  float64
		wantFloor float64 // the wave lasts at least data + cut-over
	}{
		{"two 10Gi claims at 100MiB/s", "10Gi", migration.Params{SeedNodes: 2}, 2 * 10 * 1024.0 / 100, 0},
		{"two 10Gi claims at 200MiB/s", "10Gi", migration.Params{SeedNodes: 2, DataBandwidth: 200 * mib}, 2 * 10 * 1024.0 / 200, 0},
		{"two 50Gi claims at 100MiB/s", "50Gi", migration.Params{SeedNodes: 2}, 2 * 50 * 1024.0 / 100, 0},
		{"dual-write takes the switch time whatever the size", "50Gi", migration.Params{SeedNodes: 2, DataMode: plan.DataDualWrite}, sim.DefaultTiming().DataSwitchSeconds, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(2, "4")
			c.statefulSet("db", "pg", tc.size, "n1", "n2")
			res := migrate(t, c, tc.params)
			if math.Abs(res.Summary.DataCopySeconds-tc.wantData) > 1e-6 {
				t.Errorf("data copy %.3fs, want %.3fs", res.Summary.DataCopySeconds, tc.wantData)
			}
			var wave *sim.Batch
			for _, b := range res.Batches {
				if b.Phase == "wave" {
					wave = b
				}
			}
			if wave == nil {
				t.Fatalf("no wave in %+v", res.Batches)
			}
			if d := wave.EndSeconds - wave.StartSeconds; d < tc.wantData+cutover {
				t.Errorf("wave lasted %.0fs, want at least the data copy and the cut-over (%.0fs)", d, tc.wantData+cutover)
			}
		})
	}
}

func TestWaveByLabelSplitsANamespace(t *testing.T) {
	c := newCluster(3, "4")
	c.deployment("shop", "cart", "3", "n1")
	c.deployment("shop", "pay", "3", "n2")
	c.deployment("blog", "posts", "1", "n3")
	for i := range c.snap.Pods {
		p := &c.snap.Pods[i]
		p.Labels["team"] = map[string]string{"cart": "a", "pay": "b", "posts": "c"}[p.Labels["app"]]
	}
	// One new machine holds one 3-CPU tenant at a time: team a and team b
	// move in different waves, so shop is half-moved in between.
	res := migrate(t, c, migration.Params{SeedNodes: 1, WaveBy: plan.WaveByLabel, WaveLabel: "team"})
	if res.Summary.ServicesSplit != 2 {
		t.Errorf("services split %d, want shop's 2", res.Summary.ServicesSplit)
	}
	if !hasRisk(res, plan.RiskServiceSplit, "Namespace/shop", plan.Medium) {
		t.Errorf("want a ServiceSplit risk on Namespace/shop, risks %+v", res.Risks)
	}
	byNS := migrate(t, c, migration.Params{SeedNodes: 1})
	if byNS.Summary.ServicesSplit != 0 {
		t.Errorf("by namespace: %d services split, want none", byNS.Summary.ServicesSplit)
	}
}

func TestPlanChoosesSeedAndOrder(t *testing.T) {
	c := statefulCluster()
	c.deployment("tiny", "x", "100m", "n4")
	p, err := migration.Plan(&c.snap, migration.Params{SeedFraction: 0.25})
	if err != nil {
		t.Fatal(err)
	}
	m := p.Spec.Migration
	// n1 and n2 host local volumes; n3 is emptier than n4.
	if got := strings.Join(m.SeedNodes, ","); got != "n3" {
		t.Errorf("seed nodes %s, want n3 (no local volume, emptiest)", got)
	}
	if got := strings.Join(m.Tenants, ","); got != "tiny,db,web" {
		t.Errorf("tenants %s, want smallest first: tiny,db,web", got)
	}
	dir := t.TempDir()
	order := filepath.Join(dir, "order")
	if err := os.WriteFile(order, []byte("# first the web\nweb\n\ndb\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	names, err := migration.ReadOrderFile(order)
	if err != nil {
		t.Fatal(err)
	}
	p, err = migration.Plan(&c.snap, migration.Params{SeedNodes: 1, Order: names})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(p.Spec.Migration.Tenants, ","); got != "web,db,tiny" {
		t.Errorf("tenants %s, want the order file's, then the rest: web,db,tiny", got)
	}
}

func TestBadParams(t *testing.T) {
	c := statefulCluster()
	for _, tc := range []struct {
		name   string
		params migration.Params
		want   string
	}{
		{"seed fraction of 1", migration.Params{SeedFraction: 1}, "seed fraction"},
		{"label waves without a key", migration.Params{WaveBy: plan.WaveByLabel}, "label key"},
		{"unknown data mode", migration.Params{DataMode: "rsync"}, "data mode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := migration.Plan(&c.snap, tc.params)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		in   string
		want int64
	}{{"100MiB/s", 100 << 20}, {"1Gi", 1 << 30}, {"500M", 500e6}} {
		got, err := migration.ParseBandwidth(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseBandwidth(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	if _, err := migration.ParseBandwidth("fast"); err == nil {
		t.Error("ParseBandwidth(fast): want an error")
	}
}

// TestSeedTakesEveryPoolAndZone checks that the seed gives the new cluster
// every node shape: each pool its share (at least one node, so pods
// pinned to a small pool have somewhere to go), the zones of a pool in
// turn.
func TestSeedTakesEveryPoolAndZone(t *testing.T) {
	tests := []struct {
		name     string
		pools    map[string][]string // pool → zone of each node
		fraction float64
		want     string
	}{
		{"a small GPU pool still gives a node", map[string][]string{
			"general": {"a", "a", "a", "a", "a", "b", "b", "b", "b", "b"}, "gpu": {"a", "a"}}, 0.1, "general-0,gpu-0"},
		{"the zones of a pool take turns", map[string][]string{
			"general": {"a", "a", "b", "b"}}, 0.5, "general-0,general-2"},
		{"shares follow the pool sizes", map[string][]string{
			"big": {"a", "a", "a", "a", "a", "a", "a", "a"}, "small": {"a", "a"}}, 0.2, "big-0,small-0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &cluster{snap: snapshot.Snapshot{TakenAt: metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))}}
			for pool, zones := range tt.pools {
				for i, z := range zones {
					c.snap.Nodes = append(c.snap.Nodes, *Node(fmt.Sprintf("%s-%d", pool, i)).Cap("cpu", "4").Zone(z).Label(snapshot.PoolLabel, pool).Obj())
				}
			}
			p, err := migration.Plan(&c.snap, migration.Params{SeedFraction: tt.fraction})
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(p.Spec.Migration.SeedNodes, ","); got != tt.want {
				t.Errorf("seed nodes %s, want %s", got, tt.want)
			}
		})
	}
}
