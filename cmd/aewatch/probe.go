package main

import (
	"context"
	"time"

	"github.com/segmentio/kafka-go"
)

// probeKafka asks the brokers for metadata every 2 s, so that /readyz
// reports an unreachable cluster even while nothing is being fetched.
func (s *service) probeKafka(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		client, closeConns := s.conn.FreshClient(2 * time.Second)
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := client.Metadata(pctx, &kafka.MetadataRequest{Topics: s.cfg.Kafka.Topics})
		cancel()
		closeConns()
		if err != nil && ctx.Err() == nil {
			s.kafkaErr.Store(err.Error())
			if s.kafkaOK.Swap(false) {
				s.log.Warn("kafka unreachable", "err", err)
			}
			s.kafkaErrors.Inc()
		} else if err == nil {
			s.kafkaErr.Store("")
			s.clientErr.Store("")
			s.kafkaOK.Store(true)
		}
	}
}
