package stream

import "sync"

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
}

type partTrack struct {
	queue     []trackEntry // fetched offsets in order, oldest first
	head      int
	pending   map[int64]int // offset -> samples not yet acknowledged
	committed int64         // highest offset known done (-1: none)
	dirty     bool          // committed moved since the last commit
}

type trackEntry struct{ offset int64 }

func newTracker() *tracker { return &tracker{parts: map[partitionKey]*partTrack{}} }

// add records a fetched message with n samples in flight (0: done now).
func (t *tracker) add(ref msgRef, n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.parts[ref.part]
	if p == nil {
		p = &partTrack{pending: map[int64]int{}, committed: -1}
		t.parts[ref.part] = p
	}
	p.queue = append(p.queue, trackEntry{ref.offset})
	p.pending[ref.offset] = n
	p.advance()
}

// done acknowledges one sample of each ref.
func (t *tracker) done(refs []msgRef) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, r := range refs {
		p := t.parts[r.part]
		p.pending[r.offset]--
	}
	for _, p := range t.parts {
		p.advance()
	}
}

func (p *partTrack) advance() {
	for p.head < len(p.queue) {
		off := p.queue[p.head].offset
		if p.pending[off] > 0 {
			break
		}
		delete(p.pending, off)
		p.committed, p.dirty = off, true
		p.head++
	}
	if p.head > 1024 && p.head*2 > len(p.queue) {
		p.queue = append(p.queue[:0], p.queue[p.head:]...)
		p.head = 0
	}
}

// committable returns, per partition whose done offset moved, the highest
// offset below which every message is done, and clears the moved flags.
func (t *tracker) committable() map[partitionKey]int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[partitionKey]int64{}
	for k, p := range t.parts {
		if p.dirty {
			out[k] = p.committed
			p.dirty = false
		}
	}
	return out
}

// inFlight counts messages fetched but not yet done.
func (t *tracker) inFlight() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, p := range t.parts {
		n += len(p.queue) - p.head
	}
	return n
}
