package stream

import (
	"fmt"
	"log/slog"
	"slices"
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

// TestMultivariateMessageLackingAChannel: a multivariate series' message
// that lacks one of its channels (a transmitter that dropped out) is
// scored on the others, writes no point for the one it lacks and counts
// it as filled; one with a channel the series does not have, once its
// detector is warm, is scored on the series' channels, that value counted
// as left out and logged.
func TestMultivariateMessageLackingAChannel(t *testing.T) {
	const n, window, lackFrom, lackTo, extra = 100, 32, 50, 70, 80
	f := &listFetcher{allRead: make(chan struct{}), writer: &outOfOrderWriter{written: map[int64]bool{}}}
	for i := range n {
		msg := fmt.Sprintf(`{"series":"pump","time":%d,"values":{"a":%d,"b":%d`, int64(1_700_000_000+i)*1e9, 100+i%7, 50+i%5)
		if i < lackFrom || i >= lackTo {
			msg += fmt.Sprintf(`,"c":%d`, 10+i%3)
		}
		if i == extra {
			msg += `,"d":1`
		}
		f.msgs = append(f.msgs, kafka.Message{Topic: "sensors", Offset: int64(i), Value: []byte(msg + "}}")})
	}
	dcfg := detector.DefaultConfig()
	dcfg.Warmup = extra / 2 // warm by the message with a channel too many
	p, writer, metrics, logs := multivariatePipeline(t, f, dcfg)
	scored := n - (window - 1)
	lacking := lackTo - lackFrom
	want := 3*scored - lacking
	runUntilWritten(t, p, f, writer, want, time.Minute)
	perChannel := map[string]int{}
	lackingC := 0
	for _, pt := range writer.pts {
		if pt.Measurement != sink.ScoreMeasurement {
			continue
		}
		perChannel[pt.Channel]++
		if at := pt.Time/1e9 - 1_700_000_000; pt.Channel == "c" && at >= lackFrom && at < lackTo {
			lackingC++
		}
	}
	if perChannel["a"] != scored || perChannel["b"] != scored || perChannel["c"] != scored-lacking || lackingC != 0 {
		t.Errorf("points per channel %v (%d of c while it lacked), want %d for a and b, %d for c", perChannel, lackingC, scored, scored-lacking)
	}
	if got := testutil.ToFloat64(metrics.ValuesFilled); got != float64(lacking) {
		t.Errorf("%v values filled, want %d", got, lacking)
	}
	if got := testutil.ToFloat64(metrics.SamplesDropped.WithLabelValues(string(codec.ReasonChannels))); got != 0 {
		t.Errorf("%v samples refused for their channels, want none", got)
	}
	if got := testutil.ToFloat64(metrics.ValuesLeftOut); got != 1 {
		t.Errorf("%v values left out, want 1 (channel d)", got)
	}
	if !strings.Contains(logs.String(), `left_out=[d]`) {
		t.Errorf("log %q does not name the channel left out", logs.String())
	}
}

// TestMultivariateChannelTheFirstRowLacked: a channel a multivariate
// series' first message lacked (a tag sent every few rows, a transmitter
// that was out at the start) joins its set when it comes while the
// detector warms up: the detector starts afresh over every channel, and
// each is scored from then on. Refused, every message carrying it was
// lost, the others' values with it.
func TestMultivariateChannelTheFirstRowLacked(t *testing.T) {
	const n, window = 100, 32
	f := &listFetcher{allRead: make(chan struct{}), writer: &outOfOrderWriter{written: map[int64]bool{}}}
	for i := range n {
		msg := fmt.Sprintf(`{"series":"pump","time":%d,"values":{"a":%d,"b":%d`, int64(1_700_000_000+i)*1e9, 100+i%7, 50+i%5)
		if i > 0 {
			msg += fmt.Sprintf(`,"c":%d`, 10+i%3)
		}
		f.msgs = append(f.msgs, kafka.Message{Topic: "sensors", Offset: int64(i), Value: []byte(msg + "}}")})
	}
	p, writer, metrics, logs := multivariatePipeline(t, f, detector.DefaultConfig())
	scored := n - 1 - (window - 1) // from the second message, the first to carry c
	runUntilWritten(t, p, f, writer, 3*scored, time.Minute)
	perChannel := map[string]int{}
	for _, pt := range writer.pts {
		if pt.Measurement == sink.ScoreMeasurement {
			perChannel[pt.Channel]++
		}
	}
	if perChannel["a"] != scored || perChannel["b"] != scored || perChannel["c"] != scored {
		t.Errorf("points per channel %v, want %d for each of a, b and c", perChannel, scored)
	}
	if got := testutil.ToFloat64(metrics.SamplesDropped.WithLabelValues(string(codec.ReasonChannels))); got != 0 {
		t.Errorf("%v samples refused for their channels, want none", got)
	}
	if got := testutil.ToFloat64(metrics.ValuesLeftOut); got != 0 {
		t.Errorf("%v values left out, want none", got)
	}
	if !strings.Contains(logs.String(), "series grown") {
		t.Errorf("log %q does not say the series grew", logs.String())
	}
}

// TestGrowWritesTheHeldRow: a row lacking a channel, which the detector
// holds for a message of the same row, is written before a message with a
// channel beyond the set starts the detector afresh: none of its points
// is lost.
func TestGrowWritesTheHeldRow(t *testing.T) {
	const n, window, lacking, grows = 100, 32, 60, 61
	f := &listFetcher{allRead: make(chan struct{}), writer: &outOfOrderWriter{written: map[int64]bool{}}}
	for i := range n {
		msg := fmt.Sprintf(`{"series":"pump","time":%d,"values":{"a":%d`, int64(1_700_000_000+i)*1e9, 100+i%7)
		if i != lacking {
			msg += fmt.Sprintf(`,"b":%d`, 50+i%5)
		}
		if i >= grows {
			msg += fmt.Sprintf(`,"c":%d`, 10+i%3)
		}
		f.msgs = append(f.msgs, kafka.Message{Topic: "sensors", Offset: int64(i), Value: []byte(msg + "}}")})
	}
	p, writer, _, logs := multivariatePipeline(t, f, detector.DefaultConfig())
	before := lacking + 1 - (window - 1) // rows the first detector scores, the held one included
	after := n - grows - (window - 1)    // rows the grown one scores
	runUntilWritten(t, p, f, writer, 2*before-1+3*after, time.Minute)
	perChannel := map[string]int{}
	for _, pt := range writer.pts {
		if pt.Measurement == sink.ScoreMeasurement {
			perChannel[pt.Channel]++
		}
	}
	if perChannel["a"] != before+after || perChannel["b"] != before-1+after || perChannel["c"] != after {
		t.Errorf("points per channel %v, want %d for a, %d for b (none for the row lacking it), %d for c", perChannel, before+after, before-1+after, after)
	}
	if !strings.Contains(logs.String(), "series grown") {
		t.Errorf("log %q does not say the series grew", logs.String())
	}
}

// multivariatePipeline is a one-shard pipeline scoring f's messages with
// one detector of dcfg per series, recording its points, metrics and
// logs; with, if given, sets more of its options.
func multivariatePipeline(t testing.TB, f fetcher, dcfg detector.Config, with ...func(*Options)) (*Pipeline, *recordingWriter, *Metrics, *lockedBuffer) {
	t.Helper()
	writer := &recordingWriter{}
	kcfg := DefaultKafkaConfig()
	kcfg.Brokers, kcfg.Topics = []string{"127.0.0.1:9092"}, []string{"sensors"}
	pcfg := DefaultPipelineConfig()
	pcfg.Workers, pcfg.Multivariate = 1, true
	metrics := NewMetrics(prometheus.NewRegistry())
	logs := &lockedBuffer{}
	o := Options{Kafka: kcfg, Pipeline: pcfg, Detector: dcfg, Reader: f, Writer: writer,
		BatchSize: 50, FlushInterval: 10 * time.Millisecond, Metrics: metrics,
		Log: slog.New(slog.NewTextHandler(logs, nil))}
	for _, set := range with {
		set(&o)
	}
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return p, writer, metrics, logs
}

// TestChannelPerMessageMissing: with a detector a channel, a series sent
// one channel a message whose channel c stops coming is reported missing
// at the 60th row without it, as a series sent whole rows is: the
// messages of a row that lack c count once, and those before c's own at
// each time count nothing (a gap of one row while learning).
func TestChannelPerMessageMissing(t *testing.T) {
	const n, deadFrom = 500, 300
	f := &listFetcher{allRead: make(chan struct{}), writer: &outOfOrderWriter{written: map[int64]bool{}}}
	for i := range n {
		for c, ch := range []string{"a", "b", "c"} {
			if ch == "c" && i >= deadFrom {
				continue
			}
			msg := fmt.Sprintf(`{"series":"pump","time":%d,"values":{%q:%d}}`, int64(1_700_000_000+i)*1e9, ch, 10*c+i%7)
			f.msgs = append(f.msgs, kafka.Message{Topic: "sensors", Offset: int64(len(f.msgs)), Value: []byte(msg)})
		}
	}
	dcfg := detector.DefaultConfig()
	dcfg.Warmup, dcfg.Quality.Learn = 100, 100
	p, writer, _, _ := multivariatePipeline(t, f, dcfg, func(o *Options) { o.Pipeline.Multivariate = false })
	const window = 32
	runUntilWritten(t, p, f, writer, 2*(n-(window-1))+deadFrom-(window-1), time.Minute)
	var quality []string
	for _, pt := range writer.pts {
		if pt.Measurement == sink.AlertMeasurement && pt.Kind == "quality" {
			quality = append(quality, fmt.Sprintf("%s %s %d %s onset %d", pt.Channel, pt.Event, pt.Time/1e9-1_700_000_000, pt.Statistic, pt.Onset/1e9-1_700_000_000))
		}
	}
	if want := []string{fmt.Sprintf("c opened %d missing onset %d", deadFrom+dcfg.Quality.MissingSamples-1, deadFrom)}; !slices.Equal(quality, want) {
		t.Errorf("quality alert points %q, want %q", quality, want)
	}
}
