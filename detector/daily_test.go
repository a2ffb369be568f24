package detector

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestDailyRepeatsRing(t *testing.T) {
	cfg := DefaultDailyRepeatConfig() // 3 days, 2 of them, within an hour
	r := newDailyRepeats(cfg)
	day := binsPerDay
	at := func(d, hour int64, minutes int64) int64 { return d*day + (hour*60+minutes)/int64(dailyBin/time.Minute) }
	for _, b := range []int64{at(10, 4, 0), at(11, 4, 20)} {
		r.advance(b)
		r.mark(b)
	}
	cases := []struct {
		b    int64
		want bool
		why  string
	}{
		{at(12, 3, 20), true, "day 10 and 11 within an hour after"},
		{at(12, 4, 50), true, "within an hour of both"},
		{at(12, 5, 10), false, "more than an hour after day 10's"},
		{at(12, 13, 0), false, "another time of day"},
		{at(13, 4, 10), true, "days 10 and 11 are two of the three days before"},
		{at(14, 4, 10), false, "day 10 is four days back: only day 11 counts"},
	}
	for _, c := range cases {
		r.advance(c.b)
		if got := r.recurs(c.b); got != c.want {
			t.Errorf("bin %d (day %d, %02d:%02d): recurs %v, want %v: %s", c.b, c.b/day, c.b%day*10/60, c.b%day*10%60, got, c.want, c.why)
		}
	}
	// A gap longer than the ring forgets everything; earlier times are
	// no time of day seen.
	r.mark(at(14, 4, 10))
	r.advance(at(30, 4, 10))
	if r.recurs(at(30, 4, 10)) || r.anyIn(at(14, 0, 0), at(14, 23, 55)) {
		t.Error("marks survive a gap of 16 days")
	}
	// Bins before the epoch fold the same way.
	r = newDailyRepeats(cfg)
	for _, d := range []int64{-3, -2} {
		r.advance(at(d, 22, 0))
		r.mark(at(d, 22, 0))
	}
	r.advance(at(-1, 22, 0))
	if !r.recurs(at(-1, 22, 0)) {
		t.Error("times before the epoch: the same time of day on the two days before not found")
	}
	if binOf(-1) != -1 || binOf(0) != 0 || binOf(int64(dailyBin)-1) != 0 {
		t.Errorf("binOf(-1, 0, 10m-1ns) = %d, %d, %d, want -1, 0, 0", binOf(-1), binOf(0), binOf(int64(dailyBin)-1))
	}
	if newDailyRepeats(DailyRepeatConfig{}) != nil {
		t.Error("days: 0 keeps a memory")
	}
	bad := DailyRepeatConfig{Days: 3, MinDays: 2, Tolerance: 15 * time.Minute}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "detector.daily_repeat.tolerance") || !strings.Contains(err.Error(), "15m0s") {
		t.Errorf("tolerance 15m, between the 10-minute steps: %v, want an error naming the field and the value", err)
	}
}

// TestDailyRepeatScores: a scheduled job's spike, once a day between 03:15
// and 03:50 and a little higher each day (a nightly job on a machine whose
// data grows), stops reaching the alert threshold once it has on two of
// the three days before; a spike at another time of day still reaches it;
// nothing but the shown score changes.
func TestDailyRepeatScores(t *testing.T) {
	const perDay = 288
	const days = 14
	const n = days * perDay
	other := 11*perDay + 13*12 // 13:00 on day 11
	for _, seed := range []uint64{1, 2, 3} {
		rng := rand.New(rand.NewPCG(seed, 9))
		ts, xs := make([]int64, n), make([]float64, n)
		start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).UnixNano()
		job := make([]int, days)
		for d := range job {
			job[d] = d*perDay + 39 + rng.IntN(8) // 03:15 to 03:50
		}
		for i := range xs {
			ts[i], xs[i] = start+int64(i)*int64(5*time.Minute), 0.066
			if rng.IntN(4) == 0 {
				xs[i] = 0.134 // a two-level idle load
			}
			switch i {
			case job[i/perDay]:
				xs[i] = 1.2 * math.Pow(1.1, float64(i/perDay))
			case other:
				xs[i] = 10
			}
		}
		cfg := DefaultConfig()
		on := run(t, cfg, ts, xs)
		// A snapshot carries the times of day: restored on day 8, the
		// repeats show as uninterrupted.
		resumesExactly(t, fmt.Sprintf("seed %d, restored on day 8", seed), cfg, ts, xs, 8*perDay, on)
		cfg.DailyRepeat.Days = 0
		off := run(t, cfg, ts, xs)
		// An episode the job opens: a score reaching alert.open within an
		// hour after its spike.
		reaches := func(out []scored, i int) bool {
			for _, o := range out[i : i+12] {
				if o.score >= cfg.Alert.Open {
					return true
				}
			}
			return false
		}
		var jobsOn, jobsOff, repeats int
		for d := 3; d < days; d++ {
			if reaches(on, job[d]) {
				jobsOn++
			}
			if reaches(off, job[d]) {
				jobsOff++
			}
		}
		for i := range on {
			a, b := on[i], off[i]
			if b.dailyRepeat {
				t.Fatalf("seed %d, sample %d: shown as a daily repeat with daily_repeat off", seed, i)
			}
			if a.dailyRepeat {
				repeats++
				if a.score != repeatScore || b.score < cfg.Alert.Open {
					t.Fatalf("seed %d, sample %d: a daily repeat shows %v (want %v), %v without the rule (want >= %v)", seed, i, a.score, repeatScore, b.score, cfg.Alert.Open)
				}
			}
			a.score, a.dailyRepeat, b.score = 0, false, 0
			if a != b {
				t.Fatalf("seed %d, sample %d: %+v with daily_repeat, %+v without", seed, i, on[i], off[i])
			}
		}
		t.Logf("seed %d: the nightly job reaches %.1f on %d of days 3-13 with daily_repeat, %d without; %d samples shown as repeats; 13:00 on day 11 reaches it: %v",
			seed, cfg.Alert.Open, jobsOn, jobsOff, repeats, reaches(on, other))
		if jobsOff < 5 || jobsOn > 1 {
			t.Errorf("seed %d: the nightly job reaches %.1f on %d of 11 days with daily_repeat (want <= 1), %d without (want >= 5)", seed, cfg.Alert.Open, jobsOn, jobsOff)
		}
		if !reaches(on, other) {
			t.Errorf("seed %d: the spike at 13:00 does not reach %.1f with daily_repeat", seed, cfg.Alert.Open)
		}
	}
}
