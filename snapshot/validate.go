package snapshot

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Validate checks that the snapshot is consistent enough to plan with.
//
// Errors (returned together as an *InputError): an object without a name;
// two objects with the same kind, namespace and name; a pod bound to a node
// the snapshot lacks (unless the pod has terminated, which is a warning); a
// negative resource quantity in a pod's requests, limits or overhead or in a
// node's capacity or allocatable.
//
// Warnings: an owner reference to an object of a kind the snapshot holds
// (at least one object of that kind is present) that is not in the snapshot.
// Owners of kinds absent altogether are assumed not to have been captured.
//
// Issues from Validate name no file; Load adds it.
func (s *Snapshot) Validate() (warnings []Issue, err error) {
	errs, warnings := splitIssues(s.issues())
	if len(errs) > 0 {
		return warnings, &InputError{Issues: errs}
	}
	return warnings, nil
}

// issues runs every check, errors and warnings together, in a stable order.
func (s *Snapshot) issues() []Issue {
	var issues []Issue
	report := func(i Issue) { issues = append(issues, i) }

	// Names and duplicates.
	seen := make(map[ObjectRef]int)
	present := make(map[schema.GroupKind]bool)
	for k := range storedKinds {
		sk := &storedKinds[k]
		sk.each(s, func(i int, obj metav1.Object) {
			present[sk.gvk.GroupKind()] = true
			ref := ObjectRef{Kind: sk.gvk.Kind, Namespace: obj.GetNamespace(), Name: obj.GetName()}
			if ref.Name == "" {
				report(Issue{Code: IssueMissingName, Object: ref, Field: "metadata.name",
					Message: fmt.Sprintf("name is required (%s[%d])", sk.field, i)})
				return
			}
			seen[ref]++
			if seen[ref] == 2 {
				report(Issue{Code: IssueDuplicate, Object: ref, Field: "metadata.name", Message: "duplicate object"})
			}
		})
	}

	// Owner references.
	for k := range storedKinds {
		sk := &storedKinds[k]
		sk.each(s, func(_ int, obj metav1.Object) {
			for i, owner := range obj.GetOwnerReferences() {
				gv, err := schema.ParseGroupVersion(owner.APIVersion)
				if err != nil {
					continue
				}
				ok, holds := storedKindFor(gv.WithKind(owner.Kind).GroupKind())
				if !holds || !present[ok.gvk.GroupKind()] {
					continue
				}
				ref := ObjectRef{Kind: owner.Kind, Name: owner.Name}
				if ok.namespaced {
					ref.Namespace = obj.GetNamespace()
				}
				if seen[ref] == 0 {
					report(Issue{Severity: SeverityWarning, Code: IssueOwnerNotFound,
						Object:  ObjectRef{Kind: sk.gvk.Kind, Namespace: obj.GetNamespace(), Name: obj.GetName()},
						Field:   fmt.Sprintf("metadata.ownerReferences[%d]", i),
						Message: fmt.Sprintf("owner %s %q is not in the snapshot", owner.Kind, owner.Name)})
				}
			}
		})
	}

	// Nodes and their resources.
	nodes := make(map[string]bool, len(s.Nodes))
	for i := range s.Nodes {
		n := &s.Nodes[i]
		nodes[n.Name] = true
		ref := ObjectRef{Kind: "Node", Name: n.Name}
		checkResources(report, ref, field.NewPath("status", "capacity"), n.Status.Capacity)
		checkResources(report, ref, field.NewPath("status", "allocatable"), n.Status.Allocatable)
	}

	// Pods: binding and requests.
	for i := range s.Pods {
		p := &s.Pods[i]
		ref := ObjectRef{Kind: "Pod", Namespace: p.Namespace, Name: p.Name}
		if p.Spec.NodeName != "" && !nodes[p.Spec.NodeName] {
			sev := SeverityError
			msg := fmt.Sprintf("node %q does not exist", p.Spec.NodeName)
			if isTerminal(p) {
				sev = SeverityWarning
				msg += fmt.Sprintf(" (the pod has %s)", p.Status.Phase)
			}
			report(Issue{Severity: sev, Code: IssueNodeNotFound, Object: ref, Field: "spec.nodeName", Message: msg})
		}
		spec := field.NewPath("spec")
		for j := range p.Spec.InitContainers {
			checkContainer(report, ref, spec.Child("initContainers").Index(j), &p.Spec.InitContainers[j])
		}
		for j := range p.Spec.Containers {
			checkContainer(report, ref, spec.Child("containers").Index(j), &p.Spec.Containers[j])
		}
		checkResources(report, ref, spec.Child("overhead"), p.Spec.Overhead)
		if r := p.Spec.Resources; r != nil {
			checkResources(report, ref, spec.Child("resources", "requests"), r.Requests)
			checkResources(report, ref, spec.Child("resources", "limits"), r.Limits)
		}
	}
	return issues
}

func checkContainer(report func(Issue), ref ObjectRef, path *field.Path, c *corev1.Container) {
	checkResources(report, ref, path.Child("resources", "requests"), c.Resources.Requests)
	checkResources(report, ref, path.Child("resources", "limits"), c.Resources.Limits)
}

// checkResources reports negative quantities in rl, in a stable order.
func checkResources(report func(Issue), ref ObjectRef, path *field.Path, rl corev1.ResourceList) {
	for _, name := range sortedResourceNames(rl) {
		q := rl[name]
		if q.Sign() < 0 {
			report(Issue{Code: IssueInvalidQuantity, Object: ref, Field: path.Key(string(name)).String(),
				Message: fmt.Sprintf("invalid quantity %q: must not be negative", q.String())})
		}
	}
}

// isTerminal reports whether the pod has finished and holds no resources.
func isTerminal(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}
