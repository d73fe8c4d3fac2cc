package sim

import (
	"container/heap"
	"time"
)

// event is something that happens at a virtual time. Events at the same
// time run in the order they were scheduled (seq), so a run is a pure
// function of its input.
type event struct {
	at  time.Duration
	seq uint64
	fn  func()
	// retry marks a drain's eviction retry: a queue holding nothing else can
	// never make progress (see Simulation.quiescent).
	retry bool
}

type eventQueue []*event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(*event)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// clock is the virtual clock and its event queue.
type clock struct {
	now     time.Duration
	seq     uint64
	q       eventQueue
	retries int // retry events in q
}

func (c *clock) at(t time.Duration, fn func()) { c.push(t, fn, false) }

func (c *clock) after(d time.Duration, fn func()) { c.push(c.now+d, fn, false) }

func (c *clock) retryAfter(d time.Duration, fn func()) { c.push(c.now+d, fn, true) }

func (c *clock) push(t time.Duration, fn func(), retry bool) {
	if t < c.now {
		t = c.now
	}
	c.seq++
	if retry {
		c.retries++
	}
	heap.Push(&c.q, &event{at: t, seq: c.seq, fn: fn, retry: retry})
}

// step runs the next event; false when none is left.
func (c *clock) step() bool {
	if len(c.q) == 0 {
		return false
	}
	e := heap.Pop(&c.q).(*event)
	if e.retry {
		c.retries--
	}
	c.now = e.at
	e.fn()
	return true
}

// onlyRetries reports whether every queued event is an eviction retry.
func (c *clock) onlyRetries() bool { return len(c.q) > 0 && c.retries == len(c.q) }

// empty reports whether no event is queued.
func (c *clock) empty() bool { return len(c.q) == 0 }
