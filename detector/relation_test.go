package detector

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// wandering returns n rows of three channels: a and b = 2a follow one
// operating point that wanders (an AR(0.95) process), c is noise; b is
// stepped by size over [from, to), which breaks its relation to a while
// it stays within its own range.
func wandering(n, from, to int, size float64, seed uint64) [][]float64 {
	r := rand.New(rand.NewPCG(seed, 9))
	rows := make([][]float64, n)
	u := 0.0
	for i := range rows {
		u = float64(0.95*u) + 0.3*r.NormFloat64()
		a, b := u+0.05*r.NormFloat64(), float64(2*u)+0.05*r.NormFloat64()
		if i >= from && i < to {
			b += size
		}
		rows[i] = []float64{a, b, 5 + r.NormFloat64()}
	}
	return rows
}

func runRows(t *testing.T, cfg Config, rows [][]float64) []scored {
	t.Helper()
	d, err := New(cfg, len(rows[0]))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]scored, len(rows))
	for i, x := range rows {
		for _, r := range d.Push(int64(i+1)*1e9, x) {
			out[r.Seq] = scored{ref: r.RefScore, alert: r.Anomaly.Open, seen: true}
		}
	}
	return out
}

// TestRelationBreakOnAWanderingPoint: a step of b of nine deviations of
// its relation to a (a quarter of its own range) is alerted throughout
// with the relations, and not at all by the window network alone, whose
// error is the wandering point's shape.
func TestRelationBreakOnAWanderingPoint(t *testing.T) {
	const n, from, to = 3000, 1500, 2100
	for _, seed := range []uint64{1, 2, 3} {
		rows := wandering(n, from, to, 1.0, seed)
		cfg := DefaultConfig()
		cfg.Drift.Enabled, cfg.Quality.Enabled = false, false
		out := runRows(t, cfg, rows)
		during, after := coverage(out, from+cfg.Window.Size, to), coverage(out, to+2*cfg.Window.Size+cfg.Alert.CloseAfter, n)
		before := coverage(out, cfg.Reference.Samples, from)
		cfg.Reference.RelationR2 = 0
		plain := runRows(t, cfg, rows)
		without, beforeWithout := coverage(plain, from+cfg.Window.Size, to), coverage(plain, cfg.Reference.Samples, from)
		t.Logf("seed %d: alert open on %.2f of the break (%.2f without relations), %.2f before it (%.2f without), %.2f after it", seed, during, without, before, beforeWithout, after)
		if during < 0.9 || before > beforeWithout+0.01 || after > 0.1 || without > 0.1 {
			t.Errorf("seed %d: alert open on %.2f of the break (want >= 0.9), %.2f before (want <= %.2f, as without relations), %.2f after (want <= 0.1), %.2f without relations (want <= 0.1: the test no longer tests them)",
				seed, during, before, beforeWithout+0.01, after, without)
		}
	}
}

// TestRelationNotUsedWhereItDoesNotHold: two channels that move together
// over the first half of the reference period and apart over the second
// (a slow co-drift, as SKAB's temperatures show) get no relation, nor does
// a channel that nothing predicts.
func TestRelationNotUsedWhereItDoesNotHold(t *testing.T) {
	cfg := DefaultConfig()
	d, _ := New(cfg, 3)
	r := rand.New(rand.NewPCG(4, 4))
	for i := range 1000 {
		u := math.Sin(float64(i) / 30)
		b := float64(2*u) + 0.05*r.NormFloat64()
		if i >= cfg.Reference.Samples/2 {
			b = -b
		}
		d.Push(int64(i+1)*1e9, []float64{u + 0.05*r.NormFloat64(), b, r.NormFloat64()})
	}
	if rel := d.ref.rel; rel == nil || rel.active || !rel.probe {
		t.Fatalf("relation %+v: want one probed and not used", rel)
	}
}

// TestRelationSnapshotResumes: restored mid-stream (in the reference
// period, after the relations are fitted, during the break), a detector
// with relations scores the rest bit for bit as the uninterrupted one.
func TestRelationSnapshotResumes(t *testing.T) {
	rows := wandering(2400, 1500, 2100, 1.0, 1)
	cfg := DefaultConfig()
	want := runRows(t, cfg, rows)
	for _, cut := range []int{150, 700, 1700} {
		a, _ := New(cfg, 3)
		for i := range cut {
			a.Push(int64(i+1)*1e9, rows[i])
		}
		if cut > cfg.Reference.Samples && !a.ref.rel.active {
			t.Fatalf("cut %d: no relation in use", cut)
		}
		snap, err := a.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := New(cfg, 3)
		if err := b.UnmarshalBinary(snap); err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		for i := cut; i < len(rows); i++ {
			for _, r := range b.Push(int64(i+1)*1e9, rows[i]) {
				if w := want[r.Seq]; math.Float64bits(r.RefScore) != math.Float64bits(w.ref) || r.Anomaly.Open != w.alert {
					t.Fatalf("cut %d: sample %d reference %v alert %v after restore, %v %v uninterrupted", cut, r.Seq, r.RefScore, r.Anomaly.Open, w.ref, w.alert)
				}
			}
		}
	}
}

// TestInvertSPD holds the Cholesky inverse to gonum's.
func TestInvertSPD(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	for _, n := range []int{1, 2, 3, 8, 17} {
		g := mat.NewDense(n, n+3, nil)
		for i := range n {
			for j := range n + 3 {
				g.Set(i, j, r.NormFloat64())
			}
		}
		var spd mat.SymDense
		spd.SymOuterK(1, g)
		a := make([]float64, n*n)
		for i := range n {
			for j := range n {
				a[i*n+j] = spd.At(i, j)
			}
		}
		inv := make([]float64, n*n)
		if !invertSPD(a, inv, n) {
			t.Fatalf("n=%d: not positive definite", n)
		}
		var want mat.Dense
		if err := want.Inverse(&spd); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			for j := range n {
				if got, w := inv[i*n+j], want.At(i, j); math.Abs(got-w) > 1e-9*math.Max(1, math.Abs(w)) {
					t.Fatalf("n=%d: inverse[%d][%d] = %v, gonum %v", n, i, j, got, w)
				}
			}
		}
	}
	if invertSPD([]float64{1, 2, 2, 1}, make([]float64, 4), 2) {
		t.Error("an indefinite matrix inverted")
	}
}
