package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/noderoll/noderoll/reports"
	"github.com/noderoll/noderoll/snapshot"
)

// inspectOptions are the flags and arguments of `snapshot inspect`.
type inspectOptions struct {
	file   string
	output string // "table" or "json"
}

func newInspectCommand(stdout, stderr io.Writer) *cobra.Command {
	o := &inspectOptions{}
	cmd := &cobra.Command{
		Use:   "inspect FILE",
		Short: "Summarise a snapshot: objects, workloads, requested vs allocatable resources",
		Long: "Summarise a snapshot: object counts, workloads by kind, and requested vs allocatable\n" +
			"cpu, memory and pods per zone and per node pool.\n\n" +
			"FILE may be a native snapshot (.json, .json.gz) or any Kubernetes List or\n" +
			"multi-document YAML or JSON as `kubectl get ... -o yaml|json` writes it.",
		Args: exactArgs("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.file = args[0]
			if err := o.validate(); err != nil {
				return err
			}
			return o.run(cmd.Context(), stdout, stderr)
		},
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "table", "output format: table or json")
	return cmd
}

func (o *inspectOptions) validate() error {
	if o.output != "table" && o.output != "json" {
		return usageErrorf("unknown output format %q: want table or json", o.output)
	}
	return nil
}

// inspectJSON is what `inspect -o json` prints: the summary and the
// warnings found while loading.
type inspectJSON struct {
	File string `json:"file"`
	snapshot.Summary
	Warnings []snapshot.Issue `json:"warnings,omitempty"`
}

func (o *inspectOptions) run(_ context.Context, stdout, stderr io.Writer) error {
	s, err := snapshot.Load(o.file)
	if err != nil {
		return err
	}
	printWarnings(stderr, s.Warnings)
	sum := s.Summary()
	if o.output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(inspectJSON{File: o.file, Summary: sum, Warnings: s.Warnings})
	}
	return writeSummaryTable(stdout, o.file, sum)
}

// writeSummaryTable prints sum the way kubectl prints tables.
func writeSummaryTable(w io.Writer, file string, sum snapshot.Summary) error {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintf(tw, "FILE\t%s\n", file)
	if sum.Source != "" && sum.Source != file {
		fmt.Fprintf(tw, "SOURCE\t%s\n", sum.Source)
	}
	if !sum.TakenAt.IsZero() {
		fmt.Fprintf(tw, "TAKEN AT\t%s\n", sum.TakenAt.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(tw, "FINGERPRINT\t%s\n", sum.Fingerprint)
	if len(sum.Skipped) > 0 {
		var skipped []string
		for _, kind := range slices.Sorted(maps.Keys(sum.Skipped)) {
			skipped = append(skipped, fmt.Sprintf("%s=%d", kind, sum.Skipped[kind]))
		}
		fmt.Fprintf(tw, "SKIPPED\t%s\n", strings.Join(skipped, ", "))
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "NODES\tPODS\tSERVICES\tPDBS\tNAMESPACES")
	fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\n", sum.Nodes, sum.Pods, sum.Services, sum.PDBs, sum.Namespaces)
	if err := tw.Flush(); err != nil {
		return err
	}

	if len(sum.Workloads) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
		fmt.Fprintln(tw, "WORKLOAD\tCOUNT")
		for _, kind := range workloadOrder(sum.Workloads) {
			fmt.Fprintf(tw, "%s\t%d\n", kind, sum.Workloads[kind])
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}

	fmt.Fprintln(w)
	return reports.WriteCapacityTable(w, sum.Capacity)
}

// workloadOrder lists the workload kinds present: the usual ones in a fixed
// order, then any other, alphabetically.
func workloadOrder(workloads map[string]int) []string {
	order := []string{
		snapshot.WorkloadDeployment, snapshot.WorkloadReplicaSet, snapshot.WorkloadStatefulSet,
		snapshot.WorkloadDaemonSet, snapshot.WorkloadJob, snapshot.WorkloadCronJob, snapshot.WorkloadBarePod,
	}
	var out []string
	for _, k := range order {
		if _, ok := workloads[k]; ok {
			out = append(out, k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(workloads)) {
		if !slices.Contains(order, k) {
			out = append(out, k)
		}
	}
	return out
}
