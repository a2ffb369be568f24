package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/aewatch/aewatch/detector"
	"github.com/aewatch/aewatch/internal/lograte"
	"github.com/aewatch/aewatch/sink"
	"github.com/aewatch/aewatch/stream/codec"
)

// The interfaces the pipeline consumes, all here.

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

// bufferedFetcher is a fetcher that can say how many messages it holds
// ready; with one, the fetch loop batches its hand-over to the shards.
type bufferedFetcher interface {
	Buffered() int
}

// CheckpointStore keeps the newest checkpoint per key.
type CheckpointStore interface {
	// Load returns the newest checkpoint per key of the input partitions
	// keep accepts (all, if keep is nil).
	Load(ctx context.Context, keep func(topic string, partition int) bool) (map[string]Checkpoint, error)
	// Save writes cps; their bytes are reused once it returns.
	Save(ctx context.Context, cps []Checkpoint) error
}

// Evictor is a CheckpointStore that can also park one detector's state and
// read it back (eviction of idle series).
type Evictor interface {
	Evict(ctx context.Context, c Checkpoint) (Locator, error)
	Fetch(ctx context.Context, key string, at Locator) (Checkpoint, error)
}

// DeadLetter receives rejected messages, unchanged, with headers saying
// why and where from: aewatch-reason, aewatch-detail, aewatch-topic,
// aewatch-partition, aewatch-offset.
type DeadLetter interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
}

// Options wire a Pipeline.
type Options struct {
	Kafka    KafkaConfig
	Pipeline PipelineConfig
	Detector detector.Config
	Output   sink.OutputConfig
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
	// OnAlert, if set, sees every point but ae_score (ae_alert,
	// ae_rebaseline, ae_feedback) once it
	// is written.
	OnAlert func(sink.Point)
	// OnFetch, if set, is told after each successful fetch (for readiness).
	OnFetch func()
	// Keep, if set, decides which decoded samples are scored; the others
	// are skipped and counted as filtered (replay's time and series limits).
	Keep func(*codec.Sample) bool
	// Assigned, if set, says which input partitions this pipeline owns;
	// checkpoints of other partitions are not held.
	Assigned func(topic string, partition int) bool
	// Checkpoints, if set, restores detectors at start and takes a
	// checkpoint round every CheckpointInterval and at shutdown; offsets
	// are then committed no further than the last round.
	Checkpoints        CheckpointStore
	CheckpointInterval time.Duration
	// CheckpointRoundBytes bounds the snapshots a round holds at once
	// (default DefaultRoundBytes).
	CheckpointRoundBytes int64
	// DeadLetter, if set, receives every rejected message; its offset is
	// committed only once the dead-letter topic has it.
	DeadLetter DeadLetter
	// Rebaselines, if set, holds operators' re-baseline requests; each is
	// applied before its series' next sample is scored.
	Rebaselines *Rebaselines
	// Feedbacks, if set, holds operators' verdicts on alerts; each is
	// applied at its series' next sample.
	Feedbacks *Feedbacks
	// Silences, if set, holds maintenance windows set at run time, applied
	// beside Detector.Silences.
	Silences *Silences
	// Progress, if set, is told of every acknowledged write.
	Progress *Progress

	// carried: what the previous consumer-group generation's pipeline
	// hands this one for the partitions it keeps (carry.go).
	carried *carried
	// bounds: each assigned partition's log start and end when the
	// consumer-group generation began (nil: not known). A checkpoint that
	// reflects an offset at or past the end is from an earlier
	// incarnation of the topic (registry.go).
	bounds map[partitionKey]logBounds
	// waitForBusyShards: the fetch loop waits for a shard whose backlog is
	// full instead of pausing its partitions (BenchmarkSkew's baseline).
	waitForBusyShards bool
	// detectorBuilt, if set, sees each detector newDetector builds, on its
	// shard's goroutine (the tests' way to make one fail: detector.FailAt).
	detectorBuilt func(series string, d *detector.Detector)
}

// Pipeline consumes, scores and writes.
type Pipeline struct {
	o        Options
	decoders map[string]codec.Decoder
	// defaultDecoder decodes a topic decoders lacks (kafka.format), made
	// once in New as the others are.
	defaultDecoder codec.Decoder
	track          *tracker
	admit          *admission // pacing of brand-new detectors
	// aborts: the partitions on which an aborted transaction was logged
	// (the fetch loop's).
	aborts map[partitionKey]bool
	// configSilences are the configuration's maintenance windows, parsed
	// once for every series' detector.
	configSilences detector.ParsedSilences
	// inflight carries the result of the checkpoint round whose second
	// half runs beside the fetch loop (nil when none does).
	inflight chan error
	// ioCtx bounds the shards' own Kafka I/O (parking and reading back
	// detectors): it ends when the writes' drain time is up after a stop.
	ioCtx context.Context
	// These bound the log of out-of-order samples, detectors read back
	// after eviction, series on a second partition, checkpoints that do
	// not restore and values left out: one line per logEvery each;
	// rejected messages one per logEvery for each reason.
	outOfOrderLog, thrashLog, splitLog, restoreLog, channelsLog lograte.Limiter
	rejectLog                                                   lograte.Keyed
	// flushed[i] is how many of shard i's outputs are acknowledged (the
	// seq of its newest flushed output); outputs of one shard are flushed
	// in order.
	flushed []atomic.Uint64
	// wrote[i] is signalled when flushed[i] moves, for an eviction waiting.
	wrote []chan struct{}
	// pulls[i] carries a checkpoint round's requests for shard i's
	// snapshots.
	pulls []chan pullRequest
	// spareRecords holds written checkpoints' buffers for the next ones.
	spareRecords chan []byte
	live         atomic.Int64
	open         [len(alertKinds)]atomic.Int64 // by alertKinds
	restore      []map[string]Checkpoint       // per shard, owned by that shard once Run has started
	// spentOutputs: the flush loop hands emptied outputs back to the
	// shards, which would otherwise allocate their slices per batch.
	spentOutputs chan output
	// For the next generation (carry.go): each shard's state as it ended,
	// the newest offset fetched per partition, and whether the fetch ended
	// cleanly and (with checkpoints) the final round saved what it fetched.
	ended   []*shardState
	fetched map[partitionKey]int64
	finalOK bool
	// room: a shard took a batch from its queue (fairness.go: the fetch
	// loop waits on it while a backlog waits).
	room chan struct{}
	// sourceDone: the fetch loop ended because a bounded source (replay)
	// was exhausted; written before the shards' inputs close, read after.
	sourceDone bool
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
	p := &Pipeline{o: o, decoders: map[string]codec.Decoder{}, track: newTracker(), admit: newAdmission(o.Pipeline.NewSeriesPerSecond),
		configSilences: o.Detector.ParseSilences(),
		ioCtx:          context.Background(), outOfOrderLog: lograte.Limiter{Period: logEvery}, thrashLog: lograte.Limiter{Period: logEvery}, channelsLog: lograte.Limiter{Period: logEvery},
		rejectLog: lograte.Keyed{Period: logEvery}, splitLog: lograte.Limiter{Period: logEvery}, restoreLog: lograte.Limiter{Period: logEvery}}
	p.track.latency = func(d time.Duration) { o.Metrics.SampleLatency.Observe(d.Seconds()) }
	p.track.age = func(d time.Duration) { o.Metrics.RecordAge.Observe(d.Seconds()) }
	for _, t := range o.Kafka.Topics {
		dec, err := o.Kafka.Decoder(t)
		if err != nil {
			return nil, err
		}
		p.decoders[t] = dec
	}
	p.defaultDecoder, _ = o.Kafka.Decoder("") // no topic's name: kafka.format
	return p, nil
}

type work struct {
	s   codec.Sample
	ref msgRef
	// barrier, instead of a sample: from here on the shard's detectors owe
	// this checkpoint round their snapshots (round.go).
	barrier *checkpointRound
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
//
// Every stage runs in one WaitGroup and closes what it feeds when it ends,
// so a stop runs down the pipeline in order: fetch (and after it the
// in-flight and the final checkpoint round) → dead letters → shards →
// flush, and the drain timer ends with the flush.
func (p *Pipeline) Run(ctx context.Context) error {
	o := p.o
	// Writes and the last commit outlive ctx by at most DrainTimeout.
	writeCtx, cancelWrite := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWrite()

	o.Progress.running(p.track)
	p.ioCtx = writeCtx
	p.restore = make([]map[string]Checkpoint, o.Pipeline.Workers)
	for i := range p.restore {
		p.restore[i] = map[string]Checkpoint{}
	}
	if o.Checkpoints != nil {
		// Only the checkpoints of our own partitions are held, and of
		// those only the partitions the previous generation did not hand
		// over.
		load := o.Assigned
		if c := o.carried; c != nil {
			load = func(topic string, partition int) bool {
				return (o.Assigned == nil || o.Assigned(topic, partition)) && !c.owns(topic, partition)
			}
		}
		cps, err := o.Checkpoints.Load(ctx, load)
		if err != nil {
			if ctx.Err() != nil {
				return nil // stopped (a rebalance) before we began: nothing fetched, nothing to do
			}
			return err
		}
		for key, cp := range cps {
			series, channel, one := strings.Cut(key, "\x00") // keyOf's layout
			p.restore[shardOf(series, o.Pipeline.Workers)][key] = cp
			// Its operator may re-baseline it before its next sample. A
			// detector of several channels names them in its state, read
			// when it is built: until then any channel is taken.
			if one {
				o.Rebaselines.Seen(cp.Topic, cp.Partition, series, channel)
			} else {
				o.Rebaselines.Seen(cp.Topic, cp.Partition, series)
			}
		}
		p.track.limited = true
		kept := 0
		if o.carried != nil {
			kept = len(o.carried.next)
		}
		o.Log.Info("checkpoints loaded", "detectors", len(cps), "partitions_kept", kept)
	}
	p.ended = make([]*shardState, o.Pipeline.Workers)
	p.room = make(chan struct{}, 1)
	shards := make([]chan []work, o.Pipeline.Workers)
	spent := make([]chan []work, len(shards)) // handed-over batches, back for reuse
	p.flushed = make([]atomic.Uint64, len(shards))
	p.wrote = make([]chan struct{}, len(shards))
	p.pulls = make([]chan pullRequest, len(shards))
	p.spareRecords = make(chan []byte, p.spareRecordCount())
	for i := range p.wrote {
		p.wrote[i] = make(chan struct{}, 1)
		p.pulls[i] = make(chan pullRequest)
	}
	outputs := make(chan output, max(1, o.Pipeline.QueueSize/handoffBatch)) // outputs carry up to a batch each
	// As many spent slices as the queue holds: while a write blocks the
	// flush loop the queue fills, and on its release it empties at once.
	p.spentOutputs = make(chan output, cap(outputs)+len(shards))
	for i := range shards {
		// Bounded in samples: queue_size per stage, split over the shards.
		shards[i] = make(chan []work, max(1, o.Pipeline.QueueSize/len(shards)/handoffBatch))
		spent[i] = make(chan []work, cap(shards[i])+1) // all a full queue holds: see spentOutputs
	}

	var stages sync.WaitGroup
	var fetchErr, flushErr error
	flushDone := make(chan struct{})
	stages.Go(func() { // the drain timer
		select {
		case <-ctx.Done():
		case <-flushDone:
			return
		}
		t := time.NewTimer(o.DrainTimeout)
		defer t.Stop()
		select {
		case <-t.C:
			cancelWrite()
		case <-flushDone:
		}
	})
	stages.Go(func() {
		defer close(flushDone)
		flushErr = p.flushLoop(writeCtx, outputs)
		// After a failed write nothing more is written: take the shards'
		// outputs anyway, so that no shard blocks sending and the stop
		// finishes; their messages stay unacknowledged, to be re-delivered.
		for range outputs {
		}
	})
	var shardsRunning sync.WaitGroup
	for i := range shards {
		shardsRunning.Go(func() { p.shard(i, shards[i], p.pulls[i], spent[i], outputs, p.restore[i]) })
	}
	stages.Go(func() {
		shardsRunning.Wait()
		close(outputs)
	})
	var dlq chan deadLetter
	dlqErr := make(chan error, 1)
	if o.DeadLetter != nil {
		dlq = make(chan deadLetter, o.Pipeline.QueueSize)
		stages.Go(func() { dlqErr <- p.deadLetterLoop(writeCtx, dlq) })
	} else {
		dlqErr <- nil
	}
	stages.Go(func() {
		fetchErr = p.fetchStage(ctx, writeCtx, shards, spent, dlq, dlqErr)
	})
	stages.Wait()

	err := flushErr
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

// fetchStage fetches until ctx ends; then it lets the checkpoint round in
// flight finish, takes the final round over what was fetched, and closes
// the dead-letter queue and, once that has drained, the shards' inputs.
// Its error is the fetch's, else the dead letters'.
func (p *Pipeline) fetchStage(ctx, writeCtx context.Context, shards, spent []chan []work, dlq chan deadLetter, dlqErr <-chan error) error {
	last := map[partitionKey]int64{}
	p.fetched = last
	fetchErr := p.fetchLoop(ctx, writeCtx, &handoff{shards: shards, spent: spent, room: p.room}, last, dlq)
	if p.inflight != nil {
		<-p.inflight // a round of the fetch loop's: it finishes within the drain's bound
		p.inflight = nil
	}
	p.finalOK = fetchErr == nil
	if p.o.Checkpoints != nil && fetchErr == nil {
		// Stopped fetching: checkpoint what was fetched, so that a restart
		// resumes exactly here.
		if err := p.round(writeCtx, shards, last); err != nil {
			// Offsets stay at the previous round, so a restart re-reads
			// from there: consistent, only slower.
			p.o.Log.Error("final checkpoint round failed; the next start resumes from the previous round", "err", err)
			p.finalOK = false
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
	return fetchErr
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

// known reports whether series matches one of kafka.series' patterns.
func (p *Pipeline) known(series string) bool {
	for _, pat := range p.o.Kafka.Series {
		if ok, _ := path.Match(pat, series); ok {
			return true
		}
	}
	return false
}

// shardOf is the shard of n that owns series.
func shardOf(series string, n int) int {
	// FNV-1a, as hash/fnv computes it, without its allocation per sample.
	h := uint32(2166136261)
	for i := 0; i < len(series); i++ {
		h ^= uint32(series[i])
		h *= 16777619
	}
	return int(h % uint32(n))
}

// equalStrings reports whether a and b hold the same strings in order.
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
