package detector

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"testing"

	"github.com/aewatch/aewatch/synth"
	"gonum.org/v1/gonum/mat"
)

func runRows(t *testing.T, cfg Config, rows [][]float64) []scored {
	t.Helper()
	_, out := runDetector(t, cfg, rows)
	return out
}

// runDetector is runRows that also returns the detector, for its state.
func runDetector(t *testing.T, cfg Config, rows [][]float64) (*Detector, []scored) {
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
	return d, out
}

// TestRelationBreakOnAWanderingPoint: on a pump whose load wanders
// (synth.GenerateRelated), pressure or current reading off by 8-12
// deviations of its noise, within its own range, is alerted throughout
// with the relations and not at all by the window network alone, whose
// error is the wandering load's shape.
func TestRelationBreakOnAWanderingPoint(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		f, err := synth.GenerateRelated("offset", 3000, seed)
		if err != nil {
			t.Fatal(err)
		}
		cfg := DefaultConfig()
		cfg.Drift.Enabled, cfg.Quality.Enabled = false, false
		out := runRows(t, cfg, f.Values)
		w, n := cfg.Window.Size, len(f.Values)
		during, after, before := coverage(out, f.Start+w, f.End), coverage(out, f.End+2*w+cfg.Alert.CloseAfter, n), coverage(out, cfg.Reference.Samples, f.Start)
		cfg.Reference.RelationR2 = 0
		plain := runRows(t, cfg, f.Values)
		without, beforeWithout := coverage(plain, f.Start+w, f.End), coverage(plain, cfg.Reference.Samples, f.Start)
		t.Logf("seed %d: %s off by %+.2f: alert open on %.2f of it (%.2f without relations), %.2f before it (%.2f without), %.2f after it",
			seed, synth.RelatedChannels[f.Channel], f.Size, during, without, before, beforeWithout, after)
		if during < 0.9 || before > beforeWithout+0.01 || after > 0.05 || without > 0.1 {
			t.Errorf("seed %d: alert open on %.2f of the offset (want >= 0.9), %.2f before (want <= %.2f, as without relations), %.2f after (want <= 0.05), %.2f without relations (want <= 0.1: the test no longer tests them)",
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
	f, _ := synth.GenerateRelated("offset", 3000, 1)
	rows := f.Values[:f.End+300]
	cfg := DefaultConfig()
	want := runRows(t, cfg, rows)
	for _, cut := range []int{150, 700, f.Start + 100} {
		a, _ := New(cfg, len(rows[0]))
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
		b, _ := New(cfg, len(rows[0]))
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

// TestRelationWithAStride: with windows every 3 samples the reference
// period ends between two windows; the relations are still judged and
// used.
func TestRelationWithAStride(t *testing.T) {
	f, _ := synth.GenerateRelated("offset", 3000, 2)
	cfg := DefaultConfig()
	cfg.Drift.Enabled, cfg.Quality.Enabled = false, false
	cfg.Window.Stride = 3
	d, err := New(cfg, len(f.Values[0]))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]scored, len(f.Values))
	for i, x := range f.Values {
		for _, r := range d.Push(int64(i+1)*1e9, x) {
			out[r.Seq] = scored{alert: r.Anomaly.Open, seen: true}
		}
	}
	if !d.ref.rel.active {
		t.Fatal("no relation in use with a stride of 3")
	}
	if c := coverage(out, f.Start+cfg.Window.Size, f.End); c < 0.9 {
		t.Errorf("alert open on %.2f of the offset with a stride of 3 (want >= 0.9)", c)
	}
}

// TestRelationThroughADelay: on a pump on a stroke cycle whose pressure
// and current follow the load through transport delays
// (synth.GenerateCyclicRelated), no row's channels are a linear function
// of each other; with the others' earlier values the relations still
// hold, and a quarter-cycle lag or an offset of one channel is alerted
// throughout, where without them nothing is.
func TestRelationThroughADelay(t *testing.T) {
	for _, c := range []struct {
		fault string
		cycle int
		seed  uint64
	}{{"lag", 24, 1}, {"offset", 24, 2}, {"lag", 64, 3}, {"offset", 64, 1}} {
		f, err := synth.GenerateCyclicRelated(c.fault, 3000, c.cycle, c.seed)
		if err != nil {
			t.Fatal(err)
		}
		cfg := DefaultConfig()
		cfg.Drift.Enabled, cfg.Quality.Enabled = false, false
		w := cfg.Window.Size
		out := runRows(t, cfg, f.Values)
		during, before := coverage(out, f.Start+w, f.End), coverage(out, cfg.Reference.Samples, f.Start)
		cfg.Reference.RelationLags = nil
		without := coverage(runRows(t, cfg, f.Values), f.Start+w, f.End)
		t.Logf("%s, cycle %d: %s alerted on %.2f of it (%.2f without lags), %.2f of the rows before it",
			c.fault, c.cycle, synth.RelatedChannels[f.Channel], during, without, before)
		if during < 0.9 || before > 0.05 || without > 0.1 {
			t.Errorf("%s, cycle %d: alert open on %.2f of the fault (want >= 0.9), %.2f before it (want <= 0.05), %.2f without lags (want <= 0.1: the test no longer tests them)",
				c.fault, c.cycle, during, before, without)
		}
	}
}

// TestRelationLags: lags beyond half the window are left out, and a
// period too short for the rest takes fewer, evenly, the longest kept.
func TestRelationLags(t *testing.T) {
	lags := []int{1, 2, 3, 4, 6, 8, 12, 16}
	for _, c := range []struct {
		channels, rows, period, stride int
		want                           []int
	}{
		{5, 32, 400, 1, lags},
		{5, 16, 400, 1, []int{1, 2, 3, 4, 6, 8}},
		{8, 32, 400, 1, []int{2, 4, 8, 16}},
		{5, 32, 400, 3, []int{4, 16}},
		{50, 32, 400, 1, []int{}},
	} {
		if got := relationLags(lags, c.channels, c.rows, c.period, c.stride); !slices.Equal(got, c.want) {
			t.Errorf("%d channels, window %d, period %d, stride %d: lags %v, want %v", c.channels, c.rows, c.period, c.stride, got, c.want)
		}
	}
}

// BenchmarkPushRelated feeds a detector over the five channels of the
// pump whose load wanders, its relations in use, with and without their
// lags: a sample's cost once the reference period is over.
func BenchmarkPushRelated(b *testing.B) {
	f, err := synth.GenerateRelated("none", 3000, 1)
	if err != nil {
		b.Fatal(err)
	}
	for _, lags := range [][]int{DefaultReferenceConfig().RelationLags, nil} {
		b.Run(fmt.Sprintf("lags=%v", lags), func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.Reference.RelationLags = lags
			d, err := New(cfg, len(f.Values[0]))
			if err != nil {
				b.Fatal(err)
			}
			const warm = 1000
			for i := range warm {
				d.Push(int64(i+1)*1e9, f.Values[i])
			}
			if !d.ref.rel.active {
				b.Fatal("no relation in use")
			}
			b.ReportAllocs()
			i := warm
			for b.Loop() {
				d.Push(int64(i+1)*1e9, f.Values[warm+i%(len(f.Values)-warm)])
				i++
			}
		})
	}
}

// drivenPlant is n rows of c channels that one load drives, the load a
// random walk that goes far beyond what a reference period of a few
// hundred samples sees (a throughput, a plant's output): each channel
// follows it through a gain and a first-order lag of its own (1-40
// samples), with a slow wander of its own and noise. Channel faulty reads
// off by offset of its noise deviations over rows from..to-1.
func drivenPlant(n, c int, seed uint64, faulty, from, to int, offset float64) [][]float64 {
	r := rand.New(rand.NewPCG(seed, 21))
	gain, lag, own, noise := make([]float64, c), make([]float64, c), make([]float64, c), make([]float64, c)
	for j := range c {
		gain[j] = (0.5 + 2.5*r.Float64()) * float64(1-2*r.IntN(2))
		lag[j] = 1 + 39*r.Float64()
		own[j] = 0.03 * r.Float64()
		noise[j] = 0.1 + 0.4*r.Float64()
	}
	var load float64
	lagged, wander := make([]float64, c), make([]float64, c)
	rows := make([][]float64, n)
	for i := range rows {
		load += 0.02 * r.NormFloat64()
		row := make([]float64, c)
		for j := range row {
			lagged[j] += (load - lagged[j]) / lag[j]
			wander[j] = 0.995*wander[j] + own[j]*r.NormFloat64()
			row[j] = 10*float64(j+1) + gain[j]*lagged[j] + wander[j] + noise[j]*r.NormFloat64()
			if j == faulty && i >= from && i < to {
				row[j] += offset * noise[j]
			}
		}
		rows[i] = row
	}
	return rows
}

// TestRelationLearnsOnADrivenPlant: over the reference period the load
// hardly moves, so no relation explains enough there; learnt on, the
// channels are related once the load has moved, and an offset of 6 noise
// deviations on one of them late in the series is alerted throughout, with
// fewer false alerts before it than the levels alone give (the load takes
// each channel's level far beyond the period's).
func TestRelationLearnsOnADrivenPlant(t *testing.T) {
	const n, from, to = 20000, 12000, 13500
	seeds := []uint64{1, 2, 3, 4}
	var during, before, duringPlain, beforePlain float64
	for _, seed := range seeds {
		rows := drivenPlant(n, 6, seed, 2, from, to, 6)
		cfg := DefaultConfig()
		cfg.Drift.Enabled, cfg.Quality.Enabled = false, false
		out := runRows(t, cfg, rows)
		w, k := cfg.Window.Size, float64(len(seeds))
		on, normal := coverage(out, from+w, to), coverage(out, cfg.Reference.Samples, from)
		cfg.Reference.RelationLearnOn = false
		plain := runRows(t, cfg, rows)
		onPlain, normalPlain := coverage(plain, from+w, to), coverage(plain, cfg.Reference.Samples, from)
		t.Logf("seed %d: offset alerted on %.2f of its rows (%.2f not learning on), normal rows before it on %.3f (%.3f)", seed, on, onPlain, normal, normalPlain)
		if on < 0.9 {
			t.Errorf("seed %d: offset alerted on %.2f of its rows, want >= 0.9", seed, on)
		}
		during, before, duringPlain, beforePlain = during+on/k, before+normal/k, duringPlain+onPlain/k, beforePlain+normalPlain/k
	}
	t.Logf("means: offset %.2f (%.2f not learning on), normal rows %.3f (%.3f)", during, duringPlain, before, beforePlain)
	if before > beforePlain {
		t.Errorf("normal rows alerted on %.3f learning on, %.3f not: want no more", before, beforePlain)
	}
	if duringPlain > 0.9 {
		t.Errorf("not learning on, the offsets are alerted on %.2f of their rows: the test no longer needs the relation", duringPlain)
	}
}

// TestRelationRefitAllocatesNothing: a relation learning on refits every
// few hundred samples; the refit borrows its buffers from a pool, as the
// calibration's fit does (a garbage collection may empty it: none runs
// while allocations are counted).
func TestRelationRefitAllocatesNothing(t *testing.T) {
	d, _ := runDetector(t, DefaultConfig(), drivenPlant(3000, 3, 1, 0, 0, 0, 0))
	rel := d.ref.rel
	if !rel.rolling || !rel.done {
		t.Fatal("the relation does not learn on after its period")
	}
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	allocs := testing.AllocsPerRun(20, func() {
		rel.heldOut()
		if !rel.fit() {
			t.Fatal("no fit")
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per refit, want none", allocs)
	}
}

// TestRelationLearnOnR2RelatesAPartlyExplainedChannel: one channel of a
// driven plant carries noise of its own of half its spread, so the load
// explains about 80% of it: under relation_r2 (90%) but over
// relation_learn_on_r2 (70%). Learning on, its relation holds and it is
// related; an offset of three of its unexplained deviations is then
// alerted throughout, where its level, which the load moves, hides it.
func TestRelationLearnOnR2RelatesAPartlyExplainedChannel(t *testing.T) {
	const n, from, to, j, offset = 20000, 12000, 13500, 2, 3
	seeds := []uint64{1, 2, 3, 4, 5, 6}
	k := float64(len(seeds))
	var related int
	var during, normal, duringStrict, normalStrict float64
	for _, seed := range seeds {
		rows := drivenPlant(n, 6, seed, -1, 0, 0, 0)
		var sum, sumSq float64
		for _, x := range rows[:from] {
			sum, sumSq = sum+x[j], sumSq+x[j]*x[j]
		}
		mean := sum / from
		own := 0.5 * math.Sqrt(sumSq/from-mean*mean)
		r := rand.New(rand.NewPCG(seed, 5))
		for i, x := range rows {
			x[j] += own * r.NormFloat64()
			if i >= from && i < to {
				x[j] += offset * own
			}
		}
		cfg := DefaultConfig()
		cfg.Drift.Enabled, cfg.Quality.Enabled = false, false
		d, out := runDetector(t, cfg, rows)
		on, before := coverage(out, from+cfg.Window.Size, to), coverage(out, cfg.Reference.Samples, from)
		if d.ref.rel.related[j] {
			related++
			if on < 0.9 {
				t.Errorf("seed %d: the channel is related, its offset alerted on %.2f of its rows: want >= 0.9", seed, on)
			}
		}
		cfg.Reference.RelationLearnOnR2 = cfg.Reference.RelationR2
		strict := runRows(t, cfg, rows)
		onStrict, beforeStrict := coverage(strict, from+cfg.Window.Size, to), coverage(strict, cfg.Reference.Samples, from)
		t.Logf("seed %d: related %v: offset alerted on %.2f of its rows (%.2f at relation_r2), normal rows before it %.3f (%.3f)",
			seed, d.ref.rel.related[j], on, onStrict, before, beforeStrict)
		during, normal, duringStrict, normalStrict = during+on/k, normal+before/k, duringStrict+onStrict/k, normalStrict+beforeStrict/k
	}
	t.Logf("means: offset %.2f (%.2f at relation_r2), normal rows %.3f (%.3f)", during, duringStrict, normal, normalStrict)
	if during < 0.8 {
		t.Errorf("offsets alerted on %.2f of their rows, want >= 0.8", during)
	}
	if related < 5 {
		t.Errorf("the partly explained channel related in %d of %d seeds, want >= 5", related, len(seeds))
	}
	if normal > normalStrict {
		t.Errorf("normal rows alerted on %.3f, %.3f at relation_r2: want no more", normal, normalStrict)
	}
	if duringStrict > 0.7 {
		t.Errorf("at relation_r2 the offsets are alerted on %.2f of their rows: the test no longer needs relation_learn_on_r2", duringStrict)
	}
}

// TestRelationOfManySensors: in a plant of 96 sensors that three loads
// drive (synth.GeneratePlant), one sensor offset by 8-12 deviations of its
// noise, within its range, is alerted through its relation to the 16
// values it correlates with most. Reconstructed from all 95 others, the
// fit on half a reference period's rows failed its held-out half and the
// offset was missed.
func TestRelationOfManySensors(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Drift.Enabled, cfg.Quality.Enabled = false, false
	run := func(rows [][]float64, partners int) []scored {
		d, err := New(cfg, len(rows[0]))
		if err != nil {
			t.Fatal(err)
		}
		if partners > 0 {
			d.ref.rel.partners = partners
		}
		out := make([]scored, len(rows))
		for i, x := range rows {
			for _, r := range d.Push(int64(i+1)*1e9, x) {
				out[r.Seq] = scored{alert: r.Anomaly.Open, seen: true}
			}
		}
		return out
	}
	for _, seed := range []uint64{1, 3} {
		f, err := synth.GeneratePlant("offset", 2000, 96, seed)
		if err != nil {
			t.Fatal(err)
		}
		from := f.Start + cfg.Window.Size
		during, all := coverage(run(f.Values, 0), from, f.End), coverage(run(f.Values, 96), from, f.End)
		t.Logf("seed %d: %s off by %+.3g: alert open on %.2f of it (%.2f with every other sensor in each relation)", seed, f.Channels[f.Channel], f.Size, during, all)
		if during < 0.8 || during < all+0.3 {
			t.Errorf("seed %d: alert open on %.2f of the offset (want >= 0.8 and 0.3 more than the %.2f with every other sensor in each relation)", seed, during, all)
		}
	}
}
