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
// order, and knows which series and channels this process has seen on
// the partitions it owns (Check: verdicts ask it too; Keep forgets the
// rest at a rebalance). One queue outlives the consumer group's
// generations. Safe for concurrent use.
type Rebaselines struct {
	mu      sync.Mutex
	pending map[string]RebaselineRequest
	n       atomic.Int64           // len(pending), read without the lock on every sample
	known   map[string]*seenSeries // series seen by this process, on partitions it owns
}

// seenSeries is what this process knows of a series: its channels and
// the input partition it was read from.
type seenSeries struct {
	part     partitionKey
	channels []string
	// anyChannel: a checkpoint of several channels restored, not yet
	// read; a request for any channel is taken.
	anyChannel bool
}

// ErrTooManyRebaselines: MaxPendingRebaselines requests are waiting.
var ErrTooManyRebaselines = errors.New("too many re-baselines are waiting for their series")

// ErrUnknownSeries: this process has neither seen a sample of the series
// nor restored its checkpoint (misspelled, or owned by another instance).
var ErrUnknownSeries = errors.New("no sample of this series seen by this instance")

// ErrUnknownChannel: the series is known here, the channel is not one of
// its (misspelled): the request would wait for a sample that never comes.
var ErrUnknownChannel = errors.New("no sample of this channel seen by this instance")

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
	return &Rebaselines{pending: map[string]RebaselineRequest{}, known: map[string]*seenSeries{}}
}

// Request queues r for a series this process has seen (ErrUnknownSeries
// otherwise: a series owned by another instance of the group is never seen
// here) and, if r names a channel, for one of its channels
// (ErrUnknownChannel). Requests for one series waiting together merge:
// their channels add up, and a request for every channel covers all.
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
	if err := q.check(r.Series, r.Channel); err != nil {
		return false, err
	}
	if r.Channel != "" {
		r.channels = []string{r.Channel}
	}
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

// Check reports whether this process has seen series and, unless
// channel is "", that channel of it: ErrUnknownSeries or
// ErrUnknownChannel, naming them, if not. An operator's request for
// either would wait for a sample that never comes here.
func (q *Rebaselines) Check(series, channel string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.check(series, channel)
}

// check is Check with mu held.
func (q *Rebaselines) check(series, channel string) error {
	seen, known := q.known[series]
	if !known {
		return fmt.Errorf("series %q: %w (misspelled, owned by another instance, or silent since this one started)", series, ErrUnknownSeries)
	}
	if channel != "" && !seen.anyChannel && !slices.Contains(seen.channels, channel) {
		return fmt.Errorf("series %q, channel %q: %w (its channels here: %s)", series, channel, ErrUnknownChannel, strings.Join(seen.channels, ", "))
	}
	return nil
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

// Seen marks series, read from topic's partition, and its channels as known
// to this process (a detector of them was built or carried over, or its
// checkpoint loaded); no channels: a checkpoint of several channels not
// read yet, so that any is taken until its detector is built. A nil queue
// (replay) ignores it.
func (q *Rebaselines) Seen(topic string, partition int, series string, channels ...string) {
	if q == nil {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	seen := q.known[series]
	if seen == nil {
		seen = &seenSeries{}
		q.known[series] = seen
	}
	seen.part = partitionKey{topic, partition}
	// A detector built names them all: a restored one of several
	// channels reads its set from its state.
	seen.anyChannel = len(channels) == 0
	for _, ch := range channels {
		if !slices.Contains(seen.channels, ch) {
			seen.channels = append(seen.channels, ch)
		}
	}
}

// SeenOnly is Seen for a multivariate series whose detector was built
// anew over channels: they are all its channels now (one a re-baseline
// let go of is no longer taken).
func (q *Rebaselines) SeenOnly(topic string, partition int, series string, channels ...string) {
	if q == nil {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.known[series] = &seenSeries{part: partitionKey{topic, partition}, channels: slices.Clone(channels)}
}

// Keep forgets the series of every partition for which owned is false, as
// a new generation of the consumer group begins: another instance reads
// them now, so requests for them are refused here (this one's would wait
// for samples that no longer come) and those waiting are dropped, lest
// one apply long after, when a later rebalance brings the partition back.
// It returns the series whose waiting requests it dropped.
func (q *Rebaselines) Keep(owned func(topic string, partition int) bool) (dropped []string) {
	if q == nil {
		return nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for series, seen := range q.known {
		if owned(seen.part.topic, seen.part.partition) {
			continue
		}
		delete(q.known, series)
		if _, waiting := q.pending[series]; waiting {
			delete(q.pending, series)
			dropped = append(dropped, series)
		}
	}
	q.n.Store(int64(len(q.pending)))
	slices.Sort(dropped)
	return dropped
}
