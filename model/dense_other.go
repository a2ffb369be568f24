//go:build !amd64

package model

// mulAddRows adds w·x to y (see mulAddRowsGeneric).
func mulAddRows(w []float64, rows, cols int, x, y []float64) { mulAddRowsGeneric(w, rows, cols, x, y) }

// backRows adds d⊗a to gw and, unless dIn is nil, wᵀ·d to dIn (see
// backRowsGeneric).
func backRows(w, gw []float64, rows, cols int, d, a, dIn []float64) {
	backRowsGeneric(w, gw, rows, cols, d, a, dIn)
}
