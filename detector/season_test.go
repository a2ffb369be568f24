package detector

import (
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
