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

// TestDetectorFaultInTheService: a fault of a detector's own code on a
// sample (provoked with detector.FailAt) stops neither the service nor its
// series. The sample it failed on is counted as dropped for
// detector_fault, the fault is counted and logged once at error level with
// its series, time and stack, the series scores again once its fresh
// detector's window is full, the other series is untouched, and the
// commits reach the last message.
func TestDetectorFaultInTheService(t *testing.T) {
	const n, window, failOn = 300, 32, 150 // failOn: the sample of series a that fails
	base := int64(1_700_000_000)
	f := &listFetcher{allRead: make(chan struct{}), writer: &outOfOrderWriter{written: map[int64]bool{}}}
	for i := range 2 * n {
		series, k := "a", i/2
		if i%2 == 1 {
			series = "b"
		}
		f.msgs = append(f.msgs, kafka.Message{Topic: "sensors", Offset: int64(i),
			Value: fmt.Appendf(nil, `{"series":%q,"time":%d,"value":%d}`, series, (base+int64(k))*1e9, 100+k%7)})
	}
	writer := &recordingWriter{}
	kcfg := DefaultKafkaConfig()
	kcfg.Brokers, kcfg.Topics = []string{"127.0.0.1:9092"}, []string{"sensors"}
	kcfg.CommitInterval = time.Millisecond
	pcfg := DefaultPipelineConfig()
	pcfg.Workers = 1
	metrics := NewMetrics(prometheus.NewRegistry())
	logs := &lockedBuffer{}
	built := 0
	p, err := New(Options{Kafka: kcfg, Pipeline: pcfg, Detector: detector.DefaultConfig(), Reader: f, Writer: writer,
		BatchSize: 50, FlushInterval: 10 * time.Millisecond, Metrics: metrics,
		Log: slog.New(slog.NewTextHandler(logs, nil)),
		detectorBuilt: func(series string, d *detector.Detector) {
			built++
			if series == "a" {
				d.FailAt((base + failOn) * 1e9)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	// a: scored up to the sample before the fault, then again once the
	// fresh detector's window is full; b: throughout.
	wantA := (failOn - (window - 1)) + (n - (failOn + window))
	wantB := n - (window - 1)
	runUntilWritten(t, p, f, writer, wantA+wantB, time.Minute)

	scored := map[string][]int64{}
	for _, pt := range writer.pts {
		if pt.Measurement == sink.ScoreMeasurement {
			scored[pt.Series] = append(scored[pt.Series], pt.Time/1e9-base)
		}
	}
	if len(scored["a"]) != wantA || len(scored["b"]) != wantB {
		t.Fatalf("score points: %d of a, %d of b; want %d and %d", len(scored["a"]), len(scored["b"]), wantA, wantB)
	}
	for _, k := range scored["a"] {
		if k >= failOn && k < failOn+window {
			t.Fatalf("a has a score point at sample %d, while its fresh detector's window was filling (the fault at %d)", k, failOn)
		}
	}
	if built != 2 {
		t.Errorf("%d detectors built, want 2: a fault must not rebuild one through the registry", built)
	}
	if got := testutil.ToFloat64(metrics.DetectorFaults); got != 1 {
		t.Errorf("aewatch_detector_faults_total %v, want 1", got)
	}
	if got := testutil.ToFloat64(metrics.SamplesDropped.WithLabelValues(string(codec.ReasonDetectorFault))); got != 1 {
		t.Errorf("samples dropped for detector_fault: %v, want 1", got)
	}
	faultLines := logLines(logs, "detector failed")
	wantTime := time.Unix(base+failOn, 0).UTC().Format(time.RFC3339Nano)
	if len(faultLines) != 1 {
		t.Fatalf("%d log lines of a failed detector, want 1:\n%s", len(faultLines), logs.String())
	}
	for _, want := range []string{"level=ERROR", "series=a", "time=" + wantTime, "samples_dropped=1", "FailAt", "detector.(*Detector).Push"} {
		if !strings.Contains(faultLines[0], want) {
			t.Errorf("the fault's log line lacks %q: %s", want, faultLines[0])
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.commits) == 0 || f.commits[len(f.commits)-1].offset != 2*n-1 {
		t.Errorf("commits %v: want the last through offset %d", f.commits, 2*n-1)
	}
}
