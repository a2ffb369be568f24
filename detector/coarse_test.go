package detector

import (
	"math/rand/v2"
	"testing"
)

// smallShift is white noise about a level with, over [from, from+span),
// the level raised by shift noise deviations: too little for any one
// sample or a 32-sample window, plain in means over blocks of 8.
func smallShift(n, from, span int, shift float64, seed uint64) []float64 {
	r := rand.New(rand.NewPCG(seed, 3))
	x := make([]float64, n)
	for i := range x {
		x[i] = 10 + r.NormFloat64()
		if i >= from && i < from+span {
			x[i] += shift
		}
	}
	return x
}

// coarseScores runs a coarse track of kind over x and returns its highest
// score over [from, to) and how many blocks over [1000, from) score at or
// above open.
func coarseScores(t *testing.T, kind Kind, x []float64, from, to int, open float64) (in float64, falseReds int) {
	t.Helper()
	cfg := DefaultConfig()
	k, err := newCoarse(cfg.Coarse, kind, 1, cfg.Model, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range x {
		s, ok := k.push([]float64{v - 10}, kind == Autoencoder, cfg.LearnBelow)
		switch {
		case !ok:
		case i >= from && i < to:
			in = max(in, s)
		case i >= 1000 && i < from && s >= open:
			falseReds++
		}
	}
	return in, falseReds
}

// TestCoarseTrackSeesASmallSustainedShift: a level raised by 0.8 noise
// deviations for 256 samples hides in each sample's noise; in means over
// blocks of 8 it is a shift of 2.3 of their deviations. The coarse track
// scores it at the alert threshold, and at most one of the 375 blocks of
// noise before it.
func TestCoarseTrackSeesASmallSustainedShift(t *testing.T) {
	const from, span = 4000, 256
	open := DefaultConfig().Alert.Open
	for _, seed := range []uint64{1, 2, 3, 4, 5} {
		x := smallShift(from+2*span, from, span, 0.8, seed)
		in, falseReds := coarseScores(t, Autoencoder, x, from, from+span, open)
		t.Logf("seed %d: highest coarse score over the shift %.3f; blocks of noise before it at or above %.2f: %d", seed, in, open, falseReds)
		if in < open {
			t.Errorf("seed %d: the shift scores %.3f, want >= %.2f", seed, in, open)
		}
		if falseReds > 1 {
			t.Errorf("seed %d: %d blocks of plain noise score >= %.2f, want at most 1", seed, falseReds, open)
		}
	}
	for _, kind := range []Kind{Frozen, Persistence, Range} {
		in, falseReds := coarseScores(t, kind, smallShift(from+2*span, from, span, 0.8, 1), from, from+span, open)
		t.Logf("control %s, seed 1: %.3f over the shift, %d false reds", kind, in, falseReds)
	}
}
