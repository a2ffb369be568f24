package detector

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/aewatch/aewatch/synth"
)

// TestDailyCycleAtOneMinute: a daily cycle sampled each minute (1,440
// samples) is longer than half the first seasonal search, so only a later
// one (season.long_learn) finds it; a level shift on it is then alerted
// for most of its span, and is not without the later searches. A
// snapshot taken while a later search runs resumes bit for bit.
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
		with, off := shiftCoverage(t, ts, s.Values, s.Onset, s.End+1)
		without += off / 3
		t.Logf("seed %d: shift %+.2f over %d samples from %d: alert covers %.2f with the later searches, %.2f without", seed, s.Size, s.End-s.Onset+1, s.Onset, with, off)
		if with < 0.9 {
			t.Errorf("seed %d: alert covers %.2f of the shift with the later searches (want >= 0.9)", seed, with)
		}
	}
	if without > 0.5 {
		t.Errorf("without the later searches the alert covers %.2f of the shifts on average: the test no longer tells them apart", without)
	}
	s, _ := synth.GenerateSustained("daily", "none", 9000, 1)
	cfg := DefaultConfig()
	a := mustNew(t, cfg)
	var b *Detector
	for i, x := range s.Values {
		if i == 3000 {
			b = restored(t, a, cfg)
		}
		ra := a.Push(s.Times[i].UnixNano(), []float64{x})
		if b != nil {
			rb := b.Push(s.Times[i].UnixNano(), []float64{x})
			if len(ra) != len(rb) || len(ra) > 0 && (ra[0].Score != rb[0].Score || ra[0].RefScore != rb[0].RefScore) {
				t.Fatalf("sample %d: the restored detector scores differently", i)
			}
		}
		if i == 3990 && a.ref.season.period[0] != 0 {
			t.Fatalf("cycle found at sample %d, before the second search ends", i)
		}
	}
	if got := time.Duration(a.ref.season.cycle[0]); got != 24*time.Hour {
		t.Errorf("cycle %v, want 24h", got)
	}
}

// TestDailyCycleAtTwentySeconds: a day sampled every 20 s is 4,320
// samples; the search doubles to 16,000 samples before it can see it, its
// block means merged three times over, and finds it as the day.
func TestDailyCycleAtTwentySeconds(t *testing.T) {
	const n, cycle, onset, span = 32000, 4320, 26000, 700
	r := rand.New(rand.NewPCG(5, 5))
	ts, xs := make([]int64, n), make([]float64, n)
	start := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	var wander float64
	for i := range xs {
		ph := 2 * math.Pi * float64(i) / cycle
		wander = 0.9*wander + 0.3*r.NormFloat64()
		ts[i] = start + int64(i)*int64(20*time.Second)
		xs[i] = 60 + 8*math.Sin(ph) + 2*math.Sin(2*ph+1) + wander + 0.5*r.NormFloat64()
		if i >= onset && i < onset+span {
			xs[i] -= 5
		}
	}
	with, without := shiftCoverage(t, ts, xs, onset, onset+span)
	t.Logf("shift -5 over %d samples: alert covers %.2f with the later searches, %.2f without", span, with, without)
	if with < 0.9 || without > 0.5 {
		t.Errorf("alert covers %.2f of the shift with the later searches (want >= 0.9), %.2f without (want <= 0.5)", with, without)
	}
	d := mustNew(t, DefaultConfig())
	for i := range 16000 {
		d.Push(ts[i], xs[i:i+1])
		if i == 15990 && d.ref.season.period[0] != 0 {
			t.Fatalf("cycle found at sample %d, before the search that can see it ends", i)
		}
	}
	if got := time.Duration(d.ref.season.cycle[0]); got != 24*time.Hour {
		t.Errorf("cycle %v after 16,000 samples, want 24h", got)
	}
}

// shiftCoverage is the share of samples [from, to) under alert by default
// and with the later seasonal searches off.
func shiftCoverage(t *testing.T, ts []int64, xs []float64, from, to int) (with, without float64) {
	t.Helper()
	cfg := DefaultConfig()
	with = coverage(run(t, cfg, ts, xs), from, to)
	cfg.Reference.Season.LongLearn = 0
	return with, coverage(run(t, cfg, ts, xs), from, to)
}
