package stream

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/aewatch/aewatch/detector"
	"github.com/aewatch/aewatch/internal/statecodec"
)

// CheckpointConfig enables checkpoints of every detector's state to a
// compacted Kafka topic keyed by series, partition for partition with the
// input, each recording the input offset it reflects.
type CheckpointConfig struct {
	Enabled bool `yaml:"enabled"`
	// Topic is the checkpoint topic; empty means "<kafka.group>-checkpoints".
	Topic string `yaml:"topic"`
	// Interval is how often a checkpoint round runs while consuming; a
	// round also runs at every clean shutdown.
	Interval time.Duration `yaml:"interval"`
	// MaxBatchBytes bounds one produce request of checkpoints; it must not
	// exceed the broker's message.max.bytes (1 MiB by default).
	MaxBatchBytes int `yaml:"max_batch_bytes"`
	// RoundBytes bounds the snapshots a round holds in memory at once: they
	// are taken and written a batch at a time.
	RoundBytes int64 `yaml:"round_bytes"`
	// RestoreBytes bounds the states a start (or a rebalance) loads into
	// memory; checkpoints beyond it are read when their series returns.
	RestoreBytes int64 `yaml:"restore_bytes"`
}

// DefaultCheckpointConfig returns the defaults.
func DefaultCheckpointConfig() CheckpointConfig {
	return CheckpointConfig{Enabled: true, Interval: 30 * time.Second, MaxBatchBytes: 1 << 20, RoundBytes: DefaultRoundBytes,
		RestoreBytes: 512 << 20}
}

// TopicFor returns the checkpoint topic of a consumer group.
func (c CheckpointConfig) TopicFor(group string) string {
	if c.Topic != "" {
		return c.Topic
	}
	return group + "-checkpoints"
}

// Validate names the first invalid field and its value.
func (c CheckpointConfig) Validate() error {
	if c.Enabled && c.Interval < 100*time.Millisecond {
		return fmt.Errorf("checkpoint.interval: must be >= 100ms (got %v)", c.Interval)
	}
	if c.Enabled && (c.MaxBatchBytes < 64<<10 || c.MaxBatchBytes > 1<<30) {
		return fmt.Errorf("checkpoint.max_batch_bytes: must be in [65536, 1073741824] (got %d)", c.MaxBatchBytes)
	}
	if c.Enabled && (c.RoundBytes < 1<<20 || c.RoundBytes > 1<<40) {
		return fmt.Errorf("checkpoint.round_bytes: must be in [1048576, 1099511627776] (got %d)", c.RoundBytes)
	}
	if c.Enabled && (c.RestoreBytes < 1<<20 || c.RestoreBytes > 1<<40) {
		return fmt.Errorf("checkpoint.restore_bytes: must be in [1048576, 1099511627776] (got %d)", c.RestoreBytes)
	}
	return nil
}

// Checkpoint is one detector's state after the input message at
// Topic/Partition/Offset (and all before it in that partition).
type Checkpoint struct {
	Key       string // detector key: series, or series NUL channel
	Topic     string
	Partition int
	Offset    int64
	State     []byte
	// At, when State is nil, is where the checkpoint's record lies: Load
	// leaves states beyond its memory bound in the topic, to be read
	// (Evictor.Fetch) when their series returns.
	At *Locator
	// record, when set, is the checkpoint already encoded (State is a view
	// of its end): a round encodes the state in place, in a reused buffer.
	record []byte
}

const checkpointMagic = "AEWC"

// appendCheckpointHeader appends what precedes a checkpoint's state.
func appendCheckpointHeader(b []byte, c Checkpoint) []byte {
	e := &statecodec.Encoder{Buf: append(b, checkpointMagic...)}
	e.U64(1) // version
	e.Int(len(c.Topic))
	e.Buf = append(e.Buf, c.Topic...)
	e.Int(c.Partition)
	e.I64(c.Offset)
	return e.Buf
}

func encodeCheckpoint(c Checkpoint) []byte {
	if c.record != nil {
		return c.record
	}
	e := &statecodec.Encoder{Buf: appendCheckpointHeader(make([]byte, 0, 64+len(c.Topic)+len(c.State)), c)}
	e.Bytes(c.State)
	return e.Buf
}

// encodeDetector fills c with the state of d, encoded after c's header in
// b (reused: its contents are overwritten).
func encodeDetector(b []byte, c Checkpoint, d *detector.Detector) (Checkpoint, error) {
	b = appendCheckpointHeader(b[:0], c)
	at := len(b)
	b, err := d.AppendBinary(binary.LittleEndian.AppendUint64(b, 0)) // the state's length, set below
	if err != nil {
		return c, err
	}
	binary.LittleEndian.PutUint64(b[at:], uint64(len(b)-at-8))
	c.record, c.State = b, b[at+8:]
	return c, nil
}

func decodeCheckpoint(key string, b []byte) (Checkpoint, error) {
	if len(b) < 4 || string(b[:4]) != checkpointMagic {
		return Checkpoint{}, errors.New("not a checkpoint")
	}
	d := statecodec.NewDecoder(b[4:])
	if v := d.U64(); v != 1 {
		return Checkpoint{}, fmt.Errorf("checkpoint version %d, this build reads 1", v)
	}
	c := Checkpoint{Key: key}
	c.Topic = string(d.Bytes(1 << 10))
	c.Partition, c.Offset = d.Int(), d.I64()
	c.State = d.Bytes(1 << 30)
	return c, d.Done()
}

// KafkaCheckpoints stores checkpoints in a compacted topic.
type KafkaCheckpoints struct {
	Conn  *Conn
	Topic string
	// Partitions is the input topics' partition count, used when the
	// checkpoint topic has to be created.
	Partitions int
	// InputTopics, if set, lets Load skip the checkpoint partitions that
	// hold no input partition it is asked for (a rebalance reads only what
	// moved); partition 0, which also holds the maintenance windows, is
	// always read, and only for those when none of its checkpoints is
	// wanted (then from where the last Load left them).
	InputTopics []string
	// MaxBatchBytes bounds one produce request (the broker's limit).
	MaxBatchBytes int
	// RestoreBytes bounds the states Load holds; beyond it a checkpoint
	// comes back as its Locator only (0: no bound).
	RestoreBytes int64
	Log          *slog.Logger
	// Silences, if set, receives the maintenance windows Load reads back.
	Silences *Silences
	w        *kafka.Writer
	mu       sync.Mutex
	nparts   int // partitions of the checkpoint topic, once known
	// readAhead keeps what read-backs of checkpoints fetched beside the
	// record they wanted.
	readAhead readAhead
	// windowsRead: Silences holds partition 0's maintenance windows up to
	// this offset, so a Load that wants none of partition 0's checkpoints
	// (a rebalance that kept it elsewhere) reads only what came since;
	// windowsInto is the Silences it read them into.
	windowsRead int64
	windowsInto *Silences
	// part0Records counts the records the last Load read from partition 0.
	part0Records int
}

// partitionHeader carries the input partition, so that a checkpoint lands
// in the same-numbered partition of the checkpoint topic.
const partitionHeader = "aewatch-partition"

type headerBalancer struct{}

func (headerBalancer) Balance(m kafka.Message, partitions ...int) int {
	for _, h := range m.Headers {
		if h.Key == partitionHeader {
			p, _ := strconv.Atoi(string(h.Value))
			return partitions[p%len(partitions)]
		}
	}
	return partitions[0]
}

// Load reads the whole topic (creating it, compacted, if it is missing) and
// returns the newest checkpoint per key. Records that fail to decode are
// logged and skipped: their series start fresh. A failure the broker may
// get over (a dropped connection, a broker error) is retried with backoff
// for up to loadRetryFor; a refusal of access is returned at once.
func (k *KafkaCheckpoints) Load(ctx context.Context, keep func(topic string, partition int) bool) (map[string]Checkpoint, error) {
	wait, deadline := 200*time.Millisecond, time.Now().Add(loadRetryFor)
	for attempt := 1; ; attempt++ {
		out, err := k.load(ctx, keep)
		if err == nil || ctx.Err() != nil || accessRefused(err) || time.Now().Add(wait).After(deadline) {
			return out, err
		}
		if k.Log != nil {
			k.Log.Warn("reading the checkpoints failed; retrying", "attempt", attempt, "backoff", wait.String(), "err", err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// loadRetryFor bounds the retries of Load: past it the error ends the run,
// for a supervisor to restart it, rather than hold the group's generation.
const loadRetryFor = 30 * time.Second

// accessRefused reports whether err is Kafka refusing access, which no
// retry cures.
func accessRefused(err error) bool {
	for _, e := range []kafka.Error{kafka.TopicAuthorizationFailed, kafka.GroupAuthorizationFailed,
		kafka.ClusterAuthorizationFailed, kafka.SASLAuthenticationFailed, kafka.TransactionalIDAuthorizationFailed} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func (k *KafkaCheckpoints) load(ctx context.Context, keep func(topic string, partition int) bool) (map[string]Checkpoint, error) {
	client := k.Conn.Client(10 * time.Second)
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{k.Topic}})
	if err != nil {
		return nil, fmt.Errorf("checkpoints: metadata: %w", err)
	}
	out := map[string]Checkpoint{}
	if len(meta.Topics) == 0 || meta.Topics[0].Error != nil || len(meta.Topics[0].Partitions) == 0 {
		// Missing, as far as this broker knows: create it (another
		// instance may be doing the same; "already exists" is fine), then
		// read whatever it holds. Never assume it is empty.
		resp, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
			Topic: k.Topic, NumPartitions: max(1, k.Partitions), ReplicationFactor: 1,
			ConfigEntries: []kafka.ConfigEntry{{ConfigName: "cleanup.policy", ConfigValue: "compact"}}}}})
		if err == nil {
			if terr := resp.Errors[k.Topic]; terr != nil && !errors.Is(terr, kafka.TopicAlreadyExists) {
				err = terr
			}
		}
		if err != nil {
			return nil, fmt.Errorf("checkpoints: create topic %s (checkpoint.topic; the user needs rights to create, read and write it): %w", k.Topic, err)
		}
		for attempt := 0; ; attempt++ {
			meta, err = client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{k.Topic}})
			if err == nil && len(meta.Topics) > 0 && meta.Topics[0].Error == nil && len(meta.Topics[0].Partitions) > 0 {
				break
			}
			if attempt == 50 {
				if err == nil && len(meta.Topics) > 0 {
					err = meta.Topics[0].Error
				}
				return nil, fmt.Errorf("checkpoints: topic %s does not appear after creation: %v", k.Topic, err)
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	var reqs []kafka.OffsetRequest
	for _, p := range meta.Topics[0].Partitions {
		reqs = append(reqs, kafka.FirstOffsetOf(p.ID), kafka.LastOffsetOf(p.ID))
	}
	offs, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{k.Topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("checkpoints: list offsets: %w", err)
	}
	if got := len(offs.Topics[k.Topic]); got != len(meta.Topics[0].Partitions) {
		return nil, fmt.Errorf("checkpoints: list offsets: %d of %d partitions answered", got, len(meta.Topics[0].Partitions))
	}
	// Partitions are read in parallel: a key's records all lie in one.
	l := &loading{out: out, keep: keep, limit: k.RestoreBytes}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, len(offs.Topics[k.Topic]))
	sem := make(chan struct{}, loadParallel)
	var wg sync.WaitGroup
	for _, po := range offs.Topics[k.Topic] {
		if po.Error != nil {
			// Skipping the partition would start its series fresh.
			return nil, fmt.Errorf("checkpoints: list offsets of %s/%d: %w", k.Topic, po.Partition, po.Error)
		}
	}
	wanted, err := k.wantedPartitions(ctx, client, keep, len(meta.Topics[0].Partitions))
	if err != nil {
		return nil, err
	}
	k.part0Records = 0
	for _, po := range offs.Topics[k.Topic] {
		checkpoints, read := wanted[po.Partition]
		if po.LastOffset <= po.FirstOffset || !read {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := k.loadPartition(ctx, po, l, checkpoints); err != nil {
				errs <- err
				cancel()
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	if l.bad > 0 && k.Log != nil {
		k.Log.Warn("checkpoint records that failed to decode were skipped; their series start fresh", "records", l.bad)
	}
	if l.deferred > 0 && k.Log != nil {
		k.Log.Info("checkpoints beyond checkpoint.restore_bytes stay in the topic until their series returns", "deferred", l.deferred)
	}
	return out, nil
}

// wantedPartitions returns which of the n checkpoint partitions to read,
// each true when it may hold a checkpoint of an input partition keep
// accepts (all of them, without keep or InputTopics); partition 0 is
// always there, for the maintenance windows. The checkpoint of input
// partition p lies in partition p mod n.
func (k *KafkaCheckpoints) wantedPartitions(ctx context.Context, client *kafka.Client, keep func(string, int) bool, n int) (map[int]bool, error) {
	if keep == nil || len(k.InputTopics) == 0 {
		all := make(map[int]bool, n)
		for p := range n {
			all[p] = true
		}
		return all, nil
	}
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: k.InputTopics})
	if err != nil {
		return nil, fmt.Errorf("checkpoints: metadata of the input topics: %w", err)
	}
	wanted := map[int]bool{0: false}
	for _, t := range meta.Topics {
		if errors.Is(t.Error, kafka.UnknownTopicOrPartition) {
			continue // not created yet: no partition of it is kept
		}
		if t.Error != nil {
			return nil, fmt.Errorf("checkpoints: metadata of input topic %s: %w", t.Name, t.Error)
		}
		for _, p := range t.Partitions {
			if keep(t.Name, p.ID) {
				wanted[p.ID%n] = true
			}
		}
	}
	return wanted, nil
}

// loadParallel is how many checkpoint partitions are read at once.
const loadParallel = 4

// loading is what the partitions' readers fill; mu guards it.
type loading struct {
	mu            sync.Mutex
	out           map[string]Checkpoint
	keep          func(topic string, partition int) bool
	limit, held   int64
	bad, deferred int
}

// add records the newest checkpoint of its key, as its locator only once
// the states held reach the limit (a chunked one is always held: its
// manifest does not say where its chunks lie).
func (l *loading) add(c Checkpoint, at Locator, chunked bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if prev, ok := l.out[c.Key]; ok {
		l.held -= int64(len(prev.State))
		if prev.At != nil {
			l.deferred--
		}
	}
	if l.keep != nil && !l.keep(c.Topic, c.Partition) {
		delete(l.out, c.Key) // moved to a partition not ours
		return
	}
	if l.limit > 0 && l.held+int64(len(c.State)) > l.limit && !chunked {
		c.State, c.At = nil, &at
		l.deferred++
	} else {
		l.held += int64(len(c.State))
	}
	l.out[c.Key] = c
}

// loadPartition reads one partition: its maintenance windows, and its
// checkpoints unless checkpoints is false (they are then not decoded, and
// partition 0 is read from where the last Load left its windows).
func (k *KafkaCheckpoints) loadPartition(ctx context.Context, po kafka.PartitionOffsets, l *loading, checkpoints bool) error {
	from := po.FirstOffset
	if po.Partition == 0 {
		if !checkpoints && k.Silences != nil && k.windowsInto == k.Silences && k.windowsRead <= po.LastOffset {
			from = max(from, k.windowsRead)
		}
		if from >= po.LastOffset {
			return nil
		}
	}
	// Fetches of two produce batches: a batch is never larger than
	// batchLimit, and much larger fetches cost a broker that builds them
	// in memory more than they save (kfake with a data dir: a 64 MiB fetch
	// read 20,000 checkpoints of 50 KB 5 times slower than a 1 MiB one).
	// Fetch requests of our own, not a partition reader: a reader gives up
	// on an answer slower than its MaxWait and redials, so a broker that
	// answered in 300 ms never let the load finish.
	chunks := map[string][][]byte{} // the newest chunks read so far, per checkpoint key
	lastRead := time.Now()
	for off := from; off < po.LastOffset; {
		batch, err := k.Conn.fetchBatch(ctx, k.Topic, po.Partition, off, 2*k.batchLimit())
		if err != nil {
			return fmt.Errorf("checkpoints: read %s/%d@%d: %w", k.Topic, po.Partition, off, err)
		}
		progressed := false
		for _, m := range batch {
			if m.Offset < off || m.Offset >= po.LastOffset {
				continue
			}
			progressed, off = true, m.Offset+1
			k.loadRecord(m, po.Partition, l, checkpoints, chunks)
		}
		if progressed {
			lastRead = time.Now()
		} else if time.Since(lastRead) > checkpointReadStall {
			return fmt.Errorf("checkpoints: read %s/%d: no record for %v before offset %d, where the partition ended when the load began",
				k.Topic, po.Partition, checkpointReadStall, po.LastOffset)
		} else {
			select { // an empty answer: the broker may answer the next at once
			case <-ctx.Done():
				return fmt.Errorf("checkpoints: read %s/%d: %w", k.Topic, po.Partition, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	if po.Partition == 0 {
		k.windowsRead, k.windowsInto = po.LastOffset, k.Silences
	}
	return nil
}

// loadRecord takes one record of the checkpoint topic: a maintenance
// window, or a checkpoint (or a chunk of one) when checkpoints is set.
func (k *KafkaCheckpoints) loadRecord(m kafka.Message, partition int, l *loading, checkpoints bool, chunks map[string][][]byte) {
	if partition == 0 {
		k.part0Records++
	}
	if id, ok := strings.CutPrefix(string(m.Key), silenceKeyPrefix); ok {
		k.readSilence(id, m.Value)
	} else if checkpoints && len(m.Value) > 0 { // an empty value is a tombstone
		c, complete, err := decodeRecord(string(m.Key), m.Value, chunks)
		switch {
		case err != nil:
			l.mu.Lock()
			l.bad++
			l.mu.Unlock()
		case complete:
			l.add(c, Locator{Partition: partition, Offset: m.Offset}, hasMagic(m.Value, manifestMagic))
		}
	}
}

// checkpointReadStall bounds the wait for a checkpoint record while a
// partition is read up to where it ended: past it the load fails (and is
// retried, then ends the run) rather than hold the generation for ever.
var checkpointReadStall = 30 * time.Second

// batchLimit is the most one produce request of checkpoints carries.
func (k *KafkaCheckpoints) batchLimit() int {
	if k.MaxBatchBytes <= 0 {
		return 1 << 20
	}
	return k.MaxBatchBytes
}

// Save writes a round of checkpoints, a bounded batch at a time, and
// returns once Kafka has them all.
func (k *KafkaCheckpoints) Save(ctx context.Context, cps []Checkpoint) error {
	limit := k.batchLimit()
	if k.w == nil {
		k.w = k.Conn.Writer(&kafka.Writer{Topic: k.Topic, Balancer: headerBalancer{},
			RequiredAcks: kafka.RequireAll, BatchSize: 1000, BatchBytes: int64(limit), BatchTimeout: time.Millisecond})
	}
	var msgs []kafka.Message
	size := 0
	flush := func() error {
		if len(msgs) == 0 {
			return nil
		}
		if err := k.w.WriteMessages(ctx, msgs...); err != nil {
			return fmt.Errorf("checkpoints: write %d: %w", len(msgs), err)
		}
		msgs, size = msgs[:0], 0
		return nil
	}
	add := func(m kafka.Message) error {
		n := len(m.Value) + len(m.Key) + recordOverhead
		if size+n > limit {
			if err := flush(); err != nil {
				return err
			}
		}
		msgs = append(msgs, m)
		size += n
		return nil
	}
	// Manifests go once all chunks are acknowledged, so that a reader never
	// sees a manifest before its chunks.
	var manifests []kafka.Message
	for _, c := range cps {
		v := encodeCheckpoint(c)
		headers := []kafka.Header{{Key: partitionHeader, Value: []byte(strconv.Itoa(c.Partition))}}
		if len(v)+len(c.Key)+recordOverhead > limit {
			parts := chunked(c.Key, v, limit)
			for i, part := range parts {
				if err := add(kafka.Message{Key: []byte(chunkKey(c.Key, i)), Value: part, Headers: headers}); err != nil {
					return err
				}
			}
			manifests = append(manifests, kafka.Message{Key: []byte(c.Key), Headers: headers,
				Value: encodeManifest(manifest{chunks: len(parts), length: len(v), crc: crc32Of(v)})})
			continue
		}
		if err := add(kafka.Message{Key: []byte(c.Key), Value: v, Headers: headers}); err != nil {
			return err
		}
	}
	if err := flush(); err != nil {
		return err
	}
	for _, m := range manifests {
		if err := add(m); err != nil {
			return err
		}
	}
	return flush()
}

// Close releases the writer.
func (k *KafkaCheckpoints) Close() error {
	if k.w != nil {
		return k.w.Close()
	}
	return nil
}

// decodeRecord decodes one record of the checkpoint topic: a checkpoint,
// a manifest (assembled from the chunks read before it), or a chunk (kept
// in chunks; complete is false).
func decodeRecord(key string, value []byte, chunks map[string][][]byte) (c Checkpoint, complete bool, err error) {
	switch {
	case hasMagic(value, chunkMagic):
		base, i, ok := splitKey(key)
		if !ok || i >= 1<<20 {
			return c, false, fmt.Errorf("checkpoints: bad chunk key %q", key)
		}
		cs := chunks[base]
		for len(cs) <= i {
			cs = append(cs, nil)
		}
		cs[i] = append([]byte(nil), value[len(chunkMagic):]...)
		chunks[base] = cs
		return c, false, nil
	case hasMagic(value, manifestMagic):
		mf, err := decodeManifest(value)
		if err != nil {
			return c, false, err
		}
		v, err := assemble(mf, firstN(chunks[key], mf.chunks))
		if err != nil {
			return c, false, err
		}
		c, err = decodeCheckpoint(key, v)
		return c, err == nil, err
	}
	c, err = decodeCheckpoint(key, value)
	return c, err == nil, err
}

// firstN returns the first n of cs (all of them if there are fewer).
func firstN(cs [][]byte, n int) [][]byte {
	return cs[:min(n, len(cs))]
}
