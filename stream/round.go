package stream

import (
	"context"
	"time"
)

// The checkpoint round: a barrier through every shard, the snapshots taken
// there, and their saving once the points they reflect are written.

// snapshot checkpoints every detector of a shard at the round's offsets.
func (p *Pipeline) snapshot(dets map[string]*seriesState, offsets map[partitionKey]int64) []Checkpoint {
	var cps []Checkpoint
	for key, st := range dets {
		off, ok := offsets[st.part]
		if !ok {
			continue
		}
		b, err := st.det.MarshalBinary()
		if err != nil {
			p.o.Log.Error("snapshot failed", "series", st.series, "err", err)
			continue
		}
		// A detector restored from a checkpoint further on than the
		// messages re-read since covers them already: its snapshot says so,
		// or a restore from it would take them again (as out of order).
		off = max(off, st.skipUpTo)
		cps = append(cps, Checkpoint{Key: key, Topic: st.part.topic, Partition: st.part.partition, Offset: off, State: b})
	}
	return cps
}

// round takes a checkpoint round: every shard snapshots its detectors once
// it has scored everything fetched so far; the checkpoints are written;
// then offsets may be committed up to what they reflect.
func (p *Pipeline) round(ctx context.Context, shards []chan []work, last map[partitionKey]int64) error {
	finish, err := p.snapshotRound(ctx, shards, last)
	if err != nil {
		return err
	}
	return finish(ctx)
}

// snapshotRound takes the first half of a checkpoint round: a barrier in
// every shard's queue and the snapshots the shards take when they reach
// it. finish does the rest (wait until the points the snapshots reflect
// are written, save them, move the commit limits); fetching may go on
// meanwhile.
func (p *Pipeline) snapshotRound(ctx context.Context, shards []chan []work, last map[partitionKey]int64) (finish func(context.Context) error, err error) {
	if len(last) == 0 {
		return func(context.Context) error { return nil }, nil
	}
	offsets := make(map[partitionKey]int64, len(last))
	for k, v := range last {
		offsets[k] = v
	}
	b := &barrier{offsets: offsets, reply: make(chan []Checkpoint, len(shards))}
	for _, sh := range shards {
		select {
		case sh <- []work{{barrier: b}}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	var all []Checkpoint
	for range shards {
		select {
		case cps := <-b.reply:
			all = append(all, cps...)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return func(ctx context.Context) error {
		start := time.Now()
		// A checkpoint may only be used once the points it reflects are
		// written: a restart skips the messages it covers.
		for !p.track.doneThrough(offsets) {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(5 * time.Millisecond):
			}
		}
		if len(all) > 0 {
			if err := p.o.Checkpoints.Save(ctx, all); err != nil {
				return err
			}
		}
		p.o.Metrics.Checkpoints.Add(float64(len(all)))
		p.o.Metrics.CheckpointSeconds.Observe(time.Since(start).Seconds())
		p.track.setLimits(offsets)
		return nil
	}, nil
}
