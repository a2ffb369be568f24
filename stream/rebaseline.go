package stream

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// MaxPendingRebaselines bounds the requests waiting for their series.
const MaxPendingRebaselines = 10000

// Rebaselines queues operators' re-baseline requests until each series'
// next sample, when the shard that owns it applies the request in stream
// order. One queue outlives the consumer group's generations. Safe for
// concurrent use.
type Rebaselines struct {
	mu      sync.Mutex
	pending map[string]RebaselineRequest
	n       atomic.Int64
	known   sync.Map // series seen by this process
}

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
	if r.Series == "" {
		return false, errors.New("series: required (got \"\")")
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, ok := q.pending[r.Series]; !ok && len(q.pending) >= MaxPendingRebaselines {
		return false, fmt.Errorf("%d re-baselines are already waiting for their series", len(q.pending))
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

func (q *Rebaselines) seen(series string) {
	if q != nil {
		q.known.LoadOrStore(series, struct{}{})
	}
}
