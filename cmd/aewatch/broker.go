package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// runBroker serves a Kafka-protocol broker (franz-go's kfake) until
// interrupted: a broker for trying aewatch, for benchmarks and for tests,
// with nothing to install. Records live in memory, or with --data-dir in
// segment files (memory then holds their index), which a restart on the
// same directory reloads. Compacted topics (aewatch's checkpoints) are
// compacted every --compact-every, as a real broker's log cleaner does.
// Not for production: one broker, no replication.
func runBroker(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("broker", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: aewatch broker [--addr HOST:PORT] [--topics T,...] [--partitions N] [--data-dir DIR] [--compact-every D]\n\nServes a Kafka-protocol broker until interrupted (for trying aewatch and benchmarks; one broker, no replication). Records are kept in memory, or on disk with --data-dir.\n\n")
		fs.PrintDefaults()
	}
	addr := fs.String("addr", "127.0.0.1:9092", "listen `host:port`")
	topics := fs.String("topics", "sensors", "comma-separated topics to create")
	partitions := fs.Int("partitions", 4, "partitions per topic")
	dataDir := fs.String("data-dir", "", "keep records in segment files under `DIR` (and reload them on a restart) instead of in memory")
	compactEvery := fs.Duration("compact-every", 10*time.Minute, "how often compacted topics (aewatch's checkpoints) drop records whose key was written again (a pass rewrites them and pauses the broker meanwhile)")
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
	}
	_, portText, err := net.SplitHostPort(*addr)
	if err != nil {
		return fmt.Errorf("--addr: want host:port (got %q)", *addr)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || *partitions < 1 {
		return fmt.Errorf("--addr port %q / --partitions %d: invalid", portText, *partitions)
	}
	if *compactEvery < time.Second {
		return fmt.Errorf("--compact-every: must be >= 1s (got %v)", *compactEvery)
	}
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.Ports(port), kfake.AllowAutoTopicCreation(),
		kfake.BrokerConfigs(map[string]string{
			"message.max.bytes":      strconv.Itoa(16 << 20),
			"log.cleaner.backoff.ms": strconv.FormatInt(compactEvery.Milliseconds(), 10),
		})}
	where := "in memory"
	if *dataDir != "" {
		opts, where = append(opts, kfake.DataDir(*dataDir)), "in "+*dataDir
	}
	c, err := kfake.NewCluster(append(opts, kfake.SeedTopics(int32(*partitions), splitList(*topics)...))...)
	if err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	defer c.Close()
	fmt.Printf("broker listening on %v (topics %s, %d partitions; records %s)\n", c.ListenAddrs(), *topics, *partitions, where)
	<-ctx.Done()
	return nil
}
