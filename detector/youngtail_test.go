package detector

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

// TestUpperMeanIsTheChiSquareBound: the approximation against the exact
// upper 90% bound of an exponential mean from k values, 2k over χ²(2k)'s
// lower 10% point.
func TestUpperMeanIsTheChiSquareBound(t *testing.T) {
	for _, k := range []int{3, 5, 10, 27, 108, 500} {
		exact := float64(2*k) / distuv.ChiSquared{K: float64(2 * k)}.Quantile(0.1)
		if got := upperMean(k); math.Abs(got-exact) > 0.02*exact {
			t.Errorf("k %d: %v, exact %v", k, got, exact)
		}
	}
}

func TestYoungTailWidening(t *testing.T) {
	const full = 108 // alert_tail 0.1 of a history of 1,080 averages
	if w := youngTailWidening(full, full); w != 1 {
		t.Errorf("a full history's tail widened by %v", w)
	}
	if w := youngTailWidening(2*full, full); w != 1 {
		t.Errorf("more excesses than a full history's: widened by %v", w)
	}
	prev := math.Inf(1)
	for k := 1; k < full; k++ {
		w := youngTailWidening(k, full)
		if !(w > 1 && w < prev) {
			t.Fatalf("k %d: widened by %v after %v, want above 1 and below the last", k, w, prev)
		}
		prev = w
	}
	if w := youngTailWidening(5, full); math.Abs(w-1.80) > 0.01 {
		t.Errorf("five excesses: widened by %v, want 1.80", w)
	}
}

// TestYoungTailHoldsBackEarlyAlerts: on bursty errors (a burst 2-16
// times the usual every 300 samples or so, as a busy series' are), a
// calibrator whose history is young reaches the alert's threshold far
// more often than one whose history is full, having seen few bursts; the
// widening holds that back (108 samples of 211,200 over 300 series; 178
// with the tail as fitted), the full history's rate as it was (4 of
// 450,128).
func TestYoungTailHoldsBackEarlyAlerts(t *testing.T) {
	cfg := DefaultCalibrationConfig()
	var young, youngN, full, fullN int
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 77))
		c := newCalibrator(cfg, errorFloor)
		c.scoreTail = cfg.ScoreTail
		count := func(i int, e float64) {
			_, evidence := c.update(c.scale(e))
			switch {
			case c.fitted && i < 1000:
				youngN++
				if evidence >= 0.5 {
					young++
				}
			case i >= 4500:
				fullN++
				if evidence >= 0.5 {
					full++
				}
			}
		}
		for i := 0; i < 6000; {
			e := rng.ExpFloat64()
			if rng.IntN(300) != 0 {
				count(i, e)
				i++
				continue
			}
			lift := 2 + 14*rng.Float64()
			for k := 5 + rng.IntN(16); k > 0; k-- {
				count(i, lift*rng.ExpFloat64())
				i++
			}
		}
	}
	t.Logf("alert evidence at or above 0.5: %d of %d samples while the history is young, %d of %d once it is full", young, youngN, full, fullN)
	if young > 130 || full > 8 {
		t.Errorf("%d young samples reach the alert's threshold (want at most 130; 178 without the widening), %d full ones (want at most 8)", young, full)
	}
}

// TestInstantTailWidensWhileYoung: the instant tail's scale is its mean
// excess widened by youngTailWidening until it has instantPeaks peaks.
func TestInstantTailWidensWhileYoung(t *testing.T) {
	tail := newInstantTail()
	rng := rand.New(rand.NewPCG(3, 3))
	sawYoung, sawFull := false, false
	for range 20000 {
		tail.score(rng.ExpFloat64())
		if tail.peaks == 0 {
			continue
		}
		want := tail.excess * youngTailWidening(tail.peaks, instantPeaks)
		if got := tail.scale(); got != want {
			t.Fatalf("%d peaks: scale %v, want %v", tail.peaks, got, want)
		}
		if tail.peaks < instantPeaks {
			sawYoung = sawYoung || tail.scale() > tail.excess
		} else {
			sawFull = sawFull || tail.scale() == tail.excess
		}
	}
	if !sawYoung || !sawFull {
		t.Errorf("widened while young: %v; as fitted once full: %v", sawYoung, sawFull)
	}
}
