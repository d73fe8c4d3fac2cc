package capture

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/noderoll/noderoll/snapshot"
)

// fakeAPI is an API server that serves lists of objects page by page, as
// the real one does, and records what it was asked.
type fakeAPI struct {
	t *testing.T
	// items holds the JSON items of each resource, keyed by the path of its
	// cluster-wide list ("/api/v1/pods", "/apis/apps/v1/deployments").
	items map[string][]json.RawMessage
	// forbidden resources answer 403; expireOnce answers 410 to the first
	// request that carries a continue token.
	forbidden  map[string]bool
	expireOnce bool

	mu       sync.Mutex
	requests []*http.Request
}

func newFakeAPI(t *testing.T) *fakeAPI {
	return &fakeAPI{t: t, items: map[string][]json.RawMessage{}, forbidden: map[string]bool{}}
}

// add stores objects under the list path of their resource.
func (f *fakeAPI) add(path string, objs ...any) {
	for _, o := range objs {
		data, err := json.Marshal(o)
		if err != nil {
			f.t.Fatal(err)
		}
		f.items[path] = append(f.items[path], data)
	}
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r)
	expire := f.expireOnce && r.URL.Query().Get("continue") != ""
	if expire {
		f.expireOnce = false
	}
	f.mu.Unlock()
	if r.URL.Path == "/version" {
		writeJSON(w, http.StatusOK, map[string]string{"major": "1", "minor": "37", "gitVersion": "v1.37.2-fake"})
		return
	}
	path, ns := clusterPath(r.URL.Path)
	resource := path[strings.LastIndexByte(path, '/')+1:]
	if f.forbidden[resource] {
		writeStatus(w, http.StatusForbidden, "Forbidden", fmt.Sprintf("%s is forbidden: User \"x\" cannot list resource %q", resource, resource))
		return
	}
	if expire {
		writeStatus(w, http.StatusGone, "Expired", "The provided continue parameter is too old")
		return
	}
	var all []json.RawMessage
	for _, item := range f.items[path] {
		var m struct {
			Metadata metav1.ObjectMeta `json:"metadata"`
		}
		_ = json.Unmarshal(item, &m)
		if ns == "" || m.Metadata.Namespace == ns {
			all = append(all, item)
		}
	}
	offset, _ := strconv.Atoi(r.URL.Query().Get("continue"))
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if limit <= 0 {
		limit = len(all)
	}
	end := min(offset+limit, len(all))
	page := all[offset:end]
	meta := map[string]any{"resourceVersion": "1"}
	if end < len(all) {
		meta["continue"] = strconv.Itoa(end)
		meta["remainingItemCount"] = len(all) - end
	}
	if strings.Contains(r.Header.Get("Accept"), "as=PartialObjectMetadataList") {
		items := make([]any, len(page))
		for i, item := range page {
			var m struct {
				Metadata json.RawMessage `json:"metadata"`
			}
			_ = json.Unmarshal(item, &m)
			items[i] = map[string]any{"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata", "metadata": m.Metadata}
		}
		writeJSON(w, http.StatusOK, map[string]any{"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadataList", "metadata": meta, "items": items})
		return
	}
	if resource == "secrets" || resource == "configmaps" {
		f.t.Errorf("%s listed in full: their data must never be requested", resource)
	}
	writeJSON(w, http.StatusOK, map[string]any{"metadata": meta, "items": page})
}

// clusterPath turns /api/v1/namespaces/NS/pods into /api/v1/pods and NS.
func clusterPath(p string) (path, ns string) {
	parts := strings.Split(p, "/")
	for i := range parts {
		if parts[i] == "namespaces" && i+2 < len(parts) {
			return strings.Join(append(slices.Clone(parts[:i]), parts[i+2:]...), "/"), parts[i+1]
		}
	}
	return p, ""
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeStatus(w http.ResponseWriter, code int, reason, msg string) {
	writeJSON(w, code, map[string]any{"apiVersion": "v1", "kind": "Status", "status": "Failure", "code": code, "reason": reason, "message": msg})
}

// listRequests returns the requests for one resource's list.
func (f *fakeAPI) listRequests(resource string) []*http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*http.Request
	for _, r := range f.requests {
		if strings.HasSuffix(r.URL.Path, "/"+resource) {
			out = append(out, r)
		}
	}
	return out
}

func pod(ns, name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: name,
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kube-controller-manager"}},
			Annotations:   map[string]string{corev1.LastAppliedConfigAnnotation: `{"env":"secret"}`},
		},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1", Env: []corev1.EnvVar{
			{Name: "PASSWORD", Value: "hunter2"},
			{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "token"}}},
		}}}},
	}
}

func meta(ns, name string) map[string]any {
	return map[string]any{"metadata": map[string]any{"namespace": ns, "name": name}, "data": map[string]string{"key": "value"}}
}

func start(t *testing.T, f *fakeAPI) *rest.Config {
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return &rest.Config{Host: srv.URL}
}

func TestCapture(t *testing.T) {
	const pods = 1203
	populate := func(f *fakeAPI) {
		for i := range pods {
			f.add("/api/v1/pods", pod(fmt.Sprintf("ns%d", i%3), fmt.Sprintf("p%04d", i)))
		}
		f.add("/api/v1/nodes", &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}})
		f.add("/api/v1/secrets", meta("ns0", "s1"), meta("ns0", "s2"), meta("ns1", "s3"))
		f.add("/api/v1/configmaps", meta("ns2", "c1"))
		f.add("/apis/rbac.authorization.k8s.io/v1/roles", meta("ns0", "r1"))
	}
	for _, tc := range []struct {
		name      string
		setup     func(f *fakeAPI)
		namespace string
		count     bool // CountConfigMapsAndSecrets
		check     func(t *testing.T, f *fakeAPI, got *snapshotResult)
	}{
		{
			name: "pods are listed in pages of 500 and all of them are kept",
			check: func(t *testing.T, f *fakeAPI, got *snapshotResult) {
				if len(got.s.Pods) != pods {
					t.Errorf("%d pods, want %d", len(got.s.Pods), pods)
				}
				reqs := f.listRequests("pods")
				if len(reqs) != 3 {
					t.Errorf("%d requests for pods, want 3", len(reqs))
				}
				for _, r := range reqs {
					if r.URL.Query().Get("limit") != "500" {
						t.Errorf("pods listed with limit %q, want 500", r.URL.Query().Get("limit"))
					}
				}
			},
		},
		{
			name: "managedFields, last-applied configuration and environment values are not kept",
			check: func(t *testing.T, _ *fakeAPI, got *snapshotResult) {
				p := got.s.Pods[0]
				if p.ManagedFields != nil || p.Annotations != nil {
					t.Errorf("managedFields %v, annotations %v: want none", p.ManagedFields, p.Annotations)
				}
				env := p.Spec.Containers[0].Env
				if env[0].Name != "PASSWORD" || env[0].Value != snapshot.Redacted {
					t.Errorf("env[0] = %+v, want the name with the value redacted", env[0])
				}
				if env[1].ValueFrom == nil || env[1].ValueFrom.SecretKeyRef.Name != "creds" {
					t.Errorf("env[1] = %+v, want the valueFrom reference kept", env[1])
				}
			},
		},
		{
			name:  "asked to, capture counts Secrets, ConfigMaps and Roles per namespace from their metadata only",
			count: true,
			check: func(t *testing.T, _ *fakeAPI, got *snapshotResult) {
				c := got.s.NamespaceCounts
				if c["ns0"].Secrets != 2 || c["ns1"].Secrets != 1 || c["ns2"].ConfigMaps != 1 || c["ns0"].Roles != 1 {
					t.Errorf("namespace counts %+v", c)
				}
				if c["ns0"].SecretBytes != 0 || c["ns2"].ConfigMapBytes != 0 {
					t.Errorf("sizes reported without reading data: %+v", c)
				}
				if got.s.Uncounted != nil || got.s.Warnings != nil {
					t.Errorf("uncounted %v, warnings %v: want none", got.s.Uncounted, got.s.Warnings)
				}
			},
		},
		{
			name: "by default, capture lists neither Secrets nor ConfigMaps and says they are not counted",
			check: func(t *testing.T, f *fakeAPI, got *snapshotResult) {
				if n := len(f.listRequests("secrets")) + len(f.listRequests("configmaps")); n != 0 {
					t.Errorf("%d requests for secrets and configmaps, want none", n)
				}
				if want := []string{"ConfigMap", "Secret"}; !slices.Equal(got.s.Uncounted, want) {
					t.Errorf("uncounted %v, want %v", got.s.Uncounted, want)
				}
				if c := got.s.NamespaceCounts; c["ns0"].Roles != 1 || c["ns0"].Secrets != 0 {
					t.Errorf("namespace counts %+v: want the role counted, no secret", c)
				}
			},
		},
		{
			name:  "asked to count Secrets without the permission, capture goes on without them and says why",
			setup: func(f *fakeAPI) { f.forbidden["secrets"] = true },
			count: true,
			check: func(t *testing.T, _ *fakeAPI, got *snapshotResult) {
				if want := []string{"Secret"}; !slices.Equal(got.s.Uncounted, want) {
					t.Errorf("uncounted %v, want %v", got.s.Uncounted, want)
				}
				if c := got.s.NamespaceCounts; c["ns2"].ConfigMaps != 1 || c["ns0"].Secrets != 0 {
					t.Errorf("namespace counts %+v: want the ConfigMap counted, no secret", c)
				}
				if len(got.s.Warnings) != 1 || got.s.Warnings[0].Code != snapshot.IssueNotCounted ||
					got.s.Warnings[0].Message != "Secrets are not counted: the credentials may not list secrets" {
					t.Errorf("warnings %v, want one saying that Secrets are not counted", got.s.Warnings)
				}
			},
		},
		{
			name:      "a namespace limits the namespaced kinds, not the nodes",
			namespace: "ns1",
			check: func(t *testing.T, f *fakeAPI, got *snapshotResult) {
				if len(got.s.Pods) != pods/3 || len(got.s.Nodes) != 1 {
					t.Errorf("%d pods, %d nodes; want %d and 1", len(got.s.Pods), len(got.s.Nodes), pods/3)
				}
				for _, r := range f.listRequests("pods") {
					if !strings.Contains(r.URL.Path, "/namespaces/ns1/") {
						t.Errorf("pods listed at %s, want namespace ns1", r.URL.Path)
					}
				}
				if ns := f.listRequests("namespaces"); len(ns) == 0 || ns[0].URL.Query().Get("fieldSelector") != "metadata.name=ns1" {
					t.Errorf("namespaces not listed with metadata.name=ns1")
				}
			},
		},
		{
			name:  "an expired continue token restarts the list without duplicates",
			setup: func(f *fakeAPI) { f.expireOnce = true },
			check: func(t *testing.T, _ *fakeAPI, got *snapshotResult) {
				seen := map[string]bool{}
				for _, p := range got.s.Pods {
					if seen[p.Namespace+"/"+p.Name] {
						t.Fatalf("pod %s/%s twice", p.Namespace, p.Name)
					}
					seen[p.Namespace+"/"+p.Name] = true
				}
				if len(got.s.Pods) != pods {
					t.Errorf("%d pods, want %d", len(got.s.Pods), pods)
				}
			},
		},
		{
			name: "progress counts every object and ends at the total",
			check: func(t *testing.T, _ *fakeAPI, got *snapshotResult) {
				want := pods + 1 + 1 // pods, the node, the role
				if len(got.progress) == 0 || got.progress[len(got.progress)-1] != [2]int{want, want} {
					t.Errorf("last progress %v, want [%d %d]", got.progress[len(got.progress)-1:], want, want)
				}
			},
		},
		{
			name: "the server version, source and capture time are recorded",
			check: func(t *testing.T, _ *fakeAPI, got *snapshotResult) {
				if got.s.ServerVersion != "v1.37.2-fake" || got.s.Source != Source || got.s.TakenAt.IsZero() {
					t.Errorf("serverVersion %q source %q takenAt %v", got.s.ServerVersion, got.s.Source, got.s.TakenAt)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeAPI(t)
			populate(f)
			if tc.setup != nil {
				tc.setup(f)
			}
			got := &snapshotResult{}
			s, err := Capture(context.Background(), Config{REST: start(t, f), Namespace: tc.namespace, CountConfigMapsAndSecrets: tc.count,
				Progress: func(done, total int) { got.progress = append(got.progress, [2]int{done, total}) }})
			if err != nil {
				t.Fatal(err)
			}
			got.s = s
			tc.check(t, f, got)
		})
	}
}

func TestCaptureErrors(t *testing.T) {
	closed := func(t *testing.T) *rest.Config {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		return &rest.Config{Host: "http://" + addr}
	}
	for _, tc := range []struct {
		name   string
		config func(t *testing.T) *rest.Config
		check  func(t *testing.T, err error)
	}{
		{
			name: "a forbidden list names each verb and resource refused",
			config: func(t *testing.T) *rest.Config {
				f := newFakeAPI(t)
				f.forbidden["roles"], f.forbidden["deployments"] = true, true
				return start(t, f)
			},
			check: func(t *testing.T, err error) {
				var fe *ForbiddenError
				if !errors.As(err, &fe) {
					t.Fatalf("error %v, want a *ForbiddenError", err)
				}
				want := []Permission{{"list", "apps", "deployments"}, {"list", "rbac.authorization.k8s.io", "roles"}}
				if !slices.Equal(fe.Missing, want) {
					t.Errorf("missing %v, want %v", fe.Missing, want)
				}
				if !strings.Contains(err.Error(), "list deployments.apps, list roles.rbac.authorization.k8s.io") {
					t.Errorf("message %q does not name the lists", err)
				}
			},
		},
		{
			name:   "an unreachable server is named",
			config: closed,
			check: func(t *testing.T, err error) {
				var ue *UnreachableError
				if !errors.As(err, &ue) || !strings.Contains(err.Error(), "cannot reach the API server at http://127.0.0.1:") {
					t.Errorf("error %v, want an *UnreachableError naming the server", err)
				}
			},
		},
		{
			name: "refused credentials are said to be refused",
			config: func(t *testing.T) *rest.Config {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
					writeStatus(w, http.StatusUnauthorized, "Unauthorized", "Unauthorized")
				}))
				t.Cleanup(srv.Close)
				return &rest.Config{Host: srv.URL}
			},
			check: func(t *testing.T, err error) {
				if err == nil || !strings.Contains(err.Error(), "unauthorized: the API server at") {
					t.Errorf("error %v, want it to say the credentials were refused", err)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Capture(context.Background(), Config{REST: tc.config(t)})
			tc.check(t, err)
		})
	}
}

// TestDeployRBACGrantsExactlyThePermissions reads deploy/rbac.yaml and
// compares its rules with Permissions.
func TestDeployRBACGrantsExactlyThePermissions(t *testing.T) {
	data, err := os.ReadFile("../../deploy/rbac.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var role rbacv1.ClusterRole
	if err := yaml.Unmarshal(data, &role); err != nil {
		t.Fatal(err)
	}
	var granted []string
	for _, r := range role.Rules {
		if len(r.NonResourceURLs) > 0 || len(r.ResourceNames) > 0 {
			t.Errorf("rule %+v: want resources only", r)
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					granted = append(granted, Permission{Verb: v, Group: g, Resource: res}.String())
				}
			}
		}
	}
	var want []string
	for _, p := range Permissions() {
		want = append(want, p.String())
	}
	slices.Sort(granted)
	slices.Sort(want)
	if !slices.Equal(granted, want) {
		t.Errorf("deploy/rbac.yaml grants\n%v\ncapture uses\n%v", granted, want)
	}
}

type snapshotResult struct {
	s        *snapshot.Snapshot
	progress [][2]int
}

func TestPermissions_neverReachSecretsOrConfigMapsUnlessAsked(t *testing.T) {
	for _, p := range Permissions() {
		if p.Resource == "secrets" || p.Resource == "configmaps" {
			t.Errorf("Permissions holds %s", p)
		}
	}
	want := []Permission{{"list", "", "configmaps"}, {"list", "", "secrets"}}
	if got := OptionalPermissions(); !slices.Equal(got, want) {
		t.Errorf("OptionalPermissions %v, want %v", got, want)
	}
}
