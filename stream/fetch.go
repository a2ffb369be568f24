package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/aewatch/aewatch/stream/codec"
)

// The fetch stage: reading messages, decoding them into samples, checking
// their times, and handing them to the shards in batches.

// errRoundDue ends a fetch that waited until the next checkpoint round;
// errShardRoom one that a shard with a backlog woke by taking a batch.
var (
	errRoundDue  = errors.New("stream: checkpoint round due")
	errShardRoom = errors.New("stream: a shard took a batch")
)

// fetch returns the next message; with checkpoints, it waits no longer
// than until the next round is due, so that an idle input is still
// checkpointed and committed on the interval, and with wake set, no longer
// than until wake is told (a shard has room for its backlog).
func (p *Pipeline) fetch(ctx context.Context, lastRound time.Time, wake <-chan struct{}) (kafka.Message, error) {
	fctx := ctx
	if p.o.Checkpoints != nil {
		var cancel context.CancelFunc
		fctx, cancel = context.WithDeadlineCause(fctx, lastRound.Add(p.o.CheckpointInterval), errRoundDue)
		defer cancel()
	}
	if wake != nil {
		wctx, cancel := context.WithCancelCause(fctx)
		defer cancel(nil)
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			select {
			case <-wake:
				cancel(errShardRoom)
			case <-stop:
			}
		}()
		fctx = wctx
	}
	msg, err := p.o.Reader.FetchMessage(fctx)
	if err != nil && ctx.Err() == nil {
		if cause := context.Cause(fctx); cause == errRoundDue || cause == errShardRoom {
			return msg, cause
		}
	}
	return msg, err
}

func (p *Pipeline) fetchLoop(ctx, drain context.Context, h *handoff, last map[partitionKey]int64, dlq chan<- deadLetter) error {
	o := p.o
	var samples []codec.Sample
	perPart := map[partitionKey]partMetrics{}
	lastRound := time.Now()
	fresh := false // messages fetched since the last round that succeeded
	var gate *partitionQueues
	if pf, ok := o.Reader.(pausableFetcher); ok && !o.waitForBusyShards {
		gate = pf.partitions()
	}
	h.init(gate, o.Metrics)
	defer h.forgetPauses() // after the hand-over below
	buffered, _ := o.Reader.(bufferedFetcher)
	// Samples fetched are handed over even when ctx ends (drain bounds the
	// wait): a checkpoint round at shutdown covers every fetched offset.
	defer h.sendAll(drain)
	for {
		// Hand over what is batched before the fetch could block; while
		// a backlog waits, hand over what its shard has room for.
		if buffered == nil || buffered.Buffered() == 0 {
			if !h.offerAll(drain) {
				return nil
			}
		} else {
			h.offerBacklogs()
		}
		if o.Checkpoints != nil && time.Since(lastRound) >= o.CheckpointInterval {
			if !h.sendAll(drain) {
				return nil
			}
			// A round's second half (waiting for writes, saving) runs while
			// fetching goes on; one round at a time.
			if p.inflight != nil {
				select {
				case err := <-p.inflight:
					p.inflight = nil
					if err != nil && ctx.Err() == nil {
						o.Log.Warn("checkpoint round failed; offsets stay at the previous round", "err", err)
						fresh = true
					}
				default:
				}
			}
			// An idle input needs one round after its last message, not one
			// per interval for ever.
			if fresh && p.inflight == nil {
				finish, err := p.snapshotRound(ctx, h.shards, last)
				if err != nil {
					if ctx.Err() != nil {
						return nil
					}
					o.Log.Warn("checkpoint round failed; offsets stay at the previous round", "err", err)
				} else {
					fresh = false
					done := make(chan error, 1)
					// Under drain, not ctx: a stop lets the round finish
					// (within the drain's bound), so the final round need
					// not save again what this one saved.
					go func() { done <- finish(drain) }()
					p.inflight = done
				}
			}
			lastRound = time.Now()
		}
		var wake <-chan struct{}
		if (buffered == nil || buffered.Buffered() == 0) && h.backlogged() {
			wake = h.room // the fetch may block: wake for the shard's room
		}
		msg, err := p.fetch(ctx, lastRound, wake)
		if err != nil {
			if ctx.Err() != nil {
				return nil // stopped
			}
			if errors.Is(err, io.EOF) {
				p.sourceDone = true // a bounded source (replay) is done
				return nil
			}
			if errors.Is(err, errRoundDue) || errors.Is(err, errShardRoom) {
				continue // idle input: the round still runs on its interval; or a shard has room
			}
			return fmt.Errorf("stream: fetch: %w", err)
		}
		fresh = true
		if o.OnFetch != nil {
			o.OnFetch()
		}
		part := partitionKey{msg.Topic, msg.Partition}
		ref := msgRef{part, msg.Offset}
		last[part] = msg.Offset
		pm, ok := perPart[part]
		if !ok { // label lookups hash strings: once per partition, not per message
			pm = partMetrics{o.Metrics.Messages.WithLabelValues(msg.Topic), o.Metrics.Lag.WithLabelValues(msg.Topic, strconv.Itoa(msg.Partition))}
			perPart[part] = pm
		}
		pm.messages.Inc()
		if msg.HighWaterMark > 0 {
			pm.lag.Set(float64(msg.HighWaterMark - msg.Offset - 1))
		}
		if commit, ok := transactionMarker(msg); ok {
			// A producer's transaction ended here: nothing to score.
			p.track.add(ref, 0, 0)
			o.Metrics.TransactionMarkers.Inc()
			if !commit {
				p.abortSeen(msg)
			}
			continue
		}
		samples, err = p.decode(samples[:0], msg)
		if err != nil {
			reason := codec.ReasonOf(err)
			o.Metrics.Rejected.WithLabelValues(string(reason)).Inc()
			// The error names the field and its value: without a
			// dead-letter topic, these lines are where an operator sees
			// what a producer sends wrong. One line per reason and
			// period, so that a burst of one does not hide another's.
			if ok, held := p.rejectLog.Allow(string(reason)); ok {
				o.Log.Warn("message rejected", "reason", reason, "topic", msg.Topic, "partition", msg.Partition, "offset", msg.Offset,
					"err", err, "message_start", string(msg.Value[:min(len(msg.Value), 120)]), "others_since_last_line", held)
			}
			if dlq == nil {
				p.track.add(ref, 0, 0)
				continue
			}
			p.track.add(ref, 1, 0)
			select {
			case dlq <- deadLetter{deadLetterMessage(msg, err), ref}:
			case <-ctx.Done():
				return nil
			}
			continue
		}
		if o.Keep != nil {
			kept := samples[:0]
			for _, s := range samples {
				if o.Keep(&s) {
					kept = append(kept, s)
				} else {
					o.Metrics.Filtered.Inc()
				}
			}
			samples = kept
		}
		p.track.add(ref, len(samples), stampOf(msg))
		for _, s := range samples {
			i := shardOf(s.Series, len(h.shards))
			if !h.add(drain, i, work{s: s, ref: ref}) {
				// Stopping: what was not handed over is not acknowledged,
				// so its offset is never committed and it is re-read.
				return nil
			}
		}
	}
}

// handoffBatch is the most samples handed to a shard at once. While the
// reader holds more messages, samples go over in batches, one channel
// operation per batch instead of per sample; when it holds none, at once.
const handoffBatch = 64

func (p *Pipeline) decode(dst []codec.Sample, msg kafka.Message) ([]codec.Sample, error) {
	if len(msg.Value) > p.o.Kafka.MaxMessageBytes {
		return dst, codec.Reject(codec.ReasonTooLarge, "%d bytes > kafka.max_message_bytes %d", len(msg.Value), p.o.Kafka.MaxMessageBytes)
	}
	if len(msg.Value) == 0 {
		return dst, codec.Reject(codec.ReasonMalformed, "an empty message (a tombstone, or a producer that sent no value)")
	}
	dec := p.decoders[msg.Topic]
	if dec == nil {
		dec = p.defaultDecoder
	}
	out, err := dec(dst, msg.Value)
	if err != nil {
		return out, err
	}
	if len(p.o.Kafka.Series) > 0 {
		for _, s := range out {
			if !p.known(s.Series) {
				return dst, codec.Reject(codec.ReasonUnknownSeries, "series %q matches no kafka.series pattern", s.Series)
			}
		}
	}
	maxAbs := p.o.Detector.Window.MaxAbs
	for _, s := range out[len(dst):] {
		if len(s.Channels) > p.o.Pipeline.MaxChannels {
			return dst, codec.Reject(codec.ReasonChannelLimit, "series %q: %d channels, over pipeline.max_channels %d", s.Series, len(s.Channels), p.o.Pipeline.MaxChannels)
		}
		for j, v := range s.Values {
			if math.Abs(v) > maxAbs {
				return dst, codec.Reject(codec.ReasonOutOfRange, "series %q, channel %q: %g is beyond ±detector.window.max_abs=%g (a transmitter's bad-value mark?)", s.Series, s.Channels[j], v, maxAbs)
			}
		}
	}
	if err := checkTimes(out[len(dst):], msg.Time, time.Now(), p.o.Pipeline); err != nil {
		return dst, err
	}
	return out, nil
}

// checkTimes rejects samples dated beyond pipeline.max_future after the
// later of the record's time and now, or (with max_past set) beyond
// max_past before the earlier.
func checkTimes(samples []codec.Sample, record, now time.Time, c PipelineConfig) error {
	latest, earliest := now, now
	if !record.IsZero() {
		latest, earliest = later(record, now), earlier(record, now)
	}
	for _, s := range samples {
		t := time.Unix(0, s.Time)
		if t.After(latest.Add(c.MaxFuture)) {
			return codec.Reject(codec.ReasonBadTime, "series %q: time %s is more than pipeline.max_future=%v after the record's time and the clock (%s)",
				s.Series, t.UTC().Format(time.RFC3339Nano), c.MaxFuture, latest.UTC().Format(time.RFC3339))
		}
		if c.MaxPast > 0 && t.Before(earliest.Add(-c.MaxPast)) {
			return codec.Reject(codec.ReasonBadTime, "series %q: time %s is more than pipeline.max_past=%v before the record's time and the clock (%s)",
				s.Series, t.UTC().Format(time.RFC3339Nano), c.MaxPast, earliest.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// stampOf is msg's record timestamp in Unix nanoseconds, 0 if it has none.
func stampOf(msg kafka.Message) int64 {
	if msg.Time.IsZero() || msg.Time.Unix() <= 0 {
		return 0
	}
	return msg.Time.UnixNano()
}
