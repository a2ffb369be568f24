package detector

import (
	"math"

	"github.com/aewatch/aewatch/internal/detmath"
)

// stillness tests each channel's spread within a window against the spreads
// of windows accepted as normal, on the low side: a stuck or frozen sensor
// takes a window's spread to nothing, and such a window is one the
// reconstruction and the level find perfectly normal. (The high side, a
// noise burst or an oscillation, is in the reconstruction error already;
// tested here too it alerted 29% of SKAB's fault-free rows.)
type stillness struct {
	tails []*tailCalibrator // of 1/(spread+stillFloor), per channel
	sd    []float64         // the last window's spread per channel, reference units
}

const (
	// stillFloor is added to a window's spread, in reference deviations, so
	// that a channel which often sits still (a quantised flow) has a
	// finite inverse spread whose tail learns that stillness.
	stillFloor = 0.02
	// stillDiscount decades are taken off the evidence: the spread of a
	// window is a noisy statistic, and its tail is fitted on heavily
	// overlapping windows (SKAB valve1 F1 0.752 without it, 0.807 with).
	stillDiscount = 2
)

func newStillness(cfg TailConfig, channels int) *stillness {
	s := &stillness{sd: make([]float64, channels)}
	t := marginalTail(cfg)
	for range channels {
		s.tails = append(s.tails, newTailCalibrator(*t))
	}
	return s
}

// measure takes each channel's spread over the window vec (samples ×
// channels).
func (s *stillness) measure(vec []float64) {
	c := len(s.sd)
	rows := float64(len(vec) / c)
	for j := range c {
		var sum, sq float64
		for i := j; i < len(vec); i += c {
			sum += vec[i]
			sq += float64(vec[i] * vec[i]) // rounded: arm64 must not fuse it
		}
		m := sum / rows
		s.sd[j] = math.Sqrt(max(0, sq/rows-float64(m*m)))
	}
}

// decades is the stillest channel's evidence, less log10(channels) decades
// for taking the most unusual of that many and stillDiscount; 0 until
// the tails are fitted. Channels with states (modal) are left out: there
// a window's spread says where it meets a switch.
func (s *stillness) decades(modal []bool) float64 {
	off := detmath.Log10(float64(len(s.sd))) + stillDiscount
	var d float64
	for j, v := range s.sd {
		if !modal[j] && s.tails[j].fitted {
			d = max(d, s.tails[j].decades(1/(v+stillFloor))-off)
		}
	}
	return d
}

// accept adds the last window's spreads to the tails.
func (s *stillness) accept() {
	for j, v := range s.sd {
		s.tails[j].accept(1 / (v + stillFloor))
	}
}

func (s *stillness) reset() {
	for _, t := range s.tails {
		t.reset()
	}
}

// fullBytes is what bytes comes to with full tail histories.
func (s *stillness) fullBytes() int {
	n := 8 * len(s.sd)
	for _, t := range s.tails {
		n += t.fullBytes()
	}
	return n
}

// bytes is the memory it holds: the spreads and the tails' histories.
func (s *stillness) bytes() int {
	n := 8 * len(s.sd)
	for _, t := range s.tails {
		n += t.bytes()
	}
	return n
}
