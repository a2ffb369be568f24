package model

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

func randomSlice(r *rand.Rand, n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = r.NormFloat64() * math.Pow(10, float64(r.IntN(12)-6))
	}
	return s
}

func sameBits(t *testing.T, what string, got, want []float64) {
	t.Helper()
	for i := range got {
		if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
			t.Fatalf("%s: element %d: kernel %v, generic %v", what, i, got[i], want[i])
		}
	}
}

// TestDenseKernelsMatchGeneric: the products give the generic forms' bits
// for every shape up to 9×36 (vector kernel and scalar paths alike), and
// agree with gonum's BLAS: to rounding for the dot products, whose sums are
// grouped differently, and bit for bit for the row-by-row updates.
func TestDenseKernelsMatchGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for rows := 1; rows <= 9; rows++ {
		for cols := 1; cols <= 36; cols++ {
			w, x, y := randomSlice(r, rows*cols), randomSlice(r, cols), randomSlice(r, rows)
			got, want := append([]float64(nil), y...), append([]float64(nil), y...)
			mulAddRows(w, rows, cols, x, got)
			mulAddRowsGeneric(w, rows, cols, x, want)
			sameBits(t, "mulAddRows", got, want)
			ref := append([]float64(nil), y...)
			W := blas64.General{Rows: rows, Cols: cols, Stride: cols, Data: w}
			blas64.Gemv(blas.NoTrans, 1, W, vec(x), 1, vec(ref))
			for i := range rows {
				mag := math.Abs(y[i])
				for j := range cols {
					mag += math.Abs(w[i*cols+j] * x[j])
				}
				if math.Abs(got[i]-ref[i]) > 1e-14*mag {
					t.Fatalf("%dx%d row %d: %v, gonum %v", rows, cols, i, got[i], ref[i])
				}
			}

			gw, d, a, dIn := randomSlice(r, rows*cols), randomSlice(r, rows), randomSlice(r, cols), randomSlice(r, cols)
			gw2, dIn2 := append([]float64(nil), gw...), append([]float64(nil), dIn...)
			backRows(w, gw, rows, cols, d, a, dIn)
			backRowsGeneric(w, gw2, rows, cols, d, a, dIn2)
			sameBits(t, "backRows gw", gw, gw2)
			sameBits(t, "backRows dIn", dIn, dIn2)
			gwRef, dInRef := append([]float64(nil), gw...), make([]float64, cols)
			blas64.Ger(1, vec(d), vec(a), blas64.General{Rows: rows, Cols: cols, Stride: cols, Data: gwRef})
			blas64.Gemv(blas.Trans, 1, W, vec(d), 0, vec(dInRef))
			gw4, dIn4 := append([]float64(nil), gw...), make([]float64, cols)
			backRows(w, gw4, rows, cols, d, a, dIn4)
			sameBits(t, "backRows gw against gonum's Ger", gw4, gwRef)
			sameBits(t, "backRows dIn against gonum's Gemv", dIn4, dInRef)
			gw3 := append([]float64(nil), gw...)
			backRows(w, gw, rows, cols, d, a, nil)
			backRowsGeneric(w, gw3, rows, cols, d, a, nil)
			sameBits(t, "backRows gw without dIn", gw, gw3)
		}
	}
}

func BenchmarkDense(b *testing.B) {
	r := rand.New(rand.NewPCG(9, 10))
	const rows, cols = 16, 32 // the default network's first layer
	w, x, y := randomSlice(r, rows*cols), randomSlice(r, cols), make([]float64, rows)
	gw, d, dIn := make([]float64, rows*cols), randomSlice(r, rows), make([]float64, cols)
	b.Run("mulAddRows/kernel", func(b *testing.B) {
		for b.Loop() {
			mulAddRows(w, rows, cols, x, y)
		}
	})
	b.Run("mulAddRows/generic", func(b *testing.B) {
		for b.Loop() {
			mulAddRowsGeneric(w, rows, cols, x, y)
		}
	})
	b.Run("backRows/kernel", func(b *testing.B) {
		for b.Loop() {
			backRows(w, gw, rows, cols, d, x, dIn)
		}
	})
	b.Run("backRows/generic", func(b *testing.B) {
		for b.Loop() {
			backRowsGeneric(w, gw, rows, cols, d, x, dIn)
		}
	})
}
