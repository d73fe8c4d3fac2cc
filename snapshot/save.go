package snapshot

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/noderoll/noderoll/internal/atomicfile"
)

// Save writes the snapshot in the native form: JSON, gzip-compressed when
// path ends in ".gz", with apiVersion and kind set, readable by its owner
// only (mode 0600). It scrubs s first, in place (Scrub): no value that may
// be a secret is written, whatever built s. The write is atomic: the data
// goes to a temporary file in the same directory, which is synced and then
// renamed over path; on any failure the temporary file is removed and path
// is left as it was.
func (s *Snapshot) Save(path string) error {
	if path == "" {
		return fmt.Errorf("saving snapshot: %w", errNoPath)
	}
	s.Scrub()
	compress := strings.HasSuffix(path, ".gz")
	if err := atomicfile.WritePrivate(path, func(w io.Writer) error { return s.encode(w, compress) }); err != nil {
		return fmt.Errorf("saving snapshot %s: %w", path, err)
	}
	return nil
}

// encode writes the native document to w. Plain JSON is indented for
// people to read; compressed JSON is not.
func (s *Snapshot) encode(w io.Writer, compress bool) error {
	doc := *s // a shallow copy, so that setting the type does not touch s
	doc.TypeMeta = metav1.TypeMeta{APIVersion: APIVersion, Kind: Kind}

	bw := bufio.NewWriterSize(w, 1<<16)
	var out io.Writer = bw
	var zw *gzip.Writer
	if compress {
		zw = gzip.NewWriter(bw)
		out = zw
	}
	enc := json.NewEncoder(out)
	if !compress {
		enc.SetIndent("", " ")
	}
	if err := enc.Encode(&doc); err != nil {
		return fmt.Errorf("encoding: %w", err)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return fmt.Errorf("compressing: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing: %w", err)
	}
	return nil
}

// errNoPath is returned by Save for an empty path.
var errNoPath = errors.New("no file name given")
