package stream

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"

	"github.com/aewatch/aewatch/detector"
)

// loadedCheckpoints hands out fixed checkpoints and keeps none.
type loadedCheckpoints map[string]Checkpoint

func (l loadedCheckpoints) Load(context.Context, func(string, int) bool) (map[string]Checkpoint, error) {
	return l, nil
}

func (loadedCheckpoints) Save(context.Context, []Checkpoint) error { return nil }

// TestChangedConfigurationRestoresFresh: after the detector's
// configuration changed, no series' checkpoint restores; each series
// starts fresh and is counted, and the log says so once per logEvery
// (with the count held back), not once per series.
func TestChangedConfigurationRestoresFresh(t *testing.T) {
	const series, n = 6, 80
	msgs := func(from int) *listFetcher {
		f := &listFetcher{allRead: make(chan struct{}), writer: &outOfOrderWriter{written: map[int64]bool{}}}
		for i := from; i < from+n; i++ {
			for s := range series {
				f.msgs = append(f.msgs, kafka.Message{Topic: "sensors", Offset: int64(len(f.msgs) + from*series),
					Value: fmt.Appendf(nil, `{"series":"s%d","time":%d,"value":%d}`, s, int64(1_700_000_000+i)*1e9, (s*7+i*3)%23)})
			}
		}
		return f
	}
	kcfg := DefaultKafkaConfig()
	kcfg.Brokers, kcfg.Topics = []string{"127.0.0.1:9092"}, []string{"sensors"}
	pcfg := DefaultPipelineConfig()
	pcfg.Workers = 1

	f := msgs(0)
	store := &recordingCheckpoints{fetcher: f}
	writer := &recordingWriter{}
	p, err := New(Options{Kafka: kcfg, Pipeline: pcfg, Detector: detector.DefaultConfig(), Reader: f, Writer: writer,
		BatchSize: 100, FlushInterval: 5 * time.Millisecond, Metrics: NewMetrics(prometheus.NewRegistry()),
		Checkpoints: store, CheckpointInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	runUntilWritten(t, p, f, writer, series*(n-31), time.Minute)
	saved := loadedCheckpoints{}
	for _, cp := range store.saved { // the shutdown round's are the last
		cp.Topic, cp.Partition = "sensors", 0
		saved[cp.Key] = cp
	}
	if len(saved) != series {
		t.Fatalf("%d series checkpointed, want %d", len(saved), series)
	}

	changed := detector.DefaultConfig()
	changed.Window.Size = 48
	f = msgs(n)
	metrics := NewMetrics(prometheus.NewRegistry())
	logs := &lockedBuffer{}
	writer = &recordingWriter{}
	p, err = New(Options{Kafka: kcfg, Pipeline: pcfg, Detector: changed, Reader: f, Writer: writer,
		BatchSize: 100, FlushInterval: 5 * time.Millisecond, Metrics: metrics, Log: slog.New(slog.NewTextHandler(logs, nil)),
		Checkpoints: saved, CheckpointInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	runUntilWritten(t, p, f, writer, series*(n-47), time.Minute)
	if got := testutil.ToFloat64(metrics.CheckpointErrors); got != series {
		t.Errorf("checkpoints that did not restore: %v, want %d", got, series)
	}
	if got := testutil.ToFloat64(metrics.Restored); got != 0 {
		t.Errorf("%v checkpoints restored under a changed configuration, want 0", got)
	}
	if lines := strings.Count(logs.String(), "checkpoint does not restore"); lines != 1 {
		t.Errorf("%d lines of checkpoints that do not restore, want 1 for the %d series:\n%s", lines, series, logs.String())
	}
	if !strings.Contains(logs.String(), "different configuration") {
		t.Errorf("the line does not say why:\n%s", logs.String())
	}
}
