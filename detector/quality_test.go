package detector

import (
	"math"
	"math/rand/v2"
	"testing"
)

// pushAll runs a univariate series through a fresh detector and returns
// each sample's quality outcome, in sample order.
func qualityOf(t *testing.T, cfg Config, xs []float64, lo, hi float64) []Outcome {
	t.Helper()
	d, err := New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	d.SetLimits([]float64{lo}, []float64{hi})
	out := make([]Outcome, len(xs))
	for i, x := range xs {
		for _, r := range d.Push(int64(i)*1e9, []float64{x}) {
			o := r.Quality
			if o.Why != nil {
				w := *o.Why
				w.Failed = append([]string(nil), w.Failed...)
				w.Departure = append([]float64(nil), w.Departure...)
				o.Why = &w
			}
			out[r.Seq] = o
		}
	}
	return out
}

// dutyCycle is a pump's current: on for 30 samples at about 40 with noise,
// off for 18 at exactly 0, repeated.
func dutyCycle(n int, seed uint64) []float64 {
	r := rand.New(rand.NewPCG(seed, 3))
	xs := make([]float64, n)
	for i := range xs {
		if i%48 < 30 {
			xs[i] = 40 + r.NormFloat64()
		}
	}
	return xs
}

// TestQualityStuck: a sensor frozen at its last value on a cyclic signal is
// reported as stuck once it has held for stuck_samples (its normal off
// phases, exactly flat for 18 samples, are not), the explanation names the
// run's start, and the alert closes when the sensor moves again.
func TestQualityStuck(t *testing.T) {
	const n, from, to = 3000, 1500, 1800
	xs := dutyCycle(n, 1)
	for i := from; i < to; i++ {
		xs[i] = xs[from-1]
	}
	cfg := DefaultConfig()
	out := qualityOf(t, cfg, xs, math.Inf(-1), math.Inf(1))
	opened, closed := -1, -1
	for i, o := range out {
		switch o.Event {
		case Opened:
			if opened >= 0 {
				t.Fatalf("second quality alert at %d (first at %d)", i, opened)
			}
			opened = i
			if o.Why.Failed[0] != Stuck || o.Why.Onset != int64(from-1)*1e9 && o.Why.Onset != int64(from)*1e9 {
				t.Errorf("opened with %q since %d, want stuck since sample %d", o.Why.Failed[0], o.Why.Onset/1e9, from-1)
			}
		case Closed:
			closed = i
		}
	}
	start := from + cfg.Quality.StuckSamples
	if opened < start-2 || opened > start+1 || closed != to {
		t.Fatalf("quality alert opened at %d and closed at %d, want about %d and %d", opened, closed, start, to)
	}
}

// TestQualityQuiet: normal signals of several shapes, a channel that never
// moves among them, raise no quality alert; a flat-lined sensor reading a
// tiny noise floor does.
func TestQualityQuiet(t *testing.T) {
	const n = 6000
	r := rand.New(rand.NewPCG(7, 7))
	quantised := make([]float64, n) // a temperature sent in 0.5 steps, cycle shorter than the learning
	noisy := make([]float64, n)
	constant := make([]float64, n)
	for i := range quantised {
		quantised[i] = math.Round(2*(60+3*math.Sin(2*math.Pi*float64(i)/720)+0.1*r.NormFloat64())) / 2
		noisy[i] = 100 + r.NormFloat64()
		constant[i] = 12.5
	}
	cfg := DefaultConfig()
	for name, xs := range map[string][]float64{"duty": dutyCycle(n, 2), "quantised": quantised, "noisy": noisy, "constant": constant} {
		for i, o := range qualityOf(t, cfg, xs, math.Inf(-1), math.Inf(1)) {
			if o.Event == Opened {
				t.Errorf("%s: quality alert opened at %d (%q)", name, i, o.Why.Failed[0])
				break
			}
		}
	}
	flat := append([]float64(nil), noisy...)
	for i := 3000; i < 3500; i++ {
		flat[i] = 100.2 + 0.001*r.NormFloat64()
	}
	found := false
	for _, o := range qualityOf(t, cfg, flat, math.Inf(-1), math.Inf(1))[3000:3500] {
		found = found || o.Event == Opened && o.Why.Failed[0] == Stuck
	}
	if !found {
		t.Error("a sensor flat-lined at its noise floor for 500 samples raised no quality alert")
	}
	// The same sensor's transmitter reporting in steps of 4 (AR noise, so
	// the value crosses a step now and then) for 800 samples.
	coarse := make([]float64, n)
	ar := 0.0
	for i := range coarse {
		ar = 0.9*ar + 2*math.Sqrt(1-0.81)*r.NormFloat64()
		coarse[i] = 100 + ar
		if i >= 3000 && i < 3800 {
			coarse[i] = 100 + 4*math.Round(ar/4)
		}
	}
	var opened, closed int
	for i, o := range qualityOf(t, cfg, coarse, math.Inf(-1), math.Inf(1)) {
		switch {
		case o.Event == Opened && o.Why.Failed[0] == Quantised:
			opened = i
		case o.Event == Opened:
			t.Errorf("coarse transmitter: %q at %d", o.Why.Failed[0], i)
		case o.Event == Closed:
			closed = i
		}
	}
	t.Logf("coarse transmitter over [3000, 3800): quantised from %d to %d", opened, closed)
	if opened < 3000 || opened > 3300 || closed < 3800 || closed > 4000 {
		t.Errorf("coarse transmitter over [3000, 3800): quantised alert from %d to %d", opened, closed)
	}
}

// TestQualityLimits: a value beyond an operator's limit opens the alert at
// that sample, with the departure beyond the limit in sensor units, during
// the learning period too; a disabled check never alerts.
func TestQualityLimits(t *testing.T) {
	xs := dutyCycle(1000, 3)
	xs[100], xs[700] = 47.5, -2
	cfg := DefaultConfig()
	out := qualityOf(t, cfg, xs, -1, 45)
	if o := out[100]; o.Event != Opened || o.Why.Failed[0] != AboveMax || math.Abs(o.Why.Departure[0]-2.5) > 1e-12 {
		t.Errorf("sample 100 (47.5, max 45): %+v %+v", o, o.Why)
	}
	if out[101].Event != Closed {
		t.Errorf("sample 101 back within limits: event %v", out[101].Event)
	}
	if o := out[700]; o.Event != Opened || o.Why.Failed[0] != BelowMin || math.Abs(o.Why.Departure[0]+1) > 1e-12 {
		t.Errorf("sample 700 (-2, min -1): %+v %+v", o, o.Why)
	}
	cfg.Quality.Enabled = false
	for i, o := range qualityOf(t, cfg, xs, -1, 45) {
		if o.Event != NoEvent || o.Open {
			t.Fatalf("quality disabled, yet sample %d has %+v", i, o)
		}
	}
}

func TestLimitsFor(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	q := DefaultQualityConfig()
	q.Limits = []Limit{
		{Series: "pump-*", Channel: "pressure", Min: f(0), Max: f(10)},
		{Series: "pump-7", Channel: "pressure", Max: f(8)},
		{Channel: "temp", Max: f(120)},
	}
	if err := q.Validate(); err != nil {
		t.Fatal(err)
	}
	lo, hi := q.LimitsFor("pump-7", []string{"pressure", "temp", "flow"})
	want := [][2]float64{{0, 8}, {math.Inf(-1), 120}, {math.Inf(-1), math.Inf(1)}}
	for j, w := range want {
		if lo[j] != w[0] || hi[j] != w[1] {
			t.Errorf("channel %d: limits [%v, %v], want %v", j, lo[j], hi[j], w)
		}
	}
	if lo, hi := q.LimitsFor("fan-1", []string{"pressure"}); !math.IsInf(lo[0], -1) || !math.IsInf(hi[0], 1) {
		t.Errorf("fan-1 pressure: [%v, %v], want none", lo[0], hi[0])
	}
	q.Limits = append(q.Limits, Limit{Series: "x", Channel: "y", Min: f(3), Max: f(2)})
	if err := q.Validate(); err == nil || err.Error() != `detector.quality.limits[3]: min 3 is above max 2 (series "x", channel "y")` {
		t.Errorf("min above max: %v", err)
	}
}

// TestQualityExtremeValues: finite values so far apart that their
// difference overflows neither poison the checks nor raise an alert.
func TestQualityExtremeValues(t *testing.T) {
	xs := dutyCycle(3000, 4)
	for i := 500; i < 510; i++ { // while learning and after
		xs[i] = math.MaxFloat64 * float64(1-2*(i%2))
		xs[i+1000] = xs[i]
	}
	for i, o := range qualityOf(t, DefaultConfig(), xs, math.Inf(-1), math.Inf(1)) {
		if o.Event == Opened {
			t.Fatalf("quality alert at %d (%q) around values of ±MaxFloat64", i, o.Why.Failed[0])
		}
	}
}
