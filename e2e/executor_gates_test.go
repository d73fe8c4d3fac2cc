package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/noderoll/noderoll/executor"
	"github.com/noderoll/noderoll/plan"
	"github.com/noderoll/noderoll/sim/rolling"
	"github.com/noderoll/noderoll/snapshot/materialize"
)

// TestExecutorStopsCleanlyAtAFailedGate runs plans that cannot finish on a
// three-node cluster, as a user bound to the executor's roles of
// deploy/rbac.yaml and nothing else: a cluster that drifted from the plan,
// an executor that may not evict, and a node that never comes back from
// its reinstall. Each stops the rollout with a message that says why,
// leaves every node either untouched or cordoned with the reason on it,
// records the outcome, and releases the Lease.
func TestExecutorStopsCleanlyAtAFailedGate(t *testing.T) {
	c := NewTestCluster(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	snap := pdbScenario("shop", "web", 3)
	n2 := snap.Nodes[1].DeepCopy()
	n2.Name, n2.Labels[corev1.LabelHostname], n2.Spec.PodCIDR = "node-2", "node-2", "10.244.2.0/24"
	n2.Status.Allocatable[corev1.ResourceCPU] = resource.MustParse("8")
	snap.Nodes = append(snap.Nodes, *n2)
	if _, err := materialize.Apply(ctx, snap, materialize.Config{REST: c.REST, Timeout: time.Minute}); err != nil {
		t.Fatalf("applying the scenario: %v", err)
	}
	bindExecutorRoles(ctx, t, c)
	// The scheduler placed the pods: the plan starts with a node that has
	// some, so that its drain has pods to evict.
	pods, err := c.Client.CoreV1().Pods("shop").List(ctx, metav1.ListOptions{})
	if err != nil || len(pods.Items) == 0 {
		t.Fatalf("listing the pods: %v", err)
	}
	first := pods.Items[0].Spec.NodeName
	asUser := func(user string) *rest.Config {
		rc := rest.CopyConfig(c.REST)
		rc.Impersonate = rest.ImpersonationConfig{UserName: user}
		return rc
	}
	hook, err := filepath.Abs("testdata/reinstall.sh")
	if err != nil {
		t.Fatal(err)
	}
	hookLog := filepath.Join(t.TempDir(), "hooks.log")
	newPlan := func(t *testing.T) *plan.Plan {
		p, err := rolling.Plan(snap, rolling.Params{BatchSize: "1", NewOSImage: newOSImage})
		if err != nil {
			t.Fatal(err)
		}
		slices.SortStableFunc(p.Spec.Batches, func(a, b plan.Batch) int {
			return strings.Compare(strings.Replace(a.Nodes[0], first, "", 1), strings.Replace(b.Nodes[0], first, "", 1))
		})
		for i := range p.Spec.Batches {
			p.Spec.Batches[i].Index = i
		}
		p.Metadata.Baseline = plan.NewBaseline(snap)
		p.Spec.Drain.GracePeriodSeconds = new(int64(1))
		p.Spec.Hooks = plan.Hooks{Reinstall: []string{hook},
			Env: map[string]string{"KUBECTL": c.bins.Kubectl, "HOOK_LOG": hookLog, "NEVER_RETURN": "1"}}
		p.Spec.Gates.RejoinTimeoutSeconds, p.Spec.Gates.SettleSeconds = 8, 5
		return p
	}
	run := func(t *testing.T, user string, p *plan.Plan) (*executor.Record, string, error) {
		var out bytes.Buffer
		rec, err := executor.Run(ctx, executor.Config{Plan: p, REST: asUser(user), Namespace: executor.DefaultNamespace, Identity: user,
			Kubeconfig: c.Kubeconfig, LeaseDuration: 6 * time.Second, PollInterval: 250 * time.Millisecond, Out: &out})
		t.Logf("executor output:\n%s", lastLines(out.String(), 12))
		return rec, out.String(), err
	}
	forgetRun := func(t *testing.T) {
		if err := c.Client.CoreV1().ConfigMaps(executor.DefaultNamespace).Delete(ctx, executor.ProgressName, metav1.DeleteOptions{}); err != nil {
			t.Fatalf("deleting the progress: %v", err)
		}
	}
	checkNodes := func(t *testing.T, cordoned map[string]string) {
		t.Helper()
		for _, name := range []string{"node-0", "node-1", "node-2"} {
			n, err := c.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Errorf("node %s: %v", name, err)
				continue
			}
			why, want := cordoned[name]
			switch {
			case n.Spec.Unschedulable != want:
				t.Errorf("node %s: unschedulable %v, want %v", name, n.Spec.Unschedulable, want)
			case want && !strings.Contains(n.Annotations[executor.AnnotationStopped], why):
				t.Errorf("node %s is cordoned with %s=%q, want the reason %q", name, executor.AnnotationStopped, n.Annotations[executor.AnnotationStopped], why)
			case !want && (n.Annotations[executor.AnnotationStopped] != "" || n.Annotations[executor.AnnotationRollout] != ""):
				t.Errorf("node %s keeps the executor's annotations: %v", name, n.Annotations)
			}
		}
	}
	checkReleased := func(t *testing.T) {
		t.Helper()
		l, err := c.Client.CoordinationV1().Leases(executor.DefaultNamespace).Get(ctx, executor.LeaseName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if l.Spec.HolderIdentity != nil {
			t.Errorf("the Lease is still held by %q", *l.Spec.HolderIdentity)
		}
	}

	t.Run("a cluster that drifted from the plan stops it before anything is touched", func(t *testing.T) {
		p := newPlan(t)
		p.Metadata.Baseline.Nodes = append(p.Metadata.Baseline.Nodes, "node-9")
		rec, _, err := run(t, "executor", p)
		var ge *executor.GateError
		if !errors.As(err, &ge) || ge.Gate != "drift" || ge.Batch != 0 || !strings.Contains(ge.Message, "node-9") {
			t.Fatalf("got %v, want the drift gate of batch 0 naming node-9", err)
		}
		if rec.Outcome != executor.OutcomeStopped || !strings.Contains(rec.Message, "node-9") {
			t.Errorf("record: %s %q", rec.Outcome, rec.Message)
		}
		checkNodes(t, nil)
		checkReleased(t)
		t.Run("a new run is refused while the stopped one is recorded", func(t *testing.T) {
			_, _, err := run(t, "executor", newPlan(t))
			if !errors.Is(err, executor.ErrRunInProgress) {
				t.Errorf("got %v, want ErrRunInProgress", err)
			}
		})
		forgetRun(t)
	})

	t.Run("a re-simulation that predicts more pending pods than the plan allows stops it", func(t *testing.T) {
		p := newPlan(t)
		p.Spec.Gates.MaxPendingPods = new(2)
		var remaining []int
		rec, err := executor.Run(ctx, executor.Config{Plan: p, REST: asUser("executor"), Namespace: executor.DefaultNamespace, Identity: "executor",
			LeaseDuration: 6 * time.Second, PollInterval: 250 * time.Millisecond,
			Resimulate: func(_ context.Context, rest *plan.Plan) ([]plan.Batch, error) {
				remaining = append(remaining, len(rest.Spec.Batches))
				out := slices.Clone(rest.Spec.Batches)
				out[len(out)-1].Predicted = &plan.Predicted{PendingPeak: 3}
				return out, nil
			}})
		var ge *executor.GateError
		if !errors.As(err, &ge) || ge.Gate != "resimulation" || !strings.Contains(ge.Message, "batch 2: predicted pending peak 3 above gates.maxPendingPods 2") {
			t.Fatalf("got %v, want the resimulation gate naming batch 2", err)
		}
		if !slices.Equal(remaining, []int{3}) || rec.Outcome != executor.OutcomeStopped {
			t.Errorf("re-simulated %v batches, outcome %s; want the 3 remaining, Stopped", remaining, rec.Outcome)
		}
		checkNodes(t, nil)
		forgetRun(t)
	})

	t.Run("an executor that may not evict stops with the node cordoned and the reason on it", func(t *testing.T) {
		rec, _, err := run(t, "executor-no-evictions", newPlan(t))
		if err == nil || !strings.Contains(err.Error(), "forbidden") {
			t.Fatalf("got %v, want a forbidden eviction", err)
		}
		if rec.Outcome != executor.OutcomeFailed || rec.Batches[0].NodeRuns[0].Phase != executor.PhaseDraining {
			t.Errorf("record: %s, %s in phase %q; want Failed in Draining", rec.Outcome, first, rec.Batches[0].NodeRuns[0].Phase)
		}
		checkNodes(t, map[string]string{first: "forbidden"})
		if evs := nodeEvents(ctx, t, c.Client)[first]; evs[executor.ReasonRolloutStopped] != 1 {
			t.Errorf("%s events %v, want one %s", first, evs, executor.ReasonRolloutStopped)
		}
		checkReleased(t)
		forgetRun(t)
		if _, err := c.Kubectl(ctx, "uncordon", first); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Kubectl(ctx, "annotate", "node", first, executor.AnnotationStopped+"-", executor.AnnotationRollout+"-"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a node that never comes back stops the rollout at the rejoin gate", func(t *testing.T) {
		rec, out, err := run(t, "executor", newPlan(t))
		var ge *executor.GateError
		if !errors.As(err, &ge) || ge.Gate != "rejoin" || !strings.Contains(ge.Message, first) {
			t.Fatalf("got %v, want the rejoin gate naming %s", err, first)
		}
		if !strings.Contains(out, "hook: node "+first+" deleted") {
			t.Errorf("the hook's output is not in the executor's")
		}
		nr := rec.Batches[0].NodeRuns[0]
		if rec.Outcome != executor.OutcomeStopped || nr.Phase != executor.PhaseReinstalled || !strings.Contains(nr.Message, "did not register Ready") {
			t.Errorf("record: %s; %s %s %q", rec.Outcome, first, nr.Phase, nr.Message)
		}
		for _, b := range rec.Batches[1:] {
			for _, n := range b.NodeRuns {
				if n.Phase != executor.PhasePending {
					t.Errorf("node %s of batch %d is in phase %s", n.Name, b.Index, n.Phase)
				}
			}
		}
		if _, err := c.Client.CoreV1().Nodes().Get(ctx, first, metav1.GetOptions{}); err == nil {
			t.Errorf("%s exists; the hook was to remove it", first)
		}
		for _, name := range []string{"node-0", "node-1", "node-2"} {
			if name == first {
				continue
			}
			n, err := c.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil || n.Spec.Unschedulable || len(n.Annotations[executor.AnnotationRollout]) > 0 {
				t.Errorf("node %s is not untouched: %v", name, err)
			}
		}
		checkReleased(t)
		data, err := os.ReadFile(hookLog)
		if err != nil || strings.TrimSpace(string(data)) != first {
			t.Errorf("hook log %q (%v), want one run for %s", data, err, first)
		}
	})
}

// bindExecutorRoles creates the Namespace, the ClusterRole and the Role of
// deploy/rbac.yaml and binds the roles to the user "executor", and a copy
// without pods/eviction to "executor-no-evictions".
func bindExecutorRoles(ctx context.Context, t *testing.T, c *Cluster) {
	t.Helper()
	data, err := os.ReadFile("../deploy/rbac.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var clusterRole *rbacv1.ClusterRole
	var role *rbacv1.Role
	var ns *corev1.Namespace
	for _, doc := range strings.Split(string(data), "\n---\n") {
		var head struct {
			Kind     string            `json:"kind"`
			Metadata metav1.ObjectMeta `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			t.Fatalf("deploy/rbac.yaml: %v", err)
		}
		if head.Kind == "Namespace" {
			ns = &corev1.Namespace{}
			if err := yaml.UnmarshalStrict([]byte(doc), ns); err != nil {
				t.Fatalf("deploy/rbac.yaml: %v", err)
			}
			continue
		}
		if head.Metadata.Name != "noderoll-executor" {
			continue
		}
		switch head.Kind {
		case "ClusterRole":
			clusterRole = &rbacv1.ClusterRole{}
			err = yaml.UnmarshalStrict([]byte(doc), clusterRole)
		case "Role":
			role = &rbacv1.Role{}
			err = yaml.UnmarshalStrict([]byte(doc), role)
		}
		if err != nil {
			t.Fatalf("deploy/rbac.yaml: %v", err)
		}
	}
	if clusterRole == nil || role == nil || ns == nil {
		t.Fatal("deploy/rbac.yaml lacks the ClusterRole or the Role noderoll-executor, or the executor's Namespace")
	}
	if role.Namespace != ns.Name || ns.Name != executor.DefaultNamespace {
		t.Fatalf("deploy/rbac.yaml: the Role is in %s, the Namespace is %s, the executor's default is %s", role.Namespace, ns.Name, executor.DefaultNamespace)
	}
	if _, err := c.Client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	noEvict := clusterRole.DeepCopy()
	noEvict.Name = "noderoll-executor-no-evictions"
	noEvict.Rules = slices.DeleteFunc(noEvict.Rules, func(r rbacv1.PolicyRule) bool { return slices.Contains(r.Resources, "pods/eviction") })
	rbac := c.Client.RbacV1()
	for _, cr := range []*rbacv1.ClusterRole{clusterRole, noEvict} {
		if _, err := rbac.ClusterRoles().Create(ctx, cr, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := rbac.Roles(role.Namespace).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for user, cr := range map[string]string{"executor": clusterRole.Name, "executor-no-evictions": noEvict.Name} {
		subject := []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}}
		if _, err := rbac.ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: user},
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: cr}, Subjects: subject}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := rbac.RoleBindings(role.Namespace).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: user, Namespace: role.Namespace},
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name}, Subjects: subject}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// RBAC caches bindings briefly.
	time.Sleep(time.Second)
}
