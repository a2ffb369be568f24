package model

import (
	"math"
	"sync"

	"github.com/aewatch/aewatch/internal/detmath"
)

// The corruption noise's Gaussian draws. rand's NormFloat64 is not used:
// its rare slow path calls math.Exp and rounds float32 products that arm64
// fuses, so the same seed gave other noise, and other weights, on arm64
// than on amd64. Here 64 random bits pick one of gaussBins equally likely
// bins of the standard normal (bounded by its quantiles at k/gaussBins,
// computed once with detmath and rounded alike everywhere) and a point
// uniformly inside it; the outermost bins end at the quantiles of
// 0.25/gaussBins and 1 - 0.25/gaussBins (±3.84).
const gaussBins = 4096

var (
	gaussOnce sync.Once
	gaussQ    [gaussBins + 1]float64 // bin bounds
)

// normalQuantile returns x with P(N(0,1) <= x) = p, by Newton's method from
// start on the normal distribution function 1 - erfc(x/sqrt2)/2.
func normalQuantile(p, start float64) float64 {
	x := start
	for range 50 {
		cdf := float64(0.5 * detmath.Erfc(-x/math.Sqrt2))
		pdf := float64(detmath.Exp(float64(-0.5*float64(x*x))) / math.Sqrt(2*math.Pi))
		step := (cdf - p) / pdf
		x -= step
		if math.Abs(step) < 1e-15 {
			break
		}
	}
	return x
}

// gaussTable computes the lower half of the bounds and mirrors it, so the
// noise is symmetric to the bit.
func gaussTable() {
	x := -3.8
	gaussQ[0] = normalQuantile(0.25/gaussBins, x)
	for k := 1; k < gaussBins/2; k++ {
		x = normalQuantile(float64(k)/gaussBins, x)
		gaussQ[k] = x
	}
	for k := range gaussBins / 2 {
		gaussQ[gaussBins-k] = -gaussQ[k]
	}
	gaussQ[gaussBins/2] = 0
}

// gaussian turns 64 random bits into a draw of the standard normal.
func gaussian(bits uint64) float64 {
	gaussOnce.Do(gaussTable)
	k := bits >> 52                          // 12 bits: the bin
	f := float64(bits&(1<<52-1)) / (1 << 52) // the rest: where in it
	lo, hi := gaussQ[k], gaussQ[k+1]
	return lo + float64(f*(hi-lo))
}
