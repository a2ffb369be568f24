package detector

import (
	"math/rand/v2"
	"testing"
)

// shortCycling is a motor current on an on/off duty cycle: runs of about on
// and off samples (±5%), shortened to a share short of that from sample
// from to sample to (short cycling), with noise.
func shortCycling(n, on, off, from, to int, short float64, seed uint64) (xs []float64, runsFrom, runsTo int) {
	r := rand.New(rand.NewPCG(seed, 11))
	runsFrom, runsTo = -1, -1
	for len(xs) < n {
		k := 1.0
		if i := len(xs); i >= from && i < to {
			k = short
			if runsFrom < 0 {
				runsFrom = i
			}
		} else if i >= to && runsTo < 0 && runsFrom >= 0 {
			runsTo = i
		}
		for s, length := range []int{on, off} {
			m := int(k * float64(length) * (0.95 + 0.1*r.Float64()))
			for range m {
				v := 0.5 + 0.2*r.NormFloat64()
				if s == 0 {
					v = 38 + r.NormFloat64()
				}
				xs = append(xs, v)
			}
		}
	}
	return xs[:n], runsFrom, runsTo
}

// TestShortCyclingIsAnAnomaly: a motor whose on and off runs shrink to 40%
// of their length for a few cycles (a compressor short-cycling) shows
// normal levels and normal switches in every window; the run lengths find
// it, the alert staying open over most of the short cycling, and add no
// alert on the normal cycles around it.
func TestShortCyclingIsAnAnomaly(t *testing.T) {
	if testing.Short() {
		t.Skip("scores 24,000 samples four times")
	}
	const n, on, off = 24000, 600, 400
	for seed := uint64(1); seed <= 2; seed++ {
		xs, from, to := shortCycling(n, on, off, 14000, 16400, 0.4, seed)
		cfg := DefaultConfig()
		cfg.Drift.Enabled, cfg.Quality.Enabled = false, false
		out := run(t, cfg, times(n), xs)
		with, before, after := coverage(out, from, to), coverage(out, 6000, from), coverage(out, to+on, n)
		cfg.Reference.ShortRuns = 0
		plain := run(t, cfg, times(n), xs)
		without, beforeWithout, afterWithout := coverage(plain, from, to), coverage(plain, 6000, from), coverage(plain, to+on, n)
		t.Logf("seed %d: short cycling over samples %d-%d: alert open on %.2f of it with run lengths, %.2f without; %.3f of the normal cycles before (%.3f without), %.3f after (%.3f)",
			seed, from, to, with, without, before, beforeWithout, after, afterWithout)
		if with < 0.6 || without > 0.2 {
			t.Errorf("seed %d: alert open on %.2f of the short cycling with run lengths, %.2f without: want >= 0.6 and <= 0.2", seed, with, without)
		}
		if before > beforeWithout || after > afterWithout {
			t.Errorf("seed %d: alert open on %.3f of the normal cycles before and %.3f after, %.3f and %.3f without run lengths: want no more", seed, before, after, beforeWithout, afterWithout)
		}
	}
}

// TestRunLengthsSurviveSnapshot: restored in the middle of the short
// cycling, a detector goes on bit for bit as the uninterrupted one.
func TestRunLengthsSurviveSnapshot(t *testing.T) {
	const n, cut = 20000, 15000
	xs, _, _ := shortCycling(n, 600, 400, 14000, 16400, 0.4, 1)
	ts := times(n)
	a, _ := New(DefaultConfig(), 1)
	for i := range cut {
		a.Push(ts[i], xs[i:i+1])
	}
	if a.ref.runs == nil || !a.ref.marg.modal[0] || a.ref.runs.count[0][0] < runsToLearn {
		t.Fatal("the duty cycle's runs are not followed: the test no longer tests them")
	}
	snap, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := New(DefaultConfig(), 1)
	if err := b.UnmarshalBinary(snap); err != nil {
		t.Fatal(err)
	}
	for i := cut; i < n; i++ {
		ra, rb := a.Push(ts[i], xs[i:i+1]), b.Push(ts[i], xs[i:i+1])
		if len(ra) != len(rb) || len(ra) > 0 && (ra[0].Score != rb[0].Score || ra[0].RefScore != rb[0].RefScore || ra[0].Anomaly.Open != rb[0].Anomaly.Open) {
			t.Fatalf("sample %d: restored detector differs", i)
		}
	}
}
