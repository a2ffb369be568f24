package stream

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/aewatch/aewatch/stream/codec"
)

// ReplayRange is one partition's part of a replay: offsets [Start, End).
type ReplayRange struct {
	Topic     string
	Partition int
	Start     int64
	End       int64 // the partition's end offset when the replay was planned
	// Scan says the start was not found by timestamp (records are not
	// stamped with event time) and the partition is read from its oldest
	// record and filtered.
	Scan bool
}

// ReplayPlan is what a replay will read.
type ReplayPlan struct {
	Ranges []ReplayRange
	// Oldest is the event time of the oldest retained record over all
	// partitions (zero when the topics are empty).
	Oldest time.Time
}

// Messages counts the messages a plan reads.
func (p ReplayPlan) Messages() int64 {
	var n int64
	for _, r := range p.Ranges {
		n += r.End - r.Start
	}
	return n
}

// PlanReplay finds, per partition of the topics, where samples from `from`
// on start (Kafka's offset-for-timestamp lookup) and where the partition
// ends now. It checks that records are stamped with their samples' event
// time; where they are not, that partition is read from its oldest record
// and filtered, and the log says so. A zero from means the oldest record.
func PlanReplay(ctx context.Context, conn *Conn, kcfg KafkaConfig, from time.Time, log *slog.Logger) (ReplayPlan, error) {
	topics := kcfg.Topics
	client := conn.Client(10 * time.Second)
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return ReplayPlan{}, fmt.Errorf("replay: metadata: %w", conn.Explain(ctx, err))
	}
	var plan ReplayPlan
	for _, t := range meta.Topics {
		if t.Error != nil {
			return ReplayPlan{}, fmt.Errorf("replay: topic %q: %w", t.Name, t.Error)
		}
		if len(t.Partitions) == 0 {
			return ReplayPlan{}, fmt.Errorf("replay: topic %q: no partitions (does it exist?)", t.Name)
		}
		dec, err := kcfg.Decoder(t.Name)
		if err != nil {
			return ReplayPlan{}, err
		}
		var reqs []kafka.OffsetRequest
		for _, p := range t.Partitions {
			reqs = append(reqs, kafka.FirstOffsetOf(p.ID), kafka.LastOffsetOf(p.ID))
			if !from.IsZero() {
				reqs = append(reqs, kafka.TimeOffsetOf(p.ID, from))
			}
		}
		offs, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{t.Name: reqs}})
		if err != nil {
			return ReplayPlan{}, fmt.Errorf("replay: list offsets of %q: %w", t.Name, err)
		}
		for _, po := range offs.Topics[t.Name] {
			if po.Error != nil {
				return ReplayPlan{}, fmt.Errorf("replay: topic %q partition %d: %w", t.Name, po.Partition, po.Error)
			}
			r := ReplayRange{Topic: t.Name, Partition: po.Partition, Start: po.FirstOffset, End: po.LastOffset}
			if r.End > r.Start {
				first, err := readOne(ctx, conn, t.Name, po.Partition, po.FirstOffset)
				if err != nil {
					return ReplayPlan{}, err
				}
				if et, ok := eventTime(dec, first); ok && (plan.Oldest.IsZero() || et.Before(plan.Oldest)) {
					plan.Oldest = et
				}
			}
			if !from.IsZero() && r.End > r.Start {
				start := r.End // no record at or after from
				for off := range po.Offsets {
					if off >= 0 {
						start = off
					}
				}
				ok, err := stampedWithEventTime(ctx, conn, dec, t.Name, po.Partition, start, r)
				if err != nil {
					return ReplayPlan{}, err
				}
				if ok {
					r.Start = start
				} else {
					r.Scan = true
					log.Warn("records are not stamped with event time; reading the partition from its oldest record and filtering",
						"topic", t.Name, "partition", po.Partition)
				}
			}
			plan.Ranges = append(plan.Ranges, r)
		}
	}
	return plan, nil
}

// stampedWithEventTime checks the records on both sides of the offset the
// timestamp lookup found: each record's timestamp must be its sample's
// event time (to the millisecond).
func stampedWithEventTime(ctx context.Context, conn *Conn, dec codec.Decoder, topic string, partition int, at int64, r ReplayRange) (bool, error) {
	for _, off := range []int64{at - 1, at} {
		if off < r.Start || off >= r.End {
			continue
		}
		m, err := readOne(ctx, conn, topic, partition, off)
		if err != nil {
			return false, err
		}
		et, ok := eventTime(dec, m)
		if !ok {
			continue // an undecodable record says nothing either way
		}
		if et.UnixMilli() != m.Time.UnixMilli() {
			return false, nil
		}
	}
	return true, nil
}

func eventTime(dec codec.Decoder, m kafka.Message) (time.Time, bool) {
	s, err := dec(nil, m.Value)
	if err != nil || len(s) == 0 {
		return time.Time{}, false
	}
	return time.Unix(0, s[0].Time).UTC(), true
}

// readOne returns the record at off, or the first after it where
// compaction removed it.
func readOne(ctx context.Context, conn *Conn, topic string, partition int, off int64) (kafka.Message, error) {
	batch, err := conn.fetchBatch(ctx, topic, partition, off, 1<<16)
	if err != nil {
		return kafka.Message{}, fmt.Errorf("replay: read %s/%d@%d: %w", topic, partition, off, err)
	}
	for _, m := range batch {
		if m.Offset >= off {
			return m, nil
		}
	}
	return kafka.Message{}, fmt.Errorf("replay: read %s/%d@%d: no record at or after it (%d records fetched)", topic, partition, off, len(batch))
}

// ReplaySource reads the ranges of a plan with partition readers outside
// any consumer group (no group offsets are read or written) and serves
// their messages through FetchMessage, each partition in order, until
// every partition reached its end; then FetchMessage returns io.EOF.
type ReplaySource struct {
	conn  *Conn
	plan  ReplayPlan
	speed float64 // event-time speed-up; 0: as fast as possible
	dec   map[string]codec.Decoder
	// Log takes the readers' skipped offsets read again (nil: not logged).
	Log *slog.Logger

	// queues: one per partition, served in turn; a partition behind a
	// busy shard is paused there (fairness.go).
	queues *partitionQueues
	done   []atomic.Int64 // messages read per range
}

// NewReplaySource prepares a source; Start starts its readers.
func NewReplaySource(conn *Conn, plan ReplayPlan, speed float64, kcfg KafkaConfig) *ReplaySource {
	var keys []partitionKey
	for _, r := range plan.Ranges {
		keys = append(keys, partitionKey{r.Topic, r.Partition})
	}
	s := &ReplaySource{conn: conn, plan: plan, speed: speed, dec: map[string]codec.Decoder{},
		queues: newPartitionQueues(keys, max(16, 1000/max(1, len(keys)))), done: make([]atomic.Int64, len(plan.Ranges))}
	for _, r := range plan.Ranges {
		s.dec[r.Topic], _ = kcfg.Decoder(r.Topic) // PlanReplay made each
	}
	return s
}

// Progress returns, per range, messages read and messages to read.
func (s *ReplaySource) Progress() (done, total []int64) {
	for i, r := range s.plan.Ranges {
		done = append(done, s.done[i].Load())
		total = append(total, r.End-r.Start)
	}
	return done, total
}

// Start starts one reader goroutine per range; they stop at their end
// offsets or when ctx ends.
func (s *ReplaySource) Start(ctx context.Context) {
	for i := range s.plan.Ranges {
		go func() {
			err := s.readRange(ctx, i)
			if ctx.Err() != nil {
				err = nil
			}
			s.queues.ended(err)
		}()
	}
}

func (s *ReplaySource) readRange(ctx context.Context, i int) error {
	rg := s.plan.Ranges[i]
	if rg.End <= rg.Start {
		return nil
	}
	r := s.conn.Reader(kafka.ReaderConfig{Topic: rg.Topic, Partition: rg.Partition,
		MinBytes: 1, MaxBytes: 16 << 20, MaxWait: s.conn.MaxWait, QueueCapacity: 1000})
	defer closeWithin(r, readerCloseWait, nil, "")
	if err := r.SetOffset(rg.Start); err != nil {
		return fmt.Errorf("replay: %s/%d: set offset %d: %w", rg.Topic, rg.Partition, rg.Start, err)
	}
	gr := newGapCheckedReader(r, rg.Topic, rg.Partition, rg.Start, s.Log, nil)
	var wallStart time.Time
	var eventStart int64
	for {
		m, err := gr.FetchMessage(ctx)
		if err != nil {
			return fmt.Errorf("replay: %s/%d: %w", rg.Topic, rg.Partition, err)
		}
		if m.Offset >= rg.End {
			return nil
		}
		if s.speed > 0 {
			if samples, err := s.dec[rg.Topic](nil, m.Value); err == nil && len(samples) > 0 {
				et := samples[0].Time
				if wallStart.IsZero() {
					wallStart, eventStart = time.Now(), et
				}
				wait := time.Until(wallStart.Add(time.Duration(float64(et-eventStart) / s.speed)))
				if wait > 0 {
					select {
					case <-ctx.Done():
						return ctx.Err()
					case <-time.After(wait):
					}
				}
			}
		}
		if err := s.queues.push(ctx, partitionKey{rg.Topic, rg.Partition}, m); err != nil {
			return err
		}
		s.done[i].Add(1)
		if m.Offset >= rg.End-1 {
			return nil
		}
	}
}

// FetchMessage returns the next message of the partitions in turn, io.EOF
// once all ranges are read, or a reader's error.
func (s *ReplaySource) FetchMessage(ctx context.Context) (kafka.Message, error) {
	return s.queues.fetch(ctx)
}

// Buffered says how many read messages wait to be taken.
func (s *ReplaySource) Buffered() int { return s.queues.buffered() }

func (s *ReplaySource) partitions() *partitionQueues { return s.queues }

// CommitMessages does nothing: a replay never touches group offsets.
func (s *ReplaySource) CommitMessages(context.Context, ...kafka.Message) error { return nil }

var (
	_ fetcher         = (*ReplaySource)(nil)
	_ pausableFetcher = (*ReplaySource)(nil)
)
