package reports

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"text/tabwriter"

	"github.com/noderoll/noderoll/snapshot"
)

// WriteCapacityTable writes requested against allocatable pods, cpu and
// memory per zone and per node pool, each section closed by the total: the
// table `snapshot inspect` and `analyze` both print.
func WriteCapacityTable(w io.Writer, c snapshot.CapacitySummary) error {
	for i, section := range []struct {
		title  string
		groups []snapshot.Capacity
	}{{"ZONE", c.Zones}, {"POOL", c.Pools}} {
		if i > 0 {
			fmt.Fprintln(w)
		}
		tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
		fmt.Fprintf(tw, "%s\tNODES\tPODS\tCPU (cores)\tMEMORY\n", section.title)
		for _, g := range append(slices.Clone(section.groups), c.Total) {
			pods, cpu, mem := capacityRow(g)
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", g.Name, g.Nodes, pods, cpu, mem)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// capacityRow renders a group's pods, cpu and memory, requested against
// allocatable.
func capacityRow(c snapshot.Capacity) (pods, cpu, mem string) {
	return ratio(strconv.FormatInt(c.Requested.Pods, 10), strconv.FormatInt(c.Allocatable.Pods, 10), c.Requested.Pods, c.Allocatable.Pods),
		ratio(cores(c.Requested.MilliCPU), cores(c.Allocatable.MilliCPU), c.Requested.MilliCPU, c.Allocatable.MilliCPU),
		ratio(gib(c.Requested.MemoryBytes), gib(c.Allocatable.MemoryBytes), c.Requested.MemoryBytes, c.Allocatable.MemoryBytes)
}

// ratio renders "requested/allocatable (percent)".
func ratio(req, alloc string, r, a int64) string {
	if a == 0 {
		return req + "/" + alloc
	}
	return fmt.Sprintf("%s/%s (%d%%)", req, alloc, r*100/a)
}

// cores renders millicores as cores with at most one decimal.
func cores(milli int64) string { return trimDecimal(float64(milli) / 1000) }

// gib renders bytes in GiB with at most one decimal.
func gib(bytes int64) string { return trimDecimal(float64(bytes)/(1<<30)) + "Gi" }

func trimDecimal(f float64) string {
	s := strconv.FormatFloat(f, 'f', 1, 64)
	if len(s) > 2 && s[len(s)-2:] == ".0" {
		s = s[:len(s)-2]
	}
	return s
}
