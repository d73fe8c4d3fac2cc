package scheduler

import (
	"os"
	"strings"
	"testing"
)

// FuzzDecodeProfile feeds the --scheduler-config loader arbitrary documents
// and profile names: each either gives a profile or an error naming the
// file. The seeds are the test profile and variations on the fields the
// simulator reads.
func FuzzDecodeProfile(f *testing.F) {
	hard, err := os.ReadFile("testdata/hard-default-spread.yaml")
	if err != nil {
		f.Fatal(err)
	}
	head := "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"
	for _, tc := range []struct{ doc, name string }{
		{string(hard), ""},
		{string(hard), "default-scheduler"},
		{string(hard), "other"},
		{head, ""},
		{head + "percentageOfNodesToScore: 50\nprofiles:\n- schedulerName: a\n- schedulerName: b\n  percentageOfNodesToScore: 10\n", "b"},
		{head + "profiles:\n- schedulerName: a\n  plugins:\n    score:\n      disabled: [{name: '*'}]\n      enabled: [{name: NodeResourcesFit, weight: 2}]\n", ""},
		{head + "profiles:\n- pluginConfig:\n  - name: NodeResourcesFit\n    args: {scoringStrategy: {type: MostAllocated}}\n", ""},
		{head + "profiles:\n- pluginConfig:\n  - name: InterPodAffinity\n    args: {hardPodAffinityWeight: 101}\n", ""},
		{"apiVersion: kubescheduler.config.k8s.io/v1beta3\nkind: KubeSchedulerConfiguration\n", ""},
		{"apiVersion: v1\nkind: Pod\n", ""},
		{`{"apiVersion":"kubescheduler.config.k8s.io/v1","kind":"KubeSchedulerConfiguration","profiles":[]}`, ""},
		{"", ""},
	} {
		f.Add([]byte(tc.doc), tc.name)
	}
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		const file = "fuzz.yaml"
		p, err := decodeProfile(file, data, name)
		if err != nil {
			if !strings.HasPrefix(err.Error(), file+": ") {
				t.Fatalf("error %q does not start with the file name", err)
			}
			return
		}
		if p == nil || (name != "" && p.SchedulerName != name) {
			t.Fatalf("profile %+v for the name %q", p, name)
		}
	})
}

func TestDecodeProfile_refusesAFileOverTheLimitNamingIt(t *testing.T) {
	_, err := decodeProfile("big.yaml", []byte(strings.Repeat("#\n", MaxConfigBytes/2+1)), "")
	if want := "big.yaml: the file is larger than the limit of 1 MiB"; err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
}
