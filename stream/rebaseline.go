package stream

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Bounds on the requests waiting for their series and on their fields.
const (
	MaxPendingRebaselines = 10000
	maxRebaselineField    = 1024
)

// Rebaselines queues operators' re-baseline requests until each series'
// next sample, when the shard that owns it applies the request in stream
// order. One queue outlives the consumer group's generations. Safe for
// concurrent use.
type Rebaselines struct {
	mu      sync.Mutex
	pending map[string]RebaselineRequest
	n       atomic.Int64 // len(pending), read without the lock on every sample
	known   sync.Map     // series seen by this process
}

// ErrTooManyRebaselines: MaxPendingRebaselines requests are waiting.
var ErrTooManyRebaselines = errors.New("too many re-baselines are waiting for their series")

// RebaselineRequest is one operator request.
type RebaselineRequest struct {
	Series  string
	Channel string // "" for every channel of the series
	Source  string // who asked, for the log and InfluxDB
	At      time.Time
}

// NewRebaselines returns an empty queue.
func NewRebaselines() *Rebaselines {
	return &Rebaselines{pending: map[string]RebaselineRequest{}}
}

// Request queues r and reports whether this process has seen the series
// (a series owned by another instance of the group is never seen here).
// A second request for a series replaces the first.
func (q *Rebaselines) Request(r RebaselineRequest) (known bool, err error) {
	switch {
	case r.Series == "":
		return false, errors.New("series: required (got \"\")")
	case len(r.Series) > maxRebaselineField || len(r.Channel) > maxRebaselineField || len(r.Source) > maxRebaselineField:
		return false, fmt.Errorf("series, channel and source: at most %d bytes each (got %d, %d, %d)",
			maxRebaselineField, len(r.Series), len(r.Channel), len(r.Source))
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, ok := q.pending[r.Series]; !ok && len(q.pending) >= MaxPendingRebaselines {
		return false, fmt.Errorf("%w (%d)", ErrTooManyRebaselines, len(q.pending))
	}
	q.pending[r.Series] = r
	q.n.Store(int64(len(q.pending)))
	_, known = q.known.Load(r.Series)
	return known, nil
}

// take removes and returns the request for series, if any.
func (q *Rebaselines) take(series string) (RebaselineRequest, bool) {
	if q == nil || q.n.Load() == 0 {
		return RebaselineRequest{}, false
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	r, ok := q.pending[series]
	if ok {
		delete(q.pending, series)
		q.n.Store(int64(len(q.pending)))
	}
	return r, ok
}

// requeue puts back a request that its series' sample could not apply,
// unless a newer one has arrived meanwhile.
func (q *Rebaselines) requeue(r RebaselineRequest) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, ok := q.pending[r.Series]; !ok {
		q.pending[r.Series] = r
		q.n.Store(int64(len(q.pending)))
	}
}

func (q *Rebaselines) seen(series string) {
	if q != nil {
		q.known.LoadOrStore(series, struct{}{})
	}
}
