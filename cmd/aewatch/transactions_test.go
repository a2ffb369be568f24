package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/aewatch/aewatch/sensorcsv"
	"github.com/aewatch/aewatch/stream/codec"
)

// TestTransactionalProducer: a series sent by a transactional producer (as
// Kafka Connect with exactly-once, or Flink, sends), one transaction in
// four aborted. kafka-go hands the control records that end transactions
// over as messages: they are passed over, not rejected, and the offsets
// after the last one are committed. kafka-go does not leave out an aborted
// transaction's records, so they are scored as any others (the points
// equal eval's over every row) and the abort is logged once. A replay of
// the topic ends and writes the same points.
func TestTransactionalProducer(t *testing.T) {
	influx, brokers := peers(t, 1, "sensors")
	file := writeSeries(t, 1, 400)[0]
	f, err := sensorcsv.Read(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	series := sensorcsv.SeriesName(file)
	var names []string
	for _, c := range f.Channels {
		names = append(names, f.Header[c])
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.TransactionalID("plant-connector"), kgo.DefaultProduceTopic("sensors"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const perTransaction = 50
	transactions := 0
	for from := 0; from < len(f.Rows); from += perTransaction {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := from; i < min(from+perTransaction, len(f.Rows)); i++ {
			val, ok := codec.EncodeSample("json", series, names, f.Times[i], f.Values[i])
			if !ok {
				continue // no finite value: as produce leaves it out
			}
			if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte(series), Value: val}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		commit := transactions%4 != 2
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
		transactions++
	}
	cl.Close()
	want, order := evalScores(t, file)

	run := startRun(t, brokers, influx.URL, "g-tx", "--set", "checkpoint.interval=1s")
	waitStable(t, "ae_score points", scoreCount(influx))
	compareToEval(t, influxScores(t, influx, series), want, order, "transactional topic")
	if got := run.metric(t, "aewatch_kafka_transaction_markers_total", ""); int(got) != transactions {
		t.Errorf("transaction markers: /metrics says %v, want %d", got, transactions)
	}
	if got := run.metric(t, "aewatch_messages_rejected_total", ""); got != 0 {
		t.Errorf("messages rejected: /metrics says %v, want 0 (a marker is no malformed message)", got)
	}
	ends := topicEnds(t, brokers, 1)
	if committed := waitCommitted(t, brokers, "g-tx", ends, 10*time.Second); !atEnd(committed, ends) {
		t.Errorf("committed offsets %v, want the partition's end %v (past the last marker)", committed, ends)
	}
	run.stop(t)
	if n := strings.Count(run.stderr.String(), "aborted a transaction"); n != 1 {
		t.Errorf("the abort is logged %d times, want once:\n%s", n, run.stderr)
	}

	_, stderr, code := cli(t, "replay", "--brokers", brokers, "--topics", "sensors", "--influx-url", influx.URL,
		"--influx-bucket", "sensors/autogen", "--from", "earliest", "--run", "tx", "--log-format", "text")
	if code != 0 {
		t.Fatalf("replay: exit %d: %s", code, stderr)
	}
	compareToEval(t, replayScores(t, influx, series, "tx"), want, order, "replay of the transactional topic")
}
