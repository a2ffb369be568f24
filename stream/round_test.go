package stream

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/segmentio/kafka-go"

	"github.com/aewatch/aewatch/detector"
)

// TestSnapshotCoversRestoredState: a detector restored from a checkpoint
// at offset 100 while its partition is re-read from 40 (the commit lagged
// the checkpoint) is snapshotted at 100, not at the fetch position 50: a
// restore from offset 50 would feed it messages 51-100 again, which its
// state already holds.
func TestSnapshotCoversRestoredState(t *testing.T) {
	d, err := detector.New(detector.DefaultConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	part := partitionKey{"in", 3}
	p := &Pipeline{}
	got := map[string]int64{}
	for _, st := range []*seriesState{
		{det: d, key: "restored", series: "restored", part: part, skipUpTo: 100},
		{det: d, key: "fresh", series: "fresh", part: part, skipUpTo: -1},
	} {
		c, ok := p.checkpointOf(st, map[partitionKey]int64{part: 50})
		if !ok {
			t.Fatalf("%s: no checkpoint", st.key)
		}
		got[c.Key] = c.Offset
	}
	if got["restored"] != 100 || got["fresh"] != 50 {
		t.Errorf("checkpoint offsets %v, want restored 100 (its state's) and fresh 50 (the round's)", got)
	}
}

// trickleFetcher serves its messages over about a second, and may be
// asked again after the last (rounds end fetches on their interval).
type trickleFetcher struct {
	*listFetcher
	once *sync.Once
}

func (f trickleFetcher) FetchMessage(ctx context.Context) (kafka.Message, error) {
	if f.next == len(f.msgs) {
		f.once.Do(func() { close(f.allRead) })
		<-ctx.Done()
		return kafka.Message{}, ctx.Err()
	}
	if f.next%5 == 0 {
		time.Sleep(time.Millisecond)
	}
	f.next++
	return f.msgs[f.next-1], nil
}

// recordingCheckpoints keeps every checkpoint saved, taking a while per
// save so that scoring goes on during rounds.
type recordingCheckpoints struct {
	mu       sync.Mutex
	saved    []Checkpoint
	maxBatch int64 // the most state bytes in one Save
	fetcher  *listFetcher
	during   int // saves that began while messages were still being fetched
}

func (r *recordingCheckpoints) Load(context.Context, func(string, int) bool) (map[string]Checkpoint, error) {
	return nil, nil
}

func (r *recordingCheckpoints) Save(ctx context.Context, cps []Checkpoint) error {
	var n int64
	for _, c := range cps {
		n += int64(len(c.State))
	}
	r.mu.Lock()
	for _, c := range cps { // their bytes are reused once Save returns
		r.saved = append(r.saved, Checkpoint{Key: c.Key, Offset: c.Offset, State: bytes.Clone(c.State)})
	}
	r.maxBatch = max(r.maxBatch, n)
	select {
	case <-r.fetcher.allRead:
	default:
		r.during++
	}
	r.mu.Unlock()
	select {
	case <-time.After(10 * time.Millisecond):
	case <-ctx.Done():
	}
	return nil
}

// TestRoundStreamsSnapshotsAsOfItsBarrier: rounds run while 40 series keep
// receiving samples, with room for only a few snapshots at once. Every
// checkpoint saved is exactly the detector's state after the messages up
// to its offset (replayed here from scratch), whether the round pulled it
// or the shard took it before the series' next sample; and no round held
// more than its bound.
func TestRoundStreamsSnapshotsAsOfItsBarrier(t *testing.T) {
	const series, samples = 40, 120
	base := int64(1_700_000_000_000_000_000)
	value := func(s, i int) float64 { return float64((s*7+i*3)%23) + float64(s) }
	f := &listFetcher{allRead: make(chan struct{}), writer: &outOfOrderWriter{written: map[int64]bool{}}}
	type sample struct {
		offset int64
		time   int64
		v      float64
	}
	bySeries := map[string][]sample{}
	for i := range samples {
		for s := range series {
			off, ts := int64(len(f.msgs)), base+int64(i)*1e9
			name := fmt.Sprintf("s%d", s)
			f.msgs = append(f.msgs, kafka.Message{Topic: "sensors", Partition: 0, Offset: off,
				Value: fmt.Appendf(nil, `{"series":%q,"time":%d,"value":%g}`, name, ts, value(s, i))})
			bySeries[name] = append(bySeries[name], sample{off, ts, value(s, i)})
		}
	}
	d, err := detector.New(detector.DefaultConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	one, err := d.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	limit := int64(4 * len(one)) // two snapshots pulled, two held, at a time
	store := &recordingCheckpoints{fetcher: f}
	kcfg := DefaultKafkaConfig()
	kcfg.Brokers, kcfg.Topics = []string{"127.0.0.1:9092"}, []string{"sensors"}
	pcfg := DefaultPipelineConfig()
	pcfg.Workers = 2
	metrics := NewMetrics(prometheus.NewRegistry())
	writer := &recordingWriter{}
	p, err := New(Options{Kafka: kcfg, Pipeline: pcfg, Detector: detector.DefaultConfig(), Reader: trickleFetcher{f, &sync.Once{}}, Writer: writer,
		BatchSize: 200, FlushInterval: 5 * time.Millisecond, Metrics: metrics,
		Checkpoints: store, CheckpointInterval: 100 * time.Millisecond, CheckpointRoundBytes: limit})
	if err != nil {
		t.Fatal(err)
	}
	want := series * (samples - 31)
	if got := runUntilWritten(t, p, f, writer, want, time.Minute); got < want {
		t.Fatalf("%d of %d points written", got, want)
	}
	if store.during == 0 {
		t.Fatalf("no save while messages were still fetched (%d checkpoints): the test saw no round in flight", len(store.saved))
	}
	checked := 0
	for _, cp := range store.saved {
		name, _, _ := strings.Cut(cp.Key, "\x00")
		d, err := detector.New(detector.DefaultConfig(), 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range bySeries[name] {
			if s.offset > cp.Offset {
				break
			}
			d.Push(s.time, []float64{s.v})
		}
		state, err := d.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(state, cp.State) {
			t.Fatalf("checkpoint of %s at offset %d is not the state after the messages up to it", name, cp.Offset)
		}
		checked++
	}
	if checked < 2*series {
		t.Fatalf("%d checkpoints saved, want at least two rounds of %d", checked, series)
	}
	if store.maxBatch > limit/2+int64(len(one)) {
		t.Errorf("one save carried %d bytes of snapshots, over half the round's bound %d plus one", store.maxBatch, limit)
	}
	if peak := testutil.ToFloat64(metrics.CheckpointRoundBytes); peak > float64(limit+int64(len(one))) || peak == 0 {
		t.Errorf("a round held up to %v bytes of snapshots, want (0, %d]", peak, limit+int64(len(one)))
	}
	if n := testutil.CollectAndCount(metrics.CheckpointBarrierSeconds); n != 1 {
		t.Errorf("the barrier histogram exports %d series, want 1", n)
	}
	if rounds := histogramCount(t, metrics.CheckpointBarrierSeconds); rounds < 2 {
		t.Errorf("%d rounds' barrier waits observed, want one per round (at least 2)", rounds)
	}
	t.Logf("%d checkpoints, %d saved while fetching; %d bytes per snapshot, bound %d", checked, store.during, len(one), limit)
}

// TestEncodedInPlaceIsTheSameRecord: a checkpoint a round encodes in a
// reused buffer is byte for byte the record of the detector's snapshot.
func TestEncodedInPlaceIsTheSameRecord(t *testing.T) {
	d, err := detector.New(detector.DefaultConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 500 {
		d.Push(int64(i+1)*1e9, []float64{float64(i % 13)})
	}
	state, err := d.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	c := Checkpoint{Key: "s\x00value", Topic: "sensors", Partition: 7, Offset: 499}
	want := encodeCheckpoint(Checkpoint{Key: c.Key, Topic: c.Topic, Partition: c.Partition, Offset: c.Offset, State: state})
	got, err := encodeDetector([]byte("left over from the last record"), c, d)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.record, want) || !bytes.Equal(got.State, state) {
		t.Fatalf("in-place record differs from the encoded snapshot (%d vs %d bytes)", len(got.record), len(want))
	}
	back, err := decodeCheckpoint(c.Key, got.record)
	if err != nil || back.Offset != c.Offset || !bytes.Equal(back.State, state) {
		t.Fatalf("record does not decode back: %v", err)
	}
}

// TestRoundsSkipUnchangedDetectors: 20 series, then only one of them for
// a while, with rounds every 100 ms. A round saves a detector only when it
// changed since a round saved it: no series is saved twice with the same
// state, and the idle ones are saved far fewer times than the busy one.
func TestRoundsSkipUnchangedDetectors(t *testing.T) {
	const series, shared, alone = 20, 60, 3000
	base := int64(1_700_000_000_000_000_000)
	f := &listFetcher{allRead: make(chan struct{}), writer: &outOfOrderWriter{written: map[int64]bool{}}}
	add := func(s, i int) {
		f.msgs = append(f.msgs, kafka.Message{Topic: "sensors", Partition: 0, Offset: int64(len(f.msgs)),
			Value: fmt.Appendf(nil, `{"series":"s%d","time":%d,"value":%d}`, s, base+int64(i)*1e9, (s*7+i*3)%23)})
	}
	for i := range shared {
		for s := range series {
			add(s, i)
		}
	}
	for i := shared; i < shared+alone; i++ {
		add(0, i)
	}
	store := &recordingCheckpoints{fetcher: f}
	kcfg := DefaultKafkaConfig()
	kcfg.Brokers, kcfg.Topics = []string{"127.0.0.1:9092"}, []string{"sensors"}
	pcfg := DefaultPipelineConfig()
	pcfg.Workers = 2
	writer := &recordingWriter{}
	p, err := New(Options{Kafka: kcfg, Pipeline: pcfg, Detector: detector.DefaultConfig(), Reader: trickleFetcher{f, &sync.Once{}}, Writer: writer,
		BatchSize: 200, FlushInterval: 5 * time.Millisecond, Metrics: NewMetrics(prometheus.NewRegistry()),
		Checkpoints: store, CheckpointInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	want := series*(shared-31) + alone
	if got := runUntilWritten(t, p, f, writer, want, time.Minute); got < want {
		t.Fatalf("%d of %d points written", got, want)
	}
	last := map[string][]byte{}
	saves := map[string]int{}
	for _, cp := range store.saved {
		if prev, ok := last[cp.Key]; ok && bytes.Equal(prev, cp.State) {
			t.Fatalf("%q saved again unchanged (offset %d)", cp.Key, cp.Offset)
		}
		last[cp.Key] = cp.State
		saves[cp.Key]++
	}
	busy, idle := saves["s0\x00value"], saves["s1\x00value"]
	if len(saves) != series || busy < 4 || idle >= busy {
		t.Fatalf("saves per series %v: want every series saved, the busy one in several rounds, the idle ones fewer times", saves)
	}
	t.Logf("the busy series saved %d times, an idle one %d", busy, idle)
}

// histogramCount is how many observations h holds.
func histogramCount(t *testing.T, h prometheus.Histogram) uint64 {
	t.Helper()
	var m dto.Metric
	if err := h.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}
