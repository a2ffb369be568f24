package detmath

import (
	"math"
	"math/rand/v2"
	"testing"
)

func relErr(got, want float64) float64 {
	if got == want {
		return 0
	}
	return math.Abs(got-want) / math.Max(math.Abs(want), 1e-300)
}

// TestAgainstMath: within a few units in the last place of the standard
// library over the ranges scoring uses, and the same special values.
func TestAgainstMath(t *testing.T) {
	worst := map[string]float64{}
	check := func(name string, got, want, tol float64, x float64) {
		t.Helper()
		e := relErr(got, want)
		worst[name] = max(worst[name], e)
		if e > tol || math.IsNaN(got) != math.IsNaN(want) {
			t.Errorf("%s(%v) = %v, math says %v (relative error %.2g)", name, x, got, want, e)
		}
	}
	for i := 0; i <= 200000; i++ {
		x := -740 + 1449*float64(i)/200000
		check("Exp", Exp(x), math.Exp(x), 1e-15, x)
		y := math.Pow(10, -300+600*float64(i)/200000)
		check("Log", Log(y), math.Log(y), 1e-15, y)
		check("Log10", Log10(y), math.Log10(y), 1e-15, y)
		z := 1e-12 * math.Pow(1e15, float64(i)/200000)
		check("Log1p", Log1p(z), math.Log1p(z), 1e-15, z)
		w := -3 + 30*float64(i)/200000
		check("Erfc", Erfc(w), math.Erfc(w), 1e-13, w)
	}
	t.Logf("worst relative errors: %v", worst)
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"Exp(+Inf)", Exp(math.Inf(1)), math.Inf(1)}, {"Exp(-Inf)", Exp(math.Inf(-1)), 0}, {"Exp(800)", Exp(800), math.Inf(1)},
		{"Exp(-800)", Exp(-800), 0}, {"Exp(0)", Exp(0), 1}, {"Log(0)", Log(0), math.Inf(-1)}, {"Log(1)", Log(1), 0},
		{"Log(+Inf)", Log(math.Inf(1)), math.Inf(1)}, {"Erfc(0)", Erfc(0), 1}, {"Erfc(30)", Erfc(30), 0}, {"Erfc(-30)", Erfc(-30), 2},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if !math.IsNaN(Log(-1)) || !math.IsNaN(Exp(math.NaN())) || !math.IsNaN(Erfc(math.NaN())) {
		t.Error("NaN in or a negative logarithm must give NaN")
	}
}

// BenchmarkErfc: detmath's against the standard library's, over [0, 4].
func BenchmarkErfc(b *testing.B) {
	for name, erfc := range map[string]func(float64) float64{"detmath": Erfc, "math": math.Erfc} {
		b.Run(name, func(b *testing.B) {
			x := 0.0
			for b.Loop() {
				if x += 0.001; x > 4 {
					x = 0
				}
				erfc(x)
			}
		})
	}
}

// TestBF16: a value stored as bfloat16 is, rounded to nearest with
// ties to even, within 2^-8 of the value relative to its size.
func TestBF16(t *testing.T) {
	cases := []struct {
		v    float64
		want float64
	}{
		{1, 1}, {-2.5, -2.5}, {0, 0},
		{1 + 1.0/256, 1},                  // a tie: down to the even mantissa
		{1 + 3.0/256, 1 + 4.0/256},        // a tie: up to the even mantissa
		{1 + 1.0/256 + 1e-6, 1 + 2.0/256}, // past the tie
		{8, 8}, {-8, -8},
	}
	for _, c := range cases {
		if got := FromBF16(BF16(c.v)); got != c.want {
			t.Errorf("%v: stored as %v, want %v", c.v, got, c.want)
		}
	}
	r := rand.New(rand.NewPCG(5, 6))
	for range 10000 {
		v := r.NormFloat64() * math.Pow(10, float64(r.IntN(8)-4))
		if got := FromBF16(BF16(v)); math.Abs(got-v) > math.Abs(v)/256 {
			t.Fatalf("%v: stored as %v, off by more than 2^-8 of it", v, got)
		}
	}
}
