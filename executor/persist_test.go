package executor

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/utils/clock"

	"github.com/noderoll/noderoll/plan"
)

// TestPersistNeverSavesAnOlderState: the nodes of a batch update the
// record side by side, and the API server answers their saves in any
// order; the progress ConfigMap ends with the newest state, never an
// older one that a later save overtook.
func TestPersistNeverSavesAnOlderState(t *testing.T) {
	var nodes []string
	for i := range 8 {
		nodes = append(nodes, fmt.Sprintf("n%d", i))
	}
	p := &plan.Plan{Metadata: plan.Metadata{Strategy: "rolling"}, Spec: plan.Spec{Batches: []plan.Batch{{Index: 0, Nodes: nodes}}}}
	rng := rand.New(rand.NewPCG(1, 2))
	var mu sync.Mutex
	// Saves reach the API server after 0 to 2 ms: without ordering, an
	// older state regularly lands last.
	client := slowClient{Clientset: newFakeAPI(), delay: func() {
		mu.Lock()
		d := time.Duration(rng.IntN(2000)) * time.Microsecond
		mu.Unlock()
		time.Sleep(d)
	}}
	for round := range 20 {
		e := &executor{cfg: Config{Clock: clock.RealClock{}}, p: p, rec: newRecord(p, plan.Digest(p), time.Now()),
			store: &progressStore{client: client, namespace: "kube-system"}}
		// As a run does: read the progress before writing it.
		if _, err := e.store.load(context.Background()); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for _, nr := range e.rec.Batches[0].NodeRuns {
			wg.Go(func() {
				for _, ph := range []Phase{PhaseDraining, PhaseDrained, PhaseReinstalling, PhaseReinstalled} {
					if err := e.setPhase(context.Background(), nr, ph, func() { nr.Evictions++ }); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		got, err := e.store.load(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for i, nr := range got.Batches[0].NodeRuns {
			if nr.Phase != PhaseReinstalled || nr.Evictions != 4 {
				t.Fatalf("round %d: node %s saved in phase %s with %d evictions; the executor holds %s and %d",
					round, nr.Name, nr.Phase, nr.Evictions, e.rec.Batches[0].NodeRuns[i].Phase, e.rec.Batches[0].NodeRuns[i].Evictions)
			}
		}
		if !reflect.DeepEqual(got.Batches, e.rec.Batches) {
			t.Fatalf("round %d: the saved batches differ from the executor's", round)
		}
	}
}

// slowClient delays every ConfigMap update on its way to the fake API
// server (whose reactors run one at a time).
type slowClient struct {
	*fake.Clientset
	delay func()
}

func (c slowClient) CoreV1() typedcorev1.CoreV1Interface {
	return slowCore{CoreV1Interface: c.Clientset.CoreV1(), delay: c.delay}
}

type slowCore struct {
	typedcorev1.CoreV1Interface
	delay func()
}

func (c slowCore) ConfigMaps(namespace string) typedcorev1.ConfigMapInterface {
	return slowConfigMaps{ConfigMapInterface: c.CoreV1Interface.ConfigMaps(namespace), delay: c.delay}
}

type slowConfigMaps struct {
	typedcorev1.ConfigMapInterface
	delay func()
}

func (c slowConfigMaps) Update(ctx context.Context, cm *corev1.ConfigMap, opts metav1.UpdateOptions) (*corev1.ConfigMap, error) {
	c.delay()
	return c.ConfigMapInterface.Update(ctx, cm, opts)
}
