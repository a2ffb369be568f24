package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"
)

// GroupConsumer runs a Pipeline per consumer-group generation, using
// kafka-go's ConsumerGroup API for the assignment events that the plain
// Reader hides. When a generation ends (a rebalance, or ctx), the pipeline
// stops fetching, checkpoints, writes and commits through the generation
// before the member rejoins. The next generation keeps in memory the
// detectors of the partitions it still owns, where it resumes exactly
// where they end (carry.go), and loads the checkpoints of the partitions
// it gained, so that a partition coming from another instance resumes from
// the state that instance checkpointed.
type GroupConsumer struct {
	// Options is the template of every generation's pipeline (Reader is
	// set per generation).
	Options Options
	// Group configures the consumer group (ID, Brokers, Topics, timeouts).
	Group kafka.ConsumerGroupConfig
	// Conn is how the group and its partition readers connect.
	Conn *Conn
	Log  *slog.Logger
	// ErrorLogger, if set, receives the partition readers' errors (the
	// group's own go to Group.ErrorLogger).
	ErrorLogger kafka.Logger
	// PartitionWatch is how often the input topics' partition counts are
	// checked; a change (partitions added, a topic created) ends the
	// generation, so that the group rebalances over them (0:
	// defaultPartitionWatch). kafka-go's own watcher ends a generation at
	// once when a topic is missing, and the group then rejoins in a tight
	// loop.
	PartitionWatch time.Duration
}

// defaultPartitionWatch is GroupConsumer.PartitionWatch's default.
const defaultPartitionWatch = 5 * time.Second

// Run consumes until ctx ends, then leaves the group.
func (g *GroupConsumer) Run(ctx context.Context) error {
	group := g.Group
	group.Dialer = g.Conn.Dialer()
	cg, err := kafka.NewConsumerGroup(group)
	if err != nil {
		return fmt.Errorf("stream: consumer group: %w", err)
	}
	// Leaving the group can hang in a rebalance (kafka-go #1248): bounded.
	defer closeWithin(cg, 2*time.Second, g.Log, "leaving the consumer group")
	backoff := time.Second
	var kept *carried // the previous generation's detectors
	for {
		gen, err := cg.Next(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, kafka.ErrGroupClosed) {
				return nil
			}
			// Exponential with jitter, so that a group's members do not
			// all retry a failing coordinator in step.
			wait := backoff*3/4 + time.Duration(rand.Int64N(int64(backoff)/2+1))
			g.Log.Warn("joining the consumer group failed; retrying", "backoff", wait.Round(time.Millisecond).String(), "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
			backoff = min(2*backoff, maxJoinBackoff)
			continue
		}
		backoff = time.Second
		if kept, err = g.generation(ctx, gen, kept); err != nil {
			var unwritten *UnwrittenError
			if ctx.Err() != nil || !errors.As(err, &unwritten) {
				return err
			}
			// A rebalance during an outage: what this generation could not
			// write is not committed, so whoever owns those partitions next
			// reads it again; rejoin and go on (writes wait for InfluxDB).
			g.Log.Warn("generation ended with samples unwritten; rejoining", "err", err)
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// maxJoinBackoff bounds the wait between attempts to join the group.
const maxJoinBackoff = 30 * time.Second

// generation runs one pipeline over the generation's partitions, keeping
// what prev (the previous generation's) holds of those it still owns, and
// returns what the next may keep.
func (g *GroupConsumer) generation(ctx context.Context, gen *kafka.Generation, prev *carried) (*carried, error) {
	var parts []string
	start := map[partitionKey]int64{}
	for topic, as := range gen.Assignments {
		for _, a := range as {
			parts = append(parts, fmt.Sprintf("%s/%d@%d", topic, a.ID, a.Offset))
			start[partitionKey{topic, a.ID}] = a.Offset
		}
	}
	g.Log.Info("generation started", "generation", gen.ID, "member", gen.MemberID, "partitions", parts)
	g.forgetMoved(start)
	counts := g.partitionCounts(ctx)
	for _, topic := range g.Group.Topics {
		if n, ok := counts[topic]; ok && n == 0 {
			g.Log.Warn("input topic does not exist: nothing is read from it until it is created",
				"topic", topic, "checked_every", g.partitionWatch().String())
		}
	}
	if len(start) == 0 {
		g.standBy(ctx, gen, counts)
		return nil, nil
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var keys []partitionKey
	for k := range start {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, comparePartitions)
	// As many messages as one queue of 1000 held before, split over the
	// partitions (each at least 16).
	f := &generationFetcher{gen: gen, queues: newPartitionQueues(keys, max(16, 1000/max(1, len(keys))))}
	o := g.Options
	o.Reader = f
	o.Assigned = func(topic string, partition int) bool {
		_, owned := start[partitionKey{topic, partition}]
		return owned
	}
	o.carried = prev.keep(gen.ID, start)
	bounds := partitionBounds(ctx, g.Conn, keys)
	o.bounds = bounds
	pipe, err := New(o)
	if err != nil {
		return nil, err
	}
	done := make(chan struct{})
	// Held open until the pipeline has drained and committed, so that the
	// member does not rejoin (and the generation's commits stay valid) before.
	gen.Start(func(gctx context.Context) {
		select {
		case <-gctx.Done():
			stop()
		case <-runCtx.Done():
		}
		<-done
	})
	if counts != nil {
		gen.Start(func(gctx context.Context) { g.watchPartitions(gctx, counts) })
	}
	for topic, as := range gen.Assignments {
		for _, a := range as {
			topic, a := topic, a
			gen.Start(func(gctx context.Context) {
				b, known := bounds[partitionKey{topic, a.ID}]
				f.readPartition(gctx, g.Conn, topic, a, g.Group.StartOffset, b, known, g.ErrorLogger, g.Log, g.Options.Metrics)
			})
		}
	}
	err = pipe.Run(runCtx)
	close(done)
	g.Log.Info("generation ended", "generation", gen.ID, "err", err)
	if err != nil {
		return nil, err
	}
	return pipe.carry(gen.ID, start), nil
}

// forgetMoved forgets, as a generation begins, the series of partitions
// this member no longer owns (Rebaselines.Keep), and says which series'
// waiting re-baselines that drops.
func (g *GroupConsumer) forgetMoved(owned map[partitionKey]int64) {
	dropped := g.Options.Rebaselines.Keep(func(topic string, partition int) bool {
		_, ok := owned[partitionKey{topic, partition}]
		return ok
	})
	if len(dropped) == 0 {
		return
	}
	const named = 20
	g.Log.Warn("re-baselines dropped: their series' partitions moved to another instance at this rebalance; send them again, to every instance",
		"series", dropped[:min(named, len(dropped))], "dropped", len(dropped))
}

// standBy holds a generation that gave this member no partition (more
// members than partitions, or no input topic yet) until it ends. A
// pipeline over no partition ends at once, and with it the generation:
// the member rejoined, and every member's generation ended with it, about
// once a second.
func (g *GroupConsumer) standBy(ctx context.Context, gen *kafka.Generation, counts map[string]int) {
	g.Log.Info("no partition assigned: standing by until the group rebalances", "generation", gen.ID)
	ended := make(chan struct{})
	gen.Start(func(gctx context.Context) {
		defer close(ended)
		if counts != nil {
			g.watchPartitions(gctx, counts)
			return
		}
		<-gctx.Done()
	})
	select {
	case <-ended:
	case <-ctx.Done():
	}
	g.Log.Info("generation ended", "generation", gen.ID, "err", nil)
}

func (g *GroupConsumer) partitionWatch() time.Duration {
	if g.PartitionWatch > 0 {
		return g.PartitionWatch
	}
	return defaultPartitionWatch
}

// partitionCounts returns each input topic's partition count, 0 for a
// topic that does not exist (nil if the brokers do not answer).
func (g *GroupConsumer) partitionCounts(ctx context.Context) map[string]int {
	ctx, cancel := context.WithTimeout(ctx, requestWait)
	defer cancel()
	meta, err := g.Conn.Client(requestWait).Metadata(ctx, &kafka.MetadataRequest{Topics: g.Group.Topics})
	if err != nil {
		return nil
	}
	counts := make(map[string]int, len(g.Group.Topics))
	for _, t := range meta.Topics {
		switch {
		case t.Error == nil:
			counts[t.Name] = len(t.Partitions)
		case errors.Is(t.Error, kafka.UnknownTopicOrPartition):
			counts[t.Name] = 0
		default:
			return nil // not known
		}
	}
	return counts
}

// watchPartitions returns, ending the generation, once an input topic's
// partition count differs from counts; until then it polls every
// PartitionWatch, going on through errors.
func (g *GroupConsumer) watchPartitions(ctx context.Context, counts map[string]int) {
	tick := time.NewTicker(g.partitionWatch())
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := g.partitionCounts(ctx)
		if now == nil {
			continue
		}
		for topic, n := range now {
			if was, ok := counts[topic]; ok && n != was {
				g.Log.Info("an input topic's partitions changed; rebalancing", "topic", topic, "partitions_before", was, "partitions", n)
				return
			}
		}
	}
}

// generationFetcher serves one generation's partitions to a Pipeline and
// commits through the generation.
type generationFetcher struct {
	gen *kafka.Generation
	// queues: one per partition, served in turn; a partition behind a
	// busy shard is paused there (fairness.go). Its readers never end
	// before the generation does, so it never reports io.EOF.
	queues *partitionQueues
}

func (f *generationFetcher) readPartition(ctx context.Context, conn *Conn, topic string, a kafka.PartitionAssignment,
	start int64, b logBounds, known bool, errLog kafka.Logger, log *slog.Logger, m *Metrics) {
	r := conn.Reader(kafka.ReaderConfig{Topic: topic, Partition: a.ID,
		MinBytes: 1, MaxBytes: 16 << 20, MaxWait: conn.MaxWait, QueueCapacity: 1000, ErrorLogger: errLog})
	// Bounded: the generation ends only once every partition's reader has.
	defer closeWithin(r, readerCloseWait, log, fmt.Sprintf("closing the reader of %s/%d", topic, a.ID))
	off := a.Offset
	switch {
	case off < 0 || !known:
	case off < b.start:
		// The reader resumes at the log start without a word, and a
		// series' gap in the points would be the only sign of what was
		// lost while aewatch was down.
		log.Warn("messages deleted by the broker before they were read: resuming at the partition's log start",
			"topic", topic, "partition", a.ID, "committed_offset", off, "log_start_offset", b.start,
			"messages_lost", b.start-off, "hint", "the topic's retention is shorter than this consumer's downtime")
		if m != nil {
			m.Expired.Add(float64(b.start - off))
		}
		off = b.start // counted here, not again as an offset gap
	case off > b.end:
		// The reader would wait for the old offsets to come back.
		log.Warn("committed offset past the partition's end: the topic was created again or truncated; reading it from kafka.start_offset",
			"topic", topic, "partition", a.ID, "committed_offset", off, "partition_end", b.end, "start_offset", startOffsetName(start))
		off = -1
	}
	if off < 0 {
		off = start
	}
	if err := r.SetOffset(off); err != nil {
		log.Error("cannot seek partition", "topic", topic, "partition", a.ID, "offset", off, "err", err)
		return
	}
	gr := newGapCheckedReader(r, topic, a.ID, off, log, m)
	for {
		msg, err := gr.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			// The reader hands a broker's error over once and goes on
			// retrying by itself; returning here would end the whole
			// generation (kafka-go stops it when any Start function
			// returns), dropping every detector for one failed fetch.
			// The error logger, when set, counts Kafka errors as it logs them.
			if errLog != nil {
				errLog.Printf("fetching a partition failed; retrying: %s/%d: %v", topic, a.ID, err)
			} else {
				log.Warn("fetching a partition failed; retrying", "topic", topic, "partition", a.ID, "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(fetchRetryPause):
			}
			continue
		}
		if f.queues.push(ctx, partitionKey{topic, a.ID}, msg) != nil {
			return
		}
	}
}

// logBounds are a partition's log start and end offsets.
type logBounds struct{ start, end int64 }

// partitionBounds lists the partitions' log bounds in one request (nil if
// the brokers do not answer: the checks that use them are then left out,
// and the readers meet the same trouble and report it).
func partitionBounds(ctx context.Context, conn *Conn, keys []partitionKey) map[partitionKey]logBounds {
	ctx, cancel := context.WithTimeout(ctx, requestWait)
	defer cancel()
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for _, k := range keys {
		req.Topics[k.topic] = append(req.Topics[k.topic], kafka.FirstOffsetOf(k.partition), kafka.LastOffsetOf(k.partition))
	}
	resp, err := conn.Client(requestWait).ListOffsets(ctx, req)
	if err != nil {
		return nil
	}
	out := make(map[partitionKey]logBounds, len(keys))
	for topic, ps := range resp.Topics {
		for _, po := range ps {
			if po.Error == nil {
				out[partitionKey{topic, po.Partition}] = logBounds{po.FirstOffset, po.LastOffset}
			}
		}
	}
	return out
}

// requestWait bounds the group's own requests (partitionBounds,
// partitionCounts).
const requestWait = 10 * time.Second

// startOffsetName names a reader's start offset as kafka.start_offset
// does.
func startOffsetName(off int64) string {
	if off == kafka.LastOffset {
		return "latest"
	}
	return "earliest"
}

// fetchRetryPause spaces the fetches after an error, beside the reader's
// own backoff, so that an error repeated at once cannot spin.
const fetchRetryPause = 100 * time.Millisecond

func (f *generationFetcher) FetchMessage(ctx context.Context) (kafka.Message, error) {
	return f.queues.fetch(ctx)
}

// Buffered says how many fetched messages wait to be taken.
func (f *generationFetcher) Buffered() int { return f.queues.buffered() }

func (f *generationFetcher) partitions() *partitionQueues { return f.queues }

// CommitMessages commits, per partition, the offset after each message.
func (f *generationFetcher) CommitMessages(_ context.Context, msgs ...kafka.Message) error {
	offsets := map[string]map[int]int64{}
	for _, m := range msgs {
		if offsets[m.Topic] == nil {
			offsets[m.Topic] = map[int]int64{}
		}
		offsets[m.Topic][m.Partition] = m.Offset + 1
	}
	return f.gen.CommitOffsets(offsets)
}

var (
	_ fetcher         = (*generationFetcher)(nil)
	_ bufferedFetcher = (*generationFetcher)(nil)
	_ pausableFetcher = (*generationFetcher)(nil)
)
