package synth

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// epoch is the fixed origin of every generated timestamp: the simulated
// cluster was created then. Nothing reads the clock.
var epoch = time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)

// takenAfter is how long after epoch the snapshot is taken.
const takenAfter = 90 * 24 * time.Hour

// alphanums is the alphabet of Kubernetes' generated name suffixes and
// hashes (k8s.io/apimachinery/pkg/util/rand).
const alphanums = "bcdfghjklmnpqrstvwxz2456789"

// digest hashes the generator's seed and the given parts. Every derived
// identifier (UIDs, suffixes, hashes, hex IDs) comes from it, so identities
// depend on the seed and the object's coordinates only, never on the order
// in which objects are built.
func (g *generator) digest(parts ...string) [32]byte {
	h := sha256.New()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(g.seed))
	h.Write(b[:])
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// uid derives a UUID-shaped (version 5 layout) UID from the seed and the
// object's kind, namespace and name.
func (g *generator) uid(kind, namespace, name string) types.UID {
	d := g.digest("uid", kind, namespace, name)
	b := d[:16]
	b[6] = (b[6] & 0x0f) | 0x50
	b[8] = (b[8] & 0x3f) | 0x80
	return types.UID(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]))
}

// suffix derives an n-character name suffix in the alphabet the API server
// uses for generateName.
func (g *generator) suffix(n int, parts ...string) string {
	d := g.digest(append([]string{"suffix"}, parts...)...)
	out := make([]byte, n)
	for i := range out {
		out[i] = alphanums[int(d[i])%len(alphanums)]
	}
	return string(out)
}

// templateHash derives a pod-template-hash / controller-revision-hash the
// way the controllers encode theirs: the decimal form of a 32-bit hash,
// mapped through SafeEncodeString.
func (g *generator) templateHash(parts ...string) string {
	d := g.digest(append([]string{"hash"}, parts...)...)
	s := strconv.FormatUint(uint64(binary.LittleEndian.Uint32(d[:4])), 10)
	out := make([]byte, len(s))
	for i := range s {
		out[i] = alphanums[int(s[i])%len(alphanums)]
	}
	return string(out)
}

// hexID derives n hex digits (container IDs, image digests, machine IDs).
func (g *generator) hexID(n int, parts ...string) string {
	var s []byte
	for i := 0; len(s) < n; i++ {
		d := g.digest(append([]string{"hex", strconv.Itoa(i)}, parts...)...)
		s = hex.AppendEncode(s, d[:])
	}
	return string(s[:n])
}

// nextRV returns the next resourceVersion. Objects are numbered in the order
// the generator creates them, as etcd revisions would be.
func (g *generator) nextRV() string {
	g.rv++
	return strconv.FormatInt(g.rv, 10)
}

// meta builds ObjectMeta with the derived UID, a resourceVersion and the
// creation time.
func (g *generator) meta(kind, namespace, name string, created time.Time) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:              name,
		Namespace:         namespace,
		UID:               g.uid(kind, namespace, name),
		ResourceVersion:   g.nextRV(),
		CreationTimestamp: metav1.NewTime(created),
	}
}

// between returns a time drawn uniformly in [from, to), truncated to the
// second as the API server stores it. It returns from when to <= from.
func (g *generator) between(from, to time.Time) time.Time {
	if !to.After(from) {
		return from.Truncate(time.Second)
	}
	d := to.Sub(from)
	return from.Add(time.Duration(g.rng.Int64N(int64(d)))).Truncate(time.Second)
}

// later returns t plus a random delay in [min, max).
func (g *generator) later(t time.Time, minD, maxD time.Duration) time.Time {
	return g.between(t.Add(minD), t.Add(maxD))
}

// ownerRef is a controller owner reference to the given object.
func ownerRef(apiVersion, kind string, meta metav1.ObjectMeta) metav1.OwnerReference {
	yes := true
	return metav1.OwnerReference{
		APIVersion:         apiVersion,
		Kind:               kind,
		Name:               meta.Name,
		UID:                meta.UID,
		Controller:         &yes,
		BlockOwnerDeletion: &yes,
	}
}

// ipv4 formats a 32-bit address.
func ipv4(a uint32) string {
	return fmt.Sprintf("%d.%d.%d.%d", a>>24, (a>>16)&0xff, (a>>8)&0xff, a&0xff)
}

// nextClusterIP allocates the next Service ClusterIP from 10.96.0.0/12,
// skipping the addresses the cluster reserves (.1 for kubernetes, .10 for
// kube-dns) and network/broadcast-looking addresses.
func (g *generator) nextClusterIP() string {
	for {
		g.svcIP++
		a := uint32(10<<24|96<<16) + uint32(g.svcIP)
		if low := a & 0xff; low == 0 || low == 255 {
			continue
		}
		return ipv4(a)
	}
}

// nextNodePort allocates the next NodePort from the default range.
func (g *generator) nextNodePort() int32 {
	g.nodePort++
	return 30000 + int32(g.nodePort%2768)
}

func ptr[T any](v T) *T { return &v }
