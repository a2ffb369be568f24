package stream

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"

	"github.com/aewatch/aewatch/detector"
	"github.com/aewatch/aewatch/sink"
	"github.com/aewatch/aewatch/stream/codec"
)

// TestContextChannels: with detector.context, a context channel gets no
// detector of its own when each channel is scored alone (its samples
// write no point), and a multivariate series whose every channel is
// context is refused, counted and logged with the series named.
func TestContextChannels(t *testing.T) {
	const n, window = 80, 32
	run := func(multivariate bool, names ...string) (*recordingWriter, *Metrics, string) {
		t.Helper()
		f := &listFetcher{allRead: make(chan struct{}), writer: &outOfOrderWriter{written: map[int64]bool{}}}
		for i := range n {
			msg := fmt.Appendf(nil, `{"series":"loop","time":%d,"values":{`, int64(1_700_000_000+i)*1e9)
			for k, name := range names {
				if k > 0 {
					msg = append(msg, ',')
				}
				msg = fmt.Appendf(msg, `"%s":%d`, name, 100+(i*(k+3))%7)
			}
			f.msgs = append(f.msgs, kafka.Message{Topic: "sensors", Offset: int64(i), Value: append(msg, "}}"...)})
		}
		writer := &recordingWriter{}
		kcfg := DefaultKafkaConfig()
		kcfg.Brokers, kcfg.Topics = []string{"127.0.0.1:9092"}, []string{"sensors"}
		pcfg := DefaultPipelineConfig()
		pcfg.Workers, pcfg.Multivariate = 1, multivariate
		dcfg := detector.DefaultConfig()
		dcfg.Context = []string{"sp"}
		metrics := NewMetrics(prometheus.NewRegistry())
		var logs lockedBuffer
		p, err := New(Options{Kafka: kcfg, Pipeline: pcfg, Detector: dcfg, Reader: f, Writer: writer,
			BatchSize: 50, FlushInterval: 10 * time.Millisecond, Metrics: metrics,
			Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
		if err != nil {
			t.Fatal(err)
		}
		want := n - (window - 1)
		if multivariate {
			want = 0
		}
		runUntilWritten(t, p, f, writer, want, time.Minute)
		return writer, metrics, logs.String()
	}
	writer, _, _ := run(false, "pv", "sp")
	byChannel := map[string]int{}
	for _, pt := range writer.pts {
		if pt.Measurement == sink.ScoreMeasurement {
			byChannel[pt.Channel]++
		}
	}
	if byChannel["sp"] != 0 || byChannel["pv"] != n-(window-1) {
		t.Errorf("points per channel %v, want %d for pv and none for sp", byChannel, n-(window-1))
	}
	_, metrics, logs := run(true, "sp")
	if got := testutil.ToFloat64(metrics.SamplesDropped.WithLabelValues(string(codec.ReasonChannels))); got != n {
		t.Errorf("%v samples refused, want all %d", got, n)
	}
	if !strings.Contains(logs, `detector.context names every channel of \"loop\" (sp)`) {
		t.Errorf("log %q does not name the series and its channels", logs)
	}
}
