package detector

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestScoreTailMixesTheTwoTails: the sample's score takes the geometric
// mean of the normal's and the peaks' tails (calibration.score_tail); on
// a heavy-tailed error stream the mix reaches the alert threshold less
// often than the normal alone, a sustained burst still reaches it, and
// the band's inversion (averageReaching) lands where the mixed tail
// crosses the threshold's.
func TestScoreTailMixesTheTwoTails(t *testing.T) {
	c := &calibrator{scoreTail: 0.5}
	if got := c.scoreTailOf(1e-6, 1e-2); math.Abs(got-1e-4) > 1e-16 {
		t.Errorf("half of 1e-6 and 1e-2: %v, want 1e-4", got)
	}
	if got := c.scoreTailOf(0, 1e-2); !(got > 0) || math.IsInf(got, 0) {
		t.Errorf("an underflowed normal tail mixes to %v, want a finite positive tail", got)
	}
	for _, w := range []float64{0, 1} {
		c.scoreTail = w
		if got, want := c.scoreTailOf(1e-6, 1e-2), []float64{1e-6, 1e-2}[int(w)]; got != want {
			t.Errorf("score_tail %v: %v, want %v", w, got, want)
		}
	}

	cfg := DefaultCalibrationConfig()
	tailOpen, zOpen := tailForScore(0.5)
	for _, seed := range []uint64{1, 2, 3} {
		// Bursty squared errors, as a busy series' are: a burst of 5-20
		// samples 2-16 times the usual every 300 samples or so, then a
		// fault: 100 samples 400 times the usual.
		rng := rand.New(rand.NewPCG(seed, 13))
		errs := make([]float64, 6000)
		for i := 0; i < len(errs); {
			errs[i] = rng.ExpFloat64()
			i++
			if rng.IntN(300) == 0 && i < 5000 {
				lift := 2 + 14*rng.Float64()
				for k := 5 + rng.IntN(16); k > 0 && i < 5000; k-- {
					errs[i] = lift * rng.ExpFloat64()
					i++
				}
			}
		}
		for i := 5000; i < 5100; i++ {
			errs[i] *= 400
		}
		n0, b0, _ := reachingHalf(cfg, 0, errs)
		n5, b5, cal := reachingHalf(cfg, 0.5, errs)
		t.Logf("seed %d: samples before the fault reaching 0.5: %d with the normal's tail, %d with the mix; the fault reaches it: %v, %v", seed, n0, n5, b0, b5)
		if n5 >= n0 {
			t.Errorf("seed %d: %d samples before the fault reach 0.5 with the mix, %d with the normal's tail alone (want fewer)", seed, n5, n0)
		}
		if !b0 || !b5 {
			t.Errorf("seed %d: the fault reaches 0.5 with the normal's tail %v, with the mix %v (want both)", seed, b0, b5)
		}
		avg := cal.averageReaching(tailOpen, zOpen)
		mixed := func(a float64) float64 { g := cal.tail(a); return cal.scoreTailOf(g, cal.peaks(a, g)) }
		if !(mixed(avg) <= tailOpen && mixed(avg*(1-1e-9)) > tailOpen) {
			t.Errorf("seed %d: the mixed tail is %v at the band's average %v and %v just below it, want it to cross %v there", seed, mixed(avg), avg, mixed(avg*(1-1e-9)), tailOpen)
		}
	}
}

// reachingHalf feeds every error to a calibrator whose score's tail
// weighs the peaks' by w: how many scores reach 0.5 before sample 5,000,
// whether one does from it on, and the calibrator.
func reachingHalf(cfg CalibrationConfig, w float64, errs []float64) (before int, after bool, c *calibrator) {
	cfg.ScoreTail = w
	c = newCalibrator(cfg, errorFloor)
	c.scoreTail = w
	for i, e := range errs {
		if s, _ := c.update(c.scale(e)); s >= 0.5 {
			if i >= 5000 {
				after = true
			} else {
				before++
			}
		}
	}
	return before, after, c
}
