package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// Garbage collector settings for a simulation: its live heap is the
// snapshot and the scheduler state (a few hundred MB at the reference
// size), and every scheduling cycle makes short-lived garbage. Collecting
// at 4× the live heap instead of 2× halves the collector's CPU; the soft
// memory limit makes it collect earlier rather than grow past it. Both
// yield to the GOGC and GOMEMLIMIT environment variables.
const (
	gcPercent   = 300
	memoryLimit = 1792 << 20 // 1.75 GiB
)

func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
}

func main() {
	tuneGC()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command line args and returns the process exit code:
// 0 on success, 2 for bad input or usage, 1 for any other failure. Errors
// are printed to stderr as "noderoll: <message>".
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCommand(stdout, stderr)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	return reportError(stderr, cmd, err)
}
