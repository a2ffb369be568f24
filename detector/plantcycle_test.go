package detector

import (
	"testing"

	"github.com/aewatch/aewatch/synth"
)

// TestRecurringEventsAreLearnt: a machine's temperature through its stops
// and warm-ups, and a filter's pressure through its cleanings, events
// longer apart than the reference period at an irregular cadence, four
// draws each: the reference period starts again over the cycle of a
// regime that recurs (a stop's first samples sit where the last stop's
// sat), so after the first few events less is alerted. Compared by their
// whole episodes' means, the evolving regimes never matched, and one
// inside the levels the period saw never restarted it: the frozen network
// alerted on every stop and every cleaning for ever (0.24 and 0.55 of the
// rows from 5,000 on, on average; now 0.10 and 0.12).
func TestRecurringEventsAreLearnt(t *testing.T) {
	if testing.Short() {
		t.Skip("20,000 samples a draw")
	}
	for _, c := range []struct {
		signal string
		most   float64 // mean share of the rows from 5,000 on under an anomaly alert
	}{{"start_stop", 0.15}, {"filter_reset", 0.2}} {
		var sum float64
		const draws = 4
		for seed := uint64(1); seed <= draws; seed++ {
			s, err := synth.GeneratePlantCycle(c.signal, 20000, seed)
			if err != nil {
				t.Fatal(err)
			}
			d, err := New(DefaultConfig(), 1)
			if err != nil {
				t.Fatal(err)
			}
			alerted, rows := 0, 0
			for i, v := range s.Values {
				for _, r := range d.Push(s.Times[i].UnixNano(), []float64{v}) {
					if i >= 5000 {
						rows++
						if r.Anomaly.Open {
							alerted++
						}
					}
				}
			}
			share := float64(alerted) / float64(rows)
			t.Logf("%s draw %d: %.3f of the rows from 5,000 on alerted", c.signal, seed, share)
			sum += share
		}
		if mean := sum / draws; mean > c.most {
			t.Errorf("%s: %.3f of the rows from 5,000 on alerted on average, want at most %.2f", c.signal, mean, c.most)
		}
	}
}
