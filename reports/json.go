package reports

import (
	"encoding/json"
	"io"

	"github.com/noderoll/noderoll/analysis"
	"github.com/noderoll/noderoll/sim"
)

// comparisonJSON is the JSON form of a Report: the contract of `compare -o
// json` ({"results": [...], "ranking": [...]}) and, as extra fields, the
// verdict, the Monte Carlo bands and the sweep.
type comparisonJSON struct {
	Results []*sim.Result `json:"results"`
	// Ranking lists the results' labels, best first (see Rank).
	Ranking []string                 `json:"ranking"`
	Verdict string                   `json:"verdict"`
	Bands   map[string]analysis.Band `json:"bands,omitempty"`
	Sweep   *sweepJSON               `json:"sweep,omitempty"`
}

type sweepJSON struct {
	Points []SweepPoint `json:"points"`
	// Knee is the batch size of the knee, empty when there is none.
	Knee string `json:"knee,omitempty"`
}

// WriteJSON writes the report as JSON: every result in the contract's form
// (in the order given), the ranking by label, the verdict, the bands and
// the batch-size sweep.
func WriteJSON(w io.Writer, r Report) error {
	out := comparisonJSON{Results: r.Results, Ranking: []string{}, Verdict: verdict(r.Results, r.Bands), Bands: r.Bands}
	if out.Results == nil {
		out.Results = []*sim.Result{}
	}
	for _, i := range Rank(r.Results) {
		out.Ranking = append(out.Ranking, Label(r.Results[i]))
	}
	if points, knee := Sweep(sweepInput(r)); len(points) >= 3 {
		out.Sweep = &sweepJSON{Points: points}
		if knee >= 0 {
			out.Sweep.Knee = points[knee].BatchSize
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
