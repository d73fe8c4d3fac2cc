package executor

import (
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// newFakeAPI is a fake clientset that, like the API server and unlike
// the fake's tracker, gives ConfigMaps and Leases a resourceVersion and
// refuses an update that carries another one than the stored object's
// with a 409.
func newFakeAPI(objs ...runtime.Object) *fake.Clientset {
	for _, o := range objs {
		if m, err := meta.Accessor(o); err == nil && m.GetResourceVersion() == "" {
			m.SetResourceVersion("1")
		}
	}
	c := fake.NewClientset(objs...)
	var rv atomic.Int64
	rv.Store(1000)
	var mu sync.Mutex
	for _, res := range []string{"configmaps", "leases"} {
		c.PrependReactor("create", res, func(a k8stesting.Action) (bool, runtime.Object, error) {
			mu.Lock()
			defer mu.Unlock()
			obj := a.(k8stesting.CreateAction).GetObject().DeepCopyObject()
			m, err := meta.Accessor(obj)
			if err != nil {
				return true, nil, err
			}
			m.SetResourceVersion(strconv.FormatInt(rv.Add(1), 10))
			if err := c.Tracker().Create(a.GetResource(), obj, a.GetNamespace()); err != nil {
				return true, nil, err
			}
			return true, obj, nil
		})
		c.PrependReactor("update", res, func(a k8stesting.Action) (bool, runtime.Object, error) {
			mu.Lock()
			defer mu.Unlock()
			obj := a.(k8stesting.UpdateAction).GetObject().DeepCopyObject()
			m, err := meta.Accessor(obj)
			if err != nil {
				return true, nil, err
			}
			cur, err := c.Tracker().Get(a.GetResource(), a.GetNamespace(), m.GetName())
			if err != nil {
				return true, nil, err
			}
			cm, err := meta.Accessor(cur)
			if err != nil {
				return true, nil, err
			}
			if m.GetResourceVersion() != "" && m.GetResourceVersion() != cm.GetResourceVersion() {
				return true, nil, apierrors.NewConflict(a.GetResource().GroupResource(), m.GetName(),
					errors.New("the object has been modified; please apply your changes to the latest version and try again"))
			}
			m.SetResourceVersion(strconv.FormatInt(rv.Add(1), 10))
			if err := c.Tracker().Update(a.GetResource(), obj, a.GetNamespace()); err != nil {
				return true, nil, err
			}
			return true, obj, nil
		})
	}
	return c
}

// write is one request that would change the cluster, as the fake API
// server received it.
type write struct {
	at     time.Time
	action k8stesting.Action
	// refused: the executor's fence refused it (see fenceReactor).
	refused bool
}

// writeLog records the writes a fake API server receives.
type writeLog struct {
	mu     sync.Mutex
	writes []write
}

func (l *writeLog) add(w write) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes = append(l.writes, w)
}

func (l *writeLog) all() []write {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]write(nil), l.writes...)
}

// isWriteVerb reports whether the fake's verb changes the cluster.
func isWriteVerb(verb string) bool {
	switch verb {
	case "get", "list", "watch":
		return false
	}
	return true
}

// fenceReactor puts the executor's fence (held, as the transport's fence
// calls it) in front of a fake clientset, which has no transport, and logs
// every write with whether the fence let it through. Writes to Leases are
// the lease client's, which is not fenced.
func fenceReactor(c *fake.Clientset, held func() error, log *writeLog) {
	c.PrependReactor("*", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if !isWriteVerb(a.GetVerb()) || a.GetResource().Resource == "leases" {
			return false, nil, nil
		}
		err := held()
		log.add(write{at: time.Now(), action: a, refused: err != nil})
		if err != nil {
			return true, nil, err
		}
		return false, nil, nil
	})
}
