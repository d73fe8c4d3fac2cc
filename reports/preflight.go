package reports

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/noderoll/noderoll/analysis"
	"github.com/noderoll/noderoll/plan"
	"github.com/noderoll/noderoll/snapshot"
)

// WritePreflightJSON writes the report in the JSON form of `noderoll
// analyze -o json`: {"snapshot": {...}, "risks": [...]}.
func WritePreflightJSON(w io.Writer, r analysis.Report) error {
	if r.Risks == nil {
		r.Risks = []plan.Risk{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// severities lists the severities worst first.
var severities = []plan.Severity{plan.Critical, plan.High, plan.Medium, plan.Low}

// riskCounts renders "1 critical, 4 high, 2 medium, 0 low".
func riskCounts(risks []plan.Risk) string {
	counts := map[plan.Severity]int{}
	for _, k := range risks {
		counts[k.Severity]++
	}
	parts := make([]string, len(severities))
	for i, s := range severities {
		parts[i] = fmt.Sprintf("%d %s", counts[s], s)
	}
	return strings.Join(parts, ", ")
}

// workloadList renders "9 (3 Deployment, 1 StatefulSet, ...)", kinds in a
// fixed order.
func workloadList(o analysis.Overview) string {
	order := []string{
		snapshot.WorkloadDeployment, snapshot.WorkloadReplicaSet, snapshot.WorkloadStatefulSet,
		snapshot.WorkloadDaemonSet, snapshot.WorkloadJob, snapshot.WorkloadBarePod,
	}
	for _, k := range slices.Sorted(maps.Keys(o.Workloads)) {
		if !slices.Contains(order, k) {
			order = append(order, k)
		}
	}
	var parts []string
	for _, k := range order {
		if n := o.Workloads[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, k))
		}
	}
	if len(parts) == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (%s)", o.WorkloadTotal(), strings.Join(parts, ", "))
}

func coverage(c analysis.PDBCoverage) string {
	if c.Workloads == 0 {
		return "no workload with 2 or more replicas"
	}
	return fmt.Sprintf("%d%% (%d of %d workloads with 2 or more replicas)", c.Percent, c.Covered, c.Workloads)
}

// WritePreflightTable writes the report as an SRE reads it in a terminal,
// the way kubectl prints tables: the snapshot's numbers, requested against
// allocatable per zone and pool, then the risks, worst first.
func WritePreflightTable(w io.Writer, r analysis.Report) error {
	o := r.Snapshot
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintf(tw, "FINGERPRINT\t%s\n", o.Fingerprint)
	if o.Source != "" {
		fmt.Fprintf(tw, "SOURCE\t%s\n", o.Source)
	}
	if !o.TakenAt.IsZero() {
		fmt.Fprintf(tw, "TAKEN AT\t%s\n", o.TakenAt.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(tw, "WORKLOADS\t%s\n", workloadList(o))
	fmt.Fprintf(tw, "PDB COVERAGE\t%s\n", coverage(o.PDBCoverage))
	fmt.Fprintf(tw, "RISKS\t%s\n", riskCounts(r.Risks))
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "NODES\tPODS\tSERVICES\tPDBS\tNAMESPACES")
	fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\n", o.Nodes, o.Pods, o.Services, o.PDBs, o.Namespaces)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if err := WriteCapacityTable(w, o.Capacity); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if len(r.Risks) == 0 {
		_, err := fmt.Fprintln(w, "No risks found.")
		return err
	}
	tw = tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "SEVERITY\tCODE\tOBJECT\tMESSAGE")
	for _, k := range r.Risks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.Severity, k.Code, k.Object, oneLine(k.Message))
	}
	return tw.Flush()
}

// oneLine keeps a message on one table row.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// WritePreflightMarkdown writes the report as Markdown for a change
// ticket: the snapshot's numbers, capacity per zone and pool, and the
// risks, worst first, with what each means and what to do.
func WritePreflightMarkdown(w io.Writer, r analysis.Report) error {
	var b strings.Builder
	b.WriteString("## Preflight risks\n\n")
	writePreflightMarkdown(&b, r, "###")
	_, err := io.WriteString(w, b.String())
	return err
}

// writePreflightMarkdown writes the preflight body with its sections at
// heading level h.
func writePreflightMarkdown(b *strings.Builder, r analysis.Report, h string) {
	o := r.Snapshot
	fmt.Fprintf(b, "| | |\n|---|---|\n")
	fmt.Fprintf(b, "| Snapshot | `%s` |\n", o.Fingerprint)
	if o.Source != "" {
		fmt.Fprintf(b, "| Source | %s |\n", mdCell(o.Source))
	}
	if !o.TakenAt.IsZero() {
		fmt.Fprintf(b, "| Taken at | %s |\n", o.TakenAt.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(b, "| Nodes | %d |\n| Pods | %d |\n| Services | %d |\n| PDBs | %d |\n| Namespaces | %d |\n",
		o.Nodes, o.Pods, o.Services, o.PDBs, o.Namespaces)
	fmt.Fprintf(b, "| Workloads | %s |\n", workloadList(o))
	fmt.Fprintf(b, "| PDB coverage | %s |\n", coverage(o.PDBCoverage))
	fmt.Fprintf(b, "| Risks | %s |\n", riskCounts(r.Risks))

	for _, section := range []struct {
		title  string
		groups []snapshot.Capacity
	}{{"Zone", o.Capacity.Zones}, {"Pool", o.Capacity.Pools}} {
		fmt.Fprintf(b, "\n%s Requested / allocatable by %s\n\n", h, strings.ToLower(section.title))
		fmt.Fprintf(b, "| %s | Nodes | Pods | CPU (cores) | Memory |\n|---|---:|---:|---:|---:|\n", section.title)
		for _, c := range append(slices.Clone(section.groups), o.Capacity.Total) {
			pods, cpu, mem := capacityRow(c)
			fmt.Fprintf(b, "| %s | %d | %s | %s | %s |\n", mdCell(c.Name), c.Nodes, pods, cpu, mem)
		}
	}

	fmt.Fprintf(b, "\n%s Risks\n\n", h)
	if len(r.Risks) == 0 {
		b.WriteString("No risks found.\n")
	} else {
		b.WriteString("| Severity | Code | Object | What it means and what to do |\n|---|---|---|---|\n")
		for _, k := range r.Risks {
			sev := string(k.Severity)
			if k.Severity.Rank() <= plan.High.Rank() {
				sev = "**" + sev + "**"
			}
			fmt.Fprintf(b, "| %s | %s | `%s` | %s |\n", sev, k.Code, k.Object, mdCell(k.Message))
		}
	}
}

// mdCell makes s safe in a Markdown table cell.
func mdCell(s string) string {
	return strings.ReplaceAll(oneLine(s), "|", `\|`)
}
