package synth

import (
	"context"
	"fmt"
	"testing"
)

// Scaling changes how many pods share a node and how large they are; every
// scaled shape must still place every pod and land in the utilisation band.
func TestScaledConfigurationsPlaceEveryPod(t *testing.T) {
	configs := []Config{
		{Profile: "small", Nodes: 12},
		{Profile: "small", Pods: 800},
		{Profile: "small", Nodes: 20, Pods: 1200},
		{Profile: "small", Nodes: 40, Pods: 500},
		{Profile: "seed", Nodes: 30},
	}
	for _, cfg := range configs {
		for seed := int64(1); seed <= 3; seed++ {
			cfg.Seed = seed
			t.Run(fmt.Sprintf("%s nodes=%d pods=%d seed=%d", cfg.Profile, cfg.Nodes, cfg.Pods, seed), func(t *testing.T) {
				s, err := Generate(context.Background(), cfg)
				if err != nil {
					t.Fatal(err)
				}
				cpu, mem := utilisation(t, s)
				if cpu < 0.60 || cpu > 0.75 || mem < 0.60 || mem > 0.75 {
					t.Errorf("utilisation cpu %.2f memory %.2f, want 0.60-0.75", cpu, mem)
				}
			})
		}
	}
}
