package stream

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"
)

// The checkpoint round. A barrier goes through every shard's queue; when a
// shard reaches it, each detector it holds owes the round its snapshot as
// of that moment. The round's writer waits until the points the barrier
// covers are written, then takes the snapshots from the shards a batch at
// a time and saves them; a shard about to change a detector that still
// owes snapshots it first. So a round holds at most about RoundBytes of
// snapshots whatever the number of series, and fetching and scoring go on
// while it runs.

// DefaultRoundBytes bounds the snapshots a round holds when Options leave
// it unset.
const DefaultRoundBytes = 64 << 20

// checkpointRound is one round in flight. Shards and the writer share it;
// forced and held are guarded by mu, the rest is set before it is shared.
type checkpointRound struct {
	offsets map[partitionKey]int64
	limit   int64         // bytes of snapshots held at once (about)
	passed  chan struct{} // one per shard that reached the barrier
	ended   chan struct{} // closed once the round is saved or has failed
	ok      bool          // the round was saved; read only once ended is closed

	mu     sync.Mutex
	forced []Checkpoint  // taken by shards before changing an owed detector
	held   int64         // bytes in forced
	freed  chan struct{} // closed (and replaced) when forced is taken
	full   chan struct{} // a shard waits for room (capacity 1)
	peak   int64         // the most bytes held at once, forced and pulled
}

// pullRequest asks a shard for the next batch of snapshots it owes round.
type pullRequest struct {
	round *checkpointRound
	reply chan pullReply // capacity 1: the shard never waits on it
}

type pullReply struct {
	cps  []Checkpoint
	done bool // the shard owes the round nothing more
}

// checkpointOf is st's checkpoint at the round's offsets, encoded in a
// spare buffer (false: its partition is not in the round, or it would not
// encode).
func (p *Pipeline) checkpointOf(st *seriesState, offsets map[partitionKey]int64) (Checkpoint, bool) {
	off, ok := offsets[st.part]
	if !ok {
		return Checkpoint{}, false
	}
	// A detector restored from a checkpoint further on than the messages
	// re-read since covers them already: its snapshot says so, or a
	// restore from it would take them again (as out of order).
	off = max(off, st.skipUpTo)
	var buf []byte
	select {
	case buf = <-p.spareRecords:
	default:
		buf = make([]byte, 0, st.det.MemoryBytes()+256)
	}
	cp, err := encodeDetector(buf, Checkpoint{Key: st.key, Topic: st.part.topic, Partition: st.part.partition, Offset: off}, st.det)
	if err != nil {
		p.o.Log.Error("snapshot failed", "series", st.series, "err", err)
		return Checkpoint{}, false
	}
	return cp, true
}

// spareRecordCount bounds the buffers kept between rounds for reuse: a
// round's snapshots are garbage once written, and with thousands of series
// the collector let them pile up to gigabytes before it ran.
func (p *Pipeline) spareRecordCount() int { return max(4, int(p.roundBytes()/(256<<10))) }

// recycle returns the buffers of written checkpoints for reuse.
func (p *Pipeline) recycle(cps []Checkpoint) {
	for _, c := range cps {
		if c.record == nil {
			continue
		}
		select {
		case p.spareRecords <- c.record[:0]:
		default:
		}
	}
}

// owe marks the detectors of the shard whose partition the round covers
// as owing it a snapshot, except those unchanged since a round saved
// theirs (that checkpoint is still their state); an earlier round's debts
// lapse.
func (sh *shardState) owe(r *checkpointRound) {
	// In the order their series were last seen in each partition: about
	// the order they return in after a restart, so a checkpoint read back
	// brings its successors in the same batch (readAhead).
	type seen struct {
		part   partitionKey
		offset int64
		key    string
	}
	var order []seen
	for key, st := range sh.dets {
		if _, ok := r.offsets[st.part]; !ok {
			continue
		}
		if !st.dirty && (st.savedIn == nil || st.savedIn.succeeded()) {
			continue
		}
		st.owed, st.savedIn, st.dirty = r, r, false
		order = append(order, seen{st.part, st.lastOffset, key})
	}
	slices.SortFunc(order, func(a, b seen) int {
		return cmp.Or(cmp.Compare(a.part.topic, b.part.topic), cmp.Compare(a.part.partition, b.part.partition),
			cmp.Compare(a.offset, b.offset), cmp.Compare(a.key, b.key))
	})
	sh.round, sh.owed, sh.owedNext = r, sh.owed[:0], 0
	for _, o := range order {
		sh.owed = append(sh.owed, o.key)
	}
}

// succeeded reports whether the round ended saved.
func (r *checkpointRound) succeeded() bool {
	select {
	case <-r.ended:
		return r.ok
	default:
		return false
	}
}

// settle is called before st's detector changes: if it still owes the
// shard's round a snapshot, the snapshot is taken now and held for the
// round's writer (waiting while the round holds its limit).
func (p *Pipeline) settle(st *seriesState) {
	st.dirty = true
	r := st.owed
	if r == nil {
		return
	}
	st.owed = nil
	select {
	case <-r.ended:
		return
	default:
	}
	if cp, ok := p.checkpointOf(st, r.offsets); ok {
		r.hold(cp)
	}
}

// pull answers a pull request with the next snapshots the shard owes, up
// to half the round's limit in bytes.
func (p *Pipeline) pull(sh *shardState, req pullRequest) {
	r := req.round
	var cps []Checkpoint
	var size int64
	for sh.round == r && sh.owedNext < len(sh.owed) && size < r.limit/2 {
		st := sh.dets[sh.owed[sh.owedNext]]
		sh.owedNext++
		if st == nil || st.owed != r {
			continue // parked, or snapshotted before it changed
		}
		st.owed = nil
		if cp, ok := p.checkpointOf(st, r.offsets); ok {
			cps = append(cps, cp)
			size += int64(len(cp.State))
		}
	}
	done := sh.round != r || sh.owedNext == len(sh.owed)
	if done && sh.round == r {
		sh.owed, sh.owedNext = nil, 0
	}
	r.note(size)
	req.reply <- pullReply{cps: cps, done: done}
}

// hold keeps a snapshot a shard took for the writer. While the round holds
// its limit the shard waits (it cannot change the detectors it owes
// otherwise); if the round ends meanwhile the snapshot is dropped.
func (r *checkpointRound) hold(cp Checkpoint) {
	n := int64(len(cp.State))
	for {
		r.mu.Lock()
		if r.held == 0 || r.held+n <= r.limit/2 {
			r.forced = append(r.forced, cp)
			r.held += n
			r.peak = max(r.peak, r.held)
			r.mu.Unlock()
			return
		}
		freed := r.freed
		r.mu.Unlock()
		tell(r.full)
		select {
		case <-freed:
		case <-r.ended:
			return
		}
	}
}

// take hands the writer the snapshots shards held, and the room they took.
func (r *checkpointRound) take() []Checkpoint {
	r.mu.Lock()
	defer r.mu.Unlock()
	cps := r.forced
	r.forced, r.held = nil, 0
	close(r.freed)
	r.freed = make(chan struct{})
	return cps
}

// note records a pulled batch of size bytes, held beside the forced ones.
func (r *checkpointRound) note(size int64) {
	r.mu.Lock()
	r.peak = max(r.peak, r.held+size)
	r.mu.Unlock()
}

// round takes a whole checkpoint round (at shutdown).
func (p *Pipeline) round(ctx context.Context, shards []chan []work, last map[partitionKey]int64) error {
	finish, err := p.snapshotRound(ctx, shards, last)
	if err != nil {
		return err
	}
	return finish(ctx)
}

// snapshotRound puts a barrier in every shard's queue and returns once
// every shard has passed it. finish does the rest (wait until the points
// the barrier covers are written, save the snapshots, move the commit
// limits); fetching may go on meanwhile.
func (p *Pipeline) snapshotRound(ctx context.Context, shards []chan []work, last map[partitionKey]int64) (finish func(context.Context) error, err error) {
	if len(last) == 0 {
		return func(context.Context) error { return nil }, nil
	}
	r := &checkpointRound{offsets: make(map[partitionKey]int64, len(last)), limit: p.roundBytes(),
		passed: make(chan struct{}, len(shards)), ended: make(chan struct{}),
		freed: make(chan struct{}), full: make(chan struct{}, 1)}
	for k, v := range last {
		r.offsets[k] = v
	}
	fail := func(err error) (func(context.Context) error, error) {
		close(r.ended)
		return nil, err
	}
	start := time.Now()
	for _, sh := range shards {
		select {
		case sh <- []work{{barrier: r}}:
		case <-ctx.Done():
			return fail(ctx.Err())
		}
	}
	for range shards {
		select {
		case <-r.passed:
		case <-ctx.Done():
			return fail(ctx.Err())
		}
	}
	p.o.Metrics.CheckpointBarrierSeconds.Observe(time.Since(start).Seconds())
	return func(ctx context.Context) error {
		defer close(r.ended)
		return p.saveRound(ctx, r)
	}, nil
}

func (p *Pipeline) roundBytes() int64 {
	if p.o.CheckpointRoundBytes > 0 {
		return p.o.CheckpointRoundBytes
	}
	return DefaultRoundBytes
}

// saveRound waits until the points the round covers are written, saves
// every snapshot the shards owe it, and moves the commit limits.
func (p *Pipeline) saveRound(ctx context.Context, r *checkpointRound) error {
	start := time.Now()
	// A checkpoint may only be used once the points it reflects are
	// written: a restart skips the messages it covers.
	for !p.track.doneThrough(r.offsets) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	saved := 0
	save := func(cps []Checkpoint) error {
		if len(cps) == 0 {
			return nil
		}
		if err := p.o.Checkpoints.Save(ctx, cps); err != nil {
			return err
		}
		saved += len(cps)
		p.recycle(cps)
		return nil
	}
	done := make([]bool, len(p.pulls))
	for left := len(done); ; {
		if err := save(r.take()); err != nil {
			return err
		}
		if left == 0 {
			break
		}
		for i, pulls := range p.pulls {
			if done[i] {
				continue
			}
			req := pullRequest{round: r, reply: make(chan pullReply, 1)}
			select {
			case pulls <- req:
			case <-r.full:
				// A shard waits for room before it can take our request.
				if err := save(r.take()); err != nil {
					return err
				}
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
			rep := <-req.reply
			if err := save(rep.cps); err != nil {
				return err
			}
			if rep.done {
				done[i] = true
				left--
			}
		}
	}
	p.o.Metrics.Checkpoints.Add(float64(saved))
	p.o.Metrics.CheckpointSeconds.Observe(time.Since(start).Seconds())
	if saved > 0 { // a round with nothing to save says nothing of the bound
		r.mu.Lock()
		p.o.Metrics.CheckpointRoundBytes.Set(float64(r.peak))
		r.mu.Unlock()
	}
	p.track.setLimits(r.offsets)
	r.ok = true
	return nil
}
