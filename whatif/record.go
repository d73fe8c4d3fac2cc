package whatif

import (
	"fmt"
	"slices"

	"github.com/noderoll/noderoll/plan"
	"github.com/noderoll/noderoll/sim"
)

// Annotate completes a result of a run on the what-if snapshot: it lists
// the overrides applied, marks the outages accepted, and adds the surge
// nodes' machine-hours (count × the run's duration) to the extra
// machine-hours. Annotating a result again (with a file that accepts more
// outages) redoes the list and the accepted outages, not the hours.
func (a *Applied) Annotate(res *sim.Result) {
	if a == nil || a.File.Empty() {
		return
	}
	if res.WhatIf == nil {
		res.Summary.ExtraMachineHours += float64(len(a.SurgeNodes)) * res.Summary.DurationSeconds / 3600
	}
	res.WhatIf = append([]string{}, a.Log...)
	down := map[string]bool{}
	for _, r := range res.Risks {
		if r.Code == plan.RiskServiceOutage {
			down[r.Object] = true
		}
	}
	res.Summary.OutagesAccepted = 0
	for i := range res.Services {
		sv := &res.Services[i]
		if a.Accepted[sv.Service] {
			sv.Accepted = true
			if down[sv.Service] {
				res.Summary.OutagesAccepted++
			}
		}
	}
}

// CheckPlan refuses what a plan cannot do with the file: the migration
// decides in the simulation which machines form the new cluster, so nodes
// cannot be left out of it, nor surge nodes added to it.
func (a *Applied) CheckPlan(p *plan.Plan) error {
	if a == nil || a.File.Empty() || p.Spec.Migration == nil {
		return nil
	}
	if len(a.File.ExcludeNodes) > 0 || len(a.SurgeNodes) > 0 {
		return &FileError{File: a.Source, Field: "excludeNodes, surge", Reason: "apply to rolling plans only (a migration recycles every node)"}
	}
	return nil
}

// Record writes the file into the plan, and the baseline of the what-if
// snapshot the drift gate compares the live cluster with: its nodes (surge
// nodes included: the machines must have joined under those names), its
// budgets (the file's added, replaced and deleted), the scale of the
// workloads the file set, and the namespaces left out, whose budgets are
// not compared. content is the file as read.
func (a *Applied) Record(p *plan.Plan, content []byte) {
	b := plan.NewBaseline(a.Snapshot)
	p.Metadata.Baseline = b
	if a.File.Empty() {
		return
	}
	p.Metadata.WhatIf = &plan.WhatIf{File: a.Source, Content: string(content), Applied: slices.Clone(a.Log)}
	if a.originalFingerprint != "" {
		p.Metadata.SnapshotFingerprint = a.originalFingerprint
	}
	for _, r := range a.File.Replicas {
		b.Replicas = append(b.Replicas, plan.ReplicasDigest{Kind: r.Kind, Name: r.Namespace + "/" + r.Name, Replicas: r.Replicas})
	}
	b.IgnoreNamespaces = slices.Clone(a.File.ExcludeNamespaces)
	slices.Sort(b.IgnoreNamespaces)
}

// Describe is a one-line summary of the file for messages.
func (a *Applied) Describe() string {
	if a == nil || a.File.Empty() {
		return "no what-if overrides"
	}
	return fmt.Sprintf("what-if %s: %d overrides applied", a.Source, len(a.Log))
}
