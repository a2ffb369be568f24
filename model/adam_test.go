package model

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/aewatch/aewatch/internal/statecodec"
)

// TestAdamKernelMatchesGeneric: the vectorised step gives the generic
// step's bits for every length (vector body and scalar tail) and for
// gradients from zero to huge.
func TestAdamKernelMatchesGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	k := &adamConsts{scale: 1.0 / 3, b1: 0.9, c1: 1 - 0.9, b2: 0.999, c2: 1 - 0.999, step: 0.003 * math.Sqrt(1-0.998) / (1 - 0.81), eps: 1e-8}
	for n := 0; n <= 41; n++ {
		p, m, v, g := make([]float32, n), make([]float32, n), make([]float32, n), make([]float64, n)
		for i := range g {
			p[i], m[i], v[i] = float32(r.NormFloat64()), float32(r.NormFloat64()*0.1), float32(r.Float64()*0.01)
			g[i] = r.NormFloat64() * math.Pow(10, float64(r.IntN(40)-20))
			if i%7 == 3 {
				g[i] = 0
			}
		}
		p2, m2, v2 := append([]float32(nil), p...), append([]float32(nil), m...), append([]float32(nil), v...)
		adam(p, m, v, g, k)
		adamGeneric(p2, m2, v2, g, k)
		for i := range g {
			if math.Float32bits(p[i]) != math.Float32bits(p2[i]) || math.Float32bits(m[i]) != math.Float32bits(m2[i]) ||
				math.Float32bits(v[i]) != math.Float32bits(v2[i]) {
				t.Fatalf("n %d, element %d: kernel %v %v %v, generic %v %v %v", n, i, p[i], m[i], v[i], p2[i], m2[i], v2[i])
			}
		}
	}
}

func TestFactoredRowKernelMatchesGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	k := &adamConsts{scale: 0.5, b1: 0.9, c1: 0.1, b2: 0.999, c2: 0.001, step: 3e-3, eps: 1e-8}
	for n := 0; n <= 41; n++ {
		p, m, cols, g := make([]float32, n), make([]float32, n), make([]float32, n), make([]float64, n)
		for i := range g {
			p[i], m[i], cols[i] = float32(r.NormFloat64()), float32(r.NormFloat64()*0.1), float32(r.Float64()*0.01)
			g[i] = r.NormFloat64() * math.Pow(10, float64(r.IntN(40)-20))
			if i%7 == 3 {
				g[i], cols[i] = 0, 0
			}
		}
		rowFactor := r.Float64() * 3
		p2, m2 := slices.Clone(p), slices.Clone(m)
		adamFactoredRow(p, m, cols, g, rowFactor, k)
		adamFactoredRowGeneric(p2, m2, cols, g, rowFactor, k)
		for i := range g {
			if math.Float32bits(p[i]) != math.Float32bits(p2[i]) || math.Float32bits(m[i]) != math.Float32bits(m2[i]) {
				t.Fatalf("n %d, element %d: kernel %v %v, generic %v %v", n, i, p[i], m[i], p2[i], m2[i])
			}
		}
	}
}

func TestAverageKernelMatchesGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for n := 0; n <= 41; n++ {
		avg, p := make([]float32, n), make([]float32, n)
		for i := range p {
			avg[i], p[i] = float32(r.NormFloat64()), float32(r.NormFloat64()*math.Pow(10, float64(r.IntN(20)-10)))
		}
		avg2 := append([]float32(nil), avg...)
		average(avg, p, 1.0/97)
		averageGeneric(avg2, p, 1.0/97)
		for i := range p {
			if math.Float32bits(avg[i]) != math.Float32bits(avg2[i]) {
				t.Fatalf("n %d, element %d: kernel %v, generic %v", n, i, avg[i], avg2[i])
			}
		}
	}
}

func BenchmarkAdam(b *testing.B) {
	const n = 1154 // the default network's parameters
	p, m, v, g := make([]float32, n), make([]float32, n), make([]float32, n), make([]float64, n)
	for i := range g {
		g[i], v[i] = float64(i%13)-6, 1
	}
	k := &adamConsts{scale: 1, b1: 0.9, c1: 0.1, b2: 0.999, c2: 0.001, step: 1e-3, eps: 1e-8}
	benchKernel(b, "", func() { adam(p, m, v, g, k) }, func() { adamGeneric(p, m, v, g, k) })
}

// benchKernel runs a vector kernel and its scalar form as the
// sub-benchmarks prefix+"kernel" and prefix+"generic".
func benchKernel(b *testing.B, prefix string, kernel, generic func()) {
	for _, c := range []struct {
		name string
		f    func()
	}{{"kernel", kernel}, {"generic", generic}} {
		b.Run(prefix+c.name, func(b *testing.B) {
			for b.Loop() {
				c.f()
			}
		})
	}
}

// TestFactoredMomentsOfRankOneGradients: where a layer's squared
// gradients are an outer product (g_ij = a_i b_j), the factored second
// moments are exact, so a first step of Adam with factored moments moves
// every weight as Adam does (to float32's rounding); the biases always do.
func TestFactoredMomentsOfRankOneGradients(t *testing.T) {
	newNet := func(opt string) *Autoencoder {
		cfg := DefaultConfig()
		cfg.Optimizer = opt
		a, err := New(cfg, 8, 5)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	full, factored := newNet("adam"), newNet("adam_factored")
	if len(factored.v) >= len(full.v) {
		t.Fatalf("factored second moments %d long, Adam's %d", len(factored.v), len(full.v))
	}
	grads := make([]float64, len(full.params))
	for _, ly := range full.layers {
		for o := range ly.out {
			for i := range ly.weights() / ly.out {
				grads[ly.off+o*ly.in+i] = 0.01 * float64(o+1) * float64(i%3+1) * math.Pow(-1, float64(o+i))
			}
			grads[ly.off+ly.weights()+o] = 0.02 * float64(o%4+1)
		}
	}
	before := slices.Clone(full.params)
	colSq := make([]float64, len(grads)) // room for any layer's columns
	full.update(grads, colSq, 1)
	factored.update(grads, colSq, 1)
	for i := range before {
		moved, want := float64(factored.params[i]-before[i]), float64(full.params[i]-before[i])
		if math.Abs(moved-want) > 1e-6*math.Abs(want)+1e-7 {
			t.Fatalf("parameter %d moved by %g with factored moments, by %g with Adam's", i, moved, want)
		}
	}
}

// TestFactoredStateRoundTrip: a network with factored moments restored
// from its snapshot trains on to the same bits as the original.
func TestFactoredStateRoundTrip(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Optimizer = "adam_factored"
	a, _ := New(cfg, 32, 3)
	for step := range 200 {
		a.Learn(testInput(32, float64(step)*0.1))
	}
	var e statecodec.Encoder
	if err := a.AppendState(&e); err != nil {
		t.Fatal(err)
	}
	b, _ := New(cfg, 32, 99)
	if err := b.ReadState(statecodec.NewDecoder(e.Buf)); err != nil {
		t.Fatal(err)
	}
	for step := range 100 {
		a.Learn(testInput(32, float64(step)*0.3))
		b.Learn(testInput(32, float64(step)*0.3))
	}
	x := testInput(32, 2.2)
	if !slices.Equal(a.Reconstruct(x), b.Reconstruct(x)) {
		t.Fatal("restored network trained to different outputs")
	}
}
