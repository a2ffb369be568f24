package detector

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// TestDriftShapedTellsADriftFromAStep: block means that rise steadily are
// mostly a drift; ones that jump once, jump and wander on the same way, or
// wander about a level, are not.
func TestDriftShapedTellsADriftFromAStep(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const n = 12
	cases := []struct {
		name  string
		mean  func(q int) float64
		drift bool
	}{
		{"a steady rise", func(q int) float64 { return 1000 + 0.5*float64(q) }, true},
		{"a steady fall", func(q int) float64 { return -3 - 0.5*float64(q) }, true},
		{"a step", func(q int) float64 { return 1000 + 4*float64(q/(n/2)) }, false},
		{"a step late", func(q int) float64 { return 1000 + 4*float64(q/(n-3)) }, false},
		{"a level", func(int) float64 { return 1000 }, false},
	}
	// A level shift of -13 on slow noise, its ring of means from a
	// generated sustained corpus (generate --sustained --seed 7,
	// noisy_level_shift_1): a step, then a wander the same way.
	if ys := []float64{100.62, 99.24, 98.37, 98.51, 100.03, 92.22, 87.07, 87.71, 85.80, 84.03, 82.93, 83.28}; driftShaped(ys) {
		t.Errorf("a step followed by a wander the same way called a drift: %v", ys)
	}
	// More means than driftShaped fits on the stack: the same verdicts.
	rl := rand.New(rand.NewPCG(3, 4))
	long := make([]float64, stackBlocks+36)
	for q := range long {
		long[q] = 1000 + 0.5*float64(q) + 0.2*rl.NormFloat64()
	}
	if !driftShaped(long) {
		t.Errorf("a steady rise over %d means not called a drift", len(long))
	}
	for q := range long {
		long[q] = 1000 + 4*float64(q/(len(long)/2)) + 0.2*rl.NormFloat64()
	}
	if driftShaped(long) {
		t.Errorf("a step over %d means called a drift", len(long))
	}
	for _, c := range cases {
		hits := 0
		const draws = 200
		for range draws {
			ys := make([]float64, n)
			for q := range ys {
				ys[q] = c.mean(q) + 0.2*r.NormFloat64()
			}
			if driftShaped(ys) {
				hits++
			}
		}
		share := float64(hits) / draws
		t.Logf("%s: called a drift in %.2f of %d draws", c.name, share, draws)
		// The step-on-trend bar holds back about one steady drift's means
		// in ten (the best of eleven breaks often explains a little); the
		// next block's means are judged again.
		if c.drift && share < 0.8 || !c.drift && share > 0.05 {
			t.Errorf("%s: called a drift in %.2f of %d draws, want %v", c.name, share, draws, c.drift)
		}
	}
}

// TestBestStepRSSIsTheLeastOverBreaks: the running sums give every break's
// sum of squares as a direct count does.
func TestBestStepRSSIsTheLeastOverBreaks(t *testing.T) {
	ys := []float64{3, 1, 4, 1, 5, 9, 2, 6, 5, 3}
	want := math.Inf(1)
	for k := 2; k <= len(ys)-2; k++ {
		want = min(want, sumSqAbout(ys[:k])+sumSqAbout(ys[k:]))
	}
	if got := bestStepRSS(ys); math.Abs(got-want) > 1e-9 {
		t.Errorf("bestStepRSS = %v, want %v", got, want)
	}
}

// TestStepOnTrendIsTheFitsF: stepOnTrend gives, at its best break, the F
// of a line-and-step least-squares fit over the line alone, as a direct
// fit of both gives it.
func TestStepOnTrendIsTheFitsF(t *testing.T) {
	ys := []float64{3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8}
	n := len(ys)
	lineRSS := leastSquaresRSS(t, ys, 0)
	want := 0.0
	for k := 1; k < n; k++ {
		rss := leastSquaresRSS(t, ys, k)
		want = max(want, (lineRSS-rss)/(rss/float64(n-3)))
	}
	mean, slope, _ := lineFit(ys)
	resid := make([]float64, n)
	for q, y := range ys {
		resid[q] = y - mean - slope*(float64(q)-float64(n-1)/2)
	}
	if got := stepOnTrend(resid, lineRSS); math.Abs(got-want) > 1e-9*want {
		t.Errorf("stepOnTrend = %v, want %v", got, want)
	}
}

// leastSquaresRSS fits ys by a line, and with k > 0 a step at k too,
// through gonum, and returns the residual sum of squares.
func leastSquaresRSS(t *testing.T, ys []float64, k int) float64 {
	cols := 2
	if k > 0 {
		cols = 3
	}
	x := mat.NewDense(len(ys), cols, nil)
	for q := range ys {
		x.Set(q, 0, 1)
		x.Set(q, 1, float64(q))
		if k > 0 && q >= k {
			x.Set(q, 2, 1)
		}
	}
	var beta mat.Dense
	if err := beta.Solve(x, mat.NewVecDense(len(ys), ys)); err != nil {
		t.Fatal(err)
	}
	var fit mat.VecDense
	fit.MulVec(x, beta.ColView(0))
	var rss float64
	for q, y := range ys {
		e := y - fit.AtVec(q)
		rss += e * e
	}
	return rss
}

func sumSqAbout(ys []float64) float64 {
	var m float64
	for _, y := range ys {
		m += y
	}
	m /= float64(len(ys))
	var s float64
	for _, y := range ys {
		s += (y - m) * (y - m)
	}
	return s
}

// TestDriftAfterAFaultIsNotHeld: a channel whose normal creeps up (its
// level followed within the gate) has a step fault; while the alert holds
// the level, the creep carries the channel beyond the gate, so once the
// step ends its level is stale. With follow_trend the creep is followed
// again once the step has left the block means and the alert closes; held,
// it stays open to the hold limit. The step itself stays alerted.
// follow_return, which would end it too, is off.
func TestDriftAfterAFaultIsNotHeld(t *testing.T) {
	const n, from, to = 4000, 1500, 1700
	xs := shifted(n, from, to, 3, 5)
	for i := 1000; i < n; i++ {
		xs[i] += 0.006 * float64(i-1000)
	}
	cfg := DefaultConfig()
	cfg.Drift.Enabled, cfg.Quality.Enabled = false, false
	cfg.Reference.FollowReturn = 0
	// From when the step has left the block means and the line has held
	// for a while (the step on top of it stands out until then), to the
	// hold limit.
	lateFrom, lateTo := to+800, from+cfg.Reference.HoldLimit
	out := run(t, cfg, times(n), xs)
	during, after := coverage(out, from, to), coverage(out, lateFrom, lateTo)
	cfg.Reference.FollowTrend = 0
	heldAfter := coverage(run(t, cfg, times(n), xs), lateFrom, lateTo)
	t.Logf("step alerted on %.2f of its rows; rows %d-%d alerted on %.2f, %.2f without follow_trend", during, lateFrom, lateTo, after, heldAfter)
	if during < 0.9 || after > 0 {
		t.Errorf("step alerted on %.2f of its rows (want >= 0.9), rows %d-%d on %.2f (want none)", during, lateFrom, lateTo, after)
	}
	if heldAfter < 0.9 {
		t.Errorf("without follow_trend rows %d-%d alerted on %.2f, want >= 0.9: the test no longer shows a stale held level", lateFrom, lateTo, heldAfter)
	}

	// Restored mid-block during the step, the detector scores the rest as
	// the uninterrupted one: the block means are in the
	// snapshot.
	cfg.Reference.FollowTrend = DefaultReferenceConfig().FollowTrend
	ts := times(n)
	for _, cut := range []int{from + 45, to + 17} {
		a, _ := New(cfg, 1)
		for i := range cut {
			a.Push(ts[i], xs[i:i+1])
		}
		if a.ref.trend.n != a.ref.trend.blocks || a.ref.trend.tick == 0 {
			t.Fatalf("cut %d: %d of %d block means, tick %d: the cut tests no full trend mid-block", cut, a.ref.trend.n, a.ref.trend.blocks, a.ref.trend.tick)
		}
		resumesUninterrupted(t, cfg, a, cut, ts, xs, out)
	}
}
