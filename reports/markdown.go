package reports

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/noderoll/noderoll/analysis"
	"github.com/noderoll/noderoll/sim"
)

// WriteMarkdown writes the report as Markdown for a change ticket: the
// verdict, the strategies compared, the batch-size sweep, the Services hit
// and the risks of the run to approve, worst first with what to do, and
// the preflight findings.
func WriteMarkdown(w io.Writer, r Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", title(r))
	if r.Fixes != nil {
		fmt.Fprintf(&b, "**%s**\n\n", fixHeadline(r.Fixes))
	}
	fmt.Fprintf(&b, "**%s**\n\n", verdict(r.Results, r.Bands))
	if len(r.Results) == 0 {
		_, err := io.WriteString(w, b.String())
		return err
	}
	rank := Rank(r.Results)
	best := r.Results[rank[0]]
	fmt.Fprintf(&b, "Snapshot `%s`: %d nodes, %d pods.\n", short(best.Snapshot.Fingerprint), best.Snapshot.Nodes, best.Snapshot.Pods)

	b.WriteString("\n## Strategies compared\n\n")
	b.WriteString("| # | Strategy | Duration | Batches | Evictions | 429s | PDB stall | Moved >1× | Unschedulable | Services down | Service downtime | Degraded | Stuck nodes | Lost pods |\n")
	b.WriteString("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for i, idx := range rank {
		res := r.Results[idx]
		s := res.Summary
		fmt.Fprintf(&b, "| %d | %s | %s | %d | %d | %d | %s | %d | %d | %d | %s | %d | %d | %d |\n", i+1, mdCell(Label(res)),
			durationCell(res, r.Bands), s.Batches, s.Evictions, s.EvictionsBlocked, humanShort(s.PDBStallSeconds),
			s.PodsMovedMoreThanOnce, s.UnschedulablePods, s.ServicesWithOutage, humanShort(analysis.ServiceDownSeconds(res)), s.ServicesDegraded, s.StuckNodes, s.LostPods)
	}
	if band, ok := anyBand(r.Bands); ok {
		fmt.Fprintf(&b, "\nDuration: deterministic run, then P50 / P90 / P99 over %d Monte Carlo runs (seed %d; log-normal around the configured times, sigma %s).\n",
			band.Runs, band.Seed, sigmas(band))
	}

	if points, knee := Sweep(sweepInput(r)); len(points) >= 3 {
		b.WriteString("\n## Batch-size sweep\n\n")
		b.WriteString("| Batch size | Nodes per batch | Duration | Services down | Degraded | Unschedulable | PDB stall |\n|---|---:|---:|---:|---:|---:|---:|\n")
		for i, p := range points {
			mark := ""
			if i == knee {
				mark = " (knee)"
			}
			fmt.Fprintf(&b, "| %s%s | %d | %s | %d | %d | %d | %s |\n", p.BatchSize, mark, p.Nodes, humanShort(p.DurationSeconds),
				p.ServicesDown, p.ServicesDegr, p.Unschedulable, humanShort(p.PDBStallSeconds))
		}
		if knee >= 0 {
			fmt.Fprintf(&b, "\nThe knee is at %s: the best trade between duration and risk (Services down, degraded, pods unplaced).\n", points[knee].BatchSize)
		}
	}
	if r.Fixes != nil {
		fixesMarkdown(&b, r.Fixes)
	}
	if len(r.Findings) > 0 {
		b.WriteString("\n## Findings\n\n")
		for _, f := range r.Findings {
			fmt.Fprintf(&b, "- %s\n", f)
		}
	}

	fmt.Fprintf(&b, "\n## Availability with %s\n\n", Label(best))
	svcs := worstServices(best, 20)
	if len(svcs) == 0 {
		b.WriteString("No Service loses ready endpoints below the degraded threshold.\n")
	} else {
		b.WriteString("| Service | Desired | Lowest ready | Down | Degraded | Batches |\n|---|---:|---:|---:|---:|---|\n")
		for _, sv := range svcs {
			fmt.Fprintf(&b, "| `%s` | %d | %d | %s | %s | %s |\n", sv.Service, sv.Desired, sv.MinReady,
				humanShort(sv.DownSeconds), humanShort(sv.DegradedSeconds), intList(sv.Batches))
		}
		if n := len(best.Services); n > len(svcs) {
			fmt.Fprintf(&b, "\n… and %d more.\n", n-len(svcs))
		}
	}

	fmt.Fprintf(&b, "\n## Risks with %s\n\n", Label(best))
	groups := groupRisks(best.Risks)
	if len(groups) == 0 {
		b.WriteString("No risks found.\n")
	} else {
		b.WriteString("| Severity | Risk | Count | For example | What to do |\n|---|---|---:|---|---|\n")
		for _, g := range groups {
			fmt.Fprintf(&b, "| %s | %s | %d | %s | %s |\n", sevCell(g.Severity), g.Code, g.Count,
				mdCell(strings.Join(codeList(g.Objects), ", ")+": "+g.Example), mdCell(g.Remedy))
		}
	}

	if pf := r.Preflight; pf != nil {
		o := pf.Snapshot
		b.WriteString("\n## Preflight findings\n\n")
		fmt.Fprintf(&b, "%d nodes, %d pods, %d Services, %d PDBs; workloads %s; PDB coverage %s; risks %s.\n",
			o.Nodes, o.Pods, o.Services, o.PDBs, workloadList(o), coverage(o.PDBCoverage), riskCounts(pf.Risks))
		b.WriteString("\n| Zone or pool | Nodes | Pods | CPU (cores) | Memory |\n|---|---:|---:|---:|---:|\n")
		for _, g := range append(append(slices.Clone(o.Capacity.Zones), o.Capacity.Pools...), o.Capacity.Total) {
			pods, cpu, mem := capacityRow(g)
			fmt.Fprintf(&b, "| %s | %d | %s | %s | %s |\n", mdCell(g.Name), g.Nodes, pods, cpu, mem)
		}
		if groups := groupRisks(pf.Risks); len(groups) > 0 {
			b.WriteString("\n| Severity | Risk | Count | For example | What to do |\n|---|---|---:|---|---|\n")
			for _, g := range groups {
				fmt.Fprintf(&b, "| %s | %s | %d | %s | %s |\n", sevCell(g.Severity), g.Code, g.Count,
					mdCell(strings.Join(codeList(g.Objects), ", ")+": "+g.Example), mdCell(g.Remedy))
			}
			b.WriteString("\nEvery finding: `noderoll analyze FILE -o markdown`.\n")
		}
	}

	a := best.Assumptions
	fmt.Fprintf(&b, "\n---\nAssumed: pod start-up %gs, OS reinstall %gs, node join %gs, soak %gs, eviction retry %gs, drain timeout %gs.\n",
		a.PodStartupSeconds, a.ReinstallSeconds, a.JoinSeconds, a.SoakSeconds, a.EvictionRetrySeconds, a.DrainTimeoutSeconds)
	_, err := io.WriteString(w, b.String())
	return err
}

func title(r Report) string {
	if r.Title != "" {
		return r.Title
	}
	return "Node OS replacement"
}

// durationCell is "1h10m" or, with a band, "1h10m (P50 1h12m / P90 1h20m / P99 1h31m)".
func durationCell(res *sim.Result, bands map[string]analysis.Band) string {
	d := humanShort(res.Summary.DurationSeconds)
	if b, ok := bands[Label(res)]; ok {
		d += fmt.Sprintf(" (P50 %s / P90 %s / P99 %s)", humanShort(b.P50Seconds), humanShort(b.P90Seconds), humanShort(b.P99Seconds))
	}
	return d
}

func anyBand(bands map[string]analysis.Band) (analysis.Band, bool) {
	for _, k := range sortedBandKeys(bands) {
		return bands[k], true
	}
	return analysis.Band{}, false
}

func sortedBandKeys(bands map[string]analysis.Band) []string {
	keys := make([]string, 0, len(bands))
	for k := range bands {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func sigmas(b analysis.Band) string {
	v := b.Variability
	return fmt.Sprintf("pod start-up %g, termination %g, reinstall %g, join %g", v.PodStartupSigma, v.TerminationSigma, v.ReinstallSigma, v.JoinSigma)
}

// sweepInput is the results the sweep is drawn from.
func sweepInput(r Report) []*sim.Result {
	if r.Sweep != nil {
		return r.Sweep
	}
	return r.Results
}

// worstServices returns up to n Services hit, down first, then longest.
func worstServices(r *sim.Result, n int) []sim.ServiceImpact {
	out := slices.Clone(r.Services)
	slices.SortStableFunc(out, func(a, b sim.ServiceImpact) int {
		return cmp.Or(-cmp.Compare(a.DownSeconds, b.DownSeconds), -cmp.Compare(a.DegradedSeconds, b.DegradedSeconds), cmp.Compare(a.Service, b.Service))
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

func intList(xs []int) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprint(x)
	}
	return strings.Join(parts, ", ")
}

func codeList(objs []string) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = "`" + o + "`"
	}
	return out
}

func sevCell(s interface{ Rank() int }) string {
	str := fmt.Sprint(s)
	if s.Rank() <= 1 {
		return "**" + str + "**"
	}
	return str
}
