package synth

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// localDiskGi is the size of one local NVMe disk; the local static
// provisioner turns each into a PersistentVolume of that size.
const localDiskGi = 375

// buildClaims creates the PersistentVolumeClaims of every StatefulSet, as
// the StatefulSet controller names them (<template>-<set>-<ordinal>).
// Zonal claims are bound now to volumes the CSI driver provisioned in the
// zone of ordinal i (zones taken in turn, as WaitForFirstConsumer and zone
// spreading leave them); local claims stay Pending until their pod is
// placed, then bindLocal creates the node's volume and binds both ways.
func (g *generator) buildClaims() {
	for _, w := range g.workloads {
		if w.kind != kindStatefulSet {
			continue
		}
		offset := g.rng.IntN(len(zones))
		w.claims = make([]int, w.replicas)
		for i := range w.replicas {
			name := fmt.Sprintf("%s-%s-%d", w.claimName, w.name, i)
			meta := g.meta("PersistentVolumeClaim", w.ns.name, name, w.created.Add(time.Duration(i)*40*time.Second))
			meta.Labels = copyMap(w.selector)
			meta.Finalizers = []string{"kubernetes.io/pvc-protection"}
			sc := scStandard
			if w.storage == storageLocal {
				sc = scLocal
			}
			pvc := corev1.PersistentVolumeClaim{
				TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
				ObjectMeta: meta,
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: *resource.NewQuantity(w.storageGi<<30, resource.BinarySI)}},
					StorageClassName: ptr(sc),
					VolumeMode:       ptr(corev1.PersistentVolumeFilesystem),
				},
				Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending},
			}
			if w.storage == storageZonal {
				zone := zones[(offset+i)%len(zones)]
				pv := g.newPV("pvc-"+string(meta.UID), &pvc, w.storageGi, meta.CreationTimestamp.Add(3*time.Second))
				pv.Annotations = map[string]string{"pv.kubernetes.io/provisioned-by": csiDriver}
				pv.Finalizers = []string{"external-attacher/" + csiDriver, "kubernetes.io/pv-protection"}
				pv.Spec.PersistentVolumeSource = corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{
					Driver: csiDriver, VolumeHandle: "vol-0" + g.hexID(16, "volume", w.ns.name, name), FSType: "ext4",
				}}
				pv.Spec.NodeAffinity = &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
					MatchExpressions: []corev1.NodeSelectorRequirement{{Key: labelZone, Operator: corev1.NodeSelectorOpIn, Values: []string{zone}}},
				}}}}
				pvc.Annotations = map[string]string{
					"volume.beta.kubernetes.io/storage-provisioner": csiDriver,
					"volume.kubernetes.io/storage-provisioner":      csiDriver,
				}
				bind(&pvc, &pv)
				g.snap.PersistentVolumes = append(g.snap.PersistentVolumes, pv)
			}
			w.claims[i] = len(g.snap.PersistentVolumeClaims)
			g.snap.PersistentVolumeClaims = append(g.snap.PersistentVolumeClaims, pvc)
		}
	}
}

// newPV builds a PersistentVolume for a claim, not yet bound.
func (g *generator) newPV(name string, pvc *corev1.PersistentVolumeClaim, gi int64, created time.Time) corev1.PersistentVolume {
	return corev1.PersistentVolume{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolume"},
		ObjectMeta: g.meta("PersistentVolume", "", name, created),
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: *resource.NewQuantity(gi<<30, resource.BinarySI)},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
			StorageClassName:              *pvc.Spec.StorageClassName,
			VolumeMode:                    ptr(corev1.PersistentVolumeFilesystem),
		},
	}
}

// bind binds claim and volume both ways, as the PV controller does.
func bind(pvc *corev1.PersistentVolumeClaim, pv *corev1.PersistentVolume) {
	pv.Spec.ClaimRef = &corev1.ObjectReference{
		Kind: "PersistentVolumeClaim", Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID,
		APIVersion: "v1", ResourceVersion: pvc.ResourceVersion,
	}
	pv.Status = corev1.PersistentVolumeStatus{Phase: corev1.VolumeBound, LastPhaseTransitionTime: ptr(metav1.NewTime(pv.CreationTimestamp.Add(time.Second)))}
	if pvc.Annotations == nil {
		pvc.Annotations = map[string]string{}
	}
	pvc.Annotations["pv.kubernetes.io/bind-completed"] = "yes"
	pvc.Annotations["pv.kubernetes.io/bound-by-controller"] = "yes"
	pvc.Spec.VolumeName = pv.Name
	pvc.Status = corev1.PersistentVolumeClaimStatus{
		Phase:       corev1.ClaimBound,
		AccessModes: pv.Spec.AccessModes,
		Capacity:    pv.Spec.Capacity.DeepCopy(),
	}
}

// bindLocal hands the next local disk of node ni to the claim of ordinal i
// of w: the PersistentVolume the local static provisioner created for that
// disk, pinned to the node by required node affinity on its hostname.
func (g *generator) bindLocal(w *workload, i int, ni *nodeInfo) {
	pvc := &g.snap.PersistentVolumeClaims[w.claims[i]]
	disk := ni.disks
	ni.disks++
	name := "local-pv-" + g.hexID(8, "localpv", ni.name, fmt.Sprint(disk))
	pv := g.newPV(name, pvc, localDiskGi, ni.created.Add(2*time.Minute))
	pv.Annotations = map[string]string{"pv.kubernetes.io/provisioned-by": "local-volume-provisioner-" + ni.name + "-" + string(g.uid("Provisioner", "", ni.name))}
	pv.Finalizers = []string{"kubernetes.io/pv-protection"}
	pv.Spec.PersistentVolumeSource = corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: fmt.Sprintf("/mnt/disks/ssd%d", disk)}}
	pv.Spec.NodeAffinity = &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
		MatchExpressions: []corev1.NodeSelectorRequirement{{Key: labelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{ni.name}}},
	}}}}
	bind(pvc, &pv)
	pvc.Annotations["volume.kubernetes.io/selected-node"] = ni.name
	g.snap.PersistentVolumes = append(g.snap.PersistentVolumes, pv)
}

// selectNode records on a zonal claim the node its first consumer went to,
// as the scheduler annotates WaitForFirstConsumer claims.
func (g *generator) selectNode(w *workload, i int, ni *nodeInfo) {
	g.snap.PersistentVolumeClaims[w.claims[i]].Annotations["volume.kubernetes.io/selected-node"] = ni.name
}
