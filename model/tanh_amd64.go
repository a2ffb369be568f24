package model

// tanhAVX2 runs tanhGeneric's operations four at a time over the first n
// (a multiple of 4) elements.
//
//go:noescape
func tanhAVX2(x *float64, n int, k *[tanhConstCount][4]float64)

// tanhInPlace replaces each x[i] by tanh(x[i]) (see tanhGeneric).
func tanhInPlace(x []float64) {
	n := 0
	if haveAVX2 && len(x) >= 4 {
		n = len(x) &^ 3
		tanhAVX2(&x[0], n, &tanhK)
	}
	tanhGeneric(x[n:])
}
