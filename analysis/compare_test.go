package analysis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/noderoll/noderoll/sim"
)

func TestParseStrategies(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // Spec of each strategy
	}{
		{"the default set", strings.Join(DefaultStrategies, ","), DefaultStrategies},
		{"a key continues the spec before it", "rolling:5%,rolling:10%,surge=5,migration", []string{"rolling:5%", "rolling:10%,surge=5", "migration"}},
		{"migration with a seed key", "migration:seed=0.2,data=dual-write", []string{"migration:seed=0.2,data=dual-write"}},
		{"variants", "rolling:1,window=3,rolling:2,cordon-ahead=1", []string{"rolling:1,window=3", "rolling:2,cordon-ahead=1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseStrategies(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			var specs []string
			for _, s := range got {
				specs = append(specs, s.Spec)
			}
			if strings.Join(specs, "|") != strings.Join(tc.want, "|") {
				t.Errorf("specs %q, want %q", specs, tc.want)
			}
		})
	}
	st, err := ParseStrategy("rolling:10%,surge=5,order=zone")
	if err != nil || st.Rolling.Surge != 5 || st.Rolling.BatchSize != "10%" || st.Rolling.Order != "zone" {
		t.Errorf("rolling:10%%,surge=5,order=zone parsed as %+v, %v", st.Rolling, err)
	}
	st, err = ParseStrategy("migration:seed=0.2")
	if err != nil || st.Migration.SeedFraction != 0.2 {
		t.Errorf("migration:seed=0.2 parsed as %+v, %v", st.Migration, err)
	}
}

func TestParseStrategiesErrorsNameTheSpecAndKey(t *testing.T) {
	for _, tc := range []struct{ in, spec, key string }{
		{"rolling:7x", "rolling:7x", "7x"},
		{"rolling:5%,speed=2", "rolling:5%,speed=2", "speed"},
		{"migration:seed=2", "migration:seed=2", "seed"},
		{"migration,bandwidth=fast", "migration,bandwidth=fast", "bandwidth"},
		{"blue-green", "blue-green", "blue-green"},
		{"rolling:5%,surge=-1", "rolling:5%,surge=-1", "surge"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			_, err := ParseStrategies(tc.in)
			var se *SpecError
			if !errors.As(err, &se) {
				t.Fatalf("error %v (%T), want a *SpecError", err, err)
			}
			if se.Spec != tc.spec || se.Key != tc.key {
				t.Errorf("error names spec %q key %q, want %q and %q", se.Spec, se.Key, tc.spec, tc.key)
			}
			if !strings.Contains(err.Error(), tc.spec) {
				t.Errorf("message %q does not name the spec", err)
			}
		})
	}
}

func TestKnee(t *testing.T) {
	pt := func(d, r float64) SweepPoint { return SweepPoint{DurationSeconds: d, Risk: r} }
	tests := []struct {
		name string
		pts  []SweepPoint
		want int
	}{
		{"too few points", []SweepPoint{pt(10, 0), pt(5, 5)}, -1},
		{"an elbow in the middle", []SweepPoint{pt(1000, 0), pt(300, 1), pt(200, 10), pt(150, 40)}, 1},
		{"risk free everywhere: the fastest", []SweepPoint{pt(1000, 0), pt(500, 0), pt(100, 0)}, 2},
		{"equal durations: the safest", []SweepPoint{pt(100, 3), pt(100, 1), pt(100, 2)}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Knee(tc.pts); got != tc.want {
				t.Errorf("knee %d, want %d", got, tc.want)
			}
		})
	}
}

func TestRankResults(t *testing.T) {
	fast := &sim.Result{Summary: sim.Summary{DurationSeconds: 100, Evictions: 10, ServicesWithOutage: 2}}
	safe := &sim.Result{Summary: sim.Summary{DurationSeconds: 400, Evictions: 10, PodMovesMax: 1}}
	slow := &sim.Result{Summary: sim.Summary{DurationSeconds: 900, Evictions: 20, ServicesWithOutage: 2, PodMovesMax: 3}}
	rk := RankResults([]string{"fast", "safe", "slow"}, []*sim.Result{fast, safe, slow})
	var order []string
	for _, r := range rk {
		order = append(order, r.Strategy)
	}
	if strings.Join(order, ",") != "safe,fast,slow" {
		t.Errorf("ranking %v, want safe,fast,slow", order)
	}
	if rk[0].Place != 1 || rk[0].Ranks["servicesWithOutage"] != 1 || rk[2].Ranks["durationSeconds"] != 3 {
		t.Errorf("ranks %+v", rk)
	}
}

// When no run is safe, the one that keeps Services down the shortest
// ranks first, however many Services it touches: brief outages of several
// Services beat a slow run that keeps fewer Services down for days.
func TestRankingWeighsServiceDowntime(t *testing.T) {
	down := func(seconds ...float64) []sim.ServiceImpact {
		var out []sim.ServiceImpact
		for i, s := range seconds {
			out = append(out, sim.ServiceImpact{Service: fmt.Sprintf("Service/ns/s%d", i), DownSeconds: s})
		}
		return out
	}
	brief := &sim.Result{Summary: sim.Summary{DurationSeconds: 5 * 3600, ServicesWithOutage: 4}, Services: down(60, 60, 30, 30)}
	long := &sim.Result{Summary: sim.Summary{DurationSeconds: 300 * 3600, ServicesWithOutage: 2}, Services: down(3*86400, 86400)}
	stuck := &sim.Result{Summary: sim.Summary{DurationSeconds: 3600, StuckNodes: 1}}
	tests := []struct {
		name    string
		results []*sim.Result
		want    string
	}{
		{"downtime, not the count of Services down", []*sim.Result{long, brief}, "1,0"},
		{"a stuck drain without downtime before downtime", []*sim.Result{brief, stuck, long}, "1,0,2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var order []string
			for _, i := range RankOrder(tc.results) {
				order = append(order, fmt.Sprint(i))
			}
			if got := strings.Join(order, ","); got != tc.want {
				t.Errorf("ranking %s, want %s", got, tc.want)
			}
		})
	}
}

// TestCompareRunsInParallelAsAlone: the comparison's results are those of
// each strategy simulated alone, whatever the parallelism.
func TestCompareRunsInParallelAsAlone(t *testing.T) {
	c := newCluster(three()...).
		deployment("web", 3, "n1", "n2", "n3").
		deployment("api", 2, "n1", "n2")
	strategies, err := ParseStrategies("rolling:1,rolling:2,rolling:1,cordon-ahead=1,migration:seed=0.34")
	if err != nil {
		t.Fatal(err)
	}
	cmp, err := Compare(context.Background(), &c.snap, strategies, CompareOptions{Parallelism: 4})
	if err != nil {
		t.Fatal(err)
	}
	if len(cmp.Results) != len(strategies) || len(cmp.Ranking) != len(strategies) {
		t.Fatalf("%d results, %d ranks for %d strategies", len(cmp.Results), len(cmp.Ranking), len(strategies))
	}
	for i, st := range strategies {
		p, err := st.Plan(&c.snap, "")
		if err != nil {
			t.Fatal(err)
		}
		alone, err := sim.Run(context.Background(), &c.snap, p, sim.Options{})
		if err != nil {
			t.Fatal(err)
		}
		a, _ := json.Marshal(alone)
		b, _ := json.Marshal(cmp.Results[i])
		if string(a) != string(b) {
			t.Errorf("%s: the comparison's result differs from a run alone", st.Spec)
		}
	}
	if cmp.Results[3].Strategy != "migration" {
		t.Errorf("result 3 is %q, want the migration, in the order given", cmp.Results[3].Strategy)
	}
	joined := strings.Join(cmp.Findings, "\n")
	if !strings.Contains(joined, "rule of thumb") || !strings.Contains(joined, "stateless") {
		t.Errorf("findings %q: want the rule of thumb measured on a stateless cluster", joined)
	}
}
