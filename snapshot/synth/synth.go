package synth

import (
	"context"
	"math/rand/v2"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/noderoll/noderoll/snapshot"
)

// Config configures Generate.
type Config struct {
	// Profile is the cluster shape: "seed" (the 500-node reference
	// cluster) or "small" (20 nodes, the same variety).
	Profile string
	// Nodes, Pods and Services override the profile's counts; 0 keeps the
	// profile's default, scaled by the first count given (nodes, then pods,
	// then services) so that the proportions hold.
	Nodes, Pods, Services int
	// Seed drives every random choice and every derived identity. The
	// same Config gives a byte-identical snapshot.
	Seed int64
	// Progress, when not nil, is called while pods are placed with the
	// number placed so far and the total.
	Progress func(done, total int)
}

// generator holds one run's state. It is used once, by one goroutine.
type generator struct {
	p       params
	seed    int64
	rng     *rand.Rand
	takenAt time.Time
	rv      int64
	snap    *snapshot.Snapshot

	nodes         []*nodeInfo
	nodeByName    map[string]*nodeInfo
	namespaces    []*nsInfo
	tenants       []*nsInfo
	nsByName      map[string]*nsInfo
	workloads     []*workload
	extraServices []*svcPlan
	podNames      map[string]bool
	svcIP         int
	nodePort      int
}

// Generate builds a synthetic cluster snapshot of the given profile. Every
// pod is placed on its node by the real scheduler (package scheduler), so
// the snapshot is one the cluster's scheduler could have produced: it
// returns an error wrapping ErrUnplaceable if some pod fits nowhere,
// ErrUnknownProfile or ErrBadConfig for a configuration it cannot honour,
// and ctx's error if ctx ends first.
func Generate(ctx context.Context, cfg Config) (*snapshot.Snapshot, error) {
	p, err := resolve(cfg)
	if err != nil {
		return nil, err
	}
	g := &generator{
		p:          p,
		seed:       cfg.Seed,
		rng:        rand.New(rand.NewPCG(uint64(cfg.Seed), 0x6e6f6465726f6c6c)),
		takenAt:    epoch.Add(takenAfter),
		nodeByName: map[string]*nodeInfo{},
		nsByName:   map[string]*nsInfo{},
		podNames:   map[string]bool{},
		snap: &snapshot.Snapshot{
			TypeMeta: metav1.TypeMeta{APIVersion: snapshot.APIVersion, Kind: snapshot.Kind},
			Source:   "generate:" + p.profile,
		},
	}
	g.snap.TakenAt = metav1.NewTime(g.takenAt)
	g.snap.ServerVersion = kubeletVer

	// Everything but the pods first: the scheduler's plugins read
	// Services, controllers, claims and volumes when it is built.
	g.buildNodes()
	g.buildNamespaces()
	g.buildPriorityClasses()
	g.buildStorageClasses()
	g.planSystem()
	if err := g.planTenants(); err != nil {
		return nil, err
	}
	if err := g.planServices(); err != nil {
		return nil, err
	}
	if err := g.size(); err != nil {
		return nil, err
	}
	g.buildControllers()
	g.buildServices()
	g.buildPDBs()
	g.buildClaims()

	if err := g.placePods(ctx, cfg.Progress); err != nil {
		return nil, err
	}
	g.buildNamespaceCounts()
	// As from any other source, the snapshot holds no value that may be a
	// secret (the generated command lines and annotations): Save, which
	// scrubs what it writes, then writes it as it is.
	g.snap.Scrub()
	sortSnapshot(g.snap)
	return g.snap, nil
}
