package analysis

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	. "github.com/noderoll/noderoll/internal/testutil"
	"github.com/noderoll/noderoll/plan"
	"github.com/noderoll/noderoll/snapshot"
)

// found is a risk a case expects: code, object and severity, and words its
// message must contain.
type found struct {
	code, object string
	severity     plan.Severity
	says         []string
}

// missing is a risk a case must not report; an empty object means no risk
// with that code at all.
type missing struct{ code, object string }

type riskCase struct {
	name    string
	cluster *cluster
	opts    PreflightOptions
	want    []found
	absent  []missing
}

func runRiskCases(t *testing.T, cases []riskCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := Preflight(&tc.cluster.snap, tc.opts)
			for _, w := range tc.want {
				k := findRisk(r.Risks, w.code, w.object)
				if k == nil {
					t.Errorf("no %s risk on %s; risks:\n%s", w.code, w.object, dump(r.Risks))
					continue
				}
				if k.Severity != w.severity {
					t.Errorf("%s on %s: severity %s, want %s (%s)", w.code, w.object, k.Severity, w.severity, k.Message)
				}
				if k.Batch != nil {
					t.Errorf("%s on %s: a static risk has batch %d", w.code, w.object, *k.Batch)
				}
				for _, s := range w.says {
					if !strings.Contains(k.Message, s) {
						t.Errorf("%s on %s: message lacks %q:\n%s", w.code, w.object, s, k.Message)
					}
				}
			}
			for _, m := range tc.absent {
				for _, k := range r.Risks {
					if k.Code == m.code && (m.object == "" || k.Object == m.object) {
						t.Errorf("unexpected %s risk on %s: %s", k.Code, k.Object, k.Message)
					}
				}
			}
		})
	}
}

func findRisk(risks []plan.Risk, code, object string) *plan.Risk {
	for i := range risks {
		if risks[i].Code == code && risks[i].Object == object {
			return &risks[i]
		}
	}
	return nil
}

func dump(risks []plan.Risk) string {
	var b strings.Builder
	for _, k := range risks {
		b.WriteString("  " + string(k.Severity) + " " + k.Code + " " + k.Object + ": " + k.Message + "\n")
	}
	return b.String()
}

func TestPreflight_singlePointOfFailure(t *testing.T) {
	const code = plan.RiskSinglePointOfFailure
	runRiskCases(t, []riskCase{
		{name: "a one-replica Deployment behind a Service is a high risk on the Deployment",
			cluster: newCluster(three()...).deployment("web", 1, "n1").service("web", "web"),
			want: []found{{code, "Deployment/default/web", plan.High,
				[]string{"1 desired replica behind Service/default/web", "Run at least 2 replicas"}}},
			absent: []missing{{code, "ReplicaSet/default/web-7d9f8"}}},
		{name: "a one-replica Deployment that no Service selects is a medium risk",
			cluster: newCluster(three()...).deployment("worker", 1, "n1").service("web", "web"),
			want:    []found{{code, "Deployment/default/worker", plan.Medium, []string{"no Service selects it"}}}},
		{name: "a one-replica StatefulSet behind a Service is a high risk that names the StatefulSet's wait",
			cluster: newCluster(three()...).statefulSet("db", 1, "n2").service("db", "db"),
			want:    []found{{code, "StatefulSet/default/db", plan.High, []string{"until the old pod is gone"}}}},
		{name: "a ReplicaSet that no Deployment owns is judged on its own",
			cluster: newCluster(three()...).replicaSet("legacy", 1, "n3").service("legacy", "legacy"),
			want:    []found{{code, "ReplicaSet/default/legacy", plan.High, nil}}},
		{name: "a one-replica workload whose pod is Pending is still one",
			cluster: newCluster(three()...).deployment("web", 1, "").service("web", "web"),
			want:    []found{{code, "Deployment/default/web", plan.High, nil}}},
		{name: "all replicas on one node are a high risk that names the node",
			cluster: newCluster(three()...).deployment("web", 3, "n2", "n2", "n2").service("web", "web").pdb("web", "web", "", "1"),
			want: []found{{code, "Deployment/default/web", plan.High,
				[]string{"all 3 replicas run on node n2", "one node's drain takes the service (Service/default/web) down"}}}},
		{name: "the running replicas of a partly Pending workload all on one node are one",
			cluster: newCluster(three()...).deployment("web", 3, "n1", "n1", ""),
			want:    []found{{code, "Deployment/default/web", plan.High, []string{"all 2 running replicas (of 3 desired) run on node n1"}}}},
		{name: "replicas on different nodes are not one",
			cluster: newCluster(three()...).deployment("web", 3, "n1", "n2", "n3").service("web", "web"),
			absent:  []missing{{code, ""}}},
		{name: "a workload scaled to zero is not one",
			cluster: newCluster(three()...).deployment("web", 0).service("web", "web"),
			absent:  []missing{{code, ""}}},
		{name: "DaemonSets, Jobs and bare pods are never one",
			cluster: newCluster(Node("n1").Obj()).daemonSet("agent").job("backup", "n1").
				pod(Pod("debug").Label("app", "debug").On("n1").Running().Obj()).service("agent", "agent").service("backup", "backup"),
			absent: []missing{{code, ""}}},
	})
}

func TestPreflight_noPDB(t *testing.T) {
	const code = plan.RiskNoPDB
	runRiskCases(t, []riskCase{
		{name: "replicas that no PDB selects are a medium risk with the selector to copy",
			cluster: newCluster(three()...).deployment("web", 3, "n1", "n2", "n3"),
			want:    []found{{code, "Deployment/default/web", plan.Medium, []string{"3 replicas", "maxUnavailable: 1 and selector app=web"}}}},
		{name: "a StatefulSet is covered like a Deployment",
			cluster: newCluster(three()...).statefulSet("db", 2, "n1", "n2"),
			want:    []found{{code, "StatefulSet/default/db", plan.Medium, nil}}},
		{name: "a PDB that selects the pods covers the workload",
			cluster: newCluster(three()...).deployment("web", 3, "n1", "n2", "n3").pdb("web", "web", "", "1"),
			absent:  []missing{{code, ""}}},
		{name: "a PDB covers a workload whose pods are not running yet through its template",
			cluster: newCluster(three()...).deployment("web", 3).pdb("web", "web", "", "1"),
			absent:  []missing{{code, ""}}},
		{name: "a PDB in another namespace covers nothing",
			cluster: func() *cluster {
				c := newCluster(three()...).deployment("web", 3, "n1", "n2", "n3").pdb("web", "web", "", "1")
				c.snap.PodDisruptionBudgets[0].Namespace = "other"
				return c
			}(),
			want: []found{{code, "Deployment/default/web", plan.Medium, nil}}},
		{name: "a single replica is not reported as missing a PDB",
			cluster: newCluster(three()...).deployment("web", 1, "n1"),
			absent:  []missing{{code, ""}}},
	})
}

func TestPreflight_pdbBlocksEviction(t *testing.T) {
	const code = plan.RiskPDBBlocksEviction
	web3 := func() *cluster { return newCluster(three()...).deployment("web", 3, "n1", "n2", "n3") }
	runRiskCases(t, []riskCase{
		{name: "minAvailable equal to the replicas can never allow an eviction: critical, with the numbers",
			cluster: web3().pdb("web", "web", "3", ""),
			want: []found{{code, "PodDisruptionBudget/default/web", plan.Critical,
				[]string{"minAvailable: 3 needs 3 of its 3 pods healthy", "disruptionsAllowed is 3 - 3 = 0", "Set minAvailable: 2"}}}},
		{name: "maxUnavailable 0 can never allow an eviction",
			cluster: web3().pdb("web", "web", "", "0"),
			want:    []found{{code, "PodDisruptionBudget/default/web", plan.Critical, []string{"maxUnavailable: 0", "Set maxUnavailable: 1"}}}},
		{name: "minAvailable 100% can never allow an eviction",
			cluster: web3().pdb("web", "web", "100%", ""),
			want:    []found{{code, "PodDisruptionBudget/default/web", plan.Critical, []string{"(100% of 3, rounded up)"}}}},
		{name: "minAvailable 90% of 9 replicas rounds up to all 9",
			cluster: newCluster(three()...).deployment("web", 9, "n1", "n1", "n1", "n2", "n2", "n2", "n3", "n3", "n3").pdb("web", "web", "90%", ""),
			want: []found{{code, "PodDisruptionBudget/default/web", plan.Critical,
				[]string{"needs 9 of its 9 expected pods healthy (90% of 9, rounded up)", "Use maxUnavailable: 1 instead"}}}},
		{name: "minAvailable 90% of 10 replicas allows one",
			cluster: newCluster(three()...).deployment("web", 10, "n1", "n1", "n1", "n2", "n2", "n2", "n3", "n3", "n3", "n1").pdb("web", "web", "90%", ""),
			absent:  []missing{{code, ""}}},
		{name: "minAvailable 1 on a single replica can never allow an eviction",
			cluster: newCluster(three()...).deployment("web", 1, "n1").pdb("web", "web", "1", ""),
			want:    []found{{code, "PodDisruptionBudget/default/web", plan.Critical, []string{"A single replica cannot be both protected and moved"}}}},
		{name: "maxUnavailable 1 with every pod Ready blocks nothing",
			cluster: web3().pdb("web", "web", "", "1"),
			absent:  []missing{{code, ""}}},
		{name: "a budget that allows none now because a pod is not Ready is high, with the numbers",
			cluster: web3().pdb("web", "web", "2", "").pods("web-7d9f8-2", notReady),
			want: []found{{code, "PodDisruptionBudget/default/web", plan.High,
				[]string{"needs 2 of its 3 pods healthy; 2 are Ready now", "it would be 1 with every pod Ready", "unhealthyPodEvictionPolicy"}}}},
		{name: "a pod selected by two PDBs can never be evicted: critical on its workload",
			cluster: web3().pdb("web", "web", "", "1").pdbSelecting("all", map[string]string{}, "", "50%"),
			want: []found{{code, "Deployment/default/web", plan.Critical,
				[]string{"3 pods are selected by 2 PodDisruptionBudgets (PodDisruptionBudget/default/all, PodDisruptionBudget/default/web)",
					"500", "more than one PodDisruptionBudget"}}}},
		{name: "a percentage over pods of a DaemonSet cannot be computed: critical",
			cluster: newCluster(three()...).daemonSet("agent").pdb("agent", "agent", "", "1"),
			want:    []found{{code, "PodDisruptionBudget/default/agent", plan.Critical, []string{"DaemonSet/default/agent has none (no scale subresource)"}}}},
		{name: "an integer minAvailable over pods of a DaemonSet is computed from the pods",
			cluster: newCluster(three()...).daemonSet("agent").pdb("agent", "agent", "2", ""),
			absent:  []missing{{code, ""}}},
		{name: "maxUnavailable over pods no controller manages expects 0 pods: critical",
			cluster: newCluster(three()...).pod(Pod("debug").Label("app", "debug").On("n1").Running().Obj()).pdb("debug", "debug", "", "1"),
			want:    []found{{code, "PodDisruptionBudget/default/debug", plan.Critical, []string{"no controller manages them"}}}},
		{name: "a PDB that selects no pod blocks nothing",
			cluster: web3().pdb("ghost", "ghost", "", "0"),
			absent:  []missing{{code, ""}}},
	})
}

func TestPreflight_unmanagedPod(t *testing.T) {
	const code = plan.RiskUnmanagedPod
	noForce := plan.DrainOptions{IgnoreDaemonSets: true, DeleteEmptyDirData: true}
	bare := func() *cluster {
		return newCluster(three()...).pod(Pod("debug").On("n2").Running().Obj())
	}
	runRiskCases(t, []riskCase{
		{name: "a bare pod is a high risk on the pod that names its node",
			cluster: bare(),
			want:    []found{{code, "Pod/default/debug", plan.High, []string{"on node n2", "deletes it for good"}}}},
		{name: "a drain without --force refuses the bare pod's node, and says so",
			cluster: bare(), opts: PreflightOptions{Drain: &noForce},
			want: []found{{code, "Pod/default/debug", plan.High, []string{"The drain as configured refuses node n2"}}}},
		{name: "a mirror pod stays with its node",
			cluster: newCluster(three()...).pod(func() *corev1.Pod {
				p := Pod("etcd-n1").On("n1").Running().Obj()
				p.Annotations = map[string]string{corev1.MirrorPodAnnotationKey: "x"}
				return p
			}()),
			absent: []missing{{code, ""}}},
		{name: "a bare pod that has finished is not at risk",
			cluster: bare().pods("debug", func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }),
			absent:  []missing{{code, ""}}},
		{name: "a bare pod bound to no node is not drained",
			cluster: newCluster(three()...).pod(Pod("debug").Obj()),
			absent:  []missing{{code, ""}}},
		{name: "pods with a controller are not unmanaged",
			cluster: newCluster(three()...).deployment("web", 2, "n1", "n2").job("backup", "n3"),
			absent:  []missing{{code, ""}}},
	})
}

func TestPreflight_localStorage(t *testing.T) {
	const code = plan.RiskLocalStorage
	db := func() *cluster { return newCluster(three()...).statefulSet("db", 3, "n1", "n2", "n3") }
	runRiskCases(t, []riskCase{
		{name: "a StatefulSet on local PersistentVolumes is a high risk on the StatefulSet",
			cluster: db().volume("db-0", localDisk("n1")).volume("db-1", localDisk("n2")).volume("db-2", localDisk("n3")),
			want: []found{{code, "StatefulSet/default/db", plan.High,
				[]string{"all 3 pods keep their data on node-local PersistentVolumes", "db-0 on n1 via pv-db-0", "migration"}}}},
		{name: "replicas on local volumes in one zone are taken down together by a zone order",
			cluster: newCluster(Node("n1").Zone("a").Obj(), Node("n2").Zone("a").Obj()).statefulSet("db", 2, "n1", "n2").
				volume("db-0", localDisk("n1")).volume("db-1", localDisk("n2")),
			want: []found{{code, "StatefulSet/default/db", plan.High, []string{"All 2 are in zone a"}}}},
		{name: "some replicas on local volumes are counted",
			cluster: db().volume("db-1", localDisk("n2")),
			want:    []found{{code, "StatefulSet/default/db", plan.High, []string{"1 of 3 pods keep their data"}}}},
		{name: "a hostPath volume is node-local",
			cluster: db().volume("db-0", func(s *corev1.PersistentVolumeSpec) {
				s.HostPath = &corev1.HostPathVolumeSource{Path: "/data"}
			}),
			want: []found{{code, "StatefulSet/default/db", plan.High, []string{"db-0 on n1 via pv-db-0"}}}},
		{name: "a volume whose node affinity names a hostname is node-local",
			cluster: db().volume("db-2", func(s *corev1.PersistentVolumeSpec) {
				s.CSI = &corev1.CSIPersistentVolumeSource{Driver: "topolvm.io", VolumeHandle: "v"}
				s.NodeAffinity = pinnedTo(corev1.LabelHostname, "n3")
			}),
			want: []found{{code, "StatefulSet/default/db", plan.High, nil}}},
		{name: "a zonal volume is not node-local",
			cluster: db().volume("db-0", func(s *corev1.PersistentVolumeSpec) {
				s.CSI = &corev1.CSIPersistentVolumeSource{Driver: "ebs.csi.aws.com", VolumeHandle: "vol-1"}
				s.NodeAffinity = pinnedTo(corev1.LabelTopologyZone, "a")
			}),
			absent: []missing{{code, ""}}},
		{name: "a claim not bound to a volume is not node-local",
			cluster: func() *cluster {
				c := db().volume("db-0", localDisk("n1"))
				c.snap.PersistentVolumeClaims[0].Spec.VolumeName = ""
				return c
			}(),
			absent: []missing{{code, ""}}},
	})
}

func TestPreflight_emptyDirData(t *testing.T) {
	const code = plan.RiskEmptyDirData
	noEmptyDir := plan.DrainOptions{IgnoreDaemonSets: true, Force: true}
	runRiskCases(t, []riskCase{
		{name: "a Deployment whose pods use emptyDir is a medium risk on the Deployment",
			cluster: newCluster(three()...).deployment("web", 2, "n1", "n2").pods("web-", withEmptyDir),
			want: []found{{code, "Deployment/default/web", plan.Medium,
				[]string{"2 pods use emptyDir volumes (scratch)", "--delete-emptydir-data"}}}},
		{name: "a drain without --delete-emptydir-data refuses the nodes: high",
			cluster: newCluster(three()...).deployment("web", 2, "n1", "n2").pods("web-", withEmptyDir),
			opts:    PreflightOptions{Drain: &noEmptyDir},
			want:    []found{{code, "Deployment/default/web", plan.High, []string{"The drain as configured refuses node"}}}},
		{name: "DaemonSet pods stay with their node, emptyDir and all",
			cluster: newCluster(three()...).daemonSet("agent").pods("agent-", withEmptyDir),
			absent:  []missing{{code, ""}}},
		{name: "pods without emptyDir are not at risk",
			cluster: newCluster(three()...).deployment("web", 2, "n1", "n2"),
			absent:  []missing{{code, ""}}},
	})
}

func TestPreflight_unschedulable(t *testing.T) {
	const code = plan.RiskUnschedulable
	runRiskCases(t, []riskCase{
		{name: "a Pending pod is a high risk on its workload, in the scheduler's words",
			cluster: newCluster(three()...).deployment("web", 3, "n1", "n2", ""),
			want: []found{{code, "Deployment/default/web", plan.High,
				[]string{"1 of 3 pods is Pending", `"0/3 nodes are available: 3 Insufficient cpu."`}}}},
		{name: "a Pending bare pod is a risk on the pod",
			cluster: newCluster(three()...).pod(Pod("lonely").Obj()),
			want:    []found{{code, "Pod/default/lonely", plan.High, []string{"the pod is Pending"}}}},
		{name: "bound pods are not Pending",
			cluster: newCluster(three()...).deployment("web", 3, "n1", "n2", "n3"),
			absent:  []missing{{code, ""}}},
	})
}

func TestPreflight_capacityShortfall(t *testing.T) {
	const code = plan.RiskCapacityShortfall
	gpuNode := func(name string) *corev1.Node {
		return Node(name).Zone("a").Label("noderoll.dev/pool", "gpu").Taint("dedicated", "gpu", corev1.TaintEffectNoSchedule).Obj()
	}
	general := func(name, zone string) *corev1.Node {
		return Node(name).Zone(zone).Label("noderoll.dev/pool", "general").Obj()
	}
	gpuPod := func(name, node, cpu string) *corev1.Pod {
		return Pod(name).OwnedBy("Job", name).Req("cpu", cpu).NodeSelector("noderoll.dev/pool", "gpu").
			Toleration("dedicated", "gpu", corev1.TaintEffectNoSchedule).On(node).Running().Obj()
	}
	runRiskCases(t, []riskCase{
		{name: "requests that do not fit once the largest node is out are a high risk on the cluster, with the amount",
			cluster: newCluster(three()...).deploymentCPU("web", 3, "3", "n1", "n2", "n3"),
			want: []found{{code, "Cluster/total", plan.High,
				[]string{"with its largest node (n1: 4 cpu, 16Gi) out", "short by 1 cpu (need 3, free 2)"}}}},
		{name: "a tenth of the nodes is taken out at once",
			cluster: newCluster(Node("n01").Obj(), Node("n02").Obj(), Node("n03").Obj(), Node("n04").Obj(), Node("n05").Obj(),
				Node("n06").Obj(), Node("n07").Obj(), Node("n08").Obj(), Node("n09").Obj(), Node("n10").Obj(), Node("n11").Obj()).
				deploymentCPU("web", 11, "3500m", "n01", "n02", "n03", "n04", "n05", "n06", "n07", "n08", "n09", "n10", "n11"),
			want: []found{{code, "Cluster/total", plan.High, []string{"its 2 largest nodes (of 11: n01, n02)", "short by 2.5 cpu (need 7, free 4.5)"}}}},
		{name: "requests that fit in the rest are no risk",
			cluster: newCluster(three()...).deploymentCPU("web", 3, "1", "n1", "n2", "n3").daemonSet("agent"),
			absent:  []missing{{code, ""}}},
		{name: "DaemonSet pods leave with their node and need no room",
			cluster: newCluster(three()...).deploymentCPU("web", 2, "300m", "n2", "n3").daemonSet("agent").
				pods("agent-", func(p *corev1.Pod) {
					p.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU] = resource.MustParse("3500m")
				}),
			absent: []missing{{code, ""}}},
		{name: "a tainted single-node pool whose pods select it is a high risk on the pool",
			cluster: newCluster(general("n1", "a"), general("n2", "b"), gpuNode("g1")).pod(gpuPod("train", "g1", "1")),
			want: []found{{code, "NodePool/gpu", plan.High,
				[]string{"1 pod can only run in node pool gpu", "tolerates dedicated=gpu:NoSchedule", "a single node, g1"}}},
			absent: []missing{{code, "Cluster/total"}, {code, "Zone/a"}}},
		{name: "a tainted pool with room on its other node is no risk",
			cluster: newCluster(general("n1", "a"), gpuNode("g1"), gpuNode("g2")).pod(gpuPod("train", "g1", "1")),
			absent:  []missing{{code, ""}}},
		{name: "a tainted pool nearly full whose pods cannot leave is a high risk",
			cluster: newCluster(general("n1", "a"), gpuNode("g1"), gpuNode("g2")).
				pod(gpuPod("train-1", "g1", "3700m")).pod(gpuPod("train-2", "g2", "3700m")),
			want: []found{{code, "NodePool/gpu", plan.High, []string{"its pods request 92% of its allocatable cpu (above 90%)"}}}},
		{name: "pods that tolerate the taint but may run elsewhere are not pinned to the pool",
			cluster: newCluster(general("n1", "a"), general("n2", "b"), gpuNode("g1")).
				pod(Pod("flex").OwnedBy("Job", "flex").Req("cpu", "1").Toleration("dedicated", "gpu", corev1.TaintEffectNoSchedule).On("g1").Running().Obj()),
			absent: []missing{{code, ""}}},
	})
}

func TestPreflight_risksAreSortedWorstFirstAndOnePerObject(t *testing.T) {
	c := newCluster(three()...).deployment("web", 3, "n1", "n1", "n1").pods("web-", withEmptyDir).
		deployment("api", 1, "n2").service("api", "api").pdb("api", "api", "1", "").
		pod(Pod("debug").On("n3").Running().Obj())
	r := Preflight(&c.snap, PreflightOptions{})
	if !slices.IsSortedFunc(r.Risks, compareRisks) {
		t.Errorf("risks are not sorted worst first:\n%s", dump(r.Risks))
	}
	seen := map[string]bool{}
	for _, k := range r.Risks {
		key := k.Code + " " + k.Object
		if seen[key] {
			t.Errorf("two %s risks on %s", k.Code, k.Object)
		}
		seen[key] = true
	}
	if r.Risks[0].Severity != plan.Critical || r.Risks[len(r.Risks)-1].Severity != plan.Medium {
		t.Errorf("want critical first and medium last:\n%s", dump(r.Risks))
	}
}

func TestPreflight_overview(t *testing.T) {
	c := newCluster(three()...).
		deployment("web", 3, "n1", "n2", "n3").pdb("web", "web", "", "1").
		deployment("api", 2, "n1", "n2").
		statefulSet("db", 1, "n3").
		daemonSet("agent").job("backup", "n1").
		pod(Pod("debug").On("n1").Running().Obj()).
		pod(Pod("done").On("n1").Obj())
	c.snap.Pods[len(c.snap.Pods)-1].Status.Phase = corev1.PodSucceeded
	o := Preflight(&c.snap, PreflightOptions{}).Snapshot
	if o.Nodes != 3 || o.Pods != 12 || o.PDBs != 1 {
		t.Errorf("nodes %d, pods %d, pdbs %d: want 3, 12, 1", o.Nodes, o.Pods, o.PDBs)
	}
	want := map[string]int{"Deployment": 2, "StatefulSet": 1, "DaemonSet": 1, "Job": 1, "BarePod": 1}
	if len(o.Workloads) != len(want) || o.WorkloadTotal() != 6 {
		t.Errorf("workloads %v, want %v", o.Workloads, want)
	}
	for k, n := range want {
		if o.Workloads[k] != n {
			t.Errorf("workloads[%s] = %d, want %d", k, o.Workloads[k], n)
		}
	}
	if o.PDBCoverage != (PDBCoverage{Workloads: 2, Covered: 1, Percent: 50}) {
		t.Errorf("PDB coverage %+v, want 1 of 2 (50%%)", o.PDBCoverage)
	}
	if o.Fingerprint != c.snap.Fingerprint() || len(o.Capacity.Zones) != 3 {
		t.Errorf("fingerprint %q, zones %+v", o.Fingerprint, o.Capacity.Zones)
	}
}

func TestReport_countAndParseSeverity(t *testing.T) {
	r := Report{Risks: []plan.Risk{{Severity: plan.Critical}, {Severity: plan.High}, {Severity: plan.Medium}, {Severity: plan.Medium}}}
	for _, tc := range []struct {
		sev  string
		want int
	}{{"critical", 1}, {"high", 2}, {"medium", 4}, {"low", 4}} {
		s, err := ParseSeverity(tc.sev)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Count(s); got != tc.want {
			t.Errorf("Count(%s) = %d, want %d", tc.sev, got, tc.want)
		}
	}
	if _, err := ParseSeverity("urgent"); err == nil {
		t.Error("ParseSeverity accepts an unknown severity")
	}
}

func TestPreflightOptions_validate(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts PreflightOptions
		ok   bool
	}{
		{"the zero value asks for the defaults", PreflightOptions{}, true},
		{"a fraction of one is all the nodes", PreflightOptions{NodesOutFraction: 1, FullFraction: 1}, true},
		{"a negative fraction is refused", PreflightOptions{NodesOutFraction: -0.1}, false},
		{"a full fraction above one is refused", PreflightOptions{FullFraction: 1.5}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.opts.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate() = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

// TestPreflightListsTheControllersItAssumes: pods whose controller the
// snapshot lacks (an operator's custom resource) are not reported as
// unmanaged; their owner kinds are counted and each is named once.
func TestPreflightListsTheControllersItAssumes(t *testing.T) {
	snap := &snapshot.Snapshot{Nodes: []corev1.Node{*Node("n1").Obj()}}
	for i := range 2 {
		p := Pod(fmt.Sprintf("broker-%d", i)).OwnedBy("Kafka", "broker").On("n1").Running().Obj()
		snap.Pods = append(snap.Pods, *p)
	}
	r := Preflight(snap, PreflightOptions{})
	if got := r.Snapshot.AssumedControllers; len(got) != 1 || got["Kafka"] != 1 {
		t.Fatalf("assumed controllers %v, want map[Kafka:1]", got)
	}
	var assumed, unmanaged int
	for _, k := range r.Risks {
		switch k.Code {
		case plan.RiskAssumedController:
			assumed++
			if k.Object != "Kafka/default/broker" || !strings.Contains(k.Message, "2 pods") {
				t.Errorf("risk %+v", k)
			}
		case plan.RiskUnmanagedPod:
			unmanaged++
		}
	}
	if assumed != 1 || unmanaged != 0 {
		t.Fatalf("want one AssumedController and no UnmanagedPod, got %d and %d: %+v", assumed, unmanaged, r.Risks)
	}
}
