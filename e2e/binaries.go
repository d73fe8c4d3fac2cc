package e2e

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// BinDirEnv names the environment variable that overrides where the
// binaries are looked for.
const BinDirEnv = "NODEROLL_E2E_BIN"

// ErrMissingBinaries is returned by FindBinaries when a binary is absent.
var ErrMissingBinaries = errors.New("control-plane binaries not built (run `make e2e-bins`)")

// Binaries holds the absolute paths of the programs a Cluster runs.
type Binaries struct {
	KubeAPIServer         string
	KubeControllerManager string
	KubeScheduler         string
	Kubectl               string
	Etcd                  string
	Kwok                  string
	Kwokctl               string
}

// FindBinaries returns the binaries in dir, which `make e2e-bins` fills.
// An empty dir means DefaultBinDir(). The error wraps ErrMissingBinaries
// and names every binary that is missing.
func FindBinaries(dir string) (Binaries, error) {
	if dir == "" {
		var err error
		if dir, err = DefaultBinDir(); err != nil {
			return Binaries{}, fmt.Errorf("%w: %w", ErrMissingBinaries, err)
		}
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return Binaries{}, err
	}
	var b Binaries
	var missing []string
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{"kube-apiserver", &b.KubeAPIServer},
		{"kube-controller-manager", &b.KubeControllerManager},
		{"kube-scheduler", &b.KubeScheduler},
		{"kubectl", &b.Kubectl},
		{"etcd", &b.Etcd},
		{"kwok", &b.Kwok},
		{"kwokctl", &b.Kwokctl},
	} {
		path := filepath.Join(dir, f.name)
		if fi, err := os.Stat(path); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			missing = append(missing, f.name)
			continue
		}
		*f.dst = path
	}
	if len(missing) > 0 {
		return Binaries{}, fmt.Errorf("%w: %s missing in %s", ErrMissingBinaries, strings.Join(missing, ", "), dir)
	}
	return b, nil
}

// DefaultBinDir returns $NODEROLL_E2E_BIN if set, else .cache/bin in the
// root of the module that holds the working directory (the directory of
// the nearest go.mod above it).
func DefaultBinDir() (string, error) {
	if dir := os.Getenv(BinDirEnv); dir != "" {
		return dir, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, ".cache", "bin"), nil
}

// moduleRoot returns the nearest directory at or above the working
// directory that holds a go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory; set " + BinDirEnv)
		}
		dir = parent
	}
}
