package snapshot

import (
	"errors"
	"fmt"
	"io"
)

// Input limits. Load and LoadBytes reject larger input with an Issue of code
// IssueTooLarge that names the file, the document and the limit, before
// holding more than the limit in memory.
const (
	// MaxInputBytes bounds a snapshot's data: the file as read and, for a
	// gzip-compressed file, the data it decompresses to (so a gzip bomb
	// stops there). 2 GiB is about twice a cluster at Kubernetes' tested
	// limit of 150,000 pods, in the native form (the seed profile, 20,000
	// pods, is 116 MB of JSON).
	MaxInputBytes int64 = 2 << 30
	// MaxYAMLDocumentBytes bounds one document of a YAML stream (a List
	// written by `kubectl get -o yaml` is one document). A YAML parser holds
	// a node tree several times the size of its text, where JSON decodes in
	// linear memory, so larger Lists are to be written as JSON
	// (`kubectl get -o json`), which only MaxInputBytes bounds.
	MaxYAMLDocumentBytes int64 = 256 << 20
)

// limits are the limits in force; tests lower them.
var limits = struct{ input, yamlDocument int64 }{MaxInputBytes, MaxYAMLDocumentBytes}

// errTooLarge is the underlying error of an IssueTooLarge issue.
var errTooLarge = errors.New("input too large")

// readLimited reads r to the end, or up to max bytes: over is true when r
// holds more, in which case data is nil.
func readLimited(r io.Reader, max int64) (data []byte, over bool, err error) {
	data, err = io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, false, err
	}
	if int64(len(data)) > max {
		return nil, true, nil
	}
	return data, false, nil
}

// sizeString renders a byte count in binary units: "2 GiB", "256 MiB".
func sizeString(n int64) string {
	for _, u := range []struct {
		unit  string
		scale int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.scale && n%u.scale == 0 {
			return fmt.Sprintf("%d %s", n/u.scale, u.unit)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}
