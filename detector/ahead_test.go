package detector

import (
	"slices"
	"testing"

	"github.com/aewatch/aewatch/window"
)

// pushFlushed feeds xs at times ts through d, then Flush, and returns every
// result in the order returned (slices copied).
func pushFlushed(d *Detector, ts []int64, xs []float64) []Result {
	var out []Result
	for i, t := range ts {
		for _, r := range d.Push(t, []float64{xs[i]}) {
			out = append(out, r.clone())
		}
	}
	for _, r := range d.Flush() {
		out = append(out, r.clone())
	}
	return out
}

// TestClockGlitchAhead: one sample of a series sampled every minute dated
// 30 minutes ahead (a device's clock glitch) is dropped as Ahead, and
// every other sample is scored as if it had never come; without the hold
// the series dropped the 29 samples within its 30 minutes as out of order.
func TestClockGlitchAhead(t *testing.T) {
	const n, at = 3000, 1500
	xs, ts := signal(n, 1), times(n)
	glitched := slices.Clone(ts)
	glitched[at] = ts[at-1] + 30*60e9
	cfg := DefaultConfig()
	d, _ := New(cfg, 1)
	got := pushFlushed(d, glitched, xs)
	if len(got) != n {
		t.Fatalf("%d results for %d samples", len(got), n)
	}
	for i, r := range got {
		if r.Seq != uint64(i) {
			t.Fatalf("result %d has seq %d: results out of order", i, r.Seq)
		}
		if want := i == at; (r.Status == window.Ahead) != want || (r.Status == window.OutOfOrder) {
			t.Fatalf("sample %d: status %v", i, r.Status)
		}
	}
	// The same series without the glitched sample scores alike.
	clean, _ := New(cfg, 1)
	want := pushFlushed(clean, slices.Delete(slices.Clone(ts), at, at+1), slices.Delete(slices.Clone(xs), at, at+1))
	got = slices.Delete(got, at, at+1)
	for i := range want {
		if got[i].Score != want[i].Score || got[i].Anomaly.Open != want[i].Anomaly.Open || got[i].Time != want[i].Time {
			t.Fatalf("sample %d: score %v alert %v, without the glitch %v %v", i, got[i].Score, got[i].Anomaly.Open, want[i].Score, want[i].Anomaly.Open)
		}
	}
	cfg.Window.HoldAhead = 0
	off, _ := New(cfg, 1)
	dropped := 0
	for _, r := range pushFlushed(off, glitched, xs) {
		if r.Status == window.OutOfOrder {
			dropped++
		}
	}
	if dropped != 29 {
		t.Errorf("without the hold %d samples dropped as out of order, want 29 (the test no longer shows the hold's use)", dropped)
	}
}

// TestGapAfterHold: a series that resumes after an hour's gap (its first
// three samples stamped alike, as NAB's exports have them where the clocks
// went forward), or ends on a sample dated far ahead, loses nothing to the
// hold: every result is as without it, the sample after the gap returned
// with the next one's.
func TestGapAfterHold(t *testing.T) {
	const n = 2000
	xs, ts := signal(n, 2), times(n)
	for i := 1200; i < n; i++ {
		ts[i] += 3600e9
	}
	ts[1201], ts[1202] = ts[1200], ts[1200]
	ts[n-1] += 7200e9 // the last sample far ahead: Flush returns it
	held, _ := New(DefaultConfig(), 1)
	cfg := DefaultConfig()
	cfg.Window.HoldAhead = 0
	plain, _ := New(cfg, 1)
	got, want := pushFlushed(held, ts, xs), pushFlushed(plain, ts, xs)
	if len(got) != n || len(want) != n {
		t.Fatalf("%d and %d results for %d samples", len(got), len(want), n)
	}
	for i := range want {
		if got[i].Seq != want[i].Seq || got[i].Status != want[i].Status || got[i].Score != want[i].Score || got[i].Anomaly.Open != want[i].Anomaly.Open {
			t.Fatalf("result %d: seq %d status %v score %v, without the hold %d %v %v", i, got[i].Seq, got[i].Status, got[i].Score, want[i].Seq, want[i].Status, want[i].Score)
		}
	}
}

// TestSnapshotWhileHoldingAhead: restored from a snapshot taken while a
// sample is held, a detector settles it with the next sample as the
// uninterrupted one does.
func TestSnapshotWhileHoldingAhead(t *testing.T) {
	const n, at = 1200, 900
	xs, ts := signal(n, 3), times(n)
	ts[at] += 30 * 60e9
	cfg := DefaultConfig()
	a, _ := New(cfg, 1)
	b, _ := New(cfg, 1)
	for i := range at + 1 {
		a.Push(ts[i], []float64{xs[i]})
		b.Push(ts[i], []float64{xs[i]})
	}
	if !b.ahead.held {
		t.Fatal("the sample dated ahead is not held")
	}
	snap, err := b.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	c, _ := New(cfg, 1)
	if err := c.UnmarshalBinary(snap); err != nil {
		t.Fatal(err)
	}
	for i := at + 1; i < n; i++ {
		ra, rc := a.Push(ts[i], []float64{xs[i]}), c.Push(ts[i], []float64{xs[i]})
		if len(ra) != len(rc) {
			t.Fatalf("sample %d: %d results, restored %d", i, len(ra), len(rc))
		}
		for k := range ra {
			if ra[k].Seq != rc[k].Seq || ra[k].Status != rc[k].Status || ra[k].Score != rc[k].Score {
				t.Fatalf("sample %d: seq %d status %v score %v, restored %d %v %v", i, ra[k].Seq, ra[k].Status, ra[k].Score, rc[k].Seq, rc[k].Status, rc[k].Score)
			}
		}
	}
}

// TestNoHoldInASilence: during a maintenance window the detector's own
// window stops at the silence's start; samples then go to its copy, whose
// newest time is the one a sample dated ahead is measured from, so none is
// held (one result per push) and the first sample after the window is not
// taken for a jump either.
func TestNoHoldInASilence(t *testing.T) {
	const n, from, to = 2000, 1000, 1300
	ts, xs := times(n), signal(n, 4)
	d, _ := New(DefaultConfig(), 1)
	d.SetSilences([]TimeRange{{ts[from], ts[to]}})
	for i := range xs {
		if res := d.Push(ts[i], []float64{xs[i]}); len(res) != 1 || res[0].Seq != uint64(i) {
			t.Fatalf("sample %d: %d results (want one, its own)", i, len(res))
		}
	}
}
