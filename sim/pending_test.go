package sim_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	. "github.com/noderoll/noderoll/internal/testutil"
	"github.com/noderoll/noderoll/sim"
)

// TestPendingPeakCountsPodsThatWait: a batch's pending peak counts the
// pods still waiting for a node once the scheduling pass of the instant
// has run, as the executor measures it on a cluster (sampling every poll
// interval), not every replacement at the instant it is created.
func TestPendingPeakCountsPodsThatWait(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tweak func(*PodBuilder)
		want  []int // per batch (n1, n2, n3)
	}{
		// Three replicas on n1, room on n2 and n3: the replacements are
		// placed at the instant the drain evicts them.
		{"replacements placed at once never wait", func(*PodBuilder) {}, []int{0, 0, 0}},
		// Pinned to n1: the three replacements wait until n1 is back.
		{"replacements that wait for their node", func(b *PodBuilder) { b.NodeSelector(corev1.LabelHostname, "n1") }, []int{3, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(three()...)
			for i := range c.snap.Nodes {
				c.snap.Nodes[i].Labels[corev1.LabelHostname] = c.snap.Nodes[i].Name
			}
			replicaSet(c, "web", "100m", tc.tweak, "n1", "n1", "n1")
			_, r := run(t, &c.snap, byName("1"), sim.Options{})
			if len(r.Batches) != len(tc.want) {
				t.Fatalf("%d batches, want %d", len(r.Batches), len(tc.want))
			}
			for i, b := range r.Batches {
				if b.PendingPeak != tc.want[i] {
					t.Errorf("batch %d (%v): pending peak %d, want %d", i, b.Nodes, b.PendingPeak, tc.want[i])
				}
			}
		})
	}
}
