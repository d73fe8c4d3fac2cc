package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/spf13/cobra"

	"github.com/noderoll/noderoll/snapshot/synth"
)

// generateOptions are the flags of `snapshot generate`.
type generateOptions struct {
	profile               string
	nodes, pods, services int
	seed                  int64
	output                string
}

func newGenerateCommand(stderr io.Writer) *cobra.Command {
	o := &generateOptions{}
	cmd := &cobra.Command{
		Use:   "generate --profile seed|small [--nodes N --pods N --services N --seed S] -o FILE",
		Short: "Generate a synthetic cluster snapshot, every pod placed by the real scheduler",
		Long: "Generate a synthetic cluster snapshot. Profile seed is the reference cluster (500 nodes,\n" +
			"about 20,000 pods, 5,000 Services); small is a 20-node cluster with the same variety.\n" +
			"--nodes, --pods and --services scale the profile. The same seed gives the same snapshot.",
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			return o.run(cmd.Context(), stderr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.profile, "profile", "", "profile: seed or small")
	f.IntVar(&o.nodes, "nodes", 0, "number of nodes (0: the profile's)")
	f.IntVar(&o.pods, "pods", 0, "number of pods (0: scaled with the nodes)")
	f.IntVar(&o.services, "services", 0, "number of Services (0: scaled with the nodes)")
	f.Int64Var(&o.seed, "seed", 1, "seed of the generator")
	f.StringVarP(&o.output, "output", "o", "", "snapshot file to write (.json.gz or .json)")
	return cmd
}

func (o *generateOptions) validate() error {
	profiles := synth.ProfileNames()
	switch {
	case o.profile == "":
		return usageErrorf("--profile is required (one of %v)", profiles)
	case !slices.Contains(profiles, o.profile):
		return usageErrorf("unknown profile %q: want one of %v", o.profile, profiles)
	case o.output == "":
		return usageErrorf("-o FILE is required")
	case o.nodes < 0 || o.pods < 0 || o.services < 0:
		return usageErrorf("--nodes, --pods and --services must not be negative")
	}
	return nil
}

func (o *generateOptions) run(ctx context.Context, stderr io.Writer) error {
	s, err := synth.Generate(ctx, synth.Config{
		Profile:  o.profile,
		Nodes:    o.nodes,
		Pods:     o.pods,
		Services: o.services,
		Seed:     o.seed,
		Progress: progressFunc(stderr, false, "placing pods"),
	})
	if err != nil {
		err = fmt.Errorf("generating snapshot (profile %s, seed %d): %w", o.profile, o.seed, err)
		if errors.Is(err, synth.ErrBadConfig) || errors.Is(err, synth.ErrUnknownProfile) {
			return usageError{err}
		}
		return err
	}
	if err := s.Save(o.output); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stderr, "wrote %s: %d nodes, %d pods, %d services, %d PDBs (profile %s, seed %d, fingerprint %s)\n",
		o.output, len(s.Nodes), len(s.Pods), len(s.Services), len(s.PodDisruptionBudgets), o.profile, o.seed, s.Fingerprint())
	return err
}
