package stream

// Evicted detectors' checkpoints: one record (or chunks and a manifest)
// written at once and read back by its locator when the series returns.

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// Locator is where one evicted detector's checkpoint record lies.
type Locator struct {
	Partition int
	Offset    int64
}

func (k *KafkaCheckpoints) partitionsOf(ctx context.Context) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.nparts > 0 {
		return k.nparts, nil
	}
	client := k.Conn.Client(10 * time.Second)
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{k.Topic}})
	if err != nil || len(meta.Topics) == 0 || len(meta.Topics[0].Partitions) == 0 {
		return 0, fmt.Errorf("checkpoints: partitions of %s: %v", k.Topic, err)
	}
	k.nparts = len(meta.Topics[0].Partitions)
	return k.nparts, nil
}

// Evict writes one checkpoint (as chunks and a manifest if it is over the
// record limit) and returns where it landed. The record is the key's
// newest, so compaction keeps it until the key is written again.
func (k *KafkaCheckpoints) Evict(ctx context.Context, c Checkpoint) (Locator, error) {
	n, err := k.partitionsOf(ctx)
	if err != nil {
		return Locator{}, err
	}
	part := c.Partition % n
	v := encodeCheckpoint(c)
	limit := k.batchLimit()
	if len(v)+len(c.Key)+recordOverhead <= limit {
		return k.produce(ctx, part, c.Key, v)
	}
	parts := chunked(c.Key, v, limit)
	mf := manifest{chunks: len(parts), length: len(v), crc: crc32Of(v)}
	for i, p := range parts {
		at, err := k.produce(ctx, part, chunkKey(c.Key, i), p)
		if err != nil {
			return Locator{}, err
		}
		mf.at = append(mf.at, at)
	}
	return k.produce(ctx, part, c.Key, encodeManifest(mf))
}

func (k *KafkaCheckpoints) produce(ctx context.Context, part int, key string, value []byte) (Locator, error) {
	client := k.Conn.Client(10 * time.Second)
	var v kafka.Bytes // nil value: a tombstone
	if value != nil {
		v = kafka.NewBytes(value)
	}
	resp, err := client.Produce(ctx, &kafka.ProduceRequest{Topic: k.Topic, Partition: part, RequiredAcks: kafka.RequireAll,
		Records: kafka.NewRecordReader(kafka.Record{Key: kafka.NewBytes([]byte(key)), Value: v})})
	if err == nil {
		err = resp.Error
	}
	if err != nil {
		return Locator{}, fmt.Errorf("checkpoints: write %q: %w", key, err)
	}
	return Locator{Partition: part, Offset: resp.BaseOffset}, nil
}

// record reads the one record at l with a single fetch request (a
// partition reader costs a connection and its MaxWait: 60 ms a record).
// The fetch brings the whole batch holding it (a round writes about 20
// checkpoints a batch, in the order their series were last seen, which is
// about the order they return in): the batch's other records are kept,
// up to four batches' bytes, for the reads that follow.
func (k *KafkaCheckpoints) record(ctx context.Context, l Locator) (kafka.Message, error) {
	if m, ok := k.readAhead.take(l); ok {
		return m, nil
	}
	batch, err := k.Conn.fetchBatch(ctx, k.Topic, l.Partition, l.Offset, 1<<16)
	if err != nil {
		return kafka.Message{}, fmt.Errorf("checkpoints: read %s/%d@%d: %w", k.Topic, l.Partition, l.Offset, err)
	}
	var found *kafka.Message
	var others []kafka.Message
	for i, m := range batch {
		if found == nil && m.Offset >= l.Offset { // the first at or after l: compaction may have removed l's
			found = &batch[i]
		} else {
			others = append(others, m)
		}
	}
	if found == nil {
		return kafka.Message{}, fmt.Errorf("checkpoints: read %s/%d@%d: no such record (%d records fetched)", k.Topic, l.Partition, l.Offset, len(batch))
	}
	k.readAhead.keep(others, 4*k.batchLimit())
	return *found, nil
}

// readAhead holds records a read-back fetched beside the one it wanted,
// by locator, oldest dropped first beyond a byte bound; a record is
// handed out once. Records at an offset never change, so a kept one is
// never stale.
type readAhead struct {
	mu    sync.Mutex
	byLoc map[Locator]kafka.Message
	order []Locator // insertion order; may name records already taken
	bytes int
	hits  int // reads it answered
}

func (a *readAhead) take(l Locator) (kafka.Message, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	m, ok := a.byLoc[l]
	if ok {
		delete(a.byLoc, l)
		a.bytes -= len(m.Key) + len(m.Value)
		a.hits++
	}
	return m, ok
}

func (a *readAhead) keep(ms []kafka.Message, limit int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.byLoc == nil {
		a.byLoc = map[Locator]kafka.Message{}
	}
	for _, m := range ms {
		l := Locator{Partition: m.Partition, Offset: m.Offset}
		if _, ok := a.byLoc[l]; ok {
			continue
		}
		a.byLoc[l] = m
		a.order = append(a.order, l)
		a.bytes += len(m.Key) + len(m.Value)
	}
	for a.bytes > limit && len(a.order) > 0 {
		if m, ok := a.byLoc[a.order[0]]; ok {
			delete(a.byLoc, a.order[0])
			a.bytes -= len(m.Key) + len(m.Value)
		}
		a.order = a.order[1:]
	}
	if len(a.byLoc) == 0 {
		a.order = a.order[:0]
	}
}

// Fetch reads back an evicted detector's checkpoint.
func (k *KafkaCheckpoints) Fetch(ctx context.Context, key string, at Locator) (Checkpoint, error) {
	m, err := k.record(ctx, at)
	if err != nil {
		return Checkpoint{}, err
	}
	if string(m.Key) != key {
		return Checkpoint{}, fmt.Errorf("checkpoints: record %d/%d holds %q, want %q", at.Partition, at.Offset, m.Key, key)
	}
	if !hasMagic(m.Value, manifestMagic) {
		return decodeCheckpoint(key, m.Value)
	}
	mf, err := decodeManifest(m.Value)
	if err != nil {
		return Checkpoint{}, err
	}
	if len(mf.at) != mf.chunks {
		return Checkpoint{}, fmt.Errorf("checkpoints: manifest of %q locates %d of %d chunks", key, len(mf.at), mf.chunks)
	}
	parts := make([][]byte, mf.chunks)
	for i, l := range mf.at {
		cm, err := k.record(ctx, l)
		if err != nil {
			return Checkpoint{}, err
		}
		if string(cm.Key) != chunkKey(key, i) || !hasMagic(cm.Value, chunkMagic) {
			return Checkpoint{}, fmt.Errorf("checkpoints: record %d/%d is not chunk %d of %q", l.Partition, l.Offset, i, key)
		}
		parts[i] = cm.Value[len(chunkMagic):]
	}
	v, err := assemble(mf, parts)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoints: %q: %w", key, err)
	}
	return decodeCheckpoint(key, v)
}
