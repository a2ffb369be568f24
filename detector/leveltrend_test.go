package detector

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestDriftShapedTellsADriftFromAStep: block means that rise steadily are
// a drift; ones that jump once, or wander about a level, are not.
func TestDriftShapedTellsADriftFromAStep(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const n = 12
	tr := newLevelTrend(n, 32, 1)
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
	for _, c := range cases {
		hits := 0
		const draws = 200
		for range draws {
			ys := make([]float64, n)
			for q := range ys {
				ys[q] = c.mean(q) + 0.2*r.NormFloat64()
			}
			if tr.driftShaped(ys) {
				hits++
			}
		}
		share := float64(hits) / draws
		t.Logf("%s: called a drift in %.2f of %d draws", c.name, share, draws)
		if c.drift && share < 0.95 || !c.drift && share > 0.05 {
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
// it stayed open to the hold limit. The step itself stays alerted.
func TestDriftAfterAFaultIsNotHeld(t *testing.T) {
	const n, from, to = 4000, 1500, 1700
	xs := shifted(n, from, to, 3, 5)
	for i := 1000; i < n; i++ {
		xs[i] += 0.006 * float64(i-1000)
	}
	cfg := DefaultConfig()
	cfg.Drift.Enabled, cfg.Quality.Enabled = false, false
	out := run(t, cfg, times(n), xs)
	during, after := coverage(out, from, to), coverage(out, to+600, n)
	cfg.Reference.FollowTrend = 0
	heldAfter := coverage(run(t, cfg, times(n), xs), to+600, n)
	t.Logf("step alerted on %.2f of its rows; from 600 after it %.2f of the rows alerted, %.2f without follow_trend", during, after, heldAfter)
	if during < 0.9 || after > 0.05 {
		t.Errorf("step alerted on %.2f of its rows (want >= 0.9), %.2f of the rows from 600 after it (want <= 0.05)", during, after)
	}
	if heldAfter < 0.5 {
		t.Errorf("without follow_trend %.2f of the rows from 600 after the step alerted, want >= 0.5: the test no longer shows a stale held level", heldAfter)
	}

	// Restored mid-block during the step, the detector scores the rest as
	// the uninterrupted one: the block means and verdicts are in the
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
		snap, err := a.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := New(cfg, 1)
		if err := b.UnmarshalBinary(snap); err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		for i := cut; i < n; i++ {
			for _, r := range b.Push(ts[i], xs[i:i+1]) {
				if w := out[r.Seq]; math.Float64bits(r.RefScore) != math.Float64bits(w.ref) || r.Anomaly.Open != w.alert {
					t.Fatalf("cut %d: sample %d reference %v alert %v after restore, %v %v uninterrupted", cut, r.Seq, r.RefScore, r.Anomaly.Open, w.ref, w.alert)
				}
			}
		}
	}
}
