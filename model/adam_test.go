package model

import (
	"math"
	"math/rand/v2"
	"testing"
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
