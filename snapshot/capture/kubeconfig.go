package capture

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// ErrNoKubeconfig is returned by RESTConfig when no kubeconfig can be
// found; the message names the paths it looked at.
var ErrNoKubeconfig = errors.New("no kubeconfig")

// RESTConfig resolves --kubeconfig and --context (and the KUBECONFIG
// environment variable and ~/.kube/config, as kubectl does) into a client
// configuration. A kubeconfig that does not exist, or none at all, is
// reported as ErrNoKubeconfig with the path or paths that were looked at
// (unlike kubectl, which then tries http://localhost:8080); a context that
// does not exist is named too. In a pod (KUBERNETES_SERVICE_HOST set) the
// in-cluster configuration is used when no kubeconfig is given.
func RESTConfig(f *genericclioptions.ConfigFlags) (*rest.Config, error) {
	if f.KubeConfig != nil && *f.KubeConfig != "" {
		path := *f.KubeConfig
		if _, err := os.Stat(path); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("%w: kubeconfig %s does not exist", ErrNoKubeconfig, path)
			}
			return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
		}
	}
	if (f.KubeConfig == nil || *f.KubeConfig == "") && os.Getenv("KUBERNETES_SERVICE_HOST") == "" {
		paths := defaultKubeconfigPaths()
		if !slices.ContainsFunc(paths, exists) {
			return nil, fmt.Errorf("%w: --kubeconfig not given and none of %s exists", ErrNoKubeconfig, strings.Join(paths, ", "))
		}
	}
	if raw, err := f.ToRawKubeConfigLoader().RawConfig(); err == nil && len(raw.Clusters) == 0 && os.Getenv("KUBERNETES_SERVICE_HOST") == "" {
		where := strings.Join(defaultKubeconfigPaths(), ", ")
		if f.KubeConfig != nil && *f.KubeConfig != "" {
			where = *f.KubeConfig
		}
		return nil, fmt.Errorf("%w: %s defines no cluster", ErrNoKubeconfig, where)
	}
	rc, err := f.ToRESTConfig()
	switch {
	case err == nil:
		return rc, nil
	case clientcmd.IsEmptyConfig(err):
		return nil, fmt.Errorf("%w: --kubeconfig not given and none of %s exists", ErrNoKubeconfig, strings.Join(defaultKubeconfigPaths(), ", "))
	default:
		return nil, fmt.Errorf("reading kubeconfig: %w", err)
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// defaultKubeconfigPaths returns where kubectl looks for a kubeconfig when
// none is given: the KUBECONFIG list, else ~/.kube/config.
func defaultKubeconfigPaths() []string {
	if env := os.Getenv(clientcmd.RecommendedConfigPathEnvVar); env != "" {
		var paths []string
		for _, p := range filepath.SplitList(env) {
			if p != "" {
				paths = append(paths, p)
			}
		}
		return paths
	}
	return []string{clientcmd.RecommendedHomeFile}
}

// isNetError reports whether err comes from the network rather than from
// the API server.
func isNetError(err error) bool {
	var nerr net.Error
	var operr *net.OpError
	var dnserr *net.DNSError
	return errors.As(err, &nerr) || errors.As(err, &operr) || errors.As(err, &dnserr) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET)
}
