package executor

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// ProgressGzipKey is the ConfigMap binaryData key of the record,
// gzip-compressed, when its JSON is larger than MaxProgressBytes.
const ProgressGzipKey = ProgressKey + ".gz"

// MaxProgressBytes bounds what the executor writes in the progress
// ConfigMap: a ConfigMap holds at most 1 MiB (data, binaryData and
// metadata together), and this leaves room for the metadata. A record
// whose JSON is larger is stored gzip-compressed (ProgressGzipKey); one
// that is larger even so is refused with ErrRecordTooLarge before it is
// sent (the run stops; its last saved state stays).
const MaxProgressBytes = 900 << 10

// maxProgressInflated bounds the decompressed size of a stored record.
const maxProgressInflated = 64 << 20

// ErrRecordTooLarge: the run record does not fit in a ConfigMap.
var ErrRecordTooLarge = errors.New("the run record does not fit in the progress ConfigMap")

// progressStore persists the run record in a ConfigMap, with optimistic
// concurrency: every write carries the resourceVersion this store last
// read or wrote, so that a write based on anything but the ConfigMap as
// this executor left it fails (ErrProgressConflict). Writes go one at a
// time (executor.persist).
type progressStore struct {
	client    kubernetes.Interface
	namespace string
	// rv is the ConfigMap's resourceVersion as last read or written; ""
	// when there was none.
	rv string
}

// load returns the persisted record; nil when there is none.
func (s *progressStore) load(ctx context.Context) (*Record, error) {
	cm, err := s.client.CoreV1().ConfigMaps(s.namespace).Get(ctx, ProgressName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		s.rv = ""
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading progress ConfigMap %s/%s: %w", s.namespace, ProgressName, err)
	}
	s.rv = cm.ResourceVersion
	r, err := decodeProgress(cm)
	if err != nil {
		return nil, fmt.Errorf("progress ConfigMap %s/%s: %w", s.namespace, ProgressName, err)
	}
	return r, nil
}

// decodeProgress reads the record of a progress ConfigMap.
func decodeProgress(cm *corev1.ConfigMap) (*Record, error) {
	data, key := []byte(cm.Data[ProgressKey]), ProgressKey
	if gz, ok := cm.BinaryData[ProgressGzipKey]; ok {
		key = ProgressGzipKey
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			return nil, fmt.Errorf("binaryData[%s]: %w", key, err)
		}
		if data, err = io.ReadAll(io.LimitReader(zr, maxProgressInflated+1)); err != nil {
			return nil, fmt.Errorf("binaryData[%s]: %w", key, err)
		}
		if len(data) > maxProgressInflated {
			return nil, fmt.Errorf("binaryData[%s]: more than %d bytes decompressed", key, maxProgressInflated)
		}
	}
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("data[%s]: %w", key, err)
	}
	return &r, nil
}

// encodeProgress is the progress ConfigMap holding r.
func encodeProgress(namespace string, r *Record) (*corev1.ConfigMap, error) {
	data, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encoding progress: %w", err)
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: ProgressName, Namespace: namespace,
			Labels: map[string]string{"app.kubernetes.io/name": "noderoll"}},
		Data: map[string]string{DigestKey: r.PlanDigest},
	}
	if len(data) <= MaxProgressBytes {
		cm.Data[ProgressKey] = string(data)
		return cm, nil
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		return nil, fmt.Errorf("compressing progress: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compressing progress: %w", err)
	}
	if buf.Len() > MaxProgressBytes {
		return nil, fmt.Errorf("%w: %d bytes of JSON, %d compressed, over %d", ErrRecordTooLarge, len(data), buf.Len(), MaxProgressBytes)
	}
	cm.BinaryData = map[string][]byte{ProgressGzipKey: buf.Bytes()}
	return cm, nil
}

// save writes the record: it creates the ConfigMap when this store saw
// none, and otherwise updates the one it last read or wrote. Anything
// else — the ConfigMap created, changed or deleted by someone else — is an
// ErrProgressConflict, unless the ConfigMap already holds exactly this
// record (an earlier attempt of the same save landed although its answer
// was lost).
func (s *progressStore) save(ctx context.Context, r *Record) error {
	cm, err := encodeProgress(s.namespace, r)
	if err != nil {
		return err
	}
	cms := s.client.CoreV1().ConfigMaps(s.namespace)
	var out *corev1.ConfigMap
	if s.rv == "" {
		out, err = cms.Create(ctx, cm, metav1.CreateOptions{})
	} else {
		cm.ResourceVersion = s.rv
		out, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
	}
	switch {
	case err == nil:
		s.rv = out.ResourceVersion
		return nil
	case apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) || (s.rv != "" && apierrors.IsNotFound(err)):
		if cur, gerr := cms.Get(ctx, ProgressName, metav1.GetOptions{}); gerr == nil &&
			maps.Equal(cur.Data, cm.Data) && maps.EqualFunc(cur.BinaryData, cm.BinaryData, bytes.Equal) {
			s.rv = cur.ResourceVersion
			return nil
		}
		return fmt.Errorf("saving progress in ConfigMap %s/%s: %w (%w)", s.namespace, ProgressName, ErrProgressConflict, err)
	case apierrors.IsNotFound(err):
		return fmt.Errorf("saving progress in ConfigMap %s/%s: does namespace %s exist? (kubectl apply -f deploy/rbac.yaml creates it): %w",
			s.namespace, ProgressName, s.namespace, err)
	default:
		return fmt.Errorf("saving progress in ConfigMap %s/%s: %w", s.namespace, ProgressName, err)
	}
}
