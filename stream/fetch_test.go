package stream

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aewatch/aewatch/detector"
	"github.com/aewatch/aewatch/stream/codec"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"
)

func TestCheckTimes(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	c := DefaultPipelineConfig()
	at := func(tm time.Time) []codec.Sample { return []codec.Sample{{Series: "p", Time: tm.UnixNano()}} }
	if err := checkTimes(at(now.Add(59*time.Minute)), time.Time{}, now, c); err != nil {
		t.Errorf("59 min ahead of the clock, max_future 1h: %v", err)
	}
	if err := checkTimes(at(now.Add(2*time.Hour)), time.Time{}, now, c); codec.ReasonOf(err) != codec.ReasonBadTime || !strings.Contains(err.Error(), "pipeline.max_future=1h0m0s") {
		t.Errorf("2 h ahead: got %v, want bad_time naming pipeline.max_future", err)
	}
	// A record from the future (a producer's clock ahead) moves the bound.
	if err := checkTimes(at(now.Add(2*time.Hour)), now.Add(90*time.Minute), now, c); err != nil {
		t.Errorf("30 min after a record 90 min ahead: %v", err)
	}
	if err := checkTimes(at(time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)), now, now, c); codec.ReasonOf(err) != codec.ReasonBadTime {
		t.Errorf("2099: got %v, want bad_time", err)
	}
	if err := checkTimes(at(time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)), now, now, c); err != nil {
		t.Errorf("1990 with max_past unset (replays): %v", err)
	}
	c.MaxPast = 24 * time.Hour
	if err := checkTimes(at(now.Add(-48*time.Hour)), now, now, c); codec.ReasonOf(err) != codec.ReasonBadTime || !strings.Contains(err.Error(), "pipeline.max_past=24h0m0s") {
		t.Errorf("2 days old with max_past 24h: got %v, want bad_time naming pipeline.max_past", err)
	}
}

// TestFetchStageAlone runs the fetch loop by itself against a fake reader
// and bare shard channels: accepted samples reach the shard that owns their
// series in fetch order, each carrying its message's offset; rejected
// messages are counted by reason and done at once, so the commit point
// passes them while the accepted ones still wait for their points.
func TestFetchStageAlone(t *testing.T) {
	f := &listFetcher{allRead: make(chan struct{})}
	for i, v := range []string{
		`{"series":"a","time":1700000001000000000,"value":1}`,
		`{"series":"a","time":`,                                // malformed
		`{"series":"zz","time":1700000001000000000,"value":1}`, // no kafka.series pattern
		`{"series":"b","time":1700000001000000000,"value":2}`,
		`{"series":"a","time":1700000002000000000,"value":3}`,
	} {
		f.msgs = append(f.msgs, kafka.Message{Topic: "sensors", Offset: int64(i), Value: []byte(v)})
	}
	kcfg := DefaultKafkaConfig()
	kcfg.Brokers, kcfg.Topics, kcfg.Series = []string{"127.0.0.1:9092"}, []string{"sensors"}, []string{"a", "b"}
	m := NewMetrics(prometheus.NewRegistry())
	p, err := New(Options{Kafka: kcfg, Pipeline: DefaultPipelineConfig(), Detector: detector.DefaultConfig(), Reader: f,
		Writer: &recordingWriter{}, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	const shards = 2
	h := &handoff{shards: make([]chan []work, shards), spent: make([]chan []work, shards)}
	for i := range shards {
		h.shards[i], h.spent[i] = make(chan []work, 8), make(chan []work, 8)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-f.allRead; cancel() }()
	last := map[partitionKey]int64{}
	if err := p.fetchLoop(ctx, context.Background(), h, last, nil); err != nil {
		t.Fatal(err)
	}
	got := map[string][]int64{} // series -> offsets, in hand-over order
	for i := range shards {
		close(h.shards[i])
		for batch := range h.shards[i] {
			for _, w := range batch {
				if want := shardOf(w.s.Series, shards); want != i {
					t.Errorf("series %s handed to shard %d, its owner is %d", w.s.Series, i, want)
				}
				got[w.s.Series] = append(got[w.s.Series], w.ref.offset)
			}
		}
	}
	if fmt.Sprint(got) != "map[a:[0 4] b:[3]]" {
		t.Errorf("handed over %v, want a at offsets 0 and 4, b at 3", got)
	}
	for _, r := range []codec.Reason{codec.ReasonMalformed, codec.ReasonUnknownSeries} {
		if n := testutil.ToFloat64(m.Rejected.WithLabelValues(string(r))); n != 1 {
			t.Errorf("rejected as %s: %v, want 1", r, n)
		}
	}
	if last[partitionKey{"sensors", 0}] != 4 {
		t.Errorf("last fetched offset %v, want 4", last)
	}
	// Offset 0 waits for its points; nothing is committable yet. Once it is
	// done, the rejected 1 and 2 are done with it, and 3 still waits.
	if c := p.track.committable(); len(c) != 0 {
		t.Errorf("committable before any point is written: %v", c)
	}
	p.track.done([]msgRef{{partitionKey{"sensors", 0}, 0}})
	if c := p.track.committable(); c[partitionKey{"sensors", 0}] != 2 {
		t.Errorf("committable after offset 0's points: %v, want through offset 2", c)
	}
}
