package stream

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"

	"github.com/aewatch/aewatch/detector"
	"github.com/aewatch/aewatch/internal/testsvc"
	"github.com/aewatch/aewatch/sink"
)

// BenchmarkSkew: one series' backlog of skewBurst samples waits in
// partition 0 of a real (kfake) broker when aewatch's consumer group
// starts; skewCold other series on partitions 1-3 each send a sample
// every skewEvery, stamped with the wall clock. It reports the latency
// of the other series' points (their stamp to the writer's
// acknowledgement) while the backlog drains, and how long it takes: in
// "fair" the loop pauses the busy partition and goes on (fairness.go), in
// "wait" it waits for the busy shard, as before.
//
// In "new-series" partition 0 gets instead, once the other series are
// live, one sample each of skewNewSeries series never seen, admitted at
// skewAdmissions a second (pipeline.new_series_per_second): the other
// series' latency from then on, and how long until every new one is
// admitted.
//
//	go test -run '^$' -bench Skew -benchtime 1x -benchmem ./stream
func BenchmarkSkew(b *testing.B) {
	if testing.Short() {
		b.Skip("needs a broker")
	}
	modes := []string{"fair", "wait", "new-series"}
	var topics []string
	for _, m := range modes {
		topics = append(topics, "skew-"+m)
	}
	brokers := testsvc.Kafka(b, 4, topics...)
	for _, mode := range modes {
		b.Run(mode, func(b *testing.B) {
			for range b.N {
				skewRun(b, brokers, "skew-"+mode, mode)
			}
		})
	}
}

const (
	skewBurst = 200_000
	skewCold  = 12
	skewEvery = 5 * time.Millisecond
	skewLines = 500

	skewNewSeries  = 5_000
	skewAdmissions = 500
)

// skewBalancer puts the busy series on partition 0, the others on 1-3.
type skewBalancer struct{}

func (skewBalancer) Balance(msg kafka.Message, partitions ...int) int {
	if string(msg.Key) == "hot" {
		return partitions[0]
	}
	return partitions[1+int(msg.Key[len(msg.Key)-1])%(len(partitions)-1)]
}

// latencyWriter acknowledges at once and keeps each cold point's latency,
// apart for the series that share the busy series' shard.
type latencyWriter struct {
	mu                sync.Mutex
	cold, coldSharing []time.Duration
	hotLeft           int
	from              int64 // cold points stamped before are not counted (Unix ns)
	hotStarted        bool
	hotDone           time.Time
	shards, busyShard int
}

func (w *latencyWriter) WritePoints(_ context.Context, pts []sink.Point) error {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := range pts {
		p := &pts[i]
		if p.Measurement != sink.ScoreMeasurement {
			continue
		}
		if p.Series == "hot" {
			w.hotStarted = true
			if w.hotLeft--; w.hotLeft == 0 {
				w.hotDone = now
			}
			continue
		}
		if p.Time < w.from {
			continue
		}
		if shardOf(p.Series, w.shards) == w.busyShard {
			w.coldSharing = append(w.coldSharing, now.Sub(time.Unix(0, p.Time)))
		} else {
			w.cold = append(w.cold, now.Sub(time.Unix(0, p.Time)))
		}
	}
	return nil
}

func (w *latencyWriter) hot() (started bool, done time.Time, finished bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.hotStarted, w.hotDone, w.hotLeft <= 0
}

func skewRun(b *testing.B, brokers, topic, mode string) {
	b.StopTimer()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	prod := &kafka.Writer{Addr: kafka.TCP(brokers), Topic: topic, Balancer: skewBalancer{}, BatchSize: 5000,
		BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireOne}
	defer prod.Close()
	// The backlog in messages of skewLines samples (line protocol), as a
	// gateway batching a device's history sends it: the in-process broker
	// would spend more on single-sample messages than aewatch does.
	newSeries := mode == "new-series"
	n := skewBurst
	if newSeries {
		n = skewNewSeries
	}
	start := time.Now().Add(-time.Duration(n) * time.Second)
	var burst []kafka.Message
	var lines []byte
	for i := range n {
		at := start.Add(time.Duration(i) * time.Second).UnixNano()
		if newSeries {
			lines = fmt.Appendf(lines, "new-%05d value=%d %d\n", i, i%17, at)
		} else {
			lines = fmt.Appendf(lines, "hot value=%d %d\n", i%17, at)
		}
		if (i+1)%skewLines == 0 || i == n-1 {
			burst = append(burst, kafka.Message{Key: []byte("hot"), Value: lines})
			lines = nil
		}
	}
	const workers = 2
	w := &latencyWriter{hotLeft: skewBurst - 31, shards: workers, busyShard: shardOf("hot", workers)}
	if newSeries {
		// Sent once the other series are live, and counted from then on.
		w.from = math.MaxInt64
	} else {
		if err := prod.WriteMessages(ctx, burst...); err != nil {
			b.Fatal(err)
		}
		burst = nil
	}
	kcfg := DefaultKafkaConfig()
	kcfg.Brokers, kcfg.Topics, kcfg.Series, kcfg.Group = []string{brokers}, []string{topic}, []string{"*"}, topic
	kcfg.MaxWait, kcfg.Format = 10*time.Millisecond, "line"
	pcfg := DefaultPipelineConfig()
	pcfg.Workers = workers
	if newSeries {
		pcfg.NewSeriesPerSecond = skewAdmissions
	}
	m := NewMetrics(prometheus.NewRegistry())
	g := &GroupConsumer{
		Options: Options{Kafka: kcfg, Pipeline: pcfg, Detector: detector.DefaultConfig(), Writer: w,
			FlushInterval: 10 * time.Millisecond, Metrics: m, waitForBusyShards: mode == "wait"},
		Group: kafka.ConsumerGroupConfig{ID: topic, Brokers: []string{brokers}, Topics: []string{topic}, StartOffset: kafka.FirstOffset,
			SessionTimeout: 10 * time.Second, RebalanceTimeout: 10 * time.Second, HeartbeatInterval: time.Second, JoinGroupBackoff: time.Second},
		Conn: PlainConn([]string{brokers}),
		Log:  slog.New(slog.DiscardHandler),
	}
	g.Conn.MaxWait = kcfg.MaxWait
	runDone := make(chan error, 1)
	b.StartTimer()
	began := time.Now()
	go func() { runDone <- g.Run(ctx) }()
	// The other series, from the backlog's first point written (the group
	// has formed; with new series, the first detector) until its last (every
	// new series admitted) and a second after.
	started := func() bool {
		if newSeries {
			return true
		}
		ok, _, _ := w.hot()
		return ok
	}
	finished := func() (time.Time, bool) {
		if newSeries {
			return time.Now(), testutil.ToFloat64(m.LiveSeries) >= skewNewSeries+skewCold
		}
		_, t, ok := w.hot()
		return t, ok
	}
	tick := time.NewTicker(skewEvery)
	defer tick.Stop()
	var hotDone time.Time
produce:
	for n := 0; ; n++ {
		<-tick.C
		if !started() {
			n--
			continue
		}
		var msgs []kafka.Message
		for k := range skewCold {
			s := fmt.Sprintf("cold-%02d", k)
			msgs = append(msgs, kafka.Message{Key: []byte(s),
				Value: fmt.Appendf(nil, "%s value=%d %d", s, n%13, time.Now().UnixNano())})
		}
		if err := prod.WriteMessages(ctx, msgs...); err != nil {
			b.Fatal(err)
		}
		if newSeries && burst != nil && testutil.ToFloat64(m.LiveSeries) >= skewCold {
			w.mu.Lock()
			w.from = time.Now().UnixNano()
			w.mu.Unlock()
			if err := prod.WriteMessages(ctx, burst...); err != nil {
				b.Fatal(err)
			}
			burst = nil
			began = time.Now()
		}
		switch {
		case burst != nil: // the new series are not sent yet
		case hotDone.IsZero():
			if t, ok := finished(); ok {
				hotDone = t
			}
		case time.Since(hotDone) > time.Second:
			break produce
		}
		if time.Since(began) > 5*time.Minute {
			b.Fatal("the backlog was not written within 5 minutes")
		}
	}
	b.StopTimer()
	cancel()
	if err := <-runDone; err != nil {
		b.Fatal(err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	b.ReportMetric(hotDone.Sub(began).Seconds(), "s-backlog")
	for _, l := range []struct {
		name string
		lat  []time.Duration
	}{{"others", w.cold}, {"sharing", w.coldSharing}} {
		if len(l.lat) == 0 {
			continue
		}
		slices.Sort(l.lat)
		q := func(f float64) float64 { return l.lat[int(f*float64(len(l.lat)-1))].Seconds() * 1000 }
		b.ReportMetric(q(0.5), "ms-p50-"+l.name)
		b.ReportMetric(q(0.99), "ms-p99-"+l.name)
		b.ReportMetric(float64(len(l.lat)), "points-"+l.name)
	}
}
