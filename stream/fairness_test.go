package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aewatch/aewatch/detector"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"
)

// partitionedFetcher serves each partition's messages from a goroutine of
// its own through partitionQueues, as the group's and the replay's readers
// do, and counts what each partition handed over.
type partitionedFetcher struct {
	queues *partitionQueues
	served []atomic.Int64 // messages taken by the fetch loop, per partition
}

func newPartitionedFetcher(ctx context.Context, parts [][]kafka.Message, limit int) *partitionedFetcher {
	var keys []partitionKey
	for _, ms := range parts {
		keys = append(keys, partitionKey{ms[0].Topic, ms[0].Partition})
	}
	f := &partitionedFetcher{queues: newPartitionQueues(keys, limit), served: make([]atomic.Int64, len(parts))}
	for _, ms := range parts {
		go func() {
			for _, m := range ms {
				if f.queues.push(ctx, partitionKey{m.Topic, m.Partition}, m) != nil {
					return
				}
			}
		}()
	}
	return f
}

func (f *partitionedFetcher) FetchMessage(ctx context.Context) (kafka.Message, error) {
	m, err := f.queues.fetch(ctx)
	if err == nil {
		f.served[m.Partition].Add(1)
	}
	return m, err
}

func (f *partitionedFetcher) Buffered() int                                          { return f.queues.buffered() }
func (f *partitionedFetcher) CommitMessages(context.Context, ...kafka.Message) error { return nil }
func (f *partitionedFetcher) partitions() *partitionQueues                           { return f.queues }

// isPaused reports whether partition k is paused now.
func (q *partitionQueues) isPaused(k partitionKey) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.byKey[k].paused
}

// TestBusySeriesDoesNotStarveTheOthers: partition 0 carries a burst of
// 5,000 samples of one series whose shard takes nothing until the test
// lets it; partition 1 carries 300 samples of other series, owned by the
// other shard. Every one of those reaches its shard while the busy shard
// is still stuck (waiting for it, the fetch loop would hand over none and
// the test would time out), partition 0 is paused with at most twice the
// busy queue's samples held beside it, and once the busy shard takes its
// samples, they all arrive in offset order and the partition resumes,
// with the reader idle (the loop wakes on the shard's room, not on a
// message). Whether partition 1 pauses too depends on how fast its own
// shard is read, so the test asks the queues about partition 0.
func TestBusySeriesDoesNotStarveTheOthers(t *testing.T) {
	const shards, hotN, coldN = 2, 5000, 300
	hot := "hot"
	var cold []string
	for k := 0; len(cold) < 5; k++ {
		if s := fmt.Sprintf("cold-%d", k); shardOf(s, shards) != shardOf(hot, shards) {
			cold = append(cold, s)
		}
	}
	msg := func(part, off int, series string) kafka.Message {
		return kafka.Message{Topic: "sensors", Partition: part, Offset: int64(off),
			Value: fmt.Appendf(nil, `{"series":%q,"time":%d,"value":1}`, series, int64(1_700_000_000+off+1)*1e9)}
	}
	var parts [2][]kafka.Message
	for i := range hotN {
		parts[0] = append(parts[0], msg(0, i, hot))
	}
	for i := range coldN {
		parts[1] = append(parts[1], msg(1, i, cold[i%len(cold)]))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newPartitionedFetcher(ctx, parts[:], 10)
	kcfg := DefaultKafkaConfig()
	kcfg.Brokers, kcfg.Topics, kcfg.Series = []string{"127.0.0.1:9092"}, []string{"sensors"}, []string{"hot", "cold-*"}
	m := NewMetrics(prometheus.NewRegistry())
	p, err := New(Options{Kafka: kcfg, Pipeline: DefaultPipelineConfig(), Detector: detector.DefaultConfig(), Reader: f,
		Writer: &recordingWriter{}, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	room := make(chan struct{}, 1)
	h := &handoff{shards: make([]chan []work, shards), spent: make([]chan []work, shards), room: room}
	for i := range shards {
		h.shards[i], h.spent[i] = make(chan []work, 2), make(chan []work, 3)
	}
	hotShard, coldShard := shardOf(hot, shards), 1-shardOf(hot, shards)
	loopDone := make(chan error, 1)
	go func() { loopDone <- p.fetchLoop(ctx, context.Background(), h, map[partitionKey]int64{}, nil) }()

	// Both "shards" tell the loop when they take a batch, as shards do.
	takeInOrder(t, h.shards[coldShard], room, coldN, "the other series, while one shard is busy (a fetch loop that waits for it hands over none)")
	// The other series may have been handed over before the busy backlog
	// filled; it does fill, and its partition is paused then.
	hotPart := partitionKey{"sensors", 0}
	deadline := time.Now().Add(30 * time.Second)
	for !f.queues.isPaused(hotPart) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if !f.queues.isPaused(hotPart) {
		t.Fatalf("partition 0 not paused behind a shard that takes nothing (pauses: %v)", testutil.ToFloat64(m.PartitionPauses))
	}
	high := 2 * handoffBatch // the busy shard's queue
	// The shard's queue, and its backlog up to twice that.
	if n := f.served[0].Load(); n > int64(high+2*high) {
		t.Errorf("partition 0 handed over %d messages while its shard took none: not bounded by the backlog", n)
	}

	takeInOrder(t, h.shards[hotShard], room, hotN, "the busy series, once its shard takes them")
	if f.queues.isPaused(hotPart) {
		t.Error("partition 0 still paused once the busy shard caught up")
	}
	if n := testutil.ToFloat64(m.PartitionPauses); n < 1 {
		t.Errorf("partition pauses counted: %v, want at least 1", n)
	}
	if n := testutil.ToFloat64(m.PausedPartitions); n != 0 {
		t.Errorf("partitions paused once both shards caught up: %v, want 0", n)
	}
	cancel()
	if err := <-loopDone; err != nil {
		t.Fatal(err)
	}
}

// takeInOrder takes n samples from a shard's queue, telling room after each
// batch as a shard does, and checks that they come in offset order.
func takeInOrder(t *testing.T, queue <-chan []work, room chan struct{}, n int, what string) {
	t.Helper()
	var got []int64
	for len(got) < n {
		select {
		case batch := <-queue:
			if room != nil {
				tell(room)
			}
			for _, w := range batch {
				if w.ref.offset != int64(len(got)) {
					t.Fatalf("%s: sample %d has offset %d", what, len(got), w.ref.offset)
				}
				got = append(got, w.ref.offset)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: %d of %d samples handed over", what, len(got), n)
		}
	}
}

// TestPartitionQueuesTakeInTurn: messages are taken one partition after
// another; a paused partition's are skipped but still held, so a bounded
// source whose readers have all ended is not done until they are taken
// after its resume; a queue that never empties does not grow; a reader's
// error is returned at once.
func TestPartitionQueuesTakeInTurn(t *testing.T) {
	a, b := partitionKey{"in", 0}, partitionKey{"in", 1}
	q := newPartitionQueues([]partitionKey{a, b}, 10)
	ctx := context.Background()
	for i := range 3 {
		for _, k := range []partitionKey{a, b} {
			if err := q.push(ctx, k, kafka.Message{Topic: k.topic, Partition: k.partition, Offset: int64(i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	q.ended(nil)
	q.ended(nil)
	var order []string
	take := func() {
		m, err := q.fetch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		order = append(order, fmt.Sprintf("%d@%d", m.Partition, m.Offset))
	}
	take()
	take()
	q.pause(a)
	if n := q.buffered(); n != 2 {
		t.Errorf("buffered with partition 0 paused: %d, want partition 1's 2", n)
	}
	take()
	take()
	if _, ok, done, _ := q.take(); ok || done {
		t.Fatalf("with only a paused partition's messages left: took %v, done %v; want neither", ok, done)
	}
	q.resume(a)
	take()
	take()
	if got := fmt.Sprint(order); got != "[0@0 1@0 1@1 1@2 0@1 0@2]" {
		t.Errorf("taken in order %s", got)
	}
	if _, err := q.fetch(ctx); err != io.EOF {
		t.Errorf("every reader ended, every queue empty: %v, want io.EOF", err)
	}

	// A queue that never empties stays within twice its limit.
	q = newPartitionQueues([]partitionKey{a}, 10)
	for i := range 10_000 {
		if err := q.push(ctx, a, kafka.Message{Offset: int64(i)}); err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			if m, _ := q.fetch(ctx); m.Offset != int64(i-1) {
				t.Fatalf("took offset %d, want %d", m.Offset, i-1)
			}
		}
	}
	if c := cap(q.byKey[a].msgs); c > 2*10+8 {
		t.Errorf("a queue of limit 10 kept always one message holds an array of %d", c)
	}

	q = newPartitionQueues([]partitionKey{a, b}, 10)
	if err := q.push(ctx, a, kafka.Message{}); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	q.ended(boom)
	if _, err := q.fetch(ctx); err != boom {
		t.Errorf("after a reader's error: %v, want it", err)
	}
}

// TestNewSeriesBurstDoesNotStarveTheOthers: one shard, a live series, then
// a burst of 300 brand-new series at 100 admissions a second (a burst of
// 100, then two seconds' pacing), then more samples of the live series.
// Those are scored and written while the new series still wait for their
// admission (a shard that slept for each admission wrote them only after
// the last); the new series are all admitted in the end, and every
// message is acknowledged.
func TestNewSeriesBurstDoesNotStarveTheOthers(t *testing.T) {
	const burst, warm, after = 300, 40, 40
	var msgs []kafka.Message
	add := func(series string, at int) {
		msgs = append(msgs, kafka.Message{Topic: "sensors", Offset: int64(len(msgs)),
			Value: fmt.Appendf(nil, `{"series":%q,"time":%d,"value":%d}`, series, int64(1_700_000_000)*1e9+int64(at)*1e9, at%7)})
	}
	for i := range warm {
		add("live", i)
	}
	for k := range burst {
		add(fmt.Sprintf("new-%03d", k), warm)
	}
	for i := range after {
		add("live", warm+i)
	}
	f := &listFetcher{msgs: msgs, allRead: make(chan struct{}), writer: &outOfOrderWriter{written: map[int64]bool{}}}
	kcfg := DefaultKafkaConfig()
	kcfg.Brokers, kcfg.Topics = []string{"127.0.0.1:9092"}, []string{"sensors"}
	pcfg := DefaultPipelineConfig()
	pcfg.Workers, pcfg.NewSeriesPerSecond = 1, 100
	m := NewMetrics(prometheus.NewRegistry())
	writer := &recordingWriter{}
	p, err := New(Options{Kafka: kcfg, Pipeline: pcfg, Detector: detector.DefaultConfig(), Reader: f, Writer: writer,
		FlushInterval: 10 * time.Millisecond, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	livePoints := warm + after - 31
	deadline := time.Now().Add(30 * time.Second)
	for writer.count() < livePoints && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := writer.count(); n < livePoints {
		t.Fatalf("%d of the live series' %d points written in 30 s", n, livePoints)
	}
	if n := testutil.ToFloat64(m.LiveSeries); n >= burst+1 {
		t.Errorf("the live series' points were written only once all %v detectors were admitted: it waited for the burst", n)
	}
	for testutil.ToFloat64(m.LiveSeries) < burst+1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := testutil.ToFloat64(m.LiveSeries); n != burst+1 {
		t.Fatalf("%v detectors in the end, want %d", n, burst+1)
	}
	if n := testutil.ToFloat64(m.AdmissionWaits); n < burst/2 {
		t.Errorf("%v new series waited for admission, want most of the %d beyond the first second's", n, burst-100)
	}
	for time.Now().Before(deadline) {
		if c := p.track.committable()[partitionKey{"sensors", 0}]; c == int64(len(msgs)-1) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if msgs, samples := p.track.outstanding(); msgs != 0 {
		t.Errorf("%d messages (%d samples) not acknowledged", msgs, samples)
	}
}

// TestPausesForgottenWhenTheLoopEnds: a loop that ends with a partition
// paused (its stop's hand-over cut short) takes it off the gauge; the next
// generation's loop counts its own.
func TestPausesForgottenWhenTheLoopEnds(t *testing.T) {
	part := partitionKey{"in", 0}
	m := NewMetrics(prometheus.NewRegistry())
	q := newPartitionQueues([]partitionKey{part}, 4)
	h := &handoff{shards: []chan []work{make(chan []work)}, spent: []chan []work{make(chan []work, 1)}}
	h.init(q, m) // a queue of no batches: its backlog pauses beyond one batch
	for i := range 2 * handoffBatch {
		if !h.add(context.Background(), 0, work{ref: msgRef{part, int64(i)}}) {
			t.Fatal("the hand-over waited for a shard below twice its bound")
		}
	}
	if !q.isPaused(part) || testutil.ToFloat64(m.PausedPartitions) != 1 {
		t.Fatalf("paused %v, gauge %v: want the partition paused and counted", q.isPaused(part), testutil.ToFloat64(m.PausedPartitions))
	}
	stopped, stop := context.WithCancel(context.Background())
	stop()
	if h.sendAll(stopped) {
		t.Fatal("handed over to a shard that takes nothing")
	}
	h.forgetPauses()
	if n := testutil.ToFloat64(m.PausedPartitions); n != 0 {
		t.Errorf("gauge after the loop ended: %v, want 0", n)
	}
}
