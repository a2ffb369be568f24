package stream

import (
	"context"
	"strconv"
	"time"

	"github.com/aewatch/aewatch/sink"
	"github.com/segmentio/kafka-go"
)

// The flush stage: writing the shards' points in order, acknowledging
// their messages, and committing offsets up to what is written.

// idleFlush is how long the input must pause before a partial batch is
// written ahead of its flush interval.
const idleFlush = 20 * time.Millisecond

// writeDepth is how many batches may be in flight to InfluxDB at once. With
// one, the shards stalled on a full queue while each write was parsed: a
// second lets the next batch fill while InfluxDB ingests the previous one.
const writeDepth = 2

// flushLoop batches points, writes them (up to writeDepth batches at a
// time), acknowledges their messages and commits offsets, until outputs is
// closed; then it flushes and commits a last time. Completions are taken in
// batch order, so the acknowledged offsets and each shard's flushed
// sequence only move forward.
func (p *Pipeline) flushLoop(ctx context.Context, outputs <-chan output) error {
	o := p.o
	type job struct {
		batch  []sink.Point
		refs   []msgRef
		newest []uint64 // per shard, the newest output in this batch
		done   chan error
	}
	jobs := make(chan *job, writeDepth-1) // with the one the completer holds: writeDepth
	free := make(chan *job, writeDepth+1)
	completed := make(chan error, 1)
	go func() {
		for j := range jobs {
			if err := <-j.done; err != nil {
				completed <- err // nothing after a failed batch counts as written
				return
			}
			if o.OnAlert != nil {
				for _, pt := range j.batch {
					if !pt.Measurement.Scored() {
						o.OnAlert(pt)
					}
				}
			}
			p.track.done(j.refs)
			o.Progress.touch()
			for i, seq := range j.newest {
				if seq > 0 {
					p.flushed[i].Store(seq)
					tell(p.wrote[i])
				}
			}
			select {
			case free <- j:
			default:
			}
		}
		completed <- nil
	}()
	next := func() *job {
		select {
		case j := <-free:
			j.batch, j.refs = j.batch[:0], j.refs[:0]
			clear(j.newest)
			return j
		default:
			return &job{newest: make([]uint64, len(p.flushed)), done: make(chan error, 1)}
		}
	}
	cur := next()
	// A partial batch is written once samples stop arriving for a tick
	// (idleFlush), or FlushInterval after its first point while they keep
	// coming: the end of a burst waits milliseconds, not a whole interval.
	tick := time.NewTicker(min(o.FlushInterval, idleFlush))
	defer tick.Stop()
	var batchStart time.Time
	arrived := false // since the last tick
	lastCommit := time.Now()
	// A batch may hold points without messages: a shard sends its points
	// early, in the middle of a sample, before an eviction waits on them.
	empty := func() bool { return len(cur.refs) == 0 && len(cur.batch) == 0 }
	flush := func() error {
		if empty() {
			return nil
		}
		select {
		case jobs <- cur:
		case err := <-completed: // only ends early after a failure
			return err
		}
		go func(j *job) { j.done <- o.Writer.WritePoints(ctx, j.batch) }(cur)
		cur = next()
		return nil
	}
	for {
		select {
		case out, ok := <-outputs:
			if !ok {
				if err := flush(); err != nil {
					return err
				}
				close(jobs)
				if err := <-completed; err != nil {
					return err
				}
				p.commit(ctx)
				return nil
			}
			if empty() {
				batchStart = time.Now()
			}
			cur.batch = append(cur.batch, out.pts...)
			cur.refs = append(cur.refs, out.refs...)
			clear(out.pts) // drop the points' references
			select {
			case p.spentOutputs <- output{pts: out.pts[:0], refs: out.refs[:0]}:
			default:
			}
			cur.newest[out.shard] = out.seq
			arrived = true
			if len(cur.batch) < o.BatchSize && !out.urgent {
				continue
			}
		case err := <-completed:
			return err
		case <-tick.C:
			busy := arrived && time.Since(batchStart) < o.FlushInterval
			arrived = false
			if busy {
				continue
			}
		}
		if err := flush(); err != nil {
			return err
		}
		if time.Since(lastCommit) >= o.Kafka.CommitInterval {
			p.commit(ctx)
			lastCommit = time.Now()
		}
	}
}

// commit commits, per partition, the offset below which every message's
// points are acknowledged. A failed commit is logged and retried with the
// next one (commits are idempotent); if the process stops first, the next
// owner re-reads from the previous commit and, from the checkpoints,
// writes the same points again.
func (p *Pipeline) commit(ctx context.Context) {
	offs := p.track.committable()
	if len(offs) == 0 {
		return
	}
	msgs := make([]kafka.Message, 0, len(offs))
	for k, off := range offs {
		msgs = append(msgs, kafka.Message{Topic: k.topic, Partition: k.partition, Offset: off})
	}
	if err := p.o.Reader.CommitMessages(ctx, msgs...); err != nil {
		p.track.uncommit(offs)
		p.o.Log.Warn("offset commit failed; retrying with the next one", "partitions", len(msgs), "err", err)
		return
	}
	for k, off := range offs {
		p.o.Metrics.Committed.WithLabelValues(k.topic, strconv.Itoa(k.partition)).Set(float64(off))
	}
}
