package sim

import (
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/noderoll/noderoll/plan"
	"github.com/noderoll/noderoll/snapshot"
)

// This file runs a migration plan (plan.MigrationSpec): seed a new cluster,
// move the tenants wave by wave, recycle the freed old nodes into the new
// cluster. The modelling decisions are written in package sim/migration's
// documentation; the mechanics are here.

// migrationRun is a migration in progress.
type migrationRun struct {
	s     *Simulation
	spec  *plan.MigrationSpec
	drain plan.DrainOptions

	joining  map[string]bool // old nodes being recycled into the new cluster
	stuck    map[string]bool // old nodes whose drain got stuck: not tried again until the end
	tenants  []*tenant       // in the order they move
	copyOf   map[*simPod]*tenant
	isCopy   map[*simPod]bool
	pvcBytes map[string]int64 // namespace/claim → bytes
	// nsObjects are the objects copied with the first tenant of a namespace.
	nsObjects      map[string]int
	nsCopied       map[string]bool
	nsServices     map[string]int
	nsTenants      map[string]int // tenants with pods in the namespace
	nsCut          map[string]int // of which cut over
	nsFirstCut     map[string]time.Duration
	nsSplitFor     map[string]time.Duration
	clusterObjects int
	// blockedPool is the pool of the old node of the first copy the last
	// wave could not place: recycling prefers that pool's nodes.
	blockedPool string
	step        int
	nextIndex   int  // next batch index
	final       bool // every tenant has moved
}

// tenant is one tenant's move.
type tenant struct {
	name       string
	olds       []*simPod     // its pods in the old cluster when its wave starts
	copyObjs   []*corev1.Pod // their copies for the new cluster
	copies     []*simPod     // the copies, once created
	namespaces []string      // the namespaces it has pods in
	notReady   int           // copies not Ready yet
	oldLeft    int           // old pods not gone yet after the cut-over
	afterReady func()        // what follows once every copy is Ready
	done       bool          // moved and deleted from the old cluster
	cut        bool          // traffic shifted
	dataSecs   float64       // data migration time
	waitFor    map[*simPod]bool
}

// runMigration runs a migration plan to the end.
func (s *Simulation) runMigration(snap *snapshot.Snapshot, p *plan.Plan) error {
	spec := p.Spec.Migration
	m := &migrationRun{s: s, spec: spec, drain: p.Spec.Drain, joining: map[string]bool{}, stuck: map[string]bool{},
		copyOf: map[*simPod]*tenant{}, isCopy: map[*simPod]bool{}, pvcBytes: map[string]int64{},
		nsObjects: map[string]int{}, nsCopied: map[string]bool{}, nsServices: map[string]int{},
		nsTenants: map[string]int{}, nsCut: map[string]int{}, nsFirstCut: map[string]time.Duration{}, nsSplitFor: map[string]time.Duration{}}
	if spec.WaveBy != plan.WaveByNamespace && spec.WaveBy != plan.WaveByLabel {
		return fmt.Errorf("plan spec.migration.waveBy: %q: want %s or %s", spec.WaveBy, plan.WaveByNamespace, plan.WaveByLabel)
	}
	if spec.WaveBy == plan.WaveByLabel && spec.WaveLabel == "" {
		return fmt.Errorf("plan spec.migration.waveLabel: required with waveBy %s", plan.WaveByLabel)
	}
	if spec.DataMode != plan.DataCopy && spec.DataMode != plan.DataDualWrite {
		return fmt.Errorf("plan spec.migration.dataMode: %q: want %s or %s", spec.DataMode, plan.DataCopy, plan.DataDualWrite)
	}
	if spec.DataMode == plan.DataCopy && spec.DataBandwidthBytesPerSecond <= 0 {
		return fmt.Errorf("plan spec.migration.dataBandwidthBytesPerSecond: must be positive, got %d", spec.DataBandwidthBytesPerSecond)
	}
	if len(spec.SeedNodes) == 0 && spec.NewMachines <= 0 {
		return fmt.Errorf("plan spec.migration: neither seedNodes nor newMachines: the new cluster would have no node")
	}
	for _, name := range spec.SeedNodes {
		if s.nodes[name] == nil {
			return fmt.Errorf("plan spec.migration.seedNodes: node %q is not in the snapshot", name)
		}
	}
	m.step = spec.RecycleStep
	if m.step <= 0 {
		m.step = max(1, len(spec.SeedNodes)+spec.NewMachines)
	}
	m.indexSnapshot(snap)
	s.mig = m
	s.clk.at(0, m.seed)
	s.runClock()
	if s.err == nil {
		m.finish()
	}
	return nil
}

// indexSnapshot reads what the migration copies from the snapshot: object counts,
// volume sizes, and the tenants in plan order (tenants the plan does not
// name follow, by name).
func (m *migrationRun) indexSnapshot(snap *snapshot.Snapshot) {
	m.clusterObjects = len(snap.Namespaces) + len(snap.PriorityClasses) + len(snap.StorageClasses)
	for ns, c := range snap.NamespaceCounts {
		m.nsObjects[ns] += c.ConfigMaps + c.Secrets + c.ServiceAccounts + c.Roles + c.RoleBindings
	}
	for i := range snap.Services {
		m.nsObjects[snap.Services[i].Namespace]++
		if len(snap.Services[i].Spec.Selector) > 0 {
			m.nsServices[snap.Services[i].Namespace]++
		}
	}
	for i := range snap.PodDisruptionBudgets {
		m.nsObjects[snap.PodDisruptionBudgets[i].Namespace]++
	}
	for i := range snap.Deployments {
		m.nsObjects[snap.Deployments[i].Namespace]++
	}
	for i := range snap.StatefulSets {
		m.nsObjects[snap.StatefulSets[i].Namespace]++
	}
	for i := range snap.Jobs {
		m.nsObjects[snap.Jobs[i].Namespace]++
	}
	pvBytes := map[string]int64{}
	for i := range snap.PersistentVolumes {
		pv := &snap.PersistentVolumes[i]
		if q, ok := pv.Spec.Capacity[corev1.ResourceStorage]; ok {
			pvBytes[pv.Name] = q.Value()
		}
	}
	for i := range snap.PersistentVolumeClaims {
		pvc := &snap.PersistentVolumeClaims[i]
		b := int64(0)
		if q, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; ok {
			b = q.Value()
		}
		if v, ok := pvBytes[pvc.Spec.VolumeName]; ok && pvc.Spec.VolumeName != "" {
			b = v
		}
		m.pvcBytes[pvc.Namespace+"/"+pvc.Name] = b
	}
	byName := map[string]*tenant{}
	nsOf := map[string]map[string]bool{}
	for _, p := range m.s.pods {
		if p.state == podGone {
			continue
		}
		name := plan.TenantOf(p.obj, m.spec.WaveBy, m.spec.WaveLabel)
		if name == "" {
			continue
		}
		if byName[name] == nil {
			byName[name] = &tenant{name: name}
			nsOf[name] = map[string]bool{}
		}
		nsOf[name][p.obj.Namespace] = true
	}
	for _, name := range m.spec.Tenants {
		if t := byName[name]; t != nil && !containsTenant(m.tenants, t) {
			m.tenants = append(m.tenants, t)
		}
	}
	var rest []string
	for name, t := range byName {
		if !containsTenant(m.tenants, t) {
			rest = append(rest, name)
		}
	}
	sort.Strings(rest)
	for _, name := range rest {
		m.tenants = append(m.tenants, byName[name])
	}
	for _, t := range m.tenants {
		for ns := range nsOf[t.name] {
			t.namespaces = append(t.namespaces, ns)
			m.nsTenants[ns]++
		}
		sort.Strings(t.namespaces)
	}
}

func containsTenant(ts []*tenant, t *tenant) bool {
	for _, u := range ts {
		if u == t {
			return true
		}
	}
	return false
}

// newBatch opens a batch of the migration's own (a seed, a wave, a
// recycling) and makes it the batch in progress.
func (m *migrationRun) newBatch(phase string, done func()) *batchStats {
	s := m.s
	bs := &batchStats{Batch: Batch{Index: m.takeIndex(), Nodes: []string{}, StartSeconds: s.clk.now.Seconds(), Phase: phase}, onDone: done}
	s.batch = bs
	s.result.Batches = append(s.result.Batches, &bs.Batch)
	return bs
}

func (m *migrationRun) takeIndex() int { i := m.nextIndex; m.nextIndex++; return i }

// seed forms the new cluster: the seed nodes are drained and reinstalled
// (a rolling batch), the new machines installed, and the cluster-wide
// objects copied; then the waves start.
func (m *migrationRun) seed() {
	s := m.s
	objects := seconds(float64(m.clusterObjects) * s.cfg.Timing.ObjectCopySeconds)
	provision := seconds(s.cfg.Timing.ReinstallSeconds + s.cfg.Timing.JoinSeconds)
	started := s.clk.now
	next := func() {
		wait := max(0, started+objects-s.clk.now)
		s.clk.after(wait, m.nextWave)
	}
	if len(m.spec.SeedNodes) > 0 {
		for _, name := range m.spec.SeedNodes {
			m.joining[name] = true
		}
		b := plan.Batch{Index: m.takeIndex(), Nodes: m.spec.SeedNodes}
		s.startBatch(b, m.drain, func() {
			if m.spec.NewMachines > 0 {
				// The new machines were provisioned alongside.
				m.addNewMachines()
			}
			next()
		})
		s.result.Batches[len(s.result.Batches)-1].Phase = "seed"
		return
	}
	bs := m.newBatch("seed", next)
	s.batch.Capacity = s.capacity()
	s.clk.after(provision, func() {
		names := m.addNewMachines()
		bs.Nodes = names
		s.finishBatch(bs)
	})
}

func (m *migrationRun) addNewMachines() []string {
	names, err := m.s.addMachines("noderoll-new", m.spec.NewMachines, true)
	if err != nil {
		m.s.fail(err)
	}
	return names
}

// markNewCluster labels and taints a node of the new cluster.
func markNewCluster(obj *corev1.Node) {
	labels := make(map[string]string, len(obj.Labels)+1)
	for k, v := range obj.Labels {
		labels[k] = v
	}
	labels[plan.ClusterLabel] = plan.ClusterNew
	obj.Labels = labels
	for _, t := range obj.Spec.Taints {
		if t.Key == plan.NewClusterTaint.Key {
			return
		}
	}
	obj.Spec.Taints = append(append([]corev1.Taint(nil), obj.Spec.Taints...), plan.NewClusterTaint)
}

func tolerateNewCluster(pod *corev1.Pod) {
	for _, t := range pod.Spec.Tolerations {
		if t.Key == plan.NewClusterToleration.Key {
			return
		}
	}
	pod.Spec.Tolerations = append(append([]corev1.Toleration(nil), pod.Spec.Tolerations...), plan.NewClusterToleration)
}

// joinNewCluster is called when a reinstalled node rejoins: a node
// recycled by the migration joins the new cluster, and the DaemonSet pods
// that return with it are the new cluster's.
func (s *Simulation) joinNewCluster(n *simNode, obj *corev1.Node) {
	if s.mig == nil || !s.mig.joining[n.obj.Name] {
		return
	}
	delete(s.mig.joining, n.obj.Name)
	markNewCluster(obj)
	for _, p := range n.daemonPods {
		obj := p.obj.DeepCopy()
		tolerateNewCluster(obj)
		p.obj = obj
	}
}

func isNewNode(n *simNode) bool { return n.obj.Labels[plan.ClusterLabel] == plan.ClusterNew }

// remaining lists the tenants not moved yet, in order.
func (m *migrationRun) remaining() []*tenant {
	var out []*tenant
	for _, t := range m.tenants {
		if !t.done && t.afterReady == nil {
			out = append(out, t)
		}
	}
	return out
}

// prepare gathers a tenant's live pods in the old cluster and makes their
// copies for the new cluster.
func (m *migrationRun) prepare(t *tenant) {
	t.olds, t.copyObjs = nil, nil
	for _, p := range m.s.pods {
		if p.state == podGone || p.state == podTerminating || m.isCopy[p] {
			continue
		}
		if plan.TenantOf(p.obj, m.spec.WaveBy, m.spec.WaveLabel) != t.name {
			continue
		}
		t.olds = append(t.olds, p)
	}
	sort.SliceStable(t.olds, func(i, j int) bool {
		pi, pj := priority(t.olds[i].obj), priority(t.olds[j].obj)
		if pi != pj {
			return pi > pj
		}
		return t.olds[i].seq < t.olds[j].seq
	})
	for _, p := range t.olds {
		t.copyObjs = append(t.copyObjs, copyForNewCluster(p.obj))
	}
}

// copyForNewCluster is a pod as the tenant's workload creates it in the new
// cluster: the same spec, pinned to the new cluster by a nodeSelector and a
// toleration of its taint, with fresh volumes in place of its
// PersistentVolumeClaims (the new claims are unbound: local storage classes
// bind on first consumer, where the scheduler puts the pod).
func copyForNewCluster(old *corev1.Pod) *corev1.Pod {
	obj := old.DeepCopy()
	obj.UID = types.UID(string(old.UID) + "-new")
	obj.ResourceVersion = ""
	obj.DeletionTimestamp = nil
	obj.Spec.NodeName = ""
	obj.Status = corev1.PodStatus{Phase: corev1.PodPending}
	sel := make(map[string]string, len(obj.Spec.NodeSelector)+1)
	for k, v := range obj.Spec.NodeSelector {
		sel[k] = v
	}
	sel[plan.ClusterLabel] = plan.ClusterNew
	obj.Spec.NodeSelector = sel
	tolerateNewCluster(obj)
	for i := range obj.Spec.Volumes {
		if obj.Spec.Volumes[i].PersistentVolumeClaim != nil {
			obj.Spec.Volumes[i].VolumeSource = corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}
		}
	}
	return obj
}

// fit chooses the wave: the next tenants, in order, for as long as all
// their copies can be placed together on the new cluster as it is now
// (tried on a scheduler fork, reverted).
func (m *migrationRun) fit(remaining []*tenant) []*tenant {
	s := m.s
	s.sched.Fork()
	defer s.sched.Revert()
	var chosen []*tenant
	m.blockedPool = ""
	for _, t := range remaining {
		m.prepare(t)
		for i, obj := range t.copyObjs {
			res, err := s.sched.TryPlace(s.ctx, obj)
			if err != nil {
				s.fail(fmt.Errorf("placing the copy of %s/%s on the new cluster: %w", obj.Namespace, obj.Name, err))
				return nil
			}
			if res.NodeName == "" {
				if n := s.nodes[t.olds[i].obj.Spec.NodeName]; n != nil {
					m.blockedPool = snapshot.NodePool(n.obj)
				}
				return chosen
			}
		}
		chosen = append(chosen, t)
	}
	return chosen
}

// nextWave starts the next wave, or a recycling when the next tenant does
// not fit, or the last recycling when every tenant has moved.
func (m *migrationRun) nextWave() {
	s := m.s
	if s.err != nil {
		return
	}
	remaining := m.remaining()
	if len(remaining) == 0 {
		if !m.final {
			// The last recycling tries the stuck nodes again: nothing is
			// left on them to block their drain.
			m.final = true
			clear(m.stuck)
		}
		if olds := m.oldNodes(); len(olds) > 0 {
			bs := m.newBatch("recycle", func() {})
			m.recycle(bs, olds)
		}
		return
	}
	chosen := m.fit(remaining)
	if s.err != nil {
		return
	}
	if len(chosen) == 0 {
		t := remaining[0]
		olds := m.recyclable(m.step)
		if len(olds) > 0 {
			s.result.addRisk(plan.RiskCapacityShortfall, plan.Medium, "Tenant/"+t.name, m.nextIndex,
				fmt.Sprintf("tenant %s (%d pods) does not fit in the new cluster's free capacity and no old node is free: the %d emptiest old nodes are drained and recycled, moving their pods twice",
					t.name, len(t.olds), len(olds)))
			bs := m.newBatch("recycle", m.nextWave)
			m.recycle(bs, olds)
			return
		}
		s.result.addRisk(plan.RiskCapacityShortfall, plan.Critical, "Tenant/"+t.name, m.nextIndex,
			fmt.Sprintf("tenant %s (%d pods) does not fit in the new cluster, and the old cluster cannot give up another node without leaving pods unplaced: it is moved anyway and its pods that do not fit stay pending (more --seed-nodes would avoid it)",
				t.name, len(t.olds)))
		chosen = []*tenant{t}
	}
	bs := m.newBatch("wave", nil)
	bs.Capacity = m.newClusterCapacity()
	left := len(chosen)
	bs.onDone = m.nextWave
	for _, t := range chosen {
		bs.Tenants = append(bs.Tenants, t.name)
		m.move(t, bs, func() {
			left--
			if left == 0 {
				m.recycle(bs, m.freedOld())
			}
		})
	}
}

// move copies a tenant's objects, creates its workloads in the new cluster,
// waits for them to be Ready, migrates its data, shifts its traffic and
// deletes it from the old cluster; done runs then.
func (m *migrationRun) move(t *tenant, bs *batchStats, done func()) {
	s := m.s
	objects := 0
	for _, ns := range t.namespaces {
		if !m.nsCopied[ns] {
			m.nsCopied[ns] = true
			objects += m.nsObjects[ns]
		}
	}
	t.afterReady = func() {}
	s.clk.after(seconds(float64(objects)*s.cfg.Timing.ObjectCopySeconds), func() {
		if len(t.copyObjs) != len(t.olds) {
			m.prepare(t)
		}
		t.waitFor = map[*simPod]bool{}
		for i, old := range t.olds {
			p := &simPod{obj: t.copyObjs[i], state: podPending, owner: old.owner, lineage: old.lineage, seq: s.nextSeq(),
				queuedAt: s.clk.now, evictedAt: -1}
			s.pods = append(s.pods, p)
			s.pending[p] = true
			m.copyOf[p] = t
			m.isCopy[p] = true
			t.copies = append(t.copies, p)
			t.waitFor[p] = true
		}
		t.notReady = len(t.copies)
		bs.notePending(len(s.pending))
		t.afterReady = func() {
			t.afterReady = func() {}
			t.dataSecs = m.dataSeconds(t)
			bs.DataCopySeconds = max(bs.DataCopySeconds, t.dataSecs)
			s.result.Summary.DataCopySeconds = max(s.result.Summary.DataCopySeconds, t.dataSecs)
			s.clk.after(seconds(t.dataSecs+s.cfg.Timing.CutoverSeconds), func() { m.cutover(t, done) })
		}
		if t.notReady == 0 {
			t.afterReady()
			return
		}
		s.clusterChanged(false, clusterNew)
	})
}

// dataSeconds is the tenant's data migration: the size of its pods'
// PersistentVolumeClaims at the bandwidth, or the dual-write switch.
func (m *migrationRun) dataSeconds(t *tenant) float64 {
	seen := map[string]bool{}
	var bytes int64
	for _, p := range t.olds {
		for _, v := range p.obj.Spec.Volumes {
			if v.PersistentVolumeClaim == nil {
				continue
			}
			key := p.obj.Namespace + "/" + v.PersistentVolumeClaim.ClaimName
			if !seen[key] {
				seen[key] = true
				bytes += m.pvcBytes[key]
			}
		}
	}
	if len(seen) == 0 {
		return 0
	}
	if m.spec.DataMode == plan.DataDualWrite {
		return m.s.cfg.Timing.DataSwitchSeconds
	}
	return float64(bytes) / float64(m.spec.DataBandwidthBytesPerSecond)
}

// migrationPodReady counts a tenant's copies becoming Ready.
func (s *Simulation) migrationPodReady(p *simPod) {
	if s.mig == nil {
		return
	}
	t := s.mig.copyOf[p]
	if t == nil || !t.waitFor[p] {
		return
	}
	delete(t.waitFor, p)
	t.notReady--
	if t.notReady == 0 {
		t.afterReady()
	}
}

// giveUp moves on with the tenants whose copies nothing left in the
// simulation can place: they are cut over with the copies that are Ready.
func (m *migrationRun) giveUp() {
	for _, t := range m.tenants {
		if t.notReady > 0 && !t.cut {
			t.notReady = 0
			t.waitFor = nil
			t.afterReady()
		}
	}
}

// cutover shifts the tenant's traffic to the new cluster — its Services'
// endpoints are counted there from now on — and deletes its pods from the
// old cluster (a deletion, not an eviction: budgets do not apply).
func (m *migrationRun) cutover(t *tenant, done func()) {
	s := m.s
	t.cut = true
	for i, c := range t.copies {
		c.services = t.olds[i].services
		if c.state == podReady {
			for _, sv := range c.services {
				s.endpointChange(sv, +1)
			}
		}
	}
	for _, ns := range t.namespaces {
		m.nsCut[ns]++
		if m.nsCut[ns] == 1 {
			m.nsFirstCut[ns] = s.clk.now
		}
		if m.nsCut[ns] == m.nsTenants[ns] && s.clk.now > m.nsFirstCut[ns] {
			m.nsSplitFor[ns] = s.clk.now - m.nsFirstCut[ns]
		}
	}
	var olds []*simPod
	for _, p := range s.pods {
		if p.state != podGone && !m.isCopy[p] && plan.TenantOf(p.obj, m.spec.WaveBy, m.spec.WaveLabel) == t.name {
			olds = append(olds, p)
		}
	}
	for _, old := range t.olds {
		s.noteMovedOut(old)
	}
	finish := func() {
		t.done = true
		done()
	}
	t.oldLeft = len(olds)
	if t.oldLeft == 0 {
		finish()
		return
	}
	for _, p := range olds {
		m.deleteOld(p, func() {
			t.oldLeft--
			if t.oldLeft == 0 {
				finish()
			}
		})
	}
}

// deleteOld deletes a pod of a moved tenant from the old cluster: it leaves
// its Services' endpoints at once and is gone after its termination time;
// no controller replaces it (its workload is deleted with it).
func (m *migrationRun) deleteOld(p *simPod, gone func()) {
	s := m.s
	now := s.timeAt(s.clk.now)
	for _, b := range p.pdbs {
		delete(b.pods, p)
	}
	switch p.state {
	case podPending:
		s.unpend(p)
		p.obj.DeletionTimestamp = &now
		p.state = podGone
		gone()
		return
	case podTerminating:
		// Already on its way out (its replacement, if any, is deleted too).
		gone()
		return
	}
	if p.state == podReady {
		for _, sv := range p.services {
			s.endpointChange(sv, -1)
		}
	}
	s.startTerminating(p, now)
	p.state = podTerminating
	setReady(p.obj, false)
	s.clk.after(s.cfg.termination(p.obj, plan.GracePeriod(p.obj, m.drain)), func() {
		p.state = podGone
		if n := s.nodes[p.obj.Spec.NodeName]; n != nil {
			delete(n.pods, p)
			if n.present {
				if err := s.sched.RemovePod(p.obj); err != nil {
					s.fail(fmt.Errorf("removing %s from the scheduler: %w", p.key(), err))
				}
			}
		}
		s.podLeft(p)
		s.clusterChanged(false, s.clusterOfNode(p.obj.Spec.NodeName))
		gone()
	})
}

// oldNodes lists the nodes still in the old cluster, by name.
func (m *migrationRun) oldNodes() []string {
	var out []string
	for name, n := range m.s.nodes {
		if n.present && !isNewNode(n) && !m.joining[name] && !m.stuck[name] {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// movable counts the pods on a node that a drain would move.
func (m *migrationRun) movable(n *simNode) int {
	c := 0
	for p := range n.pods {
		if drainMoves(p) {
			c++
		}
	}
	return c
}

// drainMoves reports whether draining its node moves p: a live pod that is
// neither a DaemonSet's nor a mirror pod.
func drainMoves(p *simPod) bool {
	if p.state == podGone || p.state == podTerminating {
		return false
	}
	return (p.owner == nil || p.owner.kind != "DaemonSet") && !plan.IsMirrorPod(p.obj)
}

// freedOld lists the old nodes the waves emptied.
func (m *migrationRun) freedOld() []string {
	var out []string
	for _, name := range m.oldNodes() {
		if m.movable(m.s.nodes[name]) == 0 {
			out = append(out, name)
		}
	}
	return out
}

// emptiestOld lists the k old nodes with the fewest pods to move, those of
// the pool a copy was blocked on first (the new cluster lacks that shape:
// recycling another pool's nodes would not help it).
func (m *migrationRun) emptiestOld(k int) []string {
	names := m.oldNodes()
	counts := map[string]int{}
	preferred := map[string]bool{}
	for _, name := range names {
		counts[name] = m.movable(m.s.nodes[name])
		preferred[name] = m.blockedPool != "" && snapshot.NodePool(m.s.nodes[name].obj) == m.blockedPool
	}
	sort.SliceStable(names, func(i, j int) bool {
		if preferred[names[i]] != preferred[names[j]] {
			return preferred[names[i]]
		}
		return counts[names[i]] < counts[names[j]]
	})
	return names[:min(k, len(names))]
}

// recyclable lists up to k of the emptiest old nodes whose pods the rest of
// the old cluster can take, as the real scheduler would place them (tried
// on a fork, reverted): the old cluster shrinks only as far as its tenants
// still fit. A node whose pods would not all fit is passed over (its trial
// is reverted on a nested fork) and the next one is tried, up to
// max(k/10, 3) such misses: the next are fuller still.
func (m *migrationRun) recyclable(k int) []string {
	s := m.s
	s.sched.Fork()
	defer s.sched.Revert()
	var out []string
	misses := 0
	for _, name := range m.emptiestOld(len(s.nodes)) {
		if len(out) >= k || misses >= max(k/10, 3) {
			break
		}
		s.sched.Fork()
		ok, err := m.emptyOnFork(s.nodes[name])
		if err != nil {
			s.sched.Revert()
			s.fail(fmt.Errorf("trying to recycle %s: %w", name, err))
			return nil
		}
		if !ok {
			s.sched.Revert()
			misses++
			continue
		}
		s.sched.Commit()
		out = append(out, name)
	}
	return out
}

// emptyOnFork cordons n and places the pods a drain would move from it on
// the rest of the cluster, in the scheduler's current fork; it reports
// whether every one of them found a node.
func (m *migrationRun) emptyOnFork(n *simNode) (bool, error) {
	s := m.s
	obj := n.obj.DeepCopy()
	obj.Spec.Unschedulable = true
	s.sched.AddNode(obj)
	for _, p := range sortedPods(n.pods) {
		if !drainMoves(p) {
			continue
		}
		if err := s.sched.RemovePod(p.obj); err != nil {
			return false, err
		}
		moved := *p.obj // a trial: Place keeps a shallow copy, and nothing here changes its slices
		moved.Spec.NodeName = ""
		res, err := s.sched.TryPlace(s.ctx, &moved)
		if err != nil {
			return false, err
		}
		if res.NodeName == "" {
			return false, nil
		}
	}
	return true, nil
}

// recycle drains the old nodes (through the rolling path: budgets apply),
// reinstalls them and joins them to the new cluster, as part of batch bs;
// bs ends when they are back.
func (m *migrationRun) recycle(bs *batchStats, names []string) {
	s := m.s
	sort.Strings(names)
	bs.Nodes = append(bs.Nodes, names...)
	for _, name := range names {
		m.joining[name] = true
		s.setCordon(s.nodes[name], true)
	}
	done := bs.onDone
	bs.onDone = func() {
		// A node whose drain got stuck stays in the old cluster.
		for _, name := range names {
			if n := s.nodes[name]; m.joining[name] && n.present && !isNewNode(n) {
				delete(m.joining, name)
				m.stuck[name] = true
			}
		}
		done()
	}
	if bs.Phase == "recycle" {
		bs.Capacity = s.capacity()
	}
	for _, name := range names {
		nr := newNodeRun(s.nodes[name], bs, m.drain)
		bs.runs = append(bs.runs, nr)
		s.drain(nr)
	}
	if len(names) == 0 {
		s.finishBatch(bs)
	}
}

// newClusterCapacity sums allocatable and requests over the new cluster's
// nodes.
func (m *migrationRun) newClusterCapacity() Capacity {
	var allocCPU, allocMem, allocPods, reqCPU, reqMem, reqPods int64
	for _, n := range m.s.nodes {
		if !n.present || !isNewNode(n) {
			continue
		}
		a := n.obj.Status.Allocatable
		allocCPU += a.Cpu().MilliValue()
		allocMem += a.Memory().Value()
		allocPods += a.Pods().Value()
		for p := range n.pods {
			if p.state == podGone {
				continue
			}
			for _, c := range p.obj.Spec.Containers {
				reqCPU += c.Resources.Requests.Cpu().MilliValue()
				reqMem += c.Resources.Requests.Memory().Value()
			}
			reqPods++
		}
	}
	const gib = 1 << 30
	return Capacity{
		CPU:    Amount{Allocatable: float64(allocCPU) / 1000, Requested: float64(reqCPU) / 1000},
		Memory: Amount{Allocatable: float64(allocMem) / gib, Requested: float64(reqMem) / gib},
		Pods:   Amount{Allocatable: float64(allocPods), Requested: float64(reqPods)},
	}
}

// finish reports the Services split across the clusters: those of the
// namespaces that were half-moved at some moment.
func (m *migrationRun) finish() {
	s := m.s
	var nss []string
	for ns, c := range m.nsCut {
		if c < m.nsTenants[ns] && c > 0 {
			m.nsSplitFor[ns] = s.clk.now - m.nsFirstCut[ns]
		}
	}
	for ns := range m.nsSplitFor {
		nss = append(nss, ns)
	}
	sort.Strings(nss)
	for _, ns := range nss {
		if m.nsServices[ns] == 0 {
			continue
		}
		s.result.Summary.ServicesSplit += m.nsServices[ns]
		s.result.addRisk(plan.RiskServiceSplit, plan.Medium, "Namespace/"+ns, -1,
			fmt.Sprintf("%d Services split across the old and the new cluster for %.0fs while the namespace's tenants (%s) moved in turn",
				m.nsServices[ns], m.nsSplitFor[ns].Seconds(), strings.Join(m.tenantsIn(ns), ", ")))
	}
}

func (m *migrationRun) tenantsIn(ns string) []string {
	var out []string
	for _, t := range m.tenants {
		for _, n := range t.namespaces {
			if n == ns {
				out = append(out, t.name)
			}
		}
	}
	return out
}
