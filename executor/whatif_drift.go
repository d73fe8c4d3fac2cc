package executor

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/noderoll/noderoll/plan"
)

// replicasDrift is the drift gate's part for a plan made with a what-if
// file: the workloads whose replicas it set must run at that scale
// (plan.Baseline.CheckReplicas), one line per difference.
func replicasDrift(ctx context.Context, client kubernetes.Interface, b *plan.Baseline) ([]string, error) {
	if b == nil || len(b.Replicas) == 0 {
		return nil, nil
	}
	live := map[string]int32{}
	for _, r := range b.Replicas {
		ns, name, _ := strings.Cut(r.Name, "/")
		var spec *int32
		var err error
		switch r.Kind {
		case "Deployment":
			d, e := client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
			err = e
			if e == nil {
				spec = d.Spec.Replicas
			}
		case "StatefulSet":
			s, e := client.AppsV1().StatefulSets(ns).Get(ctx, name, metav1.GetOptions{})
			err = e
			if e == nil {
				spec = s.Spec.Replicas
			}
		case "ReplicaSet":
			s, e := client.AppsV1().ReplicaSets(ns).Get(ctx, name, metav1.GetOptions{})
			err = e
			if e == nil {
				spec = s.Spec.Replicas
			}
		default:
			continue
		}
		switch {
		case apierrors.IsNotFound(err):
			continue // missing: CheckReplicas says so
		case err != nil:
			return nil, fmt.Errorf("reading %s %s: %w", r.Kind, r.Name, err)
		}
		n := int32(1)
		if spec != nil {
			n = *spec
		}
		live[r.Kind+"/"+r.Name] = n
	}
	return b.CheckReplicas(live), nil
}
