package detector

import (
	"errors"
	"math"
	"slices"

	"github.com/aewatch/aewatch/internal/statecodec"
)

// recurrence remembers the regimes that alerts covered, so that a regime
// which comes back after the signal returned to its reference is taken as
// one of the series' states rather than a fault: the off state of a duty
// cycle longer than the reference period, a batch phase, a night shift, a
// machine's stop and warm-up, a filter's reset. When a new alert's first
// samples sit where an earlier alert's first samples sat, the reference
// starts again over a period as long as the cycle between the two, and
// on until the regime's onset has come round in it (seek), so that it
// learns every state of it, provided the signal was back for no more than
// recurrenceAway times the earlier regime's length: a fault that comes
// back after a long normal stretch (a valve that sticks again hours later)
// is a fault every time. A fault that comes back sooner is learnt at its
// second occurrence, or its third where the period saw its levels
// (recurrenceSeenRepeats), which is why it can be turned off
// (reference.recurrence: 0). Episodes are compared by their first
// recurrenceCheck samples: a regime that evolves (a machine cooling after
// its stop, a pressure building after a reset) has a mean over its whole
// length that its next occurrence's beginning never matches.
type recurrence struct {
	channels int
	total    uint64 // samples the reference was shown

	open   bool   // an alert is open
	closed uint64 // the last sample of the last alert
	start  uint64
	sum    []float64 // raw values of the open alert's first recurrenceCheck samples
	sumSq  []float64 // and their squares
	n      int       // the open alert's samples
	// openRepeats is how many occurrences before the open alert's regime
	// had, counting back through matched episodes (0: none matched).
	openRepeats int

	starts  []uint64  // the last closed episodes' first samples, oldest first
	ends    []uint64  // their last samples
	means   []float64 // and their mean raw values, channel-interleaved
	spreads []float64 // and their deviations
	repeats []int     // and how many occurrences each repeated

	// A period restarted for a regime seeks its onset (seek): the
	// regime's first recurrenceCheck samples' mean and deviation, the
	// current block's sums and count, whether a block away from the
	// regime came, and the longest the period may grow to.
	seeking                bool
	left                   bool
	onsetMean, onsetSpread []float64
	blockSum               []float64
	blockN                 int
	limit                  int
}

const (
	// recurrenceCheck is how many samples into an alert its regime is
	// compared with earlier ones (two windows: past the transition).
	recurrenceCheck = 64
	// recurrenceKeep episodes are remembered.
	recurrenceKeep = 4
	// recurrenceAway bounds the normal stretch between two episodes, in
	// multiples of the earlier one's length: a state of a cycle comes back
	// after a stretch of the same order (a duty cycle's on and off), a
	// fault that recurs after a long normal stretch is a fault again.
	recurrenceAway = 4
	// recurrenceDeparture: a channel whose episode mean lies beyond this
	// many reference deviations of its level departs. Two episodes are one
	// state only if the same channels depart, on the same sides: a false
	// alarm on one channel followed by a fault on another is no cycle.
	recurrenceDeparture = 1
	// recurrenceSeenRepeats: a regime within the levels the period saw
	// restarts it only when it repeats an episode that itself repeated
	// one, each within recurrenceAway: a stop, a warm-up or a reset at
	// the process's cadence is one of its states, where rare false alerts
	// hours apart are not (with any recurring regime allowed, they
	// restarted the period for 11,000 samples and hid a noise burst).
	recurrenceSeenRepeats = 2
)

// recurrencePeriod is the longest a period restarted for a regime that
// recurs over cycle samples grows while it seeks the regime's onset.
func recurrencePeriod(cycle int) int { return cycle + cycle/2 }

func newRecurrence(channels int) *recurrence {
	return &recurrence{channels: channels, sum: make([]float64, channels), sumSq: make([]float64, channels),
		onsetMean: make([]float64, channels), onsetSpread: make([]float64, channels), blockSum: make([]float64, channels)}
}

// step folds in the newest sample x; holding says whether an alert is
// open. level and spread give each channel's reference level and
// deviation. It returns the cycle, in samples, from an earlier episode of
// the same regime to the open one, with how many occurrences before the
// open one the regime had (at least 1), or 0 and 0.
func (rc *recurrence) step(holding bool, x []float64, level, spread func(int) float64) (cycle, repeats int) {
	rc.total++
	if !holding {
		if rc.open {
			rc.open, rc.closed = false, rc.total-1
			if rc.n >= recurrenceCheck {
				rc.remember()
			}
		}
		return 0, 0
	}
	if !rc.open {
		rc.open, rc.start, rc.n, rc.openRepeats = true, rc.total, 0, 0
		clear(rc.sum)
		clear(rc.sumSq)
	}
	if rc.n++; rc.n > recurrenceCheck {
		return 0, 0
	}
	for j, v := range x {
		rc.sum[j] += v
		rc.sumSq[j] += float64(v * v)
	}
	if rc.n != recurrenceCheck {
		return 0, 0
	}
	c := rc.channels
	for i := len(rc.starts) - 1; i >= 0; i-- {
		// The signal must have been back for a while: an alert that
		// flickers within one fault does not make it recur. How long it
		// was away counts from that episode's end, whatever alerted since.
		back, away, lasted := rc.start-rc.closed, rc.start-rc.ends[i], rc.ends[i]-rc.starts[i]+1
		if back < recurrenceCheck || away < lasted/2 || away > recurrenceAway*lasted {
			continue
		}
		if rc.matches(rc.means[i*c:(i+1)*c], rc.spreads[i*c:(i+1)*c], level, spread) {
			rc.openRepeats = rc.repeats[i] + 1
			return int(rc.start - rc.starts[i]), rc.openRepeats
		}
	}
	return 0, 0
}

// remember keeps the closed episode's first samples' mean and spread.
func (rc *recurrence) remember() {
	c := rc.channels
	if len(rc.starts) == recurrenceKeep {
		rc.starts, rc.ends, rc.repeats = rc.starts[1:], rc.ends[1:], rc.repeats[1:]
		rc.means, rc.spreads = rc.means[c:], rc.spreads[c:]
	}
	rc.starts = append(rc.starts, rc.start)
	rc.ends = append(rc.ends, rc.total-1)
	rc.repeats = append(rc.repeats, rc.openRepeats)
	for j := range rc.sum {
		m, sd := rc.opening(j)
		rc.means, rc.spreads = append(rc.means, m), append(rc.spreads, sd)
	}
}

// opening is channel j's mean and deviation over the open episode's first
// recurrenceCheck samples, once it has them.
func (rc *recurrence) opening(j int) (mean, sd float64) {
	inv := 1 / float64(recurrenceCheck)
	mean = rc.sum[j] * inv
	return mean, math.Sqrt(max(0, float64(rc.sumSq[j]*inv)-float64(mean*mean)))
}

// matches reports whether the open episode's mean so far lies within a
// quarter of the earlier episode's departure from the reference level, or
// its own deviation, or a quarter of the reference deviation, of
// the earlier episode's mean on every channel.
func (rc *recurrence) matches(earlier, spreads []float64, level, spread func(int) float64) bool {
	inv := 1 / float64(rc.n)
	departs := false
	for j, e := range earlier {
		m := float64(rc.sum[j] * inv)
		if !near(m, e, spreads[j], level(j), spread(j)) || departure(m, level(j), spread(j)) != departure(e, level(j), spread(j)) {
			return false
		}
		departs = departs || departure(m, level(j), spread(j)) != 0
	}
	return departs
}

// near reports whether mean m lies within a quarter of episode mean e's
// departure from the reference level, or e's own deviation sd, or a
// quarter of the reference deviation, of e.
func near(m, e, sd, level, spread float64) bool {
	return math.Abs(m-e) <= max(0.25*math.Abs(e-level), sd, 0.25*spread)
}

// departure is the side (-1, 0 or 1) on which an episode's mean m lies
// more than recurrenceDeparture reference deviations from the level.
func departure(m, level, spread float64) int {
	switch d := (m - level) / spread; {
	case d > recurrenceDeparture:
		return 1
	case d < -recurrenceDeparture:
		return -1
	}
	return 0
}

// meansInto writes the open episode's mean so far (of its first
// recurrenceCheck samples) into dst.
func (rc *recurrence) meansInto(dst []float64) {
	for j, s := range rc.sum {
		dst[j] = s / float64(min(rc.n, recurrenceCheck))
	}
}

// aim has the period just restarted for the open episode's regime seek
// its onset, growing to at most limit samples. A period of the cycle
// alone starts recurrenceCheck samples into an occurrence and so ends
// where the next one begins, or before it when the cadence wanders: the
// frozen network never saw the onset it alerted on, and a filter's
// cleaning 1,400 samples apart held an alert for the rest of the file.
// Any fixed length lands at a chance phase of a wandering cadence
// (docs/quality.md).
func (rc *recurrence) aim(limit int) {
	for j := range rc.sum {
		rc.onsetMean[j], rc.onsetSpread[j] = rc.opening(j)
	}
	clear(rc.blockSum)
	rc.seeking, rc.left, rc.blockN, rc.limit = true, false, 0, limit
}

// seek folds the restarted period's raw sample x into blocks of
// recurrenceCheck samples; level and spread are the period's
// normalisation so far. A block that sits where the regime's first
// samples sat, after one that did not, is its onset come round: the
// seeking ends there, the onset's first windows learnt.
func (rc *recurrence) seek(x []float64, level, spread func(int) float64) {
	for j, v := range x {
		rc.blockSum[j] += v
	}
	if rc.blockN++; rc.blockN < recurrenceCheck {
		return
	}
	inv, at := 1/float64(recurrenceCheck), true
	for j, e := range rc.onsetMean {
		if !near(float64(rc.blockSum[j]*inv), e, rc.onsetSpread[j], level(j), spread(j)) {
			at = false
			break
		}
	}
	clear(rc.blockSum)
	rc.blockN = 0
	switch {
	case !at:
		rc.left = true
	case rc.left:
		rc.seeking = false
	}
}

// forget drops the remembered episodes and the open one, and ends any
// seeking (the reference starts again).
func (rc *recurrence) forget() {
	rc.seeking = false
	if rc.open {
		rc.open, rc.closed = false, rc.total
	}
	rc.starts, rc.ends, rc.repeats = rc.starts[:0], rc.ends[:0], rc.repeats[:0]
	rc.means, rc.spreads = rc.means[:0], rc.spreads[:0]
}

func (rc *recurrence) appendState(e *statecodec.Encoder) {
	e.U64(rc.total)
	e.U64(rc.closed)
	e.Bool(rc.open)
	e.U64(rc.start)
	e.F64s(rc.sum)
	e.F64s(rc.sumSq)
	e.Int(rc.n)
	e.Int(rc.openRepeats)
	e.Int(len(rc.starts))
	for i, s := range rc.starts {
		e.U64(s)
		e.U64(rc.ends[i])
		e.Int(rc.repeats[i])
	}
	e.F64s(rc.means)
	e.F64s(rc.spreads)
	e.Bool(rc.seeking)
	e.Bool(rc.left)
	e.F64s(rc.onsetMean)
	e.F64s(rc.onsetSpread)
	e.F64s(rc.blockSum)
	e.Int(rc.blockN)
	e.Int(rc.limit)
}

func (rc *recurrence) readState(d *statecodec.Decoder) error {
	rc.total, rc.closed, rc.open, rc.start = d.U64(), d.U64(), d.Bool(), d.U64()
	d.F64sInto(rc.sum, "recurrence sums")
	d.F64sInto(rc.sumSq, "recurrence squares")
	rc.n, rc.openRepeats = d.Int(), d.Int()
	k := d.Int()
	if d.Err() == nil && (k < 0 || k > recurrenceKeep || rc.openRepeats < 0 || rc.openRepeats > 1<<30) {
		return errors.New("detector: recurrence episodes out of range")
	}
	rc.starts, rc.ends, rc.repeats = rc.starts[:0], rc.ends[:0], rc.repeats[:0]
	for range k {
		s, e, rep := d.U64(), d.U64(), d.Int()
		if e < s || e >= rc.total || rep < 0 || rep > 1<<30 {
			return errors.New("detector: recurrence episode out of range")
		}
		rc.starts, rc.ends, rc.repeats = append(rc.starts, s), append(rc.ends, e), append(rc.repeats, rep)
	}
	rc.means = d.F64sAppend(rc.means[:0], k*rc.channels, "recurrence means")
	rc.spreads = d.F64sAppend(rc.spreads[:0], k*rc.channels, "recurrence spreads")
	rc.seeking, rc.left = d.Bool(), d.Bool()
	d.F64sInto(rc.onsetMean, "recurrence onset means")
	d.F64sInto(rc.onsetSpread, "recurrence onset spreads")
	d.F64sInto(rc.blockSum, "recurrence block sums")
	rc.blockN, rc.limit = d.Int(), d.Int()
	if err := d.Err(); err != nil {
		return err
	}
	if rc.blockN < 0 || rc.blockN >= recurrenceCheck || rc.limit < 0 || rc.limit > 1<<30 ||
		slices.ContainsFunc(rc.onsetMean, notFinite) || slices.ContainsFunc(rc.onsetSpread, notFinite) || slices.ContainsFunc(rc.blockSum, notFinite) {
		return errors.New("detector: recurrence onset out of range")
	}
	if rc.n < 0 || len(rc.means) != k*rc.channels || len(rc.spreads) != k*rc.channels || rc.start > rc.total || rc.closed > rc.total ||
		slices.ContainsFunc(rc.sum, notFinite) || slices.ContainsFunc(rc.sumSq, notFinite) ||
		slices.ContainsFunc(rc.means, notFinite) || slices.ContainsFunc(rc.spreads, notFinite) {
		return errors.New("detector: recurrence state out of range")
	}
	return nil
}

func notFinite(v float64) bool { return !finite(v) }
