package snapshot

import (
	"fmt"
	"strconv"
	"strings"
)

// Severity says whether an Issue makes a snapshot unusable.
type Severity int

const (
	// SeverityError marks an issue that makes the input unusable. It is the
	// zero value, so an Issue built without a severity is an error.
	SeverityError Severity = iota
	// SeverityWarning marks an issue worth reporting that does not stop
	// noderoll from using the snapshot.
	SeverityWarning
)

// String returns "error" or "warning".
func (s Severity) String() string {
	if s == SeverityWarning {
		return "warning"
	}
	return "error"
}

// MarshalText encodes the severity as its String form.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// IssueCode identifies the kind of an Issue. The values are stable: tests and
// tools may match on them.
type IssueCode string

// Issue codes.
const (
	// IssueUnreadable: the file does not exist, is a directory or cannot be
	// read for lack of permission.
	IssueUnreadable IssueCode = "Unreadable"
	// IssueSyntax: the input is not well-formed YAML or JSON, or not gzip
	// although it starts like gzip.
	IssueSyntax IssueCode = "Syntax"
	// IssueInvalidDocument: a document is well-formed but is not a
	// Kubernetes object, List or ClusterSnapshot that noderoll can use.
	IssueInvalidDocument IssueCode = "InvalidDocument"
	// IssueTooLarge: the input is over a limit (MaxInputBytes, compressed
	// or not, or MaxYAMLDocumentBytes for one YAML document).
	IssueTooLarge IssueCode = "TooLarge"
	// IssueMissingKind: an object has no kind or no apiVersion.
	IssueMissingKind IssueCode = "MissingKind"
	// IssueMissingName: an object has no metadata.name.
	IssueMissingName IssueCode = "MissingName"
	// IssueInvalidValue: a field does not decode into its Kubernetes type.
	IssueInvalidValue IssueCode = "InvalidValue"
	// IssueInvalidQuantity: a resource quantity is malformed or negative.
	IssueInvalidQuantity IssueCode = "InvalidQuantity"
	// IssueDuplicate: two objects share kind, namespace and name.
	IssueDuplicate IssueCode = "Duplicate"
	// IssueNodeNotFound: a pod is bound to a node the snapshot lacks.
	IssueNodeNotFound IssueCode = "NodeNotFound"
	// IssueOwnerNotFound: an owner reference names an object the snapshot
	// lacks although it holds objects of that kind. A warning.
	IssueOwnerNotFound IssueCode = "OwnerNotFound"
	// IssueNotCounted: a capture could not count the objects of a kind
	// (Snapshot.Uncounted) for want of permission. A warning.
	IssueNotCounted IssueCode = "NotCounted"
	// IssueUnsupportedVersion: an object of a kind noderoll uses comes in an
	// API version it does not decode; the object is skipped. A warning.
	IssueUnsupportedVersion IssueCode = "UnsupportedVersion"
)

// ObjectRef names a Kubernetes object as kind/namespace/name, or kind/name
// for cluster-scoped objects.
type ObjectRef struct {
	Kind      string `json:"kind,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`
}

// String returns "Kind/namespace/name", "Kind/name" when the namespace is
// empty, and "(unnamed)" in place of an empty name.
func (r ObjectRef) String() string {
	name := r.Name
	if name == "" {
		name = "(unnamed)"
	}
	kind := r.Kind
	if kind == "" {
		kind = "(no kind)"
	}
	if r.Namespace == "" {
		return kind + "/" + name
	}
	return kind + "/" + r.Namespace + "/" + name
}

// Issue is one problem found in a snapshot or in the input it was loaded
// from. Its String form names the file, the object and the field:
//
//	snapshot.yaml: Pod/shop/web-1: spec.nodeName: node "n9" does not exist
//	bad.yaml:14: document 2: mapping values are not allowed in this context
type Issue struct {
	Severity Severity  `json:"severity"`
	Code     IssueCode `json:"code"`
	// File is the input file; empty for a snapshot built in memory.
	File string `json:"file,omitempty"`
	// Line is the 1-based line in File, when known.
	Line int `json:"line,omitempty"`
	// Document is the 1-based index of the YAML or JSON document in a
	// multi-document input, when it helps to locate the problem.
	Document int `json:"document,omitempty"`
	// Item is the 1-based index of the object in its List's items, when it
	// helps to locate the problem.
	Item int `json:"item,omitempty"`
	// Object is the object concerned; zero for problems with the input as a
	// whole.
	Object ObjectRef `json:"object,omitzero"`
	// Field is the object's field in Kubernetes path notation, e.g.
	// "spec.containers[0].resources.requests[cpu]".
	Field string `json:"field,omitempty"`
	// Message says what is wrong, in lower case.
	Message string `json:"message"`
	// Err is the underlying error, if any (a syntax error, a quantity parse
	// error, a file system error).
	Err error `json:"-"`
}

// String renders the issue as "file[:line]: [position: ][object: ][field: ]message".
// The position (document, item) is shown only when the object cannot be
// named otherwise.
func (i Issue) String() string {
	var parts []string
	if i.File != "" {
		f := i.File
		if i.Line > 0 {
			f += ":" + strconv.Itoa(i.Line)
		}
		parts = append(parts, f)
	}
	if i.Object.Kind == "" || i.Object.Name == "" {
		var pos []string
		if i.Document > 0 {
			pos = append(pos, fmt.Sprintf("document %d", i.Document))
		}
		if i.Item > 0 {
			pos = append(pos, fmt.Sprintf("item %d", i.Item))
		}
		if len(pos) > 0 {
			parts = append(parts, strings.Join(pos, ", "))
		}
	}
	if i.Object != (ObjectRef{}) {
		parts = append(parts, i.Object.String())
	}
	if i.Field != "" {
		parts = append(parts, i.Field)
	}
	parts = append(parts, i.Message)
	return strings.Join(parts, ": ")
}

// InputError reports input that cannot be used: unreadable, unparsable or
// inconsistent. It carries every error-severity Issue found, at least one.
// The CLI maps it to exit code 2.
type InputError struct {
	// File is the input file; empty for a snapshot built in memory.
	File string
	// Issues are the errors found, in input order.
	Issues []Issue
}

// Error returns the first issue and how many more there are.
func (e *InputError) Error() string {
	switch len(e.Issues) {
	case 0:
		if e.File == "" {
			return "invalid snapshot"
		}
		return e.File + ": invalid snapshot"
	case 1:
		return e.Issues[0].String()
	case 2:
		return e.Issues[0].String() + " (and 1 more error)"
	default:
		return fmt.Sprintf("%s (and %d more errors)", e.Issues[0].String(), len(e.Issues)-1)
	}
}

// Unwrap returns the underlying errors of the issues, so that errors.Is and
// errors.As see, for example, fs.ErrNotExist.
func (e *InputError) Unwrap() []error {
	var errs []error
	for _, i := range e.Issues {
		if i.Err != nil {
			errs = append(errs, i.Err)
		}
	}
	return errs
}

// splitIssues separates errors from warnings.
func splitIssues(issues []Issue) (errs, warnings []Issue) {
	for _, i := range issues {
		if i.Severity == SeverityWarning {
			warnings = append(warnings, i)
		} else {
			errs = append(errs, i)
		}
	}
	return errs, warnings
}
