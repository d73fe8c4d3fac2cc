package executor

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func hookExecutor(t *testing.T, timeoutSeconds int64) (*executor, *lockedBuffer) {
	t.Helper()
	p := testPlan([]string{"n1"})
	p.Spec.Hooks.TimeoutSeconds = timeoutSeconds
	h := newHarness(t, p)
	return h.e, h.out
}

// alive reports whether the process whose PID is in the file runs.
func alive(t *testing.T, pidFile string) bool {
	t.Helper()
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("the hook wrote no PID: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	// A zombie is dead: reap nothing, look at its state.
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// TestAHookIsStoppedWithItsWholeProcessGroup: a hook that outlives its
// timeout (hooks.timeoutSeconds) is stopped with its children — SIGTERM to
// the process group, then SIGKILL after the grace period for what ignores
// SIGTERM — and the run says why.
func TestAHookIsStoppedWithItsWholeProcessGroup(t *testing.T) {
	for _, tc := range []struct {
		name   string
		script string
		// minTook: SIGKILL waits for the grace period.
		minTook time.Duration
	}{
		{"a hook whose child runs on", `sleep 300 & echo $! > "$PIDFILE"; wait`, 0},
		{"a hook and a child that ignore SIGTERM", `trap '' TERM; sleep 300 & echo $! > "$PIDFILE"; wait; wait`, 200 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, _ := hookExecutor(t, 1)
			pidFile := filepath.Join(t.TempDir(), "pid")
			e.p.Spec.Hooks.Env = map[string]string{"PIDFILE": pidFile}
			start := time.Now()
			err := e.runHook(t.Context(), 0, "n1", []string{"/bin/sh", "-c", tc.script})
			took := time.Since(start)
			if err == nil || !strings.Contains(err.Error(), "still running after 1s") || !strings.Contains(err.Error(), "SIGTERM") {
				t.Errorf("got %v, want the hook's timeout", err)
			}
			if took < time.Second+tc.minTook || took > 5*time.Second {
				t.Errorf("the hook was stopped after %v", took)
			}
			deadline := time.Now().Add(time.Second)
			for alive(t, pidFile) && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if alive(t, pidFile) {
				t.Errorf("the hook's child survived it")
			}
		})
	}
	t.Run("a hook stopped by the executor stopping", func(t *testing.T) {
		e, _ := hookExecutor(t, 60)
		pidFile := filepath.Join(t.TempDir(), "pid")
		e.p.Spec.Hooks.Env = map[string]string{"PIDFILE": pidFile}
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(500*time.Millisecond, cancel)
		err := e.runHook(ctx, 0, "n1", []string{"/bin/sh", "-c", `sleep 300 & echo $! > "$PIDFILE"; wait`})
		if err == nil || !strings.Contains(err.Error(), "context canceled") {
			t.Errorf("got %v, want the executor's stop", err)
		}
		if alive(t, pidFile) {
			t.Errorf("the hook's child survived it")
		}
	})
}

// TestHookOutputIsLoggedWithTheNodeName: every line of the hook's output,
// the last one without a newline too, is logged with the node's name.
func TestHookOutputIsLoggedWithTheNodeName(t *testing.T) {
	e, out := hookExecutor(t, 0)
	if err := e.runHook(t.Context(), 0, "n1", []string{"/bin/sh", "-c", `echo one; echo two >&2; printf three`}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"node n1: hook: one\n", "node n1: hook: two\n", "node n1: hook: three\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestTheNodeNameReachesTheHookThroughTheEnvironmentOnly: a node name
// full of shell metacharacters reaches the hook as it is, in NODE_NAME,
// and nothing in it is ever run. (Kubernetes names cannot carry these;
// a plan file can.)
func TestTheNodeNameReachesTheHookThroughTheEnvironmentOnly(t *testing.T) {
	dir := t.TempDir()
	pwned := filepath.Join(dir, "pwned")
	name := `n1; touch ` + pwned + `; $(touch ` + pwned + `) "` + "`touch " + pwned + "`" + `" 'x' && echo $HOME | tee ` + pwned + ` \ *`
	e, _ := hookExecutor(t, 0)
	got := filepath.Join(dir, "got")
	e.p.Spec.Hooks.Env = map[string]string{"OUT": got, "VAR": "$(touch " + pwned + ")"}
	if err := e.runHook(t.Context(), 3, name, []string{"/bin/sh", "-c", `printf '%s|%s|%s' "$NODE_NAME" "$NODEROLL_BATCH" "$VAR" > "$OUT"`}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(got)
	if err != nil {
		t.Fatal(err)
	}
	if want := name + "|3|$(touch " + pwned + ")"; string(data) != want {
		t.Errorf("the hook got %q, want %q", data, want)
	}
	if _, err := os.Stat(pwned); err == nil {
		t.Errorf("something in the node's name or a variable was run")
	}
}
