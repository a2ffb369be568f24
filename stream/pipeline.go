package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/aewatch/aewatch/detector"
	"github.com/aewatch/aewatch/internal/lograte"
	"github.com/aewatch/aewatch/sink"
)

// fetcher is what the pipeline needs of a Kafka reader.
type fetcher interface {
	FetchMessage(ctx context.Context) (kafka.Message, error)
	CommitMessages(ctx context.Context, msgs ...kafka.Message) error
}

var _ fetcher = (*kafka.Reader)(nil)

// PointWriter is what the pipeline needs of a sink: a blocking write that
// returns once every point is acknowledged.
type PointWriter interface {
	WritePoints(ctx context.Context, pts []sink.Point) error
}

// Options wire a Pipeline.
type Options struct {
	Kafka    KafkaConfig
	Pipeline PipelineConfig
	Detector detector.Config
	Reader   fetcher
	Writer   PointWriter
	// BatchSize and FlushInterval bound how long points wait for a write:
	// a batch is written when full, when the input pauses (20 ms), or
	// FlushInterval after its first point.
	BatchSize     int
	FlushInterval time.Duration
	// DrainTimeout bounds the final flush and commit after ctx ends
	// (default: 70% of Pipeline.ShutdownTimeout, leaving the rest to
	// leaving the consumer group and closing clients).
	DrainTimeout time.Duration
	Log          *slog.Logger
	Metrics      *Metrics
	// OnAlert, if set, sees every ae_alert point once it is written.
	OnAlert func(sink.Point)
	// OnFetch, if set, is told after each successful fetch (for readiness).
	OnFetch func()
	// Keep, if set, decides which decoded samples are scored; the others
	// are skipped and counted as filtered (replay's time and series limits).
	Keep func(*Sample) bool
	// Assigned, if set, says which input partitions this pipeline owns;
	// checkpoints of other partitions are not held.
	Assigned func(topic string, partition int) bool
	// Checkpoints, if set, restores detectors at start and takes a
	// checkpoint round every CheckpointInterval and at shutdown; offsets
	// are then committed no further than the last round.
	Checkpoints        CheckpointStore
	CheckpointInterval time.Duration
	// DeadLetter, if set, receives every rejected message; its offset is
	// committed only once the dead-letter topic has it.
	DeadLetter DeadLetter
	// Rebaselines, if set, holds operators' re-baseline requests; each is
	// applied before its series' next sample is scored.
	Rebaselines *Rebaselines
	// Progress, if set, is told of every acknowledged write.
	Progress *Progress
}

// Pipeline consumes, scores and writes.
type Pipeline struct {
	o        Options
	decoders map[string]Decoder
	track    *tracker
	admit    *admission // pacing of brand-new detectors
	// inflight carries the result of the checkpoint round whose second
	// half runs beside the fetch loop (nil when none does).
	inflight chan error
	// ioCtx bounds the shards' own Kafka I/O (parking and reading back
	// detectors): it ends when the writes' drain time is up after a stop.
	ioCtx context.Context
	// outOfOrderLog and thrashLog bound the log of out-of-order samples
	// and of detectors read back after eviction.
	outOfOrderLog, thrashLog lograte.Limiter
	// flushed[i] is how many of shard i's outputs are acknowledged (the
	// seq of its newest flushed output); outputs of one shard are flushed
	// in order.
	flushed []atomic.Uint64
	// wrote[i] is signalled when flushed[i] moves, for an eviction waiting.
	wrote   []chan struct{}
	live    atomic.Int64
	open    [len(alertKinds)]atomic.Int64 // by alertKinds
	restore []map[string]Checkpoint       // per shard, owned by that shard once Run has started
	// spentOutputs: the flush loop hands emptied outputs back to the
	// shards, which would otherwise allocate their slices per batch.
	spentOutputs chan output
}

// ValidateOptions checks everything but the Reader.
func ValidateOptions(o Options) error {
	if err := o.Kafka.Validate(); err != nil {
		return err
	}
	if err := o.Pipeline.Validate(); err != nil {
		return err
	}
	if err := o.Detector.Validate(1); err != nil {
		return err
	}
	if o.Writer == nil {
		return errors.New("stream: a Writer is required")
	}
	return nil
}

// New validates the options; it starts nothing.
func New(o Options) (*Pipeline, error) {
	if err := ValidateOptions(o); err != nil {
		return nil, err
	}
	if o.Reader == nil {
		return nil, errors.New("stream: a Reader is required")
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 5000
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = 500 * time.Millisecond
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = o.Pipeline.ShutdownTimeout * 7 / 10
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 7 * time.Second
	}
	if o.Pipeline.Workers == 0 {
		o.Pipeline.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	p := &Pipeline{o: o, decoders: map[string]Decoder{}, track: newTracker(), admit: newAdmission(o.Pipeline.NewSeriesPerSecond),
		ioCtx: context.Background(), outOfOrderLog: lograte.Limiter{Period: logEvery}, thrashLog: lograte.Limiter{Period: logEvery}}
	for _, t := range o.Kafka.Topics {
		f := o.Kafka.Format
		if tf, ok := o.Kafka.TopicFormats[t]; ok {
			f = tf
		}
		p.decoders[t], _ = DecoderFor(f)
	}
	return p, nil
}

type work struct {
	s       Sample
	ref     msgRef
	barrier *barrier // a checkpoint round instead of a sample
}

// barrier asks a shard to snapshot its detectors: offsets are the last
// fetched offset per partition, which every snapshot then reflects.
type barrier struct {
	offsets map[partitionKey]int64
	reply   chan []Checkpoint
}

// output is what a shard scored from one batch of samples: their points,
// their messages, and its place in the shard's sequence of outputs.
type output struct {
	pts    []sink.Point
	refs   []msgRef
	shard  int
	seq    uint64
	urgent bool // a shard waits for this batch to be written
}

// Run consumes until ctx ends, then stops fetching, scores and writes what
// it has fetched, commits, and returns. It returns nil after a clean stop.
func (p *Pipeline) Run(ctx context.Context) error {
	o := p.o
	// Writes and the last commit outlive ctx by at most DrainTimeout.
	writeCtx, cancelWrite := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWrite()
	go func() {
		<-ctx.Done()
		t := time.NewTimer(o.DrainTimeout)
		defer t.Stop()
		select {
		case <-t.C:
			cancelWrite()
		case <-writeCtx.Done():
		}
	}()

	o.Progress.running(p.track)
	p.ioCtx = writeCtx
	p.restore = make([]map[string]Checkpoint, o.Pipeline.Workers)
	for i := range p.restore {
		p.restore[i] = map[string]Checkpoint{}
	}
	if o.Checkpoints != nil {
		// Only the checkpoints of our own partitions are held.
		cps, err := o.Checkpoints.Load(ctx, o.Assigned)
		if err != nil {
			if ctx.Err() != nil {
				return nil // stopped (a rebalance) before we began: nothing fetched, nothing to do
			}
			return err
		}
		for key, cp := range cps {
			p.restore[shardOf(seriesOfKey(key), o.Pipeline.Workers)][key] = cp
			o.Rebaselines.Seen(seriesOfKey(key)) // its operator may re-baseline it before its next sample
		}
		p.track.limited = true
		o.Log.Info("checkpoints loaded", "detectors", len(cps))
	}
	shards := make([]chan []work, o.Pipeline.Workers)
	spent := make([]chan []work, len(shards)) // handed-over batches, back for reuse
	p.flushed = make([]atomic.Uint64, len(shards))
	p.wrote = make([]chan struct{}, len(shards))
	for i := range p.wrote {
		p.wrote[i] = make(chan struct{}, 1)
	}
	outputs := make(chan output, max(1, o.Pipeline.QueueSize/handoffBatch)) // outputs carry up to a batch each
	// As many spent slices as the queue holds: while a write blocks the
	// flush loop the queue fills, and on its release it empties at once.
	p.spentOutputs = make(chan output, cap(outputs)+len(shards))
	var wg sync.WaitGroup
	for i := range shards {
		// Bounded in samples: queue_size per stage, split over the shards.
		shards[i] = make(chan []work, max(1, o.Pipeline.QueueSize/len(shards)/handoffBatch))
		spent[i] = make(chan []work, cap(shards[i])+1) // all a full queue holds: see spentOutputs
		wg.Add(1)
		go func(id int, in <-chan []work, restore map[string]Checkpoint) {
			defer wg.Done()
			p.shard(id, in, spent[id], outputs, restore)
		}(i, shards[i], p.restore[i])
	}
	flushErr := make(chan error, 1)
	go func() {
		flushErr <- p.flushLoop(writeCtx, outputs)
		// After a failed write nothing more is written: take the shards'
		// outputs anyway, so that no shard blocks sending and the stop
		// finishes; their messages stay unacknowledged, to be re-delivered.
		for range outputs {
		}
	}()

	var dlq chan deadLetter
	dlqErr := make(chan error, 1)
	if o.DeadLetter != nil {
		dlq = make(chan deadLetter, o.Pipeline.QueueSize)
		go func() { dlqErr <- p.deadLetterLoop(writeCtx, dlq) }()
	} else {
		dlqErr <- nil
	}
	last := map[partitionKey]int64{}
	fetchErr := p.fetchLoop(ctx, writeCtx, &handoff{shards: shards, spent: spent}, last, dlq)
	if p.inflight != nil {
		<-p.inflight // a round of the fetch loop's: it ends with the fetch's context
		p.inflight = nil
	}
	if o.Checkpoints != nil && fetchErr == nil {
		// Stopped fetching: checkpoint what was fetched, so that a restart
		// resumes exactly here.
		if err := p.round(writeCtx, shards, last); err != nil {
			// Offsets stay at the previous round, so a restart re-reads
			// from there: consistent, only slower.
			o.Log.Error("final checkpoint round failed; the next start resumes from the previous round", "err", err)
		}
	}
	if dlq != nil {
		close(dlq)
	}
	if err := <-dlqErr; err != nil && fetchErr == nil {
		fetchErr = err
	}
	for _, s := range shards {
		close(s)
	}
	wg.Wait()
	close(outputs)
	err := <-flushErr
	if fetchErr != nil {
		err = fetchErr
	}
	if err != nil {
		if msgs, samples := p.track.outstanding(); msgs > 0 {
			return &UnwrittenError{Messages: msgs, Samples: samples, Err: err}
		}
	}
	return err
}

// UnwrittenError: the pipeline stopped with fetched samples not written
// (InfluxDB unreachable when the stop's time ran out). Their offsets were
// not committed, so the next consumer of their partitions reads them again.
type UnwrittenError struct {
	Messages, Samples int
	Err               error
}

func (e *UnwrittenError) Error() string {
	return fmt.Sprintf("%d samples of %d messages fetched but not written; their offsets are not committed and they will be re-delivered: %v",
		e.Samples, e.Messages, e.Err)
}

func (e *UnwrittenError) Unwrap() error { return e.Err }

// errRoundDue ends a fetch that waited until the next checkpoint round.
// fetch returns the next message; with checkpoints, it waits no longer
// than until the next round is due, so that an idle input is still
// checkpointed and committed on the interval.
// handoffBatch is the most samples handed to a shard at once. While the
// reader holds more messages, samples go over in batches, one channel
// operation per batch instead of per sample; when it holds none, at once.
// bufferedFetcher is a fetcher that can say how many messages it holds
// ready; with one, the fetch loop batches its hand-over to the shards.
// handoff is the fetch loop's side of the shard channels: the samples
// batched for each shard, and the spent batches the shards hand back.
// send hands shard i its pending samples; false if drain ended first.
// sendAll hands every shard its pending samples; false if drain ended
// first.
// checkTimes rejects samples dated beyond pipeline.max_future after the
// later of the record's time and now, or (with max_past set) beyond
// max_past before the earlier.
func (p *Pipeline) known(series string) bool {
	for _, pat := range p.o.Kafka.Series {
		if ok, _ := path.Match(pat, series); ok {
			return true
		}
	}
	return false
}

func shardOf(series string, n int) int {
	// FNV-1a, as hash/fnv computes it, without its allocation per sample.
	h := uint32(2166136261)
	for i := 0; i < len(series); i++ {
		h ^= uint32(series[i])
		h *= 16777619
	}
	return int(h % uint32(n))
}

// seriesState is one detector and the channels it scores.
// logEvery bounds how often a recurring per-sample problem is logged.
// shard owns the detectors of the series routed to it.
// snapshot checkpoints every detector of a shard at the round's offsets.
// round takes a checkpoint round: every shard snapshots its detectors once
// it has scored everything fetched so far; the checkpoints are written;
// then offsets may be committed up to what they reflect.
// snapshotRound takes the first half of a checkpoint round: a barrier in
// every shard's queue and the snapshots the shards take when they reach
// it. finish does the rest (wait until the points the snapshots reflect
// are written, save them, move the commit limits); fetching may go on
// meanwhile.
// partMetrics are one input partition's metric children.
// shardState is what one shard owns: its detectors, and the checkpoints of
// its series not yet restored (each is dropped once used).
// emit sends the pending output to the flush loop. Sent in the middle of a
// sample, it may hold points without their message, which follows with
// the next one. An urgent output has the flush loop write its batch at
// once (even an empty one, to write what was sent before it).
// keyOf returns, in the shard's scratch buffer, the key of the detector of
// series and channel: the series alone for a multivariate detector, else
// the series, a zero byte and the channel.
// seriesOfKey is the series part of a detector key (see keyOf).
// score scores sample s and appends its points to the shard's pending
// output. The pending slice is read afresh after every state call: making
// room for a detector may emit it.
// push scores one sample of st's detector into the pending output and
// notes which output holds the detector's newest points.
// rebaseline applies an operator's request to the detectors of s's series
// (all channels, or the one named) before s is scored, and records it.
// covers reports whether the sample of message ref is already in the
// detector's restored state.
// state finds or makes the detector of key, restoring its checkpoint if
// there is one; nil when the series bound is hit.
// shardMax is one shard's share of pipeline.max_series.
// evict parks the least recently used tenth of a full shard's detectors in
// the checkpoint store, once the points they reflect are written, and
// reports whether room was made. Without checkpoints nothing is evicted.
// alertPoints appends one ae_alert point per channel for an alert event.
// newDetector builds a fresh detector for a series, with the quality
// limits that apply to its channels.
// alertKinds are the kinds of alert a detector raises.
// boolScore is 1 for true: a quality alert's score at its opening.
func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// idleFlush is how long the input must pause before a partial batch is
// written ahead of its flush interval.
// writeDepth is how many batches may be in flight to InfluxDB at once. With
// one, the shards stalled on a full queue while each write was parsed: a
// second lets the next batch fill while InfluxDB ingests the previous one.
// flushLoop batches points, writes them (up to writeDepth batches at a
// time), acknowledges their messages and commits offsets, until outputs is
// closed; then it flushes and commits a last time. Completions are taken in
// batch order, so the acknowledged offsets and each shard's flushed
// sequence only move forward.
// commit commits, per partition, the offset below which every message's
// points are acknowledged. A failed commit is logged and retried with the
// next one (commits are idempotent); if the process stops first, the next
// owner re-reads from the previous commit and, from the checkpoints,
// writes the same points again.
