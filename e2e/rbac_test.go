package e2e

import (
	"context"
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

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
	withoutRoles := role.DeepCopy()
	withoutRoles.Name = "noderoll-capture-without-roles"
	for i := range withoutRoles.Rules {
		r := &withoutRoles.Rules[i]
		r.Resources = slices.DeleteFunc(slices.Clone(r.Resources), func(s string) bool { return s == "roles" })
	}
	for _, b := range []struct {
		user string
		role *rbacv1.ClusterRole
	}{
		{"capturer", &role},
		{"no-roles", withoutRoles},
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
	}{
		{"a user bound to the ClusterRole of deploy/rbac.yaml captures the cluster", "capturer", "", nil},
		{"the same user captures one namespace", "capturer", "kube-system", nil},
		{"a user without a role is told every list it lacks", "nobody", "", all},
		{"a user who may not list Roles is told exactly that", "no-roles", "", []capture.Permission{{Verb: "list", Group: "rbac.authorization.k8s.io", Resource: "roles"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := rest.CopyConfig(c.REST)
			rc.Impersonate = rest.ImpersonationConfig{UserName: tc.user}
			// RBAC caches bindings briefly; give a new binding a moment.
			var err error
			for range 20 {
				_, err = capture.Capture(ctx, capture.Config{REST: rc, Namespace: tc.namespace})
				if err == nil || tc.wantMissing != nil {
					break
				}
				time.Sleep(250 * time.Millisecond)
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
