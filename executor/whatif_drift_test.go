package executor

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/noderoll/noderoll/plan"
)

func TestReplicasDrift(t *testing.T) {
	two := int32(2)
	one := int32(1)
	base := &plan.Baseline{Replicas: []plan.ReplicasDigest{{Kind: "Deployment", Name: "shop/web", Replicas: 2}}}
	for _, tc := range []struct {
		name string
		live []appsv1.Deployment
		want string // "" for no violation
	}{
		{"a Deployment scaled as the what-if file says passes", []appsv1.Deployment{{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"}, Spec: appsv1.DeploymentSpec{Replicas: &two}}}, ""},
		{"a Deployment not scaled yet fails the gate", []appsv1.Deployment{{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"}, Spec: appsv1.DeploymentSpec{Replicas: &one}}}, "Deployment/shop/web: 1 replicas, the plan expects 2"},
		{"a Deployment gone fails the gate", nil, "Deployment/shop/web: missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewSimpleClientset()
			for i := range tc.live {
				if _, err := client.AppsV1().Deployments("shop").Create(context.Background(), &tc.live[i], metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			v, err := replicasDrift(context.Background(), client, base)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(v, "; ")
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Fatalf("violations %q, want %q", got, tc.want)
			}
		})
	}
}
