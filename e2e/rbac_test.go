package e2e

import (
	"context"
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/noderoll/noderoll/snapshot"
	"github.com/noderoll/noderoll/snapshot/capture"
)

// TestCaptureNeedsExactlyTheListsOfDeployRBAC captures a cluster as users
// with different roles: the ClusterRole of deploy/rbac.yaml is enough, and
// a user who lacks some lists is told which.
func TestCaptureNeedsExactlyTheListsOfDeployRBAC(t *testing.T) {
	c := NewTestCluster(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	data, err := os.ReadFile("../deploy/rbac.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var role rbacv1.ClusterRole
	if err := yaml.Unmarshal(data, &role); err != nil {
		t.Fatalf("deploy/rbac.yaml: %v", err)
	}
	if slices.ContainsFunc(role.Rules, func(r rbacv1.PolicyRule) bool { return slices.Contains(r.Resources, "secrets") }) {
		t.Fatalf("deploy/rbac.yaml's capture role grants a verb on secrets")
	}
	withSecrets := role.DeepCopy()
	withSecrets.Name = "noderoll-capture-with-secrets"
	withSecrets.Rules = append(withSecrets.Rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"list"}})
	// A Secret to count, when the role allows it.
	if _, err := c.Client.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "planted"},
		StringData: map[string]string{"token": "s3cr3t"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, b := range []struct {
		user string
		role *rbacv1.ClusterRole
	}{
		{"capturer", &role},
		{"with-secrets", withSecrets},
	} {
		if _, err := c.Client.RbacV1().ClusterRoles().Create(ctx, b.role, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating ClusterRole %s: %v", b.role.Name, err)
		}
		crb := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: b.user},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: b.role.Name},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: b.user}},
		}
		if _, err := c.Client.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil {
			t.Fatalf("binding %s: %v", b.user, err)
		}
	}
	all := capture.Permissions()

	for _, tc := range []struct {
		name        string
		user        string
		namespace   string
		wantMissing []capture.Permission
		// wantSecrets: the default namespace's Secrets counted.
		wantSecrets int
	}{
		{"a user bound to the ClusterRole of deploy/rbac.yaml captures the cluster, counting no Secrets", "capturer", "", nil, 0},
		{"the same user captures one namespace", "capturer", "kube-system", nil, 0},
		{"a user without a role is told every list it lacks (not the optional Secrets)", "nobody", "", all, 0},
		{"a user who may also list Secrets gets their counts", "with-secrets", "", nil, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := rest.CopyConfig(c.REST)
			rc.Impersonate = rest.ImpersonationConfig{UserName: tc.user}
			// RBAC caches bindings briefly; give a new binding a moment.
			var err error
			var snap *snapshot.Snapshot
			for range 20 {
				snap, err = capture.Capture(ctx, capture.Config{REST: rc, Namespace: tc.namespace})
				if err == nil && (tc.wantSecrets == 0 || snap.NamespaceCounts["default"].Secrets > 0) || tc.wantMissing != nil {
					break
				}
				time.Sleep(250 * time.Millisecond)
			}
			if err == nil && snap.NamespaceCounts["default"].Secrets != tc.wantSecrets {
				t.Errorf("default namespace: %d Secrets counted, want %d", snap.NamespaceCounts["default"].Secrets, tc.wantSecrets)
			}
			var fe *capture.ForbiddenError
			switch {
			case tc.wantMissing == nil && err != nil:
				t.Fatalf("capture as %s: %v", tc.user, err)
			case tc.wantMissing == nil:
			case !errors.As(err, &fe):
				t.Fatalf("capture as %s: %v, want a *ForbiddenError", tc.user, err)
			case !slices.Equal(fe.Missing, tc.wantMissing):
				t.Errorf("missing %v, want %v", fe.Missing, tc.wantMissing)
			default:
				t.Logf("capture as %s: %v", tc.user, err)
			}
		})
	}
}
