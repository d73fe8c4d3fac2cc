package scheduler

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/component-helpers/node/topology"
)

// nodeTree orders the nodes as the scheduler's cache orders them for a
// scheduling cycle: nodes grouped by zone (region and zone labels), each
// zone's nodes in the order they joined, zones in the order they first
// got a node; the list takes one node from each zone in turn. A node that
// leaves and joins again goes to the end of its zone.
//
// The order matters because the scheduler stops filtering once it has
// found enough feasible nodes (percentageOfNodesToScore), starting where
// the previous cycle stopped: the interleaving spreads each cycle's sample
// across the zones.
//
// A nodeTree is shared between store layers and never changed once
// shared: a layer clones it before its first change.
type nodeTree struct {
	zones  []string
	byZone map[string][]string
	// order is list's result, kept until the tree changes.
	order []string
}

func newNodeTree() *nodeTree { return &nodeTree{byZone: map[string][]string{}} }

func (t *nodeTree) clone() *nodeTree {
	c := &nodeTree{zones: slices.Clone(t.zones), byZone: make(map[string][]string, len(t.byZone))}
	for z, names := range t.byZone {
		c.byZone[z] = slices.Clone(names)
	}
	return c
}

func (t *nodeTree) add(node *corev1.Node) {
	t.order = nil
	zone := topology.GetZoneKey(node)
	names, ok := t.byZone[zone]
	if !ok {
		t.zones = append(t.zones, zone)
	}
	if slices.Contains(names, node.Name) {
		return
	}
	t.byZone[zone] = append(names, node.Name)
}

func (t *nodeTree) remove(node *corev1.Node) {
	zone := topology.GetZoneKey(node)
	names := t.byZone[zone]
	i := slices.Index(names, node.Name)
	if i < 0 {
		return
	}
	t.order = nil
	names = slices.Delete(names, i, i+1)
	if len(names) > 0 {
		t.byZone[zone] = names
		return
	}
	delete(t.byZone, zone)
	t.zones = slices.DeleteFunc(t.zones, func(z string) bool { return z == zone })
}

// update moves a node whose zone labels changed to the end of its new
// zone, as the scheduler's cache does.
func (t *nodeTree) update(old, node *corev1.Node) {
	if topology.GetZoneKey(old) == topology.GetZoneKey(node) {
		return
	}
	t.remove(old)
	t.add(node)
}

// list returns the node names, one zone after another in turn. The
// caller must not change the slice.
func (t *nodeTree) list() []string {
	if t.order != nil {
		return t.order
	}
	total := 0
	for _, names := range t.byZone {
		total += len(names)
	}
	out := make([]string, 0, total)
	for i := 0; len(out) < total; i++ {
		for _, z := range t.zones {
			if names := t.byZone[z]; i < len(names) {
				out = append(out, names[i])
			}
		}
	}
	t.order = out
	return out
}
