package main

import (
	"io"

	"github.com/spf13/cobra"
)

// newSnapshotCommand groups the verbs that work on snapshot files.
func newSnapshotCommand(stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Generate and inspect cluster snapshots",
		Args:  cobra.ArbitraryArgs,
		RunE:  groupCommand,
	}
	cmd.AddCommand(
		newInspectCommand(stdout, stderr),
		newGenerateCommand(stderr),
		newCaptureCommand(stderr),
		newApplyCommand(stderr),
	)
	return cmd
}
