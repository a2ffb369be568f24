package detector

import (
	"math"

	"github.com/aewatch/aewatch/internal/detmath"
)

// The expected value and its band: for each scored sample and channel, the
// raw-error source's expected value (Result.Expected, sensor units) and the
// values of the sample at which its anomaly score would reach alert.open,
// everything else equal (Result.Lower, Result.Upper). The band is exact for
// the calibration in force before the sample, with two simplifications said
// here rather than hidden in the numbers: a refit that the sample itself
// triggers (one sample in calibration.reestimate) is not foreseen, nor is
// the lowering of a top score right after another (a repeated red) or
// within detector.episode_gap of one (the same episode). The
// Gaussian's lower tail (an error average falling far below its normal)
// can score too; the band describes only the outer edge.
//
// Where no value of the sample can reach the threshold (during warm-up and
// calibration learning, or where even a value at the normalisation's clip
// would not score: a spiky series whose own errors are that wild), the
// side is infinite. Where every value reaches it (the window's own
// score or the other channels' errors are past it already), the band
// collapses onto the expected value.

// tailForScore is the tail probability that likelihoodScore maps to s,
// and z the Gaussian's deviation with that upper tail (+Inf when none
// scores s).
func tailForScore(s float64) (tail, z float64) {
	tail = detmath.Exp(s*detmath.Log(logFloor)) - logFloor
	if !(tail > 0) {
		return 0, math.Inf(1)
	}
	if tail >= 0.5 {
		return tail, 0
	}
	// Bisection on the tail, which falls with z: deterministic, once per
	// detector.
	lo, hi := 0.0, 40.0
	for range 100 {
		mid := (lo + hi) / 2
		if 0.5*detmath.Erfc(mid/math.Sqrt2) > tail {
			lo = mid
		} else {
			hi = mid
		}
	}
	return tail, hi
}

// errorReaching is the smallest error (as scale takes it: squared, before
// the transform) whose score would reach the tail probability tail (the
// averaged score's, whose normal tail has it at deviation z, or the
// single-sample track's)
// if it were the next one folded in: +Inf when no error can, 0 when any
// does.
func (c *calibrator) errorReaching(tail, z float64) float64 {
	if !c.fitted || c.seen+1 <= c.cfg.Settle || !(tail > 0) {
		return math.Inf(1)
	}
	n, sum := c.avgN, c.avgSum
	if n == len(c.avgRing) {
		sum -= c.avgRing[c.avgPos] // the oldest leaves the average
	} else {
		n++
	}
	scale := c.errMean + 1e-12
	raw := float64(c.averageReaching(tail, z)*float64(n)) - sum
	if c.cfg.Cap > 0 && raw > c.cfg.Cap {
		raw = math.Inf(1) // the cap keeps any one error from moving the average that far
	}
	if c.inst != nil {
		raw = min(raw, c.inst.reaching(tail))
	}
	switch {
	case math.IsInf(raw, 1):
		return raw
	case raw <= c.floor/scale:
		return 0
	}
	return c.untransform(float64(raw * scale))
}

// reaching is the pair of channel j's values, in sensor units, at which
// its own error reaches need: about pred (normalised) for the networks and
// persistence, beyond the running extremes for the range control; infinite
// where none does.
func (d *Detector) reaching(j int, pred, need float64) (lower, upper float64) {
	if d.cfg.Kind == Range {
		lo, hi := d.minVal[j], d.maxVal[j]
		span := hi - lo + float64(1e-9*math.Abs(hi)) + 1e-12
		return lo - float64(need*span), hi + float64(need*span)
	}
	mean, std, clip := d.norm.Mean(j), d.norm.Std(j), d.cfg.Window.Clip
	reach := math.Sqrt(max(need, 0))
	lower, upper = math.Inf(-1), math.Inf(1)
	// Values are clipped when normalised: beyond the clip no value moves
	// the error further.
	if pred-reach >= -clip {
		lower = float64((pred-reach)*std) + mean
	}
	if pred+reach <= clip {
		upper = float64((pred+reach)*std) + mean
	}
	return lower, upper
}

// band sets r's expected value (expected, sensor units) and band for
// channel j. pred is the expected value on the normalised scale (AE,
// frozen, persistence), eHi the sample's error that reaches the threshold
// (errorReaching), others the part of the error that does not depend on
// the value (the other channels' errors summed, and channel j's variance
// over the variational variant's draws), collapsed whether the score
// reaches it whatever the value, warm whether the sample is past warm-up
// (scored at all).
func (d *Detector) band(r *Result, j int, expected, pred, eHi, others float64, collapsed, warm bool) {
	if isContext(d.context, j) {
		// No value of an input moves the score.
		r.Expected[j], r.Lower[j], r.Upper[j] = expected, math.Inf(-1), math.Inf(1)
		return
	}
	c := float64(d.scored)
	// need is channel j's own error (its share of the mean over channels)
	// at which the sample's error reaches eHi.
	need := float64(c*eHi) - others
	lower, upper := d.reaching(j, pred, need)
	if math.IsInf(eHi, 1) || !warm {
		lower, upper = math.Inf(-1), math.Inf(1)
	}
	if tol := d.cfg.SpatialTolerance; tol > 0 && d.maxVal[j] > d.minVal[j] && warm {
		// A new extreme scores 1 once the error is large enough too.
		m := float64((d.maxVal[j] - d.minVal[j]) * tol)
		errLo, errHi := d.reaching(j, pred, float64(c*d.cal.errorAt(d.cfg.SpatialError))-others)
		lower = math.Max(lower, math.Min(d.minVal[j]-m, errLo))
		upper = math.Min(upper, math.Max(d.maxVal[j]+m, errHi))
	}
	if warm && (collapsed || need <= 0) {
		lower, upper = expected, expected
	}
	lower, upper = math.Min(lower, expected), math.Max(upper, expected)
	r.Expected[j], r.Lower[j], r.Upper[j] = expected, lower, upper
}
