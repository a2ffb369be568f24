package stream

import (
	"context"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/aewatch/aewatch/internal/lograte"
	"github.com/aewatch/aewatch/stream/codec"
)

// NewDeadLetterWriter returns a writer to a dead-letter topic that waits
// for the broker's acknowledgement.
func NewDeadLetterWriter(conn *Conn, topic string) *kafka.Writer {
	return conn.Writer(&kafka.Writer{Topic: topic, Balancer: &kafka.Hash{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: 5 * time.Millisecond, AllowAutoTopicCreation: true,
		BatchBytes: 64 << 20})
}

type deadLetter struct {
	msg kafka.Message
	ref msgRef
}

func deadLetterMessage(m kafka.Message, err error) kafka.Message {
	detail := err.Error()
	if len(detail) > 500 {
		detail = detail[:500]
	}
	return kafka.Message{Key: m.Key, Value: m.Value, Time: m.Time, Headers: append(append([]kafka.Header(nil), m.Headers...),
		kafka.Header{Key: "aewatch-reason", Value: []byte(codec.ReasonOf(err))},
		kafka.Header{Key: "aewatch-detail", Value: []byte(detail)},
		kafka.Header{Key: "aewatch-topic", Value: []byte(m.Topic)},
		kafka.Header{Key: "aewatch-partition", Value: []byte(strconv.Itoa(m.Partition))},
		kafka.Header{Key: "aewatch-offset", Value: []byte(strconv.FormatInt(m.Offset, 10))})}
}

// deadLetterLoop writes rejected messages in batches and acknowledges each
// once the dead-letter topic has it, so that its offset may be committed.
func (p *Pipeline) deadLetterLoop(ctx context.Context, in <-chan deadLetter) error {
	var batch []kafka.Message
	var refs []msgRef
	for {
		d, ok := <-in
		if !ok {
			return nil
		}
		batch, refs = append(batch[:0], d.msg), append(refs[:0], d.ref)
	more:
		for len(batch) < 500 {
			select {
			case d, ok := <-in:
				if !ok {
					break more
				}
				batch, refs = append(batch, d.msg), append(refs, d.ref)
			default:
				break more
			}
		}
		// A refusal that will not cure itself (no write right on the topic)
		// is retried with backoff up to 30 s and logged at a bounded rate.
		log := lograte.Limiter{Period: 30 * time.Second}
		for wait := time.Second; ; wait = min(2*wait, 30*time.Second) {
			err := p.o.DeadLetter.WriteMessages(ctx, batch...)
			if err == nil {
				break
			}
			if ok, held := log.Allow(); ok {
				p.o.Log.Warn("dead-letter write failed; retrying: the rejected messages' offsets are not committed until it succeeds",
					"topic", p.o.Kafka.DeadLetterTopic, "messages", len(batch), "err", err, "failures_since_last_line", held)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
		}
		p.o.Metrics.DeadLettered.Add(float64(len(batch)))
		p.track.done(refs)
	}
}
