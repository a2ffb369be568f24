package detector

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/aewatch/aewatch/synth"
)

// shifted is signal's oscillation without the burst, with a level shift of
// size over [from, to).
func shifted(n, from, to int, size float64, seed uint64) []float64 {
	r := rand.New(rand.NewPCG(seed, 10))
	x := make([]float64, n)
	for i := range x {
		x[i] = 50 + 5*math.Sin(2*math.Pi*float64(i)/16) + 0.3*r.NormFloat64()
		if i >= from && i < to {
			x[i] += size
		}
	}
	return x
}

func coverage(out []scored, from, to int) float64 {
	n := 0
	for _, o := range out[from:to] {
		if o.alert {
			n++
		}
	}
	return float64(n) / float64(to-from)
}

// TestSustainedFaultStaysAlerted: a level shift lasting 600 samples keeps
// the alert open for most of its span with the reference model, and the
// alert closes once the signal returns; the adapting model alone learns
// the shift away.
func TestSustainedFaultStaysAlerted(t *testing.T) {
	const n, from, to = 3000, 1500, 2100
	xs := shifted(n, from, to, 2, 1)
	cfg := DefaultConfig()
	cfg.Drift.Enabled = false
	out := run(t, cfg, times(n), xs)
	with := coverage(out, from, to)
	before := coverage(out, cfg.Warmup, from)
	after := coverage(out, to+150, n)
	cfg.Reference.Enabled = false
	without := coverage(run(t, cfg, times(n), xs), from, to)
	t.Logf("alert covers %.2f of the shift with the reference, %.2f without; %.3f of the rows before, %.3f from 150 after", with, without, before, after)
	if with < 0.7 {
		t.Errorf("alert covers %.2f of a sustained shift, want >= 0.7", with)
	}
	if without >= with {
		t.Errorf("without the reference the alert covers %.2f, with it %.2f: the reference adds nothing", without, with)
	}
	// Before the shift the adapting path's calibration still opens two
	// short alerts soon after warm-up (docs/quality.md); after it, the
	// reference must let go.
	if before > 0.06 || after > 0.01 {
		t.Errorf("alerts on %.3f of the normal rows before and %.3f from 150 after the shift, want <= 0.06 and <= 0.01", before, after)
	}
	if reasons := closeReasons(out); slices.Contains(reasons, ReasonHoldLimit) {
		t.Errorf("alerts closed with reasons %q: a shift shorter than the hold limit closed by it", reasons)
	}
}

// closeReasons lists the closing reasons of out's anomaly alerts, "-"
// for none.
func closeReasons(out []scored) []string {
	var reasons []string
	for _, o := range out {
		if o.closedBy != "" {
			reasons = append(reasons, o.closedBy)
		}
	}
	return reasons
}

// TestRebaselineClosesSustainedAlert: an operator accepting the shifted
// level as normal closes the alert the reference holds open.
func TestRebaselineClosesSustainedAlert(t *testing.T) {
	const n, from = 2600, 1500
	xs := shifted(n, from, n, 2, 2)
	cfg := DefaultConfig()
	cfg.Drift.Enabled = false
	d, err := New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	ts := times(n)
	openAt, closedAt := -1, -1
	for i := range xs {
		if i == 2000 {
			if !d.AlertOpen() {
				t.Fatalf("no alert open 500 samples into a sustained shift (opened at %d)", openAt)
			}
			if !d.Rebaseline() {
				t.Fatal("Rebaseline refused with the reference enabled")
			}
		}
		for _, r := range d.Push(ts[i], xs[i:i+1]) {
			switch {
			case r.Anomaly.Event == Opened && openAt < 0:
				openAt = i
			case r.Anomaly.Event == Closed && i >= 2000 && closedAt < 0:
				closedAt = i
			}
		}
	}
	if closedAt < 0 || closedAt > 2100 {
		t.Fatalf("alert closed at %d after a re-baseline at 2000, want by 2100", closedAt)
	}
	if d.AlertOpen() {
		t.Error("alert open again after the re-baseline, on the accepted level")
	}
}

// TestCloseAlerts: the alerts open on a detector an operator's re-baseline
// replaces (an anomaly alert on a sustained shift, a drift alert on a slow
// ramp) are closed at the re-baseline's time, with reason rebaseline,
// each with its peak and duration; none is left open, and a second call
// closes nothing.
func TestCloseAlerts(t *testing.T) {
	cases := []struct {
		name string
		xs   []float64
		cfg  Config
		want string // the kind that must be open
	}{
		{"shift", shifted(2000, 1500, 2000, 2, 2), DefaultConfig(), "anomaly"},
		{"ramp", ramp(9000, 3000, 1500, 2, 1), driftConfig(), "drift"},
		{"stuck", stuckFrom(shifted(2000, 0, 0, 0, 3), 1500), DefaultConfig(), "quality"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := New(c.cfg, 1)
			if err != nil {
				t.Fatal(err)
			}
			n := len(c.xs)
			ts := times(n + 1)
			openedAt := map[string]int64{}
			for i := range n {
				for _, r := range d.Push(ts[i], c.xs[i:i+1]) {
					for kind, o := range map[string]Outcome{"anomaly": r.Anomaly, "drift": r.DriftAlert, "quality": r.Quality} {
						if o.Event == Opened {
							openedAt[kind] = r.Time
						}
					}
				}
			}
			open := map[string]bool{"anomaly": d.AlertOpen(), "drift": d.DriftOpen(), "quality": d.QualityOpen()}
			if !open[c.want] {
				t.Fatalf("no %s alert open at the end (open: %v)", c.want, open)
			}
			r, closed := d.CloseAlerts(ts[n])
			if !closed || r.Time != ts[n] || r.Scored {
				t.Fatalf("closed %v, time %d, scored %v; want closed at %d, unscored", closed, r.Time, r.Scored, ts[n])
			}
			for kind, o := range map[string]Outcome{"anomaly": r.Anomaly, "drift": r.DriftAlert, "quality": r.Quality} {
				switch {
				case !open[kind] && o.Event != NoEvent:
					t.Errorf("%s: event %v, but none was open", kind, o.Event)
				case !open[kind]:
				case o.Event != Closed || o.Open || o.Why == nil || o.Why.Reason != ReasonRebaseline:
					t.Errorf("%s: event %v, open %v, explanation %+v; want closed with reason %q", kind, o.Event, o.Open, o.Why, ReasonRebaseline)
				case o.Duration != ts[n]-openedAt[kind] || o.Peak <= 0:
					t.Errorf("%s: duration %d, peak %v; want %d and the alert's peak", kind, o.Duration, o.Peak, ts[n]-openedAt[kind])
				}
			}
			if d.AlertOpen() || d.DriftOpen() || d.QualityOpen() {
				t.Error("an alert is still open after CloseAlerts")
			}
			if _, again := d.CloseAlerts(ts[n]); again {
				t.Error("a second CloseAlerts closed something")
			}
		})
	}
}

// stuckFrom returns xs with every value from at on held at xs[at]: a
// flat-lined transmitter.
func stuckFrom(xs []float64, at int) []float64 {
	for i := at; i < len(xs); i++ {
		xs[i] = xs[at]
	}
	return xs
}

func TestTailCalibrator(t *testing.T) {
	c := newTailCalibrator(DefaultTailConfig())
	r := rand.New(rand.NewPCG(1, 2))
	if c.score(100) != 0 {
		t.Fatal("scores before the history is learnt")
	}
	for range 2000 {
		c.accept(r.ExpFloat64())
	}
	// Exponential errors: P(E > x) = exp(-x); the fitted tail should agree
	// within the sampling error of 200 excesses.
	for _, x := range []float64{3, 6, 10} {
		got, want := c.tail(x), math.Exp(-x)
		if math.Abs(math.Log(got/want)) > 0.7 {
			t.Errorf("tail(%v) = %.3g, want about %.3g", x, got, want)
		}
	}
	prev := -1.0
	for x := 0.0; x < 30; x += 0.5 {
		s := c.score(x)
		if s < prev || s < 0 || s > 1 {
			t.Fatalf("score(%v) = %v after %v: not monotone in [0,1]", x, s, prev)
		}
		prev = s
	}
	if s := c.score(math.Log(1e4)); math.Abs(s-0.5) > 0.05 {
		t.Errorf("an error with tail probability 1e-4 scores %.3f, want about 0.5 (decades 8)", s)
	}
}

// TestReferenceFollowsSlowChange: a slow change of the normal level (here
// a ramp of 65 noise deviations over 3,000 samples) is followed by the
// reference's level and holds no anomaly alert open.
func TestReferenceFollowsSlowChange(t *testing.T) {
	const n, from = 5000, 1000
	xs := shifted(n, 0, 0, 0, 3)
	for i := from; i < n; i++ {
		xs[i] += 20 * min(1, float64(i-from)/3000)
	}
	level := func(follow int) (cover, level float64) {
		cfg := DefaultConfig()
		cfg.Drift.Enabled = false
		cfg.Reference.Follow = follow
		d, err := New(cfg, 1)
		if err != nil {
			t.Fatal(err)
		}
		alerted := 0
		for i := range xs {
			for _, r := range d.Push(int64(i+1)*1e9, xs[i:i+1]) {
				if r.Anomaly.Open && r.Seq >= from {
					alerted++
				}
			}
		}
		return float64(alerted) / (n - from), d.ref.norm.Mean(0)
	}
	cover, following := level(DefaultReferenceConfig().Follow)
	_, frozen := level(0)
	t.Logf("alert covers %.3f of the rows from the ramp's start; reference level ends at %.2f following, %.2f frozen (signal level 70)", cover, following, frozen)
	if cover > 0.05 {
		t.Errorf("alert covers %.3f of a slow change of the normal, want <= 0.05", cover)
	}
	if math.Abs(following-70) > 0.5 || math.Abs(frozen-50) > 0.5 {
		t.Errorf("reference level ends at %.2f following (want about 70) and %.2f frozen (want about 50)", following, frozen)
	}
}

// TestOneChannelOfManyFault: a sustained shift on one channel of eight is
// caught and held by that channel's own tail model, where the pooled error
// alone dilutes it eightfold.
func TestOneChannelOfManyFault(t *testing.T) {
	const n, c, from, to = 3000, 8, 1500, 2000
	rows := make([][]float64, c)
	for j := range rows {
		rows[j] = shifted(n, from, to, map[bool]float64{true: 3}[j == 5], uint64(10+j))
	}
	cover := func(pooledOnly bool) float64 {
		cfg := DefaultConfig()
		cfg.Drift.Enabled = false
		cfg.Reference.RelationR2 = 0 // the channels share one cycle: their relation would see the shift too
		cfg.Reference.Level = false  // the level test sees it by itself: this measures the error's tails
		d, err := New(cfg, c)
		if err != nil {
			t.Fatal(err)
		}
		if pooledOnly {
			d.ref.chCal = nil
		}
		alerted := 0
		x := make([]float64, c)
		for i := range n {
			for j := range c {
				x[j] = rows[j][i]
			}
			for _, r := range d.Push(int64(i+1)*1e9, x) {
				if r.Anomaly.Open && r.Seq >= from && r.Seq < to {
					alerted++
				}
			}
		}
		return float64(alerted) / (to - from)
	}
	perChannel, pooled := cover(false), cover(true)
	t.Logf("alert covers %.2f of a one-channel shift with per-channel tails, %.2f with the pooled error only", perChannel, pooled)
	if perChannel < 0.7 {
		t.Errorf("alert covers %.2f of a sustained one-channel shift, want >= 0.7", perChannel)
	}
	if pooled >= perChannel {
		t.Errorf("per-channel tails add nothing: %.2f with, %.2f without", perChannel, pooled)
	}
}

// TestStuckSensorIsAnAnomaly: a sensor that holds its last value for 600
// samples is alerted by the stillness test for most of that span (the
// quality checks off, so it is the anomaly kind that does it); without the
// test the held value, close to the level, looks perfectly normal.
func TestStuckSensorIsAnAnomaly(t *testing.T) {
	const n, from, to = 3000, 1500, 2100
	// A noisy level (a flow, a pressure): held near its level, each window
	// of the stuck span is as close to the reference as windows come.
	r := rand.New(rand.NewPCG(3, 10))
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = 50 + r.NormFloat64()
		if i >= from && i < to {
			xs[i] = 50.2
		}
	}
	cfg := DefaultConfig()
	cfg.Drift.Enabled, cfg.Quality.Enabled = false, false
	out := run(t, cfg, times(n), xs)
	with, after := coverage(out, from, to), coverage(out, to+150, n)
	cfg.Reference.Stillness = false
	without := coverage(run(t, cfg, times(n), xs), from, to)
	t.Logf("alert covers %.2f of the stuck span with the stillness test, %.2f without; %.3f of the rows from 150 after", with, without, after)
	if with < 0.7 || without > 0.5 {
		t.Errorf("alert covers %.2f of a stuck span with the stillness test, %.2f without: want >= 0.7 and <= 0.5", with, without)
	}
	if after > 0.01 {
		t.Errorf("alerts on %.3f of the rows from 150 after the sensor moves again, want <= 0.01", after)
	}
}

// TestHuntingLoopIsAnAnomaly: a control loop that starts hunting (a fast
// oscillation of 1.5 noise deviations on a flow whose noise wanders
// slowly, synth's sustained "frequency" fault on the noisy signal) is
// alerted by the roughness test for most of its span; without it the
// reconstruction, fitted to the windows' slow shape, soon takes it for
// normal.
func TestHuntingLoopIsAnAnomaly(t *testing.T) {
	for seed := uint64(1); seed <= 2; seed++ {
		s, err := synth.GenerateSustained("noisy", "frequency", 6000, seed)
		if err != nil {
			t.Fatal(err)
		}
		cfg := DefaultConfig()
		cfg.Drift.Enabled, cfg.Quality.Enabled = false, false
		n, from, to := len(s.Values), s.Onset, s.End+1
		out := run(t, cfg, times(n), s.Values)
		with, before := coverage(out, from, to), coverage(out, cfg.Warmup, from)
		cfg.Reference.Roughness = false
		without := coverage(run(t, cfg, times(n), s.Values), from, to)
		t.Logf("seed %d: alert covers %.2f of the hunting with the roughness test, %.2f without; %.3f of the rows before", seed, with, without, before)
		if with < 0.7 || without > 0.5 {
			t.Errorf("seed %d: alert covers %.2f of the hunting with the roughness test, %.2f without: want >= 0.7 and <= 0.5", seed, with, without)
		}
		if before > 0.02 {
			t.Errorf("seed %d: alerts on %.3f of the rows before the hunting, want <= 0.02", seed, before)
		}
	}
}

// TestRoughnessLeavesOutASpike: one wild sample moves a window's
// roughness statistic by nothing (its two steps are left out), a fast
// oscillation by much.
func TestRoughnessLeavesOutASpike(t *testing.T) {
	const size = 32
	base, spiked, hunting := make([]float64, size), make([]float64, size), make([]float64, size)
	for i := range base {
		base[i] = 0.1 * float64(i%3)
		spiked[i], hunting[i] = base[i], base[i]+math.Sin(2*math.Pi*float64(i)/8)
	}
	spiked[20] += 10
	stat := func(v []float64) float64 {
		s := []float64{0}
		measureRoughness(v, s)
		return s[0]
	}
	b, sp, h := stat(base), stat(spiked), stat(hunting)
	if sp > 1.2*b || h < 3*b {
		t.Errorf("roughness: %.3f normal, %.3f with a spike (want within 20%%), %.3f hunting (want 3 times)", b, sp, h)
	}
}

// TestSwingLeavesOutATrend: a level moving steadily across the window
// moves its swing statistic by nothing, an oscillation by much.
func TestSwingLeavesOutATrend(t *testing.T) {
	const size = 32
	base, trending, swinging := make([]float64, size), make([]float64, size), make([]float64, size)
	for i := range base {
		base[i] = 0.1 * float64(i%3)
		trending[i], swinging[i] = base[i]+0.2*float64(i), base[i]+math.Sin(2*math.Pi*float64(i)/30)
	}
	stat := func(v []float64) float64 {
		s := []float64{0}
		measureSwing(v, s)
		return s[0]
	}
	b, tr, sw := stat(base), stat(trending), stat(swinging)
	if math.Abs(tr-b) > 1e-9 || sw < 3*b {
		t.Errorf("swing: %.3f normal, %.3f trending (want the same), %.3f oscillating (want 3 times)", b, tr, sw)
	}
}

// TestSlopeLeavesOutALevel: a window's offset from the level moves its
// slope statistic by nothing, a ramp by its rate.
func TestSlopeLeavesOutALevel(t *testing.T) {
	const size = 32
	base, offset, ramp := make([]float64, size), make([]float64, size), make([]float64, size)
	for i := range base {
		base[i] = 0.1 * float64(i%3)
		offset[i], ramp[i] = base[i]+5, base[i]+0.2*float64(i)
	}
	stat := func(v []float64) float64 {
		s := []float64{0}
		measureSlope(v, s)
		return s[0]
	}
	b, o, r := stat(base), stat(offset), stat(ramp)
	if math.Abs(o-b) > 1e-9 || math.Abs(r-b-0.2) > 1e-9 {
		t.Errorf("slope: %.4f normal, %.4f offset by 5 (want the same), %.4f with a ramp of 0.2 a sample (want 0.2 more)", b, o, r)
	}
}

// TestSlopeFindsAHeatingFasterThanItsCycle: a temperature on a cycle of
// 600 samples (its steepest 0.005 a sample) heats at 0.015 a sample for
// 150 samples and cools back as fast, beside two channels that wander on
// their own. Its level stays within what the follow tracks and its ramp
// is a shape the reconstruction knows, so without the slope test the
// heating is all but missed; with it most of it is alerted, and normal
// operation before it is alerted no more than without.
func TestSlopeFindsAHeatingFasterThanItsCycle(t *testing.T) {
	const n, c, from, to = 3000, 3, 2000, 2300
	for seed := uint64(1); seed <= 3; seed++ {
		rows := machineRows(rand.New(rand.NewPCG(seed, 11)), n, func(i int, row []float64) {
			if i >= from && i < to {
				row[0] += 0.015 * float64(min(i-from, to-i))
			}
		})
		alerted := func(slope bool) (fault, before float64) {
			cfg := DefaultConfig()
			cfg.Drift.Enabled, cfg.Quality.Enabled = false, false
			cfg.Reference.Slope = slope
			d, err := New(cfg, c)
			if err != nil {
				t.Fatal(err)
			}
			var inFault, ahead int
			for i, x := range rows {
				for _, res := range d.Push(int64(i+1)*1e9, x) {
					switch {
					case !res.Anomaly.Open:
					case res.Seq >= from && res.Seq < to:
						inFault++
					case res.Seq >= uint64(cfg.Warmup) && res.Seq < from:
						ahead++
					}
				}
			}
			return float64(inFault) / (to - from), float64(ahead) / float64(from-cfg.Warmup)
		}
		with, beforeWith := alerted(true)
		without, beforeWithout := alerted(false)
		t.Logf("seed %d: alert covers %.2f of the heating with the slope test, %.2f without; %.3f / %.3f of the rows before it", seed, with, without, beforeWith, beforeWithout)
		if with < 0.7 || without > 0.3 {
			t.Errorf("seed %d: alert covers %.2f of the heating with the slope test, %.2f without: want >= 0.7 and <= 0.3", seed, with, without)
		}
		if beforeWith > beforeWithout {
			t.Errorf("seed %d: the slope test alerts %.3f of the rows before the heating, %.3f without it", seed, beforeWith, beforeWithout)
		}
	}
}

// TestRecurringFaultStaysAFault: the same level drop coming back after
// long normal stretches (a valve that sticks again) is alerted for most
// of each occurrence; it is not taken for a state of a cycle, which comes
// back after a stretch of the same order as its own length.
func TestRecurringFaultStaysAFault(t *testing.T) {
	const n, length = 16000, 300
	faults := []int{3000, 8000, 12500}
	r := rand.New(rand.NewPCG(5, 10))
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = 50 + r.NormFloat64()
		for _, f := range faults {
			if i >= f && i < f+length {
				xs[i] -= 5
			}
		}
	}
	cfg := DefaultConfig()
	cfg.Drift.Enabled = false
	out := run(t, cfg, times(n), xs)
	for _, f := range faults {
		if c := coverage(out, f, f+length); c < 0.7 {
			t.Errorf("the drop at %d: alert covers %.2f of it, want >= 0.7", f, c)
		}
	}
}

// A recurring regime must depart from the reference on the same channels,
// on the same sides: an alert on one channel followed by one on another
// (a false alarm, then a fault) is no cycle of states.
func TestRecurrenceNeedsTheSameDeparture(t *testing.T) {
	level := func(int) float64 { return 0 }
	spread := func(int) float64 { return 1 }
	// episode feeds an alert of length samples around values x, as noisy
	// as a vibration channel (deviation 2), then a normal stretch of away
	// samples, and returns the cycle step reported.
	episode := func(rc *recurrence, x []float64, length, away int) int {
		cycle := 0
		for i := range length {
			noise := float64(2 * (i%2*2 - 1))
			c, _ := rc.step(true, []float64{x[0] + noise, x[1] - noise}, level, spread)
			cycle = max(cycle, c)
		}
		for range away {
			rc.step(false, []float64{0, 0}, level, spread)
		}
		return cycle
	}
	for _, tc := range []struct {
		name        string
		first, then []float64
		recurs      bool
	}{
		{"same channel and side", []float64{3, 0}, []float64{3, 0}, true},
		{"another channel", []float64{3, 0}, []float64{0, 3}, false},
		{"the other side", []float64{3, 0}, []float64{-3, 0}, false},
		{"no departure at all", []float64{0.2, 0}, []float64{0.2, 0}, false},
	} {
		rc := newRecurrence(2)
		episode(rc, tc.first, 200, 300)
		if got := episode(rc, tc.then, 100, 0) > 0; got != tc.recurs {
			t.Errorf("%s: recurs %v, want %v", tc.name, got, tc.recurs)
		}
	}
}

// TestRecurrenceMatchesEvolvingRegimes: an episode that falls and climbs
// back over 600 samples (a cleaning, a machine's stop) matches the next
// one by their first 64 samples, though their whole means differ, and
// counts its occurrences: 1 at the second, 2 at the third.
func TestRecurrenceMatchesEvolvingRegimes(t *testing.T) {
	level := func(int) float64 { return 25 }
	spread := func(int) float64 { return 1 }
	rc := newRecurrence(1)
	var cycles, repeats []int
	for range 3 {
		got := false
		for i := range 600 { // from 10, climbing back towards the level
			if c, r := rc.step(true, []float64{10 + 0.025*float64(i)}, level, spread); c > 0 {
				cycles, repeats, got = append(cycles, c), append(repeats, r), true
			}
		}
		if !got {
			cycles, repeats = append(cycles, 0), append(repeats, 0)
		}
		for range 400 {
			rc.step(false, []float64{25}, level, spread)
		}
	}
	if want := []int{0, 1000, 1000}; !slices.Equal(cycles, want) {
		t.Errorf("cycles %v, want %v", cycles, want)
	}
	if want := []int{0, 1, 2}; !slices.Equal(repeats, want) {
		t.Errorf("occurrences before %v, want %v", repeats, want)
	}
}

// TestRecurrenceSeeksTheOnset: a period restarted 64 samples into a
// cleaning (from 10, climbing) seeks the next cleaning's onset: the
// blocks still at the cleaning's level right after the restart do not
// end it, the climb away does not, and the first whole block of the next
// cleaning does.
func TestRecurrenceSeeksTheOnset(t *testing.T) {
	level := func(int) float64 { return 17 }
	spread := func(int) float64 { return 4 }
	rc := newRecurrence(1)
	for i := range recurrenceCheck {
		rc.step(true, []float64{10 + 0.01*float64(i)}, level, spread)
	}
	rc.aim(2000)
	v, ended := 10.64, -1
	for i := range 2000 {
		if v += 0.01; i == 1400 {
			v = 10 // the next cleaning
		}
		if rc.seek([]float64{v}, level, spread); !rc.seeking {
			ended = i
			break
		}
	}
	// The blocks end at samples 63, 127, ...: the first wholly after 1,400
	// ends at 1,471.
	if ended != 1471 {
		t.Errorf("seeking ended at sample %d, want 1471: the first whole block of the next cleaning", ended)
	}
}

// TestDriftElsewhereDoesNotHoldAnAlert: while a step on one channel holds
// an alert open, another channel's slow drift (followed when no alert is
// open) goes on being followed, so the alert closes soon after the step
// ends instead of holding on the drift.
func TestDriftElsewhereDoesNotHoldAnAlert(t *testing.T) {
	const n, c, from, to = 3000, 4, 1500, 1900
	rows := make([][]float64, c)
	for j := range rows {
		rows[j] = shifted(n, from, to, map[bool]float64{true: 3}[j == 2], uint64(20+j))
	}
	for i := 1000; i < n; i++ {
		rows[0][i] += 0.008 * float64(i-1000) // the lag of following it nears the gate
	}
	cfg := DefaultConfig()
	cfg.Drift.Enabled, cfg.Quality.Enabled = false, false
	// The channels share one cycle, so the drift breaks channel 0's relation
	// to the others, which is an anomaly of its own (relation_test.go).
	cfg.Reference.RelationR2 = 0
	d, err := New(cfg, c)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]scored, n)
	x := make([]float64, c)
	for i := range n {
		for j := range c {
			x[j] = rows[j][i]
		}
		for _, r := range d.Push(int64(i+1)*1e9, x) {
			out[r.Seq].alert = r.Anomaly.Open
		}
	}
	// A window holds the step for 32 samples after it ends; closing takes 10.
	during, after, before := coverage(out, from, to), coverage(out, to+cfg.Window.Size+cfg.Alert.CloseAfter, n), coverage(out, cfg.Warmup, from)
	t.Logf("alert open on %.2f of the step, %.2f of the rows after it, %.2f before", during, after, before)
	if during < 0.7 || after > 0.05 || before > 0.02 {
		t.Errorf("alert open on %.2f of the step (want >= 0.7), %.2f after it (want <= 0.05), %.2f before (want <= 0.02)", during, after, before)
	}
}

// TestExplanationNamesTheStuckChannel: when one channel of several gets
// stuck, the alert's explanation gives that channel the largest share,
// though a noisier channel holds most of the window's reconstruction
// error: the shares follow each channel's own evidence.
func TestExplanationNamesTheStuckChannel(t *testing.T) {
	const n, c, from, to, stuck = 3000, 4, 1500, 2100, 1
	r := rand.New(rand.NewPCG(7, 11))
	cfg := DefaultConfig()
	cfg.Drift.Enabled, cfg.Quality.Enabled = false, false
	d, err := New(cfg, c)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float64, c)
	opened := 0
	for i := range n {
		for j := range c {
			x[j] = 10*float64(j) + float64(1+j)*r.NormFloat64()
		}
		if i >= from && i < to {
			x[stuck] = 10
		}
		for _, res := range d.Push(int64(i+1)*1e9, x) {
			if res.Anomaly.Event != Opened || res.Seq < from || res.Seq >= to {
				continue
			}
			opened++
			share := res.Anomaly.Why.Share
			if top := slices.Index(share, slices.Max(share)); top != stuck {
				t.Errorf("alert opened at %d: shares %.2f, the largest not the stuck channel %d's", res.Seq, share, stuck)
			}
		}
	}
	if opened == 0 {
		t.Fatal("no alert opened on the stuck channel")
	}
}

// TestBrokenRelationIsNotFollowed: two channels that move together (b =
// 2a on a cycle as wide as b's own range) and a step of b that breaks the
// relation while b stays within its range: the window's mean stays within
// the follow gate, so only the channel's own evidence keeps its level from
// following the step away.
func TestBrokenRelationIsNotFollowed(t *testing.T) {
	const n, from, to = 4000, 2800, 3100
	coverages := func(followEvidence float64) (during, after float64) {
		cfg := DefaultConfig()
		cfg.Drift.Enabled, cfg.Quality.Enabled = false, false
		cfg.Reference.Season.Learn = 0 // the network sees the cycle in its window
		cfg.Reference.FollowEvidence = followEvidence
		cfg.Reference.RelationR2 = 0 // the network's evidence alone: the relations see the step anyway
		cfg.Reference.Anchor = 0     // the rule alone: its channels are stationary, and anchored their levels hold either way
		// Three units, as the adapting network: one cannot hold the
		// cycle's phase within the window, and its evidence on b's step
		// is then too weak (0.60 of it) for the rule to show.
		cfg.Reference.MultivariateHidden = []int{16, 3, 16}
		d, err := New(cfg, 3)
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(3, 3))
		out := make([]scored, n)
		for i := range n {
			a := math.Sin(float64(i)/20) + 0.1*r.NormFloat64()
			b := 2*a + 0.1*r.NormFloat64()
			if i >= from && i < to {
				b += 1.5
			}
			for _, res := range d.Push(int64(i+1)*1e9, []float64{a, b, 5 + r.NormFloat64()}) {
				out[res.Seq].alert = res.Anomaly.Open
			}
		}
		return coverage(out, from+cfg.Window.Size, to), coverage(out, to+cfg.Window.Size+cfg.Alert.CloseAfter, n)
	}
	during, after := coverages(DefaultReferenceConfig().FollowEvidence)
	followed, _ := coverages(0)
	t.Logf("alert open on %.2f of the broken relation (%.2f when followed whatever the evidence), %.2f of the rows after it", during, followed, after)
	if during < 0.9 || after > 0.05 || followed > 0.7 {
		t.Errorf("alert open on %.2f of the broken relation (want >= 0.9), %.2f after it (want <= 0.05), %.2f when followed whatever the evidence (want <= 0.7: the test no longer tests the rule)", during, after, followed)
	}
}

// TestReferenceCodeOverChannels: the reference network takes
// reference.multivariate_hidden over several channels (one unit by
// default), model.multivariate_hidden when that is empty, and the
// model's layers over one channel.
func TestReferenceCodeOverChannels(t *testing.T) {
	code := func(mut func(*Config), channels int) int {
		t.Helper()
		cfg := DefaultConfig()
		mut(&cfg)
		d, err := New(cfg, channels)
		if err != nil {
			t.Fatal(err)
		}
		return len(d.ref.ae.Code())
	}
	def := DefaultConfig()
	for _, c := range []struct {
		mut            func(*Config)
		channels, want int
	}{
		{func(*Config) {}, 3, 1},
		{func(c *Config) { c.Reference.MultivariateHidden = nil }, 3, slices.Min(def.Model.MultivariateHidden)},
		{func(*Config) {}, 1, slices.Min(def.Model.Hidden)},
	} {
		if got := code(c.mut, c.channels); got != c.want {
			t.Errorf("%d channels: a code of %d units, want %d", c.channels, got, c.want)
		}
	}
}

// TestHoldLimitAcceptsASteadyNewLevel: a level that moves for good (a
// setpoint changed) is alerted for at least hold_limit samples and then
// becomes the normal, where without the limit the alert never closes; a
// departure in texture (a noise burst) stays alerted past the limit.
func TestHoldLimitAcceptsASteadyNewLevel(t *testing.T) {
	const n, from = 5000, 1500
	cfg := DefaultConfig()
	cfg.Drift.Enabled = false
	limit := cfg.Reference.HoldLimit
	level := shifted(n, from, n, 2, 3)
	out := run(t, cfg, times(n), level)
	held := coverage(out, from+50, from+limit)
	late := coverage(out, from+limit+1000, n)
	cfg.Reference.HoldLimit = 0
	unlimited := coverage(run(t, cfg, times(n), level), from+limit+1000, n)
	t.Logf("new level alerted on %.2f of its first %d samples, %.2f of the rows 1000 after the limit (%.2f without a limit)", held, limit, late, unlimited)
	if held < 0.9 {
		t.Errorf("new level alerted on %.2f of its first %d samples, want >= 0.9: the limit cut a sustained fault short", held, limit)
	}
	if late > 0 {
		t.Errorf("new level still alerted on %.2f of the rows from 1000 after the limit, want none", late)
	}
	if unlimited < 0.9 {
		t.Errorf("without a limit the new level is alerted on %.2f of the late rows, want >= 0.9: the test no longer shows the hold", unlimited)
	}
	if reasons := closeReasons(out); !slices.Contains(reasons, ReasonHoldLimit) {
		t.Errorf("alerts closed with reasons %q, want one closed by %q", reasons, ReasonHoldLimit)
	}

	// A level beyond the window's clip (every value of the window more
	// than window.clip reference spreads away) is followed too once the
	// limit has passed: its window mean does not say how far it moved, so
	// it was never followed and its alert never closed.
	far := shifted(n, from, n, 60, 3)
	cfg.Reference.HoldLimit = limit
	out = run(t, cfg, times(n), far)
	held, late = coverage(out, from+50, from+limit), coverage(out, from+limit+1000, n)
	t.Logf("a level 60 away (%.0f reference spreads) alerted on %.2f of its first %d samples, %.2f of the rows 1000 after the limit", 60/(5/math.Sqrt2), held, limit, late)
	if held < 0.9 || late > 0 {
		t.Errorf("a level beyond the clip alerted on %.2f of its first %d samples (want >= 0.9) and %.2f of the rows from 1000 after the limit (want none)", held, limit, late)
	}

	r := rand.New(rand.NewPCG(4, 10))
	noisy := shifted(n, 0, 0, 0, 4)
	for i := from; i < n; i++ {
		noisy[i] += 2 * r.NormFloat64()
	}
	cfg.Reference.HoldLimit = limit
	out = run(t, cfg, times(n), noisy)
	if c := coverage(out, from+limit+1000, n); c < 0.9 {
		t.Errorf("a noise burst past the hold limit alerted on %.2f of its late rows, want >= 0.9", c)
	}
}

// cycledRows is three noisy channels with cycles of 157 and 628 samples,
// 3,000 rows; with step the third reads 5 high (10 deviations) on rows
// [2100, 2250), inside the reference period that restarts once the
// seasonal context has found the cycles (about row 2000).
func cycledRows(seed uint64, step bool) [][]float64 {
	rng := rand.New(rand.NewPCG(seed, 7))
	rows := make([][]float64, 3000)
	for i := range rows {
		rows[i] = noisyChannels(rng, i, true)
		if step && i >= 2100 && i < 2250 {
			rows[i][2] += 5
		}
	}
	return rows
}

// TestSeasonalRestartKeepsScoring: when the seasonal context finds a
// cycle, the reference period restarts on the signal without it, and the
// reference as it stood scores until the new period is over: a step in
// those 400 samples is alerted on at least 70% of its rows (118 of 118 on
// seeds 1-3; 30, 31 and 44 while the restart left the reference silent),
// no alert opens on the fault-free series from shortly before the restart
// on, and a snapshot taken inside the restarted period resumes bit for bit.
func TestSeasonalRestartKeepsScoring(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		cfg := DefaultConfig()
		cfg.Seed = seed
		for _, step := range []bool{false, true} {
			d, err := New(cfg, 3)
			if err != nil {
				t.Fatal(err)
			}
			alerted, opened, kept := 0, 0, false
			var snap []byte
			want := map[uint64]float64{}
			for i, x := range cycledRows(seed, step) {
				for _, r := range d.Push(int64(i+1)*1e9, x) {
					want[r.Seq] = r.AlertScore()
					if r.Seq >= 2132 && r.Seq < 2250 && r.Anomaly.Open {
						alerted++
					}
					if r.Seq >= 1900 && r.Anomaly.Event == Opened {
						opened++
					}
				}
				if i == 2150 {
					kept = d.ref.prev != nil && d.ref.learning()
					if snap, err = d.AppendBinary(nil); err != nil {
						t.Fatal(err)
					}
				}
			}
			if !kept || d.ref.prev != nil {
				t.Fatalf("seed %d: the reference before the restart kept at row 2150: %v, still kept at the end: %v", seed, kept, d.ref.prev != nil)
			}
			switch {
			case step && alerted < 118*7/10:
				t.Errorf("seed %d: a step inside the restarted period alerted on %d of 118 rows", seed, alerted)
			case !step && opened > 0:
				t.Errorf("seed %d: %d alerts opened on the fault-free series from row 1900 on", seed, opened)
			}
			b, _ := New(cfg, 3)
			if err := b.UnmarshalBinary(snap); err != nil {
				t.Fatal(err)
			}
			for i, x := range cycledRows(seed, step)[2151:] {
				for _, r := range b.Push(int64(i+2152)*1e9, x) {
					if math.Float64bits(r.AlertScore()) != math.Float64bits(want[r.Seq]) {
						t.Fatalf("seed %d: row %d: alert score %v after the restore, %v uninterrupted", seed, r.Seq, r.AlertScore(), want[r.Seq])
					}
				}
			}
		}
	}
}

// TestDropoutKeepsTheCyclesInPhase: a channel that drops out for 100 rows
// after the seasonal context has found the cycles leaves the others'
// cycles in phase: the reference's offsets move on with the window while
// it skips the filled samples. Before, they stood still, every channel was
// read a little more out of phase with each filled row, and an alert
// opened 13-18 rows into the dropout on seeds 1-3. (The quality check
// calls the channel missing from its 60th row on.)
func TestDropoutKeepsTheCyclesInPhase(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		cfg := DefaultConfig()
		cfg.Seed = seed
		d, err := New(cfg, 3)
		if err != nil {
			t.Fatal(err)
		}
		for i, x := range cycledRows(seed, false) {
			if i >= 2600 && i < 2700 {
				x[2] = math.NaN()
			}
			for _, r := range d.Push(int64(i+1)*1e9, x) {
				for _, o := range []Outcome{r.Anomaly, r.DriftAlert, r.Quality} {
					if o.Event == Opened && r.Seq >= 2600 && r.Seq < 2700 && !missingOnly(o, 2) {
						t.Errorf("seed %d: an alert opened at row %d, inside the dropout", seed, r.Seq)
					}
				}
			}
		}
		if d.ref.season == nil || !d.ref.season.done || !slices.ContainsFunc(d.ref.season.period, func(p int) bool { return p > 0 }) {
			t.Fatalf("seed %d: the seasonal context found no cycle", seed)
		}
	}
}

// TestCycleFoundWhileARestartedPeriodLearns: a plain noisy cycle of 900
// samples whose first excursions are taken for a recurring regime restarts
// the reference period, and the seasonal search then finds the cycle while
// that period is still learning. Nothing had finished learning to stand in
// for it, yet a copy was kept, frozen, and taught: the detector panicked
// (found on a motor temperature's daily-like cycle); it is a fault the
// detector contains now, and must not meet.
func TestCycleFoundWhileARestartedPeriodLearns(t *testing.T) {
	const n, period = 3000, 900
	ts := times(n)
	for seed := uint64(1); seed <= 12; seed++ {
		r := rand.New(rand.NewPCG(seed, 3))
		d, err := New(DefaultConfig(), 1)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			d.Push(ts[i], []float64{50 + 5*math.Sin(2*math.Pi*float64(i)/period) + 0.3*r.NormFloat64()})
		}
		if f, faults := d.TakeFault(); faults > 0 {
			t.Errorf("noise seed %d: %d faults, the last on sample %d: %s", seed, faults, f.Seq, f.Panic)
		}
	}
}
