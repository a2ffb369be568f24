package stream

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aewatch/aewatch/detector"
	"github.com/aewatch/aewatch/stream/codec"
)

// The detector registry of a shard: creating a series' detector (restored
// from its checkpoint where there is one) and evicting the least recently
// used when pipeline.max_series is reached.

// state finds or makes the detector of key, restoring its checkpoint if
// there is one; nil when the series bound is hit.
func (p *Pipeline) state(sh *shardState, keyBytes []byte, series string, channels []string, tags []codec.Tag, ref msgRef) *seriesState {
	if st, ok := sh.dets[string(keyBytes)]; ok { // no allocation for the lookup
		st.lastUsed = sh.clock
		if ref.part == st.part {
			st.lastOffset = ref.offset
		} else {
			p.splitSeries(st, ref)
		}
		return st
	}
	key := string(keyBytes)
	if len(sh.dets) >= p.shardMax() && !p.evict(sh) {
		p.o.Metrics.SamplesDropped.WithLabelValues(string(codec.ReasonSeriesLimit)).Inc()
		return nil
	}
	if pk, ok := sh.evicted[key]; ok {
		delete(sh.evicted, key)
		if p.readBack(sh, key, series, pk.at, "evicted detector") {
			p.o.Metrics.Unparked.Inc()
			if ok, held := p.thrashLog.Allow(); ok {
				p.o.Log.Warn("pipeline.max_series is below the series in use: parked detectors are read back as their series return; raise it or add instances",
					"max_series", p.o.Pipeline.MaxSeries, "series", series, "read_back_since_last_line", held+1)
			}
		}
	}
	if pk, ok := sh.deferred[key]; ok {
		delete(sh.deferred, key)
		p.readBack(sh, key, series, pk.at, "checkpoint left in the topic at start")
	}
	if cp, ok := sh.restore[key]; ok && p.o.Pipeline.Multivariate {
		// The channels the series had, not the ones its message carries:
		// a message may lack some.
		if names, err := detector.SnapshotChannelNames(cp.State); err == nil && len(names) > 0 {
			channels = names
		}
	}
	d, err := p.newDetector(series, channels)
	if err != nil {
		p.o.Log.Error("cannot build detector", "series", series, "channels", len(channels), "err", err)
		p.o.Metrics.SamplesDropped.WithLabelValues(string(codec.ReasonChannels)).Inc()
		return nil
	}
	p.o.Rebaselines.Seen(ref.part.topic, ref.part.partition, series, channels...)
	st := &seriesState{det: d, key: key, dirty: true, series: series, channels: append([]string(nil), channels...), part: ref.part, skipUpTo: -1,
		lastOffset: ref.offset}
	if p.o.Pipeline.Multivariate {
		st.first = &firstRow{}
	}
	if cp, ok := sh.restore[key]; ok {
		st.first = nil
		delete(sh.restore, key)
		err := d.UnmarshalBinary(cp.State)
		if err == nil && (cp.Topic != ref.part.topic || cp.Partition != ref.part.partition) {
			err = fmt.Errorf("checkpoint is from partition %s/%d, the series comes on %s/%d", cp.Topic, cp.Partition, ref.part.topic, ref.part.partition)
		}
		if err != nil {
			p.o.Metrics.CheckpointErrors.Inc()
			// A changed detector configuration makes every series' checkpoint
			// not restore: one line per period, not one per series.
			if ok, held := p.restoreLog.Allow(); ok {
				p.o.Log.Warn("checkpoint does not restore; the series starts fresh", "series", series, "err", err, "others_since_last_line", held)
			}
			d, _ = p.newDetector(series, channels)
			st.det = d
		} else {
			st.skipUpTo = cp.Offset
			if b, ok := p.o.bounds[ref.part]; ok && cp.Offset >= b.end && ref.offset <= cp.Offset {
				// Its offset lies past the partition's end when the
				// generation began, and the series' message comes before
				// it: the topic was deleted and created again (or
				// truncated), and its new messages, from offset 0, are
				// none of those the state reflects. (A detector parked
				// later in the generation is read back for a message after
				// its checkpoint.) Samples not after the series' newest
				// are still dropped as out of order.
				st.skipUpTo = -1
				if ok, held := p.restoreLog.Allow(); ok {
					p.o.Log.Warn("checkpoint reflects an offset past its partition's end: the topic was created again or truncated; the series keeps its state and reads the new messages",
						"series", series, "topic", ref.part.topic, "partition", ref.part.partition,
						"checkpoint_offset", cp.Offset, "partition_end", b.end, "others_since_last_line", held)
				}
			}
			st.dirty = false // its checkpoint is its state
			p.o.Metrics.Restored.Inc()
		}
	}
	st.tags = slices.Clone(tags) // the decode buffer's slice is reused
	st.lastUsed = sh.clock
	sh.dets[key] = st
	sh.noteChannel(key)
	p.o.Metrics.LiveSeries.Set(float64(p.live.Add(1)))
	p.o.Metrics.SeriesBytes.Set(float64(d.MemoryPeakBytes()))
	return st
}

// readBack reads the checkpoint of key at loc into the shard's restores
// and reports whether it could.
func (p *Pipeline) readBack(sh *shardState, key, series string, loc Locator, what string) bool {
	ev, ok := p.o.Checkpoints.(Evictor)
	if !ok {
		return false
	}
	ctx, cancel := context.WithTimeout(p.ioCtx, 30*time.Second)
	cp, err := ev.Fetch(ctx, key, loc)
	cancel()
	if err != nil {
		p.o.Metrics.CheckpointErrors.Inc()
		p.o.Log.Error(what+" could not be read back; the series starts fresh", "series", series, "err", err)
		return false
	}
	sh.restore[key] = cp
	return true
}

// shardMax is one shard's share of pipeline.max_series.
func (p *Pipeline) shardMax() int { return max(1, p.o.Pipeline.MaxSeries/p.o.Pipeline.Workers) }

// evict parks the least recently used tenth of a full shard's detectors in
// the checkpoint store, once the points they reflect are written, and
// reports whether room was made. Without checkpoints nothing is evicted.
func (p *Pipeline) evict(sh *shardState) bool {
	ev, ok := p.o.Checkpoints.(Evictor)
	if !ok || len(sh.dets) == 0 {
		return false
	}
	victims := make([]string, 0, len(sh.dets))
	for k := range sh.dets {
		victims = append(victims, k)
	}
	sort.Slice(victims, func(i, j int) bool { return sh.dets[victims[i]].lastUsed < sh.dets[victims[j]].lastUsed })
	// A quarter at a time: each eviction waits once for the shard's points
	// to be written, so that a series returning after a checkpoint's
	// offset is not skipped; fewer, larger evictions wait less in all.
	victims = victims[:max(1, len(victims)/4)]
	for _, key := range victims {
		if sh.dets[key].lastOut > p.flushed[sh.id].Load() {
			sh.emit(true) // the wait below is for points that must have left the shard
			break
		}
	}
	ctx, cancel := context.WithTimeout(p.ioCtx, 30*time.Second)
	defer cancel()
	freed := 0
	for _, key := range victims {
		st := sh.dets[key]
		// A restart skips what the checkpoint reflects, so the series' points
		// must be written first. This waits on the flush loop only, never on
		// another shard (which could be waiting on this one).
		for p.flushed[sh.id].Load() < st.lastOut {
			select {
			case <-ctx.Done():
				p.o.Log.Warn("eviction timed out waiting for writes", "series", st.series)
				return freed > 0
			case <-p.wrote[sh.id]:
			}
		}
		b, err := st.det.MarshalBinary()
		if err != nil {
			continue
		}
		loc, err := ev.Evict(ctx, Checkpoint{Key: key, Topic: st.part.topic, Partition: st.part.partition, Offset: st.lastOffset, State: b})
		if err != nil {
			p.o.Log.Warn("eviction failed; the detector stays in memory", "series", st.series, "err", err)
			continue
		}
		// Its parked record is newer than the round's snapshot would be,
		// and the points it reflects are written: it stands in for it.
		st.owed = nil
		sh.evicted[key] = parked{loc, st.part}
		delete(sh.dets, key)
		freed++
		p.o.Metrics.Evicted.Inc()
		p.o.Metrics.LiveSeries.Set(float64(p.live.Add(-1)))
	}
	return freed > 0
}

// splitSeries reports a sample of st's series that came on another
// partition than its detector's (design invariant 5 broken by the
// producer). The detector stays with its partition, whose offsets its
// checkpoints and evictions name; the samples of both go on to it, and
// those that arrive out of order across the two are dropped as such.
func (p *Pipeline) splitSeries(st *seriesState, ref msgRef) {
	p.o.Metrics.SplitSeries.Inc()
	if ok, held := p.splitLog.Allow(); ok {
		p.o.Log.Warn("a series arrives on more than one partition: producers must key messages by series, so that its samples keep their order "+
			"(Telegraf's Kafka output: routing_tag or routing_key; kafka-go's Writer: Balancer: &kafka.Hash{}); "+
			"after partitions were added to the topic, a series that moved comes on its new partition from then on, and its detector moves to it, starting fresh, at the next restart",
			"series", st.series, "topic", ref.part.topic, "partition", ref.part.partition,
			"detector_topic", st.part.topic, "detector_partition", st.part.partition, "others_since_last_line", held)
	}
}

// newDetector builds a fresh detector for a series, with the quality
// limits and context channels that apply to its channels and its
// maintenance windows.
func (p *Pipeline) newDetector(series string, channels []string) (*detector.Detector, error) {
	d, err := detector.New(p.o.Detector, len(channels))
	if err != nil {
		return nil, err
	}
	inputs := p.o.Detector.ContextFor(channels)
	if inputs != nil && !slices.Contains(inputs, false) {
		return nil, fmt.Errorf("detector.context names every channel of %q (%s): nothing would be scored", series, strings.Join(channels, ", "))
	}
	d.SetLimits(p.o.Detector.Quality.LimitsFor(series, channels))
	d.SetContext(inputs)
	d.SetSilences(p.configSilences.For(series))
	if p.o.Pipeline.Multivariate {
		if err := d.SetChannelNames(channels); err != nil {
			return nil, err
		}
	}
	if p.o.detectorBuilt != nil {
		p.o.detectorBuilt(series, d)
	}
	return d, nil
}
