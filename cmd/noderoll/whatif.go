package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/noderoll/noderoll/scheduler"
	"github.com/noderoll/noderoll/sim"
	"github.com/noderoll/noderoll/snapshot"
	"github.com/noderoll/noderoll/whatif"
)

// applyWhatIf reads the --what-if file, when one is given, and applies it
// to snap and cfg; it returns the file as read, for the plan to record.
// Bad input is a usage error (exit 2) naming the file, field and object.
func applyWhatIf(ctx context.Context, path string, snap *snapshot.Snapshot, cfg sim.Config, sched scheduler.Options, stderr io.Writer, quiet bool) (*whatif.Applied, []byte, error) {
	if path == "" {
		return whatif.None(snap, cfg), nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, usageError{fmt.Errorf("reading what-if file: %w", err)}
	}
	f, err := whatif.Parse(path, data)
	if err != nil {
		return nil, nil, usageError{err}
	}
	a, err := whatif.Apply(ctx, path, f, snap, cfg, whatif.ApplyOptions{Scheduler: sched})
	if err != nil {
		return nil, nil, usageError{err}
	}
	if !quiet {
		fmt.Fprintf(stderr, "what-if %s: %d overrides applied\n", path, len(a.Log))
		for _, l := range a.Log {
			fmt.Fprintf(stderr, "  %s\n", l)
		}
	}
	return a, data, nil
}
