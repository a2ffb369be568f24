package detector

import (
	"math"
	"math/rand/v2"
	"testing"
)

// eventCounter is a count rising by 5 to 15 a sample, sent modulo wrap,
// reset to 0 at sample reset (0: never) and standing still over [stuck,
// stuck+300) (0: never).
func eventCounter(n int, wrap float64, reset, stuck int, seed uint64) []float64 {
	r := rand.New(rand.NewPCG(seed, 11))
	x := make([]float64, n)
	count := 0.3 * wrap
	for i := range x {
		switch {
		case i == reset && reset > 0:
			count = 0
		case stuck > 0 && i >= stuck && i < stuck+300:
		default:
			count += float64(5 + r.IntN(11))
		}
		x[i] = math.Mod(count, wrap)
	}
	return x
}

// pushCounter scores the univariate series xs with cfg and checks that
// every result carries the value pushed, bit for bit, and on scored
// samples after the watch an expected value near it: a value of the
// counter, not a rise nor a value with its wraps' offset.
func pushCounter(t *testing.T, d *Detector, from int, ts []int64, xs []float64, out []scored) (expected []float64) {
	t.Helper()
	expected = make([]float64, len(xs))
	for i := from; i < len(xs); i++ {
		for _, r := range d.Push(ts[i], xs[i:i+1]) {
			if math.Float64bits(r.Values[0]) != math.Float64bits(xs[r.Seq]) {
				t.Fatalf("sample %d: value %v, pushed %v", r.Seq, r.Values[0], xs[r.Seq])
			}
			e := r.Expected[0]
			if r.Scored && r.Seq > CounterWatch && !(math.Abs(e-xs[r.Seq]) < 2000 || math.Abs(e-xs[r.Seq-1]) < 2000) {
				t.Fatalf("sample %d: expected %v, value %v", r.Seq, e, xs[r.Seq])
			}
			if out[r.Seq].seen {
				t.Fatalf("sample %d: two results", r.Seq)
			}
			out[r.Seq] = scored{ref: r.RefScore, alert: r.Anomaly.Open, quality: r.Quality.Open, driftAlert: r.DriftAlert.Open, seen: true}
			expected[r.Seq] = e
		}
	}
	for i := from; i < len(xs)-d.cfg.Window.Stride; i++ { // the last stride's wait for a Flush
		if !out[i].seen {
			t.Fatalf("sample %d: no result", i)
		}
	}
	return expected
}

// TestCounterWrapsAreNormal: a count sent modulo 10,000 wraps about every
// thousand samples and is once reset by a restart. Its wraps and the
// reset are not anomalies (before counters were unwrapped, one wrap held
// an alert for 2,000 samples); the counter standing still is, as is a
// quality event but no drift, and the operator's limits read the values
// it sent.
func TestCounterWrapsAreNormal(t *testing.T) {
	const n = 6000
	cfg := DefaultConfig()
	ts := times(n)
	for seed := uint64(1); seed <= 3; seed++ {
		xs := eventCounter(n, 10000, 3500, 0, seed)
		d, _ := New(cfg, 1)
		d.SetLimits([]float64{0}, []float64{10000})
		out := make([]scored, n)
		pushCounter(t, d, 0, ts, xs, out)
		if !d.counters.counting[0] || d.counters.offset[0] < 5*9000 {
			t.Fatalf("seed %d: counting %v, offset %v: the test no longer tests wraps", seed, d.counters.counting[0], d.counters.offset[0])
		}
		if c := coverage(out, CounterWatch, n); c > 0.02 {
			t.Errorf("seed %d: alert open on %.3f of the rows, want <= 0.02", seed, c)
		}
		for i, o := range out {
			if o.quality {
				t.Fatalf("seed %d: quality alert at sample %d, value %v, within the limits [0, 10000]", seed, i, xs[i])
			}
		}
		d = mustNew(t, cfg)
		d.SetLimits([]float64{0}, []float64{9000})
		out = make([]scored, n)
		pushCounter(t, d, 0, ts, xs, out)
		beyond := 0
		for i, o := range out[CounterWatch:] {
			if o.quality && xs[CounterWatch+i] > 9000 {
				beyond++
			}
		}
		if beyond < 100 {
			t.Errorf("seed %d: %d quality alerts on values above the limit of 9000, want >= 100", seed, beyond)
		}

		// Stuck once the drift monitor's reference (4,000 samples after the
		// fresh start) is complete: the stuck count is the quality checks',
		// not a drift.
		const m = 8000
		stuck := eventCounter(m, 10000, 0, 6000, seed)
		out = make([]scored, m)
		d, _ = New(cfg, 1)
		pushCounter(t, d, 0, times(m), stuck, out)
		if c := coverage(out, 6000, 6300); c < 0.7 {
			t.Errorf("seed %d: a stuck counter alerted on %.2f of its 300 samples, want >= 0.7", seed, c)
		}
		for i, o := range out {
			if o.driftAlert {
				t.Fatalf("seed %d: drift alert at sample %d of a counter stuck over 6000-6300", seed, i)
			}
		}
	}
}

// TestWhatIsNoCounter: channels that rise for a long time but fall, or
// mostly stand still, are not counters; a smooth cycle that rises through
// the watch (a day sampled each minute rises for 720 samples) is taken as
// one until it falls, and a count that falls a little is one no more.
func TestWhatIsNoCounter(t *testing.T) {
	const n = 3000
	r := rand.New(rand.NewPCG(3, 3))
	signals := map[string]func(i int) float64{
		"noisy ramp":                    func(i int) float64 { return 20 + 0.05*float64(i) + 0.2*r.NormFloat64() },
		"warm-up in whole degrees":      func(i int) float64 { return math.Round(20 + 0.05*float64(i)) },
		"temperature on a daily cycle":  func(i int) float64 { return 20 + 5*math.Sin(2*math.Pi*float64(i)/1440) },
		"smooth cycle of 4,000 samples": func(i int) float64 { return 20 + 5*math.Sin(2*math.Pi*float64(i)/4000) },
		"count that falls a little":     func(i int) float64 { return float64(10*i) - 20*b2f(i >= 2000) },
	}
	found := map[string]bool{"temperature on a daily cycle": true, "smooth cycle of 4,000 samples": true, "count that falls a little": true}
	for name, f := range signals {
		d := mustNew(t, DefaultConfig())
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = f(i)
		}
		pushCounter(t, d, 0, times(n), xs, make([]scored, n))
		if c := d.counters; c.counting[0] || c.steps[0] != CounterWatch || c.active() != found[name] {
			t.Errorf("%s: counting %v after %d steps, found as one %v, want %v", name, c.counting[0], c.steps[0], c.active(), found[name])
		}
	}
}

// TestCounterSurvivesSnapshot: with a stride of 3, a snapshot taken in
// the middle of a stride just after a wrap resumes bit for bit, values,
// reference scores and alerts alike.
func TestCounterSurvivesSnapshot(t *testing.T) {
	const n = 3000
	cfg := DefaultConfig()
	cfg.Window.Stride = 3 // the counter is found with two samples waiting for the stride
	ts := times(n)
	xs := eventCounter(n, 10000, 0, 0, 5)
	want := make([]scored, n)
	wantExpected := pushCounter(t, mustNew(t, cfg), 0, ts, xs, want)
	cut := 0
	for i := 1500; cut == 0; i++ {
		if xs[i] < xs[i-1] {
			cut = i + 2
		}
	}
	a := mustNew(t, cfg)
	pushCounter(t, a, 0, ts[:cut], xs[:cut], make([]scored, n))
	if len(a.pending) == 0 || a.counters.offset[0] == 0 {
		t.Fatalf("%d pending, offset %v at the cut: the test no longer tests them", len(a.pending), a.counters.offset[0])
	}
	b := restored(t, a, cfg)
	got := make([]scored, n)
	gotExpected := pushCounter(t, b, cut, ts, xs, got)
	for i := cut - len(a.pending); i < n; i++ {
		if g, w := got[i], want[i]; math.Float64bits(g.ref) != math.Float64bits(w.ref) || g.alert != w.alert || !g.seen {
			t.Fatalf("sample %d: reference %v alert %v after restore, %v %v uninterrupted", i, g.ref, g.alert, w.ref, w.alert)
		}
		if g, w := gotExpected[i], wantExpected[i]; math.Float64bits(g) != math.Float64bits(w) {
			t.Fatalf("sample %d: expected %v after restore, %v uninterrupted", i, g, w)
		}
	}
}

func mustNew(t *testing.T, cfg Config) *Detector {
	t.Helper()
	d, err := New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// restored returns a new detector of cfg restored from a's snapshot.
func restored(t *testing.T, a *Detector, cfg Config) *Detector {
	t.Helper()
	snap, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	b := mustNew(t, cfg)
	if err := b.UnmarshalBinary(snap); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCounterBesideOtherChannels: a meter's count beside a temperature,
// the count missing now and then. The count is judged on its rises, the
// temperature on its values; each keeps its own values in the results.
func TestCounterBesideOtherChannels(t *testing.T) {
	const n = 6000 // the count wraps near sample 4,600
	r := rand.New(rand.NewPCG(8, 8))
	count := eventCounter(n, 65536, 0, 0, 8)
	rows := make([][]float64, n)
	for i := range rows {
		rows[i] = []float64{count[i], 60 + 3*math.Sin(2*math.Pi*float64(i)/200) + 0.3*r.NormFloat64()}
		if i%50 == 7 {
			rows[i][0] = math.NaN()
		}
	}
	d, err := New(DefaultConfig(), 2)
	if err != nil {
		t.Fatal(err)
	}
	alerted, results := 0, 0
	check := func(res []Result) {
		for _, r := range res {
			results++
			x := rows[r.Seq]
			for j, v := range x {
				if !math.IsNaN(v) && math.Float64bits(r.Values[j]) != math.Float64bits(v) {
					t.Fatalf("sample %d channel %d: value %v, pushed %v", r.Seq, j, r.Values[j], v)
				}
			}
			if r.Scored && r.Seq > CounterWatch+1 && !math.IsNaN(x[0]) && !(math.Abs(r.Expected[0]-x[0]) < 200) {
				t.Fatalf("sample %d: the count expected at %v, value %v", r.Seq, r.Expected[0], x[0])
			}
			if r.Seq >= 2*CounterWatch && r.Anomaly.Open {
				alerted++
			}
		}
	}
	for i, x := range rows {
		check(d.Push(int64(i+1)*60e9, x))
	}
	check(d.Flush())
	if results != n {
		t.Fatalf("%d results of %d samples", results, n)
	}
	if !d.counters.counting[0] || d.counters.counting[1] || d.counters.offset[0] == 0 {
		t.Fatalf("counting %v, offset %v: the test no longer tests a wrapping count beside a temperature", d.counters.counting, d.counters.offset)
	}
	if share := float64(alerted) / float64(n-2*CounterWatch); share > 0.02 {
		t.Errorf("alert open on %.3f of the rows after the watch, want <= 0.02", share)
	}
}

// TestCounterBeyondFloat64: a count that rises by 5e305 a sample is a
// counter, wraps once and would then count beyond what a float64 holds:
// it is a counter no more. One rising by 1e306 has rises whose sum a
// float64 does not hold: no counter. Every sample has a result, and a
// snapshot at any point restores.
func TestCounterBeyondFloat64(t *testing.T) {
	const n = 1200
	for _, rise := range []float64{5e305, 1e306} {
		d := mustNew(t, DefaultConfig())
		v, results := 0.0, 0
		for i := range n {
			if v += rise; v > 1.7e308 {
				v = 0
			}
			results += len(d.Push(int64(i+1)*60e9, []float64{v}))
			if i%97 == 0 {
				snap, err := d.MarshalBinary()
				if err != nil {
					t.Fatalf("rise %g, sample %d: %v", rise, i, err)
				}
				if err := mustNew(t, DefaultConfig()).UnmarshalBinary(snap); err != nil {
					t.Fatalf("rise %g, sample %d: snapshot does not restore: %v", rise, i, err)
				}
			}
		}
		if results != n {
			t.Errorf("rise %g: %d results of %d samples", rise, results, n)
		}
		if c := d.counters; c.active() != (rise < 1e306) || c.counting[0] {
			t.Errorf("rise %g: found a counter %v, counting %v at the end", rise, c.active(), c.counting[0])
		}
	}
}

// TestCounterFoundWhileARowIsHeld: a meter's count beside a temperature
// logged on one row in three, in a message of its own at the row's time,
// so that rows lacking the temperature are held for the next message,
// and merged with it, when the count is taken as a counter. Every message
// has its result, once.
func TestCounterFoundWhileARowIsHeld(t *testing.T) {
	const n = 900
	count := eventCounter(n, 1e9, 0, 0, 9)
	for _, offset := range []int{0, 1, 2} {
		d, err := New(DefaultConfig(), 2)
		if err != nil {
			t.Fatal(err)
		}
		seen := make([]int, 2*n)
		keep := func(res []Result) {
			for _, r := range res {
				seen[r.Seq]++
			}
		}
		msgs := 0
		for i := range n {
			temp := 60 + math.Sin(float64(i)/30)
			if (i+offset)%3 != 0 {
				keep(d.Push(int64(i+1)*60e9, []float64{count[i], math.NaN()}))
				msgs++
				continue
			}
			// A row of two messages at one time, merged.
			keep(d.Push(int64(i+1)*60e9, []float64{count[i], math.NaN()}))
			keep(d.Push(int64(i+1)*60e9, []float64{math.NaN(), temp}))
			msgs += 2
		}
		keep(d.Flush())
		var wrong []int
		for i, k := range seen[:msgs] {
			if k != 1 {
				wrong = append(wrong, i, k)
			}
		}
		if got := d.seq; got != uint64(msgs) {
			t.Errorf("offset %d: %d messages numbered, %d pushed", offset, got, msgs)
		}
		if wrong != nil {
			t.Fatalf("offset %d: messages and their count of results: %v", offset, wrong)
		}
		if !d.counters.counting[0] {
			t.Fatalf("offset %d: no counter found: the test no longer tests one found while a row is held", offset)
		}
	}
}

// TestCounterFoundOnASampleHeldAhead: the sample on which a meter's count
// is taken as a counter comes after a gap of 100 steps, so it is held as
// dated ahead until the next tells a gap from a clock glitch, and it is a
// row of two messages at one time, merged. Every message has its result,
// once, at its own time.
func TestCounterFoundOnASampleHeldAhead(t *testing.T) {
	const n, gapAt = 600, CounterWatch
	count := eventCounter(n, 1e9, 0, 0, 10)
	d, err := New(DefaultConfig(), 2)
	if err != nil {
		t.Fatal(err)
	}
	var times []int64
	keep := func(res []Result) {
		for _, r := range res {
			if r.Seq >= uint64(len(times)) || r.Time != times[r.Seq] {
				t.Fatalf("result of message %d at %d, of %d messages", r.Seq, r.Time, len(times))
			}
			times[r.Seq] = -1 // its result came
		}
	}
	for i := range n {
		ts := int64(i+1) * 60e9
		if i >= gapAt {
			ts += 100 * 60e9
		}
		temp := 60 + math.Sin(float64(i)/30)
		if i == gapAt {
			times = append(times, ts, ts)
			keep(d.Push(ts, []float64{count[i], math.NaN()}))
			keep(d.Push(ts, []float64{math.NaN(), temp}))
			continue
		}
		times = append(times, ts)
		keep(d.Push(ts, []float64{count[i], temp}))
	}
	keep(d.Flush())
	for i, ts := range times {
		if ts != -1 {
			t.Fatalf("message %d (at %d) has no result", i, ts)
		}
	}
	if !d.counters.counting[0] {
		t.Fatal("no counter found: the test no longer tests one found on a sample held ahead")
	}
}

// TestCounterLostSamples: counts whose messages are lost now and then
// (one in 100 after the watch). The rise over a lost sample spans two
// steps: it is spread over them, not read as a burst of twice the rate
// (before, a fault-free counter alerted on five times the rows); the value
// expected after one is the counter's over both steps; a snapshot taken
// just after a lost sample resumes bit for bit.
func TestCounterLostSamples(t *testing.T) {
	const n = 6000
	cfg := DefaultConfig()
	for seed := uint64(1); seed <= 4; seed++ {
		// Seeds 1-2 count parts; 3-4 a meter's steady reading, whose rise
		// twice over a lost sample stood out.
		full, fullTimes := eventCounter(n, 10000, 0, 0, seed), times(n)
		r := rand.New(rand.NewPCG(seed, 5))
		if seed > 2 {
			reading := 0.0
			for i := range full {
				reading += 10 + 0.3*r.NormFloat64()
				full[i] = math.Mod(reading, 10000)
			}
		}
		var xs []float64
		var ts []int64
		var afterLost []int // samples (of xs) that came after a lost one
		lost := false
		for i := range full {
			if i > CounterWatch+100 && r.IntN(100) == 0 {
				lost = true
				continue
			}
			if lost {
				afterLost, lost = append(afterLost, len(xs)), false
			}
			xs, ts = append(xs, full[i]), append(ts, fullTimes[i])
		}
		want := make([]scored, len(xs))
		expected := pushCounter(t, mustNew(t, cfg), 0, ts, xs, want)
		// Seen: at most 0.005; read as one step's rises, 0.012-0.034.
		if c := coverage(want, CounterWatch, len(xs)); c > 0.01 {
			t.Errorf("seed %d: alert open on %.3f of the rows, want <= 0.01", seed, c)
		}
		// How far the expected value is from the value, after a lost
		// sample and elsewhere (wraps left out).
		var after, other float64
		var nAfter, nOther int
		isAfter := map[int]bool{}
		for _, i := range afterLost {
			isAfter[i] = true
		}
		for i := CounterWatch + 100; i < len(xs)-1; i++ {
			if xs[i] < xs[i-1] || !want[i].seen {
				continue
			}
			if e := math.Abs(expected[i] - xs[i]); isAfter[i] {
				after, nAfter = after+e, nAfter+1
			} else {
				other, nOther = other+e, nOther+1
			}
		}
		// A rise over two steps varies by √2 times one's: within 2.5
		// times; read as one step's, it was 10 (a mean rise) further.
		if after /= float64(nAfter); after > 2.5*other/float64(nOther) {
			t.Errorf("seed %d: expected value %.1f from the value after a lost sample, %.1f elsewhere", seed, after, other/float64(nOther))
		}

		cut := afterLost[len(afterLost)/2] + 1
		a := mustNew(t, cfg)
		pushCounter(t, a, 0, ts[:cut], xs[:cut], make([]scored, len(xs)))
		b := restored(t, a, cfg)
		got := make([]scored, len(xs))
		gotExpected := pushCounter(t, b, cut, ts, xs, got)
		for i := cut; i < len(xs); i++ {
			g, w := got[i], want[i]
			if math.Float64bits(g.ref) != math.Float64bits(w.ref) || g.alert != w.alert || math.Float64bits(gotExpected[i]) != math.Float64bits(expected[i]) {
				t.Fatalf("seed %d, sample %d: reference %v alert %v expected %v after restore, %v %v %v uninterrupted",
					seed, i, g.ref, g.alert, gotExpected[i], w.ref, w.alert, expected[i])
			}
		}
	}
}
