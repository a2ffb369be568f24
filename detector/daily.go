package detector

import (
	"fmt"
	"time"

	"github.com/aewatch/aewatch/internal/statecodec"
)

// DailyRepeatConfig sets how a score that recurs at the same time of day is
// shown. A scheduled operation (a nightly batch or backup, a cleaning
// cycle, a shift change) makes the same excursion day after day: unusual
// for a window of the series, usual for its day. A score reaching
// alert.open on a sample whose time of day, within Tolerance, saw a score
// reach it on at least MinDays of the Days before is shown as a repeat
// (the likelihood's "yellow", 0.4), as a repeat within an episode is
// (Result.DailyRepeat). Like EpisodeGap it changes what Result.Score shows,
// not what the alert, the bands or the learning step on.
type DailyRepeatConfig struct {
	// Days is how many days before a sample's are looked at (0: off).
	Days int `yaml:"days"`
	// MinDays is how many of them must have seen the score reach
	// alert.open near the same time of day.
	MinDays int `yaml:"min_days"`
	// Tolerance is how far from the same time of day counts as near it,
	// in steps of dailyBin (10 minutes).
	Tolerance time.Duration `yaml:"tolerance"`
}

// DefaultDailyRepeatConfig returns the defaults.
func DefaultDailyRepeatConfig() DailyRepeatConfig {
	return DailyRepeatConfig{Days: 3, MinDays: 2, Tolerance: time.Hour}
}

// dailyBin is the resolution at which times of day are remembered.
const dailyBin = 10 * time.Minute

const binsPerDay = int64(24 * time.Hour / dailyBin)

// Validate names the first invalid field and its value.
func (c DailyRepeatConfig) Validate() error {
	switch {
	case c.Days < 0 || c.Days > 14:
		return fmt.Errorf("detector.daily_repeat.days: must be in [0, 14] (got %d)", c.Days)
	case c.Days == 0:
		return nil
	case c.MinDays < 1 || c.MinDays > c.Days:
		return fmt.Errorf("detector.daily_repeat.min_days: must be in [1, days = %d] (got %d)", c.Days, c.MinDays)
	case c.Tolerance < dailyBin || c.Tolerance > 6*time.Hour:
		return fmt.Errorf("detector.daily_repeat.tolerance: must be in [10m, 6h] (got %v)", c.Tolerance)
	case c.Tolerance%dailyBin != 0:
		// Times of day are kept in steps of dailyBin: 15m would act as 10m.
		return fmt.Errorf("detector.daily_repeat.tolerance: must be a multiple of 10m (got %v)", c.Tolerance)
	}
	return nil
}

// dailyRepeats remembers, for each dailyBin of the last Days days and
// Tolerance, whether a score reached alert.open in it: a ring of bits
// indexed by the bin's number since the epoch, so that bin b and bin
// b+ring share a bit and advance clears the bins a newer sample passes
// over.
type dailyRepeats struct {
	cfg  DailyRepeatConfig
	tol  int64    // Tolerance in bins
	ring int64    // bins the ring holds: Days days, Tolerance and the newest
	bits []uint64 // one bit per bin of the ring
	last int64    // bin of the newest sample advanced to; valid when seen
	seen bool
}

// newDailyRepeats returns the memory of recurring scores; nil when off.
func newDailyRepeats(cfg DailyRepeatConfig) *dailyRepeats {
	if cfg.Days == 0 {
		return nil
	}
	tol := int64(cfg.Tolerance / dailyBin)
	ring := int64(cfg.Days)*binsPerDay + tol + 1
	return &dailyRepeats{cfg: cfg, tol: tol, ring: ring, bits: make([]uint64, (ring+63)/64)}
}

// binOf is the dailyBin that holds time t (nanoseconds since the
// epoch), counted from the epoch's: floor division, so times before it
// bin the same way.
func binOf(t int64) int64 {
	w := int64(dailyBin)
	b := t / w
	if t%w < 0 {
		b--
	}
	return b
}

// index is bin b's place in the ring.
func (r *dailyRepeats) index(b int64) int64 {
	p := b % r.ring
	if p < 0 {
		p += r.ring
	}
	return p
}

// pos is bin b's word in the ring and its bit there.
func (r *dailyRepeats) pos(b int64) (word int, mask uint64) {
	p := r.index(b)
	return int(p / 64), 1 << uint(p%64)
}

// advance moves the ring on to bin b, clearing the bins it passes over:
// they held bins further back than any query reaches. A sample dated
// before the newest (samples in order never are) moves nothing.
func (r *dailyRepeats) advance(b int64) {
	switch {
	case !r.seen:
		r.seen = true
	case b <= r.last:
		return
	case b-r.last >= r.ring:
		clear(r.bits)
	default:
		for c := r.last + 1; c <= b; c++ {
			w, m := r.pos(c)
			r.bits[w] &^= m
		}
	}
	r.last = b
}

// mark notes that a score reached alert.open in bin b (advanced to).
func (r *dailyRepeats) mark(b int64) {
	w, m := r.pos(b)
	r.bits[w] |= m
}

// recurs reports whether at least MinDays of the Days before bin b's day
// saw a score reach alert.open within Tolerance of its time of day.
func (r *dailyRepeats) recurs(b int64) bool {
	days := 0
	for d := int64(1); d <= int64(r.cfg.Days); d++ {
		if r.anyIn(b-d*binsPerDay-r.tol, b-d*binsPerDay+r.tol) {
			days++
			if days >= r.cfg.MinDays {
				return true
			}
		}
	}
	return false
}

// anyIn reports whether a bin in [from, to] is marked; bins the ring no
// longer holds (before the first sample) are not.
func (r *dailyRepeats) anyIn(from, to int64) bool {
	from = max(from, r.last-r.ring+1)
	for b := from; b <= to; {
		p := r.index(b)
		// The rest of p's word from bin b on, up to bin to and the ring's end.
		n := min(64-p%64, to-b+1, r.ring-p)
		word := r.bits[p/64] >> uint(p%64)
		if n < 64 {
			word &= 1<<uint(n) - 1
		}
		if word != 0 {
			return true
		}
		b += n
	}
	return false
}

func (r *dailyRepeats) appendState(e *statecodec.Encoder) {
	e.Bool(r.seen)
	e.I64(r.last)
	for _, w := range r.bits {
		e.U64(w)
	}
}

// readState reads what appendState wrote; the ring's length is the
// configuration's, which the snapshot's fingerprint matched.
func (r *dailyRepeats) readState(dec *statecodec.Decoder) {
	r.seen = dec.Bool()
	r.last = dec.I64()
	for i := range r.bits {
		r.bits[i] = dec.U64()
	}
}
