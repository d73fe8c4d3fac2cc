package snapshot

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Load reads a snapshot from a file in any of the forms LoadBytes accepts.
// When the input does not say when it was taken, TakenAt is the file's
// modification time.
//
// Bad input (a missing or unreadable file, a syntax error, an invalid
// object, an inconsistent snapshot) is reported as an *InputError naming the
// file; other failures as ordinary errors.
func Load(path string) (*Snapshot, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fileError(path, err)
	}
	defer func() { _ = f.Close() }() // read-only: nothing to lose
	fi, err := f.Stat()
	if err != nil {
		return nil, fileError(path, err)
	}
	if fi.IsDir() {
		return nil, &InputError{File: path, Issues: []Issue{{
			Code: IssueUnreadable, File: path, Message: "is a directory, not a snapshot file",
		}}}
	}
	if fi.Size() > limits.input {
		return nil, tooLarge(path, fmt.Sprintf("the file is %d bytes, more than the limit of %s", fi.Size(), sizeString(limits.input)))
	}
	// The size may change while the file is read, or be unknown (a pipe).
	data, over, err := readLimited(f, limits.input)
	if err != nil {
		return nil, fileError(path, err)
	}
	if over {
		return nil, tooLarge(path, "the file holds more than the limit of "+sizeString(limits.input))
	}
	s, err := LoadBytes(path, data)
	if err != nil {
		return nil, err
	}
	if s.TakenAt.IsZero() {
		s.TakenAt = metav1.NewTime(fi.ModTime().Truncate(time.Second))
	}
	return s, nil
}

// tooLarge is the *InputError of a file over a limit.
func tooLarge(path, msg string) error {
	return &InputError{File: path, Issues: []Issue{{Code: IssueTooLarge, File: path, Message: msg, Err: errTooLarge}}}
}

// fileError classifies an error opening or reading path: a file that does
// not exist or may not be read is bad input, anything else a failure.
func fileError(path string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
		msg := err.Error()
		var pe *fs.PathError
		if errors.As(err, &pe) {
			msg = pe.Err.Error()
		}
		return &InputError{File: path, Issues: []Issue{{Code: IssueUnreadable, File: path, Message: msg, Err: err}}}
	}
	return fmt.Errorf("reading snapshot %s: %w", path, err)
}

// LoadBytes decodes a snapshot from data; name is the file it came from and
// is used in messages. It accepts, gzip-compressed or not (detected by the
// magic bytes):
//
//   - the native form: a JSON (or YAML) ClusterSnapshot document as Save
//     writes it;
//   - a Kubernetes List (kind List or XxxList), YAML or JSON, as
//     `kubectl get ... -o yaml|json` writes it;
//   - multi-document YAML (or a stream of JSON objects) of plain objects and
//     Lists.
//
// Every object is decoded through the client-go scheme. ConfigMaps, Secrets,
// ServiceAccounts, Roles and RoleBindings are only counted per namespace (a
// ConfigMap's or Secret's data is measured, never kept); objects of other
// kinds are counted in Skipped. Namespaced objects without a namespace are
// put in "default". What may carry secrets is redacted (Scrub):
// managedFields and the last-applied-configuration annotation are dropped,
// env values, command lines and other values are replaced by Redacted. For
// inputs other than the native form, Source is set to name.
//
// Input over the limits (MaxInputBytes, compressed or not, and
// MaxYAMLDocumentBytes per YAML document) is rejected with an
// IssueTooLarge.
//
// The result is validated (see Validate). Errors come back as an
// *InputError listing every problem found; warnings are in the snapshot's
// Warnings.
func LoadBytes(name string, data []byte) (*Snapshot, error) {
	l := &loader{file: name, s: &Snapshot{}}
	l.load(data)
	loadErrs, loadWarnings := splitIssues(l.issues)
	if len(loadErrs) > 0 {
		return nil, &InputError{File: name, Issues: loadErrs}
	}
	s := l.s
	if !l.native {
		s.Source = name
	}
	s.Scrub()
	valErrs, valWarnings := splitIssues(s.issues())
	for i := range valErrs {
		valErrs[i].File = name
	}
	if len(valErrs) > 0 {
		return nil, &InputError{File: name, Issues: valErrs}
	}
	for i := range valWarnings {
		valWarnings[i].File = name
	}
	s.Warnings = append(loadWarnings, valWarnings...)
	s.TypeMeta = metav1.TypeMeta{APIVersion: APIVersion, Kind: Kind}
	return s, nil
}

// position locates a document or object in the input.
type position struct {
	line int // 1-based line, 0 if unknown
	doc  int // 1-based document index, 0 if the input has one document
	item int // 1-based index in a List's items (or a native kind's array)
}

// loader accumulates the objects and issues of one input.
type loader struct {
	file   string
	s      *Snapshot
	issues []Issue
	native bool
	// counted holds the counted objects seen, to report duplicates.
	counted map[ObjectRef]bool
}

func (l *loader) add(pos position, i Issue) {
	i.File = l.file
	if i.Line == 0 {
		i.Line = pos.line
	}
	i.Document = pos.doc
	i.Item = pos.item
	l.issues = append(l.issues, i)
}

var gzipMagic = []byte{0x1f, 0x8b}

// load dispatches data to the JSON or the YAML reader.
func (l *loader) load(data []byte) {
	if bytes.HasPrefix(data, gzipMagic) {
		if int64(len(data)) > limits.input {
			l.add(position{}, Issue{Code: IssueTooLarge, Err: errTooLarge,
				Message: fmt.Sprintf("the input is %d bytes, more than the limit of %s", len(data), sizeString(limits.input))})
			return
		}
		zr, err := gzip.NewReader(bytes.NewReader(data))
		over := false
		if err == nil {
			data, over, err = readLimited(zr, limits.input)
		}
		if err != nil {
			l.add(position{}, Issue{Code: IssueSyntax, Message: "reading gzip data: " + err.Error(), Err: err})
			return
		}
		if over {
			l.add(position{}, Issue{Code: IssueTooLarge, Err: errTooLarge,
				Message: "the gzip data decompresses to more than the limit of " + sizeString(limits.input)})
			return
		}
	} else if int64(len(data)) > limits.input {
		l.add(position{}, Issue{Code: IssueTooLarge, Err: errTooLarge,
			Message: fmt.Sprintf("the input is %d bytes, more than the limit of %s", len(data), sizeString(limits.input))})
		return
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // UTF-8 byte order mark
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	switch {
	case len(trimmed) == 0:
		l.add(position{}, Issue{Code: IssueInvalidDocument, Message: "the input is empty"})
	case trimmed[0] == '{' || trimmed[0] == '[':
		if apiVersion, kind, ok := sniffKind(trimmed); ok && kind == Kind && apiVersion == APIVersion && l.decodeNative(trimmed) {
			return // the common case of a large snapshot, without the general path's extra passes
		}
		l.loadJSON(data)
	default:
		l.loadYAML(data)
	}
}

// loadJSON reads a stream of JSON values.
func (l *loader) loadJSON(data []byte) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var docs []json.RawMessage
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if err == io.EOF {
			break
		}
		if err != nil {
			offset := dec.InputOffset()
			var se *json.SyntaxError
			if errors.As(err, &se) {
				offset = se.Offset
			}
			l.add(position{line: lineAt(data, offset)}, Issue{
				Code: IssueSyntax, Message: strings.TrimPrefix(err.Error(), "json: "), Err: err,
			})
			return
		}
		docs = append(docs, raw)
	}
	for i, raw := range docs {
		pos := position{}
		if len(docs) > 1 {
			pos.doc = i + 1
		}
		l.document(pos, raw, len(docs) > 1)
	}
}

// lineAt returns the 1-based line of the byte at offset.
func lineAt(data []byte, offset int64) int {
	offset = min(max(offset, 0), int64(len(data)))
	return bytes.Count(data[:offset], []byte("\n")) + 1
}

// yamlDoc is one document of a multi-document YAML stream.
type yamlDoc struct {
	line int // 1-based line of the document's first line
	text []byte
}

// splitYAML cuts data at document separators ("---" or "..." lines),
// remembering where each document starts.
func splitYAML(data []byte) []yamlDoc {
	var docs []yamlDoc
	start, startLine, line := 0, 1, 1
	for off := 0; off < len(data); line++ {
		next := len(data)
		end := len(data)
		if i := bytes.IndexByte(data[off:], '\n'); i >= 0 {
			end = off + i
			next = end + 1
		}
		if isDocSeparator(bytes.TrimRight(data[off:end], "\r")) {
			docs = append(docs, yamlDoc{line: startLine, text: data[start:off]})
			start, startLine = next, line+1
		}
		off = next
	}
	return append(docs, yamlDoc{line: startLine, text: data[start:]})
}

func isDocSeparator(line []byte) bool {
	for _, sep := range []string{"---", "..."} {
		if bytes.HasPrefix(line, []byte(sep)) && (len(line) == 3 || line[3] == ' ' || line[3] == '\t') {
			return true
		}
	}
	return false
}

// hasContent reports whether a YAML document has anything but blank lines
// and comments.
func hasContent(text []byte) bool {
	for line := range bytes.SplitSeq(text, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) > 0 && line[0] != '#' {
			return true
		}
	}
	return false
}

// yamlLine matches the line number in go-yaml's messages ("yaml: line 3: ...").
var yamlLine = regexp.MustCompile(`^(?:error converting YAML to JSON: )?yaml: line (\d+): `)

// loadYAML reads a multi-document YAML stream.
func (l *loader) loadYAML(data []byte) {
	docs := splitYAML(data)
	var nonEmpty []yamlDoc
	for _, d := range docs {
		if hasContent(d.text) {
			nonEmpty = append(nonEmpty, d)
		}
	}
	if len(nonEmpty) == 0 {
		l.add(position{}, Issue{Code: IssueInvalidDocument, Message: "the input holds no YAML document"})
		return
	}
	multi := len(nonEmpty) > 1
	for i, d := range nonEmpty {
		pos := position{line: d.line}
		if multi {
			pos.doc = i + 1
		}
		if int64(len(d.text)) > limits.yamlDocument {
			l.add(pos, Issue{Code: IssueTooLarge, Err: errTooLarge,
				Message: fmt.Sprintf("the YAML document is %d bytes, more than the limit of %s: write large Lists as JSON (kubectl get -o json)",
					len(d.text), sizeString(limits.yamlDocument))})
			continue
		}
		raw, err := yaml.YAMLToJSON(d.text)
		if err != nil {
			msg := err.Error()
			line := 0
			if m := yamlLine.FindStringSubmatch(msg); m != nil {
				n, _ := strconv.Atoi(m[1])
				line = d.line + n - 1
				msg = msg[len(m[0]):]
			} else {
				msg = strings.TrimPrefix(strings.TrimPrefix(msg, "error converting YAML to JSON: "), "yaml: ")
			}
			// The position's line is where the document starts; the
			// issue's line, where the parser stopped.
			l.add(pos, Issue{Code: IssueSyntax, Line: line, Message: msg, Err: err})
			continue
		}
		pos.line = 0 // a document's objects are named by kind/namespace/name
		l.document(pos, raw, multi)
	}
}

// docHead holds what identifies a document.
type docHead struct {
	APIVersion string          `json:"apiVersion"`
	Kind       string          `json:"kind"`
	Items      json.RawMessage `json:"items"`
}

// document handles one JSON document: a native snapshot, a List or a plain
// object.
func (l *loader) document(pos position, raw []byte, multi bool) {
	raw = bytes.TrimSpace(raw)
	if bytes.Equal(raw, []byte("null")) {
		return // an empty YAML document
	}
	if len(raw) == 0 || raw[0] != '{' {
		l.add(pos, Issue{Code: IssueInvalidDocument, Message: "expected a Kubernetes object, List or ClusterSnapshot, found a " + jsonKind(raw)})
		return
	}
	var head docHead
	if err := json.Unmarshal(raw, &head); err != nil {
		l.add(pos, Issue{Code: IssueInvalidDocument, Message: "reading apiVersion and kind: " + strings.TrimPrefix(err.Error(), "json: "), Err: err})
		return
	}
	switch {
	case head.Kind == Kind && strings.HasPrefix(head.APIVersion, "noderoll.dev/"):
		if multi {
			l.add(pos, Issue{Code: IssueInvalidDocument, Message: "a " + Kind + " must be the only document of its file"})
			return
		}
		l.loadNative(pos, raw, head.APIVersion)
	case head.Kind == "List" || (strings.HasSuffix(head.Kind, "List") && len(head.Items) > 0):
		var items []json.RawMessage
		if len(head.Items) > 0 && !bytes.Equal(head.Items, []byte("null")) {
			if err := json.Unmarshal(head.Items, &items); err != nil {
				l.add(pos, Issue{Code: IssueInvalidDocument, Field: "items", Message: "expected a list of objects: " + strings.TrimPrefix(err.Error(), "json: "), Err: err})
				return
			}
		}
		// Items of a typed list (PodList, as the API returns it) may omit
		// their apiVersion and kind.
		var itemKind *schema.GroupVersionKind
		if head.Kind != "List" {
			if gv, err := schema.ParseGroupVersion(head.APIVersion); err == nil {
				gvk := gv.WithKind(strings.TrimSuffix(head.Kind, "List"))
				itemKind = &gvk
			}
		}
		for i, item := range items {
			l.object(position{doc: pos.doc, item: i + 1}, item, itemKind)
		}
	default:
		l.object(pos, raw, nil)
	}
}

// jsonKind names the type of a JSON value for messages.
func jsonKind(raw []byte) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '[':
		return "list"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	default:
		return "number"
	}
}

// loadNative decodes a ClusterSnapshot document. Each object goes through the
// same path as a List item, so that errors name the object.
func (l *loader) loadNative(pos position, raw []byte, apiVersion string) {
	if apiVersion != APIVersion {
		l.add(pos, Issue{Code: IssueInvalidDocument, Field: "apiVersion",
			Message: fmt.Sprintf("unsupported apiVersion %q for %s (want %s)", apiVersion, Kind, APIVersion)})
		return
	}
	l.native = true

	if l.decodeNative(raw) {
		return
	}
	// Decode object by object, through the scheme, to name the object and
	// field at fault.
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		l.add(pos, Issue{Code: IssueInvalidDocument, Message: strings.TrimPrefix(err.Error(), "json: "), Err: err})
		return
	}
	for i := range storedKinds {
		sk := &storedKinds[i]
		field, ok := top[sk.field]
		if !ok {
			continue
		}
		delete(top, sk.field)
		var items []json.RawMessage
		if err := json.Unmarshal(field, &items); err != nil {
			l.add(pos, Issue{Code: IssueInvalidDocument, Field: sk.field, Message: "expected a list of objects: " + strings.TrimPrefix(err.Error(), "json: "), Err: err})
			continue
		}
		for j, item := range items {
			l.object(position{doc: pos.doc, item: j + 1}, item, &sk.gvk)
		}
	}
	// The rest (takenAt, source, namespaceCounts, ...) is plain data.
	var meta Snapshot
	rest, err := json.Marshal(top)
	if err == nil {
		err = json.Unmarshal(rest, &meta)
	}
	if err != nil {
		l.add(pos, Issue{Code: IssueInvalidDocument, Message: strings.TrimPrefix(err.Error(), "json: "), Err: err})
		return
	}
	for i := range storedKinds {
		storedKinds[i].move(&meta, l.s)
	}
	*l.s = meta
}

// decodeNative decodes a whole native document at once, with the JSON
// semantics of the scheme's serializer (case-sensitive field names, integers
// kept as integers). The kind of each object is implied by its field, so the
// scheme has nothing else to add. It is several times faster than going
// object by object, which is left for input that fails to decode here, to
// name the object and field at fault. It reports whether it succeeded.
func (l *loader) decodeNative(raw []byte) bool {
	var whole Snapshot
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(raw, &whole); err != nil {
		return false
	}
	for i := range storedKinds {
		sk := &storedKinds[i]
		sk.each(&whole, func(_ int, obj metav1.Object) {
			ns := ""
			if sk.namespaced && obj.GetNamespace() == "" {
				ns = metav1.NamespaceDefault
			}
			sanitize(obj.(runtime.Object), ns)
		})
	}
	*l.s = whole
	l.native = true
	return true
}

// sniffKind reads the apiVersion and kind of a JSON object when they are
// its first fields, as Save writes them; ok is false otherwise.
func sniffKind(data []byte) (apiVersion, kind string, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return "", "", false
	}
	for apiVersion == "" || kind == "" {
		key, err := dec.Token()
		if err != nil || (key != "apiVersion" && key != "kind") {
			return "", "", false
		}
		value, err := dec.Token()
		s, isString := value.(string)
		if err != nil || !isString || s == "" {
			return "", "", false
		}
		if key == "kind" {
			kind = s
		} else {
			apiVersion = s
		}
	}
	return apiVersion, kind, true
}

// objectHead holds what identifies an object.
type objectHead struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
}

// decoder decodes objects through the client-go scheme, without conversion
// or defaulting.
var decoder = scheme.Codecs.UniversalDeserializer()

// object decodes one object and adds it to the snapshot. def, if not nil,
// supplies the apiVersion and kind the object omits.
func (l *loader) object(pos position, raw []byte, def *schema.GroupVersionKind) {
	var head objectHead
	if err := json.Unmarshal(raw, &head); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) && ute.Field != "" {
			l.add(pos, Issue{Code: IssueInvalidValue, Field: ute.Field, Message: fmt.Sprintf("expected %s, found a %s", ute.Type, ute.Value), Err: err})
		} else {
			l.add(pos, Issue{Code: IssueInvalidDocument, Message: "expected a Kubernetes object, found a " + jsonKind(bytes.TrimSpace(raw)), Err: err})
		}
		return
	}
	if def != nil {
		if head.APIVersion == "" {
			head.APIVersion = def.GroupVersion().String()
		}
		if head.Kind == "" {
			head.Kind = def.Kind
		}
	}
	ref := ObjectRef{Kind: head.Kind, Namespace: head.Metadata.Namespace, Name: head.Metadata.Name}
	switch {
	case head.Kind == "":
		l.add(pos, Issue{Code: IssueMissingKind, Object: ref, Field: "kind", Message: "kind is required"})
		return
	case head.APIVersion == "":
		l.add(pos, Issue{Code: IssueMissingKind, Object: ref, Field: "apiVersion", Message: "apiVersion is required"})
		return
	}
	gv, err := schema.ParseGroupVersion(head.APIVersion)
	if err != nil {
		l.add(pos, Issue{Code: IssueInvalidValue, Object: ref, Field: "apiVersion", Message: err.Error(), Err: err})
		return
	}
	gvk := gv.WithKind(head.Kind)

	var want schema.GroupVersionKind
	var namespaced bool
	var newObject func() runtime.Object
	sk, stored := storedKindFor(gvk.GroupKind())
	ck, counted := countedKindFor(gvk.GroupKind())
	switch {
	case stored:
		want, namespaced, newObject = sk.gvk, sk.namespaced, sk.newObject
	case counted:
		want, namespaced, newObject = ck.gvk, true, ck.newObject
	default:
		l.skip(head.Kind)
		return
	}
	if gvk.Version != want.Version {
		l.add(pos, Issue{Severity: SeverityWarning, Code: IssueUnsupportedVersion, Object: ref, Field: "apiVersion",
			Message: fmt.Sprintf("%s is not supported (want %s); object skipped", head.APIVersion, want.GroupVersion())})
		l.skip(head.Kind)
		return
	}
	if namespaced && ref.Namespace == "" {
		ref.Namespace = metav1.NamespaceDefault
	}
	if ref.Name == "" {
		l.add(pos, Issue{Code: IssueMissingName, Object: ref, Field: "metadata.name", Message: "name is required"})
		return
	}
	into := newObject()
	obj, _, err := decoder.Decode(raw, &gvk, into)
	if err != nil {
		l.decodeFailed(pos, ref, raw, newObject(), err)
		return
	}
	if obj != into { // cannot happen: the decoder uses into for the kind the head named
		l.add(pos, Issue{Code: IssueInvalidValue, Object: ref, Message: fmt.Sprintf("decoded as %T, want %T", obj, into)})
		return
	}
	sanitize(obj, ref.Namespace)
	if stored {
		sk.add(l.s, obj)
		return
	}
	if l.counted == nil {
		l.counted = make(map[ObjectRef]bool)
	}
	if l.counted[ref] {
		l.add(pos, Issue{Code: IssueDuplicate, Object: ref, Field: "metadata.name", Message: "duplicate object"})
		return
	}
	l.counted[ref] = true
	if l.s.NamespaceCounts == nil {
		l.s.NamespaceCounts = make(map[string]ObjectCounts)
	}
	c := l.s.NamespaceCounts[ref.Namespace]
	ck.count(&c, obj)
	l.s.NamespaceCounts[ref.Namespace] = c
}

// skip counts an object of a kind the snapshot does not keep.
func (l *loader) skip(kind string) {
	if l.s.Skipped == nil {
		l.s.Skipped = make(map[string]int)
	}
	l.s.Skipped[kind]++
}

// sanitize drops the type metadata (the slice says the kind) and sets the
// namespace, which may have been defaulted. What may carry secrets is for
// Scrub, which LoadBytes calls on the whole snapshot.
func sanitize(obj runtime.Object, namespace string) {
	obj.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{})
	m, ok := obj.(metav1.Object)
	if !ok {
		return
	}
	if m.GetNamespace() == "" && namespace != "" {
		m.SetNamespace(namespace)
	}
}
