//go:build !amd64

package model

// tanhInPlace replaces each x[i] by tanh(x[i]) (see tanhGeneric).
func tanhInPlace(x []float64) { tanhGeneric(x) }
