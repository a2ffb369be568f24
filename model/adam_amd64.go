package model

import "golang.org/x/sys/cpu"

var haveAVX2 = cpu.X86.HasAVX2

// adamAVX2 runs adamGeneric's operations four parameters at a time over
// the first n (a multiple of 4) elements.
//
//go:noescape
func adamAVX2(p, m, v *float32, grad *float64, n int, k *adamConsts)

// adam is one Adam step (see adamGeneric), vectorised where the CPU can.
func adam(p, m, v []float32, g []float64, k *adamConsts) {
	n := 0
	if haveAVX2 && len(g) >= 4 {
		n = len(g) &^ 3
		_, _, _ = p[n-1], m[n-1], v[n-1]
		adamAVX2(&p[0], &m[0], &v[0], &g[0], n, k)
	}
	adamGeneric(p[n:], m[n:], v[n:], g[n:], k)
}

// adamFactoredRowAVX2 runs adamFactoredRowGeneric's operations four
// weights at a time over the first n (a multiple of 4) elements.
//
//go:noescape
func adamFactoredRowAVX2(p, m, cols *float32, grad *float64, n int, k *adamConsts, r float64)

// adamFactoredRow is adamFactored's step over one row (see
// adamFactoredRowGeneric), vectorised where the CPU can.
func adamFactoredRow(p, m, cols []float32, g []float64, r float64, k *adamConsts) {
	n := 0
	if haveAVX2 && len(g) >= 4 {
		n = len(g) &^ 3
		_, _, _ = p[n-1], m[n-1], cols[n-1]
		adamFactoredRowAVX2(&p[0], &m[0], &cols[0], &g[0], n, k, r)
	}
	adamFactoredRowGeneric(p[n:], m[n:], cols[n:], g[n:], r, k)
}

// averageAVX2 runs averageGeneric's operations four at a time over the
// first n (a multiple of 4) elements.
//
//go:noescape
func averageAVX2(avg, p *float32, n int, rate float64)

// average moves avg towards p by rate (see averageGeneric).
func average(avg, p []float32, rate float64) {
	n := 0
	if haveAVX2 && len(p) >= 4 {
		n = len(p) &^ 3
		_ = avg[n-1]
		averageAVX2(&avg[0], &p[0], n, rate)
	}
	averageGeneric(avg[n:], p[n:], rate)
}
