package model

import "math"

// tanhK holds tanh's constants, each repeated four times so that the
// vector kernel reads them as whole registers.
var tanhK = func() (k [tanhConstCount][4]float64) {
	vals := [tanhConstCount]float64{
		tanhLimit,
		1 / math.Ln2,
		0.5,
		math.Ln2,
		1,
		1<<52 + 1023,         // minus n, its low bits are 1023-n: the exponent of 2^-n
		math.Copysign(0, -1), // the sign bit
	}
	// exp(r) for |r| <= ln2/2 by its Taylor series to r^11 (error < 1e-14),
	// highest power first, for Horner's rule.
	c := 1.0
	for i := tanhDegree; i >= 1; i-- {
		c *= float64(i)
	}
	for i := 0; i <= tanhDegree; i++ {
		vals[tanhCoef+i] = 1 / c
		c /= float64(max(tanhDegree-i, 1))
	}
	for i, v := range vals {
		k[i] = [4]float64{v, v, v, v}
	}
	return k
}()

const (
	// tanhLimit: from 19 on, tanh rounds to ±1 in float64.
	tanhLimit = 19
	// indices into tanhK
	tanhInvLn2, tanhHalf, tanhLn2, tanhOne, tanhMagic, tanhSign, tanhCoef = 1, 2, 3, 4, 5, 6, 7
	tanhDegree                                                            = 11
	tanhConstCount                                                        = tanhCoef + tanhDegree + 1
)

// tanhGeneric replaces each x[i] by tanh(x[i]) = (1-e)/(1+e) with
// e = exp(-2|x|) = 2^-k·exp(r) from a short polynomial: within 1e-14 of
// math.Tanh, which it replaces because it was a fifth of the detector's
// time. The vector kernel repeats these operations in this order, each
// rounded on its own, so both give the same bits.
func tanhGeneric(x []float64) {
	k := &tanhK
	for i, v := range x {
		a := min(math.Abs(v), k[0][0])
		y := a + a
		n := math.Floor(float64(y*k[tanhInvLn2][0]) + k[tanhHalf][0])
		r := float64(n*k[tanhLn2][0]) - y
		p := k[tanhCoef][0]
		for j := tanhCoef + 1; j < tanhConstCount; j++ {
			p = float64(p*r) + k[j][0]
		}
		e := float64(p * math.Float64frombits(math.Float64bits(k[tanhMagic][0]-n)<<52))
		x[i] = math.Copysign((k[tanhOne][0]-e)/(k[tanhOne][0]+e), v)
	}
}
