package snapshot

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Save writes the snapshot in the native form: JSON, gzip-compressed when
// path ends in ".gz", with apiVersion and kind set. The write is atomic: the
// data goes to a temporary file in the same directory, which is synced and
// then renamed over path; on any failure the temporary file is removed and
// path is left as it was.
func (s *Snapshot) Save(path string) (err error) {
	if path == "" {
		return fmt.Errorf("saving snapshot: %w", errNoPath)
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("saving snapshot %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := s.encode(tmp, strings.HasSuffix(path, ".gz")); err != nil {
		return fmt.Errorf("saving snapshot %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("saving snapshot %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("saving snapshot %s: syncing: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("saving snapshot %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("saving snapshot %s: %w", path, err)
	}
	// Make the rename itself durable. Not every file system can sync a
	// directory; the data is already safe, so a failure here is ignored.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
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
