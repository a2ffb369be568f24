package model

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/aewatch/aewatch/internal/statecodec"
)

func testInput(n int, phase float64) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = math.Sin(phase + float64(i)*0.3)
	}
	return x
}

// TestGradient compares the hand-written backward pass with central
// differences of the loss, for every parameter, with and without a masked,
// residual tail, and with the sparse variant's penalty.
func TestGradient(t *testing.T) {
	for _, tc := range []struct {
		name           string
		maskTail, skip int
		variant        string
		tied, linear   bool
	}{{"plain", 0, 0, "denoising", false, false}, {"masked", 2, 0, "denoising", false, false}, {"masked-residual", 2, 2, "denoising", false, false},
		{"sparse", 2, 2, "sparse", false, false}, {"variational", 2, 2, "variational", false, false},
		{"tied", 0, 0, "denoising", true, false}, {"tied-masked-residual", 2, 2, "denoising", true, false}, {"tied-sparse", 2, 2, "sparse", true, false},
		{"tied-variational", 2, 2, "variational", true, false},
		{"linear-code", 2, 2, "denoising", false, true}, {"tied-linear-code", 0, 0, "denoising", true, true},
		{"tied-sparse-linear-code", 2, 2, "sparse", true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Hidden = []int{7, 3, 5}
			if cfg.Tied = tc.tied; tc.tied {
				cfg.Hidden = []int{7, 3, 7}
			}
			cfg.NoiseStd, cfg.MaskProb, cfg.Average = 0, 0, 0
			cfg.MaskTail, cfg.TailSkip = tc.maskTail, tc.skip
			cfg.Variant, cfg.Sparsity, cfg.Beta = tc.variant, 0.3, 0.3
			cfg.LinearCode = tc.linear
			a, err := New(cfg, 12, 42)
			if err != nil {
				t.Fatal(err)
			}
			x := testInput(12, 0.7)
			loss := func() float64 {
				if tc.variant == "variational" {
					return vaeLoss(a, x)
				}
				out := a.Reconstruct(x)
				var s float64
				for i, y := range out {
					s += (y - x[i]) * (y - x[i])
				}
				s /= float64(len(x)) * 2
				if tc.variant == "sparse" {
					var l1 float64
					for _, z := range a.Code() {
						l1 += math.Abs(z)
					}
					s += cfg.Sparsity * l1 / float64(len(a.Code()))
				}
				return s
			}
			ws := a.borrow()
			ws.passes = 0
			a.accumulate(ws, x) // the variational variant's draws stay in a.eps for vaeLoss
			a.gradients(ws)
			a.act = nil // ws's gradients stay ours: Reconstruct borrows another
			// Weights are float32: the step is what the rounding left of h.
			// A tied weight acts twice, so the loss curves more along it and
			// central differences need a shorter step.
			h := 1e-3
			if tc.tied {
				h = 3e-4
			}
			worst := 0.0
			for i := range a.params {
				p := a.params[i]
				a.params[i] = float32(float64(p) + h)
				up, hi := loss(), float64(a.params[i])
				a.params[i] = float32(float64(p) - h)
				down, lo := loss(), float64(a.params[i])
				a.params[i] = p
				num := (up - down) / (hi - lo)
				diff := math.Abs(num - ws.grads[i])
				rel := diff / math.Max(1e-8, math.Abs(num)+math.Abs(ws.grads[i]))
				worst = math.Max(worst, rel)
				if rel > 1e-5 && diff > 1e-9 {
					t.Fatalf("param %d: analytic %g, numerical %g (rel %g)", i, ws.grads[i], num, rel)
				}
			}
			t.Logf("worst relative gradient error %.2g over %d parameters", worst, len(a.params))
		})
	}
}

func TestLearnReducesError(t *testing.T) {
	for _, opt := range []string{"adam", "adam_factored", "momentum"} {
		cfg := DefaultConfig()
		cfg.Optimizer = opt
		if opt == "momentum" {
			cfg.LearningRate = 0.05
		}
		a, err := New(cfg, 32, 1)
		if err != nil {
			t.Fatal(err)
		}
		mse := func() float64 {
			var s float64
			for k := 0; k < 8; k++ {
				x := testInput(32, float64(k))
				for i, y := range a.Reconstruct(x) {
					s += (y - x[i]) * (y - x[i])
				}
			}
			return s / (8 * 32)
		}
		before := mse()
		for step := 0; step < 3000; step++ {
			a.Learn(testInput(32, float64(step%8)))
		}
		if after := mse(); !(after < before/4) {
			t.Errorf("%s: mse %g before training, %g after: expected at least 4x lower", opt, before, after)
		}
	}
}

func TestDeterministic(t *testing.T) {
	run := func(seed uint64) []float64 {
		a, err := New(DefaultConfig(), 32, seed)
		if err != nil {
			t.Fatal(err)
		}
		for step := 0; step < 200; step++ {
			a.Learn(testInput(32, float64(step)*0.1))
		}
		return append([]float64(nil), a.Reconstruct(testInput(32, 3))...)
	}
	a, b, c := run(7), run(7), run(8)
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			t.Fatalf("same seed, output %d differs: %v vs %v", i, a[i], b[i])
		}
	}
	same := true
	for i := range a {
		same = same && a[i] == c[i]
	}
	if same {
		t.Fatal("different seeds gave identical outputs")
	}
}

func TestNoAllocations(t *testing.T) {
	for _, opt := range []string{"adam", "adam_factored"} {
		cfg := DefaultConfig()
		cfg.Hidden, cfg.Optimizer = []int{32, 8, 32}, opt
		a, err := New(cfg, 64, 1)
		if err != nil {
			t.Fatal(err)
		}
		x := testInput(64, 0)
		if n := testing.AllocsPerRun(100, func() { a.Reconstruct(x); a.Learn(x) }); n != 0 {
			t.Fatalf("%s: Reconstruct+Learn allocated %v times per run, want 0", opt, n)
		}
	}
}

func TestValidate(t *testing.T) {
	f := func(mut func(*Config), want string) {
		t.Helper()
		c := DefaultConfig()
		mut(&c)
		err := c.Validate(32)
		if err == nil || err.Error() != want {
			t.Errorf("got %v, want %q", err, want)
		}
	}
	f(func(c *Config) { c.Hidden = []int{24, 18, 24} }, "model.hidden: bottleneck 18 must be at most half the window's 32 values, or the network learns the identity (got [24 18 24])")
	f(func(c *Config) { c.Hidden = nil }, "model.hidden: must list at least one layer (got [])")
	f(func(c *Config) { c.Optimizer = "rmsprop" }, `model.optimizer: must be adam, adam_factored or momentum (got "rmsprop")`)
	f(func(c *Config) { c.LearningRate = math.NaN() }, "model.learning_rate: must be in (0, 1] (got NaN)")
	f(func(c *Config) { c.MaskProb = 1 }, "model.mask_prob: must be in [0, 1) (got 1)")
	f(func(c *Config) { c.ReplaySize = 0 }, "model.replay_batch: needs model.replay_size > 0 (got replay_batch 2)")
}

// BenchmarkStep is one scoring pass plus one training step of a
// 64-32-8-32-64 network, without replay (the model's unit of work).
func BenchmarkStep(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Hidden = []int{32, 8, 32}
	cfg.ReplayBatch = 0
	benchStep(b, cfg, 64)
}

// BenchmarkStepDefault is the default network (32-16-4-16-32) with its
// default replay batch, as the detector runs it.
func BenchmarkStepDefault(b *testing.B) { benchStep(b, DefaultConfig(), 32) }

// BenchmarkStepFactored is BenchmarkStepDefault with Adam's second
// moments factored (model.optimizer: adam_factored).
func BenchmarkStepFactored(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Optimizer = "adam_factored"
	benchStep(b, cfg, 32)
}

// benchStep times Reconstruct and Learn of one window on a network of cfg
// over n inputs.
func benchStep(b *testing.B, cfg Config, n int) {
	a, err := New(cfg, n, 1)
	if err != nil {
		b.Fatal(err)
	}
	x := testInput(n, 0)
	b.ReportAllocs()
	for b.Loop() {
		a.Reconstruct(x)
		a.Learn(x)
	}
}

// TestAverage checks the Polyak-averaged scoring weights: a horizon of one
// step tracks the trained weights exactly; a long one lags behind them.
func TestAverage(t *testing.T) {
	outputs := func(avg int) []float64 {
		cfg := DefaultConfig()
		cfg.Average = avg
		a, err := New(cfg, 32, 3)
		if err != nil {
			t.Fatal(err)
		}
		for step := 0; step < 300; step++ {
			a.Learn(testInput(32, float64(step)*0.2))
		}
		return append([]float64(nil), a.Reconstruct(testInput(32, 1))...)
	}
	live, one, long := outputs(0), outputs(1), outputs(1000)
	for i := range live {
		if live[i] != one[i] {
			t.Fatalf("Average=1: output %d is %v, want the trained model's %v", i, one[i], live[i])
		}
	}
	differ := false
	for i := range live {
		differ = differ || live[i] != long[i]
	}
	if !differ {
		t.Fatal("Average=1000 scored exactly like the trained weights")
	}
}

// TestCorruption: masking happens at MaskProb, and the noise on the rest
// has mean 0, SD NoiseStd and a Gaussian's kurtosis of 3.
func TestCorruption(t *testing.T) {
	const noiseStd, maskProb, draws = 0.5, 0.05, 400_000
	a, err := New(Config{Hidden: []int{2}, Optimizer: "adam", LearningRate: 0.01, Momentum: 0.9, Beta2: 0.999,
		NoiseStd: noiseStd, MaskProb: maskProb}, 8, 1)
	if err != nil {
		t.Fatal(err)
	}
	x := []float64{3, 3, 3, 3, 3, 3, 3, 3}
	in := make([]float64, len(x))
	var masked, n, s1, s2, s4 float64
	for range draws / len(x) {
		a.corrupt(in, x)
		for _, v := range in {
			if v == 0 {
				masked++
				continue
			}
			d := (v - 3) / noiseStd
			n++
			s1 += d
			s2 += d * d
			s4 += d * d * d * d
		}
	}
	share, mean, variance := masked/draws, s1/n, s2/n
	kurtosis := s4 / n / (variance * variance)
	if math.Abs(share-maskProb) > 0.002 || math.Abs(mean) > 0.01 || math.Abs(variance-1) > 0.01 ||
		math.Abs(kurtosis-3) > 0.05 {
		t.Fatalf("masked share %.4f (want %v), noise mean %.4f, variance %.4f, kurtosis %.3f",
			share, maskProb, mean, variance, kurtosis)
	}
}

// TestGaussianNoise: the corruption noise's draws have a standard normal's
// mean, standard deviation, kurtosis and quantiles, and stay within ±3.85;
// the quantile table is symmetric.
func TestGaussianNoise(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var sum, sum2, sum4, lo, hi float64
	below := 0 // draws below -1.959964: 2.5% for a standard normal
	const n = 2_000_000
	for range n {
		v := gaussian(r.Uint64())
		sum += v
		sum2 += v * v
		sum4 += v * v * v * v
		lo, hi = min(lo, v), max(hi, v)
		if v < -1.959964 {
			below++
		}
	}
	mean := sum / n
	sd := math.Sqrt(sum2/n - mean*mean)
	kurt := sum4 / n / (sd * sd * sd * sd)
	share := float64(below) / n
	if math.Abs(mean) > 0.003 || math.Abs(sd-1) > 0.003 || math.Abs(kurt-3) > 0.03 || math.Abs(share-0.025) > 0.0005 || lo < -3.85 || hi > 3.85 {
		t.Errorf("mean %v sd %v kurtosis %v share below the 2.5%% quantile %v range [%v, %v]", mean, sd, kurt, share, lo, hi)
	}
	for k := range gaussBins / 2 {
		if gaussQ[k] != -gaussQ[gaussBins-k] {
			t.Fatalf("quantile table not symmetric at %d: %v and %v", k, gaussQ[k], gaussQ[gaussBins-k])
		}
	}
}

func BenchmarkGaussian(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	for b.Loop() {
		gaussian(r.Uint64())
	}
}

func BenchmarkNormFloat64(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	for b.Loop() {
		r.NormFloat64()
	}
}

// TestSparseCodesAreSmaller: the sparse variant's penalty shrinks the
// bottleneck's activations: trained on the same windows, its codes are on
// average well under the denoising network's in absolute value.
func TestSparseCodesAreSmaller(t *testing.T) {
	meanAbsCode := func(variant string) float64 {
		cfg := DefaultConfig()
		cfg.Hidden = []int{16, 4, 16}
		cfg.Variant, cfg.Sparsity = variant, 0.05
		a, err := New(cfg, 32, 5)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3000 {
			a.Learn(testInput(32, float64(i)*0.37))
		}
		var sum float64
		for i := range 200 {
			a.Reconstruct(testInput(32, float64(i)*0.91))
			for _, z := range a.Code() {
				sum += math.Abs(z)
			}
		}
		return sum / float64(200*4)
	}
	dense, sparse := meanAbsCode("denoising"), meanAbsCode("sparse")
	t.Logf("mean |code|: denoising %.3f, sparse %.3f", dense, sparse)
	if sparse > dense/2 {
		t.Errorf("mean |code| %.3f with the sparse penalty, %.3f without: want at most half", sparse, dense)
	}
}

// vaeLoss is the variational variant's training loss on x with the draws
// of the last pass (a.eps): mean squared error / 2 plus Beta times the KL
// divergence per value.
func vaeLoss(a *Autoencoder, x []float64) float64 {
	ws := a.borrow()
	defer a.release(ws)
	copy(a.act[0], x)
	clear(a.act[0][a.n-a.cfg.MaskTail:])
	a.forward(a.layers, x, 0, a.code)
	k := len(a.eps)
	head := a.act[a.code]
	var kl float64
	z := make([]float64, 2*k)
	for i := range k {
		mu, lv := head[i], head[k+i]
		z[i] = mu + math.Exp(0.5*lv)*a.eps[i]
		kl += 0.5 * (mu*mu + math.Exp(lv) - lv - 1)
	}
	copy(head, z)
	a.forward(a.layers, x, a.code, len(a.layers))
	var s float64
	for i, y := range a.act[len(a.layers)] {
		s += (y - x[i]) * (y - x[i])
	}
	n := float64(len(x))
	return s/n/2 + a.cfg.Beta*kl/n
}

// TestVariationalScoresExpectedError: the variational variant's
// Reconstruct draws several codes, and its mean output's squared error
// plus ReconVar (the expected squared error over the draws) falls with
// training to under a quarter of the untrained network's, the variance
// over draws staying positive; its code is the encoder's latent means.
func TestVariationalScoresExpectedError(t *testing.T) {
	expected := func(steps int) (mse, spread float64) {
		cfg := DefaultConfig()
		cfg.Variant = "variational"
		a, err := New(cfg, 32, 9)
		if err != nil {
			t.Fatal(err)
		}
		for i := range steps {
			a.Learn(testInput(32, float64(i)*0.37))
		}
		for j := range 20 {
			x := testInput(32, float64(j)*0.77)
			out := a.Reconstruct(x)
			if len(a.ReconVar()) != 32 || len(a.Code()) != 2 {
				t.Fatalf("ReconVar %d values, Code %d", len(a.ReconVar()), len(a.Code()))
			}
			for i := range out {
				mse += (out[i] - x[i]) * (out[i] - x[i])
				spread += a.ReconVar()[i]
			}
		}
		return mse / 640, spread / 640
	}
	m0, v0 := expected(0)
	m1, v1 := expected(2000)
	t.Logf("expected squared error: untrained %.4f + %.4f, after 2000 steps %.4f + %.4f (mean's error + variance over draws)", m0, v0, m1, v1)
	if !(v1 > 0) || m1+v1 > (m0+v0)/20 || m1+v1 > 0.01 {
		t.Errorf("after training %.4f + %.4f, untrained %.4f + %.4f: want a positive variance, under a twentieth and under 0.01", m1, v1, m0, v0)
	}
	// Every draw starts from the encoder's own head: the code is its means.
	cfg := DefaultConfig()
	cfg.Variant, cfg.Average = "variational", 0
	a, _ := New(cfg, 32, 3)
	x := testInput(32, 0.4)
	a.Reconstruct(x)
	got := slices.Clone(a.Code())
	ws := a.borrow()
	defer a.release(ws)
	copy(a.act[0], x)
	a.forward(a.layers, x, 0, a.code)
	if want := a.act[a.code][:2]; !slices.Equal(got, want) {
		t.Errorf("code %v after Reconstruct, encoder means %v", got, want)
	}
}

// TestFreezeKeepsScoringAndThaws: a frozen network reconstructs bit for
// bit as it did before, holds no training state, survives a state round
// trip frozen, refuses to learn, and learns again once thawed.
func TestFreezeKeepsScoringAndThaws(t *testing.T) {
	a, err := New(DefaultConfig(), 32, 3)
	if err != nil {
		t.Fatal(err)
	}
	for step := 0; step < 300; step++ {
		a.Learn(testInput(32, float64(step)*0.1))
	}
	x := testInput(32, 1.7)
	before := slices.Clone(a.Reconstruct(x))
	a.Freeze()
	if !a.Frozen() {
		t.Fatal("not frozen")
	}
	// Only the weights' rounding to bfloat16 moves the output: by at most
	// a few thousandths of the input's scale.
	frozen := slices.Clone(a.Reconstruct(x))
	worst := 0.0
	for i := range frozen {
		worst = max(worst, math.Abs(frozen[i]-before[i]))
	}
	t.Logf("frozen reconstruction moved by at most %.2g", worst)
	if worst == 0 || worst > 0.02 {
		t.Fatalf("frozen reconstruction moved by %g, want (0, 0.02]", worst)
	}
	for _, p := range a.BytesByPart(false) {
		if p.Name != "weights" && p.Name != "activations" && (p.Bytes != 0 || p.Full != 0) {
			t.Errorf("frozen network holds %s: %d bytes now, %d full", p.Name, p.Bytes, p.Full)
		}
	}

	var e statecodec.Encoder
	if err := a.AppendState(&e); err != nil {
		t.Fatal(err)
	}
	b, _ := New(DefaultConfig(), 32, 99)
	if err := b.ReadState(statecodec.NewDecoder(e.Buf)); err != nil {
		t.Fatal(err)
	}
	if !b.Frozen() || !slices.Equal(b.Reconstruct(x), frozen) {
		t.Fatal("restored frozen network differs")
	}

	func() {
		defer func() {
			if recover() == nil {
				t.Error("Learn on a frozen network did not panic")
			}
		}()
		a.Learn(x)
	}()

	a.Thaw()
	far := testInput(32, 40)
	start := mse(a.Reconstruct(far), far)
	for range 300 {
		a.Learn(far)
	}
	if end := mse(a.Reconstruct(far), far); !(end < start/2) {
		t.Fatalf("thawed network did not learn: error %v -> %v", start, end)
	}
}

func mse(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += (a[i] - b[i]) * (a[i] - b[i])
	}
	return s / float64(len(a))
}

// TestLinearCodeFollowsByDegree: trained on windows at levels spread over
// several deviations, a tanh bottleneck sits at ±1 on most of them, so
// windows at different levels share a code; a linear bottleneck (the
// reference network's, detector.reference.linear_code) keeps the level in
// its code by degree and reconstructs those windows far better.
func TestLinearCodeFollowsByDegree(t *testing.T) {
	window := func(level, phase float64, out []float64) {
		for i := range out {
			out[i] = level + 0.5*math.Sin(phase+float64(i)*0.4)
		}
	}
	measure := func(linear bool) (saturated, mse float64) {
		cfg := DefaultConfig()
		cfg.Hidden, cfg.Tied, cfg.LinearCode = []int{16, 2, 16}, true, linear
		a, err := New(cfg, 32, 3)
		if err != nil {
			t.Fatal(err)
		}
		x := make([]float64, 32)
		for i := range 6000 {
			window(3*math.Sin(float64(i)*0.61), float64(i)*1.3, x)
			a.Learn(x)
		}
		const windows = 400
		for i := range windows {
			window(-3+6*float64(i)/(windows-1), float64(i)*0.77, x)
			out := a.Reconstruct(x)
			for _, z := range a.Code() {
				if math.Abs(z) > 0.95 {
					saturated += 1.0 / float64(windows*len(a.Code()))
				}
			}
			for k, v := range out {
				mse += (v - x[k]) * (v - x[k]) / float64(len(x)*windows)
			}
		}
		return saturated, mse
	}
	tanhSat, tanhErr := measure(false)
	_, linErr := measure(true)
	t.Logf("tanh code: %.0f%% of its values beyond ±0.95; reconstruction error %.3f, linear code %.3f", 100*tanhSat, tanhErr, linErr)
	if linErr > tanhErr/2 {
		t.Errorf("the linear code reconstructs windows at spread levels with error %.3f, the tanh one %.3f: want at most half", linErr, tanhErr)
	}
}
