package model

// The dense layers' products, written out because the layers are small
// (2 to 32 wide) and gonum's general routines spent a third of the
// detector's time there. The vector kernels (dense_amd64.s) perform the
// generic forms' operations in the same order, each rounded on its own, so
// the bits do not depend on the CPU; the transposed product and the
// gradient sums also give gonum's Gemv and Ger bits (see the tests).

// mulAddRowsGeneric adds w·x to y for the rows×cols row-major matrix w.
// With cols a multiple of 4 each row's dot product is kept in four partial
// sums (elements j mod 4) combined as (s0+s2)+(s1+s3), the kernel's order.
func mulAddRowsGeneric(w []float32, rows, cols int, x, y []float64) {
	x = x[:cols]
	for i := range rows {
		row := w[i*cols : (i+1)*cols]
		if cols%4 != 0 {
			var s float64
			for j, v := range row {
				s += float64(float64(v) * x[j])
			}
			y[i] += s
			continue
		}
		var s0, s1, s2, s3 float64
		for j := 0; j < cols; j += 4 {
			s0 += float64(float64(row[j]) * x[j])
			s1 += float64(float64(row[j+1]) * x[j+1])
			s2 += float64(float64(row[j+2]) * x[j+2])
			s3 += float64(float64(row[j+3]) * x[j+3])
		}
		y[i] += (s0 + s2) + (s1 + s3)
	}
}

// mulAddRowsTGeneric adds wᵀ·d to y, row by row: y += d[i]·w[i,:] for i in
// order (the input gradient of a layer whose output gradient is d).
func mulAddRowsTGeneric(w []float32, rows, cols int, d, y []float64) {
	y = y[:cols]
	for i := range rows {
		di := d[i]
		for j, v := range w[i*cols : (i+1)*cols] {
			y[j] += float64(di * float64(v))
		}
	}
}

// rankSumGeneric sets g[i,j] = 0 + d_0[i]·a_0[j] + … + d_{k-1}[i]·a_{k-1}[j],
// summed in pass order, where d_p = d[p*rows:] and a_p = a[p*cols:]: a
// layer's weight gradient over k training passes, written once instead of
// updated k times.
func rankSumGeneric(g []float64, rows, cols int, d, a []float64, k int) {
	for i := range rows {
		row := g[i*cols : (i+1)*cols]
		for j := range row {
			s := 0.0
			for p := range k {
				s += float64(d[p*rows+i] * a[p*cols+j])
			}
			row[j] = s
		}
	}
}
