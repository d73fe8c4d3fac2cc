package e2e

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/noderoll/noderoll/executor"
	"github.com/noderoll/noderoll/plan"
	"github.com/noderoll/noderoll/snapshot/capture"
	"github.com/noderoll/noderoll/snapshot/materialize"
)

// newOSImage is the image the test's reinstall hook registers nodes with.
const newOSImage = "noderoll-os 2.0"

// simConfig is the simulator's time model matched to the KWOK stages
// (kwok/stages.yaml) and the test's hook: a pod is Ready 1.2-5 s after it
// is bound (about 3), an evicted pod with the plan's 3 s grace period is
// gone after 3 s, the hook keeps a node away 2 s plus its kubectl
// calls, and KWOK reports a registered node Ready at once.
const simConfig = `timing:
  podStartupSeconds: 3
  terminationSeconds: 3
  reinstallSeconds: 3
  joinSeconds: 1
`

// TestExecutorReplacesEveryNodeOfTheSmallProfile plans the replacement of
// the small profile's 20 nodes (batches of 25%) from a capture of the
// cluster, then runs it with the noderoll binary while a watcher checks
// every PodDisruptionBudget, as a user bound to exactly the executor's
// roles of deploy/rbac.yaml, in the executor's default namespace: a dry
// run first, which changes nothing; then a run killed with SIGKILL in the
// middle of a drain, a second executor refused while it runs, and the run
// resumed to the end. Every node is
// drained once and reinstalled once, comes back with the new OS image,
// every pod is Running and Ready again, no budget was ever violated, and
// verify compares the plan's predictions with the run.
func TestExecutorReplacesEveryNodeOfTheSmallProfile(t *testing.T) {
	c := NewTestCluster(t, Config{})
	if dir := os.Getenv("NODEROLL_E2E_ARTIFACTS"); dir != "" {
		// Before the cluster stops (cleanups run last first).
		t.Cleanup(func() {
			if t.Failed() {
				saveArtifacts(t, c, filepath.Join(dir, t.Name()+"-"+time.Now().UTC().Format("150405")+"-end"))
			}
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	dir := t.TempDir()
	bin := buildNoderoll(t, dir)

	if _, err := materialize.Apply(ctx, rolloutScenario(t), materialize.Config{REST: c.REST, Timeout: 3 * time.Minute}); err != nil {
		t.Fatalf("applying the scenario: %v", err)
	}
	bindExecutorRoles(ctx, t, c)
	execKubeconfig := filepath.Join(dir, "executor.kubeconfig")
	executorKubeconfig(t, c, "executor", execKubeconfig)
	snap, err := capture.Capture(ctx, capture.Config{REST: c.REST})
	if err != nil {
		t.Fatalf("capturing: %v", err)
	}
	snapFile, planFile, simFile := filepath.Join(dir, "cluster.json.gz"), filepath.Join(dir, "plan.yaml"), filepath.Join(dir, "sim.yaml")
	if err := snap.Save(snapFile); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(simFile, []byte(simConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	hook, err := filepath.Abs("testdata/reinstall.sh")
	if err != nil {
		t.Fatal(err)
	}
	hookLog := filepath.Join(dir, "hooks.log")
	out, errOut, code := noderoll(ctx, bin, "plan", snapFile, "--strategy", "rolling", "--batch-size", "25%", "--order", "name",
		"--config", simFile, "--grace-period", "3", "--new-os-image", newOSImage, "--reinstall", hook,
		"--hook-env", "KUBECTL="+c.bins.Kubectl, "--hook-env", "HOOK_KUBECONFIG="+c.Kubeconfig, "--hook-env", "HOOK_LOG="+hookLog, "--hook-env", "REINSTALL_DELAY=2",
		"--rejoin-timeout", "120", "--ready-timeout", "300", "--settle", "150", "-o", planFile)
	if code != 0 {
		t.Fatalf("noderoll plan: exit %d\n%s%s", code, out, errOut)
	}
	t.Logf("%s", out)
	p, err := plan.Load(planFile)
	if err != nil {
		t.Fatal(err)
	}
	checkHeadroom(t, snap, p, 0.25)
	// No -n: the default namespace, which deploy/rbac.yaml creates.
	kube := []string{"--kubeconfig", execKubeconfig, "--lease-duration", "6s"}

	t.Run("a dry run prints the actions and changes nothing", func(t *testing.T) {
		before := resourceVersions(ctx, t, c.Client)
		out, errOut, code := noderoll(ctx, bin, append([]string{"execute", planFile, "--dry-run"}, kube...)...)
		if code != 0 {
			t.Fatalf("execute --dry-run: exit %d\n%s%s", code, out, errOut)
		}
		for _, want := range []string{"would evict", "(server dry run: allowed)", "would run the reinstall hook", "would uncordon", "nothing was changed"} {
			if !strings.Contains(out, want) {
				t.Errorf("the dry run does not say %q", want)
			}
		}
		if changed := diffKeys(before, resourceVersions(ctx, t, c.Client)); len(changed) > 0 {
			t.Errorf("the dry run changed %d objects: %v", len(changed), changed[:min(10, len(changed))])
		}
		if _, err := c.Client.CoreV1().ConfigMaps(executor.DefaultNamespace).Get(ctx, executor.ProgressName, metav1.GetOptions{}); err == nil {
			t.Errorf("the dry run wrote the progress ConfigMap")
		}
		if _, err := c.Client.CoordinationV1().Leases(executor.DefaultNamespace).Get(ctx, executor.LeaseName, metav1.GetOptions{}); err == nil {
			t.Errorf("the dry run took the Lease")
		}
		if evs := nodeEvents(ctx, t, c.Client); len(evs) > 0 {
			t.Errorf("the dry run recorded events: %v", evs)
		}
	})

	allBefore, _ := podCensus(ctx, t, c.Client)
	pdbs := watchPDBs(ctx, t, c.Client)
	recordFile := filepath.Join(dir, "run.json")
	var drainingAtKill []string
	grantedAtKill := 0
	resumedOut := ""

	t.Run("an executor killed in a drain is resumed, and a second one is refused meanwhile", func(t *testing.T) {
		logA, err := os.Create(filepath.Join(dir, "executor-a.log"))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = logA.Close() }()
		a := exec.CommandContext(ctx, bin, append([]string{"execute", planFile, "--identity", "executor-a"}, kube...)...)
		a.Stdout, a.Stderr = logA, logA
		if err := a.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill it while a node of the second batch is being drained.
		draining := ""
		err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
			rec := progress(ctx, t, c)
			if rec == nil || len(rec.Batches) < 2 {
				return false, nil
			}
			for _, n := range rec.Batches[1].NodeRuns {
				// A drain that has evicted pods and has been waiting on a
				// budget for a while: the executor persists its counts
				// every second, so none is lost with it.
				if n.Phase == executor.PhaseDraining && n.Evictions > 0 && n.EvictionsBlocked > 0 &&
					n.DrainStarted != nil && time.Since(*n.DrainStarted) > 2*time.Second {
					draining = n.Name
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			_ = a.Process.Kill()
			t.Fatalf("waiting for a drain in the second batch: %v\n%s", err, readFile(t, logA.Name()))
		}

		out, errOut, code := noderoll(ctx, bin, append([]string{"execute", planFile, "--identity", "executor-b"}, kube...)...)
		if code != 1 || !strings.Contains(errOut, `held by "executor-a"`) {
			t.Errorf("a second executor: exit %d, want 1 and a message naming executor-a\n%s%s", code, out, errOut)
		}

		if err := a.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = a.Wait()
		for _, n := range progress(ctx, t, c).Batches[1].NodeRuns {
			if n.Phase == executor.PhaseDraining {
				drainingAtKill = append(drainingAtKill, n.Name)
			}
		}
		grantedAtKill = grantedNotDeleted(ctx, t, c.Client, drainingAtKill)
		t.Logf("killed executor-a once %s had evicted pods; nodes being drained: %v; pods granted eviction but not deleted: %d",
			draining, drainingAtKill, grantedAtKill)

		out, errOut, code = noderoll(ctx, bin, append([]string{"execute", planFile, "--identity", "executor-c", "--resume", "--record", recordFile}, kube...)...)
		resumedOut = out
		if code != 0 {
			diagnoseNotReady(ctx, t, c)
			t.Fatalf("execute --resume: exit %d\n%s%s\nexecutor-a:\n%s", code, out, errOut, readFile(t, logA.Name()))
		}
		t.Logf("executor-a:\n%s\nexecutor-c:\n%s", lastLines(readFile(t, logA.Name()), 15), lastLines(out, 15))
	})
	if t.Failed() {
		return
	}

	rec, err := executor.LoadRecord(recordFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("the run completed with every node drained once and reinstalled once", func(t *testing.T) {
		if rec.Outcome != executor.OutcomeCompleted {
			t.Errorf("outcome %s: %s", rec.Outcome, rec.Message)
		}
		if got := strings.Join(rec.Executors, ","); got != "executor-a,executor-c" {
			t.Errorf("executors %s, want executor-a,executor-c", got)
		}
		hooks := hookRuns(t, hookLog)
		events := nodeEvents(ctx, t, c.Client)
		for _, b := range rec.Batches {
			for _, n := range b.NodeRuns {
				want := 0
				if slices.Contains(drainingAtKill, n.Name) {
					want = 1
				}
				if n.DrainResumes != want {
					t.Errorf("node %s: %d drain resumes, want %d", n.Name, n.DrainResumes, want)
				}
				if n.Phase != executor.PhaseDone || n.Drains != 1 || n.HookRuns != 1 {
					t.Errorf("node %s: phase %s, %d drains, %d hook runs; want Done, 1, 1", n.Name, n.Phase, n.Drains, n.HookRuns)
				}
				if hooks[n.Name] != 1 {
					t.Errorf("node %s: the hook ran %d times", n.Name, hooks[n.Name])
				}
				if e := events[n.Name]; e[executor.ReasonDrainStarted] != 1 || e[executor.ReasonReplaced] != 1 {
					t.Errorf("node %s: events %v, want one %s and one %s", n.Name, e, executor.ReasonDrainStarted, executor.ReasonReplaced)
				}
			}
		}
		// Evictions cut off by the kill charged their budgets and left
		// their pods. The shipped role may not delete pods: the resumed
		// drains say so and evict those pods again once the disruption
		// controller forgets the grant, instead of deleting them.
		completed := 0
		for _, b := range rec.Batches {
			for _, n := range b.NodeRuns {
				completed += n.EvictionsCompleted
			}
		}
		if completed != 0 {
			t.Errorf("the resumed drains deleted %d pods, which the shipped role does not allow", completed)
		}
		if grantedAtKill > 0 && !strings.Contains(resumedOut, "may not delete pods") {
			t.Errorf("%d pods had been granted eviction and not deleted when executor-a died, and the resumed executor does not say how it deals with them", grantedAtKill)
		}
		t.Logf("pods granted eviction and not deleted at the kill: %d", grantedAtKill)
		for i, b := range rec.Batches {
			if b.StartedAt == nil || b.EndedAt == nil {
				continue
			}
			var gates time.Duration
			if i > 0 && rec.Batches[i-1].EndedAt != nil {
				gates = b.StartedAt.Sub(*rec.Batches[i-1].EndedAt)
			}
			t.Logf("batch %d: %v between the previous batch and this one (gates), %v to replace its nodes",
				i, gates.Round(100*time.Millisecond), b.EndedAt.Sub(*b.StartedAt).Round(100*time.Millisecond))
			for _, g := range b.Gates {
				if g.WaitedFor != "" {
					t.Logf("batch %d: gate %s waited %.0fs for: %s", i, g.Gate, g.WaitedSeconds, g.WaitedFor)
				}
			}
		}
		if len(drainingAtKill) == 0 {
			t.Errorf("no node was being drained when executor-a was killed")
		}
	})

	t.Run("every node is back, schedulable, with the new OS image", func(t *testing.T) {
		nodes, err := c.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(nodes.Items) != len(snap.Nodes) {
			t.Errorf("%d nodes, want %d", len(nodes.Items), len(snap.Nodes))
		}
		for _, n := range nodes.Items {
			if n.Status.NodeInfo.OSImage != newOSImage || n.Spec.Unschedulable || !nodeReady(&n) {
				t.Errorf("node %s: OS image %q, unschedulable %v, Ready %v", n.Name, n.Status.NodeInfo.OSImage, n.Spec.Unschedulable, nodeReady(&n))
			}
			for _, k := range []string{executor.AnnotationRollout, executor.AnnotationStopped} {
				if v, ok := n.Annotations[k]; ok {
					t.Errorf("node %s keeps annotation %s=%q", n.Name, k, v)
				}
			}
		}
	})

	t.Run("every pod is Running and Ready again, as many per controller as before", func(t *testing.T) {
		var all, ready map[string]int
		_ = wait.PollUntilContextTimeout(ctx, time.Second, time.Minute, true, func(ctx context.Context) (bool, error) {
			all, ready = podCensus(ctx, t, c.Client)
			for k, n := range allBefore {
				if k != "bare" && !strings.HasPrefix(k, "Job/") && (ready[k] < n || all[k] != ready[k]) {
					return false, nil
				}
			}
			return true, nil
		})
		for k, n := range allBefore {
			if k == "bare" || strings.HasPrefix(k, "Job/") {
				// A bare pod is lost by design (--force), as predicted; a
				// Job's evicted pods count as failures, recreated after
				// the Job controller's back-off, if at all.
				continue
			}
			if ready[k] < n || all[k] != ready[k] {
				t.Errorf("%s: %d pods, %d Running and Ready; %d before", k, all[k], ready[k], n)
			}
		}
		if t.Failed() {
			diagnoseNotReady(ctx, t, c)
		}
	})

	t.Run("no PodDisruptionBudget was violated at any moment", func(t *testing.T) {
		seen, violations := pdbs.result()
		if seen == 0 {
			t.Fatal("the watcher saw no budget")
		}
		for _, v := range violations {
			t.Error(v)
		}
		t.Logf("%d budget states seen", seen)
	})

	t.Run("verify compares every batch and explains each disagreement", func(t *testing.T) {
		out, errOut, code := noderoll(ctx, bin, "verify", planFile, "--record", recordFile, "-o", "json")
		if code != 0 {
			t.Fatalf("verify: exit %d\n%s%s", code, out, errOut)
		}
		var v executor.Verification
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatal(err)
		}
		if len(v.Comparisons) != 5*len(rec.Batches) {
			t.Errorf("%d comparisons, want 5 per batch", len(v.Comparisons))
		}
		var predicted, actual float64
		for _, cmp := range v.Comparisons {
			if !cmp.Agrees && cmp.Why == "" {
				t.Errorf("batch %d %s: predicted %v, actual %v, and no explanation", cmp.Batch, cmp.Figure, cmp.Predicted, cmp.Actual)
			}
			if cmp.Figure == executor.FigureEvictions {
				predicted += cmp.Predicted
				actual += cmp.Actual
			}
		}
		// Which pods a drain evicts is plan.Drain's decision in both
		// interpreters: over the run the counts agree within 10% (the live
		// scheduler places replacements differently, which moves a few).
		if math.Abs(actual-predicted) > 0.1*predicted {
			t.Errorf("%v evictions in the run, %v predicted", actual, predicted)
		}
		t.Logf("evictions: %v predicted, %v actual; agreement score %.2f", predicted, actual, v.Score)
		table, _, _ := noderoll(ctx, bin, "verify", planFile, "--record", recordFile)
		t.Logf("verify:\n%s", table)
	})
}

// progress reads the run record the executor keeps in the cluster; nil
// before there is one.
func progress(ctx context.Context, t *testing.T, c *Cluster) *executor.Record {
	t.Helper()
	cm, err := c.Client.CoreV1().ConfigMaps(executor.DefaultNamespace).Get(ctx, executor.ProgressName, metav1.GetOptions{})
	if err != nil {
		return nil
	}
	var r executor.Record
	if err := json.Unmarshal([]byte(cm.Data[executor.ProgressKey]), &r); err != nil {
		t.Fatalf("progress ConfigMap: %v", err)
	}
	return &r
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
