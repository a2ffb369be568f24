package stream

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"

	"github.com/aewatch/aewatch/detector"
	"github.com/aewatch/aewatch/sink"
)

// memoryEvictor keeps parked detectors in a map.
type memoryEvictor struct {
	mu     sync.Mutex
	parked map[string]Checkpoint
	next   int64
}

func (m *memoryEvictor) Load(context.Context, func(string, int) bool) (map[string]Checkpoint, error) {
	return nil, nil
}

func (m *memoryEvictor) Save(context.Context, []Checkpoint) error { return nil }

func (m *memoryEvictor) Evict(_ context.Context, c Checkpoint) (Locator, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.parked[c.Key] = c
	m.next++
	return Locator{Offset: m.next}, nil
}

func (m *memoryEvictor) Fetch(_ context.Context, key string, _ Locator) (Checkpoint, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.parked[key]
	if !ok {
		return Checkpoint{}, fmt.Errorf("no checkpoint for %q", key)
	}
	return c, nil
}

// TestEvictionWritesEachPointOnce: series of several channels come in
// blocks that share the shard's batches, with room for fewer detectors
// than there are, so detectors are parked in the middle of a batch and of a
// sample (with room for one, every channel parks the one before). Every
// point is written exactly once, with the sample's own value, and no
// eviction waits out its timeout for points still in the shard.
func TestEvictionWritesEachPointOnce(t *testing.T) {
	for _, c := range []struct{ channels, maxSeries, samples int }{{2, 3, 400}, {3, 1, 160}} {
		t.Run(fmt.Sprintf("channels=%d,max_series=%d", c.channels, c.maxSeries), func(t *testing.T) {
			evictEachPointOnce(t, c.channels, c.maxSeries, c.samples)
		})
	}
}

func evictEachPointOnce(t *testing.T, channels, maxSeries, n int) {
	const series, block, window = 5, 40, 32
	base := int64(1_700_000_000_000_000_000)
	names := []string{"a", "b", "c"}[:channels]
	// Sawtooths that fall by less than 16 rises: no counter
	// (detector/counter.go), so each detector scores from its first window.
	value := func(s, i, ch int) int { return (s*17 + i*(3+2*ch) + ch*11) % (47 + ch*24) }
	f := &listFetcher{allRead: make(chan struct{}), writer: &outOfOrderWriter{written: map[int64]bool{}}}
	for start := 0; start < n; start += block {
		for s := range series {
			for i := start; i < start+block; i++ {
				msg := fmt.Appendf(nil, `{"series":"s%d","time":%d,"values":{`, s, base+int64(i)*1e9)
				for ch, name := range names {
					if ch > 0 {
						msg = append(msg, ',')
					}
					msg = fmt.Appendf(msg, `"%s":%d`, name, value(s, i, ch))
				}
				f.msgs = append(f.msgs, kafka.Message{Topic: "sensors", Partition: 0, Offset: int64(len(f.msgs)),
					Value: append(msg, "}}"...)})
			}
		}
	}
	writer := &recordingWriter{}
	kcfg := DefaultKafkaConfig()
	kcfg.Brokers, kcfg.Topics = []string{"127.0.0.1:9092"}, []string{"sensors"}
	pcfg := DefaultPipelineConfig()
	pcfg.Workers, pcfg.MaxSeries = 1, maxSeries
	metrics := NewMetrics(prometheus.NewRegistry())
	var logs lockedBuffer
	p, err := New(Options{Kafka: kcfg, Pipeline: pcfg, Detector: detector.DefaultConfig(), Reader: f, Writer: writer,
		BatchSize: 50, FlushInterval: 10 * time.Millisecond, Metrics: metrics,
		Log:         slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Checkpoints: &memoryEvictor{parked: map[string]Checkpoint{}}, CheckpointInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	want := series * channels * (n - (window - 1))
	written := runUntilWritten(t, p, f, writer, want, 2*time.Minute) // about 1 s; 20 s with -race
	if written < want {
		t.Fatalf("%d of %d points written in 2 minutes", written, want)
	}
	if strings.Contains(logs.String(), "eviction timed out") {
		t.Fatalf("an eviction waited out its timeout:\n%s", logs.String())
	}
	type key struct {
		series, channel string
		time            int64
	}
	seen := map[key]int{}
	for _, pt := range writer.pts {
		if pt.Measurement != sink.ScoreMeasurement {
			continue
		}
		seen[key{pt.Series, pt.Channel, pt.Time}]++
		var s int
		if _, err := fmt.Sscanf(pt.Series, "s%d", &s); err != nil {
			t.Fatalf("point with series %q", pt.Series)
		}
		i, ch := int((pt.Time-base)/1e9), slices.Index(names, pt.Channel)
		if ch < 0 || pt.Value != float64(value(s, i, ch)) {
			t.Errorf("%s/%s sample %d: value %v, want %d", pt.Series, pt.Channel, i, pt.Value, value(s, i, ch))
		}
	}
	for s := range series {
		for _, ch := range names {
			for i := window - 1; i < n; i++ {
				if c := seen[key{fmt.Sprintf("s%d", s), ch, base + int64(i)*1e9}]; c != 1 {
					t.Fatalf("s%d/%s sample %d written %d times, want once", s, ch, i, c)
				}
			}
		}
	}
	if len(seen) != want {
		t.Fatalf("%d distinct points, want %d", len(seen), want)
	}
	evicted := testutil.ToFloat64(metrics.Evicted)
	if evicted < 10 {
		t.Fatalf("%v detectors evicted, want many", evicted)
	}
	t.Logf("%d points, each once; %v evictions", want, evicted)
}

// lockedBuffer is a log destination shared by goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
