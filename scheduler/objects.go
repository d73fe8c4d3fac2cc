package scheduler

import (
	"fmt"

	"k8s.io/client-go/tools/cache"

	"github.com/noderoll/noderoll/snapshot"
)

// loadObjects fills the informer caches the plugins read through listers.
// The informers are never started: their stores are filled directly.
func (s *Scheduler) loadObjects(snap *snapshot.Snapshot) error {
	f := s.parts.informers
	add := func(store cache.Store, kind string, objs ...any) error {
		for _, o := range objs {
			if err := store.Add(o); err != nil {
				return fmt.Errorf("loading %s into the scheduler: %w", kind, err)
			}
		}
		return nil
	}
	var errs []error
	for i := range snap.Services {
		errs = append(errs, add(f.Core().V1().Services().Informer().GetStore(), "Service", &snap.Services[i]))
	}
	for i := range snap.ReplicaSets {
		errs = append(errs, add(f.Apps().V1().ReplicaSets().Informer().GetStore(), "ReplicaSet", &snap.ReplicaSets[i]))
	}
	for i := range snap.StatefulSets {
		errs = append(errs, add(f.Apps().V1().StatefulSets().Informer().GetStore(), "StatefulSet", &snap.StatefulSets[i]))
	}
	for i := range snap.PersistentVolumeClaims {
		errs = append(errs, add(f.Core().V1().PersistentVolumeClaims().Informer().GetStore(), "PersistentVolumeClaim", &snap.PersistentVolumeClaims[i]))
	}
	for i := range snap.PersistentVolumes {
		errs = append(errs, add(f.Core().V1().PersistentVolumes().Informer().GetStore(), "PersistentVolume", &snap.PersistentVolumes[i]))
	}
	for i := range snap.StorageClasses {
		errs = append(errs, add(f.Storage().V1().StorageClasses().Informer().GetStore(), "StorageClass", &snap.StorageClasses[i]))
	}
	// The budgets are the scheduler's own copies: their status is kept
	// current (Options.BudgetStatus) while the snapshot stays as loaded.
	for i := range snap.PodDisruptionBudgets {
		errs = append(errs, add(f.Policy().V1().PodDisruptionBudgets().Informer().GetStore(), "PodDisruptionBudget", snap.PodDisruptionBudgets[i].DeepCopy()))
	}
	for i := range snap.Namespaces {
		errs = append(errs, add(f.Core().V1().Namespaces().Informer().GetStore(), "Namespace", &snap.Namespaces[i]))
	}
	for i := range snap.PriorityClasses {
		errs = append(errs, add(f.Scheduling().V1().PriorityClasses().Informer().GetStore(), "PriorityClass", &snap.PriorityClasses[i]))
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
