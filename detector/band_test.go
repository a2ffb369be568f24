package detector

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestBandEdgesAreWhereTheScoreReachesOpen pushes, on copies of a detector,
// values just inside and just outside each finite edge of the band it gave
// for the sample, and checks that the score is below alert.open inside and
// reaches it outside, for every kind and for two channels (the other
// channel's error counts towards the sample's). Samples where the band
// says it is inexact (a refit the sample triggers, a red right after a
// red or within a score episode, the error average's lower tail) are left out; they are counted so
// that the test cannot pass on nothing.
func TestBandEdgesAreWhereTheScoreReachesOpen(t *testing.T) {
	for _, tc := range []struct {
		kind     Kind
		channels int
		variant  string
	}{{Autoencoder, 1, ""}, {Autoencoder, 2, ""}, {Frozen, 1, ""}, {Persistence, 1, ""}, {Range, 1, ""}, {Autoencoder, 1, "variational"}} {
		t.Run(string(tc.kind)+"/"+string(rune('0'+tc.channels))+tc.variant, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Kind, cfg.Drift.Enabled, cfg.Quality.Enabled = tc.kind, false, false
			if tc.variant != "" {
				cfg.Model.Variant = tc.variant
			}
			d, err := New(cfg, tc.channels)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(3, 4))
			value := func(i, j int) float64 {
				return 50 + 5*math.Sin(2*math.Pi*float64(i)/(40+7*float64(j))) + 0.5*rng.NormFloat64()
			}
			x := make([]float64, tc.channels)
			checked, finite := 0, 0
			every := 5
			if testing.Short() {
				every = 25 // under emulation (scripts/arm64-check.sh) every copy costs fifty times as much
			}
			for i := range 1600 {
				for j := range x {
					x[j] = value(i, j)
				}
				ts := int64(i+1) * 1e9
				if i < 700 || i%every != 0 {
					d.Push(ts, x)
					continue
				}
				snap, err := d.AppendBinary(nil)
				if err != nil {
					t.Fatal(err)
				}
				exact := d.cal.sinceFit+1 < cfg.Calibration.Reestimate && d.cal.prevTail > redTail &&
					(d.cal.inst == nil || d.cal.inst.prev > redTail) && !d.alert.open && !d.inEpisode(uint64(d.accepted+1))
				res := d.Push(ts, x)
				if len(res) != 1 || !res[0].Scored {
					t.Fatalf("sample %d: not scored", i)
				}
				r := res[0]
				for j := range x {
					lo, ex, hi := r.Lower[j], r.Expected[j], r.Upper[j]
					if !(lo <= ex && ex <= hi) {
						t.Fatalf("sample %d channel %d: band %v <= %v <= %v does not hold", i, j, lo, ex, hi)
					}
					if !exact || lo == hi {
						continue
					}
					for _, edge := range []float64{lo, hi} {
						if math.IsInf(edge, 0) {
							continue
						}
						finite++
						out := math.Copysign(1, edge-ex)
						step := 1e-6 * (hi - lo)
						inside := scoreAt(t, cfg, tc.channels, snap, ts, x, j, edge-out*step)
						outside := scoreAt(t, cfg, tc.channels, snap, ts, x, j, edge+out*step)
						if inside >= cfg.Alert.Open || outside < cfg.Alert.Open {
							t.Fatalf("sample %d channel %d edge %v (expected %v): score %v just inside, %v just outside; want below and at or above %v",
								i, j, edge, ex, inside, outside, cfg.Alert.Open)
						}
						checked++
					}
				}
			}
			if checked < 20 {
				t.Fatalf("only %d band edges checked (%d finite): the test needs finite bands to mean anything", checked, finite)
			}
			t.Logf("%d band edges checked", checked)
		})
	}
}

// scoreAt restores snap into a fresh detector and returns the score of the
// sample x with channel j set to v.
func scoreAt(t *testing.T, cfg Config, channels int, snap []byte, ts int64, x []float64, j int, v float64) float64 {
	t.Helper()
	d, err := New(cfg, channels)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.UnmarshalBinary(snap); err != nil {
		t.Fatal(err)
	}
	y := append([]float64(nil), x...)
	y[j] = v
	return d.Push(ts, y)[0].Score
}

// TestOneWildSampleReachesTheThreshold: a single sample far off a noisy
// oscillation scores at or above alert.open with the single-sample track
// (calibration.instant), where the averaged score alone stays below it:
// one error in an average of twenty, capped, cannot move it that far.
func TestOneWildSampleReachesTheThreshold(t *testing.T) {
	const n, at = 2400, 2000
	rng := rand.New(rand.NewPCG(5, 6))
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = 50 + 5*math.Sin(2*math.Pi*float64(i)/40) + 0.3*rng.NormFloat64()
	}
	xs[at] += 6
	for _, instant := range []bool{true, false} {
		cfg := DefaultConfig()
		cfg.Calibration.Instant = instant
		got := run(t, cfg, times(n), xs)
		peak := 0.0
		for _, s := range got[at : at+5] {
			peak = max(peak, s.score)
		}
		t.Logf("instant %v: score at the wild sample %.3f (peak over 5 samples %.3f)", instant, got[at].score, peak)
		if reached := got[at].score >= cfg.Alert.Open; reached != instant {
			t.Errorf("instant %v: score %.3f at the wild sample; want it at or above %v only with the single-sample track", instant, got[at].score, cfg.Alert.Open)
		}
	}
}

// TestEpisodeGapReportsOnce: two wild samples 10 apart are one episode,
// reported by the first one's score; the second's is shown lowered to
// the repeat score, where with episode_gap 0 it reaches alert.open too. A
// third, well after the episode, is reported again. The alert's evidence
// and the alert itself are the same either way.
func TestEpisodeGapReportsOnce(t *testing.T) {
	const n = 2400
	rng := rand.New(rand.NewPCG(5, 6))
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = 50 + 5*math.Sin(2*math.Pi*float64(i)/40) + 0.3*rng.NormFloat64()
	}
	spikes := []int{2000, 2010, 2200}
	for k, at := range spikes {
		xs[at] += float64(6 + 6*(k/2)) // the last larger: the single-sample tail has learnt two
	}
	cfg := DefaultConfig()
	episodes := run(t, cfg, times(n), xs)
	cfg.EpisodeGap = 0
	each := run(t, cfg, times(n), xs)
	for _, at := range spikes {
		if each[at].score < cfg.Alert.Open {
			t.Fatalf("episode_gap 0: wild sample %d scores %.3f, below %v: the test needs each to reach it", at, each[at].score, cfg.Alert.Open)
		}
	}
	if episodes[2000].score < cfg.Alert.Open || episodes[2200].score < cfg.Alert.Open {
		t.Errorf("episode_gap 32: the first and the later wild sample score %.3f and %.3f; want both at or above %v",
			episodes[2000].score, episodes[2200].score, cfg.Alert.Open)
	}
	if got := episodes[2010].score; got != repeatScore {
		t.Errorf("episode_gap 32: the wild sample 10 after the first scores %v; want the repeat score %v", got, repeatScore)
	}
	for i := range episodes {
		e, a := episodes[i], each[i]
		if e.evidence != a.evidence || e.alert != a.alert || e.score > a.score || (e.score != a.score && e.score != repeatScore) {
			t.Fatalf("sample %d: with episodes score %v evidence %v alert %v; without %v %v %v", i, e.score, e.evidence, e.alert, a.score, a.evidence, a.alert)
		}
	}
}
