package detector

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/aewatch/aewatch/window"
)

// missingRows is three noisy channels, 2,600 rows; channel 2 lacks its
// values (NaN) on rows [gapFrom, gapTo), and with step channel 0 reads 5
// high (25 deviations of its noise, 7 of its spread with its cycle) on
// rows [stepFrom, stepTo).
func missingRows(seed uint64, step bool) [][]float64 {
	rng := rand.New(rand.NewPCG(seed, 7))
	rows := make([][]float64, 2600)
	for i := range rows {
		c0 := 10 + math.Sin(float64(i)/25) + 0.2*rng.NormFloat64()
		c1 := 5 + 0.5*math.Sin(float64(i)/25) + 0.3*rng.NormFloat64()
		c2 := 20 + 0.5*rng.NormFloat64()
		if step && i >= stepFrom && i < stepTo {
			c0 += 5
		}
		if i >= gapFrom && i < gapTo {
			c2 = math.NaN()
		}
		rows[i] = []float64{c0, c1, c2}
	}
	return rows
}

const gapFrom, gapTo, stepFrom, stepTo = 2000, 2300, 2100, 2250

// TestMissingValuesKeepTheOtherChannels: a channel that drops out of a
// multivariate series for 300 samples costs the others nothing: every
// row is scored, no alert of any kind opens for the dropout, and a step
// on another channel during it is alerted on at least 70% of its rows. A
// flat fill judged as a value would pass for a stuck sensor.
func TestMissingValuesKeepTheOtherChannels(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		cfg := DefaultConfig()
		cfg.Seed = seed
		cfg.Drift.Reference, cfg.Drift.Horizon = 1000, 250 // monitoring by the dropout
		for _, step := range []bool{false, true} {
			d, err := New(cfg, 3)
			if err != nil {
				t.Fatal(err)
			}
			var opened []int
			alerted := 0
			for i, x := range missingRows(seed, step) {
				for _, r := range d.Push(int64(i+1)*1e9, x) {
					k := int(r.Seq)
					missing := k >= gapFrom && k < gapTo
					if k >= cfg.Window.Size && !r.Scored {
						t.Fatalf("seed %d: row %d not scored (status %v)", seed, k, r.Status)
					}
					if got := r.Missing != nil && r.Missing[2]; got != missing || r.Missing != nil && (r.Missing[0] || r.Missing[1]) {
						t.Fatalf("seed %d: row %d Missing %v, want channel 2 only inside the gap", seed, k, r.Missing)
					}
					for _, o := range []Outcome{r.Anomaly, r.DriftAlert, r.Quality} {
						if o.Event == Opened && k >= gapFrom-cfg.Window.Size && k < gapTo+2*cfg.Window.Size {
							opened = append(opened, k)
						}
					}
					if k >= stepFrom+cfg.Window.Size && k < stepTo && r.Anomaly.Open {
						alerted++
					}
				}
			}
			switch {
			case !step && len(opened) > 0:
				t.Errorf("seed %d: alerts opened at rows %v around a dropout with no fault", seed, opened)
			case step && float64(alerted) < 0.7*float64(stepTo-stepFrom-cfg.Window.Size):
				t.Errorf("seed %d: a step on another channel during the dropout alerted on %d of %d rows",
					seed, alerted, stepTo-stepFrom-cfg.Window.Size)
			}
		}
	}
}

// TestMissingValuesResumeExactly: a snapshot taken inside a dropout
// resumes bit for bit, its masks included, at stride 1 and 4.
func TestMissingValuesResumeExactly(t *testing.T) {
	for _, stride := range []int{1, 4} {
		cfg := DefaultConfig()
		cfg.Window.Stride = stride
		rows := missingRows(1, true)
		a, err := New(cfg, 3)
		if err != nil {
			t.Fatal(err)
		}
		const cut = 2150
		for i, x := range rows[:cut] {
			a.Push(int64(i+1)*1e9, x)
		}
		snap, err := a.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := New(cfg, 3)
		if err := b.UnmarshalBinary(snap); err != nil {
			t.Fatal(err)
		}
		for i := cut; i < len(rows); i++ {
			ra, rb := a.Push(int64(i+1)*1e9, rows[i]), b.Push(int64(i+1)*1e9, rows[i])
			if len(ra) != len(rb) {
				t.Fatalf("stride %d: row %d: %d results against %d", stride, i, len(ra), len(rb))
			}
			for k := range ra {
				x, y := ra[k], rb[k]
				if x.Score != y.Score || x.RefScore != y.RefScore || x.Anomaly.Open != y.Anomaly.Open || x.Drift != y.Drift ||
					!slices.Equal(x.Missing, y.Missing) || !slices.Equal(x.ChannelError, y.ChannelError) {
					t.Fatalf("stride %d: row %d: resumed detector differs: %+v against %+v", stride, x.Seq, y, x)
				}
				if want := x.Seq >= gapFrom && x.Seq < gapTo; (x.Missing != nil) != want {
					t.Fatalf("stride %d: row %d: Missing %v", stride, x.Seq, x.Missing)
				}
			}
		}
	}
}

// TestMissingValuesRejectedWhenNothingToFill: a row with every value
// missing, or one before any row was accepted, is rejected as before; one
// channel has nothing to fill from either.
func TestMissingValuesRejectedWhenNothingToFill(t *testing.T) {
	d, err := New(DefaultConfig(), 2)
	if err != nil {
		t.Fatal(err)
	}
	nan := math.NaN()
	for i, x := range [][]float64{{1, nan}, {nan, nan}} {
		if r := d.Push(int64(i+1)*1e9, x); len(r) != 1 || r[0].Status != window.NonFinite {
			t.Errorf("row %v: status %v, want non-finite", x, r[0].Status)
		}
	}
	one, _ := New(DefaultConfig(), 1)
	one.Push(1e9, []float64{1})
	if r := one.Push(2e9, []float64{nan}); r[0].Status != window.NonFinite {
		t.Errorf("one channel: status %v, want non-finite", r[0].Status)
	}
}

// TestMissingChannelKeepsItsAlertOpen: a fault on the channel that then
// drops out keeps its alert open through the dropout (its end cannot be
// told), where the other channels alone would have closed it.
func TestMissingChannelKeepsItsAlertOpen(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		cfg := DefaultConfig()
		cfg.Seed = seed
		d, err := New(cfg, 3)
		if err != nil {
			t.Fatal(err)
		}
		open := 0
		for i, x := range missingRows(seed, false) {
			if i >= gapFrom-200 && i < gapFrom {
				x[2] += 5 // ten deviations: the fault, then the dropout
			}
			for _, r := range d.Push(int64(i+1)*1e9, x) {
				if k := int(r.Seq); k >= gapFrom && k < gapTo && r.Anomaly.Open {
					open++
				}
			}
		}
		if open != gapTo-gapFrom {
			t.Errorf("seed %d: the alert was open on %d of the dropout's %d rows, want all", seed, open, gapTo-gapFrom)
		}
	}
}
