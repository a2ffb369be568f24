package detector

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sync"

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

	// The history holds bfloat16 (detmath.BF16): a tail fitted to
	// thousands of errors does not see their 2^-8 rounding, at a quarter
	// of float64's bytes. Errors are never negative, so the values sort
	// as integers.
	hist     []uint16 // ring of accepted errors, History long, grown as it fills
	histPos  int
	histN    int
	sinceFit int

	// below is the body of the distribution under the threshold as of the
	// last fit: the sorted history's values at tailRanks+1 evenly spaced
	// ranks from its smallest to the threshold's (rank belowK of belowN);
	// tail interpolates ranks between them. A sorted copy of the whole
	// history, kept up to date, would cost as much memory again as the
	// ring (issue 17), for scores of at most a decade.
	below          []uint16
	belowN, belowK int
	threshold      float64 // the Quantile of the history at the last fit
	scale          float64 // mean excess over threshold (exponential tail)
	fitted         bool
	minScale       float64 // floors scale, in the errors' units
}

// tailRanks is how many rank intervals below describes.
const tailRanks = 64

func newTailCalibrator(cfg TailConfig) *tailCalibrator {
	return &tailCalibrator{cfg: cfg}
}

// bytes is the memory of its history and the body's ranks.
func (c *tailCalibrator) bytes() int { return 2 * (cap(c.hist) + cap(c.below)) }

// fullBytes is what bytes comes to once the history is full.
func (c *tailCalibrator) fullBytes() int { return 2 * (c.cfg.History + tailRanks + 1) }

// tailValue is how a tail model stores an error: bfloat16, never below 0.
func tailValue(e float64) uint16 { return detmath.BF16(max(e, 0)) }

// accept adds an error judged normal (never negative) to the history.
func (c *tailCalibrator) accept(e float64) { c.acceptStored(tailValue(e)) }

// acceptStored is accept of an error already in its stored form
// (tailValue), as an open alert's buffer keeps them.
func (c *tailCalibrator) acceptStored(h uint16) {
	c.hist = grow.To(c.hist, c.histPos+1, c.cfg.History)
	c.hist[c.histPos] = h
	if c.histPos++; c.histPos == c.cfg.History {
		c.histPos = 0
	}
	c.histN = min(c.histN+1, c.cfg.History)
	c.sinceFit++
	if c.histN >= c.cfg.Learning && (!c.fitted || c.sinceFit >= c.cfg.Refit) {
		c.fit()
	}
}

// sortScratch lends fit two buffers for sorting the history: they hold
// nothing between fits, so there is one pair per fit running at once.
var sortScratch sync.Pool

func (c *tailCalibrator) fit() {
	c.fitted, c.sinceFit = true, 0
	lent, _ := sortScratch.Get().(*[2][]uint16)
	if lent == nil {
		lent = new([2][]uint16)
	}
	defer sortScratch.Put(lent)
	sorted := sortBF16s(lent, c.hist[:c.histN])
	n := len(sorted)
	k := min(int(c.cfg.Quantile*float64(n)), n-1)
	c.threshold = detmath.FromBF16(sorted[k])
	var sum float64
	for _, v := range sorted[k+1:] {
		sum += detmath.FromBF16(v) - c.threshold
	}
	excess := sum / float64(max(n-k-1, 1))
	// A tail no wider than a small share of the threshold would make every
	// rounding difference an alarm.
	c.scale = max(excess, 0.05*math.Abs(c.threshold), c.minScale, 1e-12)
	c.below = grow.To(c.below, tailRanks+1, tailRanks+1)
	for j := range c.below {
		c.below[j] = sorted[j*k/tailRanks]
	}
	c.belowN, c.belowK = n, k
}

// sortBF16s sorts a copy of values (bfloat16 >= 0, which order as their
// bits) in two byte-wise counting passes, in lent's buffers.
func sortBF16s(lent *[2][]uint16, values []uint16) []uint16 {
	n := len(values)
	for i := range lent {
		if cap(lent[i]) < n {
			lent[i] = make([]uint16, n)
		}
		lent[i] = lent[i][:n]
	}
	src, dst := values, lent[0]
	for pass, shift := 0, uint(0); pass < 2; pass, shift = pass+1, shift+8 {
		var at [257]int
		for _, v := range src {
			at[(v>>shift)&0xff+1]++
		}
		for b := 1; b < len(at); b++ {
			at[b] += at[b-1]
		}
		for _, v := range src {
			b := (v >> shift) & 0xff
			dst[at[b]] = v
			at[b]++
		}
		src, dst = dst, lent[1]
	}
	return src
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
// e: below the fitted threshold the history's own share as of the last
// fit (its rank interpolated between the body's stored ranks), beyond it
// the fitted tail's.
func (c *tailCalibrator) tail(e float64) float64 {
	if e > c.threshold {
		return peaksTail(1-c.cfg.Quantile, c.threshold, c.scale, e)
	}
	// The first stored value >= e; the rank of the first history value
	// >= e lies between the previous stored rank and its.
	j, _ := slices.BinarySearchFunc(c.below, e, func(v uint16, e float64) int { return cmp.Compare(detmath.FromBF16(v), e) })
	if j == 0 {
		return 1
	}
	lo, hi := detmath.FromBF16(c.below[j-1]), detmath.FromBF16(c.below[j])
	rLo, rHi := (j-1)*c.belowK/tailRanks, j*c.belowK/tailRanks
	rank := float64(rLo+1) + float64(rHi-rLo-1)*(e-lo)/(hi-lo)
	return (float64(c.belowN) - rank) / float64(c.belowN)
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
	c.below, c.belowN, c.belowK = c.below[:0], 0, 0
	c.threshold, c.scale, c.fitted = 0, 0, false
}
