package plan_test

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/kubectl/pkg/drain"

	. "github.com/noderoll/noderoll/internal/testutil"
	"github.com/noderoll/noderoll/plan"
)

// drainNode is the node of the agreement test. Every pod is on it: the fake
// clientset ignores GetPodsForDeletion's spec.nodeName field selector.
const drainNode = "n1"

// agreementPods is one pod of every kind the drain filters tell apart.
func agreementPods() []*corev1.Pod {
	on := func(b *PodBuilder) *PodBuilder { return b.On(drainNode) }
	return []*corev1.Pod{
		on(Pod("web-0").OwnedBy("ReplicaSet", "web")).Running().Obj(),
		on(Pod("db-0").OwnedBy("StatefulSet", "db")).Running().Obj(),
		on(Pod("fluentd-n1").NS("kube-system").OwnedBy("DaemonSet", "fluentd")).Running().Obj(),
		// DaemonSet fluentd exists in kube-system only.
		on(Pod("fluentd-elsewhere").OwnedBy("DaemonSet", "fluentd")).Running().Obj(),
		on(Pod("ghost-n1").OwnedBy("DaemonSet", "ghost")).Running().Obj(),
		on(Pod("ghost-scratch").OwnedBy("DaemonSet", "ghost")).EmptyDir().Running().Obj(),
		phase(on(Pod("ghost-done").OwnedBy("DaemonSet", "ghost")).Obj(), corev1.PodSucceeded),
		phase(on(Pod("fluentd-failed").NS("kube-system").OwnedBy("DaemonSet", "fluentd")).Obj(), corev1.PodFailed),
		mirror(on(Pod("kube-apiserver-n1").NS("kube-system")).EmptyDir().Running().Obj(), drainNode),
		on(Pod("cache-0").OwnedBy("ReplicaSet", "cache")).EmptyDir().Running().Obj(),
		on(Pod("bare")).Running().Obj(),
		on(Pod("bare-scratch")).EmptyDir().Running().Obj(),
		ownedBy(on(Pod("adopted")).Running().Obj(), "apps/v1", "ReplicaSet", "web", false),
		phase(on(Pod("migrate-x").OwnedBy("Job", "migrate")).EmptyDir().Obj(), corev1.PodSucceeded),
		phase(on(Pod("crashed")).EmptyDir().Obj(), corev1.PodFailed),
		terminating(on(Pod("web-1").OwnedBy("ReplicaSet", "web")).Running().Obj()),
		phase(on(Pod("web-2").OwnedBy("ReplicaSet", "web")).Obj(), corev1.PodPending),
	}
}

// TestDrainAgreesWithKubectl: the simulator's drain policy and kubectl's
// drain library agree on the same pods. For every combination of the three
// flags, the pods kubectl's Helper.GetPodsForDeletion would delete are the
// pods Drain evicts, kubectl reports an error exactly when Drain refuses a
// pod (and for the same pods), and every pod kubectl leaves with a warning
// has that warning as Drain's reason.
func TestDrainAgreesWithKubectl(t *testing.T) {
	pods := agreementPods()
	objs := []runtime.Object{&appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "fluentd", Namespace: "kube-system"}}}
	for _, p := range pods {
		objs = append(objs, p)
	}
	client := fake.NewClientset(objs...)

	for _, opts := range flagCombinations() {
		t.Run(flagsName(opts), func(t *testing.T) {
			helper := &drain.Helper{
				Ctx:                 t.Context(),
				Client:              client,
				Force:               opts.Force,
				IgnoreAllDaemonSets: opts.IgnoreDaemonSets,
				DeleteEmptyDirData:  opts.DeleteEmptyDirData,
				Out:                 io.Discard,
				ErrOut:              io.Discard,
			}
			list, errs := helper.GetPodsForDeletion(drainNode)
			if list == nil {
				t.Fatalf("GetPodsForDeletion listed no pods: %v", errs)
			}

			kubectlDeletes := map[string]bool{}
			for _, p := range list.Pods() {
				kubectlDeletes[p.Namespace+"/"+p.Name] = true
			}
			kubectlRefuses := refusedPods(t, errs)
			kubectlWarns := warnedPods(t, list.Warnings())

			exists := daemonSetExists(t, client)
			decisions := map[string]plan.DrainDecision{}
			weEvict, weRefuse := map[string]bool{}, map[string]string{}
			for _, p := range pods {
				key := p.Namespace + "/" + p.Name
				d := plan.Drain(p, opts, exists)
				decisions[key] = d
				switch d.Action {
				case plan.Evict:
					weEvict[key] = true
				case plan.Refuse:
					weRefuse[key] = d.Reason
				}
			}

			t.Logf("kubectl deletes %v; refuses %v", sortedKeys(kubectlDeletes), sortedKeys(kubectlRefuses))
			if got, want := sortedKeys(weEvict), sortedKeys(kubectlDeletes); !slices.Equal(got, want) {
				t.Errorf("Drain evicts %v\n    kubectl deletes %v", got, want)
			}
			if (len(weRefuse) > 0) != (len(errs) > 0) {
				t.Errorf("Drain refuses %v, kubectl errors %v", sortedKeys(weRefuse), errs)
			}
			if got, want := sortedKeys(weRefuse), sortedKeys(kubectlRefuses); !slices.Equal(got, want) {
				t.Errorf("Drain refuses %v\n    kubectl refuses %v", got, want)
			}
			for pod, msg := range kubectlWarns {
				if d := decisions[pod]; d.Reason != msg {
					t.Errorf("kubectl warns %q about %s, Drain's reason is %q", msg, pod, d.Reason)
				}
			}

			t.Run("refusal reasons are kubectl's", func(t *testing.T) {
				var diffs []string
				for _, pod := range sortedKeys(weRefuse) {
					if msg, ok := kubectlRefuses[pod]; ok && msg != weRefuse[pod] {
						diffs = append(diffs, fmt.Sprintf("%s: Drain says %q, kubectl %q", pod, weRefuse[pod], msg))
					}
				}
				// Drain's reasons are kubectl's words (the bare pod's and the
				// orphaned DaemonSet pod's discrepancy is resolved): any
				// difference fails.
				if len(diffs) > 0 {
					t.Error(strings.Join(diffs, "\n"))
				}
			})
		})
	}
}

// flagCombinations is every combination of the three drain flags, all on
// first.
func flagCombinations() []plan.DrainOptions {
	var all []plan.DrainOptions
	for i := 7; i >= 0; i-- {
		all = append(all, plan.DrainOptions{
			IgnoreDaemonSets:   i&4 != 0,
			DeleteEmptyDirData: i&2 != 0,
			Force:              i&1 != 0,
		})
	}
	return all
}

func flagsName(o plan.DrainOptions) string {
	var on []string
	if o.IgnoreDaemonSets {
		on = append(on, "ignore-daemonsets")
	}
	if o.DeleteEmptyDirData {
		on = append(on, "delete-emptydir-data")
	}
	if o.Force {
		on = append(on, "force")
	}
	if len(on) == 0 {
		return "no flags"
	}
	return strings.Join(on, " ")
}

// daemonSetExists answers Drain's question from the same API kubectl asks.
func daemonSetExists(t *testing.T, client kubernetes.Interface) func(namespace, name string) bool {
	return func(namespace, name string) bool {
		_, err := client.AppsV1().DaemonSets(namespace).Get(t.Context(), name, metav1.GetOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Fatalf("getting DaemonSet %s/%s: %v", namespace, name, err)
		}
		return err == nil
	}
}

// refusedPods maps each pod in kubectl's errors, each "cannot delete <msg>:
// <ns/pod>, <ns/pod>", to its message.
func refusedPods(t *testing.T, errs []error) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, err := range errs {
		s, ok := strings.CutPrefix(err.Error(), "cannot delete ")
		i := strings.LastIndex(s, ": ")
		if !ok || i < 0 {
			t.Fatalf("unexpected kubectl drain error %q", err)
		}
		for _, pod := range strings.Split(s[i+2:], ", ") {
			out[pod] = s[:i]
		}
	}
	return out
}

// warnedPods maps each pod in kubectl's warnings, "<msg>: <ns/pod>, <ns/pod>"
// joined by "; ", to its message.
func warnedPods(t *testing.T, warnings string) map[string]string {
	t.Helper()
	out := map[string]string{}
	if warnings == "" {
		return out
	}
	for _, w := range strings.Split(warnings, "; ") {
		i := strings.LastIndex(w, ": ")
		if i < 0 {
			t.Fatalf("unexpected kubectl drain warning %q", w)
		}
		for _, pod := range strings.Split(w[i+2:], ", ") {
			out[pod] = w[:i]
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
