package stream

import (
	"errors"
	"fmt"
	"slices"
	"strings"
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

// ErrUnknownSeries: this process has neither seen a sample of the series
// nor restored its checkpoint (misspelled, or owned by another instance).
var ErrUnknownSeries = errors.New("no sample of this series seen by this instance")

// RebaselineRequest is one operator request.
type RebaselineRequest struct {
	Series  string
	Channel string // "" for every channel of the series
	Source  string // who asked, for the log and InfluxDB
	At      time.Time
	// channels is the set asked for once requests for one series merged
	// (nil: every channel).
	channels []string
}

// wants reports whether the request covers channel ch.
func (r *RebaselineRequest) wants(ch string) bool {
	return r.channels == nil || slices.Contains(r.channels, ch)
}

// ChannelList names the channels asked for ("" for every channel).
func (r *RebaselineRequest) ChannelList() string { return strings.Join(r.channels, ",") }

// NewRebaselines returns an empty queue.
func NewRebaselines() *Rebaselines {
	return &Rebaselines{pending: map[string]RebaselineRequest{}}
}

// Request queues r for a series this process has seen (ErrUnknownSeries
// otherwise: a series owned by another instance of the group is never seen
// here). Requests for one series waiting together merge: their channels
// add up, and a request for every channel covers all.
func (q *Rebaselines) Request(r RebaselineRequest) (known bool, err error) {
	switch {
	case r.Series == "":
		return false, errors.New("series: required (got \"\")")
	case len(r.Series) > maxRebaselineField || len(r.Channel) > maxRebaselineField || len(r.Source) > maxRebaselineField:
		return false, fmt.Errorf("series, channel and source: at most %d bytes each (got %d, %d, %d)",
			maxRebaselineField, len(r.Series), len(r.Channel), len(r.Source))
	}
	if _, known := q.known.Load(r.Series); !known {
		return false, fmt.Errorf("series %q: %w (misspelled, owned by another instance, or silent since this one started)", r.Series, ErrUnknownSeries)
	}
	if r.Channel != "" {
		r.channels = []string{r.Channel}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	old, waiting := q.pending[r.Series]
	if !waiting && len(q.pending) >= MaxPendingRebaselines {
		return false, fmt.Errorf("%w (%d)", ErrTooManyRebaselines, len(q.pending))
	}
	if waiting {
		if old.channels == nil || r.channels == nil {
			r.channels = nil
		} else {
			for _, ch := range old.channels {
				if !slices.Contains(r.channels, ch) {
					r.channels = append(r.channels, ch)
				}
			}
		}
	}
	q.pending[r.Series] = r
	q.n.Store(int64(len(q.pending)))
	return true, nil
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

// Seen marks series as known to this process (a checkpoint of it was
// restored, or a sample arrived); a nil queue (replay) ignores it.
func (q *Rebaselines) Seen(series string) {
	if q != nil {
		q.known.LoadOrStore(series, struct{}{})
	}
}
