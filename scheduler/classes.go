package scheduler

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// classID identifies a label class: every pod of one namespace with the
// same labels. Pods of one template (a ReplicaSet's replicas) share a
// class; a label selector matches all of a class's pods or none of them.
type classID int32

// labelClasses interns the label classes of the pods the scheduler has
// seen. It only grows, so a classID stays valid in every layer of the
// store, reverted ones included.
//
// The plugins that count pods by label selector (PodTopologySpread,
// InterPodAffinity) are shown, per node, only the pods of the classes the
// incoming pod's selectors match (see spreadView and affinityView): a
// selector is then evaluated once per class instead of once per pod and
// node.
type labelClasses struct {
	ids    map[string]classID
	all    []labelClass
	byNS   map[string][]classID
	keyBuf []byte
	keys   []string
	// seenOn has, per class, a bit for every node slot that has ever
	// held one of the class's pods, in any layer: a superset of the nodes
	// that hold one now, which spares the views a lookup on every other
	// node.
	seenOn [][]uint64
}

// labelClass is one class's namespace and labels.
type labelClass struct {
	namespace string
	labels    labels.Set
}

func newLabelClasses() *labelClasses {
	return &labelClasses{ids: map[string]classID{}, byNS: map[string][]classID{}}
}

// of returns pod's class, interning it on first sight.
func (c *labelClasses) of(pod *corev1.Pod) classID {
	c.keys = c.keys[:0]
	for k := range pod.Labels {
		c.keys = append(c.keys, k)
	}
	slices.Sort(c.keys)
	key := append(c.keyBuf[:0], pod.Namespace...)
	for _, k := range c.keys {
		key = append(append(append(append(key, 0), k...), '='), pod.Labels[k]...)
	}
	c.keyBuf = key
	if id, ok := c.ids[string(key)]; ok {
		return id
	}
	id := classID(len(c.all))
	c.ids[string(key)] = id
	c.all = append(c.all, labelClass{namespace: pod.Namespace, labels: labels.Set(pod.Labels)})
	c.byNS[pod.Namespace] = append(c.byNS[pod.Namespace], id)
	c.seenOn = append(c.seenOn, nil)
	return id
}

// noteOn records that a pod of class id is on the node in slot.
func (c *labelClasses) noteOn(id classID, slot int) {
	bits := c.seenOn[id]
	if w := slot / 64; w >= len(bits) {
		bits = append(bits, make([]uint64, w+1-len(bits))...)
		c.seenOn[id] = bits
	}
	bits[slot/64] |= 1 << (slot % 64)
}

// mayBeOn reports whether a pod of class id may be on the node in slot:
// false means none is.
func (c *labelClasses) mayBeOn(id classID, slot int) bool {
	bits := c.seenOn[id]
	return slot/64 < len(bits) && bits[slot/64]&(1<<(slot%64)) != 0
}

// classMatch is the classes of some namespaces that any of some
// selectors match, kept up to date as new classes of those namespaces
// appear.
type classMatch struct {
	namespaces []string
	selectors  []labels.Selector
	matched    []classID
	// seen counts, per namespace, the classes already checked.
	seen []int
}

// refresh checks the classes that appeared since the last call and
// returns every class matched so far.
func (m *classMatch) refresh(c *labelClasses) []classID {
	if m.seen == nil {
		m.seen = make([]int, len(m.namespaces))
	}
	for i, ns := range m.namespaces {
		ids := c.byNS[ns]
		for _, id := range ids[m.seen[i]:] {
			set := c.all[id].labels
			for _, sel := range m.selectors {
				if sel.Matches(set) {
					m.matched = append(m.matched, id)
					break
				}
			}
		}
		m.seen[i] = len(ids)
	}
	return m.matched
}

// selectorMatch returns the classes of namespaces that one of the label
// selectors matches, as a classMatch to refresh; nil when a selector does
// not parse (which classes it matches cannot be told).
func selectorMatch(namespaces []string, selectors []*metav1.LabelSelector) *classMatch {
	m := &classMatch{namespaces: namespaces}
	for _, ls := range selectors {
		sel, err := metav1.LabelSelectorAsSelector(ls)
		if err != nil {
			return nil
		}
		m.selectors = append(m.selectors, sel)
	}
	return m
}

// classMemo keeps class matches by the key of what they were built from
// (a focus's selectors and namespaces).
type classMemo map[string]*classMatch

// keep stores m under key and returns it.
func (c *classMemo) keep(key []byte, m *classMatch) *classMatch {
	if *c == nil {
		*c = classMemo{}
	}
	(*c)[string(key)] = m
	return m
}
