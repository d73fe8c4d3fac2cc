package snapshot

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
)

// counts is what the tests compare between input forms, beyond the
// fingerprint.
type counts struct {
	Summary         Summary
	NamespaceCounts map[string]ObjectCounts
	Skipped         map[string]int
	Warnings        int
}

func countsOf(s *Snapshot) counts {
	sum := s.Summary()
	sum.Source, sum.TakenAt = "", time.Time{}
	return counts{Summary: sum, NamespaceCounts: s.NamespaceCounts, Skipped: s.Skipped, Warnings: len(s.Warnings)}
}

func TestLoad_everyInputFormOfTheSameClusterGivesTheSameSnapshot(t *testing.T) {
	ref := mustLoad(t, clusterListYAML)
	refCounts := countsOf(ref)
	if ref.Summary().Nodes != 3 || ref.Summary().Pods != 10 {
		t.Fatalf("reference cluster: got %d nodes, %d pods; want 3, 10", len(ref.Nodes), len(ref.Pods))
	}
	for _, tc := range []struct {
		name string
		file string
	}{
		{"a List in YAML", clusterListYAML},
		{"a List in JSON", clusterListJSON},
		{"multi-document YAML with Lists inside, in another order", clusterMultiDoc},
		{"the native form as plain JSON", clusterNative},
		{"the native form as gzip JSON", clusterNativeGz},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustLoad(t, tc.file)
			if got, want := s.Fingerprint(), ref.Fingerprint(); got != want {
				t.Errorf("fingerprint %s, want %s (from %s)", got, want, clusterListYAML)
			}
			if got := countsOf(s); !reflect.DeepEqual(got, refCounts) {
				t.Errorf("counts differ from %s:\n got %+v\nwant %+v", clusterListYAML, got, refCounts)
			}
			if s.APIVersion != APIVersion || s.Kind != Kind {
				t.Errorf("type %s/%s, want %s/%s", s.APIVersion, s.Kind, APIVersion, Kind)
			}
		})
	}
}

func TestLoad_nativeFormKeepsEveryObjectAsLoadedFromYAML(t *testing.T) {
	fromYAML := mustLoad(t, clusterListYAML)
	for _, file := range []string{clusterNative, clusterNativeGz} {
		native := mustLoad(t, file)
		for i := range storedKinds {
			sk := &storedKinds[i]
			a, b := snapshotWithKind(fromYAML, sk), snapshotWithKind(native, sk)
			if !apiequality.Semantic.DeepEqual(a, b) {
				t.Errorf("%s: %s differ from those of %s", file, sk.field, clusterListYAML)
			}
		}
		if native.Source != "capture" || !native.TakenAt.Equal(&fixedTakenAt) || native.ServerVersion != "v1.37.2" {
			t.Errorf("%s: source %q, takenAt %v, serverVersion %q: not as saved", file, native.Source, native.TakenAt, native.ServerVersion)
		}
	}
}

// snapshotWithKind returns a snapshot holding only s's objects of kind sk.
func snapshotWithKind(s *Snapshot, sk *storedKind) *Snapshot {
	out := &Snapshot{}
	sk.move(out, s)
	return out
}

func TestLoad_setsSourceAndTakenAtForInputsThatLackThem(t *testing.T) {
	s := mustLoad(t, clusterListYAML)
	if s.Source != clusterListYAML {
		t.Errorf("source %q, want the path %q", s.Source, clusterListYAML)
	}
	fi, err := os.Stat(clusterListYAML)
	if err != nil {
		t.Fatal(err)
	}
	if want := fi.ModTime().Truncate(time.Second); !s.TakenAt.Time.Equal(want) {
		t.Errorf("takenAt %v, want the file's mtime %v", s.TakenAt.Time, want)
	}
}

func TestLoad_detectsGzipByItsMagicBytesNotItsName(t *testing.T) {
	data, err := os.ReadFile(clusterNativeGz)
	if err != nil {
		t.Fatal(err)
	}
	s, err := LoadBytes("snapshot.bin", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Pods) != 10 {
		t.Errorf("got %d pods, want 10", len(s.Pods))
	}

	// A gzipped List works as well.
	yamlData, err := os.ReadFile(clusterListYAML)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(yamlData); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = LoadBytes("list.yaml", buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.Fingerprint(), mustLoad(t, clusterListYAML).Fingerprint(); got != want {
		t.Errorf("gzipped YAML: fingerprint %s, want %s", got, want)
	}
}

func TestLoad_keepsNoSecretOrConfigMapDataAndNoManagedFields(t *testing.T) {
	s := mustLoad(t, clusterListYAML)
	want := ObjectCounts{
		ConfigMaps: 1, ConfigMapBytes: int64(len(configMapContent)),
		Secrets: 1, SecretBytes: int64(len(secretValue)),
		ServiceAccounts: 1, Roles: 1, RoleBindings: 1,
	}
	if got := s.NamespaceCounts["shop"]; got != want {
		t.Errorf("namespace counts of shop: got %+v, want %+v", got, want)
	}
	if want := map[string]int{"Ingress": 1, "ClusterRole": 1}; !reflect.DeepEqual(s.Skipped, want) {
		t.Errorf("skipped: got %v, want %v", s.Skipped, want)
	}
	for _, n := range s.Nodes {
		if n.ManagedFields != nil {
			t.Errorf("node %s kept its managedFields", n.Name)
		}
	}
	for _, d := range s.Deployments {
		if _, ok := d.Annotations["kubectl.kubernetes.io/last-applied-configuration"]; ok {
			t.Errorf("deployment %s kept its last-applied-configuration", d.Name)
		}
	}
	for _, p := range s.Pods {
		if p.Kind != "" || p.APIVersion != "" {
			t.Errorf("pod %s kept its type metadata %s/%s", p.Name, p.APIVersion, p.Kind)
		}
	}
}

func TestLoad_putsNamespacedObjectsWithoutNamespaceInDefault(t *testing.T) {
	s, err := LoadBytes("pods.yaml", []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i}]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Pods[0].Namespace; got != "default" {
		t.Errorf("namespace %q, want default", got)
	}
}

func TestLoad_acceptsTypedListsWhoseItemsOmitTheirKind(t *testing.T) {
	data := `{"apiVersion":"v1","kind":"NodeList","items":[{"metadata":{"name":"n1"}},{"metadata":{"name":"n2"}}]}`
	s, err := LoadBytes("nodes.json", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Nodes) != 2 {
		t.Errorf("got %d nodes, want 2", len(s.Nodes))
	}
}

func TestLoad_skipsUnsupportedVersionsOfUsedKindsWithAWarning(t *testing.T) {
	data := "apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata: {name: web, namespace: shop}\nspec: {minAvailable: 1}\n"
	s, err := LoadBytes("pdb.yaml", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.PodDisruptionBudgets) != 0 || s.Skipped["PodDisruptionBudget"] != 1 {
		t.Errorf("got %d PDBs, %d skipped; want 0, 1", len(s.PodDisruptionBudgets), s.Skipped["PodDisruptionBudget"])
	}
	if len(s.Warnings) != 1 || s.Warnings[0].Code != IssueUnsupportedVersion {
		t.Fatalf("warnings %v, want one %s", s.Warnings, IssueUnsupportedVersion)
	}
	if got, want := s.Warnings[0].String(), "pdb.yaml: PodDisruptionBudget/shop/web: apiVersion: policy/v1beta1 is not supported"; !strings.HasPrefix(got, want) {
		t.Errorf("warning %q, want it to start with %q", got, want)
	}
}

func TestLoad_reportsAMissingFileAsBadInputNamingIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := Load(path)
	var ie *InputError
	if !errors.As(err, &ie) {
		t.Fatalf("error %v (%T), want an *InputError", err, err)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %v does not wrap fs.ErrNotExist", err)
	}
	if !strings.HasPrefix(err.Error(), path+": ") {
		t.Errorf("error %q does not start with the file name", err)
	}
}

func TestSplitYAML_remembersWhereEachDocumentStarts(t *testing.T) {
	in := "# head\n---\na: 1\n--- # second\nb: 2\nc: 3\n...\n---\nd: 4"
	docs := splitYAML([]byte(in))
	var got []int
	for _, d := range docs {
		if hasContent(d.text) {
			got = append(got, d.line)
		}
	}
	if want := []int{3, 5, 9}; !reflect.DeepEqual(got, want) {
		t.Errorf("document lines %v, want %v", got, want)
	}
}

func TestLoad_acceptsAStreamOfJSONObjects(t *testing.T) {
	data := `{"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"}}
{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Node","metadata":{"name":"n2"}}]}`
	s, err := LoadBytes("stream.json", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Nodes) != 2 {
		t.Errorf("got %d nodes, want 2", len(s.Nodes))
	}
}

func TestLoad_anEmptyListIsAnEmptySnapshot(t *testing.T) {
	s, err := LoadBytes("empty.yaml", []byte("apiVersion: v1\nkind: List\nitems: []\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Summary(); got.Nodes != 0 || got.Pods != 0 {
		t.Errorf("got %d nodes, %d pods; want none", got.Nodes, got.Pods)
	}
}
