package model

// mulAddRowsAVX2 is mulAddRowsGeneric for cols a multiple of 4.
//
//go:noescape
func mulAddRowsAVX2(w *float64, rows, cols int, x, y *float64)

// backRowsAVX2 is backRowsGeneric for cols a multiple of 4; dIn may be nil.
//
//go:noescape
func backRowsAVX2(w, gw *float64, rows, cols int, d, a, dIn *float64)

// mulAddRows adds w·x to y (see mulAddRowsGeneric).
func mulAddRows(w []float64, rows, cols int, x, y []float64) {
	if !haveAVX2 || cols%4 != 0 || rows == 0 {
		mulAddRowsGeneric(w, rows, cols, x, y)
		return
	}
	_, _, _ = w[rows*cols-1], x[cols-1], y[rows-1]
	mulAddRowsAVX2(&w[0], rows, cols, &x[0], &y[0])
}

// backRows adds d⊗a to gw and, unless dIn is nil, wᵀ·d to dIn (see
// backRowsGeneric).
func backRows(w, gw []float64, rows, cols int, d, a, dIn []float64) {
	if !haveAVX2 || cols%4 != 0 || rows == 0 {
		backRowsGeneric(w, gw, rows, cols, d, a, dIn)
		return
	}
	_, _, _, _ = w[rows*cols-1], gw[rows*cols-1], d[rows-1], a[cols-1]
	var in *float64
	if dIn != nil {
		_ = dIn[cols-1]
		in = &dIn[0]
	}
	backRowsAVX2(&w[0], &gw[0], rows, cols, &d[0], &a[0], in)
}
