package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
)

// FeedbackTopic carries operators' verdicts (FeedbackRequest as JSON, keyed
// by series) to every instance: POST /feedback publishes to it, and other
// tools (an alert console) may too. Run reads every partition from its
// start and queues the verdicts given within the last feedbackWait;
// applying one twice changes nothing, so a restart may read them again.
type FeedbackTopic struct {
	Conn  *Conn
	Topic string
	Queue *Feedbacks
	Log   *slog.Logger
	// Received, if set, counts the verdicts read and queued.
	Received prometheus.Counter

	once sync.Once
	w    *kafka.Writer
}

// Publish writes r to the topic and waits for the broker's acknowledgement.
func (f *FeedbackTopic) Publish(ctx context.Context, r FeedbackRequest) error {
	if err := r.Validate(); err != nil {
		return err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	f.once.Do(func() {
		f.w = f.Conn.Writer(&kafka.Writer{Topic: f.Topic, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll,
			BatchTimeout: time.Millisecond, AllowAutoTopicCreation: true})
	})
	return f.w.WriteMessages(ctx, kafka.Message{Key: []byte(r.Series), Value: b})
}

// Close closes the publisher.
func (f *FeedbackTopic) Close() {
	if f.w != nil {
		f.w.Close()
	}
}

// Run reads the topic until ctx ends. A topic that does not exist yet is
// looked for again every few seconds (the first Publish creates it).
func (f *FeedbackTopic) Run(ctx context.Context) {
	var parts int
	for {
		c := f.Conn.Client(10 * time.Second)
		meta, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{f.Topic}})
		if err == nil && len(meta.Topics) == 1 && meta.Topics[0].Error == nil {
			parts = len(meta.Topics[0].Partitions)
		}
		if parts > 0 {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(3 * time.Second):
		}
	}
	var wg sync.WaitGroup
	for p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.read(ctx, p)
		}()
	}
	wg.Wait()
}

// read queues the verdicts of one partition.
func (f *FeedbackTopic) read(ctx context.Context, partition int) {
	r := f.Conn.Reader(kafka.ReaderConfig{Topic: f.Topic, Partition: partition, MaxWait: time.Second})
	defer closeWithin(r, readerCloseWait, f.Log, fmt.Sprintf("closing the feedback reader of %s/%d", f.Topic, partition))
	for {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, context.Canceled) {
				f.Log.Warn("reading the feedback topic", "topic", f.Topic, "partition", partition, "err", err)
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
					continue
				}
			}
			return
		}
		req, err := ParseFeedback(m.Value)
		if err != nil {
			f.Log.Warn("a verdict in the feedback topic was skipped", "topic", f.Topic, "partition", partition, "offset", m.Offset, "err", err)
			continue
		}
		now := time.Now()
		if !req.Given.IsZero() && now.Sub(req.Given) > feedbackWait {
			continue // read again at a restart; its series had its chance
		}
		if err := f.Queue.Add(req, now); err != nil {
			f.Log.Warn("a verdict from the feedback topic was dropped", "series", req.Series, "err", err)
			continue
		}
		if f.Received != nil {
			f.Received.Inc()
		}
	}
}
