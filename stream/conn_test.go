package stream

import (
	"testing"
	"time"
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
