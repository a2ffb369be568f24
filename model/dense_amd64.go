package model

//go:noescape
func mulAddRowsAVX2(w *float32, rows, cols int, x, y *float64)

//go:noescape
func mulAddRowsTAVX2(w *float32, rows, cols int, d, y *float64)

//go:noescape
func rankSumAVX2(sum *float64, rows, cols int, d, a *float64, k int)

// mulAddRows adds w·x to y (see mulAddRowsGeneric).
func mulAddRows(w []float32, rows, cols int, x, y []float64) {
	if !haveAVX2 || cols%4 != 0 || rows == 0 {
		mulAddRowsGeneric(w, rows, cols, x, y)
		return
	}
	_, _, _ = w[rows*cols-1], x[cols-1], y[rows-1]
	mulAddRowsAVX2(&w[0], rows, cols, &x[0], &y[0])
}

// mulAddRowsT adds wᵀ·d to y (see mulAddRowsTGeneric).
func mulAddRowsT(w []float32, rows, cols int, d, y []float64) {
	if !haveAVX2 || cols%4 != 0 || rows == 0 {
		mulAddRowsTGeneric(w, rows, cols, d, y)
		return
	}
	_, _, _ = w[rows*cols-1], d[rows-1], y[cols-1]
	mulAddRowsTAVX2(&w[0], rows, cols, &d[0], &y[0])
}

// rankSum sets g to the sum of k outer products (see rankSumGeneric).
func rankSum(g []float64, rows, cols int, d, a []float64, k int) {
	if !haveAVX2 || cols%4 != 0 || rows == 0 || k == 0 {
		rankSumGeneric(g, rows, cols, d, a, k)
		return
	}
	_, _, _ = g[rows*cols-1], d[k*rows-1], a[k*cols-1]
	rankSumAVX2(&g[0], rows, cols, &d[0], &a[0], k)
}
