package detector

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// driftConfig is the default with a reference and horizon short enough for
// unit tests.
func driftConfig() Config {
	cfg := DefaultConfig()
	cfg.Kind = Persistence // the drift monitor does not depend on the kind; this is fast
	cfg.Drift.Reference, cfg.Drift.Horizon = 2000, 200
	return cfg
}

// ramp is AR(1) noise around 10 with a daily-like cycle; from rampAt on
// the level climbs by size over rampLen samples and holds.
func ramp(n, rampAt, rampLen int, size float64, seed uint64) []float64 {
	r := rand.New(rand.NewPCG(seed, 3))
	xs := make([]float64, n)
	ar := 0.0
	for i := range xs {
		ar = 0.7*ar + 0.5*math.Sqrt(1-0.49)*r.NormFloat64()
		xs[i] = 10 + 2*math.Sin(2*math.Pi*float64(i)/50) + ar
		if i >= rampAt {
			xs[i] += size * math.Min(1, float64(i-rampAt+1)/float64(rampLen))
		}
	}
	return xs
}

type driftEvent struct {
	seq       uint64
	t         int64
	ev        Event
	statistic string
	departure float64
	onset     int64
	rate      float64
	reason    string
}

func pushAll(t *testing.T, d *Detector, ts []int64, xs []float64, from int) []driftEvent {
	t.Helper()
	var evs []driftEvent
	for i := from; i < len(xs); i++ {
		for _, r := range d.Push(ts[i], []float64{xs[i]}) {
			if r.Drift < 0 || r.Drift >= 1 || math.IsNaN(r.Drift) {
				t.Fatalf("sample %d: drift score %v outside [0,1)", r.Seq, r.Drift)
			}
			if r.DriftAlert.Event == NoEvent {
				continue
			}
			w := r.DriftAlert.Why
			evs = append(evs, driftEvent{r.Seq, r.Time, r.DriftAlert.Event, w.Statistic, w.Departure[0], w.Onset, w.Rate[0], w.Reason})
		}
	}
	return evs
}

// TestDriftAlertExplainsAndRebaselines: a slow upward ramp opens one drift
// alert before the ramp ends, explained as an upward level departure of
// at most the ramp's size, with an onset near the ramp's start and a positive
// rate; a re-baseline closes it with its reason, and the new reference
// raises no further alert.
func TestDriftAlertExplainsAndRebaselines(t *testing.T) {
	const n, at, length, size = 9000, 3000, 1500, 2.0
	xs, ts := ramp(n, at, length, size, 1), times(n)
	d, err := New(driftConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	evs := pushAll(t, d, ts, xs, 0)
	if len(evs) != 1 || evs[0].ev != Opened {
		t.Fatalf("events %+v, want one opening", evs)
	}
	e := evs[0]
	if e.seq >= at+length || e.seq < at {
		t.Errorf("opened at sample %d, want within the ramp [%d, %d)", e.seq, at, at+length)
	}
	// The departure so far: the slow level lags the ramp.
	if e.statistic != "level" || e.departure <= 0 || e.departure > size {
		t.Errorf("explained as %s %+.3f, want level up by at most %v", e.statistic, e.departure, size)
	}
	if onset := int((e.onset - ts[0]) / int64(time.Minute)); onset < at-500 || onset > at+800 {
		t.Errorf("estimated onset at sample %d, ramp starts at %d", onset, at)
	}
	if e.rate <= 0 {
		t.Errorf("rate %v, want > 0", e.rate)
	}
	if !d.DriftOpen() || !d.Rebaseline() {
		t.Fatal("drift alert not open, or re-baseline refused")
	}
	more := ramp(n+6000, at, length, size, 2)[n:]
	ts = times(n + 6000)
	all := append(append([]float64(nil), xs...), more...)
	evs = pushAll(t, d, ts, all, n)
	if len(evs) != 1 || evs[0].ev != Closed || evs[0].reason != "rebaseline" || evs[0].seq != n {
		t.Fatalf("after re-baseline: events %+v, want one close by rebaseline at sample %d", evs, n)
	}
	// The close explains the departure from the old reference.
	if e := evs[0]; e.statistic != "level" || e.departure < 0.5*size || e.departure > 1.5*size {
		t.Errorf("closed as %s %+.3f, want level up by about %v", e.statistic, e.departure, size)
	}
}

// TestNoDriftOnStationarySignals: long stationary series of several seeds
// raise no drift alert.
func TestNoDriftOnStationarySignals(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		xs := ramp(20000, 1<<30, 1, 0, seed)
		d, _ := New(driftConfig(), 1)
		if evs := pushAll(t, d, times(len(xs)), xs, 0); len(evs) != 0 {
			t.Errorf("seed %d: drift events %+v on a stationary signal", seed, evs)
		}
	}
}

// TestDriftSharesInMultivariate: only the drifting channel carries the
// drift's share.
func TestDriftSharesInMultivariate(t *testing.T) {
	a, b := ramp(8000, 3000, 1500, 2, 1), ramp(8000, 1<<30, 1, 0, 2)
	ts := times(len(a))
	d, err := New(driftConfig(), 2)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		for _, r := range d.Push(ts[i], []float64{a[i], b[i]}) {
			if r.DriftAlert.Event == Opened {
				if s := r.DriftAlert.Why.Share; s[0] < 0.9 || math.Abs(s[0]+s[1]-1) > 1e-9 {
					t.Fatalf("shares %v, want channel 0 >= 0.9 and a sum of 1", s)
				}
				return
			}
		}
	}
	t.Fatal("no drift alert on a drifting channel")
}

func TestDriftConfigErrorsNameFieldAndValue(t *testing.T) {
	for _, c := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.Drift.Horizon = 2 }, "detector.drift.horizon: must be in [8, 16777216] (got 2)"},
		{func(c *Config) { c.Drift.Reference = 100 }, "detector.drift.reference"},
		{func(c *Config) { c.Drift.Slack = math.NaN() }, "detector.drift.slack: must be in [0, 1000] (got NaN)"},
		{func(c *Config) { c.Drift.Threshold = 0 }, "detector.drift.threshold: must be in (0, 1e9] (got 0)"},
		{func(c *Config) { c.Drift.Alert.Close = 0.9 }, "detector.drift.alert.close: must be in [0, detector.drift.alert.open=0.5] (got 0.9)"},
	} {
		cfg := DefaultConfig()
		c.edit(&cfg)
		if err := cfg.Validate(1); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
	cfg := DefaultConfig()
	cfg.Drift = DriftConfig{} // disabled: nothing else is checked
	if err := cfg.Validate(1); err != nil {
		t.Errorf("disabled drift: %v", err)
	}
}

// TestDriftSurvivesExtremeValues: finite values near ±MaxFloat64 never
// make a drift score NaN or leave [0,1).
func TestDriftSurvivesExtremeValues(t *testing.T) {
	cfg := driftConfig()
	cfg.Drift.Reference, cfg.Drift.Horizon = 100, 20
	d, _ := New(cfg, 1)
	xs := ramp(1000, 1<<30, 1, 0, 1)
	for i := 300; i < 1000; i += 7 {
		xs[i] = math.Copysign(math.MaxFloat64, float64(i%2)-0.5)
	}
	pushAll(t, d, times(len(xs)), xs, 0) // fails on a score outside [0,1)
}

// TestSpreadDriftIsAlerted: noise that grows slowly to twice its size (a
// bearing wearing out) at a steady level opens a drift alert explained as
// the spread moving up.
func TestSpreadDriftIsAlerted(t *testing.T) {
	const n, at, length = 9000, 3000, 2000
	r := rand.New(rand.NewPCG(5, 6))
	xs := make([]float64, n)
	for i := range xs {
		g := 1 + math.Min(1, math.Max(0, float64(i-at)/length)) // noise gain 1 -> 2
		xs[i] = 10 + 2*math.Sin(2*math.Pi*float64(i)/50) + 0.5*g*r.NormFloat64()
	}
	d, _ := New(driftConfig(), 1)
	evs := pushAll(t, d, times(n), xs, 0)
	if len(evs) == 0 || evs[0].ev != Opened || evs[0].statistic != "spread" || evs[0].departure <= 0 || evs[0].seq < at {
		t.Fatalf("events %+v, want a drift alert of the spread, up, after sample %d", evs, at)
	}
}

// TestDriftExplainsStepSize: a step of the level by 1.0 in sensor units,
// held, is explained as "level" up by about 1.0, not by the slow average's
// share of it when the test crosses (which was +0.09).
func TestDriftExplainsStepSize(t *testing.T) {
	const n, at, size = 9000, 6000, 1.0
	r := rand.New(rand.NewPCG(5, 5))
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = 20 + 0.5*r.NormFloat64()
		if i >= at {
			xs[i] += size
		}
	}
	d, err := New(DefaultConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	evs := pushAll(t, d, times(n), xs, 0)
	if len(evs) == 0 || evs[0].ev != Opened || evs[0].seq < at {
		t.Fatalf("drift events %+v, want one opened after the step at %d", evs, at)
	}
	e := evs[0]
	t.Logf("opened at %d (%d after the step): %s %+.3f", e.seq, e.seq-at, e.statistic, e.departure)
	if e.statistic != "level" || e.departure < 0.8*size || e.departure > 1.2*size {
		t.Errorf("explained as %s %+.3f, want level up by about %v", e.statistic, e.departure, size)
	}
}

// TestDriftTakesADayFoundLate: a day sampled every 10 s is 8,640 samples,
// beyond what the search over the drift reference (4,000) can see, so
// its swing read as a drift every day. The later searches
// (drift.long_learn) find it at 32,000 samples as the day: an open drift
// alert closes by "cycle", the reference is taken again over a day with
// the slow averages started afresh, none opens on the cycle after it, and
// a ramp of three noise deviations on top of the cycle is alerted before
// it ends. A snapshot taken during a later search, or during the
// reference after it, resumes bit for bit.
func TestDriftTakesADayFoundLate(t *testing.T) {
	const day, n, found, rampAt, rampLen = 8640, 6 * 8640, 32000, 44000, 5000
	r := rand.New(rand.NewPCG(9, 9))
	ts, xs := make([]int64, n), make([]float64, n)
	start := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	for i := range xs {
		ts[i] = start + int64(i)*int64(10*time.Second)
		xs[i] = 60 + 3*math.Sin(2*math.Pi*float64(i)/day) + 0.2*r.NormFloat64()
		if i >= rampAt {
			xs[i] += 0.6 * math.Min(1, float64(i-rampAt+1)/rampLen)
		}
	}
	cfg := DefaultConfig()
	cfg.Kind = Persistence // the drift monitor does not depend on the kind; this is fast
	opensIn := func(evs []driftEvent, from, to int) (opens int) {
		for _, e := range evs {
			if e.ev == Opened && e.seq >= uint64(from) && e.seq < uint64(to) {
				opens++
			}
		}
		return opens
	}

	d := mustNew(t, cfg)
	evs := pushAll(t, d, ts, xs, 0)
	if got := time.Duration(d.drift.season.cycle[0]); got != 24*time.Hour {
		t.Fatalf("the drift monitor's cycle is %v, want 24h", got)
	}
	if got := d.drift.reference(); got != day {
		t.Errorf("the drift reference takes %d samples once the day is found, want a day's %d", got, day)
	}
	byCycle := false
	for _, e := range evs {
		byCycle = byCycle || e.ev == Closed && e.reason == ReasonCycle && e.seq == found-1
	}
	if before := opensIn(evs, 0, found); before == 0 || !byCycle {
		t.Errorf("%d drift alerts opened before the cycle was found, and one closed by %q as it was: %v (want some, and true)", before, ReasonCycle, byCycle)
	}
	if after := opensIn(evs, found, rampAt); after != 0 {
		t.Errorf("%d drift alerts opened on the cycle after it was found, before the ramp (want 0)", after)
	}
	if ramp := opensIn(evs, rampAt, rampAt+rampLen); ramp == 0 {
		t.Errorf("no drift alert opened on the ramp over the cycle (want one)")
	}

	off := cfg
	off.Drift.LongLearn = 0
	if after := opensIn(pushAll(t, mustNew(t, off), ts, xs, 0), found, rampAt); after == 0 {
		t.Errorf("without the later searches no drift alert opened on the cycle between samples %d and %d: the test no longer tells them apart", found, rampAt)
	}

	// Restored during a later search, and during the day-long reference
	// after it.
	a := mustNew(t, cfg)
	pushAll(t, a, ts[:20000], xs[:20000], 0)
	restoredAt := map[int]*Detector{20000: restored(t, a, cfg)}
	for i := 20000; i < rampAt+rampLen; i++ {
		if i == found+day/2 {
			restoredAt[i] = restored(t, a, cfg)
		}
		ra := a.Push(ts[i], xs[i:i+1])
		for at, b := range restoredAt {
			rb := b.Push(ts[i], xs[i:i+1])
			if len(ra) != len(rb) || len(ra) > 0 && (ra[0].Drift != rb[0].Drift || ra[0].Score != rb[0].Score) {
				t.Fatalf("sample %d: the detector restored at sample %d scores differently", i, at)
			}
		}
	}
}
