package detector

import (
	"fmt"
	"math"

	"github.com/aewatch/aewatch/internal/statecodec"
	"github.com/aewatch/aewatch/window"
)

// A counter (a totaliser, an energy meter, a PLC's count of parts) rises
// for ever and wraps: at 65,536 or 999,999 it starts again from 0, and a
// device restart resets it. What it says is in its rises: a meter's
// consumption, a line's rate. Scored as it comes, its level leaves every
// reference behind (a count rising at a steady rate held an alert from
// sample 2,460 to the end), and a wrap is a fall of its whole range
// (one held an alert for 2,000 samples).
//
// counters watches each channel over its first CounterWatch steps. One
// that never fell but by a wrap and rose on at least 9 steps in 10 is a
// counter (a slow temperature in whole degrees stands still on most
// steps; a noisy ramp falls on some). A fall to at most half its newest
// value and by more than counterDrop mean rises is a wrap or a reset. Once
// a counter is found, the series starts afresh (the samples waiting for
// the stride get unscored results), and from then on the detector sees
// the counter's rise since the sample before instead of its value, as a
// rate; after a wrap it goes on from where it was, by its mean rise. A
// rise over samples that did not come (a message lost, a row without the
// counter) is spread over the typical steps it spans, so one lost sample
// is no burst of twice the rate. A
// stuck, racing or slowed counter shows in its rises; the drift monitor
// leaves out the rises of 0 (a stuck counter is the quality checks', and
// its first still samples would pull the slow averages). A counter that
// falls otherwise is none (a smooth signal that rose through the watch,
// as half a daily cycle sampled each minute does): the series starts
// afresh once more and the detector sees its values again.
//
// Results carry the channel's own values: Values as the sample brought
// them, and Expected, Lower, Upper and the denoised values as values of
// the counter, the sample's rise added to the value before it. The quality
// checks read the values as they came, against the operator's limits.
//
// It belongs to its Detector and shares its goroutine.
type counters struct {
	channels int
	learnt   bool // every channel decided
	// Per channel while it is watched: a finite value came, prev the
	// newest, steps between finite values, how many rose, whether one fell
	// and rise the rises' sum (their mean once decided).
	seen  []bool
	prev  []float64
	steps []int
	rises []int
	fell  []bool
	rise  []float64
	// counting marks the counters; offset is what wraps added to each
	// one's values, last its newest value with the offset and lastTime
	// that value's time (noTime before one).
	counting []bool
	offset   []float64
	last     []float64
	lastTime []int64
	// restart says a channel was just taken as a counter: the detector
	// starts afresh before the sample goes in.
	restart bool
	// From the first counter on, a ring of the newest samples (slot: seq
	// mod len(ringSeq)): each one's sequence number, values as they came,
	// base and span, what turn a rise per step of it into a value (the
	// value before it, in its own frame, and the steps since; 0 and 1 on
	// other channels).
	ringSeq  []uint64
	ringRaw  []float64
	ringBase []float64
	ringSpan []float64
	// Scratch: the row the detector sees, the rows results are given.
	view  []float64
	shown []float64
	raw   []float64
	skip  []bool
}

// CounterWatch is how many steps a channel is watched before it is taken
// as a counter or not.
const CounterWatch = 256

// counterDrop: a wrap falls by more than this many mean rises.
const counterDrop = 16

// noTime marks a time not known yet (0 is a time: the Unix epoch).
const noTime = math.MinInt64

// counterRing is how many of the newest samples counters keep: the most
// a push gives results of, the denoiser's delay and a stride's.
func counterRing(cfg Config) int {
	n := cfg.Window.Stride + 64
	if cfg.Denoise.Enabled {
		n += cfg.Denoise.Window
	}
	return n
}

// newCounters returns the counters of a series of channels; its ring
// holds ringLen samples, at least the samples whose results a push may
// give (a stride's, the denoiser's delay).
func newCounters(channels, ringLen int) *counters {
	c := &counters{
		channels: channels,
		seen:     make([]bool, channels), prev: make([]float64, channels),
		steps: make([]int, channels), rises: make([]int, channels),
		fell: make([]bool, channels), rise: make([]float64, channels),
		counting: make([]bool, channels), offset: make([]float64, channels), last: make([]float64, channels),
		lastTime: make([]int64, channels),
		view:     make([]float64, channels), raw: make([]float64, channels),
		ringSeq: make([]uint64, ringLen),
	}
	for j := range c.lastTime {
		c.lastTime[j] = noTime
	}
	return c
}

// active reports whether some channel is a counter.
func (c *counters) active() bool { return c.ringRaw != nil }

// risesOf returns what the detector sees of x, sample seq at time t as it
// came, the series' typical step step (ns; 0: not known yet): each
// counter's rise per step since its value before (x itself while there is
// none).
func (c *counters) risesOf(seq uint64, t int64, step float64, x []float64) []float64 {
	if !c.learnt {
		c.learn(t, x)
	}
	if !c.active() {
		return x
	}
	s := int(seq % uint64(len(c.ringSeq)))
	c.ringSeq[s] = seq
	n := c.channels
	raw, base, span := c.ringRaw[s*n:(s+1)*n], c.ringBase[s*n:(s+1)*n], c.ringSpan[s*n:(s+1)*n]
	copy(raw, x)
	for j, v := range x {
		c.view[j], base[j], span[j] = v, 0, 1
		if !c.counting[j] {
			continue
		}
		// The steps since the counter's value before: 1 but where samples
		// did not come.
		if step > 0 && c.lastTime[j] != noTime {
			span[j] = max(1, math.Round(float64(t-c.lastTime[j])/step))
		}
		if !finite(v) {
			base[j] = c.last[j] - c.offset[j]
			continue
		}
		off := c.offset[j]
		if p := c.prev[j]; v < p && wraps(p, v, c.rise[j]) {
			off += p - v + span[j]*c.rise[j]
		}
		u := v + off
		if v < c.prev[j] && off == c.offset[j] || !finite(off) || !finite(u-c.last[j]) {
			// No counter falls so, nor counts beyond what a float64 holds:
			// the detector sees its values again.
			c.counting[j], c.restart = false, true
			continue
		}
		c.prev[j], c.offset[j], c.lastTime[j] = v, off, t
		base[j] = c.last[j] - off
		c.view[j], c.last[j] = (u-c.last[j])/span[j], u
	}
	return c.view
}

// learn watches each channel's steps until CounterWatch of them decide it;
// t is x's time.
func (c *counters) learn(t int64, x []float64) {
	decided := 0
	for j, v := range x {
		switch {
		case c.steps[j] >= CounterWatch:
			decided++
			continue
		case !finite(v):
			continue
		case c.seen[j]:
			c.steps[j]++
			switch d := v - c.prev[j]; {
			case d > 0 && finite(c.rise[j]+d):
				c.rises[j]++
				c.rise[j] += d
			case d > 0: // rises beyond what a float64 sums: no counter
				c.fell[j] = true
			case d < 0 && (c.rises[j] == 0 || !wraps(c.prev[j], v, c.rise[j]/float64(c.rises[j]))):
				c.fell[j] = true
			}
			if c.steps[j] == CounterWatch && c.decide(j) {
				continue // its newest value stays the one before x's, to rise from
			}
		}
		c.seen[j], c.prev[j], c.lastTime[j] = true, v, t
	}
	c.learnt = decided == len(x)
}

// wraps reports whether a counter's fall from p to v, its mean rise
// rise, is a wrap or a reset.
func wraps(p, v, rise float64) bool { return v <= p/2 && p-v > counterDrop*rise }

// decide takes channel j, watched over CounterWatch steps, as a counter
// or not, and says which.
func (c *counters) decide(j int) bool {
	if c.rises[j] > 0 {
		c.rise[j] /= float64(c.rises[j])
	}
	if c.fell[j] || 10*c.rises[j] < 9*c.steps[j] || !finite(c.rise[j]) {
		return false
	}
	c.counting[j], c.last[j], c.restart = true, c.prev[j], true
	if c.ringRaw == nil {
		n := len(c.ringSeq)
		c.ringRaw, c.ringBase, c.ringSpan = make([]float64, n*c.channels), make([]float64, n*c.channels), make([]float64, n*c.channels)
		for s := range c.ringSeq {
			c.ringSeq[s] = ^uint64(0) // no sample yet
		}
		for i := range c.ringSpan {
			c.ringSpan[i] = 1
		}
	}
	return true
}

// ringSlot is where the ring holds a sample: its values as they came,
// base and span (nil if the ring no longer holds it).
type ringSlot struct{ raw, base, span []float64 }

// slot returns sample seq's slot in the ring.
func (c *counters) slot(seq uint64) ringSlot {
	s := int(seq % uint64(len(c.ringSeq)))
	if c.ringSeq[s] != seq {
		return ringSlot{}
	}
	n := c.channels
	return ringSlot{c.ringRaw[s*n : (s+1)*n], c.ringBase[s*n : (s+1)*n], c.ringSpan[s*n : (s+1)*n]}
}

// value is the value of counter j that a rise per step y gives in slot
// sl (NaN if the ring no longer holds it).
func (sl ringSlot) value(j int, y float64) float64 {
	if sl.base == nil {
		return math.NaN()
	}
	return sl.base[j] + sl.span[j]*y
}

// rawOf fills dst with a sample's values as they came, given its slot
// and y, what the detector saw of it: a value it lacked is the filled rise
// on its base, as other channels show their filled values.
func (c *counters) rawOf(sl ringSlot, y, dst []float64) {
	for j := range dst {
		switch {
		case sl.raw != nil && finite(sl.raw[j]):
			dst[j] = sl.raw[j]
		case c.counting[j]:
			dst[j] = sl.value(j, y[j]) // NaN: a rise whose base is gone
		default:
			dst[j] = y[j]
		}
	}
}

// shownValues gives each of res its values as they came, and its
// expected values and band as values of each counter.
func (c *counters) shownValues(res []Result) {
	if n := len(res) * c.channels; cap(c.shown) < n {
		c.shown = make([]float64, n)
	}
	for i := range res {
		r := &res[i]
		dst := c.shown[i*c.channels : (i+1)*c.channels]
		sl := c.slot(r.Seq)
		c.rawOf(sl, r.Values, dst)
		r.Values = dst
		for j := range r.Expected {
			if c.counting[j] {
				r.Expected[j] = sl.value(j, r.Expected[j])
				r.Lower[j] = sl.value(j, r.Lower[j])
				r.Upper[j] = sl.value(j, r.Upper[j])
			}
		}
	}
}

// shownDenoised gives the denoised values of out as values of each
// counter (NaN for a sample the ring no longer holds).
func (c *counters) shownDenoised(out []DenoisedSample) {
	for _, o := range out {
		sl := c.slot(o.Seq)
		for j := range o.Values {
			if c.counting[j] {
				o.Values[j] = sl.value(j, o.Values[j])
			}
		}
	}
}

// still returns the channels the drift monitor leaves out of y, what the
// detector saw of a sample: those of filled, and each counter that did
// not rise.
func (c *counters) still(y []float64, filled []bool) []bool {
	any := false
	for j, v := range y {
		any = any || c.counting[j] && v == 0
	}
	if !any {
		return filled
	}
	c.skip = append(c.skip[:0], filled...)
	if filled == nil {
		c.skip = append(c.skip, make([]bool, len(y))...)
	}
	for j, v := range y {
		c.skip[j] = c.skip[j] || c.counting[j] && v == 0
	}
	return c.skip
}

// rawScratch returns sample seq's values as they came (rawOf), given y,
// what the detector saw of it, in a buffer valid until the next call.
func (c *counters) rawScratch(seq uint64, y []float64) []float64 {
	c.rawOf(c.slot(seq), y, c.raw)
	return c.raw
}

// restartFor starts d afresh for the counters just found, keeping them.
// It runs in push, which no row lacking values and no sample dated ahead
// is held across (each is released before its push; assemble takes the
// row again after one). It returns the results of
// the samples that waited for the stride, unscored, as the first window's
// are.
func (d *Detector) restartFor() []Result {
	c := d.counters
	c.restart = false
	owed := []Result{}
	for k, p := range d.pending {
		// Its values as they came: the ring's, or, pushed before any
		// channel counted, the window's.
		x := d.win.Newest(len(d.pending) - 1 - k)
		if sl := c.slot(p.seq); sl.raw != nil {
			x = sl.raw
		}
		r := d.unscored(p.seq, p.time, window.Filling, x)[0]
		owed = append(owed, r.clone())
	}
	d.startAfresh()
	d.counters = c
	return owed
}

func (c *counters) appendState(e *statecodec.Encoder) {
	e.Bool(c.learnt)
	for j := range c.seen {
		e.Bool(c.seen[j])
		e.F64(c.prev[j])
		e.Int(c.steps[j])
		e.Int(c.rises[j])
		e.Bool(c.fell[j])
		e.F64(c.rise[j])
		e.Bool(c.counting[j])
		e.F64(c.offset[j])
		e.F64(c.last[j])
		e.I64(c.lastTime[j])
	}
	e.Bool(c.active())
	if !c.active() {
		return
	}
	for s, q := range c.ringSeq {
		e.U64(q)
		for j := range c.channels {
			v := c.ringRaw[s*c.channels+j]
			e.Bool(math.IsNaN(v)) // a value the sample lacked
			e.F64(zeroNaN(v))
			e.F64(c.ringBase[s*c.channels+j])
			e.F64(c.ringSpan[s*c.channels+j])
		}
	}
}

func (c *counters) readState(d *statecodec.Decoder) error {
	c.learnt = d.Bool()
	for j := range c.seen {
		c.seen[j], c.prev[j], c.steps[j], c.rises[j] = d.Bool(), d.F64(), d.Int(), d.Int()
		c.fell[j], c.rise[j], c.counting[j] = d.Bool(), d.F64(), d.Bool()
		c.offset[j], c.last[j], c.lastTime[j] = d.F64(), d.F64(), d.I64()
		if d.Err() == nil && (c.steps[j] < 0 || c.steps[j] > CounterWatch || c.rises[j] < 0 || c.rises[j] > c.steps[j]) {
			return fmt.Errorf("detector: snapshot's counter steps (%d, %d rising) are out of range", c.steps[j], c.rises[j])
		}
	}
	c.ringRaw, c.ringBase, c.ringSpan = nil, nil, nil
	if !d.Bool() {
		return d.Err()
	}
	n := len(c.ringSeq)
	c.ringRaw, c.ringBase, c.ringSpan = make([]float64, n*c.channels), make([]float64, n*c.channels), make([]float64, n*c.channels)
	for s := range c.ringSeq {
		c.ringSeq[s] = d.U64()
		for j := range c.channels {
			lacked, v := d.Bool(), d.F64()
			if lacked {
				v = math.NaN()
			}
			c.ringRaw[s*c.channels+j], c.ringBase[s*c.channels+j] = v, d.F64()
			if c.ringSpan[s*c.channels+j] = d.F64(); d.Err() == nil && !(c.ringSpan[s*c.channels+j] >= 1) {
				return fmt.Errorf("detector: snapshot's counter span %v is below 1", c.ringSpan[s*c.channels+j])
			}
		}
	}
	return d.Err()
}
