package executor

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/noderoll/noderoll/plan"
)

// The figures Verify compares, per batch.
const (
	FigureEvictions        = "evictions"
	FigureEvictionsBlocked = "evictionsBlocked"
	FigurePendingPeak      = "pendingPeak"
	FigureUnschedulable    = "unschedulable"
	FigureDuration         = "durationSeconds"
)

// scoredFigures enter the agreement score. Durations do not: they are the
// time model's inputs (reinstall, join, start-up), not its predictions.
var scoredFigures = []string{FigureEvictions, FigureEvictionsBlocked, FigurePendingPeak, FigureUnschedulable}

// Comparison is one figure of one batch, predicted and actual.
type Comparison struct {
	Batch     int     `json:"batch"`
	Figure    string  `json:"figure"`
	Predicted float64 `json:"predicted"`
	Actual    float64 `json:"actual"`
	// Agreement is 1 - |actual - predicted| / max(|actual|, |predicted|,
	// 1): 1 for equal figures, 0 for figures with nothing in common.
	Agreement float64 `json:"agreement"`
	// Agrees: within Tolerance.
	Agrees bool `json:"agrees"`
	// Why explains a disagreement and what it would take to close it.
	Why string `json:"why,omitempty"`
}

// Verification is the predicted-versus-actual report of a run.
type Verification struct {
	PlanDigest string `json:"planDigest"`
	Outcome    string `json:"outcome"`
	// Score is the mean Agreement of the scored figures (evictions, 429s,
	// pending peak, unschedulable pods) over the batches that ran.
	Score       float64      `json:"score"`
	Comparisons []Comparison `json:"comparisons"`
	// Notes are remarks on the run as a whole.
	Notes []string `json:"notes,omitempty"`
}

// Tolerance is how far a figure may be from its prediction and still
// agree: two, or a quarter of the larger figure, whichever is more. Counts
// on a real control plane depend on timings the simulator draws from its
// time model (how many 429s a retried eviction meets, how many pods wait
// at the sampled moment).
func Tolerance(predicted, actual float64) float64 {
	return max(2, 0.25*max(math.Abs(predicted), math.Abs(actual)))
}

// Verify compares the plan's predicted figures with the record's actual
// ones, batch by batch, for the batches that ended.
func Verify(p *plan.Plan, r *Record) (*Verification, error) {
	if d := plan.Digest(p); r.PlanDigest != d {
		return nil, fmt.Errorf("the run record is of plan %.12s, not of this plan (%.12s)", r.PlanDigest, d)
	}
	v := &Verification{PlanDigest: r.PlanDigest, Outcome: r.Outcome}
	if r.Outcome != OutcomeCompleted {
		v.Notes = append(v.Notes, fmt.Sprintf("the run did not complete (%s: %s): only the batches that ended are compared", r.Outcome, r.Message))
	}
	var sum float64
	var n int
	for i, b := range p.Spec.Batches {
		if i >= len(r.Batches) || r.Batches[i].EndedAt == nil {
			continue
		}
		pr := b.Predicted
		if pr == nil {
			v.Notes = append(v.Notes, fmt.Sprintf("batch %d has no prediction in the plan (make it with `noderoll plan`)", i))
			continue
		}
		br := r.Batches[i]
		a := br.Actual
		for _, f := range []struct {
			name      string
			pred, act float64
		}{
			{FigureEvictions, float64(pr.Evictions), float64(a.Evictions)},
			{FigureEvictionsBlocked, float64(pr.EvictionsBlocked), float64(a.EvictionsBlocked)},
			{FigurePendingPeak, float64(pr.PendingPeak), float64(a.PendingPeak)},
			{FigureUnschedulable, float64(pr.Unschedulable), float64(a.Unschedulable)},
			{FigureDuration, pr.DurationSeconds, a.DurationSeconds},
		} {
			c := Comparison{Batch: i, Figure: f.name, Predicted: f.pred, Actual: f.act}
			c.Agreement = 1 - math.Abs(f.act-f.pred)/max(math.Abs(f.act), math.Abs(f.pred), 1)
			c.Agrees = math.Abs(f.act-f.pred) <= Tolerance(f.pred, f.act)
			if !c.Agrees {
				c.Why = why(f.name, p, br, pr)
			}
			for _, s := range scoredFigures {
				if s == f.name {
					sum += c.Agreement
					n++
				}
			}
			v.Comparisons = append(v.Comparisons, c)
		}
	}
	if n > 0 {
		v.Score = sum / float64(n)
	}
	return v, nil
}

// why explains a disagreement from what the record and the plan say.
func why(figure string, p *plan.Plan, br *BatchRun, pr *plan.Predicted) string {
	resumed := 0
	for _, n := range br.NodeRuns {
		resumed += n.DrainResumes
	}
	switch figure {
	case FigureEvictions:
		s := "the pods on the batch's nodes at drain time were not those of the snapshot planned on (the live scheduler placed them, and earlier batches moved some): re-plan from a fresh capture (`noderoll snapshot capture`, then `noderoll plan`)"
		if resumed > 0 {
			s += fmt.Sprintf("; %d drains were resumed after the executor died (their evictions are the pods their first listing found)", resumed)
		}
		return s
	case FigureEvictionsBlocked:
		s := fmt.Sprintf("429s count how often a retried eviction met a budget with no disruption left: it depends on how long replacements take to become Ready (the plan assumed podStartupSeconds=%v) and on how evictions interleave; measure the cluster's start-up times and set timing.podStartupSeconds (and per-workload overrides) in the simulation config",
			assumption(p, "podStartupSeconds"))
		s += statefulSetMemory(br)
		if resumed > 0 {
			completed := 0
			for _, n := range br.NodeRuns {
				completed += n.EvictionsCompleted
			}
			s += fmt.Sprintf("; %d drains were resumed after the executor died: the evictions it had under way charged their budgets, and %d of their pods were left undeleted and deleted by the resumed drain (the disruption controller would have held the budgets for 2 minutes), which the simulation does not model", resumed, completed)
		}
		return s
	case FigurePendingPeak:
		if pr.PendingPeak > br.Actual.PendingPeak {
			return "the simulator counts, exactly, the pods still waiting for a node once each virtual instant's scheduling pass has run; the executor samples the cluster every poll interval and misses those that waited less, and the live scheduler placed some the simulation could not (compare the unschedulable figures): re-plan from a fresh capture"
		}
		return "the pending peak is sampled every poll interval on the cluster and exact in the simulation; more pods waited than predicted, for capacity or constraints the simulation met differently: re-plan from a fresh capture, and compare the unschedulable figures"
	case FigureUnschedulable:
		return "pods the scheduler could not place depend on where the live scheduler put the pods before the batch (capacity per node, spread): re-plan from a fresh capture; the scheduler's profile must also match (--scheduler-config)"
	case FigureDuration:
		var hook float64
		var k int
		for _, n := range br.NodeRuns {
			if n.Drained != nil && n.Reinstalled != nil {
				hook += n.Reinstalled.Sub(*n.Drained).Seconds()
				k++
			}
		}
		s := fmt.Sprintf("the plan assumed reinstall %vs and join %vs per node and pods Ready %vs after they are bound",
			assumption(p, "reinstallSeconds"), assumption(p, "joinSeconds"), assumption(p, "podStartupSeconds"))
		if k > 0 {
			s += fmt.Sprintf("; the hook took %.0fs on average", hook/float64(k))
		}
		var slow *NodeRun
		for _, n := range br.NodeRuns {
			if n.Uncordoned != nil && n.Done != nil && (slow == nil || n.Done.Sub(*n.Uncordoned) > slow.Done.Sub(*slow.Uncordoned)) {
				slow = n
			}
		}
		if slow != nil && len(slow.LastReady) > 0 {
			s += fmt.Sprintf("; after node %s was uncordoned, the batch waited %.0fs for %s to be Ready again",
				slow.Name, slow.Done.Sub(*slow.Uncordoned).Seconds(), strings.Join(slow.LastReady, ", "))
		}
		return s + statefulSetMemory(br) + ": set timing.reinstallSeconds and timing.joinSeconds in the simulation config to what the hook really takes"
	}
	return ""
}

// statefulSetMemory explains, for a batch that displaced StatefulSet
// pods, a delay the simulation does not model; "" otherwise.
func statefulSetMemory(br *BatchRun) string {
	var sets []string
	for _, n := range br.NodeRuns {
		for k := range n.Displaced {
			if strings.HasPrefix(k, "StatefulSet/") && !slices.Contains(sets, k) {
				sets = append(sets, k)
			}
		}
	}
	if len(sets) == 0 {
		return ""
	}
	slices.Sort(sets)
	return fmt.Sprintf("; the batch evicted pods of %s: a StatefulSet's replacement has its predecessor's name, and when it is created before the disruption controller has seen the old pod go, its budget counts it as disrupted (status.disruptedPods is keyed by name) until 2 minutes after the eviction and refuses evictions meanwhile, a race the simulation does not model",
		strings.Join(sets, ", "))
}

func assumption(p *plan.Plan, key string) string {
	if p.Metadata.Simulation == nil {
		return "?"
	}
	v, ok := p.Metadata.Simulation.Assumptions[key]
	if !ok {
		return "?"
	}
	return fmt.Sprintf("%g", v)
}

// WriteTable renders the verification for a terminal.
func (v *Verification) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "PLAN\t%.12s (%s)\n", v.PlanDigest, v.Outcome)
	fmt.Fprintf(tw, "AGREEMENT\t%.2f (evictions, 429s, pending peak, unschedulable; 1 is perfect)\n\n", v.Score)
	fmt.Fprintln(tw, "BATCH\tFIGURE\tPREDICTED\tACTUAL\tAGREES")
	for _, c := range v.Comparisons {
		agrees := "yes"
		if !c.Agrees {
			agrees = "no"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", c.Batch, c.Figure, num(c.Predicted), num(c.Actual), agrees)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var why []string
	for _, c := range v.Comparisons {
		if c.Why != "" {
			why = append(why, fmt.Sprintf("batch %d %s: %s", c.Batch, c.Figure, c.Why))
		}
	}
	if len(why)+len(v.Notes) > 0 {
		fmt.Fprintln(w)
	}
	for _, s := range append(v.Notes, why...) {
		if _, err := fmt.Fprintf(w, "- %s\n", s); err != nil {
			return err
		}
	}
	return nil
}

func num(f float64) string {
	if f == math.Trunc(f) {
		return fmt.Sprintf("%.0f", f)
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.1f", f), "0"), ".")
}
