package stream

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aewatch/aewatch/detector"
	"github.com/aewatch/aewatch/sink"
	"github.com/aewatch/aewatch/stream/codec"
)

// Bounds on the verdicts waiting for their series.
const (
	MaxPendingFeedback = 10000
	// feedbackWait is how long a verdict waits for a sample of its series;
	// every instance reads every verdict, and most series belong to
	// another instance.
	feedbackWait     = 24 * time.Hour
	maxFeedbackField = 1024
)

// ErrTooManyFeedback: MaxPendingFeedback verdicts are waiting.
var ErrTooManyFeedback = errors.New("too many verdicts are waiting for their series")

// FeedbackRequest is an operator's verdict on the anomaly alert of Series
// (and Channel, "" for any) that covered At; the JSON form is what the
// feedback topic carries.
type FeedbackRequest struct {
	Series  string    `json:"series"`
	Channel string    `json:"channel,omitempty"`
	At      time.Time `json:"at"`
	Verdict string    `json:"verdict"` // false_positive or true_positive
	Source  string    `json:"source,omitempty"`
	Given   time.Time `json:"given"` // when the operator gave it
}

// Validate names the first invalid field and its value.
func (r *FeedbackRequest) Validate() error {
	switch {
	case r.Series == "":
		return errors.New("series: required (got \"\")")
	case len(r.Series) > maxFeedbackField || len(r.Channel) > maxFeedbackField || len(r.Source) > maxFeedbackField:
		return fmt.Errorf("series, channel and source: at most %d bytes each (got %d, %d, %d)",
			maxFeedbackField, len(r.Series), len(r.Channel), len(r.Source))
	case r.At.IsZero():
		return errors.New("at: required, RFC 3339 (got none)")
	}
	_, err := detector.ParseVerdict(r.Verdict)
	return err
}

// ParseFeedback reads one verdict as the feedback topic carries it.
func ParseFeedback(b []byte) (FeedbackRequest, error) {
	var r FeedbackRequest
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("feedback: %w", err)
	}
	return r, r.Validate()
}

// Feedbacks queues operators' verdicts until each series' next sample, when
// the shard that owns it applies them in stream order. Every instance
// queues every verdict (from the feedback topic or its own API); a verdict
// no sample of its series claims within feedbackWait is dropped. Safe for
// concurrent use.
type Feedbacks struct {
	mu      sync.Mutex
	pending map[string][]FeedbackRequest
	count   int
	n       atomic.Int64 // count, read without the lock on every sample
}

// NewFeedbacks returns an empty queue.
func NewFeedbacks() *Feedbacks { return &Feedbacks{pending: map[string][]FeedbackRequest{}} }

// Add queues r, valid, given at now unless it says when.
func (q *Feedbacks) Add(r FeedbackRequest, now time.Time) error {
	if err := r.Validate(); err != nil {
		return err
	}
	if r.Given.IsZero() {
		r.Given = now
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.count >= MaxPendingFeedback {
		q.dropStale(now)
	}
	if q.count >= MaxPendingFeedback {
		return fmt.Errorf("%w (%d)", ErrTooManyFeedback, q.count)
	}
	q.pending[r.Series] = append(q.pending[r.Series], r)
	q.count++
	q.n.Store(int64(q.count))
	return nil
}

// dropStale removes verdicts that waited longer than feedbackWait (mu held).
func (q *Feedbacks) dropStale(now time.Time) {
	for series, rs := range q.pending {
		kept := rs[:0]
		for _, r := range rs {
			if now.Sub(r.Given) < feedbackWait {
				kept = append(kept, r)
			}
		}
		q.count -= len(rs) - len(kept)
		if len(kept) == 0 {
			delete(q.pending, series)
		} else {
			q.pending[series] = kept
		}
	}
}

// take removes and returns the verdicts waiting for series.
func (q *Feedbacks) take(series string) []FeedbackRequest {
	if q == nil || q.n.Load() == 0 {
		return nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	rs := q.pending[series]
	if len(rs) > 0 {
		delete(q.pending, series)
		q.count -= len(rs)
		q.n.Store(int64(q.count))
	}
	return rs
}

// alreadyRecorded marks a verdict its alert had already.
const alreadyRecorded = "already recorded"

// feedback applies verdicts to the detectors of s's series (the channel
// named, or each) before s is scored, and records each as an ae_feedback
// point: applied to the alert it named, or why not.
func (p *Pipeline) feedback(sh *shardState, s *codec.Sample, ref msgRef, rs []FeedbackRequest) {
	for _, r := range rs {
		v, _ := detector.ParseVerdict(r.Verdict) // validated when queued
		pt := sink.Point{Measurement: sink.FeedbackMeasurement, Series: s.Series, Channel: r.Channel, Time: s.Time, Event: r.Verdict,
			Reason: "no detector of this series has that channel"}
		var last *seriesState
		for j, ch := range s.Channels {
			if r.Channel != "" && ch != r.Channel {
				continue
			}
			st := p.operatorState(sh, s, j, ref)
			if st == nil {
				continue
			}
			last = st
			o := st.det.Feedback(r.At.UnixNano(), v, s.Time)
			pt.Tags, pt.Reason = st.tags, o.Reason
			if o.Found {
				pt.Channel, pt.Onset, pt.Peak = st.channels[o.Channel], o.Start, o.Peak
				pt.Departure = float64(o.Side) * o.Tolerance
			}
			if o.Repeated {
				pt.Reason = alreadyRecorded
				break
			}
			if o.Applied {
				pt.Alert, pt.Reason = true, r.Source
				break
			}
			if p.o.Pipeline.Multivariate {
				break
			}
		}
		if pt.Reason == alreadyRecorded {
			// Read again from the feedback topic after a restart: it was
			// audited when applied.
			continue
		}
		sh.pending.pts = append(sh.pending.pts, pt)
		if last != nil {
			last.lastOut = sh.emitted + 1
		}
		p.o.Metrics.Feedback.WithLabelValues(r.Verdict, fmt.Sprint(pt.Alert)).Inc()
		p.o.Log.Info("verdict on an alert", "series", s.Series, "channel", pt.Channel, "verdict", r.Verdict, "applied", pt.Alert,
			"alert_at", r.At.Format(time.RFC3339), "tolerance", pt.Departure, "reason", pt.Reason, "source", r.Source)
	}
}
