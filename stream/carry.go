package stream

// Detectors kept across consumer-group generations. When a generation ends
// cleanly (everything fetched is written and committed and, with
// checkpoints, the final round saved), its pipeline hands the next
// generation its detectors, the checkpoints it had not yet used and where
// its parked detectors lie. The next generation keeps those of the
// partitions it still owns, where its assignment resumes exactly where that
// state ends, and loads checkpoints only for the partitions it gained: a
// rebalance costs what moved.

// carried is one generation's state for the next.
type carried struct {
	generation int32
	// next: for each partition the generation owned, the offset its state
	// covers up to (the next to read).
	next   map[partitionKey]int64
	shards []*shardState
}

// parked is where the checkpoint of a detector not in memory lies, and
// the input partition of its series.
type parked struct {
	at   Locator
	part partitionKey
}

// carry returns what the next generation may keep; call it only once Run
// has returned nil (everything fetched written and committed). Nil when
// the final round did not save. start holds the offsets the generation
// began at, for the partitions it fetched nothing from.
func (p *Pipeline) carry(generation int32, start map[partitionKey]int64) *carried {
	if !p.finalOK || len(p.ended) == 0 {
		return nil
	}
	c := &carried{generation: generation, next: map[partitionKey]int64{}, shards: p.ended}
	for part, off := range start {
		c.next[part] = off
	}
	for part, off := range p.fetched {
		c.next[part] = off + 1
	}
	for _, sh := range c.shards {
		for _, st := range sh.dets {
			// Its state covers every message of its partition fetched.
			if off, ok := p.fetched[st.part]; ok {
				st.skipUpTo = max(st.skipUpTo, off)
			}
			// Outputs are numbered afresh by the next pipeline, and its
			// rounds start afresh: the final round saved this state.
			st.lastOut, st.owed, st.savedIn = 0, nil, nil
			if p.o.Checkpoints != nil {
				st.dirty = false
			}
		}
	}
	return c
}

// keep narrows c to the partitions a new generation still owns and
// resumes where c's state ends: assigned maps each of the generation's
// partitions to the offset it starts at. Nil when nothing is kept, or when
// a generation came between (the state may be stale).
func (c *carried) keep(generation int32, assigned map[partitionKey]int64) *carried {
	if c == nil || generation != c.generation+1 {
		return nil
	}
	kept := &carried{generation: c.generation, next: map[partitionKey]int64{}, shards: c.shards}
	for part, off := range assigned {
		if next, ok := c.next[part]; ok && next == off {
			kept.next[part] = off
		}
	}
	if len(kept.next) == 0 {
		return nil
	}
	return kept
}

// owns reports whether c keeps the partition.
func (c *carried) owns(topic string, partition int) bool {
	_, ok := c.next[partitionKey{topic, partition}]
	return ok
}

// handTo moves into sh what c keeps of the shard with sh's id: its live
// detectors, unused checkpoints and parked detectors of kept partitions.
// Checkpoints sh already holds (loaded for a gained partition) stay.
func (c *carried) handTo(sh *shardState, p *Pipeline) {
	if sh.id >= len(c.shards) || c.shards[sh.id] == nil {
		return
	}
	from := c.shards[sh.id]
	for key, st := range from.dets {
		if !c.owns(st.part.topic, st.part.partition) {
			continue
		}
		st.lastUsed = 0
		sh.dets[key] = st
		p.o.Rebaselines.Seen(st.part.topic, st.part.partition, st.series, st.channels...)
		p.o.Metrics.Kept.Inc()
		p.o.Metrics.LiveSeries.Set(float64(p.live.Add(1)))
	}
	for key, cp := range from.restore {
		if _, loaded := sh.restore[key]; !loaded && c.owns(cp.Topic, cp.Partition) {
			sh.restore[key] = cp
		}
	}
	for key, pk := range from.evicted {
		if c.owns(pk.part.topic, pk.part.partition) {
			sh.evicted[key] = pk
		}
	}
	for key, pk := range from.deferred {
		if c.owns(pk.part.topic, pk.part.partition) {
			sh.deferred[key] = pk
		}
	}
}
