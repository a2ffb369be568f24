package stream

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/aewatch/aewatch/detector"
	"github.com/aewatch/aewatch/sink"
)

// listFetcher serves a fixed list of messages, then waits for ctx, and
// records every commit with what the writer had acknowledged at that moment.
type listFetcher struct {
	msgs    []kafka.Message
	next    int
	allRead chan struct{}
	writer  *outOfOrderWriter

	mu      sync.Mutex
	commits []commitSnapshot
}

type commitSnapshot struct {
	offset  int64          // the newest message the commit covers
	written map[int64]bool // sample times acknowledged by then
}

func (f *listFetcher) FetchMessage(ctx context.Context) (kafka.Message, error) {
	if f.next == len(f.msgs) {
		close(f.allRead)
		<-ctx.Done()
		return kafka.Message{}, ctx.Err()
	}
	f.next++
	return f.msgs[f.next-1], nil
}

// Buffered makes the fetch loop hand samples over in batches.
func (f *listFetcher) Buffered() int { return len(f.msgs) - f.next }

func (f *listFetcher) CommitMessages(_ context.Context, msgs ...kafka.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range msgs {
		f.commits = append(f.commits, commitSnapshot{offset: m.Offset, written: f.writer.snapshot()})
	}
	return nil
}

// outOfOrderWriter holds every odd-numbered write until the write after
// it has returned, so that batches complete out of order.
type outOfOrderWriter struct {
	mu       sync.Mutex
	writes   int
	released chan struct{}
	written  map[int64]bool
	all      []sink.Point
}

func (w *outOfOrderWriter) WritePoints(ctx context.Context, pts []sink.Point) error {
	w.mu.Lock()
	w.writes++
	n := w.writes
	var wait chan struct{}
	if n%2 == 1 {
		w.released = make(chan struct{})
		wait = w.released
	} else if w.released != nil {
		defer close(w.released)
	}
	w.mu.Unlock()
	if wait != nil {
		select {
		case <-wait:
		case <-time.After(200 * time.Millisecond): // no next write came
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range pts {
		w.written[p.Time] = true
		w.all = append(w.all, p)
	}
	return nil
}

func (w *outOfOrderWriter) snapshot() map[int64]bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := make(map[int64]bool, len(w.written))
	for k := range w.written {
		c[k] = true
	}
	return c
}

// TestCommitsFollowAcknowledgedWrites: with two writes in flight and the
// second acknowledged before the first, no commit ever covers a message
// whose points are not yet acknowledged, and the last commit covers all.
func TestCommitsFollowAcknowledgedWrites(t *testing.T) {
	// Whether commits come while writes are in flight is up to the
	// schedule (a loaded machine saw two in one run): a run that did not
	// exercise it is run again, and every run that did is checked.
	for attempt := 1; ; attempt++ {
		if commitsFollowAcknowledgedWrites(t) {
			return
		}
		if attempt == 3 {
			t.Fatal("no run of three had commits while writes were in flight")
		}
	}
}

// commitsFollowAcknowledgedWrites runs the test's pipeline once and checks
// its commits; false when the run had too few writes or commits in flight
// to tell.
func commitsFollowAcknowledgedWrites(t *testing.T) bool {
	t.Helper()
	const n = 3000
	writer := &outOfOrderWriter{written: map[int64]bool{}}
	f := &listFetcher{allRead: make(chan struct{}), writer: writer}
	timeOf := map[int64]int64{} // offset -> sample time (one sample per message)
	for i := range n {
		ts := int64(1_700_000_000_000_000_000) + int64(i)*1e9
		f.msgs = append(f.msgs, kafka.Message{Topic: "sensors", Partition: 0, Offset: int64(i),
			Value: fmt.Appendf(nil, `{"series":"s%d","time":%d,"value":%g}`, i%3, ts, float64(i%17))})
		timeOf[int64(i)] = ts
	}
	kcfg := DefaultKafkaConfig()
	kcfg.Brokers, kcfg.Topics = []string{"127.0.0.1:9092"}, []string{"sensors"}
	kcfg.CommitInterval = time.Millisecond
	pcfg := DefaultPipelineConfig()
	pcfg.Workers = 2
	p, err := New(Options{Kafka: kcfg, Pipeline: pcfg, Detector: detector.DefaultConfig(), Reader: f, Writer: writer,
		BatchSize: 100, FlushInterval: 5 * time.Millisecond, Metrics: NewMetrics(prometheus.NewRegistry())})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-f.allRead; time.Sleep(50 * time.Millisecond); cancel() }()
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if writer.writes < 4 || len(f.commits) < 3 {
		t.Logf("%d writes and %d commits: the test needs several batches and commits in flight", writer.writes, len(f.commits))
		return false
	}
	produced := map[int64]bool{}
	for _, pt := range writer.all {
		produced[pt.Time] = true
	}
	for _, c := range f.commits {
		for off := int64(0); off <= c.offset; off++ {
			if ts := timeOf[off]; produced[ts] && !c.written[ts] {
				t.Fatalf("commit through offset %d before the point of offset %d was acknowledged", c.offset, off)
			}
		}
	}
	if last := f.commits[len(f.commits)-1].offset; last != n-1 {
		t.Fatalf("last commit through offset %d, want %d", last, n-1)
	}
	if len(produced) < n-3*31 {
		t.Fatalf("%d samples written, want at least %d", len(produced), n-3*31)
	}
	return true
}

// recordingWriter keeps every point it is given.
type recordingWriter struct {
	mu  sync.Mutex
	pts []sink.Point
}

func (w *recordingWriter) WritePoints(_ context.Context, pts []sink.Point) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pts = append(w.pts, pts...)
	return nil
}

func (w *recordingWriter) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.pts)
}

// TestPartialBatchWrittenWhenInputPauses: a batch far from full, with an
// hour-long flush interval, is written soon after the input stops.
func TestPartialBatchWrittenWhenInputPauses(t *testing.T) {
	const n, window = 200, 32
	writer := &recordingWriter{}
	f := &listFetcher{allRead: make(chan struct{}), writer: &outOfOrderWriter{written: map[int64]bool{}}}
	for i := range n {
		f.msgs = append(f.msgs, kafka.Message{Topic: "sensors", Partition: 0, Offset: int64(i),
			Value: fmt.Appendf(nil, `{"series":"s","time":%d,"value":%d}`, int64(1_700_000_000_000_000_000)+int64(i)*1e9, i%7)})
	}
	kcfg := DefaultKafkaConfig()
	kcfg.Brokers, kcfg.Topics = []string{"127.0.0.1:9092"}, []string{"sensors"}
	p, err := New(Options{Kafka: kcfg, Pipeline: DefaultPipelineConfig(), Detector: detector.DefaultConfig(), Reader: f,
		Writer: writer, BatchSize: 100_000, FlushInterval: time.Hour, Metrics: NewMetrics(prometheus.NewRegistry())})
	if err != nil {
		t.Fatal(err)
	}
	want := n - (window - 1)
	got := runUntilWritten(t, p, f, writer, want, 5*time.Second)
	if got < want {
		t.Fatalf("%d of %d points written 5 s after the input stopped (flush interval 1 h)", got, want)
	}
}

// runUntilWritten runs p until f has served every message and writer holds
// want points, or within has passed; it stops p and returns how many
// points writer held before the stop (the stop flushes the rest).
func runUntilWritten(t testing.TB, p *Pipeline, f *listFetcher, writer *recordingWriter, want int, within time.Duration) int {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	<-f.allRead
	deadline := time.Now().Add(within)
	for writer.count() < want && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	got := writer.count()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return got
}

// pacedFetcher serves its messages one every pace, counting the fetches
// made while saving is true.
type pacedFetcher struct {
	msgs         []kafka.Message
	next         int
	pace         time.Duration
	saving       *atomic.Bool
	duringSaving atomic.Int64
}

func (f *pacedFetcher) FetchMessage(ctx context.Context) (kafka.Message, error) {
	if f.next == len(f.msgs) {
		<-ctx.Done()
		return kafka.Message{}, ctx.Err()
	}
	select {
	case <-time.After(f.pace):
	case <-ctx.Done():
		return kafka.Message{}, ctx.Err()
	}
	if f.saving.Load() {
		f.duringSaving.Add(1)
	}
	f.next++
	return f.msgs[f.next-1], nil
}

func (f *pacedFetcher) CommitMessages(context.Context, ...kafka.Message) error { return nil }

// slowCheckpoints takes a second to save a round.
type slowCheckpoints struct {
	saving *atomic.Bool
	rounds atomic.Int64
}

func (s *slowCheckpoints) Load(context.Context, func(string, int) bool) (map[string]Checkpoint, error) {
	return map[string]Checkpoint{}, nil
}

func (s *slowCheckpoints) Save(ctx context.Context, cps []Checkpoint) error {
	s.saving.Store(true)
	defer s.saving.Store(false)
	s.rounds.Add(1)
	select {
	case <-time.After(time.Second):
	case <-ctx.Done():
	}
	return nil
}

// TestFetchingGoesOnDuringARound: while a checkpoint round waits for
// writes and saves its snapshots (here a second per save), messages are
// still fetched and scored: a round no longer stops the input.
func TestFetchingGoesOnDuringARound(t *testing.T) {
	var saving atomic.Bool
	f := &pacedFetcher{pace: 2 * time.Millisecond, saving: &saving}
	for i := range 1500 {
		ts := int64(1_700_000_000_000_000_000) + int64(i)*1e9
		f.msgs = append(f.msgs, kafka.Message{Topic: "sensors", Partition: 0, Offset: int64(i),
			Value: fmt.Appendf(nil, `{"series":"s","time":%d,"value":%g}`, ts, float64(i%17))})
	}
	store := &slowCheckpoints{saving: &saving}
	kcfg := DefaultKafkaConfig()
	kcfg.Brokers, kcfg.Topics = []string{"127.0.0.1:9092"}, []string{"sensors"}
	pcfg := DefaultPipelineConfig()
	pcfg.Workers = 1
	p, err := New(Options{Kafka: kcfg, Pipeline: pcfg, Detector: detector.DefaultConfig(), Reader: f, Writer: &recordingWriter{},
		BatchSize: 100, FlushInterval: 5 * time.Millisecond, Metrics: NewMetrics(prometheus.NewRegistry()),
		Checkpoints: store, CheckpointInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
	defer cancel()
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if store.rounds.Load() < 1 || f.duringSaving.Load() == 0 {
		t.Fatalf("%d rounds saved, %d messages fetched while one was saving: want fetching to go on", store.rounds.Load(), f.duringSaving.Load())
	}
	t.Logf("%d messages fetched while a round was saving (%d rounds)", f.duringSaving.Load(), store.rounds.Load())
}

// hasScore reports whether a score point at time t was written.
func (w *recordingWriter) hasScore(t int64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, pt := range w.pts {
		if pt.Measurement == sink.ScoreMeasurement && pt.Time == t {
			return true
		}
	}
	return false
}
