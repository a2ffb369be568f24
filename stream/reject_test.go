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
	"github.com/aewatch/aewatch/stream/codec"
)

// TestRejectedMessageLogged: a rejected message is counted by reason and,
// without a dead-letter topic, logged with its reason, place and the
// error that names the field and its value, at most once per logEvery
// for each reason (the next line says how many were held back), so that
// the first malformed message after a wrongly typed one is logged too;
// the series' other messages are scored.
func TestRejectedMessageLogged(t *testing.T) {
	const n, window = 100, 32
	f := &listFetcher{allRead: make(chan struct{}), writer: &outOfOrderWriter{written: map[int64]bool{}}}
	for i := range n {
		f.msgs = append(f.msgs, kafka.Message{Topic: "sensors", Offset: int64(i),
			Value: fmt.Appendf(nil, `{"series":"a","time":%d,"value":%d}`, int64(1_700_000_000+i)*1e9, 100+i%7)})
	}
	f.msgs = append(f.msgs,
		kafka.Message{Topic: "sensors", Offset: n, Value: []byte(`{"series":"a","time":1800000000000000000,"value":"high"}`)},
		kafka.Message{Topic: "sensors", Offset: n + 1, Value: []byte(`{"series":"a",`)},
		kafka.Message{Topic: "sensors", Offset: n + 2}) // a tombstone
	p, writer, metrics, logs := loggedPipeline(t, f, func(*KafkaConfig, *PipelineConfig) {})
	if got, want := runUntilWritten(t, p, f, writer, n-(window-1), time.Minute), n-(window-1); got != want {
		t.Fatalf("%d points written, want %d", got, want)
	}
	for reason, want := range map[codec.Reason]float64{codec.ReasonWrongType: 1, codec.ReasonMalformed: 2} {
		if got := testutil.ToFloat64(metrics.Rejected.WithLabelValues(string(reason))); got != want {
			t.Errorf("messages rejected for %s: %v, want %v", reason, got, want)
		}
	}
	if _, err := p.decode(nil, kafka.Message{Topic: "sensors"}); !strings.Contains(fmt.Sprint(err), "an empty message") {
		t.Errorf("a tombstone: %v, want it called an empty message", err)
	}
	lines := logLines(logs, "message rejected")
	if len(lines) != 2 {
		t.Fatalf("%d lines of rejected messages within %s, want 2 (one per reason):\n%s", len(lines), logEvery, logs.String())
	}
	for _, want := range []string{"level=WARN", "reason=wrong_type", "topic=sensors", fmt.Sprintf("offset=%d", n), `value`, `high`, `message_start="{\"series\":\"a\",\"time\"`, "others_since_last_line=0"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("the rejected message's line lacks %q: %s", want, lines[0])
		}
	}
	// The tombstone after it is malformed too: held back.
	for _, want := range []string{"level=WARN", "reason=malformed", fmt.Sprintf("offset=%d", n+1), "others_since_last_line=0"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("the malformed message's line lacks %q: %s", want, lines[1])
		}
	}
}

// TestSeriesOnTwoPartitions: a series whose messages come on two
// partitions (a producer that does not key by series) is counted and
// logged once per logEvery, naming both partitions; its detector stays on
// the first, and a series on one partition is not counted.
func TestSeriesOnTwoPartitions(t *testing.T) {
	const n = 60
	f := &listFetcher{allRead: make(chan struct{}), writer: &outOfOrderWriter{written: map[int64]bool{}}}
	offsets := [2]int64{}
	for i := range n {
		part := i % 2 // series a alternates; b stays on partition 1
		for _, series := range []string{"a", "b"} {
			if series == "b" {
				part = 1
			}
			f.msgs = append(f.msgs, kafka.Message{Topic: "sensors", Partition: part, Offset: offsets[part],
				Value: fmt.Appendf(nil, `{"series":%q,"time":%d,"value":%d}`, series, int64(1_700_000_000+i)*1e9, 100+i%7)})
			offsets[part]++
		}
	}
	p, writer, metrics, logs := loggedPipeline(t, f, func(_ *KafkaConfig, pcfg *PipelineConfig) { pcfg.Workers = 1 })
	runUntilWritten(t, p, f, writer, 2*(n-31), time.Minute)
	if got := testutil.ToFloat64(metrics.SplitSeries); got != n/2 {
		t.Errorf("aewatch_samples_on_other_partition_total %v, want %d (a's messages on partition 1)", got, n/2)
	}
	lines := logLines(logs, "more than one partition")
	if len(lines) != 1 {
		t.Fatalf("%d lines of a series on two partitions within %s, want 1:\n%s", len(lines), logEvery, logs.String())
	}
	for _, want := range []string{"level=WARN", "series=a", "partition=1", "detector_partition=0", "key messages by series"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("the line lacks %q: %s", want, lines[0])
		}
	}
}

// loggedPipeline builds a pipeline over f, with the defaults as set, that
// writes to a recordingWriter and logs as text.
func loggedPipeline(t *testing.T, f *listFetcher, set func(*KafkaConfig, *PipelineConfig)) (*Pipeline, *recordingWriter, *Metrics, *lockedBuffer) {
	t.Helper()
	writer, metrics, logs := &recordingWriter{}, NewMetrics(prometheus.NewRegistry()), &lockedBuffer{}
	kcfg, pcfg := DefaultKafkaConfig(), DefaultPipelineConfig()
	kcfg.Brokers, kcfg.Topics = []string{"127.0.0.1:9092"}, []string{"sensors"}
	set(&kcfg, &pcfg)
	p, err := New(Options{Kafka: kcfg, Pipeline: pcfg, Detector: detector.DefaultConfig(), Reader: f, Writer: writer,
		BatchSize: 50, FlushInterval: 10 * time.Millisecond, Metrics: metrics, Log: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return p, writer, metrics, logs
}

// logLines returns the lines of logs that contain msg.
func logLines(logs *lockedBuffer, msg string) []string {
	var lines []string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, msg) {
			lines = append(lines, l)
		}
	}
	return lines
}

// TestTimeUnitSeconds: with kafka.time_unit s, a producer's Unix seconds
// are scored at their times; with the default ns, the same messages are
// rejected as bad_time, the log naming the setting.
func TestTimeUnitSeconds(t *testing.T) {
	const n, window = 60, 32
	for _, unit := range []string{"s", "ns"} {
		f := &listFetcher{allRead: make(chan struct{}), writer: &outOfOrderWriter{written: map[int64]bool{}}}
		for i := range n {
			f.msgs = append(f.msgs, kafka.Message{Topic: "sensors", Offset: int64(i),
				Value: fmt.Appendf(nil, `{"series":"a","time":%d,"value":%d}`, 1_700_000_000+i, 100+i%7)})
		}
		p, writer, metrics, logs := loggedPipeline(t, f, func(kcfg *KafkaConfig, _ *PipelineConfig) { kcfg.TimeUnit = unit })
		if unit == "ns" {
			runUntilWritten(t, p, f, writer, 0, 0)
			if got := testutil.ToFloat64(metrics.Rejected.WithLabelValues(string(codec.ReasonBadTime))); got != n {
				t.Errorf("in ns: %v messages rejected as bad_time, want %d", got, n)
			}
			if lines := logLines(logs, "message rejected"); len(lines) != 1 || !strings.Contains(lines[0], "kafka.time_unit: s") {
				t.Errorf("in ns: rejected lines %q, want one naming kafka.time_unit: s", lines)
			}
			continue
		}
		if got := runUntilWritten(t, p, f, writer, n-(window-1), time.Minute); got != n-(window-1) {
			t.Fatalf("in s: %d points written, want %d", got, n-(window-1))
		}
		for i, pt := range writer.pts {
			if want := int64(1_700_000_000+window-1+i) * 1e9; pt.Time != want {
				t.Fatalf("in s: point %d at %d, want %d", i, pt.Time, want)
			}
		}
	}
}
