package e2e

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"
)

// NewTestCluster starts a cluster for the test t and registers its teardown
// with t.Cleanup, so that it stops whether the test passes, fails or
// panics. The cluster's files go to a temporary directory, and on failure
// the end of the components' logs is written to the test log. It skips the
// test, with the reason, under -short and when the binaries are missing
// (`make e2e-bins` builds them).
func NewTestCluster(t testing.TB, cfg Config) *Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
	if cfg.Binaries == (Binaries{}) {
		b, err := FindBinaries("")
		if errors.Is(err, ErrMissingBinaries) {
			t.Skipf("end-to-end test skipped: %v", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		cfg.Binaries = b
	}
	if cfg.WorkDir == "" {
		cfg.WorkDir = t.TempDir()
	}
	if cfg.Log == nil && os.Getenv("NODEROLL_E2E_VERBOSE") != "" {
		cfg.Log = os.Stderr
	}
	c, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("cluster %s: end of the component logs:\n%s", c.Name, c.LogTail(30))
		}
		if err := c.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	t.Logf("cluster %s up in %v (%s)", c.Name, c.StartupTime.Round(time.Millisecond), c.Kubeconfig)
	return c
}
