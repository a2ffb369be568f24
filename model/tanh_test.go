package model

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestTanhKernelMatchesGeneric: the vectorised tanh gives the generic
// one's bits for every length and for arguments from tiny to beyond the
// limit, including the special values.
func TestTanhKernelMatchesGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	special := []float64{0, math.Copysign(0, -1), 19, -19, 18.999, 1e-300, -1e-300, 710, -710,
		math.Inf(1), math.Inf(-1), math.MaxFloat64, math.SmallestNonzeroFloat64}
	for n := 0; n <= 41; n++ {
		x := make([]float64, n)
		for i := range x {
			x[i] = r.NormFloat64() * math.Pow(10, float64(r.IntN(8)-5))
			if i%5 == 2 {
				x[i] = special[(n+i)%len(special)]
			}
		}
		want := append([]float64(nil), x...)
		tanhInPlace(x)
		tanhGeneric(want)
		for i := range x {
			if math.Float64bits(x[i]) != math.Float64bits(want[i]) {
				t.Fatalf("n %d, element %d: kernel %v, generic %v", n, i, x[i], want[i])
			}
		}
	}
	x := []float64{1, math.NaN(), 2, 3, math.NaN()}
	tanhInPlace(x)
	if !math.IsNaN(x[1]) || !math.IsNaN(x[4]) {
		t.Fatalf("tanh(NaN) = %v, %v, want NaN", x[1], x[4])
	}
}

// TestTanhAccuracy: within 1e-14 of math.Tanh everywhere, exact at the
// ends and at zero (sign included).
func TestTanhAccuracy(t *testing.T) {
	var xs []float64
	for x := -25.0; x <= 25; x += 0.000731 {
		xs = append(xs, x)
	}
	got := append([]float64(nil), xs...)
	tanhInPlace(got)
	for i, x := range xs {
		if d := math.Abs(got[i] - math.Tanh(x)); d > 1e-14 {
			t.Fatalf("tanh(%v) = %v, math.Tanh %v (off by %g)", x, got[i], math.Tanh(x), d)
		}
	}
	for _, c := range []struct{ x, want float64 }{{0, 0}, {math.Copysign(0, -1), math.Copysign(0, -1)},
		{19, 1}, {-40, -1}, {math.Inf(1), 1}, {math.Inf(-1), -1}} {
		got := []float64{c.x}
		tanhInPlace(got)
		if math.Float64bits(got[0]) != math.Float64bits(c.want) {
			t.Errorf("tanh(%v) = %v, want %v", c.x, got[0], c.want)
		}
	}
}

func BenchmarkTanh(b *testing.B) {
	x := make([]float64, 16) // a default hidden layer
	for i := range x {
		x[i] = float64(i-8) * 0.37
	}
	y := make([]float64, len(x))
	benchKernel(b, "", func() { copy(y, x); tanhInPlace(y) }, func() { copy(y, x); tanhGeneric(y) })
	b.Run("math", func(b *testing.B) {
		for b.Loop() {
			for i, v := range x {
				y[i] = math.Tanh(v)
			}
		}
	})
}
