package model

// The dense layers' products, written out because the layers are small
// (2 to 32 wide) and gonum's general routines spent a third of the
// detector's time there. The vector kernels (dense_amd64.s) perform the
// generic forms' operations in the same order, each rounded on its own, so
// the bits do not depend on the CPU.

// mulAddRowsGeneric adds w·x to y for the rows×cols row-major matrix w.
// With cols a multiple of 4 each row's dot product is kept in four partial
// sums (elements j mod 4) combined as (s0+s2)+(s1+s3), the kernel's order.
func mulAddRowsGeneric(w []float64, rows, cols int, x, y []float64) {
	x = x[:cols]
	for i := range rows {
		row := w[i*cols : (i+1)*cols]
		if cols%4 != 0 {
			var s float64
			for j, v := range row {
				s += v * x[j]
			}
			y[i] += s
			continue
		}
		var s0, s1, s2, s3 float64
		for j := 0; j < cols; j += 4 {
			s0 += row[j] * x[j]
			s1 += row[j+1] * x[j+1]
			s2 += row[j+2] * x[j+2]
			s3 += row[j+3] * x[j+3]
		}
		y[i] += (s0 + s2) + (s1 + s3)
	}
}

// backRowsGeneric is one layer's backward products for output gradient d:
// gw += d⊗a (the weight gradient) and, when dIn is not nil, dIn += wᵀ·d
// (the input gradient), both row by row.
func backRowsGeneric(w, gw []float64, rows, cols int, d, a, dIn []float64) {
	a = a[:cols]
	for i := range rows {
		di := d[i]
		g := gw[i*cols : (i+1)*cols]
		for j, v := range a {
			g[j] += di * v
		}
		if dIn != nil {
			dIn := dIn[:cols]
			for j, v := range w[i*cols : (i+1)*cols] {
				dIn[j] += di * v
			}
		}
	}
}
