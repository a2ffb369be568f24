package stream

import (
	"time"

	"github.com/aewatch/aewatch/stream/codec"
)

// A shard's samples of brand-new series waiting for their admission
// (pipeline.new_series_per_second): set aside in arrival order so that the
// shard goes on scoring the series it has, and scored, each series' in
// order, as admissions fall due. A burst of new series therefore delays
// only itself. The shard waits for admissions only where it must: beyond
// its queue's worth of set-aside samples (memory stays bounded, and its
// input backs up into the fetch loop's backlog), at a checkpoint round's
// barrier (a round covers every sample fetched before it), and when its
// input ends.

// admissionWait is what a shard has set aside.
type admissionWait struct {
	samples  []work         // oldest first
	ofSeries map[string]int // samples set aside per series
	timer    *time.Timer    // fires when the oldest's admission is due
	due      <-chan time.Time
}

// newKeys counts the detectors sample s would create that need an
// admission: not live, not restorable from a checkpoint.
func (p *Pipeline) newKeys(sh *shardState, s *codec.Sample) int {
	n := 0
	count := func(key []byte) {
		if !sh.holds(string(key)) {
			n++
		}
	}
	if p.o.Pipeline.Multivariate {
		count(sh.keyOf(s.Series, "", true))
		return n
	}
	for _, ch := range s.Channels {
		count(sh.keyOf(s.Series, ch, false))
	}
	return n
}

// setAside reports whether w waits for an admission (its series has
// samples waiting, or it needs admissions not due yet); if so it is kept.
func (p *Pipeline) setAside(sh *shardState, w *work) bool {
	if !p.admit.paced() {
		return false
	}
	aw := &sh.admission
	if aw.ofSeries[w.s.Series] == 0 {
		need := p.newKeys(sh, &w.s)
		if need == 0 {
			return false
		}
		if ok, _ := p.admit.tryTake(need); ok {
			return false
		}
		p.o.Metrics.AdmissionWaits.Inc()
		if aw.ofSeries == nil {
			aw.ofSeries = map[string]int{}
		}
	}
	aw.samples = append(aw.samples, *w)
	aw.ofSeries[w.s.Series]++
	return true
}

// admitWaiting scores the set-aside samples whose admissions are due, in
// order, stopping at the first that is not; with block, it waits for each
// until no more than keep are left. It returns how long until the oldest
// left is due.
func (p *Pipeline) admitWaiting(sh *shardState, block bool, keep int) time.Duration {
	aw := &sh.admission
	for len(aw.samples) > 0 {
		w := &aw.samples[0]
		if need := p.newKeys(sh, &w.s); need > 0 {
			if block && len(aw.samples) > keep {
				p.admit.take(need)
			} else if ok, due := p.admit.tryTake(need); !ok {
				return due
			}
		}
		p.score(sh, &w.s, w.ref)
		sh.pending.refs = append(sh.pending.refs, w.ref)
		if aw.ofSeries[w.s.Series]--; aw.ofSeries[w.s.Series] == 0 {
			delete(aw.ofSeries, w.s.Series)
		}
		aw.samples[0] = work{}
		aw.samples = aw.samples[1:]
	}
	return 0
}

// armAdmission sets the shard's timer for the oldest set-aside sample's
// admission (none while nothing is set aside).
func (sh *shardState) armAdmission(due time.Duration) {
	aw := &sh.admission
	if len(aw.samples) == 0 || aw.due != nil {
		return
	}
	if aw.timer == nil {
		aw.timer = time.NewTimer(due)
	} else {
		aw.timer.Reset(due)
	}
	aw.due = aw.timer.C
}
