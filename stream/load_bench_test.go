package stream

import (
	"context"
	"fmt"
	"testing"

	"github.com/aewatch/aewatch/internal/testsvc"
)

// BenchmarkCheckpointLoad: Load of 10,000 checkpoints of 50 KB (a
// detector's size) from a broker that keeps its records on disk, as
// `aewatch broker --data-dir` does; b.N loads, each of the whole topic.
// The load's fetch size decides it there (docs/performance.md).
func BenchmarkCheckpointLoad(b *testing.B) {
	kafka := testsvc.StartKafka(b, 4, "in")
	k := &KafkaCheckpoints{Conn: PlainConn([]string{kafka.Addr}), Topic: "in-checkpoints", Partitions: 4, MaxBatchBytes: 1 << 20}
	defer k.Close()
	ctx := context.Background()
	if _, err := k.Load(ctx, nil); err != nil { // creates the topic
		b.Fatal(err)
	}
	const n = 10000
	state := make([]byte, 50<<10)
	for i := range state {
		state[i] = byte(i * 7)
	}
	cps := make([]Checkpoint, n)
	for i := range cps {
		cps[i] = Checkpoint{Key: fmt.Sprint("series-", i), Topic: "in", Partition: i % 4, Offset: int64(i), State: state}
	}
	if err := k.Save(ctx, cps); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(n * len(state)))
	b.ResetTimer()
	for range b.N {
		got, err := k.Load(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		if len(got) != n {
			b.Fatalf("loaded %d checkpoints, want %d", len(got), n)
		}
	}
}
