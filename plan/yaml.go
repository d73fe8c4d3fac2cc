package plan

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/noderoll/noderoll/internal/atomicfile"
)

// InvalidError is a plan document that cannot be run: it names the file
// and, for each problem, the field.
type InvalidError struct {
	// File is the document's name (its path, when loaded from a file).
	File string
	// Errs are the problems, each with its field path.
	Errs field.ErrorList
	// Err is set instead when the document does not even parse.
	Err error
}

func (e *InvalidError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", e.File, e.Err)
	}
	lines := make([]string, len(e.Errs))
	for i, fe := range e.Errs {
		lines[i] = fmt.Sprintf("%s: %s", e.File, fe.Error())
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the parse error, if any.
func (e *InvalidError) Unwrap() error { return e.Err }

// MaxPlanBytes bounds a plan document: Load and LoadBytes reject a larger
// one before parsing it. A plan names each node once and carries a few
// figures per batch: a plan of 5,000 nodes is well under 1 MiB.
const MaxPlanBytes = 64 << 20

// maxPlanBytes is the limit in force; tests lower it.
var maxPlanBytes int64 = MaxPlanBytes

// ErrTooLarge is the error of an *InvalidError for a plan over
// MaxPlanBytes.
var ErrTooLarge = errors.New("the plan is too large")

// Load reads and validates a plan document (YAML or JSON). Unknown fields
// are errors; a file over MaxPlanBytes is not read.
func Load(path string) (*Plan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading plan: %w", err)
	}
	defer func() { _ = f.Close() }() // read-only: nothing to lose
	data, err := io.ReadAll(io.LimitReader(f, maxPlanBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading plan %s: %w", path, err)
	}
	return LoadBytes(path, data)
}

// LoadBytes parses and validates a plan document; name is used in errors.
// A document over MaxPlanBytes is an *InvalidError wrapping ErrTooLarge.
func LoadBytes(name string, data []byte) (*Plan, error) {
	if int64(len(data)) > maxPlanBytes {
		return nil, &InvalidError{File: name, Err: fmt.Errorf("%w: more than the limit of %d MiB", ErrTooLarge, maxPlanBytes>>20)}
	}
	var p Plan
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, &InvalidError{File: name, Err: err}
	}
	// The strict decoder names the path of an unknown or duplicate field.
	strict, err := kjson.UnmarshalStrict(js, &p, kjson.DisallowUnknownFields)
	if err != nil {
		return nil, &InvalidError{File: name, Err: err}
	}
	if len(strict) > 0 {
		return nil, &InvalidError{File: name, Err: errors.Join(strict...)}
	}
	if errs := p.Validate(); len(errs) > 0 {
		return nil, &InvalidError{File: name, Errs: errs}
	}
	return &p, nil
}

// Save writes the plan as YAML, atomically, with mode 0600: its hooks'
// environment may hold credentials.
func (p *Plan) Save(path string) error {
	if err := atomicfile.WritePrivate(path, p.Encode); err != nil {
		return fmt.Errorf("writing plan %s: %w", path, err)
	}
	return nil
}

// Encode writes the plan as YAML.
func (p *Plan) Encode(w io.Writer) error {
	data, err := yaml.Marshal(p)
	if err != nil {
		return fmt.Errorf("encoding plan: %w", err)
	}
	var b bytes.Buffer
	b.WriteString("# noderoll rollout plan: run it with `noderoll execute`, compare the run with `noderoll verify`.\n")
	b.Write(data)
	_, err = w.Write(b.Bytes())
	return err
}

// ErrNoBatches is reported for a plan without batches.
var ErrNoBatches = errors.New("a plan needs at least one batch")

// Validate checks the document: kind and version, a strategy, sane drain
// options, gates and hooks, batches numbered in order whose nodes are named
// once in the whole plan, and predictions that are not negative. Every
// error names its field.
func (p *Plan) Validate() field.ErrorList {
	var errs field.ErrorList
	if p.APIVersion != APIVersion {
		errs = append(errs, field.NotSupported(field.NewPath("apiVersion"), p.APIVersion, []string{APIVersion}))
	}
	if p.Kind != Kind {
		errs = append(errs, field.NotSupported(field.NewPath("kind"), p.Kind, []string{Kind}))
	}
	md := field.NewPath("metadata")
	if p.Metadata.Strategy == "" {
		errs = append(errs, field.Required(md.Child("strategy"), "the strategy that made the plan"))
	}
	spec := field.NewPath("spec")
	d := p.Spec.Drain
	if d.GracePeriodSeconds != nil && *d.GracePeriodSeconds < -1 {
		errs = append(errs, field.Invalid(spec.Child("drain", "gracePeriodSeconds"), *d.GracePeriodSeconds, "must be -1 (the pod's own) or more"))
	}
	if d.TimeoutSeconds < 0 {
		errs = append(errs, field.Invalid(spec.Child("drain", "timeoutSeconds"), d.TimeoutSeconds, "must not be negative"))
	}
	if p.Spec.SoakSeconds < 0 {
		errs = append(errs, field.Invalid(spec.Child("soakSeconds"), p.Spec.SoakSeconds, "must not be negative"))
	}
	hooks := spec.Child("hooks")
	if len(p.Spec.Hooks.Reinstall) > 0 && strings.TrimSpace(p.Spec.Hooks.Reinstall[0]) == "" {
		errs = append(errs, field.Invalid(hooks.Child("reinstall").Index(0), "", "the command to run must not be empty"))
	}
	if p.Spec.Hooks.TimeoutSeconds < 0 {
		errs = append(errs, field.Invalid(hooks.Child("timeoutSeconds"), p.Spec.Hooks.TimeoutSeconds, "must not be negative"))
	}
	for k := range p.Spec.Hooks.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			errs = append(errs, field.Invalid(hooks.Child("env").Key(k), k, "not a valid environment variable name"))
		}
	}
	errs = append(errs, p.Spec.Gates.validate(spec.Child("gates"))...)
	batches := spec.Child("batches")
	if len(p.Spec.Batches) == 0 {
		errs = append(errs, field.Required(batches, ErrNoBatches.Error()))
	}
	seen := map[string]int{}
	for i, b := range p.Spec.Batches {
		bp := batches.Index(i)
		if b.Index != i {
			errs = append(errs, field.Invalid(bp.Child("index"), b.Index, fmt.Sprintf("batches must be numbered in order: want %d", i)))
		}
		if len(b.Nodes) == 0 {
			errs = append(errs, field.Required(bp.Child("nodes"), "a batch needs at least one node"))
		}
		for j, n := range b.Nodes {
			np := bp.Child("nodes").Index(j)
			switch prev, dup := seen[n]; {
			case n == "":
				errs = append(errs, field.Required(np, "a node name"))
			case dup:
				errs = append(errs, field.Duplicate(np, fmt.Sprintf("%s (already in batch %d)", n, prev)))
			default:
				seen[n] = i
			}
		}
		if pr := b.Predicted; pr != nil {
			pp := bp.Child("predicted")
			for name, v := range map[string]float64{
				"durationSeconds": pr.DurationSeconds, "evictions": float64(pr.Evictions),
				"evictionsBlocked": float64(pr.EvictionsBlocked), "pdbStallSeconds": pr.PDBStallSeconds,
				"pendingPeak": float64(pr.PendingPeak), "unschedulable": float64(pr.Unschedulable),
			} {
				if v < 0 {
					errs = append(errs, field.Invalid(pp.Child(name), v, "must not be negative"))
				}
			}
		}
	}
	return sortErrors(errs)
}

func (g Gates) validate(path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if g.MaxPendingPods != nil && *g.MaxPendingPods < 0 {
		errs = append(errs, field.Invalid(path.Child("maxPendingPods"), *g.MaxPendingPods, "must not be negative"))
	}
	if g.MaxPDBStallSeconds != nil && *g.MaxPDBStallSeconds < 0 {
		errs = append(errs, field.Invalid(path.Child("maxPDBStallSeconds"), *g.MaxPDBStallSeconds, "must not be negative"))
	}
	for name, v := range map[string]int64{
		"rejoinTimeoutSeconds": g.RejoinTimeoutSeconds, "readyTimeoutSeconds": g.ReadyTimeoutSeconds,
		"settleSeconds": g.SettleSeconds, "drift.nodesAdded": int64(g.Drift.NodesAdded),
		"drift.nodesMissing": int64(g.Drift.NodesMissing), "drift.pdbsChanged": int64(g.Drift.PDBsChanged),
	} {
		if v < 0 {
			errs = append(errs, field.Invalid(path.Child(name), v, "must not be negative"))
		}
	}
	return errs
}

// sortErrors orders errors by field path so that messages are stable.
func sortErrors(errs field.ErrorList) field.ErrorList {
	slices.SortStableFunc(errs, func(a, b *field.Error) int { return strings.Compare(a.Field, b.Field) })
	return errs
}

// Seconds returns v seconds, or def when v is 0.
func Seconds(v, def int64) int64 {
	if v == 0 {
		return def
	}
	return v
}
