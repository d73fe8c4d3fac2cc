package synth

import (
	"fmt"
	"math"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// size is a catalogue entry: millicores and MiB.
type size struct{ cpu, mem int64 }

// Request catalogues by role. They set the shape of the pods (their
// CPU:memory ratios and relative sizes); sizing scales them so that the
// cluster lands at its target utilisation.
var (
	sizesAPI      = []size{{250, 512}, {500, 1024}, {250, 256}, {500, 768}}
	sizesWeb      = []size{{100, 128}, {100, 256}, {200, 256}}
	sizesWorker   = []size{{500, 512}, {1000, 2048}, {250, 1024}, {500, 2048}}
	sizesCache    = []size{{250, 2048}, {500, 4096}}
	sizesAdmin    = []size{{50, 128}, {100, 128}}
	sizesDatabase = []size{{1000, 4096}, {2000, 8192}, {500, 2048}}
	sizesBatch    = []size{{2000, 8192}, {4000, 16384}, {1000, 4096}}
	sizesJob      = []size{{500, 1024}, {1000, 2048}}
	sizeSidecar   = size{50, 64}
	sizeInit      = size{50, 64}
)

var datastoreImages = map[string]string{
	"postgres": "docker.io/library/postgres:16.4", "redis": "docker.io/library/redis:7.2.5",
	"kafka": "docker.io/bitnami/kafka:3.8.0", "zookeeper": "docker.io/bitnami/zookeeper:3.9.2",
	"elasticsearch": "docker.elastic.co/elasticsearch/elasticsearch:8.15.0", "mongodb": "docker.io/library/mongo:7.0.12",
	"rabbitmq": "docker.io/library/rabbitmq:3.13.6", "etcd": "quay.io/coreos/etcd:v3.5.15",
	"cassandra": "docker.io/library/cassandra:4.1.6", "minio": "quay.io/minio/minio:RELEASE.2024-08-03T04-33-23Z",
	"clickhouse": "docker.io/clickhouse/clickhouse-server:24.8", "nats": "docker.io/library/nats:2.10.18",
}

func sizesFor(role string) []size {
	switch role {
	case "web", "frontend":
		return sizesWeb
	case "worker", "consumer", "processor", "scheduler":
		return sizesWorker
	case "cache":
		return sizesCache
	case "admin":
		return sizesAdmin
	}
	return sizesAPI
}

// budgets splits the tenant pods over the workload kinds.
type budgets struct {
	deploy, sts, batchJobs, batchDeploy, jobs, crons, bare int
}

func splitTenantPods(r int) budgets {
	round := func(f float64) int { return int(math.Round(f)) }
	b := budgets{
		bare:   max(1, round(float64(r)*0.0005)),
		crons:  max(2, round(float64(r)/6000)),
		jobs:   max(2, round(float64(r)*0.01)),
		sts:    max(6, round(float64(r)*0.04)),
		deploy: 0,
	}
	batch := max(6, round(float64(r)*0.04))
	b.batchJobs = batch * 3 / 5
	b.batchDeploy = batch - b.batchJobs
	b.deploy = r - b.bare - b.crons - b.jobs - b.sts - b.batchJobs - b.batchDeploy
	return b
}

// untaintedNodes counts the nodes every tenant workload may use, and
// localNodes those with local disks.
func (g *generator) untaintedNodes() (all, local int) {
	for _, ni := range g.nodes {
		if !ni.pool.tainted {
			all++
			if ni.pool.localSSD {
				local++
			}
		}
	}
	return all, local
}

// planTenants plans the tenant workloads so that the pod total is exactly
// the configured one.
func (g *generator) planTenants() error {
	r := g.p.pods - g.plannedPods()
	if r < minTenantPods {
		return fmt.Errorf("%w: %d pods leave %d for tenants after the add-ons on %d nodes, need at least %d",
			ErrBadConfig, g.p.pods, r, g.p.nodes, minTenantPods)
	}
	b := splitTenantPods(r)

	// Deployments, the first one of each tenant round-robin so that no
	// tenant is empty, then by tenant weight.
	for i, left := 0, b.deploy; left > 0; i++ {
		ns := g.pickTenant()
		if i < len(g.tenants) {
			ns = g.tenants[i]
		}
		w := g.planDeployment(ns, min(left, g.drawReplicas()))
		left -= w.replicas
	}
	for i, left := 0, b.sts; left > 0; i++ {
		st := storageZonal
		if i == 0 || (i > 1 && g.rng.Float64() < 0.35) {
			st = storageLocal
		}
		w := g.planStatefulSet(g.pickTenant(), min(left, g.drawStatefulReplicas()), st)
		left -= w.replicas
	}
	for left := b.batchJobs; left > 0; {
		w := g.planJob(g.pickTenant(), min(left, 2+g.rng.IntN(11)), true)
		left -= w.replicas
	}
	for left := b.batchDeploy; left > 0; {
		w := g.planBatchDeployment(g.pickTenant(), min(left, 2+g.rng.IntN(7)))
		left -= w.replicas
	}
	for left := b.jobs; left > 0; {
		w := g.planJob(g.pickTenant(), min(left, 1+g.rng.IntN(3)), false)
		left -= w.replicas
	}
	for range b.crons {
		g.planCronJob(g.pickTenant())
	}
	for range b.bare {
		g.planBarePod(g.pickTenant())
	}
	g.ensureVariety()
	for _, w := range g.workloads {
		if w.serviceAcct != "" {
			w.ns.serviceAccounts[w.serviceAcct] = true
		}
	}
	return nil
}

// pickTenant draws a tenant namespace by weight.
func (g *generator) pickTenant() *nsInfo {
	total := 0.0
	for _, ns := range g.tenants {
		total += ns.weight
	}
	x := g.rng.Float64() * total
	for _, ns := range g.tenants {
		x -= ns.weight
		if x < 0 {
			return ns
		}
	}
	return g.tenants[len(g.tenants)-1]
}

// drawReplicas draws a Deployment's replica count: mostly 2-3, some single
// replicas, a tail of large services.
func (g *generator) drawReplicas() int {
	switch x := g.rng.Float64(); {
	case x < 0.12:
		return 1
	case x < 0.37:
		return 2
	case x < 0.67:
		return 3
	case x < 0.77:
		return 4
	case x < 0.87:
		return 5 + g.rng.IntN(2)
	case x < 0.97:
		return 8 + g.rng.IntN(5)
	default:
		return 16 + g.rng.IntN(15)
	}
}

func (g *generator) drawStatefulReplicas() int {
	switch x := g.rng.Float64(); {
	case x < 0.60:
		return 3
	case x < 0.75:
		return 1
	case x < 0.90:
		return 5
	default:
		return 2
	}
}

// tenantCreated draws a workload's creation time in its namespace's life.
func (g *generator) tenantCreated(ns *nsInfo) time.Time {
	return g.between(ns.created.Add(time.Hour), g.takenAt.Add(-20*24*time.Hour))
}

func (g *generator) version() string {
	return fmt.Sprintf("1.%d.%d", g.rng.IntN(30), g.rng.IntN(20))
}

func (g *generator) mainContainer(w *workload, name, image string, s size, port int32) *container {
	c := &container{name: name, image: image, cpuBase: s.cpu, memBase: s.mem, probePort: port}
	if port > 0 {
		c.ports = []corev1.ContainerPort{tcp("http", port)}
	}
	c.cpuLimit = g.rng.Float64() < 0.4
	w.containers = append(w.containers, c)
	return c
}

// planDeployment plans a tenant Deployment with its features drawn from
// the profile's shares.
func (g *generator) planDeployment(ns *nsInfo, replicas int) *workload {
	comp, role := g.pick(components), g.pick(roles)
	w := g.newWorkload(kindDeployment, ns, comp+"-"+role, g.tenantCreated(ns))
	w.component, w.role, w.replicas = comp, role, replicas
	w.labels["app.kubernetes.io/part-of"] = comp
	w.labels["app.kubernetes.io/component"] = role
	w.labels["app.kubernetes.io/version"] = g.version()
	sizes := sizesFor(role)
	w.selfAffinity = g.rng.Float64() < 0.015
	if w.selfAffinity {
		w.replicas = min(replicas, 2+g.rng.IntN(2))
		sizes = sizesWeb
	}
	g.mainContainer(w, comp, fmt.Sprintf("registry.example.com/%s/%s:%s", ns.name, w.name, w.labels["app.kubernetes.io/version"]), sizes[g.rng.IntN(len(sizes))], 8080)
	if !w.selfAffinity {
		untainted, _ := g.untaintedNodes()
		switch x := g.rng.Float64(); {
		case x < 0.08 && w.replicas >= 2 && w.replicas <= min(6, untainted/2):
			w.anti = affinityRequired
		case x < 0.33:
			w.anti = affinityPreferred
		}
		if w.replicas >= 2 {
			switch x := g.rng.Float64(); {
			case x < 0.22:
				w.zoneSpread = corev1.DoNotSchedule
			case x < 0.37:
				w.zoneSpread = corev1.ScheduleAnyway
			}
		}
		w.hostSpread = g.rng.Float64() < 0.05
	}
	g.commonFeatures(w)
	if g.rng.Float64() < 0.05 {
		w.priorityClass = pcTenantCritical
	}
	w.oldRevisions = g.rng.IntN(3)
	switch x := g.rng.Float64(); {
	case x < 0.15:
		w.grace = 60
	case x < 0.20:
		w.grace = 10
	}
	worker := role == "worker" || role == "consumer" || role == "processor" || role == "scheduler"
	if !worker || g.rng.Float64() < 0.5 {
		ports := []servicePort{{"http", 80, 8080}}
		if role == "grpc" {
			ports = []servicePort{{"grpc", 9090, 8080}}
		}
		w.services = append(w.services, &svcPlan{name: w.name, ports: servicePorts(ports)})
	}
	g.planPDB(w)
	return w
}

// commonFeatures draws what every tenant pod template may have: emptyDir
// scratch space, a sidecar, an init container, its QoS class and its
// ServiceAccount.
func (g *generator) commonFeatures(w *workload) {
	w.emptyDir = g.rng.Float64() < 0.30
	switch x := g.rng.Float64(); {
	case x < 0.03 && w.kind == kindDeployment:
		w.qos = qosBestEffort
	case x < 0.18:
		w.qos = qosGuaranteed
	}
	if w.qos != qosBestEffort && g.rng.Float64() < 0.20 {
		w.containers = append(w.containers, &container{name: "envoy", image: "docker.io/envoyproxy/envoy:v1.31.0", cpuBase: sizeSidecar.cpu, memBase: sizeSidecar.mem,
			ports: []corev1.ContainerPort{tcp("envoy-admin", 9901)}})
	}
	if w.qos != qosBestEffort && g.rng.Float64() < 0.10 {
		w.inits = append(w.inits, &container{name: "wait-for-deps", image: "docker.io/library/busybox:1.36", cpuBase: sizeInit.cpu, memBase: sizeInit.mem,
			args: []string{"sh", "-c", "until nslookup " + w.ns.name + "-config; do sleep 2; done"}})
	}
	if w.qos == qosBestEffort {
		for _, c := range w.containers {
			c.cpuBase, c.memBase = 0, 0
		}
	}
	if g.rng.Float64() < 0.6 {
		w.serviceAcct = w.name
	}
}

// planStatefulSet plans a tenant datastore on zonal or node-local volumes.
func (g *generator) planStatefulSet(ns *nsInfo, replicas int, st storageKind) *workload {
	comp, ds := g.pick(components), g.pick(datastores)
	w := g.newWorkload(kindStatefulSet, ns, comp+"-"+ds, g.tenantCreated(ns))
	w.component, w.role, w.replicas = comp, ds, replicas
	w.labels["app.kubernetes.io/part-of"] = comp
	w.labels["app.kubernetes.io/component"] = "database"
	w.storage, w.claimName = st, "data"
	w.storageGi = []int64{10, 20, 50, 100, 200}[g.rng.IntN(5)]
	s := sizesDatabase[g.rng.IntN(len(sizesDatabase))]
	g.mainContainer(w, ds, datastoreImages[ds], s, 0).ports = []corev1.ContainerPort{tcp(ds, 5432)}
	eligible, local := g.untaintedNodes()
	if st == storageLocal {
		w.nodeSelector = map[string]string{labelLocalSSD: "true"}
		eligible = local
	}
	switch x := g.rng.Float64(); {
	case x < 0.5 && replicas <= eligible/2 && (st == storageLocal || replicas <= len(zones)):
		// Zonal volumes pin ordinal i to zone i mod 3: one replica per
		// zone keeps required anti-affinity satisfiable on small clusters.
		w.anti = affinityRequired
	case x < 0.8:
		w.anti = affinityPreferred
	}
	if replicas >= 2 && g.rng.Float64() < 0.3 {
		w.zoneSpread = corev1.DoNotSchedule
	}
	w.parallel = g.rng.Float64() < 0.3
	w.grace = 60 + 30*int64(g.rng.IntN(3))
	g.commonFeatures(w)
	// Datastores on local disks are their tenants' critical services: they
	// get the high class, and so their node before the pool fills up.
	if st == storageLocal || g.rng.Float64() < 0.2 {
		w.priorityClass = pcTenantCritical
	}
	w.services = append(w.services, &svcPlan{name: w.name + "-headless", headless: true, ports: servicePorts([]servicePort{{ds, 5432, 5432}})})
	if g.rng.Float64() < 0.8 {
		w.services = append(w.services, &svcPlan{name: w.name, ports: servicePorts([]servicePort{{ds, 5432, 5432}})})
	}
	g.planPDB(w)
	return w
}

// planBatchDeployment plans long-running executors on the tainted batch
// pool: they tolerate its taint and select it.
func (g *generator) planBatchDeployment(ns *nsInfo, replicas int) *workload {
	comp := g.pick(components)
	w := g.newWorkload(kindDeployment, ns, comp+"-executor", g.tenantCreated(ns))
	w.component, w.role, w.replicas, w.group = comp, "executor", replicas, groupBatch
	w.labels["app.kubernetes.io/part-of"] = comp
	w.labels["app.kubernetes.io/component"] = "executor"
	w.nodeSelector = map[string]string{labelPool: batchPool}
	w.tolerations = []corev1.Toleration{batchToleration}
	g.mainContainer(w, "executor", fmt.Sprintf("registry.example.com/%s/%s:%s", ns.name, w.name, g.version()), sizesBatch[g.rng.IntN(len(sizesBatch))], 0)
	w.anti = affinityPreferred
	w.emptyDir = true
	w.oldRevisions = g.rng.IntN(2)
	return w
}

// planJob plans a running Job, on the batch pool or the general pools.
func (g *generator) planJob(ns *nsInfo, parallelism int, batch bool) *workload {
	comp, task := g.pick(components), g.pick(jobTasks)
	w := g.newWorkload(kindJob, ns, comp+"-"+task, g.between(g.takenAt.Add(-6*time.Hour), g.takenAt.Add(-10*time.Minute)))
	w.component, w.role, w.replicas = comp, task, parallelism
	w.completions = parallelism * (1 + g.rng.IntN(4))
	w.succeeded = g.rng.IntN(w.completions - parallelism + 1)
	w.restart = corev1.RestartPolicyNever
	if g.rng.IntN(3) == 0 {
		w.restart = corev1.RestartPolicyOnFailure
	}
	sizes := sizesJob
	if batch {
		w.group = groupBatch
		w.nodeSelector = map[string]string{labelPool: batchPool}
		w.tolerations = []corev1.Toleration{batchToleration}
		w.priorityClass = pcBatchLow
		sizes = sizesBatch
	}
	g.mainContainer(w, task, fmt.Sprintf("registry.example.com/%s/%s:%s", ns.name, comp, g.version()), sizes[g.rng.IntN(len(sizes))], 0)
	w.emptyDir = g.rng.Float64() < 0.5
	return w
}

// planCronJob plans a CronJob whose latest Job is running now.
func (g *generator) planCronJob(ns *nsInfo) *workload {
	task := g.pick(cronTasks)
	w := g.newWorkload(kindCronJob, ns, task, g.tenantCreated(ns))
	w.component, w.role, w.replicas = task, "cron", 1
	w.restart = corev1.RestartPolicyOnFailure
	w.cronMinute = g.rng.IntN(60)
	g.mainContainer(w, task, fmt.Sprintf("registry.example.com/%s/%s:%s", ns.name, task, g.version()), sizesJob[0], 0)
	return w
}

// planBarePod plans a pod created by hand, with no controller.
func (g *generator) planBarePod(ns *nsInfo) *workload {
	name := g.pick(bareNames)
	w := g.newWorkload(kindBare, ns, name, g.between(g.takenAt.Add(-10*24*time.Hour), g.takenAt.Add(-time.Hour)))
	w.component, w.role, w.replicas = name, "debug", 1
	w.restart = corev1.RestartPolicyNever
	g.mainContainer(w, "shell", "docker.io/nicolaka/netshoot:v0.13", size{100, 128}, 0).args = []string{"sleep", "infinity"}
	w.emptyDir = true
	return w
}

// ensureVariety makes sure every feature a rollout must find appears at
// least once, whatever the scale: it turns existing tenant Deployments into
// examples without changing pod counts.
func (g *generator) ensureVariety() {
	var deps []*workload
	for _, w := range g.workloads {
		if !w.system && w.kind == kindDeployment && w.group == groupGeneral {
			deps = append(deps, w)
		}
	}
	has := func(f func(*workload) bool) bool {
		for _, w := range deps {
			if f(w) {
				return true
			}
		}
		return false
	}
	// set applies fix to the first plain Deployment that ok accepts.
	set := func(ok func(*workload) bool, fix func(*workload)) {
		for _, w := range deps {
			if !w.selfAffinity && w.anti == affinityNone && w.zoneSpread == "" && !w.hostSpread && ok(w) {
				fix(w)
				return
			}
		}
	}
	untainted, _ := g.untaintedNodes()
	if !has(func(w *workload) bool { return w.replicas == 1 }) {
		// Move all but one replica of a plain Deployment to another plain
		// one, keeping the pod total.
		var plain []*workload
		for _, w := range deps {
			if !w.selfAffinity && w.anti != affinityRequired && w.pdb == nil && w.replicas >= 2 {
				plain = append(plain, w)
			}
		}
		if len(plain) >= 2 {
			plain[1].replicas += plain[0].replicas - 1
			plain[0].replicas = 1
			plain[0].zoneSpread, plain[0].hostSpread = "", false
		}
	}
	if !has(func(w *workload) bool { return w.selfAffinity }) {
		set(func(w *workload) bool { return w.replicas >= 2 && w.replicas <= 3 }, func(w *workload) {
			w.selfAffinity = true
			w.containers[0].cpuBase, w.containers[0].memBase = sizesWeb[0].cpu, sizesWeb[0].mem
		})
	}
	if !has(func(w *workload) bool { return w.anti == affinityRequired }) {
		set(func(w *workload) bool { return w.replicas >= 2 && w.replicas <= min(6, untainted/2) }, func(w *workload) { w.anti = affinityRequired })
	}
	if !has(func(w *workload) bool { return w.anti == affinityPreferred }) {
		set(func(w *workload) bool { return w.replicas >= 2 }, func(w *workload) { w.anti = affinityPreferred })
	}
	if !has(func(w *workload) bool { return w.zoneSpread == corev1.DoNotSchedule }) {
		set(func(w *workload) bool { return w.replicas >= 2 }, func(w *workload) { w.zoneSpread = corev1.DoNotSchedule })
	}
	if !has(func(w *workload) bool { return w.zoneSpread == corev1.ScheduleAnyway }) {
		set(func(w *workload) bool { return w.replicas >= 2 }, func(w *workload) { w.zoneSpread = corev1.ScheduleAnyway })
	}
	if !has(func(w *workload) bool { return w.emptyDir }) && len(deps) > 0 {
		deps[0].emptyDir = true
	}
	g.ensurePDBVariety(deps)
}
