package detector

import (
	"math"
	"math/rand/v2"
	"testing"
)

// arSignal is 50 plus AR(1) noise (coefficient phi, unit spread) and
// white measurement noise of 0.3, with step added over [from, to): a
// process value wandering about its setpoint, whose 32-sample window means
// stray almost as far as a step of three deviations.
func arSignal(n, from, to int, phi, step float64, seed uint64) []float64 {
	r := rand.New(rand.NewPCG(seed, 11))
	xs := make([]float64, n)
	var a float64
	for i := range xs {
		a = phi*a + math.Sqrt(1-phi*phi)*r.NormFloat64()
		xs[i] = 50 + a + 0.3*r.NormFloat64()
		if i >= from && i < to {
			xs[i] += step
		}
	}
	return xs
}

// TestStationaryLevelHoldsAStep: a step of three deviations lasting 800
// samples on a stationary process value. Its window means dip inside the
// follow gate with the noise, and the level, following them at time
// constant 100, took the step in within a hundred samples and closed the
// alert (a fifth of the step alerted or less). Anchored, the level follows
// within the gate as slowly as beyond it: the step is alerted on most of
// its rows (the alert may close where the noise dips and open again), the
// alert closes after it, and the noise alone alerts nothing.
func TestStationaryLevelHoldsAStep(t *testing.T) {
	const n, from, to = 5000, 3000, 3800
	cfg := DefaultConfig()
	cfg.Drift.Enabled, cfg.Quality.Enabled = false, false
	off := cfg
	off.Reference.Anchor = 0
	for _, seed := range []uint64{1, 3} {
		xs := arSignal(n, from, to, 0.9, 3, seed)
		out, was := run(t, cfg, times(n), xs), run(t, off, times(n), xs)
		during, before, after := coverage(out, from, to), coverage(out, cfg.Reference.Samples, from), coverage(out, to+150, n)
		wasDuring := coverage(was, from, to)
		t.Logf("seed %d: step alerted on %.2f of its rows (%.2f without anchors), %.3f of the rows before, %.3f from 150 after", seed, during, wasDuring, before, after)
		if during < 0.8 {
			t.Errorf("seed %d: step alerted on %.2f of its rows, want >= 0.8", seed, during)
		}
		if wasDuring > 0.5 {
			t.Errorf("seed %d: without anchors the step was alerted on %.2f of its rows: the test no longer shows the level following it away", seed, wasDuring)
		}
		if before > 0.01 || after > 0.01 {
			t.Errorf("seed %d: %.3f of the rows before the step and %.3f from 150 after it alerted, want <= 0.01", seed, before, after)
		}
	}
}

// TestAnchorOnlyStationaryChannels: after the anchor's span a stationary
// channel is anchored; one whose level follows a load cycle longer than
// the reference period (an energy meter's rate following its load), or
// wanders as a random walk does, is not: following brought their window
// means much nearer the level than to their own mean, and holding their
// levels would alert on their own cycle.
func TestAnchorOnlyStationaryChannels(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Drift.Enabled, cfg.Quality.Enabled = false, false
	cfg.Reference.Season.Learn, cfg.Reference.Season.LongLearn = 0, 0 // the cycle stays in what the reference sees
	end := cfg.Reference.Samples + cfg.Reference.Anchor + 100
	r := rand.New(rand.NewPCG(5, 5))
	cycle, walk := make([]float64, end), make([]float64, end)
	var w float64
	for i := range end {
		cycle[i] = 2 + math.Sin(2*math.Pi*float64(i)/1250) + 0.1*r.NormFloat64()
		w += 0.1 * r.NormFloat64()
		walk[i] = 100 + w + 0.05*r.NormFloat64()
	}
	for _, c := range []struct {
		name     string
		xs       []float64
		anchored bool
	}{
		{"stationary", arSignal(end, end, end, 0.9, 0, 1), true},
		{"load cycle", cycle, false},
		{"random walk", walk, false},
	} {
		d, err := New(cfg, 1)
		if err != nil {
			t.Fatal(err)
		}
		ts := times(end)
		for i := range end {
			d.Push(ts[i], c.xs[i:i+1])
			if i == end-200 && d.ref.anchored(0) {
				t.Errorf("%s: anchored before the anchor's span was over", c.name)
			}
		}
		ratio := d.ref.spreadAboutMean(0) / d.ref.levelSq[0]
		t.Logf("%s: window means' square departure from their mean %.2f times that from the level, let go %v", c.name, ratio, d.ref.letGo[0])
		if got := d.ref.anchored(0); got != c.anchored {
			t.Errorf("%s: anchored %v, want %v", c.name, got, c.anchored)
		}
	}
}

// TestAnchorRestores: a snapshot taken while the anchor's span is being
// measured, and one taken once a step holds an anchored level, restore
// into detectors that go on bit for bit as the one they were taken from.
func TestAnchorRestores(t *testing.T) {
	const n, from, to = 4600, 3000, 3800
	cfg := DefaultConfig()
	cfg.Drift.Enabled, cfg.Quality.Enabled = false, false
	xs := arSignal(n, from, to, 0.9, 3, 1)
	ts := times(n)
	out := run(t, cfg, ts, xs)
	for _, cut := range []int{cfg.Reference.Samples + 700, from + 300} {
		a, _ := New(cfg, 1)
		for i := range cut {
			a.Push(ts[i], xs[i:i+1])
		}
		if cut > from && !a.ref.anchored(0) {
			t.Fatalf("cut %d: the channel is not anchored: the test no longer restores an anchored level", cut)
		}
		resumesUninterrupted(t, cfg, a, cut, ts, xs, out)
	}
}
