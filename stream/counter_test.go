package stream

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/aewatch/aewatch/detector"
	"github.com/aewatch/aewatch/sink"
)

// TestCounterSeries: a meter's count sent modulo 4,000 is taken as a
// counter after its watch, which the log says once; every point written
// carries the value the message brought, across its wraps, and an
// expected value in the same units.
func TestCounterSeries(t *testing.T) {
	const n, window = 1500, 32
	r := rand.New(rand.NewPCG(5, 5))
	f := &listFetcher{allRead: make(chan struct{}), writer: &outOfOrderWriter{written: map[int64]bool{}}}
	sent := map[int64]float64{}
	count := 3000
	for i := range n {
		count = (count + 5 + r.IntN(11)) % 4000
		ts := int64(1_700_000_000+60*i) * 1e9
		sent[ts] = float64(count)
		f.msgs = append(f.msgs, kafka.Message{Topic: "sensors", Offset: int64(i),
			Value: fmt.Appendf(nil, `{"series":"meter","time":%d,"value":%d}`, ts, count)})
	}
	writer := &recordingWriter{}
	kcfg := DefaultKafkaConfig()
	kcfg.Brokers, kcfg.Topics = []string{"127.0.0.1:9092"}, []string{"sensors"}
	pcfg := DefaultPipelineConfig()
	pcfg.Workers = 1
	logs := &lockedBuffer{}
	p, err := New(Options{Kafka: kcfg, Pipeline: pcfg, Detector: detector.DefaultConfig(), Reader: f, Writer: writer,
		BatchSize: 100, FlushInterval: 10 * time.Millisecond, Metrics: NewMetrics(prometheus.NewRegistry()),
		Log: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	// Scored: from the first window's end to the watch's end, and from the
	// fresh start's first window on.
	scored := (detector.CounterWatch - (window - 1)) + (n - detector.CounterWatch - (window - 1))
	runUntilWritten(t, p, f, writer, scored, time.Minute)
	points, far := 0, 0
	for _, pt := range writer.pts {
		if pt.Measurement != sink.ScoreMeasurement {
			continue
		}
		points++
		if v := sent[pt.Time]; pt.Value != v {
			t.Fatalf("point at %d: value %v, sent %v", pt.Time, pt.Value, v)
		}
		if pt.Time > int64(1_700_000_000+60*2*detector.CounterWatch)*1e9 && (pt.Yhat-pt.Value > 200 || pt.Value-pt.Yhat > 200) {
			far++
		}
	}
	if points != scored {
		t.Errorf("%d points, want %d", points, scored)
	}
	if far > 0 {
		t.Errorf("%d points expected more than 200 from their value after the watch, want none (a wrap's too)", far)
	}
	if got := strings.Count(logs.String(), "judged as counters"); got != 1 || !strings.Contains(logs.String(), "counters=[value]") {
		t.Errorf("%d log lines of counters, want 1 naming the channel:\n%s", got, logs.String())
	}
}
