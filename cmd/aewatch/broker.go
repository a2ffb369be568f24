package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kfake"
)

// runBroker serves an in-memory Kafka-protocol broker (franz-go's kfake)
// until interrupted: a broker for trying aewatch, for benchmarks and for
// tests, with nothing to install. Not for production: nothing is durable.
func runBroker(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("broker", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: aewatch broker [--addr HOST:PORT] [--topics T,...] [--partitions N]\n\nServes an in-memory Kafka-protocol broker until interrupted (for trying aewatch and benchmarks; nothing is durable).\n\n")
		fs.PrintDefaults()
	}
	addr := fs.String("addr", "127.0.0.1:9092", "listen `host:port`")
	topics := fs.String("topics", "sensors", "comma-separated topics to create")
	partitions := fs.Int("partitions", 4, "partitions per topic")
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
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.AllowAutoTopicCreation(),
		kfake.SeedTopics(int32(*partitions), splitList(*topics)...),
		kfake.BrokerConfigs(map[string]string{"message.max.bytes": strconv.Itoa(16 << 20)}))
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Printf("broker listening on %v (topics %s, %d partitions)\n", c.ListenAddrs(), *topics, *partitions)
	<-ctx.Done()
	return nil
}
