// Package gctune sets the garbage collector for a simulation run.
//
// A simulation's live heap is the snapshot and the scheduler state (a few
// hundred MB at the reference size, 500 nodes and 20,000 pods), and every
// scheduling cycle makes short-lived garbage. Collecting at 4× the live
// heap instead of 2× cuts the collector's work; the soft memory limit makes
// it collect earlier rather than let the process grow past it. Both yield
// to the GOGC and GOMEMLIMIT environment variables.
package gctune

import (
	"os"
	"runtime/debug"
)

// Settings applied by Apply.
const (
	// Percent is the GOGC value: collect when the heap has grown by this
	// many percent since the last collection.
	Percent = 300
	// MemoryLimit is the soft limit in bytes (1.75 GiB).
	MemoryLimit = 1792 << 20
)

// Apply sets Percent and MemoryLimit unless GOGC or GOMEMLIMIT is set.
func Apply() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(Percent)
	}
	ConcurrentRuns(1)
}

// ConcurrentRuns raises the soft memory limit to MemoryLimit per
// simulation running at once in this process (a strategy comparison runs
// several side by side), unless GOMEMLIMIT is set.
func ConcurrentRuns(n int) {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(int64(max(1, n)) * MemoryLimit)
	}
}
