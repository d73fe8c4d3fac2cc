package bench

import (
	"os"
	"testing"

	"github.com/noderoll/noderoll/internal/gctune"
)

// TestMain runs the benchmarks with the garbage collector set as the CLI
// sets it, so that their figures are the ones a user sees.
func TestMain(m *testing.M) {
	gctune.Apply()
	os.Exit(m.Run())
}
