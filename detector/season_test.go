package detector

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/aewatch/aewatch/synth"
)

// TestSeasonalLevelShift: on a daily cycle sampled every 5 minutes (288
// samples a cycle, nine times the window), a level shift of 4-8 noise
// deviations for 400-1,200 samples is alerted for most of its span only
// with the reference's seasonal context; a duty cycle whose length wanders
// is given no cycle, a clock-bound one is.
func TestSeasonalLevelShift(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		s, err := synth.GenerateSustained("seasonal", "level_shift", 6000, seed)
		if err != nil {
			t.Fatal(err)
		}
		ts := make([]int64, len(s.Times))
		for i, tm := range s.Times {
			ts[i] = tm.UnixNano()
		}
		cfg := DefaultConfig()
		with := coverage(run(t, cfg, ts, s.Values), s.Onset, s.End+1)
		cfg.Reference.Season.Learn = 0
		without := coverage(run(t, cfg, ts, s.Values), s.Onset, s.End+1)
		t.Logf("seed %d: shift %+.1f over %d samples: alert covers %.2f with seasonal context, %.2f without", seed, s.Size, s.End-s.Onset+1, with, without)
		if with < 0.9 || without > 0.5 {
			t.Errorf("seed %d: alert covers %.2f of the shift with seasonal context (want >= 0.9), %.2f without", seed, with, without)
		}
	}
	for sig, want := range map[string]bool{"seasonal": true, "duty": false, "oscillating": false} {
		s, _ := synth.GenerateSustained(sig, "none", 6000, 1)
		d, _ := New(DefaultConfig(), 1)
		for i, x := range s.Values {
			d.Push(s.Times[i].UnixNano(), []float64{x})
		}
		if got := d.ref.season.period[0] > 0; got != want {
			t.Errorf("%s: cycle found %v (period %d blocks), want %v", sig, got, d.ref.season.period[0], want)
		}
	}
}

// TestSeasonNeedsEvenSampling: a gap of a day while learning (block means
// no longer equally spaced in time) means no cycle is taken.
func TestSeasonNeedsEvenSampling(t *testing.T) {
	s, _ := synth.GenerateSustained("seasonal", "none", 6000, 1)
	d, _ := New(DefaultConfig(), 1)
	for i, x := range s.Values {
		ts := s.Times[i].UnixNano()
		if i >= 1000 {
			ts += 24 * 3600e9
		}
		d.Push(ts, []float64{x})
	}
	if p := d.ref.season.period[0]; p != 0 {
		t.Errorf("cycle of %d blocks found across a day's gap", p)
	}
}

// TestCycleFoundDuringAFault: a cycle found while an alert is open
// restarts the reference period only once the alert closes; restarted
// inside the fault, the period would learn the fault as the normal and
// the alert would close with the fault still on.
func TestCycleFoundDuringAFault(t *testing.T) {
	const n, from, to, period = 3200, 1960, 2600, 288 // a day at 5 minutes
	cfg := DefaultConfig()
	cfg.Drift.Enabled, cfg.Quality.Enabled = false, false
	cfg.Reference.Follow = 0 // the fault is not followed away either
	xs := make([]float64, n)
	r := rand.New(rand.NewPCG(7, 1))
	for i := range xs {
		xs[i] = 50 + 5*math.Sin(2*math.Pi*float64(i)/period) + 0.3*r.NormFloat64()
		if i >= from && i < to {
			xs[i] += 15 // beyond the cycle's range: alerted before the cycle is known
		}
	}
	d, err := New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]scored, n)
	for i, x := range xs {
		for _, res := range d.Push(int64(i+1)*300e9, []float64{x}) {
			out[res.Seq].alert = res.Anomaly.Open
		}
	}
	if d.ref.season.period[0] == 0 {
		t.Fatalf("no cycle found in a sine of %d samples", period)
	}
	found := cfg.Reference.Season.Learn
	during, after := coverage(out, found, to), coverage(out, to+cfg.Window.Size+cfg.Alert.CloseAfter, n)
	t.Logf("alert open on %.2f of the fault after the cycle was found, %.2f of the rows after the fault", during, after)
	if during < 0.95 || after > 0.05 {
		t.Errorf("alert open on %.2f of the fault after the cycle was found (want >= 0.95), %.2f after it (want <= 0.05)", during, after)
	}
}

// TestCycleToAFractionOfABlock: a machine's cycle that is no whole number
// of block means is found to within 0.3%; taken to the nearest block
// (4 samples here), its profile's phase drifted by up to 2 samples a
// cycle. The short ones (9-15 blocks) were found 4-5% off, or not at all,
// when the refinement jumped straight to many cycles.
func TestCycleToAFractionOfABlock(t *testing.T) {
	for _, period := range []float64{37.7, 45.2, 50, 61.3, 40 * math.Pi, 90.3, 201.7} {
		s := newSeason(DefaultSeasonConfig(), 32, 1)
		r := rand.New(rand.NewPCG(5, 5))
		for i := range DefaultSeasonConfig().Learn {
			s.observe(int64(i)*1e9, []float64{math.Sin(2*math.Pi*float64(i)/period) + 0.1*r.NormFloat64()})
		}
		got := s.cycle[0] / 1e9
		t.Logf("cycle of %.2f samples found as %.2f", period, got)
		if math.Abs(got-period) > 0.003*period {
			t.Errorf("cycle of %.2f samples found as %.2f (want within 0.3%%)", period, got)
		}
	}
}

// TestMachineCycleNearTheHour: a machine's cycle of 58 or 61.3 minutes,
// sampled every minute, is its own, not the hour (a profile an hour long
// slides out of phase); one within 0.5% of the hour is the hour.
func TestMachineCycleNearTheHour(t *testing.T) {
	for _, c := range []struct{ period, want float64 }{{58, 58}, {61.3, 61.3}, {60.2, 60}} {
		s := newSeason(DefaultSeasonConfig(), 32, 1)
		r := rand.New(rand.NewPCG(1, 9))
		for i := range DefaultSeasonConfig().Learn {
			s.observe(int64(i)*60e9, []float64{10*math.Sin(2*math.Pi*float64(i)/c.period) + r.NormFloat64()})
		}
		if got := s.cycle[0] / 60e9; math.Abs(got-c.want) > 0.003*c.want {
			t.Errorf("a cycle of %.1f minutes found as %.2f (want %.1f)", c.period, got, c.want)
		}
	}
}

// TestPhasedReferenceScores: on a daily cycle sampled every 5 minutes, a
// day without its peak is a shape only the reference, which reads the
// cycle by phase, can judge. With season.score the anomaly score shows
// the reference's verdict within that day; without it the adapting
// model's score alone stays below alert.open. Alerts, evidence and the
// reference's score are the same either way (the adapting model learns
// by its own score), and no other day scores that high.
func TestPhasedReferenceScores(t *testing.T) {
	const day = 288
	const n, from = 12 * day, 9 * day
	for _, seed := range []uint64{1, 2, 3} {
		rng := rand.New(rand.NewPCG(seed, 5))
		ts, xs := make([]int64, n), make([]float64, n)
		for i := range xs {
			cycle := 10 * math.Sin(2*math.Pi*float64(i)/day)
			if i >= from && i < from+day {
				cycle = min(cycle, 0)
			}
			ts[i], xs[i] = int64(i+1)*300e9, 50+cycle+0.2*rng.NormFloat64()
		}
		cfg := DefaultConfig()
		on := run(t, cfg, ts, xs)
		cfg.Reference.Season.Score = false
		off := run(t, cfg, ts, xs)
		peak := func(out []scored, lo, hi int) (p float64) {
			for _, o := range out[lo:hi] {
				p = max(p, o.score)
			}
			return p
		}
		reaching := func(out []scored) (k int) {
			for i, o := range out {
				if o.score >= cfg.Alert.Open && (i < from || i >= from+day) {
					k++
				}
			}
			return k
		}
		t.Logf("seed %d: peak score in the day %.2f with the reference's, %.2f without; other samples reaching %.1f: %d, %d",
			seed, peak(on, from, from+day), peak(off, from, from+day), cfg.Alert.Open, reaching(on), reaching(off))
		if peak(on, from, from+day) < cfg.Alert.Open || peak(off, from, from+day) >= cfg.Alert.Open {
			t.Errorf("seed %d: the day without its peak scores %.2f with the reference's score shown, %.2f without (want >= %.1f, below)",
				seed, peak(on, from, from+day), peak(off, from, from+day), cfg.Alert.Open)
		}
		if k, k0 := reaching(on), reaching(off); k > k0 {
			t.Errorf("seed %d: %d samples outside the fault reach %.1f with the reference's score shown, %d without", seed, k, cfg.Alert.Open, k0)
		}
		phased := 0
		for i := range on {
			if on[i].phased {
				phased++
				if on[i].score != on[i].ref && on[i].score != min(on[i].ref, repeatScore) {
					t.Fatalf("seed %d, sample %d: marked as the reference's score, %v, where the reference scores %v (a repeat in its episode %v)", seed, i, on[i].score, on[i].ref, repeatScore)
				}
			}
			a, b := on[i], off[i]
			if b.phased {
				t.Fatalf("seed %d, sample %d: marked as the reference's score with season.score off", seed, i)
			}
			a.score, a.phased, b.score = 0, false, 0
			if a != b {
				t.Fatalf("seed %d, sample %d: %+v with the reference's score shown, %+v without", seed, i, on[i], off[i])
			}
		}
		if phased == 0 {
			t.Errorf("seed %d: no sample marked as scored by the reference", seed)
		}
	}
}
