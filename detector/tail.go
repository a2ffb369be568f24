package detector

import (
	"fmt"
	"math"
	"slices"

	"github.com/aewatch/aewatch/internal/detmath"
	"github.com/aewatch/aewatch/internal/grow"
)

// TailConfig sets a peaks-over-threshold calibration: the score of an
// error is how unlikely an error at least as large is on the stream's own
// history of errors accepted as normal, with the tail beyond a high
// quantile modelled as exponential (SPOT's generalised Pareto tail with
// shape 0, Siffer et al., KDD 2017). One sample is enough to move the
// score: nothing is averaged away.
type TailConfig struct {
	// History is how many accepted errors the distribution is fitted on.
	History int `yaml:"history"`
	// Quantile is where the modelled tail starts, e.g. 0.95.
	Quantile float64 `yaml:"quantile"`
	// Decades maps tail probabilities to scores: an error whose tail
	// probability is 10^-Decades scores 1, 10^-(Decades/2) scores 0.5.
	Decades float64 `yaml:"decades"`
	// Refit is how many accepted errors pass between two fits.
	Refit int `yaml:"refit"`
	// Learning is how many accepted errors the history needs before a
	// score is non-zero.
	Learning int `yaml:"learning"`
}

// DefaultTailConfig returns the defaults.
func DefaultTailConfig() TailConfig {
	return TailConfig{History: 2000, Quantile: 0.9, Decades: 8, Refit: 50, Learning: 100}
}

// Validate names the first invalid field and its value.
func (c TailConfig) Validate(key string) error {
	switch {
	case c.History < 20 || c.History > 1<<20:
		return fmt.Errorf("%s.history: must be in [20, 1048576] (got %d)", key, c.History)
	case !(c.Quantile >= 0.5 && c.Quantile < 1):
		return fmt.Errorf("%s.quantile: must be in [0.5, 1) (got %v)", key, c.Quantile)
	case !(c.Decades >= 1 && c.Decades <= 20):
		return fmt.Errorf("%s.decades: must be in [1, 20] (got %v)", key, c.Decades)
	case c.Refit < 1:
		return fmt.Errorf("%s.refit: must be >= 1 (got %d)", key, c.Refit)
	case c.Learning < 10 || c.Learning > c.History:
		return fmt.Errorf("%s.learning: must be in [10, %s.history=%d] (got %d)", key, key, c.History, c.Learning)
	}
	return nil
}

// tailCalibrator scores errors against the upper tail of the accepted ones.
type tailCalibrator struct {
	cfg TailConfig

	// The histories hold bfloat16 (detmath.BF16): a tail fitted to
	// thousands of errors does not see their 2^-8 rounding, at a quarter
	// of float64's bytes. Errors are never negative, so the values sort
	// as integers.
	hist     []uint16 // ring of accepted errors, History long, grown as it fills
	histPos  int
	histN    int
	sinceFit int

	live      []uint16 // the history kept sorted as it changes
	threshold float64  // the Quantile of live at the last fit
	scale     float64  // mean excess over threshold (exponential tail)
	fitted    bool
	minScale  float64 // floors scale, in the errors' units
}

func newTailCalibrator(cfg TailConfig) *tailCalibrator {
	return &tailCalibrator{cfg: cfg}
}

// bytes is the memory of its histories (ring and sorted copy).
func (c *tailCalibrator) bytes() int { return 2 * (cap(c.hist) + cap(c.live)) }

// fullBytes is what bytes comes to once the histories are full.
func (c *tailCalibrator) fullBytes() int { return 4 * c.cfg.History }

// accept adds an error judged normal (never negative) to the history.
func (c *tailCalibrator) accept(e64 float64) {
	e := detmath.BF16(max(e64, 0))
	// Keeping a sorted copy up to date costs two moves of at most History
	// values; sorting the history at every fit cost ~20 times as much.
	if c.histN == c.cfg.History {
		i, _ := slices.BinarySearch(c.live, c.hist[c.histPos])
		c.live = slices.Delete(c.live, i, i+1)
	}
	j, _ := slices.BinarySearch(c.live, e)
	c.live = slices.Insert(grow.Room(c.live, c.cfg.History), j, e)
	c.hist = grow.To(c.hist, c.histPos+1, c.cfg.History)
	c.hist[c.histPos] = e
	if c.histPos++; c.histPos == c.cfg.History {
		c.histPos = 0
	}
	c.histN = min(c.histN+1, c.cfg.History)
	c.sinceFit++
	if c.histN >= c.cfg.Learning && (!c.fitted || c.sinceFit >= c.cfg.Refit) {
		c.fit()
	}
}

func (c *tailCalibrator) fit() {
	c.fitted, c.sinceFit = true, 0
	n := len(c.live)
	k := min(int(c.cfg.Quantile*float64(n)), n-1)
	c.threshold = detmath.FromBF16(c.live[k])
	var sum float64
	for _, v := range c.live[k+1:] {
		sum += detmath.FromBF16(v) - c.threshold
	}
	excess := sum / float64(max(n-k-1, 1))
	// A tail no wider than a small share of the threshold would make every
	// rounding difference an alarm.
	c.scale = max(excess, 0.05*math.Abs(c.threshold), c.minScale, 1e-12)
}

// peaksTail is the tail probability of x beyond a peaks-over-threshold
// model with an exponential tail (the generalised Pareto's shape 0): q of
// the values exceed at, and the excess decays with scale. Every tail model
// here has this form; they differ in how they estimate at and scale.
func peaksTail(q, at, scale, x float64) float64 { return q * detmath.Exp(-(x-at)/scale) }

// peaksReaching is peaksTail's inverse: the x whose tail probability is p
// (p < q).
func peaksReaching(q, at, scale, p float64) float64 { return at + float64(scale*detmath.Log(q/p)) }

// tail returns the probability of an accepted error at least as large as
// e: below the fitted threshold the history's own share (as it is now:
// one sorted copy serves both), beyond it the fitted tail's.
func (c *tailCalibrator) tail(e float64) float64 {
	n := len(c.live)
	if e <= c.threshold {
		i, _ := slices.BinarySearch(c.live, detmath.BF16(max(e, 0)))
		return float64(n-i) / float64(n)
	}
	return peaksTail(1-c.cfg.Quantile, c.threshold, c.scale, e)
}

// decades is -log10 of e's tail probability (needs a fit).
func (c *tailCalibrator) decades(e float64) float64 {
	return -detmath.Log10(max(c.tail(e), 1e-300))
}

// scoreOf maps decades of tail probability to [0,1].
func (c *tailCalibrator) scoreOf(decades float64) float64 {
	return min(1, max(0, decades/c.cfg.Decades))
}

// score maps e to [0,1]: 0 until the history is learnt, then the tail
// probability's decades over Decades.
func (c *tailCalibrator) score(e float64) float64 {
	if !c.fitted {
		return 0
	}
	return c.scoreOf(c.decades(e))
}

// reset forgets the history.
func (c *tailCalibrator) reset() {
	c.histPos, c.histN, c.sinceFit = 0, 0, 0
	c.live = c.live[:0]
	c.threshold, c.scale, c.fitted = 0, 0, false
}
