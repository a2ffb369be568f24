package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/aewatch/aewatch/detector"
	"github.com/aewatch/aewatch/internal/lograte"
	"github.com/aewatch/aewatch/sink"
	"github.com/aewatch/aewatch/window"
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
var errRoundDue = errors.New("stream: checkpoint round due")

// fetch returns the next message; with checkpoints, it waits no longer
// than until the next round is due, so that an idle input is still
// checkpointed and committed on the interval.
func (p *Pipeline) fetch(ctx context.Context, lastRound time.Time) (kafka.Message, error) {
	if p.o.Checkpoints == nil {
		return p.o.Reader.FetchMessage(ctx)
	}
	fctx, cancel := context.WithDeadlineCause(ctx, lastRound.Add(p.o.CheckpointInterval), errRoundDue)
	defer cancel()
	msg, err := p.o.Reader.FetchMessage(fctx)
	if err != nil && ctx.Err() == nil && context.Cause(fctx) == errRoundDue {
		return msg, errRoundDue
	}
	return msg, err
}

func (p *Pipeline) fetchLoop(ctx, drain context.Context, h *handoff, last map[partitionKey]int64, dlq chan<- deadLetter) error {
	o := p.o
	var samples []Sample
	perPart := map[partitionKey]partMetrics{}
	lastRound := time.Now()
	fresh := false // messages fetched since the last round that succeeded
	h.pending = make([][]work, len(h.shards))
	buffered, _ := o.Reader.(bufferedFetcher)
	// Samples fetched are handed over even when ctx ends (drain bounds the
	// wait): a checkpoint round at shutdown covers every fetched offset.
	defer h.sendAll(drain)
	for {
		// Hand over what is batched before the fetch could block.
		if buffered == nil || buffered.Buffered() == 0 {
			if !h.sendAll(drain) {
				return nil
			}
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
					go func() { done <- finish(ctx) }()
					p.inflight = done
				}
			}
			lastRound = time.Now()
		}
		msg, err := p.fetch(ctx, lastRound)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, io.EOF) {
				return nil // stopped, or a bounded source (replay) is done
			}
			if errors.Is(err, errRoundDue) {
				continue // idle input: the round still runs on its interval
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
		samples, err = p.decode(samples[:0], msg)
		if err != nil {
			o.Metrics.Rejected.WithLabelValues(string(ReasonOf(err))).Inc()
			if dlq == nil {
				p.track.add(ref, 0)
				continue
			}
			p.track.add(ref, 1)
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
		p.track.add(ref, len(samples))
		for _, s := range samples {
			i := shardOf(s.Series, len(h.shards))
			h.pending[i] = append(h.pending[i], work{s: s, ref: ref})
			if len(h.pending[i]) >= handoffBatch && !h.send(drain, i) {
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

// bufferedFetcher is a fetcher that can say how many messages it holds
// ready; with one, the fetch loop batches its hand-over to the shards.
type bufferedFetcher interface {
	Buffered() int
}

// handoff is the fetch loop's side of the shard channels: the samples
// batched for each shard, and the spent batches the shards hand back.
type handoff struct {
	shards  []chan []work
	spent   []chan []work
	pending [][]work
}

// send hands shard i its pending samples; false if drain ended first.
func (h *handoff) send(drain context.Context, i int) bool {
	if len(h.pending[i]) == 0 {
		return true
	}
	select {
	case h.shards[i] <- h.pending[i]:
	case <-drain.Done():
		return false
	}
	select {
	case b := <-h.spent[i]:
		h.pending[i] = b[:0]
	default:
		h.pending[i] = make([]work, 0, handoffBatch)
	}
	return true
}

// sendAll hands every shard its pending samples; false if drain ended
// first.
func (h *handoff) sendAll(drain context.Context) bool {
	for i := range h.shards {
		if !h.send(drain, i) {
			return false
		}
	}
	return true
}

func (p *Pipeline) decode(dst []Sample, msg kafka.Message) ([]Sample, error) {
	if len(msg.Value) > p.o.Kafka.MaxMessageBytes {
		return dst, reject(ReasonTooLarge, "%d bytes > kafka.max_message_bytes %d", len(msg.Value), p.o.Kafka.MaxMessageBytes)
	}
	dec := p.decoders[msg.Topic]
	if dec == nil {
		dec, _ = DecoderFor(p.o.Kafka.Format)
	}
	out, err := dec(dst, msg.Value)
	if err != nil {
		return out, err
	}
	if len(p.o.Kafka.Series) > 0 {
		for _, s := range out {
			if !p.known(s.Series) {
				return dst, reject(ReasonUnknownSeries, "series %q matches no kafka.series pattern", s.Series)
			}
		}
	}
	for _, s := range out[len(dst):] {
		if len(s.Channels) > p.o.Pipeline.MaxChannels {
			return dst, reject(ReasonChannelLimit, "series %q: %d channels, over pipeline.max_channels %d", s.Series, len(s.Channels), p.o.Pipeline.MaxChannels)
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
func checkTimes(samples []Sample, record, now time.Time, c PipelineConfig) error {
	latest, earliest := now, now
	if !record.IsZero() {
		latest, earliest = later(record, now), earlier(record, now)
	}
	for _, s := range samples {
		t := time.Unix(0, s.Time)
		if t.After(latest.Add(c.MaxFuture)) {
			return reject(ReasonBadTime, "series %q: time %s is more than pipeline.max_future=%v after the record's time and the clock (%s)",
				s.Series, t.UTC().Format(time.RFC3339Nano), c.MaxFuture, latest.UTC().Format(time.RFC3339))
		}
		if c.MaxPast > 0 && t.Before(earliest.Add(-c.MaxPast)) {
			return reject(ReasonBadTime, "series %q: time %s is more than pipeline.max_past=%v before the record's time and the clock (%s)",
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
type seriesState struct {
	det      *detector.Detector
	series   string
	channels []string
	tags     []sink.Tag
	part     partitionKey // where the series' messages come from
	// Samples from messages at or before skipUpTo in partition part are
	// already in the detector's restored state.
	skipUpTo   int64
	lastUsed   uint64 // shard clock at the last sample, for eviction
	lastOut    uint64 // seq of the output holding the detector's newest points
	lastOffset int64  // offset of the last message of the series in part, for eviction
	outOfOrder uint64 // samples dropped as not after the series' previous time
}

// logEvery bounds how often a recurring per-sample problem is logged.
const logEvery = 10 * time.Second

// shard owns the detectors of the series routed to it.
func (p *Pipeline) shard(id int, in <-chan []work, spent chan<- []work, out chan<- output, restore map[string]Checkpoint) {
	dets := &shardState{id: id, dets: map[string]*seriesState{}, restore: restore,
		evicted: map[string]Locator{}, out: out, spent: p.spentOutputs}
	for batch := range in {
		// One clock reading per sample: one sample's end starts the next.
		start := time.Now()
		for i := range batch {
			w := &batch[i]
			if w.barrier != nil {
				dets.emit(false)
				w.barrier.reply <- p.snapshot(dets.dets, w.barrier.offsets)
				start = time.Now()
				continue
			}
			dets.clock++
			p.score(dets, &w.s, w.ref)
			dets.pending.refs = append(dets.pending.refs, w.ref)
			end := time.Now()
			p.o.Metrics.ScoreLatency.Observe(end.Sub(start).Seconds())
			start = end
		}
		dets.emit(false) // one channel operation per batch, not per sample
		if cap(batch) == handoffBatch {
			clear(batch) // drop the samples' references
			select {
			case spent <- batch[:0]:
			default:
			}
		}
	}
}

// snapshot checkpoints every detector of a shard at the round's offsets.
func (p *Pipeline) snapshot(dets map[string]*seriesState, offsets map[partitionKey]int64) []Checkpoint {
	var cps []Checkpoint
	for key, st := range dets {
		off, ok := offsets[st.part]
		if !ok {
			continue
		}
		b, err := st.det.MarshalBinary()
		if err != nil {
			p.o.Log.Error("snapshot failed", "series", st.series, "err", err)
			continue
		}
		cps = append(cps, Checkpoint{Key: key, Topic: st.part.topic, Partition: st.part.partition, Offset: off, State: b})
	}
	return cps
}

// round takes a checkpoint round: every shard snapshots its detectors once
// it has scored everything fetched so far; the checkpoints are written;
// then offsets may be committed up to what they reflect.
func (p *Pipeline) round(ctx context.Context, shards []chan []work, last map[partitionKey]int64) error {
	finish, err := p.snapshotRound(ctx, shards, last)
	if err != nil {
		return err
	}
	return finish(ctx)
}

// snapshotRound takes the first half of a checkpoint round: a barrier in
// every shard's queue and the snapshots the shards take when they reach
// it. finish does the rest (wait until the points the snapshots reflect
// are written, save them, move the commit limits); fetching may go on
// meanwhile.
func (p *Pipeline) snapshotRound(ctx context.Context, shards []chan []work, last map[partitionKey]int64) (finish func(context.Context) error, err error) {
	if len(last) == 0 {
		return func(context.Context) error { return nil }, nil
	}
	offsets := make(map[partitionKey]int64, len(last))
	for k, v := range last {
		offsets[k] = v
	}
	b := &barrier{offsets: offsets, reply: make(chan []Checkpoint, len(shards))}
	for _, sh := range shards {
		select {
		case sh <- []work{{barrier: b}}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	var all []Checkpoint
	for range shards {
		select {
		case cps := <-b.reply:
			all = append(all, cps...)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return func(ctx context.Context) error {
		start := time.Now()
		// A checkpoint may only be used once the points it reflects are
		// written: a restart skips the messages it covers.
		for !p.track.doneThrough(offsets) {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(5 * time.Millisecond):
			}
		}
		if len(all) > 0 {
			if err := p.o.Checkpoints.Save(ctx, all); err != nil {
				return err
			}
		}
		p.o.Metrics.Checkpoints.Add(float64(len(all)))
		p.o.Metrics.CheckpointSeconds.Observe(time.Since(start).Seconds())
		p.track.setLimits(offsets)
		return nil
	}, nil
}

// partMetrics are one input partition's metric children.
type partMetrics struct {
	messages prometheus.Counter
	lag      prometheus.Gauge
}

// shardState is what one shard owns: its detectors, and the checkpoints of
// its series not yet restored (each is dropped once used).
type shardState struct {
	id      int
	dets    map[string]*seriesState
	restore map[string]Checkpoint
	// evicted: where the checkpoints of detectors evicted to make room lie.
	evicted map[string]Locator
	clock   uint64 // samples scored
	emitted uint64 // outputs sent
	key     []byte // scratch: the detector key being looked up
	// pending: scored since the last emit; it goes to out at the end of
	// each input batch and before anything waits on the flush loop.
	pending output
	out     chan<- output
	spent   <-chan output
}

// emit sends the pending output to the flush loop. Sent in the middle of a
// sample, it may hold points without their message, which follows with
// the next one. An urgent output has the flush loop write its batch at
// once (even an empty one, to write what was sent before it).
func (sh *shardState) emit(urgent bool) {
	if len(sh.pending.refs) == 0 && len(sh.pending.pts) == 0 {
		if urgent {
			sh.out <- output{shard: sh.id, seq: sh.emitted, urgent: true}
		}
		return
	}
	sh.emitted++
	sh.pending.shard, sh.pending.seq, sh.pending.urgent = sh.id, sh.emitted, urgent
	sh.out <- sh.pending
	select {
	case sh.pending = <-sh.spent:
	default:
		sh.pending = output{refs: make([]msgRef, 0, handoffBatch)}
	}
}

// keyOf returns, in the shard's scratch buffer, the key of the detector of
// series and channel: the series alone for a multivariate detector, else
// the series, a zero byte and the channel.
func (sh *shardState) keyOf(series, channel string, multivariate bool) []byte {
	sh.key = append(sh.key[:0], series...)
	if !multivariate {
		sh.key = append(append(sh.key, 0), channel...)
	}
	return sh.key
}

// seriesOfKey is the series part of a detector key (see keyOf).
func seriesOfKey(key string) string {
	series, _, _ := strings.Cut(key, "\x00")
	return series
}

// score scores sample s and appends its points to the shard's pending
// output. The pending slice is read afresh after every state call: making
// room for a detector may emit it.
func (p *Pipeline) score(dets *shardState, s *Sample, ref msgRef) {
	if req, ok := p.o.Rebaselines.take(s.Series); ok {
		p.rebaseline(dets, s, ref, req)
	}
	if p.o.Pipeline.Multivariate {
		st := p.state(dets, dets.keyOf(s.Series, "", true), s.Series, s.Channels, s.Tags, ref)
		if st == nil || st.covers(ref) {
			return
		}
		if !equalStrings(st.channels, s.Channels) {
			p.o.Metrics.SamplesDropped.WithLabelValues(string(ReasonChannels)).Inc()
			return
		}
		dets.push(p, st, s.Time, s.Values)
		return
	}
	for j, ch := range s.Channels {
		st := p.state(dets, dets.keyOf(s.Series, ch, false), s.Series, s.Channels[j:j+1], s.Tags, ref)
		if st == nil || st.covers(ref) {
			continue
		}
		dets.push(p, st, s.Time, s.Values[j:j+1])
	}
}

// push scores one sample of st's detector into the pending output and
// notes which output holds the detector's newest points.
func (sh *shardState) push(p *Pipeline, st *seriesState, t int64, x []float64) {
	n := len(sh.pending.pts)
	sh.pending.pts = p.push(st, t, x, sh.pending.pts)
	if len(sh.pending.pts) > n {
		st.lastOut = sh.emitted + 1
	}
}

// rebaseline applies an operator's request to the detectors of s's series
// (all channels, or the one named) before s is scored, and records it.
func (p *Pipeline) rebaseline(sh *shardState, s *Sample, ref msgRef, req RebaselineRequest) {
	applied := 0
	for j, ch := range s.Channels {
		if !req.wants(ch) {
			continue
		}
		chans := s.Channels[j : j+1]
		if p.o.Pipeline.Multivariate {
			chans = s.Channels
		}
		st := p.state(sh, sh.keyOf(s.Series, ch, p.o.Pipeline.Multivariate), s.Series, chans, s.Tags, ref)
		if st == nil || !st.det.Rebaseline() {
			continue
		}
		applied++
		sh.pending.pts = append(sh.pending.pts, sink.Point{Series: s.Series, Channel: ch, Tags: st.tags, Time: s.Time, Event: "rebaseline", Reason: req.Source})
		st.lastOut = sh.emitted + 1
		if p.o.Pipeline.Multivariate {
			break
		}
	}
	if applied == 0 {
		// The named channel is not in this sample (or its detector is not
		// available): wait for a sample that has it.
		p.o.Rebaselines.requeue(req)
		return
	}
	p.o.Metrics.Rebaselines.Inc()
	p.o.Log.Info("re-baseline applied", "series", s.Series, "channels", req.ChannelList(), "detectors", applied,
		"source", req.Source, "requested", req.At.Format(time.RFC3339), "at_sample", time.Unix(0, s.Time).UTC().Format(time.RFC3339Nano))
}

// covers reports whether the sample of message ref is already in the
// detector's restored state.
func (st *seriesState) covers(ref msgRef) bool {
	return ref.part == st.part && ref.offset <= st.skipUpTo
}

// state finds or makes the detector of key, restoring its checkpoint if
// there is one; nil when the series bound is hit.
func (p *Pipeline) state(sh *shardState, keyBytes []byte, series string, channels []string, tags []Tag, ref msgRef) *seriesState {
	if st, ok := sh.dets[string(keyBytes)]; ok { // no allocation for the lookup
		st.lastUsed, st.lastOffset = sh.clock, ref.offset
		return st
	}
	key := string(keyBytes)
	if len(sh.dets) >= p.shardMax() && !p.evict(sh) {
		p.o.Metrics.SamplesDropped.WithLabelValues(string(ReasonSeriesLimit)).Inc()
		return nil
	}
	if loc, ok := sh.evicted[key]; ok {
		delete(sh.evicted, key)
		if ev, ok := p.o.Checkpoints.(Evictor); ok {
			ctx, cancel := context.WithTimeout(p.ioCtx, 30*time.Second)
			cp, err := ev.Fetch(ctx, key, loc)
			cancel()
			if err != nil {
				p.o.Metrics.CheckpointErrors.Inc()
				p.o.Log.Error("evicted detector could not be read back; the series starts fresh", "series", series, "err", err)
			} else {
				sh.restore[key] = cp
				p.o.Metrics.Unparked.Inc()
				if ok, held := p.thrashLog.Allow(); ok {
					p.o.Log.Warn("pipeline.max_series is below the series in use: parked detectors are read back as their series return; raise it or add instances",
						"max_series", p.o.Pipeline.MaxSeries, "series", series, "read_back_since_last_line", held+1)
				}
			}
		}
	}
	if _, restoring := sh.restore[key]; !restoring && p.admit.wait() {
		p.o.Metrics.AdmissionWaits.Inc()
	}
	d, err := p.newDetector(series, channels)
	if err != nil {
		p.o.Log.Error("cannot build detector", "series", series, "channels", len(channels), "err", err)
		p.o.Metrics.SamplesDropped.WithLabelValues(string(ReasonChannels)).Inc()
		return nil
	}
	p.o.Rebaselines.Seen(series)
	st := &seriesState{det: d, series: series, channels: append([]string(nil), channels...), part: ref.part, skipUpTo: -1,
		lastOffset: ref.offset}
	if cp, ok := sh.restore[key]; ok {
		delete(sh.restore, key)
		err := d.UnmarshalBinary(cp.State)
		switch {
		case err != nil:
			p.o.Metrics.CheckpointErrors.Inc()
			p.o.Log.Warn("checkpoint does not restore; the series starts fresh", "series", series, "err", err)
			d, _ = p.newDetector(series, channels)
			st.det = d
		case cp.Topic != ref.part.topic || cp.Partition != ref.part.partition:
			p.o.Log.Warn("checkpoint is from another partition; the series starts fresh", "series", series,
				"checkpoint_partition", cp.Partition, "partition", ref.part.partition)
			d, _ = p.newDetector(series, channels)
			st.det = d
		default:
			st.skipUpTo = cp.Offset
			p.o.Metrics.Restored.Inc()
		}
	}
	for _, t := range tags {
		st.tags = append(st.tags, sink.Tag{Key: t.Key, Value: t.Value})
	}
	st.lastUsed = sh.clock
	sh.dets[key] = st
	p.o.Metrics.LiveSeries.Set(float64(p.live.Add(1)))
	p.o.Metrics.SeriesBytes.Set(float64(d.MemoryBytes()))
	return st
}

// shardMax is one shard's share of pipeline.max_series.
func (p *Pipeline) shardMax() int { return max(1, p.o.Pipeline.MaxSeries/p.o.Pipeline.Workers) }

// evict parks the least recently used tenth of a full shard's detectors in
// the checkpoint store, once the points they reflect are written, and
// reports whether room was made. Without checkpoints nothing is evicted.
func (p *Pipeline) evict(sh *shardState) bool {
	ev, ok := p.o.Checkpoints.(Evictor)
	if !ok || len(sh.dets) == 0 {
		return false
	}
	victims := make([]string, 0, len(sh.dets))
	for k := range sh.dets {
		victims = append(victims, k)
	}
	sort.Slice(victims, func(i, j int) bool { return sh.dets[victims[i]].lastUsed < sh.dets[victims[j]].lastUsed })
	// A quarter at a time: each eviction waits once for the shard's points
	// to be written, so that a series returning after a checkpoint's
	// offset is not skipped; fewer, larger evictions wait less in all.
	victims = victims[:max(1, len(victims)/4)]
	for _, key := range victims {
		if sh.dets[key].lastOut > p.flushed[sh.id].Load() {
			sh.emit(true) // the wait below is for points that must have left the shard
			break
		}
	}
	ctx, cancel := context.WithTimeout(p.ioCtx, 30*time.Second)
	defer cancel()
	freed := 0
	for _, key := range victims {
		st := sh.dets[key]
		// A restart skips what the checkpoint reflects, so the series' points
		// must be written first. This waits on the flush loop only, never on
		// another shard (which could be waiting on this one).
		for p.flushed[sh.id].Load() < st.lastOut {
			select {
			case <-ctx.Done():
				p.o.Log.Warn("eviction timed out waiting for writes", "series", st.series)
				return freed > 0
			case <-p.wrote[sh.id]:
			}
		}
		b, err := st.det.MarshalBinary()
		if err != nil {
			continue
		}
		loc, err := ev.Evict(ctx, Checkpoint{Key: key, Topic: st.part.topic, Partition: st.part.partition, Offset: st.lastOffset, State: b})
		if err != nil {
			p.o.Log.Warn("eviction failed; the detector stays in memory", "series", st.series, "err", err)
			continue
		}
		sh.evicted[key] = loc
		delete(sh.dets, key)
		freed++
		p.o.Metrics.Evicted.Inc()
		p.o.Metrics.LiveSeries.Set(float64(p.live.Add(-1)))
	}
	return freed > 0
}

func (p *Pipeline) push(st *seriesState, t int64, x []float64, pts []sink.Point) []sink.Point {
	m := p.o.Metrics
	for _, r := range st.det.Push(t, x) {
		switch r.Status {
		case window.NonFinite:
			m.SamplesDropped.WithLabelValues(string(ReasonNonFinite)).Inc()
		case window.OutOfOrder:
			m.SamplesDropped.WithLabelValues(string(ReasonOutOfOrder)).Inc()
			st.outOfOrder++
			if ok, held := p.outOfOrderLog.Allow(); ok {
				p.o.Log.Warn("sample not after its series' previous one; dropped", "series", st.series,
					"time", time.Unix(0, t).UTC().Format(time.RFC3339Nano), "dropped_of_series", st.outOfOrder, "others_since_last_line", held)
			}
		}
		if r.Scored {
			m.Windows.Inc()
			for j, ch := range st.channels {
				pts = append(pts, sink.Point{Series: st.series, Channel: ch, Tags: st.tags, Time: r.Time,
					Value: r.Values[j], Error: r.ChannelError[j], Score: r.Score, RefScore: r.RefScore, AlertScore: r.AlertScore(), Threshold: r.Threshold, Alert: r.Alert,
					DriftScore: r.Drift, DriftAlert: r.DriftAlert, QualityAlert: r.Quality.Open})
			}
			pts = p.alertPoints(st, &r, "anomaly", r.Event, r.AlertScore(), r.Alert, r.Peak, r.Duration, r.Why, pts)
		}
		pts = p.alertPoints(st, &r, "drift", r.DriftEvent, r.Drift, r.DriftAlert, r.DriftPeak, r.DriftDuration, r.DriftWhy, pts)
		q := r.Quality
		pts = p.alertPoints(st, &r, "quality", q.Event, boolScore(q.Open), q.Open, 1, q.Duration, q.Why, pts)
	}
	return pts
}

// alertPoints appends one ae_alert point per channel for an alert event.
func (p *Pipeline) alertPoints(st *seriesState, r *detector.Result, kind string, ev detector.Event, score float64, open bool,
	peak float64, dur int64, why *detector.Explanation, pts []sink.Point) []sink.Point {
	if ev == detector.NoEvent {
		return pts
	}
	k := slices.Index(alertKinds[:], kind)
	switch ev {
	case detector.Opened:
		p.o.Metrics.OpenAlerts.WithLabelValues(kind).Set(float64(p.open[k].Add(1)))
		peak, dur = score, 0
	case detector.Closed:
		p.o.Metrics.OpenAlerts.WithLabelValues(kind).Set(float64(p.open[k].Add(-1)))
	}
	for j, ch := range st.channels {
		pt := sink.Point{Series: st.series, Channel: ch, Tags: st.tags, Time: r.Time, Score: score, Alert: open,
			Event: ev.String(), Kind: kind, Peak: peak, Duration: float64(dur) / 1e9}
		if why != nil {
			pt.Share, pt.Departure, pt.Statistic, pt.Reason = why.Share[j], why.Departure[j], why.Statistic, why.Reason
			switch kind {
			case "drift":
				pt.Spread, pt.Onset, pt.Rate = why.Spread[j], why.Onset, why.Rate[j]
			case "quality":
				pt.Statistic = why.Failed[j]
				if why.Failed[j] == detector.Stuck {
					pt.Onset = why.Onset
				}
			}
		}
		pts = append(pts, pt)
	}
	return pts
}

// newDetector builds a fresh detector for a series, with the quality
// limits that apply to its channels.
func (p *Pipeline) newDetector(series string, channels []string) (*detector.Detector, error) {
	d, err := detector.New(p.o.Detector, len(channels))
	if err != nil {
		return nil, err
	}
	d.SetLimits(p.o.Detector.Quality.LimitsFor(series, channels))
	return d, nil
}

// alertKinds are the kinds of alert a detector raises.
var alertKinds = [...]string{"anomaly", "drift", "quality"}

// boolScore is 1 for true: a quality alert's score at its opening.
func boolScore(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

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
					if pt.Event != "" {
						o.OnAlert(pt)
					}
				}
			}
			p.track.done(j.refs)
			o.Progress.touch()
			for i, seq := range j.newest {
				if seq > 0 {
					p.flushed[i].Store(seq)
					select {
					case p.wrote[i] <- struct{}{}:
					default:
					}
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
