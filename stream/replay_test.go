package stream

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/aewatch/aewatch/internal/testsvc"
	"github.com/aewatch/aewatch/stream/codec"
)

// TestPlanReplayWaitsForASlowBroker: a broker that answers every fetch
// 300 ms late (under load, CI's was slower than a reader's 100 ms wait):
// the replay's plan still reads the records it checks, where a partition
// reader redialled until its 10 s deadline and `aewatch replay` failed
// with "fetching message: context deadline exceeded".
func TestPlanReplayWaitsForASlowBroker(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a broker")
	}
	cluster := testsvc.KafkaCluster(t, 1, []string{"sensors"})
	brokers := cluster.ListenAddrs()
	conn := PlainConn(brokers)
	// Acknowledged by the broker: with kafka-go's default (no acks) the
	// plan could list the offsets before the last records were appended.
	w := conn.Writer(&kafka.Writer{Topic: "sensors", BatchSize: 1, RequiredAcks: kafka.RequireAll})
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var msgs []kafka.Message
	for i := range 20 {
		at := start.Add(time.Duration(i) * time.Minute)
		v, _ := codec.EncodeSample("json", "s", []string{"value"}, at.UnixNano(), []float64{float64(i)})
		msgs = append(msgs, kafka.Message{Value: v, Time: at})
	}
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
	w.Close()

	slowed := slowFetches(cluster, 300*time.Millisecond)
	kcfg := DefaultKafkaConfig()
	kcfg.Brokers, kcfg.Topics = brokers, []string{"sensors"}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	plan, err := PlanReplay(ctx, conn, kcfg, start.Add(10*time.Minute), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("plan against a slow broker: %v", err)
	}
	if slowed.Load() == 0 {
		t.Fatal("no fetch was slowed: the test tested nothing")
	}
	if len(plan.Ranges) != 1 || plan.Ranges[0].Start != 10 || plan.Ranges[0].End != 20 || plan.Ranges[0].Scan {
		t.Errorf("plan %+v, want offsets [10, 20) found by timestamp", plan.Ranges)
	}
	if !plan.Oldest.Equal(start) {
		t.Errorf("oldest %v, want %v", plan.Oldest, start)
	}
}

// slowFetches makes cluster answer every fetch d late and counts them.
func slowFetches(cluster *kfake.Cluster, d time.Duration) *atomic.Int32 {
	var slowed atomic.Int32
	cluster.ControlKey(int16(kmsg.Fetch), func(kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		slowed.Add(1)
		cluster.SleepControl(func() { time.Sleep(d) })
		return nil, nil, false
	})
	return &slowed
}
