package detector

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/aewatch/aewatch/internal/detmath"
)

// TestTailBodyFromRanks checks the body of a tail model read from its
// stored ranks against the history's exact share at the same fit: equal
// at a stored rank the value first holds, within half a rank interval
// elsewhere, never rising with the error; and the sort the fit uses
// against slices.Sort.
func TestTailBodyFromRanks(t *testing.T) {
	cfg := DefaultTailConfig()
	c := newTailCalibrator(cfg)
	rng := rand.New(rand.NewPCG(7, 9))
	for c.histN < cfg.History || c.sinceFit != 0 {
		c.accept(math.Exp(rng.NormFloat64()) * 0.3)
	}
	exact := slices.Clone(c.hist)
	slices.Sort(exact)
	var lent [2][]uint16
	if got := sortBF16s(&lent, c.hist); !slices.Equal(got, exact) {
		t.Fatal("sortBF16s differs from slices.Sort")
	}
	n := float64(len(exact))
	exactTail := func(e float64) float64 {
		i, _ := slices.BinarySearchFunc(exact, e, func(v uint16, e float64) int {
			if detmath.FromBF16(v) < e {
				return -1
			}
			return 1
		})
		return (n - float64(i)) / n
	}
	step := float64(c.belowK)/tailRanks/n/2 + 2/n // half an interval, and rounding
	prev := 2.0
	for e := 0.0; e <= c.threshold; e += c.threshold / 5000 {
		got, want := c.tail(e), exactTail(e)
		if math.Abs(got-want) > step {
			t.Fatalf("tail(%g) = %g, the history's share is %g (allowed %g apart)", e, got, want, step)
		}
		if got > prev {
			t.Fatalf("tail rises with the error at %g: %g after %g", e, got, prev)
		}
		prev = got
	}
	for j, v := range c.below {
		e, r := detmath.FromBF16(v), j*c.belowK/tailRanks
		if r > 0 && exact[r-1] == v {
			continue // equal values before it: the exact share counts from the first
		}
		if got, want := c.tail(e), exactTail(e); got != want {
			t.Errorf("at stored rank %d (%g): tail %g, the history's share %g", j, e, got, want)
		}
	}
	if e := 2 * c.threshold; c.tail(e) != peaksTail(1-cfg.Quantile, c.threshold, c.scale, e) {
		t.Error("beyond the threshold the tail is not the fitted exponential's")
	}
}
