package whatif

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/noderoll/noderoll/sim"
)

// APIVersion and Kind identify a what-if file.
const (
	APIVersion = "noderoll.dev/v1alpha1"
	Kind       = "WhatIf"
)

// File is a what-if overrides file. Every list is applied in order.
type File struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// Replicas set workloads' replicas.
	Replicas []Replicas `json:"replicas,omitempty"`
	// PDBs add, replace or delete PodDisruptionBudgets.
	PDBs []PDB `json:"pdbs,omitempty"`
	// Timings set start-up and termination times for selected pods; they
	// are appended to the simulation config's overrides (the last that
	// matches a pod wins).
	Timings []sim.Override `json:"timings,omitempty"`
	// Surge adds new nodes before the rollout.
	Surge *Surge `json:"surge,omitempty"`
	// ExcludeNodes are nodes left out of the rollout: they keep their OS
	// and their pods.
	ExcludeNodes []string `json:"excludeNodes,omitempty"`
	// ExcludeNamespaces are namespaces left out of the simulation: their
	// pods, workloads, Services, budgets and claims are not modelled.
	ExcludeNamespaces []string `json:"excludeNamespaces,omitempty"`
	// DeletePods are bare pods ("namespace/name") deleted before the
	// rollout.
	DeletePods []string `json:"deletePods,omitempty"`
	// AcceptOutage are Services ("namespace/name") whose outage is
	// accepted: they no longer block approval.
	AcceptOutage []string `json:"acceptOutage,omitempty"`
}

// Replicas sets a workload's replicas.
type Replicas struct {
	// Kind is Deployment, StatefulSet or ReplicaSet.
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Replicas  int32  `json:"replicas"`
}

// PDB adds or replaces a PodDisruptionBudget, or deletes it.
type PDB struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Delete removes the budget; no other field may be set then.
	Delete bool `json:"delete,omitempty"`
	// Selector selects the budget's pods; required for a new budget, kept
	// from the old one when a budget is replaced without it.
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
	// MinAvailable or MaxUnavailable: exactly one for a budget kept.
	MinAvailable   *intstr.IntOrString `json:"minAvailable,omitempty"`
	MaxUnavailable *intstr.IntOrString `json:"maxUnavailable,omitempty"`
	// UnhealthyPodEvictionPolicy is IfHealthyBudget or AlwaysAllow.
	UnhealthyPodEvictionPolicy string `json:"unhealthyPodEvictionPolicy,omitempty"`
}

// Surge adds nodes of one shape before the rollout.
type Surge struct {
	// Nodes is how many.
	Nodes int `json:"nodes"`
	// Like names the node whose shape (allocatable, labels, taints) they
	// copy; empty means the most common shape.
	Like string `json:"like,omitempty"`
	// NamePrefix names them PREFIX-001, PREFIX-002...; default "surge".
	// The machines added to the real cluster must carry these names for
	// the plan's drift gate to find them.
	NamePrefix string `json:"namePrefix,omitempty"`
}

// DefaultSurgePrefix names surge nodes when the file does not.
const DefaultSurgePrefix = "surge"

// FileError is bad what-if input: it names the file, the field path and,
// when known, the object.
type FileError struct {
	File   string
	Field  string
	Object string
	Reason string
}

func (e *FileError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Field != "" {
		b.WriteString(": " + e.Field)
	}
	if e.Object != "" {
		b.WriteString(" (" + e.Object + ")")
	}
	b.WriteString(": " + e.Reason)
	return b.String()
}

// Load reads, parses and validates a what-if file. Unknown fields are
// errors naming their path.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading what-if file: %w", err)
	}
	return Parse(path, data)
}

// Parse parses and validates a what-if document; name is used in errors.
func Parse(name string, data []byte) (*File, error) {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, &FileError{File: name, Reason: fmt.Sprintf("not YAML: %v", err)}
	}
	var generic any
	if err := json.Unmarshal(js, &generic); err != nil {
		return nil, &FileError{File: name, Reason: fmt.Sprintf("not YAML: %v", err)}
	}
	if err := checkFields(name, "", generic, fileSchema); err != nil {
		return nil, err
	}
	var f File
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, &FileError{File: name, Reason: err.Error()}
	}
	if err := f.Validate(name); err != nil {
		return nil, err
	}
	return &f, nil
}

// schema lists the fields of an object and, for those holding objects or
// lists of objects, their own schema.
type schema map[string]schema

// leaf marks a field whose value is not checked field by field.
var leaf schema

var labelSelectorSchema = schema{"matchLabels": leaf, "matchExpressions": leaf}

var fileSchema = schema{
	"apiVersion": leaf, "kind": leaf,
	"replicas": {"kind": leaf, "namespace": leaf, "name": leaf, "replicas": leaf},
	"pdbs": {"namespace": leaf, "name": leaf, "delete": leaf, "selector": labelSelectorSchema,
		"minAvailable": leaf, "maxUnavailable": leaf, "unhealthyPodEvictionPolicy": leaf},
	"timings":      {"namespace": leaf, "selector": labelSelectorSchema, "podStartupSeconds": leaf, "terminationSeconds": leaf},
	"surge":        {"nodes": leaf, "like": leaf, "namePrefix": leaf},
	"excludeNodes": leaf, "excludeNamespaces": leaf, "deletePods": leaf, "acceptOutage": leaf,
}

// checkFields reports the first field (in path order) that the schema does
// not know.
func checkFields(file, path string, v any, s schema) error {
	if s == nil {
		return nil
	}
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			sub, ok := s[k]
			p := k
			if path != "" {
				p = path + "." + k
			}
			if !ok {
				known := make([]string, 0, len(s))
				for k := range s {
					known = append(known, k)
				}
				sort.Strings(known)
				return &FileError{File: file, Field: p, Reason: "unknown field: want one of " + strings.Join(known, ", ")}
			}
			if err := checkFields(file, p, x[k], sub); err != nil {
				return err
			}
		}
	case []any:
		for i, e := range x {
			if err := checkFields(file, fmt.Sprintf("%s[%d]", path, i), e, s); err != nil {
				return err
			}
		}
	}
	return nil
}

// Validate checks the file's values; name is used in errors.
func (f *File) Validate(name string) error {
	bad := func(field, object, reason string) error {
		return &FileError{File: name, Field: field, Object: object, Reason: reason}
	}
	if f.APIVersion != "" && f.APIVersion != APIVersion {
		return bad("apiVersion", "", fmt.Sprintf("%q: want %s", f.APIVersion, APIVersion))
	}
	if f.Kind != "" && f.Kind != Kind {
		return bad("kind", "", fmt.Sprintf("%q: want %s", f.Kind, Kind))
	}
	for i, r := range f.Replicas {
		field := fmt.Sprintf("replicas[%d]", i)
		if !slices.Contains([]string{"Deployment", "StatefulSet", "ReplicaSet"}, r.Kind) {
			return bad(field+".kind", "", fmt.Sprintf("%q: want Deployment, StatefulSet or ReplicaSet", r.Kind))
		}
		if r.Namespace == "" || r.Name == "" {
			return bad(field, "", "namespace and name must be set")
		}
		if r.Replicas < 0 {
			return bad(field+".replicas", r.Kind+"/"+r.Namespace+"/"+r.Name, fmt.Sprintf("%d: must not be negative", r.Replicas))
		}
	}
	for i, p := range f.PDBs {
		field := fmt.Sprintf("pdbs[%d]", i)
		obj := "PodDisruptionBudget/" + p.Namespace + "/" + p.Name
		if p.Namespace == "" || p.Name == "" {
			return bad(field, "", "namespace and name must be set")
		}
		if p.Delete {
			if p.Selector != nil || p.MinAvailable != nil || p.MaxUnavailable != nil || p.UnhealthyPodEvictionPolicy != "" {
				return bad(field+".delete", obj, "a deleted budget takes no other field")
			}
			continue
		}
		if (p.MinAvailable == nil) == (p.MaxUnavailable == nil) {
			return bad(field, obj, "set exactly one of minAvailable and maxUnavailable")
		}
		for k, v := range map[string]*intstr.IntOrString{"minAvailable": p.MinAvailable, "maxUnavailable": p.MaxUnavailable} {
			if v == nil {
				continue
			}
			if _, err := intstr.GetScaledValueFromIntOrPercent(v, 100, true); err != nil || (v.Type == intstr.Int && v.IntVal < 0) {
				return bad(field+"."+k, obj, fmt.Sprintf("%q: want a count or a percentage", v.String()))
			}
		}
		if p.Selector != nil {
			if _, err := metav1.LabelSelectorAsSelector(p.Selector); err != nil {
				return bad(field+".selector", obj, err.Error())
			}
		}
		if u := p.UnhealthyPodEvictionPolicy; u != "" && u != "IfHealthyBudget" && u != "AlwaysAllow" {
			return bad(field+".unhealthyPodEvictionPolicy", obj, fmt.Sprintf("%q: want IfHealthyBudget or AlwaysAllow", u))
		}
	}
	for i, t := range f.Timings {
		field := fmt.Sprintf("timings[%d]", i)
		if t.Selector != nil {
			if _, err := metav1.LabelSelectorAsSelector(t.Selector); err != nil {
				return bad(field+".selector", "", err.Error())
			}
		}
		if t.PodStartupSeconds == nil && t.TerminationSeconds == nil {
			return bad(field, "", "set podStartupSeconds, terminationSeconds or both")
		}
		for k, v := range map[string]*float64{"podStartupSeconds": t.PodStartupSeconds, "terminationSeconds": t.TerminationSeconds} {
			if v != nil && *v < 0 {
				return bad(field+"."+k, "", fmt.Sprintf("%v: must not be negative", *v))
			}
		}
	}
	if s := f.Surge; s != nil && s.Nodes < 0 {
		return bad("surge.nodes", "", fmt.Sprintf("%d: must not be negative", s.Nodes))
	}
	for field, list := range map[string][]string{"deletePods": f.DeletePods, "acceptOutage": f.AcceptOutage} {
		for i, s := range list {
			if ns, n, ok := strings.Cut(s, "/"); !ok || ns == "" || n == "" || strings.Contains(n, "/") {
				return bad(fmt.Sprintf("%s[%d]", field, i), "", fmt.Sprintf("%q: want namespace/name", s))
			}
		}
	}
	return nil
}

// Empty reports whether the file changes nothing.
func (f *File) Empty() bool {
	return f == nil || (len(f.Replicas) == 0 && len(f.PDBs) == 0 && len(f.Timings) == 0 && (f.Surge == nil || f.Surge.Nodes == 0) &&
		len(f.ExcludeNodes) == 0 && len(f.ExcludeNamespaces) == 0 && len(f.DeletePods) == 0 && len(f.AcceptOutage) == 0)
}

// Marshal writes the file as YAML, with its apiVersion and kind.
func (f *File) Marshal() ([]byte, error) {
	c := *f
	c.APIVersion, c.Kind = APIVersion, Kind
	data, err := yaml.Marshal(&c)
	if err != nil {
		return nil, fmt.Errorf("writing the what-if file: %w", err)
	}
	return data, nil
}
