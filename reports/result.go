package reports

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/noderoll/noderoll/sim"
)

// WriteResultJSON writes the result in the contract's JSON form.
func WriteResultJSON(w io.Writer, r *sim.Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteResultTable writes the result as an SRE reads it in a terminal: the
// totals, one row per batch, then the risks, worst first.
func WriteResultTable(w io.Writer, r *sim.Result) error {
	s := r.Summary
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "STRATEGY\t%s %s\n", r.Strategy, params(r.Params))
	fmt.Fprintf(tw, "SNAPSHOT\t%s (%d nodes, %d pods)\n", short(r.Snapshot.Fingerprint), r.Snapshot.Nodes, r.Snapshot.Pods)
	fmt.Fprintf(tw, "DURATION\t%s in %d batches\n", human(s.DurationSeconds), s.Batches)
	fmt.Fprintf(tw, "EVICTIONS\t%d (%d refused with 429, PDB stall %s)\n", s.Evictions, s.EvictionsBlocked, human(s.PDBStallSeconds))
	fmt.Fprintf(tw, "POD MOVES\tmax %d per pod, %d pods moved more than once\n", s.PodMovesMax, s.PodsMovedMoreThanOnce)
	fmt.Fprintf(tw, "UNSCHEDULABLE\t%d pods at some moment, %d still pending at the end\n", s.UnschedulablePods, s.PendingAtEnd)
	fmt.Fprintf(tw, "LOST\t%d pods (no controller), %d pods' emptyDir data, %s of Job work\n", s.LostPods, s.EmptyDirPodsLost, human(s.LostJobPodSeconds))
	fmt.Fprintf(tw, "SERVICES\t%d down at some moment, %d degraded\n", s.ServicesWithOutage, s.ServicesDegraded)
	fmt.Fprintf(tw, "STUCK NODES\t%d\n", s.StuckNodes)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "BATCH\tNODES\tSTART\tEND\tEVICTIONS\t429s\tPDB STALL\tPENDING PEAK\tUNSCHEDULABLE\tCPU REQ/ALLOC\tMEM REQ/ALLOC (GiB)")
	for _, b := range r.Batches {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%d\t%d\t%s\t%d\t%d\t%.0f/%.0f\t%.0f/%.0f\n", b.Index, len(b.Nodes),
			human(b.StartSeconds), human(b.EndSeconds), b.Evictions, b.EvictionsBlocked, human(b.PDBStallSeconds),
			b.PendingPeak, b.Unschedulable, b.Capacity.CPU.Requested, b.Capacity.CPU.Allocatable,
			b.Capacity.Memory.Requested, b.Capacity.Memory.Allocatable)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Risks) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "SEVERITY\tCODE\tOBJECT\tBATCH\tMESSAGE")
	for _, k := range r.Risks {
		batch := "-"
		if k.Batch != nil {
			batch = fmt.Sprint(*k.Batch)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.Severity, k.Code, k.Object, batch, k.Message)
	}
	return tw.Flush()
}

func params(p map[string]string) string {
	var parts []string
	for _, k := range sortedKeys(p) {
		parts = append(parts, k+"="+p[k])
	}
	return strings.Join(parts, " ")
}

func short(fp string) string {
	if len(fp) > 12 {
		return fp[:12]
	}
	return fp
}

// human formats seconds as 1h02m03s.
func human(sec float64) string {
	d := int64(sec + 0.5)
	h, m, s := d/3600, d%3600/60, d%60
	switch {
	case h > 0:
		return fmt.Sprintf("%dh%02dm%02ds", h, m, s)
	case m > 0:
		return fmt.Sprintf("%dm%02ds", m, s)
	}
	return fmt.Sprintf("%ds", s)
}
