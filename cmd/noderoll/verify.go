package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/noderoll/noderoll/executor"
	"github.com/noderoll/noderoll/plan"
)

// verifyOptions are the flags of `verify`.
type verifyOptions struct {
	file      string
	record    string
	output    string
	failBelow float64
}

func newVerifyCommand(stdout io.Writer) *cobra.Command {
	o := &verifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify plan.yaml --record run.json [-o table|json] [--fail-below 0.8]",
		Short: "Compare a plan's predictions with what a run of it did",
		Long: "Compare, batch by batch, the figures the simulator predicted in the plan with those\n" +
			"the executor measured in its run record: evictions, evictions refused with 429,\n" +
			"pending peak, unschedulable pods and duration. Prints an agreement score (1 is\n" +
			"perfect; durations are left out, being the time model's inputs) and, for each\n" +
			"figure that disagrees, why and what it would take to close the gap.",
		Args: exactArgs("plan.yaml"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.file = args[0]
			if o.record == "" {
				return usageErrorf("--record FILE is required: the run record `noderoll execute --record` wrote")
			}
			if o.output != "table" && o.output != "json" {
				return usageErrorf("unknown output format %q: want table or json", o.output)
			}
			if o.failBelow < 0 || o.failBelow > 1 {
				return usageErrorf("--fail-below %v: want a score in [0, 1]", o.failBelow)
			}
			return o.run(stdout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.record, "record", "", "run record written by `noderoll execute --record`")
	f.StringVarP(&o.output, "output", "o", "table", "output format: table or json")
	f.Float64Var(&o.failBelow, "fail-below", 0, "exit 1 when the agreement score is below this")
	return cmd
}

func (o *verifyOptions) run(stdout io.Writer) error {
	p, err := plan.Load(o.file)
	if err != nil {
		return usageError{err}
	}
	rec, err := executor.LoadRecord(o.record)
	if err != nil {
		return usageError{err}
	}
	v, err := executor.Verify(p, rec)
	if err != nil {
		return usageError{fmt.Errorf("%s, %s: %w", o.file, o.record, err)}
	}
	if o.output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(v)
	} else {
		err = v.WriteTable(stdout)
	}
	if err != nil {
		return err
	}
	if v.Score < o.failBelow {
		return fmt.Errorf("agreement %.2f is below --fail-below %.2f", v.Score, o.failBelow)
	}
	return nil
}
