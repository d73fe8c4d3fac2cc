package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// newVersionCommand prints the versions of noderoll, Go and the Kubernetes
// libraries.
func newVersionCommand(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the versions of noderoll, Go and the Kubernetes libraries",
		Args:  exactArgs(),
		RunE: func(*cobra.Command, []string) error {
			v := readVersions()
			_, err := fmt.Fprintf(stdout, "noderoll:   %s\ngo:         %s %s/%s\nkubernetes: %s\n",
				v.noderoll, v.goVersion, runtime.GOOS, runtime.GOARCH, v.kubernetes)
			return err
		},
	}
}

// versions are the versions the binary was built with.
type versions struct {
	noderoll   string // the main module's version, "(devel)" for a local build
	goVersion  string
	kubernetes string // the Kubernetes release the libraries belong to
}

// readVersions reads the versions from the build information. The
// Kubernetes version is k8s.io/kubernetes's if the binary has it, else that
// of client-go (v0.X.Y) as the release it belongs to (v1.X.Y).
func readVersions() versions {
	v := versions{noderoll: "unknown", goVersion: runtime.Version(), kubernetes: "unknown"}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	if bi.Main.Version != "" {
		v.noderoll = bi.Main.Version
	}
	for _, dep := range bi.Deps {
		if dep.Replace != nil {
			dep = dep.Replace
		}
		switch dep.Path {
		case "k8s.io/kubernetes":
			v.kubernetes = dep.Version
			return v
		case "k8s.io/client-go":
			if rest, ok := strings.CutPrefix(dep.Version, "v0."); ok {
				v.kubernetes = "v1." + rest
			}
		}
	}
	return v
}
