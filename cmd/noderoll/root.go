package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/noderoll/noderoll/scheduler"
	"github.com/noderoll/noderoll/snapshot"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2 // bad input or usage
)

// maxPrinted bounds how many issues are printed for one error or load.
const maxPrinted = 20

// newRootCommand builds the command tree. Output goes to stdout, messages
// to stderr.
func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "noderoll",
		Short: "Plan, simulate and run the OS replacement of every node of a Kubernetes cluster",
		// run prints errors itself, and usage only for usage errors.
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newVersionCommand(stdout),
		newSnapshotCommand(stdout, stderr),
		newSimulateCommand(stdout, stderr),
		newCompareCommand(stdout, stderr),
		newAnalyzeCommand(stdout, stderr),
		newPlanCommand(stdout, stderr),
		newRemediateCommand(stdout, stderr),
		newExecuteCommand(stdout, stderr),
		newVerifyCommand(stdout),
	)
	markRunErrors(root)
	return root
}

// usageError is a command line that does not make sense.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// runError marks an error returned by a command's RunE. Cobra reports the
// errors it finds in the command line itself (unknown commands and flags,
// missing arguments, required flags) before any RunE runs: an error without
// this mark is therefore a usage error.
type runError struct{ err error }

func (e runError) Error() string { return e.err.Error() }
func (e runError) Unwrap() error { return e.err }

// markRunErrors wraps the RunE of cmd and its subcommands so that their
// errors carry a runError.
func markRunErrors(cmd *cobra.Command) {
	if f := cmd.RunE; f != nil {
		cmd.RunE = func(cmd *cobra.Command, args []string) error {
			if err := f(cmd, args); err != nil {
				return runError{err}
			}
			return nil
		}
	}
	for _, sub := range cmd.Commands() {
		markRunErrors(sub)
	}
}

// exactArgs requires exactly the named positional arguments.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) < len(names):
			return usageErrorf("%s: missing %s", cmd.CommandPath(), names[len(args)])
		case len(args) > len(names):
			return usageErrorf("%s: unexpected argument %q", cmd.CommandPath(), args[len(names)])
		}
		return nil
	}
}

// groupCommand returns the RunE of a command that only groups others: with
// no argument it prints its help, with one it reports an unknown command.
func groupCommand(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("unknown command %q for %q", args[0], cmd.CommandPath())
	}
	return cmd.Help()
}

// reportError prints err to stderr and returns the exit code it calls for.
// cmd is the command that failed.
func reportError(stderr io.Writer, cmd *cobra.Command, err error) int {
	var re runError
	var ue usageError
	var ie *snapshot.InputError
	var sce *scheduler.ConfigError
	switch {
	case !errors.As(err, &re) || errors.As(err, &ue):
		fmt.Fprintf(stderr, "noderoll: %v\n", err)
		if cmd != nil {
			fmt.Fprintf(stderr, "See '%s --help' for usage.\n", cmd.CommandPath())
		}
		return exitUsage
	case errors.As(err, &ie) && len(ie.Issues) > 0:
		for i, issue := range ie.Issues {
			if i == maxPrinted {
				fmt.Fprintf(stderr, "noderoll: ... and %d more errors\n", len(ie.Issues)-maxPrinted)
				break
			}
			fmt.Fprintf(stderr, "noderoll: %s\n", issue)
		}
		return exitUsage
	case errors.As(err, &ie), errors.As(err, &sce):
		fmt.Fprintf(stderr, "noderoll: %v\n", err)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "noderoll: %v\n", err)
		return exitFailure
	}
}

// printWarnings prints the first warnings to stderr and how many more there
// are.
func printWarnings(stderr io.Writer, warnings []snapshot.Issue) {
	for i, w := range warnings {
		if i == maxPrinted {
			fmt.Fprintf(stderr, "noderoll: warning: ... and %d more warnings\n", len(warnings)-maxPrinted)
			return
		}
		fmt.Fprintf(stderr, "noderoll: warning: %s\n", w)
	}
}
