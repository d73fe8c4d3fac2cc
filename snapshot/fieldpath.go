package snapshot

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// decodeFailed reports an object the scheme could not decode. The decoder's
// errors do not say where the bad value is (a malformed quantity fails with
// "quantities must match the regular expression ..."), so the object is
// walked again, field by field, against its Go type to find the fields that
// do not decode.
func (l *loader) decodeFailed(pos position, ref ObjectRef, raw []byte, into runtime.Object, err error) {
	var generic any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var bad []fieldError
	if dec.Decode(&generic) == nil {
		locateInvalid(generic, reflect.TypeOf(into), nil, &bad)
	}
	if len(bad) == 0 {
		l.add(pos, Issue{Code: IssueInvalidValue, Object: ref, Message: "cannot decode: " + strings.TrimPrefix(err.Error(), "json: "), Err: err})
		return
	}
	for _, fe := range bad {
		l.add(pos, Issue{Code: fe.code, Object: ref, Field: fe.path, Message: fe.message, Err: fe.err})
	}
}

// fieldError is a field whose value does not decode into its Go type.
type fieldError struct {
	path    string
	code    IssueCode
	message string
	err     error
}

var (
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	quantityType    = reflect.TypeFor[resource.Quantity]()
)

// locateInvalid walks v (decoded with UseNumber) alongside the Go type t
// and appends to out the innermost fields whose values fail to decode.
// Fields that t does not have are ignored, as the non-strict decoder does.
func locateInvalid(v any, t reflect.Type, path *field.Path, out *[]fieldError) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v == nil {
		return // null decodes into anything
	}
	isLeaf := reflect.PointerTo(t).Implements(unmarshalerType) ||
		(t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8) // []byte is base64
	if !isLeaf {
		switch t.Kind() {
		case reflect.Struct:
			if m, ok := v.(map[string]any); ok {
				fields := jsonFields(t)
				for _, k := range slices.Sorted(maps.Keys(m)) {
					if f, ok := fields[k]; ok {
						locateInvalid(m[k], f.Type, childPath(path, k), out)
					}
				}
				return
			}
		case reflect.Map:
			if m, ok := v.(map[string]any); ok {
				for _, k := range slices.Sorted(maps.Keys(m)) {
					locateInvalid(m[k], t.Elem(), keyPath(path, k), out)
				}
				return
			}
		case reflect.Slice, reflect.Array:
			if a, ok := v.([]any); ok {
				for i := range a {
					locateInvalid(a[i], t.Elem(), indexPath(path, i), out)
				}
				return
			}
		case reflect.Interface:
			return
		}
	}
	data, err := json.Marshal(v)
	if err != nil {
		return
	}
	if err := json.Unmarshal(data, reflect.New(t).Interface()); err != nil {
		*out = append(*out, leafError(path, t, v, err))
	}
}

// leafError describes why value v does not decode into type t. Only
// quantities quote the value: anything else may come from a Secret.
func leafError(path *field.Path, t reflect.Type, v any, err error) fieldError {
	fe := fieldError{path: path.String(), code: IssueInvalidValue, err: err}
	var ute *json.UnmarshalTypeError
	switch {
	case t == quantityType:
		fe.code = IssueInvalidQuantity
		fe.message = fmt.Sprintf("invalid quantity %s: %v", quote(v), err)
		if errors.Is(err, resource.ErrFormatWrong) {
			fe.message = fmt.Sprintf("invalid quantity %s: want a number with an optional suffix, such as 500m, 2 or 1.5Gi", quote(v))
		}
	case errors.As(err, &ute):
		fe.message = fmt.Sprintf("expected %s, found a %s", ute.Type, ute.Value)
	default:
		fe.message = strings.TrimPrefix(err.Error(), "json: ")
	}
	return fe
}

// quote renders a quantity's JSON value for a message.
func quote(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("%q", v)
	case json.Number:
		return v.String()
	default:
		data, _ := json.Marshal(v)
		return string(data)
	}
}

// jsonFields maps the JSON names of t's fields to the fields, descending
// into embedded and inlined structs.
func jsonFields(t reflect.Type) map[string]reflect.StructField {
	fields := make(map[string]reflect.StructField)
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" && opts == "" {
			continue
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if name == "" && ft.Kind() == reflect.Struct && (f.Anonymous || strings.Contains(opts, "inline")) {
			for k, v := range jsonFields(ft) {
				if _, ok := fields[k]; !ok {
					fields[k] = v
				}
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields[name] = f
	}
	return fields
}

func childPath(p *field.Path, name string) *field.Path {
	if p == nil {
		return field.NewPath(name)
	}
	return p.Child(name)
}

func keyPath(p *field.Path, key string) *field.Path {
	if p == nil {
		return field.NewPath("").Key(key)
	}
	return p.Key(key)
}

func indexPath(p *field.Path, i int) *field.Path {
	if p == nil {
		return field.NewPath("").Index(i)
	}
	return p.Index(i)
}
