package detector

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// components is a signal of c sinusoids of unrelated periods and random
// phases, with a little noise: c independent components.
func components(c, n int, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 77))
	periods := []float64{37, 11.3, 23.7, 7.1, 53.9, 15.7}
	phases := make([]float64, c)
	for i := range phases {
		phases[i] = 2 * math.Pi * rng.Float64()
	}
	x := make([]float64, n)
	for t := range x {
		for i := range c {
			x[t] += math.Sin(2*math.Pi*float64(t)/periods[i] + phases[i])
		}
		x[t] += 0.05 * rng.NormFloat64()
	}
	return x
}

// autoConfig sizes untied networks, as docs/quality.md advises: tied, the
// search chose 3.4, 5.4, 5.6, 6.0, 5.8, 5.6 units for 1..6 components over
// five seeds (untied 3.0, 4.6, 5.0, 6.0, 6.0, 6.0).
func autoConfig() Config {
	cfg := DefaultConfig()
	cfg.Model.Bottleneck = "auto"
	cfg.Model.Tied = false
	return cfg
}

// TestAutoBottleneckGrowsWithComponents: model.bottleneck: auto chooses a
// larger bottleneck for a signal of more independent components (1 to 6
// sinusoids, seeds 1-3), and reports its choice once, on the sample that
// ends the search.
func TestAutoBottleneckGrowsWithComponents(t *testing.T) {
	if testing.Short() {
		t.Skip("a quality measurement over 18 series: skipped in short mode")
	}
	cfg := autoConfig()
	mean := make([]float64, 7)
	for c := 1; c <= 6; c++ {
		for seed := uint64(1); seed <= 3; seed++ {
			xs := components(c, 1500, seed)
			d, err := New(cfg, 1)
			if err != nil {
				t.Fatal(err)
			}
			reported := 0
			for i, x := range xs {
				for _, r := range d.Push(int64(i+1)*1e9, []float64{x}) {
					// The configured network's code until the choice, which
					// the sample it ends warm-up with still has.
					if want := map[bool]int{true: 2, false: reported}[reported == 0]; r.Scored && len(r.Code) != want {
						t.Fatalf("%d components: a code of %d values at sample %d, bottleneck %d", c, len(r.Code), r.Seq, reported)
					}
					if r.Bottleneck != 0 {
						if reported != 0 || int(r.Seq) != cfg.Model.AutoSamples-1 {
							t.Fatalf("%d components: bottleneck %d reported at sample %d (already %d)", c, r.Bottleneck, r.Seq, reported)
						}
						reported = r.Bottleneck
					}
				}
			}
			if reported == 0 || reported != d.ChosenBottleneck() {
				t.Fatalf("%d components: reported %d, chose %d", c, reported, d.ChosenBottleneck())
			}
			mean[c] += float64(reported) / 3
		}
	}
	t.Logf("mean bottleneck chosen for 1..6 components: %.2f", mean[1:])
	for c := 2; c <= 6; c++ {
		if mean[c] < mean[c-1] {
			t.Errorf("mean bottleneck %.2f for %d components, %.2f for %d: want it not to shrink", mean[c], c, mean[c-1], c-1)
		}
	}
	if mean[6] < mean[1]+2 {
		t.Errorf("mean bottleneck %.2f for 6 components, %.2f for 1: want at least 2 units more", mean[6], mean[1])
	}
}

// TestAutoBottleneckResumesExactly: a detector restored from a snapshot
// taken while the bottleneck search runs, or after it chose, scores the
// rest bit for bit as the uninterrupted one.
func TestAutoBottleneckResumesExactly(t *testing.T) {
	xs := components(3, 1500, 4)
	ts := times(len(xs))
	cfg := autoConfig()
	want := run(t, cfg, ts, xs)
	for _, cut := range []int{100, 600, 999, 1000, 1300} {
		resumesExactly(t, fmt.Sprintf("auto bottleneck cut %d", cut), cfg, ts, xs, cut, want)
	}
}
