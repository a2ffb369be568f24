package stream

import (
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/aewatch/aewatch/internal/testsvc"
)

// TestConnTakesMaxWait: kafka.max_wait reaches the connection the input's
// readers (consumer group partitions, replay ranges) are built from.
func TestConnTakesMaxWait(t *testing.T) {
	cfg := DefaultKafkaConfig()
	cfg.Brokers = []string{"127.0.0.1:9092"}
	cfg.MaxWait = 1700 * time.Millisecond
	conn, err := NewConn(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if conn.MaxWait != cfg.MaxWait {
		t.Errorf("conn.MaxWait %v, want kafka.max_wait %v", conn.MaxWait, cfg.MaxWait)
	}
	if PlainConn(cfg.Brokers).MaxWait != DefaultKafkaConfig().MaxWait {
		t.Errorf("the embedded broker's connection does not wait the default %v", DefaultKafkaConfig().MaxWait)
	}
}

// TestCloseWithinBoundsAReaderClose against a Kafka-protocol broker: a
// reader whose fetch waits in the broker (an empty partition, MaxWait of a
// minute) holds kafka-go's Close for that fetch (kafka-go #428);
// closeWithin returns at its bound all the same.
func TestCloseWithinBoundsAReaderClose(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a broker")
	}
	conn := PlainConn([]string{testsvc.Kafka(t, 1, "in")})
	r := conn.Reader(kafka.ReaderConfig{Topic: "in", Partition: 0, MinBytes: 1, MaxBytes: 1 << 20, MaxWait: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if _, err := r.FetchMessage(ctx); err == nil {
		t.Fatal("a message from an empty partition")
	}
	start := time.Now()
	if closeWithin(r, 300*time.Millisecond, nil, "") {
		t.Fatalf("the reader closed in %v with its fetch waiting in the broker: kafka-go's Close no longer waits for it, and closeWithin may go", time.Since(start))
	}
	if waited := time.Since(start); waited > 10*time.Second {
		t.Fatalf("closeWithin returned after %v, bound 300ms", waited)
	}
}
