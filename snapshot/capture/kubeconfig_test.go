package capture

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericclioptions"
)

const kubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: {server: "https://127.0.0.1:6443"}
users:
- name: test
  user: {token: abc}
contexts:
- name: test
  context: {cluster: test, user: test}
current-context: test
`

func TestRESTConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "config")
	if err := os.WriteFile(good, []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	for _, tc := range []struct {
		name        string
		path, ctx   string
		env         string // KUBECONFIG
		wantHost    string
		wantErr     string
		wantMissing bool // errors.Is(err, ErrNoKubeconfig)
	}{
		{name: "an existing kubeconfig gives its server", path: good, wantHost: "https://127.0.0.1:6443"},
		{name: "KUBECONFIG is used when --kubeconfig is not given", env: good, wantHost: "https://127.0.0.1:6443"},
		{name: "a --kubeconfig that does not exist is named", path: missing, wantErr: "kubeconfig " + missing + " does not exist", wantMissing: true},
		{name: "no kubeconfig anywhere names the paths looked at", env: missing, wantErr: "none of " + missing + " exists", wantMissing: true},
		{name: "a context the kubeconfig lacks is named", path: good, ctx: "prod", wantErr: `"prod"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("KUBECONFIG", tc.env)
			t.Setenv("KUBERNETES_SERVICE_HOST", "")
			f := &genericclioptions.ConfigFlags{KubeConfig: &tc.path, Context: &tc.ctx}
			rc, err := RESTConfig(f)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want it to contain %q", err, tc.wantErr)
				}
				if errors.Is(err, ErrNoKubeconfig) != tc.wantMissing {
					t.Errorf("errors.Is(err, ErrNoKubeconfig) = %v, want %v", !tc.wantMissing, tc.wantMissing)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rc.Host != tc.wantHost {
				t.Errorf("host %q, want %q", rc.Host, tc.wantHost)
			}
		})
	}
}
