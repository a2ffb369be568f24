package stream

import (
	"slices"
	"sync"
	"time"
)

// partitionKey names a topic partition.
type partitionKey struct {
	topic     string
	partition int
}

// msgRef ties a sample to the message it came from.
type msgRef struct {
	part   partitionKey
	offset int64
}

// tracker knows, per partition, which fetched messages still have samples
// whose points are not yet acknowledged, and so the highest offset below
// which everything is done.
type tracker struct {
	mu    sync.Mutex
	parts map[partitionKey]*partTrack
	// limited: offsets are committed no further than the last checkpoint
	// round (limits) of their partition.
	limited bool
	limits  map[partitionKey]int64
	sent    map[partitionKey]int64 // last offset handed out by committable
	// latency, if set, is told how long each message with samples took
	// from its fetch until every point scored from it was acknowledged;
	// age, if set, how long from its record's timestamp (the wait in
	// Kafka included; records without one are not told).
	latency, age func(time.Duration)
	epoch        time.Time // monotonic origin of fetched
}

type partTrack struct {
	queue     []int64 // fetched offsets in order, oldest first
	pending   []int   // beside queue: samples not yet acknowledged
	fetched   []int64 // beside queue: when fetched, nanoseconds since the tracker's epoch
	stamped   []int64 // beside queue: the record's timestamp, Unix nanoseconds (0: none)
	head      int
	committed int64 // highest offset known done (-1: none)
}

// find returns the index in queue of a fetched offset not yet done, by
// binary search (offsets arrive in order); ok is false if there is none.
func (p *partTrack) find(off int64) (int, bool) {
	i, ok := slices.BinarySearch(p.queue[p.head:], off)
	return p.head + i, ok
}

func newTracker() *tracker {
	return &tracker{parts: map[partitionKey]*partTrack{}, limits: map[partitionKey]int64{}, sent: map[partitionKey]int64{}, epoch: time.Now()}
}

// doneThrough reports whether every message up to offsets is done.
func (t *tracker) doneThrough(offsets map[partitionKey]int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, off := range offsets {
		if p := t.parts[k]; p == nil || p.committed < off {
			return false
		}
	}
	return true
}

// setLimits records a checkpoint round's offsets.
func (t *tracker) setLimits(offsets map[partitionKey]int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, v := range offsets {
		t.limits[k] = v
	}
}

// add records a fetched message with n samples in flight (0: done now),
// its record stamped at Unix nanoseconds stamp (0: no timestamp).
func (t *tracker) add(ref msgRef, n int, stamp int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.parts[ref.part]
	if p == nil {
		p = &partTrack{committed: -1}
		t.parts[ref.part] = p
	}
	now := int64(time.Since(t.epoch))
	switch i, found := p.find(ref.offset); {
	case found: // fetched again: the newer count stands
		p.pending[i], p.fetched[i], p.stamped[i] = n, now, stamp
	case i == len(p.queue):
		p.queue = append(p.queue, ref.offset)
		p.pending = append(p.pending, n)
		p.fetched = append(p.fetched, now)
		p.stamped = append(p.stamped, stamp)
	default: // out of order, which Kafka does not do within a partition
		p.queue = slices.Insert(p.queue, i, ref.offset)
		p.pending = slices.Insert(p.pending, i, n)
		p.fetched = slices.Insert(p.fetched, i, now)
		p.stamped = slices.Insert(p.stamped, i, stamp)
	}
	p.advance()
}

// done acknowledges one sample of each ref.
func (t *tracker) done(refs []msgRef) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var now, wall int64
	for _, r := range refs {
		p := t.parts[r.part]
		if i, ok := p.find(r.offset); ok {
			if p.pending[i]--; p.pending[i] != 0 {
				continue
			}
			if now == 0 {
				at := time.Now()
				now, wall = int64(at.Sub(t.epoch)), at.UnixNano()
			}
			if t.latency != nil {
				t.latency(time.Duration(now - p.fetched[i]))
			}
			if t.age != nil && p.stamped[i] != 0 {
				// A producer's clock ahead of ours reads as no wait.
				t.age(time.Duration(max(0, wall-p.stamped[i])))
			}
		}
	}
	for _, p := range t.parts {
		p.advance()
	}
}

// outstanding returns how many fetched messages, and samples of them, are
// not yet written.
func (t *tracker) outstanding() (messages, samples int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range t.parts {
		for _, n := range p.pending[p.head:] {
			if n > 0 {
				messages++
				samples += n
			}
		}
	}
	return messages, samples
}

func (p *partTrack) advance() {
	for p.head < len(p.queue) && p.pending[p.head] <= 0 {
		p.committed = p.queue[p.head]
		p.head++
	}
	if p.head > 1024 && p.head*2 > len(p.queue) {
		p.queue = append(p.queue[:0], p.queue[p.head:]...)
		p.pending = append(p.pending[:0], p.pending[p.head:]...)
		p.fetched = append(p.fetched[:0], p.fetched[p.head:]...)
		p.stamped = append(p.stamped[:0], p.stamped[p.head:]...)
		p.head = 0
	}
}

// committable returns, per partition whose commit point moved, the highest
// offset below which every message is done (and, when limited, that the
// last checkpoint round covers).
func (t *tracker) committable() map[partitionKey]int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[partitionKey]int64{}
	for k, p := range t.parts {
		off := p.committed
		if t.limited {
			lim, ok := t.limits[k]
			if !ok {
				continue
			}
			off = min(off, lim)
		}
		if prev, ok := t.sent[k]; off < 0 || (ok && prev >= off) {
			continue
		}
		out[k] = off
		t.sent[k] = off
	}
	return out
}

// uncommit forgets that offsets were handed out, after a failed commit, so
// that the next committable offers them again.
func (t *tracker) uncommit(offs map[partitionKey]int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, off := range offs {
		if t.sent[k] == off {
			delete(t.sent, k)
		}
	}
}
