package model

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

func vec(x []float64) blas64.Vector { return blas64.Vector{N: len(x), Inc: 1, Data: x} }

func randomSlice(r *rand.Rand, n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = r.NormFloat64() * math.Pow(10, float64(r.IntN(12)-6))
	}
	return s
}

// randomWeights is randomSlice rounded to float32, as weights are kept;
// wide is the same values as float64, for gonum.
func randomWeights(r *rand.Rand, n int) (w []float32, wide []float64) {
	wide = randomSlice(r, n)
	w = make([]float32, n)
	for i, v := range wide {
		w[i] = float32(v)
		wide[i] = float64(w[i])
	}
	return w, wide
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
// for every shape up to 9×36 (vector kernels and scalar paths alike) and
// every pass count up to 4, and agree with gonum's BLAS: to rounding for
// the dot products, whose sums are grouped differently, and bit for bit for
// the transposed product and the gradient sums.
func TestDenseKernelsMatchGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for rows := 1; rows <= 9; rows++ {
		for cols := 1; cols <= 36; cols++ {
			w, wide := randomWeights(r, rows*cols)
			x, y := randomSlice(r, cols), randomSlice(r, rows)
			got, want := append([]float64(nil), y...), append([]float64(nil), y...)
			mulAddRows(w, rows, cols, x, got)
			mulAddRowsGeneric(w, rows, cols, x, want)
			sameBits(t, "mulAddRows", got, want)
			ref := append([]float64(nil), y...)
			W := blas64.General{Rows: rows, Cols: cols, Stride: cols, Data: wide}
			blas64.Gemv(blas.NoTrans, 1, W, vec(x), 1, vec(ref))
			for i := range rows {
				mag := math.Abs(y[i])
				for j := range cols {
					mag += math.Abs(wide[i*cols+j] * x[j])
				}
				if math.Abs(got[i]-ref[i]) > 1e-14*mag {
					t.Fatalf("%dx%d row %d: %v, gonum %v", rows, cols, i, got[i], ref[i])
				}
			}

			d, dIn := randomSlice(r, rows), randomSlice(r, cols)
			dIn2 := append([]float64(nil), dIn...)
			mulAddRowsT(w, rows, cols, d, dIn)
			mulAddRowsTGeneric(w, rows, cols, d, dIn2)
			sameBits(t, "mulAddRowsT", dIn, dIn2)
			dInRef := make([]float64, cols)
			blas64.Gemv(blas.Trans, 1, W, vec(d), 0, vec(dInRef))
			dIn3 := make([]float64, cols)
			mulAddRowsT(w, rows, cols, d, dIn3)
			if gonumUnfused {
				sameBits(t, "mulAddRowsT against gonum's Gemv", dIn3, dInRef)
			}

			for k := 0; k <= 4; k++ {
				ds, as := randomSlice(r, k*rows), randomSlice(r, k*cols)
				g, g2 := randomSlice(r, rows*cols), randomSlice(r, rows*cols)
				rankSum(g, rows, cols, ds, as, k)
				rankSumGeneric(g2, rows, cols, ds, as, k)
				sameBits(t, "rankSum", g, g2)
				ref := make([]float64, rows*cols) // gonum's Ger, one pass after another
				for p := range k {
					blas64.Ger(1, vec(ds[p*rows:(p+1)*rows]), vec(as[p*cols:(p+1)*cols]),
						blas64.General{Rows: rows, Cols: cols, Stride: cols, Data: ref})
				}
				if gonumUnfused {
					sameBits(t, "rankSum against gonum's Ger", g, ref)
				}
			}
		}
	}
}

func BenchmarkDense(b *testing.B) {
	r := rand.New(rand.NewPCG(9, 10))
	const rows, cols = 16, 32 // the default network's first layer
	w, _ := randomWeights(r, rows*cols)
	x, y := randomSlice(r, cols), make([]float64, rows)
	d, dIn := randomSlice(r, rows), make([]float64, cols)
	const passes = 3
	ds, as, g := randomSlice(r, passes*rows), randomSlice(r, passes*cols), make([]float64, rows*cols)
	benchKernel(b, "mulAddRows/", func() { mulAddRows(w, rows, cols, x, y) }, func() { mulAddRowsGeneric(w, rows, cols, x, y) })
	benchKernel(b, "mulAddRowsT/", func() { mulAddRowsT(w, rows, cols, d, dIn) }, func() { mulAddRowsTGeneric(w, rows, cols, d, dIn) })
	benchKernel(b, "rankSum/", func() { rankSum(g, rows, cols, ds, as, passes) }, func() { rankSumGeneric(g, rows, cols, ds, as, passes) })
}

// gonumUnfused: gonum's pure-Go routines are compiled with fused
// multiply-adds where the CPU has them (arm64), so its bits are a
// reference only on amd64; the kernels here round every product there too.
var gonumUnfused = runtime.GOARCH == "amd64"
