package model

import "math"

// adamConsts are one Adam step's scalars, in the order the assembly
// kernel reads them.
type adamConsts struct {
	scale, b1, c1, b2, c2, step, eps float64
}

// adamGeneric is one Adam step over params p with moments m, v (all
// stored as float32, computed in float64) and gradients g (scaled by
// k.scale). The step uses the moments before they are rounded for
// storage. The vector kernel repeats exactly these operations, in this
// order, each rounded on its own (no fused multiply-add), so both give the
// same bits.
func adamGeneric(p, m, v []float32, g []float64, k *adamConsts) {
	p, m, v = p[:len(g)], m[:len(g)], v[:len(g)]
	for i, gi := range g {
		gi *= k.scale
		mi := float64(k.b1*float64(m[i])) + float64(k.c1*gi)
		vi := float64(k.b2*float64(v[i])) + float64(k.c2*gi*gi)
		m[i], v[i] = float32(mi), float32(vi)
		p[i] = float32(float64(p[i]) - k.step*mi/(math.Sqrt(vi)+k.eps))
	}
}

// adamFactoredRowGeneric is adamFactored's step over one row of a layer's
// weights p with first moments m and gradients g: the second moment of
// weight i is r*cols[i], r being the row's factor. The vector kernel
// repeats these operations in this order.
func adamFactoredRowGeneric(p, m, cols []float32, g []float64, r float64, k *adamConsts) {
	p, m, cols = p[:len(g)], m[:len(g)], cols[:len(g)]
	for i, gi := range g {
		gi *= k.scale
		mi := float64(k.b1*float64(m[i])) + float64(k.c1*gi)
		m[i] = float32(mi)
		vi := r * float64(cols[i])
		p[i] = float32(float64(p[i]) - k.step*mi/(math.Sqrt(vi)+k.eps))
	}
}

// averageGeneric moves avg towards p by rate: the Polyak average of the
// weights. The vector kernel repeats these operations in this order.
func averageGeneric(avg, p []float32, rate float64) {
	avg = avg[:len(p)]
	for i, pi := range p {
		a := float64(avg[i])
		avg[i] = float32(a + float64(rate*(float64(pi)-a)))
	}
}
