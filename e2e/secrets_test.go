package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/noderoll/noderoll/snapshot"
	"github.com/noderoll/noderoll/snapshot/capture"
)

// plantedSecrets are the values TestCaptureKeepsNoPlantedSecret puts where
// secrets hide, by where they are put.
var plantedSecrets = map[string]string{
	"Secret data":                    "e2e-planted-secret-data-6f1c",
	"ConfigMap data":                 "e2e-planted-configmap-data-2b9d",
	"env value":                      "e2e-planted-env-value-91aa",
	"command":                        "e2e-planted-command-token-44e0",
	"args":                           "e2e-planted-args-token-c3d2",
	"probe httpHeaders":              "e2e-planted-probe-header-7b15",
	"preStop exec":                   "e2e-planted-prestop-exec-0d8e",
	"pod-template annotation":        "e2e-planted-template-annotation-5a71",
	"pod annotation":                 "e2e-planted-pod-annotation-e6b3",
	"last-applied-configuration":     "e2e-planted-last-applied-8c2f",
	"template last-applied":          "e2e-planted-template-last-applied-19fe",
	"StorageClass parameters":        "e2e-planted-storageclass-param-a4c0",
	"PersistentVolume CSI attribute": "e2e-planted-pv-csi-attribute-3e77",
	"inline CSI attribute":           "e2e-planted-inline-csi-attribute-d012",
	"gitRepo URL":                    "e2e-planted-gitrepo-credential-55b9",
}

// TestCaptureKeepsNoPlantedSecret plants secret values everywhere a
// cluster may hold them (Secrets and ConfigMaps, referenced through env
// valueFrom, envFrom and a projected volume; env values, command lines,
// probe headers, annotations and last-applied configurations of a
// Deployment, its template and a pod; StorageClass parameters and CSI
// attributes), captures the cluster as a user bound to exactly the
// ClusterRole of deploy/rbac.yaml, asking for ConfigMap and Secret counts
// it is not allowed, and greps the saved snapshot, plain and compressed,
// for each value: none may appear.
func TestCaptureKeepsNoPlantedSecret(t *testing.T) {
	start := time.Now()
	c := NewTestCluster(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	role := shippedCaptureRole(t)
	for _, r := range role.Rules {
		if slices.Contains(r.Resources, "secrets") || slices.Contains(r.Resources, "configmaps") || slices.Contains(r.Resources, "*") {
			t.Fatalf("deploy/rbac.yaml: the capture role has a rule on secrets or configmaps: %+v", r)
		}
	}
	const user = "secret-capturer"
	if _, err := c.Client.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating ClusterRole %s: %v", role.Name, err)
	}
	if _, err := c.Client.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: user},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("binding %s: %v", user, err)
	}
	plantSecrets(ctx, t, c)

	rc := rest.CopyConfig(c.REST)
	rc.Impersonate = rest.ImpersonationConfig{UserName: user}
	var s *snapshot.Snapshot
	var err error
	for range 20 { // RBAC caches bindings briefly
		if s, err = capture.Capture(ctx, capture.Config{REST: rc, CountConfigMapsAndSecrets: true}); err == nil {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("capture as %s with the shipped role: %v", user, err)
	}
	if want := []string{"ConfigMap", "Secret"}; !slices.Equal(s.Uncounted, want) {
		t.Errorf("uncounted %v, want %v: the shipped role may not list them", s.Uncounted, want)
	}
	if len(s.Pods) == 0 || len(s.Deployments) == 0 || len(s.StorageClasses) == 0 || len(s.PersistentVolumes) == 0 {
		t.Fatalf("captured %d pods, %d deployments, %d storage classes, %d volumes: want the planted objects",
			len(s.Pods), len(s.Deployments), len(s.StorageClasses), len(s.PersistentVolumes))
	}

	dir := t.TempDir()
	for _, name := range []string{"capture.json", "capture.json.gz"} {
		path := filepath.Join(dir, name)
		if err := s.Save(path); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, ".gz") {
			loaded, err := snapshot.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if data, err = json.Marshal(loaded); err != nil {
				t.Fatal(err)
			}
		}
		t.Run("the saved "+name+" holds no planted value", func(t *testing.T) {
			for where, v := range plantedSecrets {
				for _, form := range []string{v, base64.StdEncoding.EncodeToString([]byte(v))} {
					if bytes.Contains(data, []byte(form)) {
						t.Errorf("the %s planted in the cluster is in %s", where, name)
					}
				}
			}
			if !bytes.Contains(data, []byte(snapshot.Redacted)) {
				t.Errorf("%s does not say what was redacted", name)
			}
		})
	}
	t.Logf("planted %d values, found none; the test took %v with the cluster's start", len(plantedSecrets), time.Since(start).Round(time.Millisecond))
}

// shippedCaptureRole reads the ClusterRole noderoll-capture from
// deploy/rbac.yaml.
func shippedCaptureRole(t *testing.T) *rbacv1.ClusterRole {
	t.Helper()
	data, err := os.ReadFile("../deploy/rbac.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for doc := range strings.SplitSeq(string(data), "\n---\n") {
		var role rbacv1.ClusterRole
		if err := yaml.Unmarshal([]byte(doc), &role); err != nil {
			t.Fatalf("deploy/rbac.yaml: %v", err)
		}
		if role.Kind == "ClusterRole" && role.Name == "noderoll-capture" {
			return &role
		}
	}
	t.Fatal("deploy/rbac.yaml: no ClusterRole noderoll-capture")
	return nil
}

// plantSecrets creates the objects of TestCaptureKeepsNoPlantedSecret.
func plantSecrets(ctx context.Context, t *testing.T, c *Cluster) {
	t.Helper()
	const ns = "vault"
	p := plantedSecrets
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("creating %s: %v", what, err)
		}
	}
	_, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	must("namespace", err)
	_, err = c.Client.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds"},
		Data: map[string][]byte{"token": []byte(p["Secret data"])}}, metav1.CreateOptions{})
	must("Secret", err)
	_, err = c.Client.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings"},
		Data: map[string]string{"dsn": p["ConfigMap data"]}}, metav1.CreateOptions{})
	must("ConfigMap", err)

	spec := corev1.PodSpec{
		Containers: []corev1.Container{{
			Name: "app", Image: "app:1",
			Command: []string{"/bin/app", "--password=" + p["command"]},
			Args:    []string{"--token", p["args"]},
			Env: []corev1.EnvVar{
				{Name: "PASSWORD", Value: p["env value"]},
				{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "token"}}},
				{Name: "DSN", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}, Key: "dsn"}}},
			},
			EnvFrom: []corev1.EnvFromSource{
				{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}}},
				{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}},
			},
			LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Path: "/healthz", Port: intstr.FromInt32(8080), HTTPHeaders: []corev1.HTTPHeader{{Name: "Authorization", Value: p["probe httpHeaders"]}}}}},
			Lifecycle: &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{
				Command: []string{"logout", p["preStop exec"]}}}},
			VolumeMounts: []corev1.VolumeMount{{Name: "creds", MountPath: "/creds"}},
		}},
		Volumes: []corev1.Volume{
			{Name: "creds", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}}},
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}},
			}}}},
			{Name: "inline", VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: "secrets-store.csi.k8s.io",
				VolumeAttributes: map[string]string{"objects": p["inline CSI attribute"]}}}},
			{Name: "git", VolumeSource: corev1.VolumeSource{GitRepo: &corev1.GitRepoVolumeSource{
				Repository: "https://bot:" + p["gitRepo URL"] + "@git.example.com/r.git"}}},
		},
	}
	lastApplied := func(v string) string {
		return `{"apiVersion":"apps/v1","kind":"Deployment","spec":{"template":{"spec":{"containers":[{"env":[{"name":"PASSWORD","value":"` + v + `"}]}]}}}}`
	}
	labels := map[string]string{"app": "vault-client"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "vault-client", Labels: labels,
			Annotations: map[string]string{corev1.LastAppliedConfigAnnotation: lastApplied(p["last-applied-configuration"])}},
		Spec: appsv1.DeploymentSpec{
			Replicas: new(int32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{
					"example.com/api-key":              p["pod-template annotation"],
					corev1.LastAppliedConfigAnnotation: lastApplied(p["template last-applied"]),
				}},
				Spec: spec,
			},
		},
	}
	_, err = c.Client.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{})
	must("Deployment", err)
	_, err = c.Client.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "bare", Annotations: map[string]string{"example.com/session": p["pod annotation"]}},
		Spec:       spec,
	}, metav1.CreateOptions{})
	must("Pod", err)
	_, err = c.Client.StorageV1().StorageClasses().Create(ctx, &storagev1.StorageClass{
		ObjectMeta: metav1.ObjectMeta{Name: "planted"}, Provisioner: "example.com/nfs",
		Parameters: map[string]string{"restuserkey": p["StorageClass parameters"]},
	}, metav1.CreateOptions{})
	must("StorageClass", err)
	_, err = c.Client.CoreV1().PersistentVolumes().Create(ctx, &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "planted"},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:    corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{
				Driver: "csi.example.com", VolumeHandle: "v1", VolumeAttributes: map[string]string{"password": p["PersistentVolume CSI attribute"]}}},
		},
	}, metav1.CreateOptions{})
	must("PersistentVolume", err)
	// The Deployment's ReplicaSet carries the template too: wait for it.
	deadline := time.Now().Add(time.Minute)
	for {
		rs, err := c.Client.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
		if err == nil && len(rs.Items) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ReplicaSet for the Deployment after a minute (%v)", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
