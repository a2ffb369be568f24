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
// rows from 5,000 on, on average; now 0.10 and 0.12). No draw may hold an
// alert over half of those rows: with a restarted period of one cycle,
// begun 64 samples into a cleaning, filter draw 1002 (generate
// --plant-cycles' filter_reset_none_2) never saw the next cleaning's
// onset, and alerted on 0.93 of them (now 0.03: the period goes on
// until that onset has come round, recurrence.seek).
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
		for _, seed := range []uint64{1, 2, 3, 4, 1002} {
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
			if share > 0.5 {
				t.Errorf("%s draw %d: %.3f of the rows from 5,000 on alerted, want at most 0.5", c.signal, seed, share)
			}
			if seed <= draws {
				sum += share
			}
		}
		if mean := sum / draws; mean > c.most {
			t.Errorf("%s: %.3f of the rows from 5,000 on alerted on average, want at most %.2f", c.signal, mean, c.most)
		}
	}
}

// TestRestartedPeriodRestores: a period restarted for a cycle near the
// longest one reference.recurrence allows grows past that cycle while it
// seeks the regime's onset (up to recurrencePeriod), and a snapshot taken
// then restores and goes on as the detector it was taken from.
func TestRestartedPeriodRestores(t *testing.T) {
	s, err := synth.GenerateSustained("longduty", "none", 20000, 1)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	// The motor's cycle is 1,685 samples. A period of 250 keeps the
	// longest one restarted for a channel's states (8 of them) below the
	// period restarted for the cycle.
	cfg.Reference.Samples, cfg.Reference.Recurrence = 250, 1700
	d, err := New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range s.Values {
		d.Push(s.Times[i].UnixNano(), []float64{v})
		if d.ref.period > cfg.Reference.Recurrence {
			b, err := d.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			restored, err := New(cfg, 1)
			if err != nil {
				t.Fatal(err)
			}
			if err := restored.UnmarshalBinary(b); err != nil {
				t.Fatalf("at sample %d, period %d: %v", i, d.ref.period, err)
			}
			for k := i + 1; k < min(i+3000, len(s.Values)); k++ {
				ts, x := s.Times[k].UnixNano(), []float64{s.Values[k]}
				want, got := d.Push(ts, x), restored.Push(ts, x)
				if len(want) != len(got) || len(want) > 0 && (want[0].Score != got[0].Score || want[0].RefScore != got[0].RefScore) {
					t.Fatalf("sample %d after a restore at %d: %+v, want %+v", k, i, got, want)
				}
			}
			if d.ref.period != restored.ref.period || d.ref.recur.seeking {
				t.Fatalf("period %d restored as %d, seeking %v 3,000 samples on", d.ref.period, restored.ref.period, d.ref.recur.seeking)
			}
			return
		}
	}
	t.Fatalf("no period restarted beyond reference.recurrence (%d): the test no longer shows what it guards", cfg.Reference.Recurrence)
}
