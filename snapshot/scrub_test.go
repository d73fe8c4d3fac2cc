package snapshot

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// planted is the prefix of every value the scrub tests plant where a
// secret may hide.
const planted = "planted-secret-"

// secretPodSpec is a pod spec with a planted value in every field Scrub
// redacts, and the fields the simulator reads beside them.
func secretPodSpec() corev1.PodSpec {
	probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
		HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", HTTPHeaders: []corev1.HTTPHeader{{Name: "Authorization", Value: planted + "probe-header"}}},
	}}
	execProbe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"check", "--token=" + planted + "probe-exec"}}}}
	container := corev1.Container{
		Name: "app", Image: "app:1",
		Command: []string{"/bin/app", "--password=" + planted + "command"},
		Args:    []string{"--token", planted + "args"},
		Env: []corev1.EnvVar{
			{Name: "PASSWORD", Value: planted + "env"},
			{Name: "FROM_SECRET", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "token"}}},
		},
		EnvFrom:        []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "all-creds"}}}},
		Resources:      corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")}},
		LivenessProbe:  probe,
		ReadinessProbe: execProbe,
		Lifecycle: &corev1.Lifecycle{
			PreStop:   &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"logout", planted + "prestop"}}},
			PostStart: &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{HTTPHeaders: []corev1.HTTPHeader{{Name: "X-Key", Value: planted + "poststart"}}}},
		},
	}
	init := container
	init.Name, init.Env = "init", []corev1.EnvVar{{Name: "INIT", Value: planted + "init-env"}}
	init.LivenessProbe, init.ReadinessProbe, init.Lifecycle = nil, nil, nil
	return corev1.PodSpec{
		InitContainers: []corev1.Container{init},
		Containers:     []corev1.Container{container},
		EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
			Name: "debug", Env: []corev1.EnvVar{{Name: "E", Value: planted + "ephemeral-env"}}, Args: []string{planted + "ephemeral-args"}}}},
		Tolerations:  []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "db"}},
		NodeSelector: map[string]string{"pool": "db"},
		Volumes: []corev1.Volume{
			{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data-0"}}},
			{Name: "git", VolumeSource: corev1.VolumeSource{GitRepo: &corev1.GitRepoVolumeSource{Repository: "https://user:" + planted + "git@example.com/r.git"}}},
			{Name: "flex", VolumeSource: corev1.VolumeSource{FlexVolume: &corev1.FlexVolumeSource{Driver: "d", Options: map[string]string{"password": planted + "flex"}}}},
			{Name: "csi", VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: "secrets-store", VolumeAttributes: map[string]string{"key": planted + "csi"}}}},
			{Name: "proj", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}}}}}}},
		},
	}
}

// secretMeta is object metadata with planted annotations beside the ones
// noderoll reads.
func secretMeta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name: name, Namespace: "shop", Labels: map[string]string{"app": "web"},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-1", UID: "u1"}},
		ManagedFields:   []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
		Annotations: map[string]string{
			corev1.LastAppliedConfigAnnotation:           `{"env":"` + planted + `last-applied"}`,
			"example.com/api-key":                        planted + "annotation",
			"vault.hashicorp.com/agent-inject-secret-db": planted + "vault",
			"plain-key":                                      planted + "plain",
			"noderoll.dev/startup-seconds":                   "42",
			"kubernetes.io/config.mirror":                    "abc",
			"cluster-autoscaler.kubernetes.io/safe-to-evict": "false",
			"kwok.x-k8s.io/node":                             "fake",
		},
	}
}

// keptAnnotations are the annotations of secretMeta that Scrub keeps as
// they are.
var keptAnnotations = map[string]string{
	"noderoll.dev/startup-seconds":                   "42",
	"kubernetes.io/config.mirror":                    "abc",
	"cluster-autoscaler.kubernetes.io/safe-to-evict": "false",
	"kwok.x-k8s.io/node":                             "fake",
}

func secretTemplate() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{ObjectMeta: secretMeta(""), Spec: secretPodSpec()}
}

// checkScrubbed fails the test if obj still holds a planted value, or lost
// what the simulator reads.
func checkScrubbed(t *testing.T, obj any) {
	t.Helper()
	data, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	if i := strings.Index(string(data), planted); i >= 0 {
		t.Errorf("a planted value is left: ...%s...", string(data)[max(0, i-80):min(len(data), i+60)])
	}
	for _, kept := range []string{`"app":"web"`, `"cpu":"250m"`, `"claimName":"data-0"`, `"name":"PASSWORD"`,
		`"secretKeyRef":{"name":"creds","key":"token"}`, `"name":"all-creds"`, `"operator":"Equal","value":"db"`,
		`"pool":"db"`, `"example.com/api-key":"` + Redacted + `"`, `"noderoll.dev/startup-seconds":"42"`,
		`"kubernetes.io/config.mirror":"abc"`, `"kwok.x-k8s.io/node":"fake"`, `"kind":"ReplicaSet"`, `"path":"/healthz"`} {
		if strings.Contains(string(data), `"containers"`) && !strings.Contains(string(data), kept) {
			t.Errorf("%s was not kept", kept)
		}
	}
	if strings.Contains(string(data), "managedFields") || strings.Contains(string(data), "last-applied-configuration") {
		t.Errorf("managedFields or the last applied configuration are left")
	}
}

func TestScrubObject_redactsEveryPlantedValueAndKeepsWhatTheSimulatorReads(t *testing.T) {
	for _, tc := range []struct {
		name string
		obj  metav1.Object
	}{
		{"a pod", &corev1.Pod{ObjectMeta: secretMeta("web-0"), Spec: secretPodSpec()}},
		{"a Deployment's template", &appsv1.Deployment{ObjectMeta: secretMeta("web"), Spec: appsv1.DeploymentSpec{Template: secretTemplate()}}},
		{"a ReplicaSet's template", &appsv1.ReplicaSet{ObjectMeta: secretMeta("web-1"), Spec: appsv1.ReplicaSetSpec{Template: secretTemplate()}}},
		{"a StatefulSet's template and claim templates", &appsv1.StatefulSet{ObjectMeta: secretMeta("db"), Spec: appsv1.StatefulSetSpec{
			Template: secretTemplate(), VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: secretMeta("data")}}}}},
		{"a DaemonSet's template", &appsv1.DaemonSet{ObjectMeta: secretMeta("agent"), Spec: appsv1.DaemonSetSpec{Template: secretTemplate()}}},
		{"a Job's template", &batchv1.Job{ObjectMeta: secretMeta("once"), Spec: batchv1.JobSpec{Template: secretTemplate()}}},
		{"a CronJob's job template", &batchv1.CronJob{ObjectMeta: secretMeta("nightly"), Spec: batchv1.CronJobSpec{
			JobTemplate: batchv1.JobTemplateSpec{ObjectMeta: secretMeta(""), Spec: batchv1.JobSpec{Template: secretTemplate()}}}}},
		{"a PersistentVolume's CSI attributes", &corev1.PersistentVolume{ObjectMeta: secretMeta("pv1"), Spec: corev1.PersistentVolumeSpec{
			PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: "d", VolumeAttributes: map[string]string{"k": planted + "pv-csi"}}}}}},
		{"a PersistentVolume's flexVolume options", &corev1.PersistentVolume{ObjectMeta: secretMeta("pv2"), Spec: corev1.PersistentVolumeSpec{
			PersistentVolumeSource: corev1.PersistentVolumeSource{FlexVolume: &corev1.FlexPersistentVolumeSource{Driver: "d", Options: map[string]string{"k": planted + "pv-flex"}}}}}},
		{"a StorageClass's parameters", &storagev1.StorageClass{ObjectMeta: secretMeta("fast"), Provisioner: "p", Parameters: map[string]string{"restuserkey": planted + "sc"}}},
		{"a node's annotations", &corev1.Node{ObjectMeta: secretMeta("n1")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ScrubObject(tc.obj)
			checkScrubbed(t, tc.obj)
			for k, v := range keptAnnotations {
				if got := tc.obj.GetAnnotations()[k]; got != v {
					t.Errorf("annotation %s = %q, want %q kept", k, got, v)
				}
			}
			again, _ := json.Marshal(tc.obj)
			ScrubObject(tc.obj)
			if twice, _ := json.Marshal(tc.obj); string(twice) != string(again) {
				t.Errorf("a second scrub changed the object")
			}
		})
	}
}

func TestScrub_theLoadPathAndSaveKeepNoPlantedValue(t *testing.T) {
	podYAML := `apiVersion: v1
kind: Pod
metadata:
  name: web-0
  namespace: shop
  annotations: {example.com/token: ` + planted + `load-annotation}
spec:
  containers:
  - name: app
    image: app:1
    command: [/bin/app, --password=` + planted + `load-command]
    env: [{name: PASSWORD, value: ` + planted + `load-env}]
`
	for _, tc := range []struct {
		name string
		load func(t *testing.T) *Snapshot
	}{
		{"a kubectl get -o yaml file", func(t *testing.T) *Snapshot {
			s, err := LoadBytes("pods.yaml", []byte(podYAML))
			if err != nil {
				t.Fatal(err)
			}
			return s
		}},
		{"a snapshot built in memory", func(*testing.T) *Snapshot {
			return &Snapshot{
				Nodes: []corev1.Node{{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}},
				Pods:  []corev1.Pod{{ObjectMeta: secretMeta("web-0"), Spec: secretPodSpec()}},
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.load(t)
			path := filepath.Join(t.TempDir(), "s.json")
			if err := s.Save(path); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if i := strings.Index(string(data), planted); i >= 0 {
				t.Errorf("the saved file holds a planted value: ...%s...", string(data)[max(0, i-80):min(len(data), i+60)])
			}
			if !strings.Contains(string(data), Redacted) {
				t.Errorf("the saved file does not say what was redacted")
			}
		})
	}
}
