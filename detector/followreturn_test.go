package detector

import (
	"slices"
	"testing"
)

// TestHeldLevelFollowsOnceTheSignalIsBack: a step fault of ten noise
// deviations lasts 600 samples, and meanwhile the normal itself steps up
// by five (the plant moved on under the fault). After the fault the
// channel sits beyond the gate from the level the alert held: held, the
// alert stays open to the hold limit; back within half of the fault's
// departure for follow_return samples, its level follows and the alert
// closes. The fault is alerted throughout either way.
func TestHeldLevelFollowsOnceTheSignalIsBack(t *testing.T) {
	const n, from, to = 4000, 1500, 2100
	xs := shifted(n, from, to, 3, 7)
	for i := 1800; i < n; i++ {
		xs[i] += 1.5
	}
	cfg, out, held := returnRuns(t, xs)
	lateFrom, lateTo := to+200, from+cfg.Reference.HoldLimit
	during, after := coverage(out, from, to), coverage(out, lateFrom, lateTo)
	heldDuring, heldAfter := coverage(held, from, to), coverage(held, lateFrom, lateTo)
	t.Logf("fault alerted on %.2f of its rows (%.2f without follow_return), rows %d-%d on %.2f (%.2f)", during, heldDuring, lateFrom, lateTo, after, heldAfter)
	if during < 0.9 || heldDuring < 0.9 {
		t.Errorf("fault alerted on %.2f of its rows, %.2f without follow_return: want >= 0.9", during, heldDuring)
	}
	if after > 0.05 {
		t.Errorf("rows %d-%d alerted on %.2f, want <= 0.05: the level the fault held was not followed", lateFrom, lateTo, after)
	}
	if heldAfter < 0.9 {
		t.Errorf("without follow_return rows %d-%d alerted on %.2f, want >= 0.9: the test no longer shows a stale held level", lateFrom, lateTo, heldAfter)
	}

	// Restored while the channel is counted back, the detector scores the
	// rest as the uninterrupted one: the count is in the snapshot.
	ts := times(n)
	a, _ := New(cfg, 1)
	cut := -1
	for i := range n {
		a.Push(ts[i], xs[i:i+1])
		if i > to && a.ref.back[0] > 1 && a.ref.back[0] < a.ref.returnWindows-1 {
			cut = i + 1
			break
		}
	}
	if cut < 0 {
		t.Fatal("the channel was never counted back short of a return")
	}
	resumesUninterrupted(t, cfg, a, cut, ts, xs, out)
}

// TestReturnBeyondTheClipFollows: a fault beyond the window's clip ends as
// the plant steps the other way by as much, so the channel comes back past
// the level the alert held, wholly clipped on that side too. It has
// returned all the same: its level follows and the alert closes, where
// the clip's own rule (a clipped mean does not say how far the level
// moved) held it stale to the hold limit.
func TestReturnBeyondTheClipFollows(t *testing.T) {
	const n, from, to = 4000, 1500, 2100
	xs := shifted(n, from, to, -45, 7)
	for i := to; i < n; i++ {
		xs[i] += 45 // 13 of the channel's deviations: beyond the clip (8) either way
	}
	cfg, out, held := returnRuns(t, xs)
	lateFrom, lateTo := to+300, from+cfg.Reference.HoldLimit
	during, after := coverage(out, from, to), coverage(out, lateFrom, lateTo)
	heldAfter := coverage(held, lateFrom, lateTo)
	t.Logf("fault alerted on %.2f of its rows, rows %d-%d on %.2f (%.2f without follow_return)", during, lateFrom, lateTo, after, heldAfter)
	if during < 0.9 {
		t.Errorf("fault alerted on %.2f of its rows, want >= 0.9", during)
	}
	if after > 0.05 {
		t.Errorf("rows %d-%d alerted on %.2f, want <= 0.05: the channel back beyond the clip was not followed", lateFrom, lateTo, after)
	}
	if heldAfter < 0.9 {
		t.Errorf("without follow_return rows %d-%d alerted on %.2f, want >= 0.9: the test no longer shows a clipped stale level", lateFrom, lateTo, heldAfter)
	}
}

// returnRuns scores xs with follow_return as the default has it (out, with
// that config) and off (held), drift and quality checks off in both.
func returnRuns(t *testing.T, xs []float64) (cfg Config, out, held []scored) {
	t.Helper()
	cfg = DefaultConfig()
	cfg.Drift.Enabled, cfg.Quality.Enabled = false, false
	off := cfg
	off.Reference.FollowReturn = 0
	return cfg, run(t, cfg, times(len(xs)), xs), run(t, off, times(len(xs)), xs)
}

// TestReturnNeedsWindowsInARow: a held channel is back once its window
// mean has been within half of the alert's largest departure, or past its
// level to the other side, for follow_return windows in a row: a shorter
// dip (an oscillating departure grazing half of it) is not a return.
// Departures within the gate before the alert's largest do not set the
// side; a channel the alert does not hold, or one with a cycle, never
// returns, and a closed alert forgets the departures.
func TestReturnNeedsWindowsInARow(t *testing.T) {
	cfg := DefaultConfig()
	d, err := New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	r, k := d.ref, cfg.Reference.FollowReturn
	r.held[0] = true
	feed := func(holding bool, ds ...float64) (returnedAt int) {
		returnedAt = -1
		for i, dep := range ds {
			if r.returned(0, dep, holding) && returnedAt < 0 {
				returnedAt = i
			}
		}
		return returnedAt
	}
	repeat := func(v float64, n int) []float64 { return slices.Repeat([]float64{v}, n) }
	if at := feed(true, append(append([]float64{-3, 10}, repeat(4, k-1)...), 10)...); at >= 0 {
		t.Errorf("back for %d windows, then away again: returned at window %d", k-1, at)
	}
	if at := feed(true, repeat(4.9, k)...); at != k-1 {
		t.Errorf("within half for %d windows: returned at window %d, want %d", k, at, k-1)
	}
	feed(false, 0)
	if r.peak[0] != 0 || r.back[0] != 0 {
		t.Errorf("a closed alert left departure %v, %d windows back", r.peak[0], r.back[0])
	}
	// The side is the one the departure left the gate on.
	if at := feed(true, append([]float64{4, -12, -8, -7}, repeat(2, k)...)...); at != 3+k {
		t.Errorf("past the level to the other side for %d windows: returned at window %d, want %d", k, at, 3+k)
	}
	if at := feed(true, repeat(-6.1, 2*k)...); at >= 0 {
		t.Errorf("at -6.1 with the alert's largest departure -12: returned at window %d", at)
	}
	feed(false, 0)
	if at := feed(true, append([]float64{10}, repeat(-15, k)...)...); at != k {
		t.Errorf("further past the level on the other side than the fault went: returned at window %d, want %d", at, k)
	}
	feed(false, 0)
	r.season.done, r.season.period = true, []int{6}
	if at := feed(true, append([]float64{12}, repeat(0, 2*k)...)...); at >= 0 {
		t.Errorf("a channel with a cycle returned at window %d", at)
	}
	feed(false, 0)
	r.season.done, r.held[0] = false, false
	if at := feed(true, append([]float64{12}, repeat(0, 2*k)...)...); at >= 0 {
		t.Errorf("a channel the alert does not hold returned at window %d", at)
	}
}
