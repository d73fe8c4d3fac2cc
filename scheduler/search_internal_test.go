package scheduler

import (
	"testing"

	"k8s.io/utils/ptr"
)

func TestNumFeasibleNodesToFind(t *testing.T) {
	tests := []struct {
		nodes      int
		percentage *int32
		want       int
	}{
		{nodes: 10, want: 10},
		{nodes: 99, want: 99},
		{nodes: 100, want: 100},                                 // 50% of 100, raised to 100
		{nodes: 500, want: 230},                                 // 46%
		{nodes: 5000, want: 500},                                // 10%
		{nodes: 10000, want: 500},                               // 50-80 below 5%: 5%
		{nodes: 500, percentage: ptr.To[int32](100), want: 500}, // as configured
		{nodes: 500, percentage: ptr.To[int32](10), want: 100},  // 50, raised to 100
		{nodes: 50, percentage: ptr.To[int32](10), want: 50},    // below 100 nodes: all
	}
	for _, tc := range tests {
		if got := numFeasibleNodesToFind(tc.percentage, tc.nodes); got != tc.want {
			t.Errorf("numFeasibleNodesToFind(%v, %d) = %d, want %d", ptr.Deref(tc.percentage, 0), tc.nodes, got, tc.want)
		}
	}
}
