package detector

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/aewatch/aewatch/internal/grow"
	"github.com/aewatch/aewatch/internal/statecodec"
)

// SeasonConfig sets the reference model's seasonal context. Over a
// series' first Learn accepted samples (sampled without gaps longer than
// five mean intervals) each channel's block means are kept; if their autocorrelation shows a cycle of window.size to Learn/2
// samples (a daily cycle, a slow duty cycle), the channel's mean profile
// over one cycle is subtracted from what the reference sees, by the
// phase of each sample's time, and the reference period starts again. A
// level shift or a changed profile on a cyclic signal then stands out
// where a 32-sample window could not tell it from another phase of the
// cycle.
type SeasonConfig struct {
	// Learn is how many accepted samples the cycle is found in; 0 turns
	// seasonal context off.
	Learn int `yaml:"learn"`
	// LongLearn is how far the search goes on where it found no cycle on
	// any channel: it looks again each time the samples seen double (at
	// 2, 4, 8, ... times Learn, up to LongLearn), its block means merged
	// in pairs, so that each search holds as many as the first and sees
	// cycles twice as long (a day sampled each minute at 4,000, each 10
	// s at 32,000). The reference's period is over and it freezes as if
	// there were no later search; a cycle found restarts the period as
	// the first search's does. Below 2 x Learn it is off, as with Learn 0.
	LongLearn int `yaml:"long_learn"`
	// MinACF is the autocorrelation of block means that a cycle needs at
	// one, two and as many cycles as half the learning holds.
	MinACF float64 `yaml:"min_acf"`
	// Score makes the reference's score also the anomaly score (the
	// larger of the two) of a series whose cycle it reads by phase: a day
	// that lacks its peak, or has it an hour late, is a shape the
	// adapting network's window (and the coarse track's) cannot tell
	// from another phase of the cycle, and only the reference judges it.
	// The alert opens on the reference's score either way.
	Score bool `yaml:"score"`
}

// DefaultSeasonConfig returns the defaults.
func DefaultSeasonConfig() SeasonConfig {
	return SeasonConfig{Learn: 2000, LongLearn: 32000, MinACF: 0.6, Score: true}
}

// Validate names the first invalid field and its value.
func (c SeasonConfig) Validate(windowSize int) error {
	switch {
	case c.Learn != 0 && (c.Learn < 8*windowSize || c.Learn > 1e6):
		return fmt.Errorf("detector.reference.season.learn: must be 0 (off) or in [8 x window.size = %d, 1e6] (got %d)", 8*windowSize, c.Learn)
	case c.Learn != 0 && c.LongLearn != 0 && (c.LongLearn < 2*c.Learn || c.LongLearn > 1e8):
		return fmt.Errorf("detector.reference.season.long_learn: must be 0 (off) or in [2 x learn = %d, 1e8] (got %d)", 2*c.Learn, c.LongLearn)
	case !(c.MinACF > 0 && c.MinACF < 1):
		return fmt.Errorf("detector.reference.season.min_acf: must be in (0, 1) (got %v)", c.MinACF)
	}
	return nil
}

// maxBlocks bounds the block means kept while learning.
const maxBlocks = 512

// season finds each channel's cycle and gives each sample its offset.
type season struct {
	cfg   SeasonConfig
	size  int // window size
	block int // samples per block mean

	n       int   // accepted samples seen while learning
	t0      int64 // time of the first
	tLast   int64 // time of the last
	maxStep int64 // the longest interval between two of them
	sum     []float64
	blocks  [][]float64  // per channel, block means while learning
	origin  []float64    // per channel, the first sample, which the moments below are taken from
	moments [][2]float64 // per channel, the sum and the sum of squares of the samples while learning

	done    bool
	lblock  int         // a later search's samples per block mean; 0: none is on
	dt      float64     // mean sampling interval, ns
	period  []int       // per channel, profile bins (the cycle in blocks); 0: no cycle
	cycle   []float64   // per channel, the cycle in ns
	profile [][]float32 // per channel, offset from the mean per bin of the cycle (float32: a millionth of it is far below any noise)

	off     []float64 // ring of the window's samples' offsets, size × channels
	pos     int       // ring slot of the next sample
	xs      []float64 // the last sample without its cycles
	longest float64   // longestCycle, once learnt (derived, not snapshotted)
	// clockOnly: a later search takes only a cycle within clockSnapLater
	// of a clock cycle (the drift monitor's: DriftConfig.LongLearn).
	clockOnly bool
}

func newSeason(cfg SeasonConfig, size, channels int) *season {
	if cfg.Learn == 0 {
		return nil
	}
	s := &season{cfg: cfg, size: size, block: max(1, (cfg.Learn+maxBlocks-1)/maxBlocks),
		sum: make([]float64, channels), origin: make([]float64, channels), moments: make([][2]float64, channels),
		period: make([]int, channels), cycle: make([]float64, channels),
		off: make([]float64, size*channels), xs: make([]float64, channels)}
	s.blocks, s.profile = make([][]float64, channels), make([][]float32, channels)
	return s
}

// blocksLen is how many block means a channel's learning holds at most
// (a later search as many: its blocks are as much longer as it is).
func (s *season) blocksLen() int { return s.cfg.Learn/s.block + 1 }

// bytes is the memory it holds: the window's offsets, and per channel the
// block means while it learns, then the cycle's profile.
func (s *season) bytes() int {
	n := 8 * len(s.off)
	for j := range s.blocks {
		n += 8*cap(s.blocks[j]) + 4*cap(s.profile[j])
	}
	return n
}

// fullBytes is the most it holds: the offsets and every channel's block
// means at the end of its learning (a profile is shorter).
func (s *season) fullBytes() int { return 8 * (len(s.off) + len(s.blocks)*s.blocksLen()) }

// steadyBytes bounds what it holds once its learning is over: the offsets
// and every channel's profile, a cycle being at most half the block means
// (findCycle).
func (s *season) steadyBytes() int { return 8*len(s.off) + 4*len(s.blocks)*(s.blocksLen()/2) }

// observe takes an accepted sample at time t. It reports whether the
// learning has just ended with a cycle found on some channel, and returns
// the sample without its channels' cycles: x itself while learning, else
// a buffer of s valid until the next call.
func (s *season) observe(t int64, x []float64) (found bool, y []float64) {
	c := len(x)
	if s.done {
		off := s.off[s.pos*c : (s.pos+1)*c]
		for j, v := range x {
			off[j] = s.offset(j, t)
			s.xs[j] = v - off[j]
		}
		s.pos = (s.pos + 1) % s.size
		if s.lblock > 0 && s.observeLong(t, x) {
			// As at the end of the first search: the window's offsets
			// start with the next sample.
			for j, v := range x {
				s.xs[j] = v - s.offset(j, t)
			}
			return true, s.xs
		}
		return false, s.xs
	}
	s.take(t, x, s.block)
	if s.n < s.cfg.Learn {
		return false, x
	}
	s.done = true
	s.dt = float64(s.tLast-s.t0) / float64(max(1, s.n-1))
	// With gaps in the sampling, block means would not be equally spaced
	// in time: no cycle is looked for.
	even := float64(s.maxStep) <= 5*s.dt
	for j := range s.blocks {
		if even {
			s.period[j], s.cycle[j], s.profile[j] = s.findCycle(s.blocks[j], s.block, s.size, nil)
			found = found || s.period[j] > 0
		}
	}
	if even && !found && s.cfg.LongLearn >= 2*s.cfg.Learn {
		s.lblock = s.block
		s.coarsen()
	} else {
		clear(s.blocks)
	}
	s.longest = s.longestCycle()
	for j, v := range x {
		s.xs[j] = v - s.offset(j, t)
	}
	return found, s.xs
}

// take folds an accepted sample at time t into the search: its moments
// and its means of block samples.
func (s *season) take(t int64, x []float64, block int) {
	if s.n == 0 {
		s.t0 = t
	} else {
		s.maxStep = max(s.maxStep, t-s.tLast)
	}
	s.n++
	s.tLast = t
	for j, v := range x {
		s.addMoments(j, v)
		s.sum[j] += v
		if s.n%block == 0 {
			s.blocks[j] = grow.Append(s.blocks[j], s.blocksLen(), s.sum[j]/float64(block))
			s.sum[j] = 0
		}
	}
}

// searching reports whether a search for a cycle is still on.
func (s *season) searching() bool { return !s.done || s.lblock > 0 }

// coarsen doubles the block of the search: block means merge in pairs,
// one left over (and the samples not yet in a block) into the sum of the
// next.
func (s *season) coarsen() {
	for j, b := range s.blocks {
		whole := len(b) / 2 * 2
		for i := 0; i < whole; i += 2 {
			b[i/2] = (b[i] + b[i+1]) / 2
		}
		if whole < len(b) {
			s.sum[j] += b[whole] * float64(s.lblock)
		}
		s.blocks[j] = b[:whole/2]
	}
	s.lblock *= 2
}

// searchEnd is how many samples the search on holds when it looks.
func (s *season) searchEnd() int { return s.cfg.Learn * (s.lblock / s.block) }

// observeLong folds an accepted sample into the later searches and
// reports whether one has just ended with a cycle found on some channel.
func (s *season) observeLong(t int64, x []float64) (found bool) {
	s.take(t, x, s.lblock)
	even := float64(s.maxStep) <= 5*s.dt
	if even && s.n < s.searchEnd() {
		return false
	}
	if even {
		// Only a cycle longer than a quarter of what the last search held:
		// a shorter one it saw (and had it not taken it, it failed its
		// tests there).
		s.dt = float64(s.tLast-s.t0) / float64(max(1, s.n-1))
		for j := range s.blocks {
			s.period[j], s.cycle[j], s.profile[j] = s.findCycle(s.blocks[j], s.lblock, s.searchEnd()/8, &s.moments[j])
			found = found || s.period[j] > 0
		}
	}
	if even && !found && 2*s.searchEnd() <= s.cfg.LongLearn {
		s.coarsen()
	} else {
		s.lblock = 0
		clear(s.blocks)
		clear(s.sum)
	}
	s.longest = s.longestCycle()
	return found
}

// clockCycles are the cycles plants keep to the clock: shifts, parts of a
// day, a day, a week. A cycle found within clockSnap of one is taken as
// exactly it, so that its phase does not wander over the days a series
// runs.
var clockCycles = []time.Duration{time.Hour, 2 * time.Hour, 3 * time.Hour, 4 * time.Hour, 6 * time.Hour, 8 * time.Hour,
	12 * time.Hour, 24 * time.Hour, 48 * time.Hour, 7 * 24 * time.Hour}

// clockSnap is how near a clock cycle a cycle found is taken as it. A
// cycle is found to within 0.3% (refine); at 4% a machine's cycle of 61.3
// minutes was taken as the hour, and its profile slid out of phase by a
// quarter cycle every 12 cycles.
const clockSnap = 0.01

// clockSnapLater is how near a clock cycle a later search's cycle must
// be where only clock cycles are taken (season.clockOnly). Holding two to
// four cycles, it has no peaks at many cycles to refine on: a day
// sampled each second came out 1.3% long (24.32 h, in 512-sample
// blocks), every 3 s 0.9% short.
const clockSnapLater = 0.02

// snapCycle returns the clock cycle within tol (a fraction) of c ns and
// true, or c and false.
func snapCycle(c, tol float64) (float64, bool) {
	for _, k := range clockCycles {
		if math.Abs(c-float64(k)) <= float64(tol*float64(k)) {
			return float64(k), true
		}
	}
	return c, false
}

// findCycle returns the cycle of block means b, each of block samples, in
// blocks and in ns, and the mean profile over one cycle (offsets from the
// overall mean, one bin per block of the cycle), or zeros and nil; also
// when the first peak is shorter than shortest samples, or (moments, of
// the samples, given) the profile is not smooth against the samples'
// residual noise (smoothProfile).
func (s *season) findCycle(b []float64, block, shortest int, moments *[2]float64) (int, float64, []float32) {
	// Without its linear trend: a ramp correlates with itself at every lag.
	n := float64(len(b))
	var mean, slope, sxx float64
	for _, x := range b {
		mean += x
	}
	mean /= n
	for i, x := range b {
		u := float64(i) - float64((n-1)/2)
		slope += float64(u * (x - mean))
		sxx += float64(u * u)
	}
	slope /= sxx
	d := make([]float64, len(b))
	var v float64
	for i, x := range b {
		d[i] = x - mean - float64(slope*(float64(i)-float64((n-1)/2)))
		v += float64(d[i] * d[i])
	}
	if v == 0 {
		return 0, 0, nil
	}
	acf := func(lag int) float64 {
		var r float64
		for i := 0; i+lag < len(d); i++ {
			r += float64(d[i] * d[i+lag])
		}
		return r / v * n / (n - float64(lag))
	}
	// The cycle is the first peak of the autocorrelation of at least
	// MinACF after it dipped below half of that, with MinACF again at twice
	// the lag. A cycle shorter than the window is the network's business.
	best, dipped := 0, false
	prev := acf(1)
	for lag := 2; 2*lag < len(d); lag++ {
		r := acf(lag)
		dipped = dipped || r < s.cfg.MinACF/2
		if dipped && r >= s.cfg.MinACF && r >= prev && r >= acf(lag+1) {
			best = lag
			break
		}
		prev = r
	}
	// A cycle that keeps to the clock (a day, a shift pattern) is still
	// there as many cycles later as the learning allows; a duty cycle
	// whose length wanders is not, and its mean profile would be wrong
	// where the phase has wandered off.
	if best == 0 || best*block < shortest {
		return 0, 0, nil
	}
	blocks := s.refine(acf, best, len(d))
	at := func(cycles int) int { return int(math.Round(float64(cycles) * blocks)) }
	if acf(at(2)) < s.cfg.MinACF || acf(at(len(d)/2/best)) < s.cfg.MinACF {
		return 0, 0, nil
	}
	later := moments != nil && s.clockOnly
	tol := clockSnap
	if later {
		tol = clockSnapLater
	}
	cycle, onClock := snapCycle(float64(blocks*float64(block)*s.dt), tol)
	if later && !onClock {
		return 0, 0, nil
	}
	sums, counts := make([]float64, best), make([]int, best)
	for i, x := range d {
		mid := (float64(i*block) + float64(float64(block-1)/2)) * s.dt
		k := s.bin(mid, cycle, best)
		sums[k] += x
		counts[k]++
	}
	profile := make([]float32, best)
	for k, sum := range sums {
		if counts[k] > 0 {
			profile[k] = float32(sum / float64(counts[k]))
		}
	}
	if moments != nil && !smoothProfile(profile, counts, block, residualNoise(*moments, s.n, float64(slope*slope)*sxx/n, profile, counts)) {
		return 0, 0, nil
	}
	return best, cycle, profile
}

// maxProfileJump is how far, in the samples' residual deviations, a
// later search's profile may move between neighbouring bins beyond what
// its own averaging error allows (two of its standard errors). Its bins
// are as long as its blocks (32 samples at 16,000): a sharp edge inside
// one (a cleaning cycle's bump) is smeared over it, the residual at every
// edge reads as a departure of half the edge, and the reference's tail
// learns those as normal (a drop of 7 deviations went unalerted). Seen:
// 2.1-2.3 on such a bump of 6 deviations every 2,500 samples, at most 1.0
// on daily cycles sampled each minute and every 20 s.
const maxProfileJump = 1.5

// smoothProfile reports whether no two neighbouring bins of profile (the
// last next to the first), each the mean of counts block means of block
// samples, differ by more than maxProfileJump times noise beyond their
// averaging error.
func smoothProfile(profile []float32, counts []int, block int, noise float64) bool {
	for k, v := range profile {
		next := (k + 1) % len(profile)
		allow := 2 * noise * math.Sqrt(1/float64(block*max(1, counts[k]))+1/float64(block*max(1, counts[next])))
		if math.Abs(float64(v-profile[next]))-allow > maxProfileJump*noise {
			return false
		}
	}
	return true
}

// addMoments folds channel j's sample v into its moments.
func (s *season) addMoments(j int, v float64) {
	if s.n == 1 {
		s.origin[j] = v
	}
	d := v - s.origin[j]
	s.moments[j][0] += d
	s.moments[j][1] += float64(d * d) // rounded: arm64 must not fuse it
}

// residualNoise is the deviation per sample of the n samples with moments
// m about their line and the cycle's profile: their variance less the
// line's (trendVar, per block mean) and the profile's, whose bins hold
// counts block means each (a wander counts in it: an edge is measured
// against what the reference sees anyway).
func residualNoise(m [2]float64, n int, trendVar float64, profile []float32, counts []int) float64 {
	mean := m[0] / float64(n)
	v := m[1]/float64(n) - float64(mean*mean)
	var pv float64
	blocks := 0
	for k, p := range profile {
		pv += float64(counts[k]) * float64(float64(p)*float64(p))
		blocks += counts[k]
	}
	return math.Sqrt(max(0, v-trendVar-pv/float64(blocks)))
}

// refine returns the cycle, in blocks, to a fraction of a block: the
// autocorrelation's peak near 2, 4, 8, ... cycles, up to as many as half
// the n block means hold, each placed between blocks by a parabola through
// it and its neighbours and divided by its cycles. Each step looks within
// a quarter cycle of where the last step's cycle puts the peak: one jump
// straight to many cycles, from a whole number of blocks, lands on a
// neighbouring cycle's peak once the error times the cycles passes half a
// cycle (12.5 blocks, taken as 13, counted 20 cycles as 19: 5% off). A
// profile's phase drifts by the cycle's error every cycle.
func (s *season) refine(acf func(int) float64, best, n int) float64 {
	cycle, most := float64(best), n/2/best
	if most < 2 {
		return cycle
	}
	for m := 2; ; m = min(2*m, most) {
		cycle = peakNear(acf, int(math.Round(float64(m)*cycle)), max(1, int(cycle/4)), n) / float64(m)
		if m >= most {
			return cycle
		}
	}
}

// peakNear is the lag of acf's highest value within reach of guess (over
// lags 2..n-2), placed between lags by a parabola through its neighbours.
func peakNear(acf func(int) float64, guess, reach, n int) float64 {
	peak, b := guess, acf(guess)
	for lag := max(guess-reach, 2); lag <= min(guess+reach, n-2); lag++ {
		if r := acf(lag); r > b {
			peak, b = lag, r
		}
	}
	a, c := acf(peak-1), acf(peak+1)
	if den := a - 2*b + c; den < 0 {
		return float64(peak) + max(-0.5, min(0.5, float64(0.5*(a-c))/den))
	}
	return float64(peak)
}

// bin is the profile bin of a moment since ns after the first sample, for
// a cycle of the given length in ns and bins.
func (s *season) bin(since, cycle float64, bins int) int {
	phase := math.Mod(since, cycle) / cycle
	if phase < 0 {
		phase++
	}
	return min(bins-1, int(phase*float64(bins)))
}

// offset is channel j's seasonal offset at time t (0 without a cycle).
func (s *season) offset(j int, t int64) float64 {
	if s.period[j] == 0 {
		return 0
	}
	return float64(s.profile[j][s.bin(float64(t-s.t0), s.cycle[j], s.period[j])])
}

// drop forgets the cycles of the channels keep refuses, just after
// learning found them, and takes them off x's seasonal values again (the
// sample observe returned). It reports whether a cycle is left.
func (s *season) drop(keep func(j int) bool, x []float64) bool {
	left := false
	for j := range s.period {
		if s.period[j] > 0 && !keep(j) {
			s.period[j], s.cycle[j], s.profile[j] = 0, 0, nil
			s.xs[j] = x[j]
		}
		left = left || s.period[j] > 0
	}
	s.longest = s.longestCycle()
	return left
}

// onClock reports whether channel j's cycle is one of the clock's.
func (s *season) onClock(j int) bool {
	return slices.Contains(clockCycles, time.Duration(s.cycle[j]))
}

// longestCycle is the longest cycle found, in samples (0: none).
func (s *season) longestCycle() float64 {
	var c float64
	for _, v := range s.cycle {
		c = max(c, v)
	}
	return c / max(s.dt, 1)
}

// windowOffsets are the offsets of the channels of the sample at window
// position q (0 the oldest), c channels.
func (s *season) windowOffsets(q, c int) []float64 {
	i := (s.pos + q) % s.size
	return s.off[i*c : (i+1)*c]
}

func (s *season) appendState(e *statecodec.Encoder) {
	e.Int(s.n)
	e.I64(s.t0)
	e.I64(s.tLast)
	e.I64(s.maxStep)
	e.F64s(s.sum)
	e.F64s(s.origin)
	for _, m := range s.moments {
		e.F64(m[0])
		e.F64(m[1])
	}
	e.Bool(s.done)
	e.Int(s.lblock)
	e.F64(s.dt)
	for j := range s.period {
		e.Int(s.period[j])
		e.F64(s.cycle[j])
		e.F32s(s.profile[j])
		e.F64s(s.blocks[j])
	}
	e.F64s(s.off)
	e.Int(s.pos)
}

func (s *season) readState(d *statecodec.Decoder) error {
	s.n, s.t0, s.tLast, s.maxStep = d.Int(), d.I64(), d.I64(), d.I64()
	d.F64sInto(s.sum, "season block sums")
	d.F64sInto(s.origin, "season origins")
	for j := range s.moments {
		s.moments[j] = [2]float64{d.F64(), d.F64()}
	}
	s.done, s.lblock, s.dt = d.Bool(), d.Int(), d.F64()
	maxLen := s.blocksLen()
	for j := range s.period {
		s.period[j], s.cycle[j] = d.Int(), d.F64()
		if s.period[j] < 0 || s.period[j] > maxLen || !(s.cycle[j] >= 0) || (s.period[j] > 0) != (s.cycle[j] > 0) {
			return errors.New("detector: season state out of range")
		}
		s.profile[j] = make([]float32, s.period[j])
		d.F32sInto(s.profile[j], "season profile")
		s.blocks[j] = d.F64sAppend(nil, maxLen, "season blocks")
	}
	d.F64sInto(s.off, "season offsets")
	s.pos = d.Int()
	if err := d.Err(); err != nil {
		return err
	}
	if s.n < 0 || s.pos < 0 || s.pos >= s.size || !finite(s.dt) || s.dt < 0 || s.lblock < 0 || s.lblock > 0 && (!s.done || s.lblock < 2*s.block || s.lblock%s.block != 0 || s.lblock/s.block > s.cfg.LongLearn/s.cfg.Learn) {
		return errors.New("detector: season state out of range")
	}
	for j := range s.period {
		if !finite(s.cycle[j]) || !allFinite(s.profile[j]) || !allFinite(s.blocks[j]) {
			return errors.New("detector: season state not finite")
		}
	}
	if !allFinite(s.sum) || !allFinite(s.off) || !allFinite(s.origin) || slices.ContainsFunc(s.moments, func(m [2]float64) bool { return !finite(m[0]) || !finite(m[1]) }) {
		return errors.New("detector: season state not finite")
	}
	s.longest = s.longestCycle()
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func allFinite[T float32 | float64](v []T) bool {
	for _, x := range v {
		if !finite(float64(x)) {
			return false
		}
	}
	return true
}
