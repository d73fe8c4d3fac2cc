package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/noderoll/noderoll/scheduler"
	"github.com/noderoll/noderoll/snapshot"
	"github.com/noderoll/noderoll/snapshot/synth"
)

var (
	seedOnce sync.Once
	seedSnap *snapshot.Snapshot
	seedErr  error
)

// seed generates the seed-profile snapshot once per process.
func seed(b *testing.B) *snapshot.Snapshot {
	b.Helper()
	seedOnce.Do(func() {
		seedSnap, seedErr = synth.Generate(context.Background(), synth.Config{Profile: "seed", Seed: 1})
	})
	if seedErr != nil {
		b.Fatalf("generating the seed snapshot: %v", seedErr)
	}
	return seedSnap
}

// emptied returns the snapshot without its pods, and the pods to place
// again, unbound, in their original order. DaemonSet pods are kept out of
// the stream the same way: they are placed like any other pod.
func emptied(s *snapshot.Snapshot, stripConstraints bool) (*snapshot.Snapshot, []*corev1.Pod) {
	empty := *s
	empty.Pods = nil
	pods := make([]*corev1.Pod, 0, len(s.Pods))
	for i := range s.Pods {
		p := s.Pods[i].DeepCopy()
		p.Spec.NodeName = ""
		if stripConstraints {
			p.Spec.TopologySpreadConstraints = nil
			if a := p.Spec.Affinity; a != nil {
				a.PodAffinity, a.PodAntiAffinity = nil, nil
			}
		}
		pods = append(pods, p)
	}
	return &empty, pods
}

// peakRSSMiB reads the process's peak resident set size (VmHWM).
func peakRSSMiB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

func BenchmarkBuildState(b *testing.B) {
	snap := seed(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := scheduler.New(ctx, snap, scheduler.Options{Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(snap.Pods)), "pods")
	b.ReportMetric(peakRSSMiB(), "peak-RSS-MiB")
}

// BenchmarkPlaceSeed places every pod of the seed cluster, unbound, into its
// 500 empty nodes: once through the naive framework loop and once through
// our scheduler, checking they agree before timing counts.
func BenchmarkPlaceSeed(b *testing.B) {
	for _, variant := range []struct {
		name  string
		strip bool
	}{{"default-profile/with-constraints", false}, {"default-profile/no-spread-or-affinity", true}} {
		b.Run(variant.name, func(b *testing.B) {
			empty, pods := emptied(seed(b), variant.strip)
			if n := os.Getenv("NODEROLL_BENCH_PODS"); n != "" {
				if k, err := strconv.Atoi(n); err == nil && k < len(pods) {
					pods = pods[:k]
				}
			}
			rates := map[bool]float64{}
			choices := map[bool][]string{}
			for _, naive := range []bool{true, false} {
				name := "noderoll"
				if naive {
					name = "naive-framework-loop"
				}
				b.Run(name, func(b *testing.B) {
					ctx := context.Background()
					b.ReportAllocs()
					var got []string
					for i := 0; i < b.N; i++ {
						b.StopTimer()
						s, err := scheduler.New(ctx, empty, scheduler.Options{Seed: 1, Naive: naive})
						if err != nil {
							b.Fatal(err)
						}
						got = got[:0]
						b.StartTimer()
						for _, p := range pods {
							res, err := s.Place(ctx, p)
							if err != nil {
								b.Fatal(err)
							}
							got = append(got, res.NodeName)
						}
					}
					rate := float64(len(pods)*b.N) / b.Elapsed().Seconds()
					rates[naive] = rate
					choices[naive] = got
					b.ReportMetric(rate, "pods/s")
					b.ReportMetric(peakRSSMiB(), "peak-RSS-MiB")
				})
			}
			if rates[true] > 0 && rates[false] > 0 {
				same := len(choices[true]) == len(choices[false])
				for i := 0; same && i < len(choices[true]); i++ {
					same = choices[true][i] == choices[false][i]
				}
				fmt.Printf("%s: %d pods: naive %.0f pods/s, noderoll %.0f pods/s, ratio %.1fx, identical placements: %v\n",
					variant.name, len(pods), rates[true], rates[false], rates[false]/rates[true], same)
				if !same {
					b.Fatalf("placements differ between the naive loop and noderoll")
				}
			}
		})
	}
}

// BenchmarkForkRevert measures a fork, 100 placements in it, and a revert on
// the loaded seed cluster.
func BenchmarkForkRevert(b *testing.B) {
	snap := seed(b)
	ctx := context.Background()
	s, err := scheduler.New(ctx, snap, scheduler.Options{Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	_, pods := emptied(snap, false)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.Fork()
		for j := 0; j < 100; j++ {
			p := pods[(i*100+j)%len(pods)].DeepCopy()
			p.Name = fmt.Sprintf("%s-fork-%d", p.Name, j)
			if _, err := s.Place(ctx, p); err != nil {
				b.Fatal(err)
			}
		}
		s.Revert()
	}
	b.ReportMetric(peakRSSMiB(), "peak-RSS-MiB")
}
