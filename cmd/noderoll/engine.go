package main

import (
	"github.com/spf13/pflag"

	"github.com/noderoll/noderoll/scheduler"
)

// addEngineFlag declares --engine on f, into engine.
func addEngineFlag(f *pflag.FlagSet, engine *string) {
	f.StringVar(engine, "engine", string(scheduler.EngineIncremental),
		"scheduling engine: incremental (the hot plugins kept up to date between cycles) or reference (the in-tree plugins); both predict the same")
}

// validateEngine refuses an unknown --engine.
func validateEngine(engine string) error {
	if _, err := scheduler.ParseEngine(engine); err != nil {
		return usageErrorf("--engine: %v", err)
	}
	return nil
}
