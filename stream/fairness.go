package stream

import (
	"context"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/segmentio/kafka-go"
)

// Fairness under skew. One fetch loop feeds every shard in fetch order; a
// shard behind a very busy series (a burst of one device's backlog, one
// series far faster than the rest) would, if the loop waited for it, hold
// every other shard idle and every other series' samples in Kafka. Instead
// the loop keeps a backlog per shard: what a shard's full queue cannot
// take yet waits there, and the loop goes on with the next message. Once a
// backlog holds more than the shard's queue does, the input partitions
// that fill it (a quarter of the queue or more each) are paused (the loop
// takes no more of their messages, their readers stop once their queues
// are full, and Kafka keeps the rest), so the other partitions keep
// flowing and the memory stays bounded; they resume once the backlog is
// down to half the queue. The readers' messages
// wait in one queue per partition, taken in turn (partitionQueues), so a
// partition with a backlog cannot fill a queue the others wait in. Only
// when a backlog reaches twice the shard's queue (a message of many
// samples), or when the reader cannot pause, does the loop wait for that
// shard, as a bounded queue must.

// partitionQueues hands the messages of several partition readers to the
// fetch loop: one bounded queue per partition, served in turn (a partition
// with a backlog does not fill a queue they share), skipping the paused
// ones. Safe for concurrent use: each reader goroutine pushes its
// partition's messages, the fetch loop takes them and pauses and resumes.
type partitionQueues struct {
	limit int           // messages a partition's queue holds
	ready chan struct{} // told on a push, a resume and a reader's end
	mu    sync.Mutex
	parts []*partitionQueue
	byKey map[partitionKey]*partitionQueue
	next  int   // the partition served next, in turn
	avail int   // messages in queues not paused
	held  int   // messages in all queues
	open  int   // readers not ended
	err   error // a reader's failure, returned by fetch at once
}

type partitionQueue struct {
	key    partitionKey
	msgs   []kafka.Message
	head   int
	paused bool
	room   chan struct{} // told when a message is taken
}

func (q *partitionQueue) len() int { return len(q.msgs) - q.head }

// newPartitionQueues returns queues for partitions parts, limit messages
// each, all of whose readers are open.
func newPartitionQueues(parts []partitionKey, limit int) *partitionQueues {
	q := &partitionQueues{limit: max(1, limit), ready: make(chan struct{}, 1), byKey: map[partitionKey]*partitionQueue{}, open: len(parts)}
	for _, k := range parts {
		if q.byKey[k] != nil {
			continue // two readers of one partition share its queue
		}
		pq := &partitionQueue{key: k, room: make(chan struct{}, 1)}
		q.parts = append(q.parts, pq)
		q.byKey[k] = pq
	}
	return q
}

// comparePartitions orders partitions by topic, then number.
func comparePartitions(a, b partitionKey) int {
	if c := strings.Compare(a.topic, b.topic); c != 0 {
		return c
	}
	return a.partition - b.partition
}

// tell signals c (capacity 1) without waiting: a signal already pending
// stands for this one.
func tell(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// push adds a message of partition k, waiting while its queue is full.
func (q *partitionQueues) push(ctx context.Context, k partitionKey, m kafka.Message) error {
	pq := q.byKey[k]
	for {
		q.mu.Lock()
		if pq.len() < q.limit {
			pq.msgs = append(pq.msgs, m)
			q.held++
			if !pq.paused {
				q.avail++
			}
			q.mu.Unlock()
			tell(q.ready)
			return nil
		}
		q.mu.Unlock()
		select {
		case <-pq.room:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// ended says that one reader will push no more; err, if not nil, is why,
// and the next fetch returns it.
func (q *partitionQueues) ended(err error) {
	q.mu.Lock()
	q.open--
	if q.err == nil {
		q.err = err
	}
	q.mu.Unlock()
	tell(q.ready)
}

// take returns the next message of the partitions in turn, skipping
// paused and empty ones; done reports that every reader has ended and
// every queue is empty.
func (q *partitionQueues) take() (m kafka.Message, ok, done bool, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err != nil {
		return m, false, false, q.err
	}
	if q.avail > 0 {
		for i := range q.parts {
			pq := q.parts[(q.next+i)%len(q.parts)]
			if pq.paused || pq.len() == 0 {
				continue
			}
			m = pq.msgs[pq.head]
			pq.msgs[pq.head] = kafka.Message{}
			switch pq.head++; {
			case pq.head == len(pq.msgs):
				pq.msgs, pq.head = pq.msgs[:0], 0
			case pq.head >= q.limit:
				// A queue that never empties (a steady flow) must not
				// grow its array behind the head: at most twice the limit.
				n := copy(pq.msgs, pq.msgs[pq.head:])
				clear(pq.msgs[n:])
				pq.msgs, pq.head = pq.msgs[:n], 0
			}
			q.avail--
			q.held--
			q.next = (q.next + i + 1) % len(q.parts)
			tell(pq.room)
			return m, true, false, nil
		}
	}
	// A paused queue's messages still count: its partition resumes once
	// its shard has room, and a bounded source is not done before.
	return m, false, q.open == 0 && q.held == 0, nil
}

// fetch waits for the next message; a reader's error, or io.EOF once
// every reader has ended and its queue is empty.
func (q *partitionQueues) fetch(ctx context.Context) (kafka.Message, error) {
	for {
		m, ok, done, err := q.take()
		if err != nil {
			return m, err
		}
		if ok {
			return m, nil
		}
		if done {
			return m, io.EOF
		}
		select {
		case <-q.ready:
		case <-ctx.Done():
			return kafka.Message{}, ctx.Err()
		}
	}
}

// buffered is how many messages the fetch loop can take without waiting.
func (q *partitionQueues) buffered() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.avail
}

func (q *partitionQueues) pause(k partitionKey) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if pq, ok := q.byKey[k]; ok && !pq.paused {
		pq.paused = true
		q.avail -= pq.len()
	}
}

func (q *partitionQueues) resume(k partitionKey) {
	q.mu.Lock()
	if pq, ok := q.byKey[k]; ok && pq.paused {
		pq.paused = false
		q.avail += pq.len()
	}
	q.mu.Unlock()
	tell(q.ready)
}

// pausableFetcher is a reader whose partitions the fetch loop can pause.
type pausableFetcher interface {
	partitions() *partitionQueues
}

// handoff is the fetch loop's side of the shard queues: the samples
// batched for each shard, each shard's backlog, and the spent batches the
// shards hand back. It belongs to the fetch loop's goroutine.
type handoff struct {
	shards  []chan []work
	spent   []chan []work
	pending [][]work
	backlog []shardBacklog
	// room is told when a shard took a batch (nil: never); the loop waits
	// on it instead of on the reader alone while a backlog waits.
	room <-chan struct{}
	// gate pauses partitions (nil: the reader cannot; a full backlog makes
	// the loop wait for its shard).
	gate *partitionQueues
	// pausedBy counts, per paused partition, the backlogs that paused it.
	pausedBy map[partitionKey]int
	high     int // samples a backlog holds before its partitions pause
	metrics  *Metrics
}

// shardBacklog is what a shard's full queue has not taken yet, oldest
// batch first.
type shardBacklog struct {
	batches [][]work
	samples int
	parts   map[partitionKey]int // samples in batches, per input partition
	paused  []partitionKey       // the partitions this backlog paused
}

// enqueue appends batch to the backlog.
func (b *shardBacklog) enqueue(batch []work) {
	if b.parts == nil {
		b.parts = map[partitionKey]int{}
	}
	b.batches = append(b.batches, batch)
	b.samples += len(batch)
	for k := range batch {
		b.parts[batch[k].ref.part]++
	}
}

// dequeue drops the backlog's oldest batch (its shard has taken it).
func (b *shardBacklog) dequeue() {
	batch := b.batches[0]
	b.samples -= len(batch)
	for k := range batch {
		part := batch[k].ref.part
		if b.parts[part]--; b.parts[part] == 0 {
			delete(b.parts, part)
		}
	}
	b.batches[0] = nil // the shard's now
	b.batches = b.batches[1:]
}

// init sizes the handoff for its shards: a backlog pauses its partitions
// beyond as many samples as its shard's queue holds.
func (h *handoff) init(gate *partitionQueues, m *Metrics) {
	n := len(h.shards)
	h.pending = make([][]work, n)
	h.backlog = make([]shardBacklog, n)
	h.gate, h.metrics = gate, m
	h.pausedBy = map[partitionKey]int{}
	h.high = handoffBatch
	if n > 0 {
		h.high = max(1, cap(h.shards[0])) * handoffBatch
	}
}

// add batches w for shard i; full batches go over (or to the backlog) at
// once. False if drain ended while the loop had to wait.
func (h *handoff) add(drain context.Context, i int, w work) bool {
	h.pending[i] = append(h.pending[i], w)
	if len(h.pending[i]) < handoffBatch {
		return true
	}
	return h.push(drain, i)
}

// push moves shard i's pending batch to its queue, or behind its backlog;
// false if drain ended while the loop had to wait for the shard.
func (h *handoff) push(drain context.Context, i int) bool {
	if len(h.pending[i]) == 0 {
		return true
	}
	b := &h.backlog[i]
	batch := h.pending[i]
	h.pending[i] = h.freshBatch(i)
	if len(b.batches) == 0 {
		select {
		case h.shards[i] <- batch:
			return true
		default:
		}
	}
	b.enqueue(batch)
	if b.samples <= h.high {
		return true
	}
	if h.gate != nil && b.samples <= 2*h.high {
		h.pauseFor(i)
		return true
	}
	return h.drainShard(drain, i)
}

// freshBatch returns an empty batch for shard i: one its shard handed
// back, else a new one.
func (h *handoff) freshBatch(i int) []work {
	select {
	case s := <-h.spent[i]:
		return s[:0]
	default:
		return make([]work, 0, handoffBatch)
	}
}

// pauseFor pauses the partitions that fill shard i's backlog beyond its
// bound: each holding a quarter of the shard's queue or more there. A
// partition with only a few samples in it (a series that shares the
// busy series' shard) keeps flowing for its series on the other shards.
func (h *handoff) pauseFor(i int) {
	b := &h.backlog[i]
	for part, n := range b.parts {
		if n < h.high/4 || slices.Contains(b.paused, part) {
			continue
		}
		b.paused = append(b.paused, part)
		if h.pausedBy[part]++; h.pausedBy[part] == 1 {
			h.gate.pause(part)
			h.metrics.PartitionPauses.Inc()
			h.metrics.PausedPartitions.Inc()
		}
	}
}

// release resumes the partitions shard i's backlog paused, unless another
// backlog holds them paused too; once the backlog is down to half its
// bound (not empty: a partition not paused may keep a trickle in it).
func (h *handoff) release(i int) {
	b := &h.backlog[i]
	if b.samples > h.high/2 {
		return
	}
	for _, part := range b.paused {
		if h.pausedBy[part]--; h.pausedBy[part] == 0 {
			delete(h.pausedBy, part)
			h.gate.resume(part)
			h.metrics.PausedPartitions.Dec()
		}
	}
	b.paused = b.paused[:0]
}

// forgetPauses takes the partitions still paused off the gauge when the
// fetch loop ends (a stop cut short, a generation's end): the readers end
// with it, and the next generation counts its own.
func (h *handoff) forgetPauses() {
	for range h.pausedBy {
		h.metrics.PausedPartitions.Dec()
	}
	clear(h.pausedBy)
}

// offerBacklogs hands each shard as much of its backlog as its queue takes
// now, without waiting.
func (h *handoff) offerBacklogs() {
	for i := range h.backlog {
		b := &h.backlog[i]
		if len(b.batches) == 0 {
			continue
		}
	offer:
		for len(b.batches) > 0 {
			select {
			case h.shards[i] <- b.batches[0]:
				b.dequeue()
			default:
				break offer
			}
		}
		h.release(i)
	}
}

// backlogged reports whether some shard has a backlog.
func (h *handoff) backlogged() bool {
	for i := range h.backlog {
		if len(h.backlog[i].batches) > 0 {
			return true
		}
	}
	return false
}

// offerAll moves every pending batch to its queue or backlog without
// waiting (before a fetch that may block).
func (h *handoff) offerAll(drain context.Context) bool {
	h.offerBacklogs()
	for i := range h.shards {
		if !h.push(drain, i) {
			return false
		}
	}
	return true
}

// drainShard waits until shard i has taken its whole backlog; false if
// drain ended first.
func (h *handoff) drainShard(drain context.Context, i int) bool {
	b := &h.backlog[i]
	for len(b.batches) > 0 {
		select {
		case h.shards[i] <- b.batches[0]:
			b.dequeue()
		case <-drain.Done():
			return false
		}
	}
	h.release(i)
	return true
}

// sendAll hands every shard its backlog and pending samples, waiting for
// each (before a checkpoint round's barrier, and at a stop); false if
// drain ended first.
func (h *handoff) sendAll(drain context.Context) bool {
	for i := range h.shards {
		if len(h.pending[i]) > 0 {
			h.backlog[i].enqueue(h.pending[i])
			h.pending[i] = h.freshBatch(i)
		}
		if !h.drainShard(drain, i) {
			return false
		}
	}
	return true
}
