// Command drain reads a topic to its end with a bare kafka-go reader (no
// decoding, no scoring) and prints messages/s: the ceiling of what the
// consumer side of aewatch can reach on a machine.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

func main() {
	brokers := flag.String("brokers", "127.0.0.1:9092", "brokers")
	topic := flag.String("topic", "sensors", "topic")
	want := flag.Int("messages", 0, "messages to read (required)")
	flag.Parse()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: strings.Split(*brokers, ","), GroupID: fmt.Sprintf("drain-%d", time.Now().UnixNano()),
		Topic: *topic, MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 250 * time.Millisecond, StartOffset: kafka.FirstOffset, QueueCapacity: 1000})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var start time.Time
	for n := 0; n < *want; n++ {
		if _, err := r.FetchMessage(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "drain:", err)
			os.Exit(1)
		}
		if n == 0 {
			start = time.Now()
		}
	}
	el := time.Since(start).Seconds()
	fmt.Printf("bare kafka-go reader: %d messages in %.2fs after the first: %.0f messages/s\n", *want, el, float64(*want-1)/el)
}
