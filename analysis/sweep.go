package analysis

import (
	"sort"

	"github.com/noderoll/noderoll/sim"
	"github.com/noderoll/noderoll/sim/rolling"
)

// Sweep is the plain rolling strategies of a comparison (name order; no
// surge, window or cordon-ahead) by batch size, and the knee where duration and risk
// trade off.
type Sweep struct {
	Points []SweepPoint `json:"points"`
	// Knee indexes Points: the batch size closest to the ideal of the
	// shortest duration with the least risk, both scaled to [0, 1] over the
	// sweep; -1 with fewer than three points.
	Knee int `json:"knee"`
}

// SweepPoint is one batch size's outcome.
type SweepPoint struct {
	Strategy           string  `json:"strategy"`
	BatchNodes         int     `json:"batchNodes"`
	DurationSeconds    float64 `json:"durationSeconds"`
	ServicesWithOutage int     `json:"servicesWithOutage"`
	ServicesDegraded   int     `json:"servicesDegraded"`
	UnschedulablePods  int     `json:"unschedulablePods"`
	// Risk is what the knee weighs against duration: Services down count
	// double, degraded once, plus unschedulable pods.
	Risk float64 `json:"risk"`
}

// SweepOf extracts the batch-size sweep from a comparison's results; nil
// when it has fewer than two plain rolling strategies.
func SweepOf(strategies []Strategy, results []*sim.Result) *Sweep {
	var pts []SweepPoint
	for i, st := range strategies {
		if st.Kind != "rolling" || st.Rolling.Surge > 0 || st.Rolling.Window > 0 || st.Rolling.CordonAhead > 0 ||
			(st.Rolling.Order != "" && st.Rolling.Order != rolling.OrderName) {
			continue
		}
		r := results[i]
		n, err := rolling.ParseBatchSize(st.Rolling.BatchSize, r.Snapshot.Nodes)
		if err != nil {
			continue
		}
		s := r.Summary
		pts = append(pts, SweepPoint{Strategy: st.Spec, BatchNodes: n, DurationSeconds: s.DurationSeconds,
			ServicesWithOutage: s.ServicesWithOutage, ServicesDegraded: s.ServicesDegraded, UnschedulablePods: s.UnschedulablePods,
			Risk: SweepRisk(s)})
	}
	if len(pts) < 2 {
		return nil
	}
	sort.SliceStable(pts, func(i, j int) bool { return pts[i].BatchNodes < pts[j].BatchNodes })
	return &Sweep{Points: pts, Knee: Knee(pts)}
}

// SweepRisk is what the knee weighs against duration: Services down count
// double, degraded once, plus unschedulable pods.
func SweepRisk(s sim.Summary) float64 {
	return float64(2*s.ServicesWithOutage + s.ServicesDegraded + s.UnschedulablePods)
}

// Knee returns the index of the point closest (Euclidean) to the ideal
// corner after scaling duration and risk to [0, 1] over the points; -1 with
// fewer than three points. Ties go to the smaller batch.
func Knee(pts []SweepPoint) int {
	if len(pts) < 3 {
		return -1
	}
	minD, maxD := pts[0].DurationSeconds, pts[0].DurationSeconds
	minR, maxR := pts[0].Risk, pts[0].Risk
	for _, p := range pts {
		minD, maxD = min(minD, p.DurationSeconds), max(maxD, p.DurationSeconds)
		minR, maxR = min(minR, p.Risk), max(maxR, p.Risk)
	}
	scale := func(v, lo, hi float64) float64 {
		if hi == lo {
			return 0
		}
		return (v - lo) / (hi - lo)
	}
	best, bestDist := -1, 0.0
	for i, p := range pts {
		d, r := scale(p.DurationSeconds, minD, maxD), scale(p.Risk, minR, maxR)
		dist := d*d + r*r
		if best < 0 || dist < bestDist {
			best, bestDist = i, dist
		}
	}
	return best
}
