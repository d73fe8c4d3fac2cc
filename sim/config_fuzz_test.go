package sim

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// configSeeds are config documents: the e2e tests', one with every field,
// and edits that break each check of compile.
var configSeeds = []string{
	"timing:\n  podStartupSeconds: 3\n  terminationSeconds: 3\n  reinstallSeconds: 3\n  joinSeconds: 1\n",
	`timing:
  podStartupSeconds: 10
  terminationSeconds: 20
  reinstallSeconds: 600
  joinSeconds: 60
  soakSeconds: 0
  evictionRetrySeconds: 5
  drainTimeoutSeconds: 3600
  objectCopySeconds: 0.2
  cutoverSeconds: 60
  dataSwitchSeconds: 300
overrides:
- namespace: shop
  selector: {matchLabels: {app: web}, matchExpressions: [{key: tier, operator: In, values: [front]}]}
  podStartupSeconds: 120
  terminationSeconds: 5
degradedBelow: 0.5
variability: {podStartupSigma: 0.5, terminationSigma: 0.3, reinstallSigma: 0.25, joinSigma: 0.3}
`,
	"timing: {joinSeconds: -1}\n",
	"timing: {evictionRetrySeconds: 0}\n",
	"timing: {reinstallSeconds: 1e300}\n",
	"degradedBelow: 2\n",
	"variability: {joinSigma: 4}\n",
	"overrides: [{selector: {matchExpressions: [{key: a, operator: Bogus}]}}]\n",
	"overrides: [{podStartupSeconds: -5}]\n",
	"timing: {podStartupSecond: 1}\n",
	"null\n",
	"",
}

// FuzzParseConfig feeds the config loader arbitrary documents: each either
// loads to a config whose durations are finite, not negative and bounded,
// or is refused with an error naming the file.
func FuzzParseConfig(f *testing.F) {
	for _, s := range configSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "fuzz.yaml"
		cfg, err := parseConfig(name, data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), name+": ") {
				t.Fatalf("error %q does not start with the file name", err)
			}
			return
		}
		durations := []float64{cfg.Timing.PodStartupSeconds, cfg.Timing.ReinstallSeconds, cfg.Timing.JoinSeconds,
			cfg.Timing.SoakSeconds, cfg.Timing.EvictionRetrySeconds, cfg.Timing.DrainTimeoutSeconds}
		for _, d := range durations {
			if !(d >= 0 && d <= maxConfigSeconds) {
				t.Fatalf("loaded a duration of %v seconds", d)
			}
		}
		for i := range cfg.Overrides {
			if cfg.Overrides[i].selector == nil {
				t.Fatalf("overrides[%d]: no compiled selector", i)
			}
		}
	})
}

func TestParseConfig_namesTheFileAndTheFieldOfEachBadValue(t *testing.T) {
	for _, tc := range []struct {
		name string
		doc  string
		want string
	}{
		{"a negative duration", "timing: {joinSeconds: -1}\n", "sim.yaml: timing.joinSeconds: must not be negative, got -1"},
		{"a duration beyond a time.Duration", "timing: {reinstallSeconds: 1e300}\n", "sim.yaml: timing.reinstallSeconds: must be at most 1e+07 seconds, got 1e+300"},
		{"a negative override", "overrides: [{}, {terminationSeconds: -5}]\n", "sim.yaml: overrides[1].terminationSeconds: must not be negative, got -5"},
		{"a negative termination time", "timing: {terminationSeconds: -1}\n", "sim.yaml: timing.terminationSeconds: must not be negative, got -1"},
		{"an unknown field", "timing: {podStartupSecond: 1}\n", `sim.yaml: error unmarshaling JSON: while decoding JSON: json: unknown field "podStartupSecond"`},
		{"a bad selector", "overrides: [{selector: {matchExpressions: [{key: a, operator: Bogus}]}}]\n", "sim.yaml: overrides[0].selector: "},
		{"a file over the limit", strings.Repeat("#\n", MaxConfigBytes/2+1), "sim.yaml: the file is larger than the limit of 1 MiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseConfig("sim.yaml", []byte(tc.doc))
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error %v, want it to start with %q", err, tc.want)
			}
		})
	}
}

func TestLoadConfig_readsNoMoreThanTheLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sim.yaml")
	if err := os.WriteFile(path, bytes.Repeat([]byte("#\n"), MaxConfigBytes), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadConfig(path)
	if want := path + ": the file is larger than the limit of 1 MiB"; err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
}
