package detector

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/aewatch/aewatch/synth"
)

// denoiseRMS runs a detector with the denoiser over a fault-free series of
// the synthetic corpus and returns the root mean square distance to the
// clean signal of the raw values and of the denoised ones, over the
// samples denoised, and how many were.
func denoiseRMS(t testing.TB, cfg Config, signal string, n int, seed uint64) (raw, den float64, m int) {
	t.Helper()
	s, err := synth.Generate(signal, "none", n, seed)
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range s.Values {
		d.Push(s.Times[i].UnixNano(), []float64{v})
		for _, o := range d.Denoised() {
			k := int(o.Seq)
			if o.Time != s.Times[k].UnixNano() {
				t.Fatalf("%s: denoised sample %d dated %d, its time is %d", signal, k, o.Time, s.Times[k].UnixNano())
			}
			raw += (s.Values[k] - s.Clean[k]) * (s.Values[k] - s.Clean[k])
			den += (o.Values[0] - s.Clean[k]) * (o.Values[0] - s.Clean[k])
			m++
		}
	}
	return raw, den, m
}

func denoiseConfig() Config {
	cfg := DefaultConfig()
	cfg.Denoise.Enabled = true
	return cfg
}

// TestDenoisedNearerTheCleanSignal holds issue 16's bar: on the fault-free
// files of the synthetic corpus, the denoised values lie at least 30%
// nearer the clean signal (root mean square) than the raw ones, pooled
// over every signal and seeds 1-3; no signal is made worse.
func TestDenoisedNearerTheCleanSignal(t *testing.T) {
	if testing.Short() {
		t.Skip("short: 12 series of 6,000 samples")
	}
	cfg := denoiseConfig()
	var rawAll, denAll float64
	for _, signal := range synth.Signals {
		var raw, den float64
		samples := 0
		for seed := uint64(1); seed <= 3; seed++ {
			r, dn, m := denoiseRMS(t, cfg, signal, 6000, seed)
			if want := 6000 - cfg.Denoise.Learn; m != want { // one a push from the fit on
				t.Fatalf("%s seed %d: %d samples denoised, want %d", signal, seed, m, want)
			}
			raw, den, samples = raw+r, den+dn, samples+m
		}
		t.Logf("%-11s raw %.3f denoised %.3f: %.0f%% less", signal, math.Sqrt(raw/float64(samples)), math.Sqrt(den/float64(samples)), 100*(1-math.Sqrt(den/raw)))
		if den > raw*1.0001 {
			t.Errorf("%s: denoised %.4g from the clean signal, raw %.4g: worse", signal, math.Sqrt(den), math.Sqrt(raw))
		}
		rawAll, denAll = rawAll+raw, denAll+den
	}
	less := 1 - math.Sqrt(denAll/rawAll)
	t.Logf("pooled: %.1f%% less", 100*less)
	if less < 0.30 {
		t.Errorf("denoised values %.1f%% nearer the clean signal than raw ones, want >= 30%%", 100*less)
	}
}

// TestDenoiserKeepsSpikes: a value far from what its windows reconstruct is
// signal, not noise; it passes through unsmoothed.
func TestDenoiserKeepsSpikes(t *testing.T) {
	s, err := synth.Generate("seasonal", "none", 3000, 1)
	if err != nil {
		t.Fatal(err)
	}
	const at = 2500
	s.Values[at] += 30
	d, err := New(denoiseConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for i, v := range s.Values {
		d.Push(s.Times[i].UnixNano(), []float64{v})
		for _, o := range d.Denoised() {
			if o.Seq == at {
				found = true
				if o.Values[0] != s.Values[at] {
					t.Errorf("spike of 30 denoised to %v, raw %v", o.Values[0], s.Values[at])
				}
			}
		}
	}
	if !found {
		t.Fatal("no denoised value for the spike's sample")
	}
}

// TestDenoiserFollowsStates: on a channel with states (a motor's on and
// off) a sample's value is its state's level around it, and the inrush
// sample at each start, far from it, passes through.
func TestDenoiserFollowsStates(t *testing.T) {
	s, err := synth.Generate("duty", "none", 3000, 2)
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(denoiseConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	var inrush, kept, on, off int
	for i, v := range s.Values {
		d.Push(s.Times[i].UnixNano(), []float64{v})
		for _, o := range d.Denoised() {
			raw, got := s.Values[o.Seq], o.Values[0]
			switch {
			case s.Clean[o.Seq] == 20: // the inrush
				inrush++
				if got == raw {
					kept++
				}
			case raw > 19:
				on++
				if math.Abs(got-38) > 1 {
					t.Fatalf("sample %d in the on state (38, noise 1): denoised %v, raw %v", o.Seq, got, raw)
				}
			default:
				off++
				if math.Abs(got-0.5) > 0.2 {
					t.Fatalf("sample %d in the off state (0.5, noise 0.2): denoised %v, raw %v", o.Seq, got, raw)
				}
			}
		}
	}
	if inrush == 0 || kept != inrush || on == 0 || off == 0 {
		t.Fatalf("%d inrush samples (%d passed through), %d on, %d off", inrush, kept, on, off)
	}
}

// TestDenoiserSnapshot: a detector restored from a snapshot mid-learning
// and after the fit denoises bit for bit as the one that ran through, on
// a signal the code smooths and on one with states.
func TestDenoiserSnapshot(t *testing.T) {
	cfg := denoiseConfig()
	for _, signal := range []string{"oscillating", "duty"} {
		s, err := synth.Generate(signal, "none", 2000, 3)
		if err != nil {
			t.Fatal(err)
		}
		push := func(d *Detector, i int) []float64 {
			d.Push(s.Times[i].UnixNano(), s.Values[i:i+1])
			var out []float64
			for _, o := range d.Denoised() {
				out = append(out, float64(o.Seq), o.Values[0])
			}
			return out
		}
		for _, cut := range []int{300, 1200} {
			a, _ := New(cfg, 1)
			for i := range cut {
				push(a, i)
			}
			snap, err := a.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			b, _ := New(cfg, 1)
			if err := b.UnmarshalBinary(snap); err != nil {
				t.Fatalf("%s cut %d: %v", signal, cut, err)
			}
			denoised := 0
			for i := cut; i < len(s.Values); i++ {
				x, y := push(a, i), push(b, i)
				if !slices.Equal(x, y) {
					t.Fatalf("%s cut %d, sample %d: denoised %v, restored %v", signal, cut, i, x, y)
				}
				denoised += len(x) / 2
			}
			if denoised == 0 {
				t.Fatalf("%s cut %d: nothing denoised", signal, cut)
			}
		}
	}
}

// TestLeadingSubspace holds the subspace iteration to gonum's eigenvectors:
// the projections onto the k leading ones agree.
func TestLeadingSubspace(t *testing.T) {
	for _, tc := range []struct {
		n, k int
		acov func(lag int) float64
	}{
		{16, 2, func(l int) float64 { return math.Pow(0.9, float64(l)) }},
		{32, 2, func(l int) float64 { return 4.5*math.Cos(2*math.Pi*float64(l)/16) + 0.09*b2f(l == 0) }},
		{64, 3, func(l int) float64 { return 40*math.Cos(2*math.Pi*float64(l)/288) + 0.64*math.Pow(0.7, float64(l)) }},
	} {
		t.Run(fmt.Sprintf("n%d_k%d", tc.n, tc.k), func(t *testing.T) {
			a := make([]float64, tc.n*tc.n)
			for i := range tc.n {
				for j := range tc.n {
					a[i*tc.n+j] = tc.acov(abs(i - j))
				}
			}
			q := make([]float64, tc.n*tc.k)
			kept := leadingSubspace(a, q, tc.n, tc.k)
			var eig mat.EigenSym
			if !eig.Factorize(mat.NewSymDense(tc.n, slices.Clone(a)), true) {
				t.Fatal("gonum: no factorisation")
			}
			vals := eig.Values(nil)
			var vecs mat.Dense
			eig.VectorsTo(&vecs)
			want := 0.0
			for i := range tc.k {
				want += vals[tc.n-1-i]
			}
			if math.Abs(kept-want) > 1e-9*math.Abs(want) {
				t.Errorf("variance kept %v, gonum's leading eigenvalues sum to %v", kept, want)
			}
			// Projectors q qᵀ and v vᵀ agree.
			for i := range tc.n {
				for j := range tc.n {
					var p, w float64
					for c := range tc.k {
						p += q[i*tc.k+c] * q[j*tc.k+c]
						w += vecs.At(i, tc.n-1-c) * vecs.At(j, tc.n-1-c)
					}
					if math.Abs(p-w) > 1e-6 {
						t.Fatalf("projector [%d][%d] = %v, gonum's %v", i, j, p, w)
					}
				}
			}
		})
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// BenchmarkPushDenoised is BenchmarkPush's autoencoder with the denoiser
// on (its fit falls in the first 500 samples, before the loop's steady
// state).
func BenchmarkPushDenoised(b *testing.B) {
	d, err := New(denoiseConfig(), 1)
	if err != nil {
		b.Fatal(err)
	}
	xs := signal(4096, 7)
	x := []float64{0}
	for i := range 1000 {
		x[0] = xs[i]
		d.Push(int64(i+1), x)
	}
	b.ReportAllocs()
	i := 1000
	for b.Loop() {
		x[0] = xs[i%len(xs)]
		d.Push(int64(i+1), x)
		i++
	}
}
