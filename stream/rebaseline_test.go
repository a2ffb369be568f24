package stream

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"

	"github.com/aewatch/aewatch/detector"
	"github.com/aewatch/aewatch/sink"
)

func TestRebaselinesQueue(t *testing.T) {
	q := NewRebaselines()
	if _, ok := q.take("a"); ok {
		t.Fatal("empty queue gave a request")
	}
	if _, err := q.Request(RebaselineRequest{}); err == nil || !strings.Contains(err.Error(), "series: required") {
		t.Fatalf("empty series: %v", err)
	}
	if _, err := q.Request(RebaselineRequest{Series: strings.Repeat("x", 2000)}); err == nil || !strings.Contains(err.Error(), "got 2000") {
		t.Fatalf("long series: %v", err)
	}
	if _, err := q.Request(RebaselineRequest{Series: "misspelled"}); !errors.Is(err, ErrUnknownSeries) || !strings.Contains(err.Error(), `"misspelled"`) {
		t.Fatalf("unknown series: %v, want ErrUnknownSeries naming it", err)
	}
	q.Seen("sensors", 0, "a")
	if known, err := q.Request(RebaselineRequest{Series: "a", Source: "first"}); !known || err != nil {
		t.Fatalf("known %v, err %v", known, err)
	}
	if known, _ := q.Request(RebaselineRequest{Series: "a", Source: "second"}); !known {
		t.Fatal("a is known")
	}
	r, ok := q.take("a")
	if !ok || r.Source != "second" {
		t.Fatalf("took %+v %v, want the newer request", r, ok)
	}
	if _, ok := q.take("a"); ok {
		t.Fatal("a request was taken twice")
	}
	q.requeue(r)
	if r2, ok := q.take("a"); !ok || r2.Source != r.Source {
		t.Fatal("requeued request lost")
	}
	// Requests waiting together merge: channels add up; every channel
	// covers all.
	q.Request(RebaselineRequest{Series: "a", Channel: "temp"})
	q.Request(RebaselineRequest{Series: "a", Channel: "flow"})
	if r, _ := q.take("a"); !r.wants("temp") || !r.wants("flow") || r.wants("pressure") {
		t.Errorf("temp then flow merged to %q", r.ChannelList())
	}
	q.Request(RebaselineRequest{Series: "a"})
	q.Request(RebaselineRequest{Series: "a", Channel: "flow"})
	if r, _ := q.take("a"); !r.wants("pressure") {
		t.Errorf("every channel then flow merged to %q, want every channel", r.ChannelList())
	}
	for i := 0; i < MaxPendingRebaselines; i++ {
		q.Seen("sensors", 0, fmt.Sprintf("s%d", i))
		if _, err := q.Request(RebaselineRequest{Series: fmt.Sprintf("s%d", i)}); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	q.Seen("sensors", 0, "one too many")
	if _, err := q.Request(RebaselineRequest{Series: "one too many"}); !errors.Is(err, ErrTooManyRebaselines) {
		t.Fatalf("over the bound: %v", err)
	}
	var nilQueue *Rebaselines
	nilQueue.Seen("sensors", 0, "x") // replay runs without a queue
	if _, ok := nilQueue.take("x"); ok {
		t.Fatal("nil queue gave a request")
	}
}

// TestRebaselineOfAnUnknownChannel: a request naming a channel the series
// has not had here is refused at once (it would wait for a sample that
// never comes), naming the channels it has; a series whose checkpoint of
// several channels is loaded but not yet read takes any channel until its
// detector names them.
func TestRebaselineOfAnUnknownChannel(t *testing.T) {
	q := NewRebaselines()
	q.Seen("sensors", 0, "pump7", "temp")
	q.Seen("sensors", 0, "pump7", "flow")
	if _, err := q.Request(RebaselineRequest{Series: "pump7", Channel: "flow"}); err != nil {
		t.Fatalf("a channel seen: %v", err)
	}
	_, err := q.Request(RebaselineRequest{Series: "pump7", Channel: "tmep"})
	if !errors.Is(err, ErrUnknownChannel) || !strings.Contains(err.Error(), `"tmep"`) || !strings.Contains(err.Error(), "temp, flow") {
		t.Fatalf("a misspelled channel: %v, want ErrUnknownChannel naming it and the series' channels", err)
	}
	if r, _ := q.take("pump7"); r.wants("tmep") {
		t.Error("the refused channel was queued")
	}
	q.Seen("sensors", 0, "press3") // a checkpoint of several channels, loaded
	if _, err := q.Request(RebaselineRequest{Series: "press3", Channel: "p_in"}); err != nil {
		t.Fatalf("a loaded checkpoint's series: %v, want any channel taken", err)
	}
	q.Seen("sensors", 0, "press3", "p_in", "p_out") // its detector built from the checkpoint
	if _, err := q.Request(RebaselineRequest{Series: "press3", Channel: "p_mid"}); !errors.Is(err, ErrUnknownChannel) {
		t.Fatalf("a channel beyond the built detector's: %v, want ErrUnknownChannel", err)
	}
}

// hookedFetcher runs hook once, before it serves message at.
type hookedFetcher struct {
	*listFetcher
	at   int
	hook func()
}

// Buffered hands the samples fetched so far over to the shards before
// message at, for hook to see them scored.
func (f *hookedFetcher) Buffered() int {
	if f.next == f.at {
		return 0
	}
	return f.listFetcher.Buffered()
}

func (f *hookedFetcher) FetchMessage(ctx context.Context) (kafka.Message, error) {
	if f.next == f.at {
		f.hook()
	}
	return f.listFetcher.FetchMessage(ctx)
}

// requestWhenScored returns a hook that waits until writer holds the
// score of sample number scored of series pump (so that the samples up to
// it have been through their shard, and the next one takes the request),
// then asks for a re-baseline of every channel of pump.
func requestWhenScored(t *testing.T, q *Rebaselines, writer *recordingWriter, scored int) func() {
	return func() {
		deadline := time.Now().Add(time.Minute)
		for !writer.hasScore(int64(1_700_000_000+scored)*1e9) && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if _, err := q.Request(RebaselineRequest{Series: "pump", Source: "test", At: time.Now()}); err != nil {
			t.Errorf("request: %v", err)
		}
	}
}

// TestRebaselineTakesInANewChannel: a channel that comes to a warm
// multivariate series is left out until an operator re-baselines the
// whole series; the sample that takes the request starts the series'
// detector afresh over every channel, after closing the alert the old
// detector held open (reason rebaseline), and the new channel is scored
// from then on and known to later requests.
func TestRebaselineTakesInANewChannel(t *testing.T) {
	const n, window, newFrom, stepFrom, at = 700, 32, 500, 580, 590
	f := &listFetcher{allRead: make(chan struct{}), writer: &outOfOrderWriter{written: map[int64]bool{}}}
	for i := range n {
		a := 100 + i%7
		if i >= stepFrom && i < at {
			a += 1000 // a fault: the old detector's alert is open at the re-baseline
		}
		msg := fmt.Sprintf(`{"series":"pump","time":%d,"values":{"a":%d,"b":%d`, int64(1_700_000_000+i)*1e9, a, 50+i%5)
		if i >= newFrom {
			msg += fmt.Sprintf(`,"c":%d`, 10+i%3)
		}
		f.msgs = append(f.msgs, kafka.Message{Topic: "sensors", Offset: int64(i), Value: []byte(msg + "}}")})
	}
	dcfg := detector.DefaultConfig()
	dcfg.Warmup = newFrom / 2 // warm when c comes: left out, not grown into
	q := NewRebaselines()
	hf := &hookedFetcher{listFetcher: f, at: at}
	p, writer, metrics, logs := multivariatePipeline(t, hf, dcfg, func(o *Options) { o.Rebaselines = q })
	hf.hook = requestWhenScored(t, q, writer, at-1)
	before := at - (window - 1) // rows the old detector scores
	after := n - at - (window - 1)
	runUntilWritten(t, p, f, writer, 2*before+3*after, time.Minute)
	perChannel := map[string]int{}
	opened, closed := 0, 0
	for _, pt := range writer.pts {
		switch pt.Measurement {
		case sink.ScoreMeasurement:
			perChannel[pt.Channel]++
		case sink.AlertMeasurement:
			if pt.Kind != "anomaly" || pt.Channel != "a" {
				continue
			}
			if pt.Event == "opened" {
				opened++
				continue
			}
			closed++
			if pt.Time != int64(1_700_000_000+at)*1e9 || pt.Reason != detector.ReasonRebaseline {
				t.Errorf("alert closed at %d with reason %q, want at the re-baseline's sample with reason %q", pt.Time, pt.Reason, detector.ReasonRebaseline)
			}
		}
	}
	if perChannel["a"] != before+after || perChannel["b"] != before+after || perChannel["c"] != after {
		t.Errorf("points per channel %v, want %d for a and b, %d for c", perChannel, before+after, after)
	}
	if opened != 1 || closed != 1 {
		t.Errorf("anomaly alerts opened %d, closed %d; want the fault's one, closed by the re-baseline", opened, closed)
	}
	if got := testutil.ToFloat64(metrics.ValuesLeftOut); got != at-newFrom {
		t.Errorf("%v values left out, want %d (c until the re-baseline)", got, at-newFrom)
	}
	if got := testutil.ToFloat64(metrics.Rebaselines); got != 1 {
		t.Errorf("%v re-baselines applied, want 1", got)
	}
	if !strings.Contains(logs.String(), "series' channels changed by a re-baseline") {
		t.Errorf("log %q does not say the re-baseline widened the series", logs.String())
	}
	if err := q.Check("pump", "c"); err != nil {
		t.Errorf("after the re-baseline: %v, want channel c known", err)
	}
}

// TestRebaselinesKeep: at a rebalance the series of partitions no longer
// owned are forgotten (a request for one is refused) and their waiting
// requests dropped and named; the owned partitions' stay.
func TestRebaselinesKeep(t *testing.T) {
	q := NewRebaselines()
	q.Seen("sensors", 0, "kept", "temp")
	q.Seen("sensors", 1, "moved", "temp")
	q.Seen("sensors", 1, "moved-idle")
	for _, s := range []string{"kept", "moved"} {
		if _, err := q.Request(RebaselineRequest{Series: s}); err != nil {
			t.Fatal(err)
		}
	}
	dropped := q.Keep(func(topic string, partition int) bool { return topic == "sensors" && partition == 0 })
	if !slices.Equal(dropped, []string{"moved"}) {
		t.Errorf("dropped %v, want the waiting request of [moved]", dropped)
	}
	for _, s := range []string{"moved", "moved-idle"} {
		if err := q.Check(s, ""); !errors.Is(err, ErrUnknownSeries) {
			t.Errorf("%s after its partition moved: %v, want ErrUnknownSeries", s, err)
		}
	}
	if _, ok := q.take("moved"); ok {
		t.Error("the moved series' request is still waiting")
	}
	if _, ok := q.take("kept"); !ok {
		t.Error("the kept series' request was dropped")
	}
	if err := q.Check("kept", "temp"); err != nil {
		t.Errorf("kept series: %v", err)
	}
	var nilQueue *Rebaselines
	if d := nilQueue.Keep(func(string, int) bool { return false }); d != nil {
		t.Errorf("a nil queue dropped %v", d)
	}
}

// TestRebaselineLetsAMissingChannelGo: a channel that stops coming to a
// warm multivariate series (a transmitter that died) is filled and
// reported missing by the quality check; the operator's re-baseline of
// the whole series closes that alert and starts the detector afresh
// without it: nothing is filled from then on, a request naming it is
// refused, and the others are scored throughout.
func TestRebaselineLetsAMissingChannelGo(t *testing.T) {
	const n, window, deadFrom, at = 700, 32, 300, 450
	f := pumpMessages(n, func(i int) bool { return i < deadFrom })
	dcfg := detector.DefaultConfig()
	dcfg.Warmup, dcfg.Quality.Learn = 100, 100 // the missing check on by the time c dies
	q := NewRebaselines()
	hf := &hookedFetcher{listFetcher: f, at: at}
	p, writer, metrics, logs := multivariatePipeline(t, hf, dcfg, func(o *Options) { o.Rebaselines = q })
	// A row lacking c waits for the next message: at-1's is written with
	// at's, at-2's once at-1 has been through the shard.
	hf.hook = requestWhenScored(t, q, writer, at-2)
	before, after := at-(window-1), n-at-(window-1)
	runUntilWritten(t, p, f, writer, 2*before+(deadFrom-(window-1))+2*after, time.Minute)
	perChannel := map[string]int{}
	var quality []string
	for _, pt := range writer.pts {
		switch {
		case pt.Measurement == sink.ScoreMeasurement:
			perChannel[pt.Channel]++
		case pt.Measurement == sink.AlertMeasurement && pt.Kind == "quality" && pt.Channel == "c":
			quality = append(quality, fmt.Sprintf("%s %d %s %s", pt.Event, pt.Time/1e9-1_700_000_000, pt.Statistic, pt.Reason))
		}
	}
	if perChannel["a"] != before+after || perChannel["b"] != before+after || perChannel["c"] != deadFrom-(window-1) {
		t.Errorf("points per channel %v, want %d for a and b, %d for c", perChannel, before+after, deadFrom-(window-1))
	}
	want := []string{fmt.Sprintf("opened %d missing ", deadFrom+dcfg.Quality.MissingSamples-1), fmt.Sprintf("closed %d missing rebaseline", at)}
	if !slices.Equal(quality, want) {
		t.Errorf("quality alert points of c %q, want %q", quality, want)
	}
	if got := testutil.ToFloat64(metrics.ValuesFilled); got != at-deadFrom {
		t.Errorf("%v values filled, want %d (c until the re-baseline)", got, at-deadFrom)
	}
	if !strings.Contains(logs.String(), `dropped_missing=[c]`) {
		t.Errorf("log %q does not name the channel let go", logs.String())
	}
	if err := q.Check("pump", "c"); !errors.Is(err, ErrUnknownChannel) {
		t.Errorf("a request naming c after the re-baseline: %v, want ErrUnknownChannel", err)
	}
}

// TestRebaselineLetsAMissingChannelGoPerChannel: with a detector a channel,
// a channel that stops coming in its series' messages is reported missing
// (the shard tells its detector of each sample without it); the operator's
// re-baseline of the whole series closes that alert (reason rebaseline),
// marks the channel re-baselined, and the samples without it open nothing
// more; back for 50 samples and gone again, it is missing afresh (its
// alert with no reason). The other channels are scored throughout.
func TestRebaselineLetsAMissingChannelGoPerChannel(t *testing.T) {
	const n, window, deadFrom, at, backFrom, deadAgain = 750, 32, 300, 450, 550, 600
	f := pumpMessages(n, func(i int) bool { return i < deadFrom || i >= backFrom && i < deadAgain })
	dcfg := detector.DefaultConfig()
	dcfg.Warmup, dcfg.Quality.Learn = 100, 100 // the missing check on by the time c dies
	q := NewRebaselines()
	hf := &hookedFetcher{listFetcher: f, at: at}
	p, writer, _, logs := multivariatePipeline(t, hf, dcfg, func(o *Options) {
		o.Rebaselines, o.Pipeline.Multivariate = q, false
	})
	hf.hook = requestWhenScored(t, q, writer, at-1)
	cPoints := deadFrom - (window - 1) + deadAgain - backFrom
	runUntilWritten(t, p, f, writer, 2*(n-(window-1))+cPoints, time.Minute)
	perChannel := map[string]int{}
	var quality, rebaselined []string
	for _, pt := range writer.pts {
		switch {
		case pt.Measurement == sink.ScoreMeasurement:
			perChannel[pt.Channel]++
		case pt.Measurement == sink.AlertMeasurement && pt.Kind == "quality":
			quality = append(quality, fmt.Sprintf("%s %s %d %s %s", pt.Channel, pt.Event, pt.Time/1e9-1_700_000_000, pt.Statistic, pt.Reason))
		case pt.Measurement == sink.RebaselineMeasurement:
			rebaselined = append(rebaselined, fmt.Sprintf("%s %d", pt.Channel, pt.Time/1e9-1_700_000_000))
		}
	}
	if perChannel["a"] != n-(window-1) || perChannel["b"] != n-(window-1) || perChannel["c"] != cPoints {
		t.Errorf("points per channel %v, want %d for a and b, %d for c", perChannel, n-(window-1), cPoints)
	}
	want := []string{fmt.Sprintf("c opened %d missing ", deadFrom+dcfg.Quality.MissingSamples-1), fmt.Sprintf("c closed %d missing rebaseline", at),
		fmt.Sprintf("c opened %d missing ", deadAgain+dcfg.Quality.MissingSamples-1)}
	if !slices.Equal(quality, want) {
		t.Errorf("quality alert points %q, want %q", quality, want)
	}
	slices.Sort(rebaselined)
	if want := []string{fmt.Sprintf("a %d", at), fmt.Sprintf("b %d", at), fmt.Sprintf("c %d", at)}; !slices.Equal(rebaselined, want) {
		t.Errorf("re-baseline points %q, want %q", rebaselined, want)
	}
	if !strings.Contains(logs.String(), "a missing channel let go by a re-baseline") {
		t.Errorf("log %q does not say the channel was let go", logs.String())
	}
}

// pumpMessages lists n messages of series pump, one a second, with
// channels a and b and, on the samples hasC takes, c.
func pumpMessages(n int, hasC func(i int) bool) *listFetcher {
	f := &listFetcher{allRead: make(chan struct{}), writer: &outOfOrderWriter{written: map[int64]bool{}}}
	for i := range n {
		msg := fmt.Sprintf(`{"series":"pump","time":%d,"values":{"a":%d,"b":%d`, int64(1_700_000_000+i)*1e9, 100+i%7, 50+i%5)
		if hasC(i) {
			msg += fmt.Sprintf(`,"c":%d`, 10+i%3)
		}
		f.msgs = append(f.msgs, kafka.Message{Topic: "sensors", Offset: int64(i), Value: []byte(msg + "}}")})
	}
	return f
}
