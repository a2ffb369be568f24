// Package detmath holds the few transcendental functions the scoring path
// needs, computed the same way, to the bit, on every CPU. The standard
// library's are assembly on some architectures and Go on others, and the
// Go ones are compiled with fused multiply-adds where the CPU has them,
// so math.Exp or math.Log may differ in the last bit between amd64 and
// arm64. Here every product is rounded on its own (an explicit float64
// conversion forbids fusing) and only exactly rounded operations are used
// otherwise (+, -, *, /, Sqrt, Ldexp, Frexp), so the results are the same
// everywhere. Accuracy is a few units in the last place, which scoring
// does not notice.
//
// Concurrency: pure functions.
package detmath

import "math"

const (
	// ln2Hi + ln2Lo = ln 2, ln2Hi with trailing zero bits so that k*ln2Hi
	// is exact for the k these functions meet.
	ln2Hi  = 6.93147180369123816490e-01
	ln2Lo  = 1.90821492927058770002e-10
	invLn2 = 1.44269504088896338700e+00
	ln10   = 2.30258509299404568402
	sqrtPi = 1.77245385090551602730
)

// Exp returns e**x.
func Exp(x float64) float64 {
	switch {
	case math.IsNaN(x) || math.IsInf(x, 1):
		return x
	case math.IsInf(x, -1):
		return 0
	case x > 709.782712893384:
		return math.Inf(1)
	case x < -745.1332191019412:
		return 0
	}
	// x = k ln2 + r, |r| <= ln2/2; exp(r) by its Taylor series to r^14
	// (the next term is below 1e-17 of the result).
	k := math.Floor(float64(x*invLn2) + 0.5)
	r := (x - float64(k*ln2Hi)) - float64(k*ln2Lo)
	p := 1.0
	for n := 14.0; n >= 1; n-- {
		p = 1 + float64(float64(p*r)/n)
	}
	return math.Ldexp(p, int(k))
}

// Log returns the natural logarithm of x.
func Log(x float64) float64 {
	switch {
	case math.IsNaN(x) || math.IsInf(x, 1):
		return x
	case x < 0:
		return math.NaN()
	case x == 0:
		return math.Inf(-1)
	}
	// x = m 2^e with m in [1/sqrt2, sqrt2); log m = 2 atanh(s), s =
	// (m-1)/(m+1), |s| < 0.1716, by its series to s^29.
	m, e := math.Frexp(x) // m in [0.5, 1)
	if m < math.Sqrt2/2 {
		m, e = m*2, e-1
	}
	s := (m - 1) / (m + 1)
	s2 := float64(s * s)
	p := 1.0 / 29
	for n := 27.0; n >= 1; n -= 2 {
		p = 1/n + float64(p*s2)
	}
	f := float64(e)
	return float64(f*ln2Hi) + (float64(f*ln2Lo) + float64(2*float64(s*p)))
}

// Log10 returns the decimal logarithm of x.
func Log10(x float64) float64 { return Log(x) / ln10 }

// Log1p returns log(1+x), accurate also for small x.
func Log1p(x float64) float64 {
	u := 1 + x
	if u == 1 {
		return x
	}
	// log(u) * x/(u-1) corrects for the rounding of 1+x.
	return float64(Log(u)*x) / (u - 1)
}

// Erfc returns the complementary error function of x.
func Erfc(x float64) float64 {
	switch {
	case math.IsNaN(x):
		return x
	case x < 0:
		return 2 - Erfc(-x)
	case x > 27:
		return 0
	}
	if x < 1 {
		// erf x = 2/sqrt(pi) e^(-x^2) sum 2^n x^(2n+1) / (1*3*...*(2n+1)):
		// every term positive, no cancellation; for x < 1 the 30th term is
		// below 1e-20 of the sum.
		x2 := float64(x * x)
		term, sum := x, x
		for n := 1.0; n <= 30; n++ {
			term = float64(float64(term*2)*x2) / (2*n + 1)
			sum += term
		}
		return 1 - float64(float64(2/sqrtPi*Exp(-x2))*sum)
	}
	// erfc x = e^(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))),
	// evaluated from term n back; n = 20 + 180/x^2 terms bring it within
	// about 1e-16 (200 at x = 1, 65 at x = 2, 40 at x = 3).
	t := x
	for n := math.Floor(20 + 180/float64(x*x)); n >= 1; n-- {
		t = x + (n/2)/t
	}
	return Exp(-float64(x*x)) / sqrtPi / t
}

// Mix scrambles x into a uniformly distributed 64-bit value (SplitMix64's
// finaliser): a random number that is a pure function of a counter.
func Mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// BF16 rounds v to bfloat16 (float32's sign, exponent and top 7 mantissa
// bits), to nearest, ties to even, within 2^-8 of v relative to its size:
// the storage of values that are averaged, fitted or trained on, where
// that is far below their own noise. For v >= 0 the results order as the
// values do, so they sort and search as integers.
func BF16(v float64) uint16 {
	b := math.Float32bits(float32(v))
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// FromBF16 widens a bfloat16 back.
func FromBF16(h uint16) float64 { return float64(FromBF16To32(h)) }

// FromBF16To32 widens a bfloat16 to float32, exactly: FromBF16 without
// the float64.
func FromBF16To32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// FiniteBF16 reports whether h is a finite bfloat16 (a check on state
// read back: not all exponent bits set).
func FiniteBF16(h uint16) bool { return h&0x7f80 != 0x7f80 }
