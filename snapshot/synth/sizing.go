package synth

import (
	"fmt"
	"math"
)

// targetUtilisation is the share of allocatable CPU and memory that pod
// requests take in each node group: between 60% and 75%, so that losing a
// large batch of nodes runs the cluster short.
const targetUtilisation = 0.68

// size sets the final requests of every container. Fixed workloads (the
// add-ons) keep their catalogue sizes; the others are scaled, per node group
// (untainted pools, batch pool) and per resource, so that requests reach
// targetUtilisation of the group's allocatable. Rounding to the sizes people
// write (250m, 512Mi) and the per-container caps make the result inexact,
// so the factor is refined a few times.
func (g *generator) size() error {
	for _, grp := range []group{groupGeneral, groupBatch} {
		var allocCPU, allocMem, fixedCPU, fixedMem float64
		minCPU, minMem := int64(math.MaxInt64), int64(math.MaxInt64)
		for _, ni := range g.nodes {
			if (grp == groupBatch) != ni.pool.tainted {
				continue
			}
			allocCPU += float64(ni.cpuAlloc)
			allocMem += float64(ni.memAlloc)
			minCPU, minMem = min(minCPU, ni.cpuAlloc), min(minMem, ni.memAlloc)
		}
		var variable []*workload
		for _, w := range g.workloads {
			if w.fixed {
				for _, c := range append(w.containers, w.inits...) {
					c.cpu, c.mem = c.cpuBase, c.memBase<<20
				}
			}
			switch {
			case w.kind == kindDaemonSet:
				cpu, mem := w.podRequest()
				for _, ni := range g.nodes {
					if (grp == groupBatch) == ni.pool.tainted && dsRunsOn(w, ni) {
						fixedCPU += float64(cpu)
						fixedMem += float64(mem)
					}
				}
			case w.group != grp:
			case w.fixed:
				cpu, mem := w.podRequest()
				fixedCPU += float64(cpu * int64(w.replicas))
				fixedMem += float64(mem * int64(w.replicas))
			default:
				variable = append(variable, w)
			}
		}
		wantCPU := targetUtilisation*allocCPU - fixedCPU
		wantMem := targetUtilisation*allocMem - fixedMem
		if wantCPU <= 0 || wantMem <= 0 {
			return fmt.Errorf("%w: the add-ons alone exceed %.0f%% of the nodes' capacity", ErrBadConfig, targetUtilisation*100)
		}
		var baseCPU, baseMem float64
		for _, w := range variable {
			cpu, mem := w.basePodRequest()
			baseCPU += float64(cpu * int64(w.replicas))
			baseMem += float64(mem * int64(w.replicas) << 20)
		}
		if baseCPU == 0 {
			continue
		}
		fc, fm := wantCPU/baseCPU, wantMem/baseMem
		capCPU, capMem := minCPU*3/10, minMem*3/10
		for range 6 {
			var gotCPU, gotMem float64
			for _, w := range variable {
				for _, c := range append(w.containers, w.inits...) {
					c.cpu = roundCPU(float64(c.cpuBase)*fc, capCPU)
					c.mem = roundMem(float64(c.memBase<<20)*fm, capMem)
					if w.selfAffinity { // the whole group shares one node
						c.cpu, c.mem = min(c.cpu, 500), min(c.mem, 1<<30)
					}
				}
				cpu, mem := w.podRequest()
				gotCPU += float64(cpu * int64(w.replicas))
				gotMem += float64(mem * int64(w.replicas))
			}
			if gotCPU == 0 || gotMem == 0 {
				break
			}
			fc *= wantCPU / gotCPU
			fm *= wantMem / gotMem
		}
	}
	return nil
}

// roundCPU rounds millicores to what people write: 5m steps below 100m,
// 10m below a core, 50m above; at least 5m, at most limit. Zero stays zero
// (no request).
func roundCPU(m float64, limit int64) int64 {
	if m <= 0 {
		return 0
	}
	step := 50.0
	switch {
	case m < 100:
		step = 5
	case m < 1000:
		step = 10
	}
	v := int64(math.Round(m/step) * step)
	return min(max(v, 5), limit/50*50)
}

// roundMem rounds bytes to 8Mi steps below 256Mi, 32Mi below 2Gi and 128Mi
// above; at least 16Mi, at most limit.
func roundMem(b float64, limit int64) int64 {
	if b <= 0 {
		return 0
	}
	mi := b / (1 << 20)
	step := 128.0
	switch {
	case mi < 256:
		step = 8
	case mi < 2048:
		step = 32
	}
	v := int64(math.Round(mi/step)*step) << 20
	return min(max(v, 16<<20), limit>>27<<27)
}
