package sim_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/noderoll/noderoll/sim"
	"github.com/noderoll/noderoll/sim/rolling"
	"github.com/noderoll/noderoll/snapshot/synth"
)

func TestProbeSnap(t *testing.T) {
	snap, err := synth.Generate(context.Background(), synth.Config{Profile: "small", Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	prio := map[string]int{}
	for _, p := range snap.Pods {
		k := "nil"
		if p.Spec.Priority != nil {
			k = fmt.Sprint(*p.Spec.Priority)
		}
		prio[k+"/"+p.Spec.PriorityClassName]++
	}
	t.Logf("prios %v", prio)
	for _, b := range snap.PodDisruptionBudgets {
		t.Logf("pdb %s/%s min=%v max=%v sel=%v policy=%v", b.Namespace, b.Name, b.Spec.MinAvailable, b.Spec.MaxUnavailable, b.Spec.Selector.MatchLabels, b.Spec.UnhealthyPodEvictionPolicy)
	}
	for _, s := range snap.Services[:10] {
		t.Logf("svc %s/%s sel=%v", s.Namespace, s.Name, s.Spec.Selector)
	}
	p, _ := rolling.Plan(snap, rolling.Params{BatchSize: "1", Order: "name"})
	r, _ := sim.Run(context.Background(), snap, p, sim.Options{})
	for _, k := range r.Risks {
		if k.Code == "DrainStuck" || k.Code == "UnmanagedPod" {
			t.Logf("%s %s %s", k.Code, k.Object, k.Message)
		}
	}
}
