package e2e

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// kwokctlConfig is the KwokctlConfiguration of every cluster: components on
// 127.0.0.1 only, no QPS limits, a Service range large enough for the
// seed-scale cluster.
//
//go:embed kwok/kwokctl.yaml
var kwokctlConfig []byte

// DefaultStages are the KWOK stages a Cluster uses unless Config.Stages
// says otherwise (see the package documentation for the time model).
//
//go:embed kwok/stages.yaml
var DefaultStages []byte

// Config configures Start.
type Config struct {
	// Name is the cluster's name; empty means a name unique to this
	// process ("noderoll-e2e-<pid>-<n>").
	Name string
	// WorkDir is where the cluster keeps everything it writes
	// (KWOK_WORKDIR): certificates, etcd's data, logs, the kubeconfig.
	// Required; a test passes t.TempDir().
	WorkDir string
	// Binaries are the programs to run; the zero value means
	// FindBinaries("").
	Binaries Binaries
	// Stages, when not nil, replaces DefaultStages: multi-document YAML of
	// kwok.x-k8s.io/v1alpha1 Stage objects. Custom stages replace all of
	// KWOK's, so they must include the node stages.
	Stages []byte
	// StartTimeout bounds how long bringing the cluster up may take; zero
	// means two minutes.
	StartTimeout time.Duration
	// Log receives kwokctl's own output; nil discards it.
	Log io.Writer
}

// Cluster is a running KWOK control plane. Its methods may be called from
// several goroutines.
type Cluster struct {
	// Name is the cluster's name as kwokctl knows it.
	Name string
	// WorkDir is the cluster's KWOK_WORKDIR.
	WorkDir string
	// Kubeconfig is the path of an admin kubeconfig for the cluster.
	Kubeconfig string
	// REST is the admin client configuration, without client-side rate
	// limits.
	REST *rest.Config
	// Client is an admin clientset built from REST.
	Client kubernetes.Interface
	// StartupTime is how long Start took, from running kwokctl to the API
	// server answering and the controllers running.
	StartupTime time.Duration

	bins Binaries
	log  io.Writer

	mu      sync.Mutex
	stopped bool
}

var clusterSeq atomic.Int64

// Start brings a cluster up and waits until the API server answers and the
// controller manager has created the default ServiceAccount. On failure it
// tears down whatever it started and says why, with the end of the
// components' logs.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	if cfg.WorkDir == "" {
		return nil, errors.New("starting cluster: Config.WorkDir is required")
	}
	if cfg.Binaries == (Binaries{}) {
		b, err := FindBinaries("")
		if err != nil {
			return nil, fmt.Errorf("starting cluster: %w", err)
		}
		cfg.Binaries = b
	}
	if cfg.Name == "" {
		cfg.Name = fmt.Sprintf("noderoll-e2e-%d-%d", os.Getpid(), clusterSeq.Add(1))
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 2 * time.Minute
	}
	if cfg.Stages == nil {
		cfg.Stages = DefaultStages
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	workDir, err := filepath.Abs(cfg.WorkDir)
	if err != nil {
		return nil, fmt.Errorf("starting cluster %s: %w", cfg.Name, err)
	}
	c := &Cluster{
		Name:       cfg.Name,
		WorkDir:    workDir,
		Kubeconfig: filepath.Join(workDir, "clusters", cfg.Name, "kubeconfig.yaml"),
		bins:       cfg.Binaries,
		log:        cfg.Log,
	}
	configPath := filepath.Join(workDir, "noderoll-"+cfg.Name+".yaml")
	conf := slices.Concat(kwokctlConfig, []byte("\n---\n"), cfg.Stages)
	if err := os.MkdirAll(workDir, 0o755); err != nil {
		return nil, fmt.Errorf("starting cluster %s: %w", cfg.Name, err)
	}
	if err := os.WriteFile(configPath, conf, 0o644); err != nil {
		return nil, fmt.Errorf("starting cluster %s: %w", cfg.Name, err)
	}

	ctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()
	start := time.Now()
	fail := func(err error) (*Cluster, error) {
		err = fmt.Errorf("starting cluster %s: %w", c.Name, err)
		if tail := c.LogTail(20); tail != "" {
			err = fmt.Errorf("%w\n%s", err, tail)
		}
		if serr := c.Stop(context.Background()); serr != nil {
			err = errors.Join(err, serr)
		}
		return nil, err
	}
	b := cfg.Binaries
	if _, err := c.kwokctl(ctx, "--config", configPath, "create", "cluster",
		"--runtime", "binary",
		"--kube-apiserver-binary", b.KubeAPIServer,
		"--kube-controller-manager-binary", b.KubeControllerManager,
		"--kube-scheduler-binary", b.KubeScheduler,
		"--kwok-controller-binary", b.Kwok,
		"--etcd-binary", b.Etcd,
		"--disable-qps-limits",
		// Never touch the user's ~/.kube/config.
		"--kubeconfig", "",
		"--timeout", cfg.StartTimeout.String(),
		"--wait", cfg.StartTimeout.String(),
	); err != nil {
		return fail(err)
	}
	rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		return fail(fmt.Errorf("reading kubeconfig: %w", err))
	}
	rc.QPS, rc.Burst = -1, 0 // no client-side rate limit
	c.REST = rc
	if c.Client, err = kubernetes.NewForConfig(rc); err != nil {
		return fail(err)
	}
	if err := c.waitUsable(ctx); err != nil {
		return fail(err)
	}
	c.StartupTime = time.Since(start)
	return c, nil
}

// waitUsable waits until the API server is ready and the controller
// manager runs (it creates the default ServiceAccount).
func (c *Cluster) waitUsable(ctx context.Context) error {
	var last error
	err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		body, err := c.Client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err != nil {
			last = fmt.Errorf("API server not ready: %w: %s", err, body)
			return false, nil
		}
		if _, err := c.Client.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{}); err != nil {
			if apierrors.IsNotFound(err) {
				last = errors.New("controller manager has not created the default ServiceAccount yet")
			} else {
				last = err
			}
			return false, nil
		}
		return true, nil
	})
	if err != nil && last != nil {
		return fmt.Errorf("%w (last: %w)", err, last)
	}
	return err
}

// Stop deletes the cluster: it stops every component and removes the
// cluster's directory under WorkDir. Stopping a stopped cluster does
// nothing. It waits for the components to exit; one that has not after
// 15 s is killed, by the process ID kwokctl recorded, and reported.
func (c *Cluster) Stop(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return nil
	}
	pids := c.pids()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	_, err := c.kwokctl(ctx, "delete", "cluster")
	// kwokctl signals the components and returns; give them time to exit.
	deadline := time.Now().Add(15 * time.Second)
	for name, pid := range pids {
		for processAlive(pid) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if processAlive(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			err = errors.Join(err, fmt.Errorf("%s (pid %d) still ran 15 s after kwokctl delete cluster and was killed", name, pid))
		}
	}
	c.stopped = true
	if err != nil {
		return fmt.Errorf("stopping cluster %s: %w", c.Name, err)
	}
	return nil
}

// kwokctl runs kwokctl for this cluster with a clean KWOK_* environment
// and returns its combined output, which is also copied to the log.
func (c *Cluster) kwokctl(ctx context.Context, args ...string) ([]byte, error) {
	args = append([]string{"--name", c.Name}, args...)
	cmd := exec.CommandContext(ctx, c.bins.Kwokctl, args...)
	cmd.Env = append(withoutKwokEnv(os.Environ()),
		"KWOK_WORKDIR="+c.WorkDir,
		"KWOK_KUBECTL_BINARY="+c.bins.Kubectl,
	)
	var out bytes.Buffer
	cmd.Stdout = io.MultiWriter(&out, c.log)
	cmd.Stderr = cmd.Stdout
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("kwokctl %s: %w\n%s", strings.Join(args, " "), err, lastLines(out.String(), 10))
	}
	return out.Bytes(), nil
}

// withoutKwokEnv drops the KWOK_* variables of the caller's environment,
// which would change what kwokctl does.
func withoutKwokEnv(env []string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return strings.HasPrefix(kv, "KWOK_") })
}

// Kubectl runs the kubectl that was built with the control plane against
// the cluster and returns its standard output. The error includes the
// standard error.
func (c *Cluster) Kubectl(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, c.bins.Kubectl, append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// Component is one process of the control plane.
type Component struct {
	// Name is the component's name as kwokctl knows it: etcd,
	// kube-apiserver, kube-controller-manager, kube-scheduler,
	// kwok-controller.
	Name string
	// PID is its process ID.
	PID int
	// RSSBytes is its resident set size now (VmRSS), and PeakRSSBytes the
	// largest it has been (VmHWM).
	RSSBytes, PeakRSSBytes int64
}

// Components returns the running components with their memory use, by
// name.
func (c *Cluster) Components() ([]Component, error) {
	var out []Component
	for name, pid := range c.pids() {
		rss, peak, err := processMemory(pid)
		if err != nil {
			return nil, fmt.Errorf("reading the memory of %s (pid %d): %w", name, pid, err)
		}
		out = append(out, Component{Name: name, PID: pid, RSSBytes: rss, PeakRSSBytes: peak})
	}
	slices.SortFunc(out, func(a, b Component) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// pids returns the process IDs kwokctl recorded, by component.
func (c *Cluster) pids() map[string]int {
	dir := filepath.Join(c.WorkDir, "clusters", c.Name, "pids")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	pids := make(map[string]int)
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".pid")
		if !ok {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && pid > 0 {
			pids[name] = pid
		}
	}
	return pids
}

// processAlive reports whether the process exists and is not a zombie.
func processAlive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses.
	s := string(data)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

// processMemory reads VmRSS and VmHWM from /proc/PID/status.
func processMemory(pid int) (rss, peak int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		fields := strings.Fields(val) // "123456 kB"
		if len(fields) == 0 {
			continue
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %w", key, err)
		}
		if key == "VmRSS" {
			rss = kb << 10
		} else {
			peak = kb << 10
		}
	}
	return rss, peak, sc.Err()
}

// LogTail returns the last n lines of every component's log, each block
// headed by the log's name; "" if there are none.
func (c *Cluster) LogTail(n int) string {
	logs, _ := filepath.Glob(filepath.Join(c.WorkDir, "clusters", c.Name, "logs", "*.log"))
	var b strings.Builder
	for _, path := range logs {
		data, err := os.ReadFile(path)
		if err != nil || len(data) == 0 {
			continue
		}
		fmt.Fprintf(&b, "==> %s <==\n%s\n", filepath.Base(path), lastLines(string(data), n))
	}
	return b.String()
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
