package detector

import (
	"errors"
	"math"
	"slices"

	"github.com/aewatch/aewatch/internal/detmath"
	"github.com/aewatch/aewatch/internal/grow"
	"github.com/aewatch/aewatch/internal/statecodec"
)

// marginal is the reference's histogram of each channel's values on the
// reference normalisation: how often normal data visits each level. It
// scores only channels whose values fall into separate states that the
// signal stays in and leaves again (a motor's on and off), where a
// window's mean and shape say little: the off state lifted by a tenth of
// the on-off swing, a noisier on state, a current creeping through levels
// the motor only passed through. A unimodal channel's levels are the
// reference error's job.
type marginal struct {
	counts []float32 // channel-major, marginalBins per channel (halved now and then: exact for ten halvings, a 2^-10 of a count after)
	totals []float64 // per channel
	cal    *tailCalibrator
	last   float64 // the last window's statistic
	modal  []bool  // channels with states, decided when the period ends
	// unvisited counts, per channel, the last window's samples in levels
	// normal data has (almost) never visited.
	unvisited []int
	// settled: the modal channels are decided (the period is over).
	settled bool

	// Over the reference period: an even sample of the values (seasonal
	// cycle off, raw units), how many samples equal the one before (a
	// quantised transmitter's few levels are not states), the largest
	// steps between samples (a noisy channel jumps all the time, a single
	// step is a change, not a cycle) and how many steps there were.
	sample []float64 // channel-interleaved
	jumps  []float64 // the steps to the sampled values, likewise
	stride int
	still  []float64
	top    []float64 // marginalTop per channel
	steps  int
	prev   []float64
	// lo and hi are each channel's extremes over the period; from and
	// width place its bins (normalised units).
	lo, hi, from, width []float64
	// split is, per modal channel, the raw value between its two states
	// (the middle of the gap); below and above are the states' means.
	split, below, above []float64
	belowSD, aboveSD    []float64
	stateN              []float64 // the smaller state's count in the sample
	// switches is, per channel, the share of the period's steps that
	// jumped half a deviation.
	switches []float64
	// stepwise: modal channels that moved only by jumps between levels
	// they held (runs.go follows the runs between their jumps).
	stepwise []bool
	// byJumps: channels, modal or not, that held levels exactly (still on
	// marginalHeld of steps or more) and moved only by jumps between them,
	// no quantised transmitter: a valve's command, a setpoint, an input
	// whose level a relation may come to judge. A measured value that
	// follows one, with its noise, is not still.
	byJumps []bool
}

const (
	marginalBins = 128
	// marginalForget: at this many samples a channel's counts are halved,
	// so the histogram keeps following the normal it is shown.
	marginalForget = 1 << 14
	// marginalSample values per channel are kept over the period.
	marginalSample = 256
	marginalTop    = 16
	// A channel has states when an empty stretch of at least half a
	// deviation (bins each holding less than marginalEmpty of the values)
	// has a fifth of the values on either side, at least marginalMinJumps
	// steps of half a deviation went between them, and at most
	// marginalMaxJumpShare of all steps did, and it is not quantised.
	marginalEmpty        = 0.0025
	marginalMinJumps     = 2
	marginalMaxJumpShare = 0.1
	// A channel is quantised when more than marginalStill of its samples
	// equal the one before and it moves in steps of half a deviation,
	// unless it holds one of at most marginalLevels levels on at least
	// marginalHeld of its steps and they are not a lattice walked one
	// quantum at a time.
	marginalStill  = 0.2
	marginalHeld   = 0.9
	marginalLevels = 8
	// marginalFewJumps: a channel that jumped fewer times in the period
	// has not shown all its states (periodForStates).
	marginalFewJumps = 8
	// marginalLongest: a period restarted for a channel's states
	// (periodForStates) is at most this many reference periods long.
	marginalLongest = 8
	// marginalQuiet: a channel moves only by jumps when all but
	// marginalQuietShare of its other steps are under this many deviations.
	marginalQuiet      = 0.1
	marginalQuietShare = 0.05
	// A level is visited once it holds marginalEmpty of the values and at
	// least marginalMinCount of them.
	marginalMinCount = 2
	marginalLearnMax = 2
	// marginalMinSpan pads a channel's span by at least this many
	// deviations on either side.
	marginalMinSpan = 0.25
	// marginalDiscount decades are taken off the marginal's evidence: it
	// is a second look at the same window (Bonferroni for two).
	marginalDiscount = 0.3
)

// newMarginal returns a state finder for channels; with a tail (the
// reference's), it also scores windows of rows samples on the histogram.
func newMarginal(tail *TailConfig, channels, rows int) *marginal {
	var cal *tailCalibrator
	if tail != nil {
		cal = newTailCalibrator(*tail)
		// The tail is at least a sample's share wide: normal windows that
		// never leave the visited levels must not make one stray sample an
		// alarm.
		cal.minScale = 1 / float64(rows)
	}
	f := func() []float64 { return make([]float64, channels) }
	return &marginal{
		counts: make([]float32, channels*marginalBins), totals: f(), cal: cal,
		modal: make([]bool, channels), stepwise: make([]bool, channels), byJumps: make([]bool, channels), unvisited: make([]int, channels),
		still: f(), top: make([]float64, channels*marginalTop), prev: f(),
		lo: f(), hi: f(), from: f(), width: f(),
		split: f(), below: f(), above: f(), belowSD: f(), aboveSD: f(), stateN: f(), switches: f(),
	}
}

// bin maps channel j's normalised value v to its bin, or -1 beyond the
// histogram's span.
func (m *marginal) bin(j int, v float64) int {
	b := (v - m.from[j]) / m.width[j]
	if !(b >= 0 && b < marginalBins) {
		return -1
	}
	return int(b)
}

// observe folds in the n-th accepted sample y of a reference period of
// period samples.
func (m *marginal) observe(y []float64, n, period int) {
	if n == 1 {
		m.stride = (period + marginalSample - 1) / marginalSample
		m.sample, m.jumps = nil, nil
		copy(m.lo, y)
		copy(m.hi, y)
	} else {
		for j, v := range y {
			m.lo[j], m.hi[j] = min(m.lo[j], v), max(m.hi[j], v)
		}
		m.steps++
		for j, v := range y {
			if v == m.prev[j] {
				m.still[j]++
			}
			top, d := m.top[j*marginalTop:(j+1)*marginalTop], math.Abs(v-m.prev[j])
			if i := slices.Index(top, slices.Min(top)); d > top[i] {
				top[i] = d
			}
		}
	}
	// Every stride-th sample on average, at random: a cycle whose length
	// is a multiple of the stride must not always be sampled in the same
	// phase.
	if lim := len(y) * marginalSample; n > 1 && detmath.Mix(uint64(n))%uint64(m.stride) == 0 && len(m.sample) < lim {
		m.sample = grow.Append(m.sample, lim, y...)
		for j, v := range y {
			m.jumps = grow.Append(m.jumps, lim, math.Abs(v-m.prev[j]))
		}
	}
	copy(m.prev, y)
}

// settle decides the modal channels once the period is over, from the
// period's sample on the final normalisation, and seeds the histogram
// with it.
func (m *marginal) settle(mean, spread func(int) float64) {
	m.settled = true
	c := len(m.modal)
	for j := range c {
		// The span the period covered, a quarter wider on either side,
		// so that the bins resolve the states' own noise.
		lo, hi := (m.lo[j]-mean(j))/spread(j), (m.hi[j]-mean(j))/spread(j)
		pad := max(0.25*(hi-lo), marginalMinSpan)
		m.from[j], m.width[j] = lo-pad, (hi-lo+float64(2*pad))/marginalBins
	}
	for i, v := range m.sample {
		j := i % c
		if b := m.bin(j, (v-mean(j))/spread(j)); b >= 0 {
			m.counts[j*marginalBins+b]++
		}
		m.totals[j]++
	}
	for j := range m.modal {
		gap := int(0.5 / m.width[j])
		big, sampledBig := m.jumpCount(j, spread(j)), 0
		for i := j; i < len(m.jumps); i += c {
			if m.jumps[i] >= 0.5*spread(j) {
				sampledBig++
			}
		}
		total := m.totals[j]
		// Exact while the largest steps are not all jumps; otherwise the
		// rate is high and the sample measures it well.
		m.switches[j] = float64(sampledBig) / max(total, 1)
		if big < marginalTop {
			m.switches[j] = float64(big) / float64(max(m.steps, 1))
		}
		if total == 0 || m.quantised(j, spread(j)) || big < marginalMinJumps ||
			float64(sampledBig) > marginalMaxJumpShare*total {
			continue
		}
		var below float64
		run := 0
		for b, n := range m.counts[j*marginalBins : (j+1)*marginalBins] {
			if float64(n) < marginalEmpty*total {
				run++
			} else {
				if run >= gap && below >= 0.2*total && total-below >= 0.2*total {
					m.modal[j] = true
					// The middle of the gap, in raw units.
					g := m.from[j] + float64((float64(b)-float64(run)/2)*m.width[j])
					m.split[j] = mean(j) + float64(g*spread(j))
					break
				}
				run = 0
			}
			below += float64(n)
		}
	}
	for j := range m.modal {
		byJumps := m.totals[j] > 0 && m.jumpCount(j, spread(j)) > 0 && m.movesByJumps(j, spread(j))
		m.stepwise[j] = m.modal[j] && byJumps
		m.byJumps[j] = byJumps && m.still[j] >= marginalHeld*float64(m.steps) && !m.quantised(j, spread(j))
	}
	m.stateMeans(c)
	m.sample, m.jumps = nil, nil // needed again only if the reference period restarts
}

// quantised reports whether channel j moves like a transmitter whose
// quantum is large against the signal's spread: it stood still on more
// than marginalStill of the period's steps and moved by half a deviation
// (spread) or more on most of the others, so its few levels are one
// signal's, not states. A channel that holds one of a few levels which are
// not one quantum apart, or that it leaves for levels beyond the next (a
// valve's commanded positions, a mode, a setpoint), has states however
// still it stands, as has one that wanders in small steps around each
// level (a valve's position feedback).
func (m *marginal) quantised(j int, spread float64) bool {
	if m.still[j] <= marginalStill*float64(m.steps) {
		return false
	}
	c := len(m.modal)
	moved, big := 0, 0
	for i := j; i < len(m.jumps); i += c {
		if d := m.jumps[i]; d > 0 {
			moved++
			if d >= 0.5*spread {
				big++
			}
		}
	}
	if 2*big < moved {
		return false
	}
	if m.still[j] < marginalHeld*float64(m.steps) {
		return true
	}
	levels := make([]float64, 0, marginalLevels+1)
	for i := j; i < len(m.sample) && len(levels) <= marginalLevels; i += c {
		if v := m.sample[i]; !slices.Contains(levels, v) {
			levels = append(levels, v)
		}
	}
	if len(levels) > marginalLevels {
		return true
	}
	if len(levels) < 3 {
		return false // two levels: no quantum to tell them by
	}
	slices.Sort(levels)
	narrow, wide := math.Inf(1), 0.0
	for i := 1; i < len(levels); i++ {
		d := levels[i] - levels[i-1]
		narrow, wide = min(narrow, d), max(wide, d)
	}
	// A lattice, neighbours one quantum apart, walked one quantum at a
	// time: a valve at 0, 50 and 100% is a lattice too, but it goes from
	// closed to open at once.
	return wide <= 1.5*narrow && slices.Max(m.top[j*marginalTop:(j+1)*marginalTop]) <= 1.5*narrow
}

// periodForStates returns, when some channel moved only by jumps between
// levels it held (a valve's positions, a setpoint) and jumped fewer than
// marginalFewJumps times in the period, a period long enough to expect
// twice that many at the same rate (a count expected at 16 falls below 8
// about 2% of the time, one expected at 8 nearly half of it): until then
// its states are not all known. 0 otherwise.
// spread gives each channel's deviation; the period's sample must be in.
// Context channels are left out.
func (m *marginal) periodForStates(period int, spread func(int) float64, context []bool) int {
	want := 0
	for j := range m.modal {
		if isContext(context, j) {
			continue // an input's moves are the operators' (a setpoint)
		}
		if n := m.jumpCount(j, spread(j)); n > 0 && n < marginalFewJumps && m.movesByJumps(j, spread(j)) {
			want = max(want, period*2*marginalFewJumps/n)
		}
	}
	return want
}

// jumpCount is how many of the period's steps on channel j were jumps of
// half a deviation (spread) or more: exact up to marginalTop.
func (m *marginal) jumpCount(j int, spread float64) int {
	n := 0
	for _, d := range m.top[j*marginalTop : (j+1)*marginalTop] {
		if d >= 0.5*spread {
			n++
		}
	}
	return n
}

// movesByJumps reports whether channel j, between its jumps, moved by
// less than marginalQuiet deviations (spread) on all but
// marginalQuietShare of the period's sampled steps (its callers know it
// jumped).
func (m *marginal) movesByJumps(j int, spread float64) bool {
	c := len(m.modal)
	other, loud := 0, 0
	for i := j; i < len(m.jumps); i += c {
		if d := m.jumps[i]; d < 0.5*spread {
			other++
			if d >= marginalQuiet*spread {
				loud++
			}
		}
	}
	return other > 0 && float64(loud) <= marginalQuietShare*float64(other)
}

// stateMeans sets each modal channel's mean value below and above its
// split from the period's sample.
func (m *marginal) stateMeans(c int) {
	for j := range m.modal {
		if !m.modal[j] {
			continue
		}
		var lo, hi, lo2, hi2, nlo, nhi float64
		for i := j; i < len(m.sample); i += c {
			if v := m.sample[i]; v < m.split[j] {
				lo, lo2, nlo = lo+v, lo2+float64(v*v), nlo+1
			} else {
				hi, hi2, nhi = hi+v, hi2+float64(v*v), nhi+1
			}
		}
		m.below[j], m.above[j] = lo/max(nlo, 1), hi/max(nhi, 1)
		m.stateN[j] = min(nlo, nhi)
		// Floored at a thousandth of the gap between them, for a state
		// that does not move at all.
		floor := float64(1e-3*math.Abs(m.above[j]-m.below[j])) + 1e-12
		m.belowSD[j] = max(math.Sqrt(max(0, lo2/max(nlo, 1)-float64(m.below[j]*m.below[j]))), floor)
		m.aboveSD[j] = max(math.Sqrt(max(0, hi2/max(nhi, 1)-float64(m.above[j]*m.above[j]))), floor)
	}
}

// state returns the mean and deviation of the state v is in, on channel
// j (modal only).
func (m *marginal) state(j int, v float64) (mean, sd float64) {
	if v < m.split[j] {
		return m.below[j], m.belowSD[j]
	}
	return m.above[j], m.aboveSD[j]
}

// statistic is the share of the window's samples in levels normal data
// has (almost) never visited, on the channel where it is largest. vec is
// channel-interleaved with c channels, normalised and clipped. A share
// rather than a frequency: how much time normal data spends in each state
// changes with the cycle's phase and would move it.
func (m *marginal) statistic(vec []float64, c int) float64 {
	rows := len(vec) / c
	worst := 0
	for j := range c {
		if !m.modal[j] {
			continue
		}
		counts, floor := m.counts[j*marginalBins:(j+1)*marginalBins], max(marginalEmpty*m.totals[j], marginalMinCount)
		unvisited := 0
		for q := range rows {
			if b := m.bin(j, vec[q*c+j]); b < 0 || float64(counts[b]) < floor {
				unvisited++
			}
		}
		m.unvisited[j] = unvisited
		worst = max(worst, unvisited)
	}
	m.last = float64(worst) / float64(rows)
	return m.last
}

// learn counts the newest row of vec, a window accepted as normal, on
// the channels where the window stayed (all but marginalLearnMax samples)
// in visited levels: the histogram widens with a state that slowly moves,
// not with the first samples of a noise burst the tail did not yet call a
// fault.
func (m *marginal) learn(vec []float64, c int) {
	for j, v := range vec[len(vec)-c:] {
		if !m.modal[j] || m.unvisited[j] > marginalLearnMax {
			continue
		}
		counts := m.counts[j*marginalBins : (j+1)*marginalBins]
		if b := m.bin(j, v); b >= 0 {
			counts[b]++
		}
		m.totals[j]++
		if m.totals[j] >= marginalForget {
			for i := range counts {
				counts[i] *= 0.5
			}
			m.totals[j] *= 0.5
		}
	}
}

// reset starts a new reference period.
func (m *marginal) reset() {
	m.settled, m.steps, m.last = false, 0, 0
	m.sample, m.jumps = nil, nil
	for _, s := range append(m.nonNegative(), m.signed()...) {
		clear(s)
	}
	clear(m.counts)
	clear(m.modal)
	clear(m.stepwise)
	clear(m.byJumps)
	if m.cal != nil {
		m.cal.reset()
	}
}

// steadyBytes is what bytes comes to after a reference period, its tail
// full: the period's sample is freed when the period ends.
func (m *marginal) steadyBytes() int {
	n := m.bytes() - 8*(cap(m.sample)+cap(m.jumps))
	if m.cal != nil {
		n += m.cal.fullBytes() - m.cal.bytes()
	}
	return n
}

// fullBytes is what bytes comes to during a reference period, with its
// sample full.
func (m *marginal) fullBytes() int {
	n := m.bytes() + 8*(2*len(m.modal)*marginalSample-cap(m.sample)-cap(m.jumps))
	if m.cal != nil {
		n += m.cal.fullBytes() - m.cal.bytes()
	}
	return n
}

// bytes is the memory it holds, its tail model included.
func (m *marginal) bytes() int {
	n := cap(m.sample) + cap(m.jumps) + 4*len(m.modal) // modal, stepwise, byJumps and unvisited
	for _, s := range append(m.nonNegative(), m.signed()...) {
		n += len(s)
	}
	n = 8*n + 4*len(m.counts)
	if m.cal != nil {
		n += m.cal.bytes()
	}
	return n
}

// active reports whether any channel is scored.
func (m *marginal) active() bool { return slices.Contains(m.modal, true) }

func (m *marginal) appendState(e *statecodec.Encoder) {
	if m.cal != nil {
		m.cal.appendState(e)
	}
	e.F64(m.last)
	e.Bool(m.settled)
	for j, b := range m.modal {
		e.Bool(b)
		e.Bool(m.stepwise[j])
		e.Bool(m.byJumps[j])
		e.Int(m.unvisited[j])
	}
	e.F64s(m.sample)
	e.F64s(m.jumps)
	e.Int(m.stride)
	e.Int(m.steps)
	e.F32s(m.counts)
	for _, s := range append(m.nonNegative(), m.signed()...) {
		e.F64s(s)
	}
}

func (m *marginal) readState(d *statecodec.Decoder) error {
	if m.cal != nil {
		if err := m.cal.readState(d); err != nil {
			return err
		}
	}
	m.last, m.settled = d.F64(), d.Bool()
	for j := range m.modal {
		m.modal[j], m.stepwise[j], m.byJumps[j] = d.Bool(), d.Bool(), d.Bool()
		m.unvisited[j] = d.Int()
	}
	m.sample = d.F64sAppend(nil, len(m.modal)*marginalSample, "histogram sample")
	m.jumps = d.F64sAppend(nil, len(m.modal)*marginalSample, "histogram sampled steps")
	m.stride, m.steps = d.Int(), d.Int()
	d.F32sInto(m.counts, "value histogram counts")
	nonNegative, signed := m.nonNegative(), m.signed()
	for _, s := range append(nonNegative, signed...) {
		d.F64sInto(s, "value histogram state")
	}
	if err := d.Err(); err != nil {
		return err
	}
	bad := func(v float64) bool { return !(v >= 0 && v <= math.MaxFloat64) }
	out := m.stride < 0 || m.steps < 0 || bad(m.last) || len(m.sample)%len(m.modal) != 0 || len(m.jumps) != len(m.sample) ||
		slices.ContainsFunc(m.unvisited, func(n int) bool { return n < 0 }) ||
		slices.ContainsFunc(m.jumps, bad) || slices.ContainsFunc(m.sample, notFinite)
	for _, s := range nonNegative {
		out = out || slices.ContainsFunc(s, bad)
	}
	out = out || slices.ContainsFunc(m.counts, func(n float32) bool { return bad(float64(n)) })
	for _, s := range signed {
		out = out || slices.ContainsFunc(s, notFinite)
	}
	if out {
		return errors.New("detector: value histogram state out of range")
	}
	return nil
}

// nonNegative and signed list the fixed-length parts of the state: those
// that hold counts, widths and deviations, and those that hold values.
func (m *marginal) nonNegative() [][]float64 {
	return [][]float64{m.totals, m.still, m.top, m.width, m.switches, m.belowSD, m.aboveSD, m.stateN}
}

func (m *marginal) signed() [][]float64 {
	return [][]float64{m.prev, m.lo, m.hi, m.from, m.split, m.below, m.above}
}

// unseen reports whether some channel of means lies beyond the extremes
// the period saw.
func (m *marginal) unseen(means []float64) bool {
	for j, v := range means {
		if v < m.lo[j] || v > m.hi[j] {
			return true
		}
	}
	return false
}
