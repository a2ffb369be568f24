//go:build !amd64

package model

// mulAddRows adds w·x to y (see mulAddRowsGeneric).
func mulAddRows(w []float32, rows, cols int, x, y []float64) { mulAddRowsGeneric(w, rows, cols, x, y) }

// mulAddRowsT adds wᵀ·d to y (see mulAddRowsTGeneric).
func mulAddRowsT(w []float32, rows, cols int, d, y []float64) {
	mulAddRowsTGeneric(w, rows, cols, d, y)
}

// rankSum sets g to the sum of k outer products (see rankSumGeneric).
func rankSum(g []float64, rows, cols int, d, a []float64, k int) {
	rankSumGeneric(g, rows, cols, d, a, k)
}
