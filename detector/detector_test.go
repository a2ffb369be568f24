package detector

import (
	"fmt"
	"github.com/aewatch/aewatch/internal/detmath"
	"github.com/aewatch/aewatch/window"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// signal is a noisy oscillation with a burst of higher frequency.
func signal(n int, seed uint64) []float64 {
	r := rand.New(rand.NewPCG(seed, 9))
	x := make([]float64, n)
	for i := range x {
		period := 16.0
		if i > n*3/4 && i < n*3/4+100 {
			period = 7
		}
		x[i] = 50 + 5*math.Sin(2*math.Pi*float64(i)/period) + 0.3*r.NormFloat64()
	}
	return x
}

type scored struct {
	score, drift, evidence, ref float64
	alert, driftAlert, quality  bool
	phased                      bool // the score is the reference's, read by phase
	dailyRepeat                 bool // the score is shown as a repeat of the same time of day
	seen                        bool
	closedBy                    string // an anomaly alert's closing reason, "-" for none
}

func run(t *testing.T, cfg Config, ts []int64, xs []float64) []scored {
	t.Helper()
	d, err := New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]scored, len(xs))
	for i := range xs {
		for _, r := range d.Push(ts[i], []float64{xs[i]}) {
			if r.Score < 0 || r.Score > 1 || math.IsNaN(r.Score) {
				t.Fatalf("sample %d: score %v outside [0,1]", r.Seq, r.Score)
			}
			if out[r.Seq].seen {
				t.Fatalf("sample %d: two results", r.Seq)
			}
			out[r.Seq] = scored{score: r.Score, drift: r.Drift, evidence: r.Evidence, ref: r.RefScore, alert: r.Anomaly.Open,
				driftAlert: r.DriftAlert.Open, quality: r.Quality.Open, phased: r.Phased, dailyRepeat: r.DailyRepeat, seen: true}
			if r.Anomaly.Event == Closed {
				out[r.Seq].closedBy = "-"
				if r.Anomaly.Why != nil && r.Anomaly.Why.Reason != "" {
					out[r.Seq].closedBy = r.Anomaly.Why.Reason
				}
			}
		}
	}
	return out
}

// resumesUninterrupted restores a's snapshot into a fresh detector of cfg
// and checks that it scores samples cut on of the univariate series xs as
// run did uninterrupted (out): reference score and alert alike.
func resumesUninterrupted(t *testing.T, cfg Config, a *Detector, cut int, ts []int64, xs []float64, out []scored) {
	t.Helper()
	snap, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := New(cfg, 1)
	if err := b.UnmarshalBinary(snap); err != nil {
		t.Fatalf("cut %d: %v", cut, err)
	}
	for i := cut; i < len(xs); i++ {
		for _, r := range b.Push(ts[i], xs[i:i+1]) {
			if w := out[r.Seq]; math.Float64bits(r.RefScore) != math.Float64bits(w.ref) || r.Anomaly.Open != w.alert {
				t.Fatalf("cut %d: sample %d reference %v alert %v after restore, %v %v uninterrupted", cut, r.Seq, r.RefScore, r.Anomaly.Open, w.ref, w.alert)
			}
		}
	}
}

func times(n int) []int64 {
	ts := make([]int64, n)
	for i := range ts {
		ts[i] = int64(i+1) * 60e9
	}
	return ts
}

func TestDeterministic(t *testing.T) {
	xs := signal(3000, 1)
	for _, k := range Kinds {
		cfg := DefaultConfig()
		cfg.Kind = k
		a, b := run(t, cfg, times(len(xs)), xs), run(t, cfg, times(len(xs)), xs)
		for i := range a {
			if math.Float64bits(a[i].score) != math.Float64bits(b[i].score) || a[i].alert != b[i].alert {
				t.Fatalf("%s: sample %d differs between identical runs: %v vs %v", k, i, a[i], b[i])
			}
		}
	}
	cfg := DefaultConfig()
	c1 := run(t, cfg, times(len(xs)), xs)
	cfg.Seed = 2
	c2 := run(t, cfg, times(len(xs)), xs)
	same := true
	for i := range c1 {
		same = same && c1[i].score == c2[i].score
	}
	if same {
		t.Fatal("seeds 1 and 2 gave identical autoencoder scores")
	}
}

// TestRejectedSamplesChangeNothing interleaves NaN, ±Inf, bad-value marks
// beyond window.max_abs and out-of-order samples into a series: they are reported unscored, and every good sample
// scores exactly as in the clean run.
func TestRejectedSamplesChangeNothing(t *testing.T) {
	xs := signal(2500, 2)
	ts := times(len(xs))
	clean := run(t, DefaultConfig(), ts, xs)

	r := rand.New(rand.NewPCG(3, 3))
	var dts []int64
	var dxs []float64
	var good []int // index into clean of each dirty sample, or -1
	for i := range xs {
		if i > 0 && r.IntN(10) == 0 {
			kinds := []float64{math.NaN(), math.Inf(1), math.Inf(-1), 9.9e37, -math.MaxFloat32, xs[i]}
			k := r.IntN(len(kinds))
			bad, bt := kinds[k], ts[i]
			if k == len(kinds)-1 {
				bt = ts[i-1] // a duplicate timestamp: out of order
			}
			dts, dxs, good = append(dts, bt), append(dxs, bad), append(good, -1)
		}
		dts, dxs, good = append(dts, ts[i]), append(dxs, xs[i]), append(good, i)
	}
	dirty := run(t, DefaultConfig(), dts, dxs)
	rejected := 0
	for k, i := range good {
		if i < 0 {
			rejected++
			if dirty[k].score != 0 {
				t.Fatalf("rejected sample %d scored %v", k, dirty[k].score)
			}
			continue
		}
		if math.Float64bits(dirty[k].score) != math.Float64bits(clean[i].score) || dirty[k].alert != clean[i].alert {
			t.Fatalf("good sample %d: %v with rejected samples around, %v without", i, dirty[k], clean[i])
		}
	}
	if rejected < 100 {
		t.Fatalf("only %d rejected samples: the test did not exercise rejection", rejected)
	}
}

// TestGlitchInTheReferencePeriod: a glitch within window.max_abs (a
// register read as 1e10 on a signal of 50) as a series' first sample, in
// its warm-up, in its reference period or long after leaves the detector
// as it is without it, and is a data-quality event. Folded into
// the normalisers it left them a spread of about 1e8: the expected value
// was off by millions for the rest of the series.
func TestGlitchInTheReferencePeriod(t *testing.T) {
	xs := signal(4000, 4)
	ts := times(len(xs))
	expected := func(xs []float64) (alerts []bool, miss float64) {
		d, err := New(DefaultConfig(), 1)
		if err != nil {
			t.Fatal(err)
		}
		alerts = make([]bool, len(xs))
		n := 0
		for i := range xs {
			for _, r := range d.Push(ts[i], xs[i:i+1]) {
				alerts[r.Seq] = r.Anomaly.Open
				if math.Abs(xs[r.Seq]) == 1e10 && r.Seq > 0 && (r.Scored || r.Status != window.Wild) {
					t.Errorf("glitch at %d: scored (status %v)", r.Seq, r.Status)
				}
				if math.Abs(xs[r.Seq]) == 1e10 && r.Seq > 1 && (!r.Quality.Open || r.Quality.Why != nil && r.Quality.Why.Failed[0] != Glitch) {
					t.Errorf("glitch at %d: quality %+v, want a glitch", r.Seq, r.Quality)
				}
				if r.Seq >= 1000 && r.Scored {
					miss += math.Abs(r.Expected[0] - xs[r.Seq])
					n++
				}
			}
		}
		return alerts, miss / float64(n)
	}
	cleanAlerts, cleanMiss := expected(xs)
	// A series' very first sample, one among its first few, two in the
	// warm-up and the reference period, one long after.
	for _, at := range [][]int{{0}, {5}, {100, 300}, {2500}} {
		glitched := slices.Clone(xs)
		for k, i := range at {
			glitched[i] = 1e10 * float64(1-2*(k%2))
		}
		alerts, miss := expected(glitched)
		differ, fault, cleanFault := 0, 0, 0
		for i := 1000; i < len(xs); i++ {
			if alerts[i] != cleanAlerts[i] {
				differ++
			}
			if i >= 3000 && i < 3100 {
				fault += b2i(alerts[i])
				cleanFault += b2i(cleanAlerts[i])
			}
		}
		if differ > len(xs)/50 || fault < cleanFault*9/10 || miss > 2*cleanMiss {
			t.Errorf("after glitches at %v, %d of %d rows alerted otherwise than without them, the fault on %d of 100 rows (%d without); the expected value missed by %.3g on average (%.3g without them)",
				at, differ, len(xs)-1000, fault, cleanFault, miss, cleanMiss)
		}
	}
}

// TestSpreadFloorAndOffset: with window.spread_floor 0 a signal alerts
// alike at any offset; with the default floor (0.1% of the level) a
// channel whose variation is below it, here a cycle of spread 7 at 1e6
// with a step of 8 for 400 samples, is seen through the floor, and its
// step mostly missed.
func TestSpreadFloorAndOffset(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	xs := make([]float64, 5000)
	for i := range xs {
		xs[i] = 10*math.Sin(2*math.Pi*float64(i)/50) + r.NormFloat64()
		if i >= 3000 && i < 3400 {
			xs[i] += 8
		}
	}
	alerts := func(floor, offset float64) (out []bool, inStep int) {
		cfg := DefaultConfig()
		cfg.Window.SpreadFloor = floor
		ys := make([]float64, len(xs))
		for i, x := range xs {
			ys[i] = x + offset
		}
		out = make([]bool, len(xs))
		for i, r := range run(t, cfg, times(len(ys)), ys) {
			out[i] = r.alert
			if r.alert && i >= 3000 && i < 3400 {
				inStep++
			}
		}
		return out, inStep
	}
	base, step := alerts(0, 0)
	shifted, shiftedStep := alerts(0, 1e6)
	n := 0
	for i := range base {
		if base[i] != shifted[i] {
			n++
		}
	}
	if n > len(xs)/100 || step < 200 {
		t.Errorf("spread_floor 0: %d of %d rows alert otherwise at offset 1e6; the step alerted on %d and %d of 400 rows", n, len(xs), step, shiftedStep)
	}
	if _, floored := alerts(DefaultConfig().Window.SpreadFloor, 1e6); floored > step/2 {
		t.Errorf("default spread_floor at offset 1e6: the step alerted on %d of 400 rows (%d without the floor): is the floor still a share of the level?", floored, step)
	}
}

// machineRows returns n rows of a machine's three channels: a temperature
// on a 600-sample cycle, a slowly wandering flow and a vibration level;
// fault may change a row in place.
func machineRows(r *rand.Rand, n int, fault func(i int, row []float64)) [][]float64 {
	rows := make([][]float64, n)
	var flow, vib float64
	for i := range rows {
		flow, vib = 0.98*flow+0.3*r.NormFloat64(), 0.9*vib+r.NormFloat64()
		temp := 50 + 0.5*math.Sin(2*math.Pi*float64(i)/600) + 0.02*r.NormFloat64()
		rows[i] = []float64{temp, 30 + flow, 1 + 0.1*vib}
		fault(i, rows[i])
	}
	return rows
}

// TestUnitChangeAlertsAlike: a change of units (mA for A, kPa for Pa,
// microstrain for strain) scales a channel, and every statistic the
// detector keeps is in the channel's own spreads, so its alerts must not
// move with it: one absolute constant among them (a floor, a tolerance, a
// step) would make detection depend on the unit a plant happens to log in.
func TestUnitChangeAlertsAlike(t *testing.T) {
	const n, c, from, to = 3000, 3, 2000, 2300
	rows := machineRows(rand.New(rand.NewPCG(5, 13)), n, func(i int, row []float64) {
		if i >= from && i < to {
			row[1] += 8 // about five of the flow's deviations
		}
	})
	kinds := func(scale []float64) (out []uint8, inFault int) {
		d, err := New(DefaultConfig(), c)
		if err != nil {
			t.Fatal(err)
		}
		out = make([]uint8, n)
		x := make([]float64, c)
		for i, row := range rows {
			for j, v := range row {
				x[j] = v * scale[j]
			}
			for _, res := range d.Push(int64(i+1)*1e9, x) {
				out[res.Seq] = uint8(b2i(res.Anomaly.Open) | b2i(res.DriftAlert.Open)<<1 | b2i(res.Quality.Open)<<2)
				if res.Anomaly.Open && res.Seq >= from && res.Seq < to {
					inFault++
				}
			}
		}
		return out, inFault
	}
	base, fault := kinds([]float64{1, 1, 1})
	if fault < (to-from)*7/10 {
		t.Fatalf("the flow's step alerted on %d of %d rows in its own units, want >= 70%%", fault, to-from)
	}
	for _, scale := range [][]float64{{1e3, 1e3, 1e3}, {1e-6, 1e-6, 1e-6}, {1e6, 1e-6, 1}} {
		got, scaledFault := kinds(scale)
		differ := 0
		for i := range base {
			if got[i] != base[i] {
				differ++
			}
		}
		t.Logf("channels scaled by %v: %d of %d rows alert otherwise; the step alerted on %d and %d of %d rows", scale, differ, n, fault, scaledFault, to-from)
		if differ > n/200 {
			t.Errorf("channels scaled by %v: %d of %d rows alert otherwise than in their own units (the step %d and %d of %d rows)", scale, differ, n, fault, scaledFault, to-from)
		}
	}
}

func TestWarmupAndDetection(t *testing.T) {
	xs := signal(4000, 4)
	cfg := DefaultConfig()
	res := run(t, cfg, times(len(xs)), xs)
	for i := 0; i < cfg.Warmup; i++ {
		if res[i].score != 0 || res[i].alert {
			t.Fatalf("sample %d in warm-up: score %v alert %v", i, res[i].score, res[i].alert)
		}
	}
	burst := len(xs) * 3 / 4
	peakIn, peakBefore := 0.0, 0.0
	for i := range res {
		switch {
		case i >= burst && i < burst+100:
			peakIn = max(peakIn, res[i].score)
		case i >= 1000 && i < burst:
			peakBefore = max(peakBefore, res[i].score)
		}
	}
	if peakIn < cfg.Alert.Open || peakIn <= peakBefore {
		t.Fatalf("frequency burst peaks at %.3f, normal stretch before at %.3f: want the burst above %.2f and above normal", peakIn, peakBefore, cfg.Alert.Open)
	}
}

func TestStrideEmitsEverySample(t *testing.T) {
	xs := signal(1000, 5)
	cfg := DefaultConfig()
	cfg.Window.Stride = 4
	res := run(t, cfg, times(len(xs)), xs)
	// Every sample but the last few (waiting for the stride) has a result.
	for i := 0; i < len(xs)-cfg.Window.Stride; i++ {
		if !res[i].seen {
			t.Fatalf("sample %d has no result", i)
		}
	}
}

func TestAlertStateMachine(t *testing.T) {
	a := newAlertState(AlertConfig{Open: 0.5, Close: 0.3, CloseAfter: 2, MinGap: 3})
	steps := []struct {
		score float64
		want  Event
		open  bool
	}{
		{0.6, Opened, true},
		{0.4, NoEvent, true}, // between close and open: hysteresis keeps it open
		{0.2, NoEvent, true}, // one below close
		{0.4, NoEvent, true}, // resets the count
		{0.2, NoEvent, true},
		{0.1, Closed, false},                                                // two in a row below close
		{0.9, NoEvent, false}, {0.9, NoEvent, false}, {0.9, NoEvent, false}, // min gap
		{0.9, Opened, true},
	}
	for i, s := range steps {
		if got := a.step(s.score, int64(i)); got != s.want || a.open != s.open {
			t.Fatalf("step %d (score %v): event %v open %v, want %v %v", i, s.score, got, a.open, s.want, s.open)
		}
	}
}

func TestPushAllocatesNothing(t *testing.T) {
	xs := signal(2000, 6)
	d, err := New(DefaultConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	x := []float64{0}
	i := 0
	allocs := testing.AllocsPerRun(len(xs)-1, func() {
		x[0] = xs[i]
		d.Push(int64(i+1), x)
		i++
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per sample, want 0", allocs)
	}
}

func TestConfigValidate(t *testing.T) {
	f := func(mut func(*Config), channels int, want string) {
		t.Helper()
		c := DefaultConfig()
		mut(&c)
		if err := c.Validate(channels); err == nil || err.Error() != want {
			t.Errorf("got %v, want %q", err, want)
		}
	}
	f(func(c *Config) { c.Kind = "lstm" }, 1, `detector.kind: must be one of autoencoder, frozen, persistence, range (got "lstm")`)
	f(func(c *Config) { c.Window.Size = 3 }, 1, "detector.window.size: must be in [4, 4096] (got 3)")
	f(func(c *Config) { c.Model.Hidden = []int{20} }, 1, "detector.model.hidden: bottleneck 20 must be at most half the window's 32 values, or the network learns the identity (got [20])")
	f(func(c *Config) { c.Calibration.Transform = "exp" }, 1, `detector.calibration.transform: must be none, sqrt or log (got "exp")`)
	f(func(c *Config) { c.Alert.Close = 0.9 }, 1, "detector.alert.close: must be in [0, detector.alert.open=0.5] (got 0.9)")
	f(func(c *Config) { c.SpatialTolerance = -1 }, 1, "detector.spatial_tolerance: must be finite and >= 0 (got -1)")
	f(func(c *Config) { c.SpatialError = math.Inf(1) }, 1, "detector.spatial_error: must be finite and >= 0 (got +Inf)")
	f(func(c *Config) { c.MaskNewest = false }, 1, "detector.residual: needs detector.mask_newest (got residual true, mask_newest false)")
	f(func(c *Config) { c.Reference.FollowBeyond = 50 }, 1, "detector.reference.follow_beyond: must be in [follow=100, 1e9] samples (got 50)")
	f(func(c *Config) { c.Reference.FollowGate = math.NaN() }, 1, "detector.reference.follow_gate: must be in (0, 100] (got NaN)")
	f(func(c *Config) { c.Reference.FollowReturn = -8 }, 1, "detector.reference.follow_return: must be 0 (off) or in [1, 1000000] samples (got -8)")
	f(func(c *Config) { c.Reference.MultivariateHidden = []int{60} }, 3, "detector.reference.multivariate_hidden: bottleneck 60 must be at most half the window's 96 values, or the network learns the identity (got [60])")
	f(func(c *Config) { c.Reference.RelationLags = []int{2, 2} }, 3, "detector.reference.relation_lags[1]: must be in [1, 10000] and above the lag before it (got [2 2])")
	f(func(c *Config) { c.Reference.RelationHolds = 0 }, 3, "detector.reference.relation_holds: must be in [1, 1e6] refits (got 0)")
	f(func(c *Config) { c.Reference.Samples = 1e9 }, 1, "detector.reference.recurrence (20000) must be 0 (off) or at least detector.reference.samples (1000000000)")
	f(func(c *Config) { c.Reference.Recurrence = -5 }, 1, "detector.reference.recurrence: must be 0 (off) or in [detector.reference.samples, 1e8] (got -5)")
	f(func(c *Config) { c.Reference.RelationLearnOnR2 = 1 }, 3, "detector.reference.relation_learn_on_r2: must be in (0, 1) (got 1)")
	f(func(c *Config) { c.Reference.RelationLags = []int{0} }, 3, "detector.reference.relation_lags[0]: must be in [1, 10000] and above the lag before it (got [0])")
	f(func(c *Config) { c.Denoise.Enabled, c.Denoise.Delay = true, 64 }, 1, "detector.denoise.delay: must be in [0, detector.denoise.window-1=63] (got 64)")
	f(func(c *Config) { c.Denoise.Enabled, c.Denoise.Components = true, 0 }, 1, "detector.denoise.components: must be in [1, detector.denoise.window-1=63] (got 0)")
	f(func(c *Config) { c.Denoise.Enabled, c.Denoise.Learn = true, 100 }, 1, "detector.denoise.learn: must be in [2*detector.denoise.window=128, 1048576] (got 100)")
	f(func(c *Config) { c.Denoise.Enabled, c.Denoise.Window = true, 2 }, 1, "detector.denoise.window: must be in [4, 512] (got 2)")
	f(func(c *Config) {}, 0, "detector: channels must be >= 1 (got 0)")
}

func BenchmarkPush(b *testing.B) {
	for _, k := range Kinds {
		b.Run(string(k), func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.Kind = k
			d, err := New(cfg, 1)
			if err != nil {
				b.Fatal(err)
			}
			xs := signal(4096, 7)
			x := []float64{0}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				x[0] = xs[i%len(xs)]
				d.Push(int64(i+1), x)
				i++
			}
		})
	}
}

// BenchmarkPushInterleaved feeds 1, 8 and 64 autoencoder detectors in turn,
// as a shard does with interleaved series: the cost of a detector whose
// state has left the CPU caches.
func BenchmarkPushInterleaved(b *testing.B) {
	for _, n := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("series=%d", n), func(b *testing.B) {
			ds := make([]*Detector, n)
			for i := range ds {
				ds[i], _ = New(DefaultConfig(), 1)
			}
			xs := signal(4096, 7)
			x := []float64{0}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				x[0] = xs[(i/n)%len(xs)]
				ds[i%n].Push(int64(i/n+1), x)
				i++
			}
		})
	}
}

// A constant series has nothing to say: its errors are rounding, and
// measured against their own scale they once scored 0.53 (NAB's
// art_flatline, ten false positives). What remains is the error's fall
// while the fresh network learns the constant, which the likelihood
// reads as news (as Numenta's does) but well under alert.open.
func TestFlatSeriesScoresNothing(t *testing.T) {
	const n = 4000
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = 45
	}
	for _, kind := range Kinds {
		cfg := DefaultConfig()
		cfg.Kind = kind
		worst := 0.0
		for i, s := range run(t, cfg, times(n), xs) {
			worst = max(worst, s.score)
			if s.alert {
				t.Fatalf("%s: sample %d of a constant series alerted (%+v)", kind, i, s)
			}
		}
		if worst > 0.4 {
			t.Errorf("%s: a constant series scored up to %.3f, want <= 0.4", kind, worst)
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestWindowError checks the whole-window error's weights: alike with a
// decay of 1, halving every half-life back from the newest visible
// position otherwise, and normalised so that an error the same at every
// position is that error.
func TestWindowError(t *testing.T) {
	const c, positions = 2, 32
	vec := make([]float64, c*positions)
	recon := make([]float64, len(vec))
	for i := range recon {
		recon[i] = 3 // every squared error 9
	}
	quarter := detmath.Exp(-math.Ln2 / 4)
	for _, decay := range []float64{1, quarter} {
		if got := windowError(recon, nil, vec, c, decay, nil); math.Abs(got-9) > 1e-12 {
			t.Errorf("decay %v: a squared error of 9 everywhere gives %v", decay, got)
		}
	}
	// One position's error alone: its weight over all the weights.
	one := func(p int, decay float64) float64 {
		clear(recon)
		recon[p*c] = 1
		return windowError(recon, nil, vec, c, decay, nil)
	}
	if a, b := one(31, 1), one(0, 1); a != b || math.Abs(a-1.0/(c*positions)) > 1e-15 {
		t.Errorf("decay 1: newest %v, oldest %v; want both 1/%d", a, b, c*positions)
	}
	if r := one(31, quarter) / one(15, quarter); math.Abs(r-16) > 1e-9 {
		t.Errorf("half-life 4: the newest position weighs %v times one 16 older, want 16", r)
	}
	// The variational variant's expected squared error adds at its position's weight.
	clear(recon)
	spread := make([]float64, len(vec))
	spread[31*c+1] = 2
	if got, want := windowError(recon, spread, vec, c, quarter, nil), one(31, quarter)*2; math.Abs(got-want) > 1e-15 {
		t.Errorf("expected squared error 2 at the newest position: %v, want %v", got, want)
	}
}
