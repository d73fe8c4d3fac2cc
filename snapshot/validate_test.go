package snapshot

import (
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestLoad_reportsBadInputNamingTheFileTheObjectAndTheField(t *testing.T) {
	for _, tc := range []struct {
		name string
		file string
		// data, if set, is loaded with LoadBytes under the name file.
		data string
		want []Issue // compared on Code, File, Line, Document, Object and Field
		// message must contain each of these.
		message []string
	}{
		{
			name: "a YAML syntax error names the document and the line",
			file: "testdata/invalid/syntax.yaml",
			want: []Issue{{Code: IssueSyntax, Line: 11, Document: 2}},
			message: []string{
				"testdata/invalid/syntax.yaml:11: document 2: mapping values are not allowed",
			},
		},
		{
			name:    "a JSON syntax error names the line",
			file:    "testdata/invalid/syntax.json",
			want:    []Issue{{Code: IssueSyntax, Line: 6}},
			message: []string{"testdata/invalid/syntax.json:6: invalid character '\"' after object key:value pair"},
		},
		{
			name:    "a pod bound to a node that does not exist",
			file:    "testdata/invalid/pod-on-missing-node.yaml",
			want:    []Issue{{Code: IssueNodeNotFound, Object: ObjectRef{"Pod", "shop", "web-1"}, Field: "spec.nodeName"}},
			message: []string{`testdata/invalid/pod-on-missing-node.yaml: Pod/shop/web-1: spec.nodeName: node "n9" does not exist`},
		},
		{
			name:    "two objects with the same kind, namespace and name",
			file:    "testdata/invalid/duplicate.yaml",
			want:    []Issue{{Code: IssueDuplicate, Object: ObjectRef{"Pod", "shop", "web-1"}, Field: "metadata.name"}},
			message: []string{"testdata/invalid/duplicate.yaml: Pod/shop/web-1: metadata.name: duplicate object"},
		},
		{
			name: "duplicate counted objects",
			file: "cm.yaml",
			data: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: x}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: x}\n",
			want: []Issue{{Code: IssueDuplicate, Document: 2, Object: ObjectRef{"ConfigMap", "x", "a"}, Field: "metadata.name"}},
		},
		{
			name: "a malformed quantity in YAML names the object and the field",
			file: "testdata/invalid/bad-quantity.yaml",
			want: []Issue{{Code: IssueInvalidQuantity, Document: 2, Object: ObjectRef{"Pod", "shop", "web-1"},
				Field: "spec.containers[1].resources.requests[cpu]"}},
			message: []string{`testdata/invalid/bad-quantity.yaml: Pod/shop/web-1: spec.containers[1].resources.requests[cpu]: invalid quantity "1.5.3"`},
		},
		{
			name:    "a malformed quantity in the native form names the object and the field",
			file:    "testdata/invalid/bad-quantity.json",
			want:    []Issue{{Code: IssueInvalidQuantity, Item: 1, Object: ObjectRef{"Node", "", "n1"}, Field: "status.allocatable[cpu]"}},
			message: []string{`testdata/invalid/bad-quantity.json: Node/n1: status.allocatable[cpu]: invalid quantity "four"`},
		},
		{
			name:    "a negative request",
			file:    "testdata/invalid/negative-request.yaml",
			want:    []Issue{{Code: IssueInvalidQuantity, Object: ObjectRef{"Pod", "shop", "web-1"}, Field: "spec.containers[0].resources.requests[cpu]"}},
			message: []string{`Pod/shop/web-1: spec.containers[0].resources.requests[cpu]: invalid quantity "-500m": must not be negative`},
		},
		{
			name:    "an object without a name is located by its document",
			file:    "testdata/invalid/missing-name.yaml",
			want:    []Issue{{Code: IssueMissingName, Document: 2, Object: ObjectRef{"Pod", "shop", ""}, Field: "metadata.name"}},
			message: []string{"testdata/invalid/missing-name.yaml: document 2: Pod/shop/(unnamed): metadata.name: name is required"},
		},
		{
			name:    "an object without a kind is located by its List item",
			file:    "list.json",
			data:    `{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"}},{"apiVersion":"v1","metadata":{"name":"x"}}]}`,
			want:    []Issue{{Code: IssueMissingKind, Item: 2, Object: ObjectRef{"", "", "x"}, Field: "kind"}},
			message: []string{"list.json: item 2: (no kind)/x: kind: kind is required"},
		},
		{
			name:    "a value of the wrong type names the field",
			file:    "pod.yaml",
			data:    "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: x}\nspec:\n  priority: high\n  containers: [{name: c, image: i}]\n",
			want:    []Issue{{Code: IssueInvalidValue, Object: ObjectRef{"Pod", "x", "p"}, Field: "spec.priority"}},
			message: []string{"pod.yaml: Pod/x/p: spec.priority: expected int32, found a string"},
		},
		{
			name:    "a document that is not an object",
			file:    "scalar.yaml",
			data:    "just a string\n",
			want:    []Issue{{Code: IssueInvalidDocument, Line: 0}},
			message: []string{"scalar.yaml: expected a Kubernetes object, List or ClusterSnapshot, found a string"},
		},
		{
			name: "an empty input",
			file: "empty.yaml",
			data: "# nothing here\n",
			want: []Issue{{Code: IssueInvalidDocument}},
		},
		{
			name:    "data that starts like gzip but is not",
			file:    "broken.json.gz",
			data:    "\x1f\x8b\x08\x00garbage",
			want:    []Issue{{Code: IssueSyntax}},
			message: []string{"broken.json.gz: reading gzip data"},
		},
		{
			name:    "a native snapshot of an unknown version",
			file:    "future.json",
			data:    `{"apiVersion":"noderoll.dev/v9","kind":"ClusterSnapshot"}`,
			want:    []Issue{{Code: IssueInvalidDocument, Field: "apiVersion"}},
			message: []string{`future.json: apiVersion: unsupported apiVersion "noderoll.dev/v9"`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.data != "" {
				_, err = LoadBytes(tc.file, []byte(tc.data))
			} else {
				_, err = Load(tc.file)
			}
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("error %v (%T), want an *InputError", err, err)
			}
			if ie.File != tc.file {
				t.Errorf("InputError.File %q, want %q", ie.File, tc.file)
			}
			if len(ie.Issues) != len(tc.want) {
				t.Fatalf("got %d issues, want %d:\n%s", len(ie.Issues), len(tc.want), issuesText(ie.Issues))
			}
			for i, got := range ie.Issues {
				want := tc.want[i]
				want.File = tc.file
				if got.Code != want.Code || got.File != want.File || got.Line != want.Line || got.Document != want.Document ||
					got.Item != want.Item || got.Object != want.Object || got.Field != want.Field || got.Severity != SeverityError {
					t.Errorf("issue %d:\n got %+v\nwant %+v", i, got, want)
				}
			}
			for _, m := range tc.message {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("message %q does not contain %q", err.Error(), m)
				}
			}
			if !strings.HasPrefix(err.Error(), tc.file) {
				t.Errorf("message %q does not start with the file name", err.Error())
			}
		})
	}
}

func issuesText(issues []Issue) string {
	var b strings.Builder
	for _, i := range issues {
		b.WriteString("  " + i.Severity.String() + " " + string(i.Code) + ": " + i.String() + "\n")
	}
	return b.String()
}

func TestLoad_anOwnerMissingFromTheSnapshotIsOnlyAWarning(t *testing.T) {
	const file = "testdata/invalid/missing-owner.yaml"
	s, err := Load(file)
	if err != nil {
		t.Fatalf("Load: %v, want only a warning", err)
	}
	// The pod owned by a Job gets none: the snapshot holds no Job at all,
	// so Jobs were not captured.
	if len(s.Warnings) != 1 {
		t.Fatalf("got %d warnings, want 1:\n%s", len(s.Warnings), issuesText(s.Warnings))
	}
	w := s.Warnings[0]
	if w.Severity != SeverityWarning || w.Code != IssueOwnerNotFound {
		t.Errorf("got %s %s, want a warning %s", w.Severity, w.Code, IssueOwnerNotFound)
	}
	want := `testdata/invalid/missing-owner.yaml: Pod/shop/web-old-1: metadata.ownerReferences[0]: owner ReplicaSet "web-old" is not in the snapshot`
	if w.String() != want {
		t.Errorf("warning\n %q\nwant\n %q", w.String(), want)
	}
}

func TestValidate_aTerminatedPodOnAMissingNodeIsOnlyAWarning(t *testing.T) {
	s := &Snapshot{Pods: []corev1.Pod{{
		ObjectMeta: metav1.ObjectMeta{Name: "job-1", Namespace: "x"},
		Spec:       corev1.PodSpec{NodeName: "gone"},
		Status:     corev1.PodStatus{Phase: corev1.PodSucceeded},
	}}}
	warnings, err := s.Validate()
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || warnings[0].Code != IssueNodeNotFound {
		t.Errorf("warnings %v, want one %s", warnings, IssueNodeNotFound)
	}
}

func TestValidate_anObjectWithoutANameIsAnError(t *testing.T) {
	s := &Snapshot{Nodes: []corev1.Node{{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}, {}}}
	_, err := s.Validate()
	var ie *InputError
	if !errors.As(err, &ie) || len(ie.Issues) != 1 {
		t.Fatalf("error %v, want an *InputError with one issue", err)
	}
	if got, want := ie.Issues[0].String(), "Node/(unnamed): metadata.name: name is required (nodes[1])"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
