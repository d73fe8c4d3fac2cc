package scheduler

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

func labelled(ns string, l map[string]string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Labels: l}}
}

func TestLabelClassesInternByNamespaceAndLabels(t *testing.T) {
	c := newLabelClasses()
	a := c.of(labelled("team-a", map[string]string{"app": "web", "version": "v1"}))
	tests := []struct {
		name string
		pod  *corev1.Pod
		same bool
	}{
		{"same labels, other map order", labelled("team-a", map[string]string{"version": "v1", "app": "web"}), true},
		{"other namespace", labelled("team-b", map[string]string{"app": "web", "version": "v1"}), false},
		{"one more label", labelled("team-a", map[string]string{"app": "web", "version": "v1", "x": ""}), false},
		{"other value", labelled("team-a", map[string]string{"app": "web", "version": "v2"}), false},
		// The key must not confuse a label's value with the next key.
		{"value and key run together", labelled("team-a", map[string]string{"app": "webversion=v1"}), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.of(tc.pod) == a; got != tc.same {
				t.Errorf("same class = %v, want %v", got, tc.same)
			}
		})
	}
}

// A match checks the classes that appear after it was made, in each of its
// namespaces, and only those.
func TestClassMatchFollowsNewClasses(t *testing.T) {
	c := newLabelClasses()
	web1 := c.of(labelled("team-a", map[string]string{"app": "web", "version": "v1"}))
	c.of(labelled("team-a", map[string]string{"app": "db"}))
	m := &classMatch{namespaces: []string{"team-a", "team-b"},
		selectors: []labels.Selector{labels.SelectorFromSet(labels.Set{"app": "web"})}}
	if got := m.refresh(c); len(got) != 1 || got[0] != web1 {
		t.Fatalf("first refresh matched %v, want [%d]", got, web1)
	}
	web2 := c.of(labelled("team-a", map[string]string{"app": "web", "version": "v2"}))
	webB := c.of(labelled("team-b", map[string]string{"app": "web"}))
	c.of(labelled("team-c", map[string]string{"app": "web"})) // not one of its namespaces
	got := m.refresh(c)
	want := []classID{web1, web2, webB}
	if len(got) != len(want) {
		t.Fatalf("second refresh matched %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("second refresh matched %v, want %v", got, want)
		}
	}
}

func TestClassSeenOnIsASupersetOfTheNodesHoldingIt(t *testing.T) {
	c := newLabelClasses()
	id := c.of(labelled("team-a", map[string]string{"app": "web"}))
	c.noteOn(id, 3)
	c.noteOn(id, 130)
	for slot, want := range map[int]bool{0: false, 3: true, 64: false, 130: true, 131: false, 900: false} {
		if got := c.mayBeOn(id, slot); got != want {
			t.Errorf("mayBeOn(slot %d) = %v, want %v", slot, got, want)
		}
	}
}
