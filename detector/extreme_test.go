package detector

import (
	"math/rand/v2"
	"testing"
)

// cooling is a temperature falling slowly in its noise, as a pump's casing
// cools after a start: every so often a new low beyond the young range by
// the tolerance, each a sample the model predicts as well as any other.
func cooling(n int, seed uint64) []float64 {
	r := rand.New(rand.NewPCG(seed, 5))
	x := make([]float64, n)
	for i := range x {
		x[i] = 75 - 0.002*float64(i) + 0.1*r.NormFloat64()
	}
	return x
}

// TestNewExtreme: a spike beyond everything the series has shown scores 1
// (its evidence: the score shown may be an episode's repeat),
// opens an alert explained as a new extreme (also after a restore from a
// snapshot taken while it is open) and lies outside its band; a channel
// that cools to new lows in its noise never scores one, as it does when
// the error need not be large too (spatial_error 0: 5-8 on seeds 1-3).
func TestNewExtreme(t *testing.T) {
	cfg := DefaultConfig()
	for _, seed := range []uint64{1, 2, 3} {
		cfg.Seed = seed
		xs := signal(3000, seed)
		xs[2000] += 15
		d, err := New(cfg, 1)
		if err != nil {
			t.Fatal(err)
		}
		var snap []byte
		var closedFrom string
		for i, x := range xs {
			for _, r := range d.Push(int64(i+1)*60e9, []float64{x}) {
				switch {
				case r.Seq == 2000:
					if !r.Extreme || r.Evidence != 1 || r.Anomaly.Event != Opened || r.Anomaly.Why.Statistic != StatisticExtreme || r.Anomaly.Why.Departure[0] <= 0 {
						t.Fatalf("seed %d: the spike: extreme %v evidence %v event %v explained by %q", seed, r.Extreme, r.Evidence, r.Anomaly.Event, r.Anomaly.Why.Statistic)
					}
					if r.Upper[0] >= x {
						t.Errorf("seed %d: the spike %.2f within its band's upper edge %.2f", seed, x, r.Upper[0])
					}
				case r.Extreme:
					t.Errorf("seed %d: sample %d (%.2f) scored a new extreme", seed, r.Seq, x)
				}
				if r.Seq > 2000 && r.Anomaly.Event == Closed && closedFrom == "" {
					closedFrom = r.Anomaly.Why.Statistic
				}
			}
			if i == 2001 {
				if snap, err = d.AppendBinary(nil); err != nil {
					t.Fatal(err)
				}
			}
		}
		if closedFrom != StatisticExtreme {
			t.Errorf("seed %d: the alert closed explained by %q", seed, closedFrom)
		}
		b, _ := New(cfg, 1)
		if err := b.UnmarshalBinary(snap); err != nil {
			t.Fatal(err)
		}
		closedFrom = ""
		for i, x := range xs[2002:] {
			for _, r := range b.Push(int64(i+2003)*60e9, []float64{x}) {
				if r.Anomaly.Event == Closed && closedFrom == "" {
					closedFrom = r.Anomaly.Why.Statistic
				}
			}
		}
		if closedFrom != StatisticExtreme {
			t.Errorf("seed %d: after a restore the alert closed explained by %q", seed, closedFrom)
		}
	}

	for _, minError := range []float64{cfg.SpatialError, 0} {
		for _, seed := range []uint64{1, 2, 3} {
			c := cfg
			c.SpatialError = minError
			d, err := New(c, 1)
			if err != nil {
				t.Fatal(err)
			}
			extremes := 0
			for i, x := range cooling(3000, seed) {
				for _, r := range d.Push(int64(i+1)*60e9, []float64{x}) {
					if r.Extreme {
						extremes++
					}
				}
			}
			switch {
			case minError > 0 && extremes > 0:
				t.Errorf("seed %d: a cooling channel scored %d new extremes", seed, extremes)
			case minError == 0 && extremes < 3:
				t.Errorf("seed %d: with any error a new extreme, a cooling channel scored %d: the test does not try the check", seed, extremes)
			}
			t.Logf("seed %d, spatial_error %v: a cooling channel scored %d new extremes", seed, minError, extremes)
		}
	}
}
