package detector

import (
	"testing"
	"time"

	"github.com/aewatch/aewatch/synth"
)

// TestDailyCycleAtOneMinute: a daily cycle sampled each minute (1,440
// samples) is longer than half the first seasonal search, so only the
// second one (season.long_learn) finds it; a level shift on it is then
// alerted for most of its span, and is not without that search. A
// snapshot taken while the second search runs resumes bit for bit.
func TestDailyCycleAtOneMinute(t *testing.T) {
	var without float64
	for _, seed := range []uint64{1, 2, 3} {
		s, err := synth.GenerateSustained("daily", "level_shift", 20000, seed)
		if err != nil {
			t.Fatal(err)
		}
		ts := make([]int64, len(s.Times))
		for i, tm := range s.Times {
			ts[i] = tm.UnixNano()
		}
		cfg := DefaultConfig()
		with := coverage(run(t, cfg, ts, s.Values), s.Onset, s.End+1)
		cfg.Reference.Season.LongLearn = 0
		off := coverage(run(t, cfg, ts, s.Values), s.Onset, s.End+1)
		without += off / 3
		t.Logf("seed %d: shift %+.2f over %d samples from %d: alert covers %.2f with the second search, %.2f without", seed, s.Size, s.End-s.Onset+1, s.Onset, with, off)
		if with < 0.9 {
			t.Errorf("seed %d: alert covers %.2f of the shift with the second search (want >= 0.9)", seed, with)
		}
	}
	if without > 0.5 {
		t.Errorf("without the second search the alert covers %.2f of the shifts on average: the test no longer tells it apart", without)
	}
	s, _ := synth.GenerateSustained("daily", "none", 9000, 1)
	cfg := DefaultConfig()
	a := mustNew(t, cfg)
	var b *Detector
	for i, x := range s.Values {
		if i == 4000 {
			b = restored(t, a, cfg)
		}
		ra := a.Push(s.Times[i].UnixNano(), []float64{x})
		if b != nil {
			rb := b.Push(s.Times[i].UnixNano(), []float64{x})
			if len(ra) != len(rb) || len(ra) > 0 && (ra[0].Score != rb[0].Score || ra[0].RefScore != rb[0].RefScore) {
				t.Fatalf("sample %d: the restored detector scores differently", i)
			}
		}
		if i == 5990 && a.ref.season.period[0] != 0 {
			t.Fatalf("cycle found at sample %d, before the second search ends", i)
		}
	}
	if got := time.Duration(a.ref.season.cycle[0]); got != 24*time.Hour {
		t.Errorf("cycle %v, want 24h", got)
	}
}
