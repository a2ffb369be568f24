package synth

import (
	"bytes"
	"math"
	"testing"
)

// TestCounterCorpus: every counter stays in [0, 10,000), falls only by a
// wrap (from its top) or its one reset (to well under half its value),
// and rises in its fault as the fault says against its rises just before:
// not at all, about twice as fast, about half as fast (the count of
// parts; the meter's rises follow its load's cycle).
func TestCounterCorpus(t *testing.T) {
	series, err := CounterCorpus(10000, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(series) != 2*len(CounterSignals)*len(CounterFaults) {
		t.Fatalf("%d series, want %d", len(series), 2*len(CounterSignals)*len(CounterFaults))
	}
	for _, s := range series {
		if (s.Onset < 0) != (s.Fault == "none") || !s.Labelled {
			t.Errorf("%s: onset %d, labelled %v", s.Name, s.Onset, s.Labelled)
			continue
		}
		wraps, resets := 0, 0
		var before, fault []float64 // rises: in the fault, and over as many samples before it
		for i := 1; i < len(s.Values); i++ {
			v, p := s.Values[i], s.Values[i-1]
			if v < 0 || v >= counterModulus {
				t.Fatalf("%s: value %v at %d outside [0, %d)", s.Name, v, i, counterModulus)
			}
			switch {
			case v < p && v > p/2:
				t.Fatalf("%s: falls from %v to %v at %d, neither a wrap nor a reset", s.Name, p, v, i)
			case v < p && p > counterModulus-50: // from the top: at most 15 a sample
				wraps++
			case v < p:
				resets++
			case s.Onset >= 0 && i > s.Onset && i <= s.End:
				fault = append(fault, v-p)
			case s.Onset >= 0 && i <= s.Onset && i > 2*s.Onset-s.End:
				before = append(before, v-p)
			}
		}
		if resets != 1 || wraps < 1 {
			t.Errorf("%s: %d resets and %d wraps, want 1 and at least 1", s.Name, resets, wraps)
		}
		if s.Onset < 0 {
			continue
		}
		ratio := mean(fault) / mean(before)
		want := map[string]float64{"stuck": 0, "racing": 2, "slowed": 0.5}[s.Fault]
		// The meter's load cycles: its rises change over a fault's span
		// by themselves, the parts' do not.
		if (s.Signal == "parts" || want == 0) && math.Abs(ratio-want) > 0.25*max(want, 0.2) {
			t.Errorf("%s: rises %.2f times those before the fault, want about %.1f", s.Name, ratio, want)
		}
		if s.Onset < len(s.Values)*6/10 || s.End >= len(s.Values) || s.End-s.Onset+1 < 100 {
			t.Errorf("%s: fault over %d-%d of %d samples", s.Name, s.Onset, s.End, len(s.Values))
		}
	}
	a, _ := GenerateCounter("meter", "racing", 5000, 3)
	b, _ := GenerateCounter("meter", "racing", 5000, 3)
	if !bytes.Equal(a.CSV(), b.CSV()) {
		t.Error("same seed, different series")
	}
	for _, bad := range [][2]string{{"pressure", "none"}, {"parts", "spike"}} {
		if _, err := GenerateCounter(bad[0], bad[1], 5000, 1); err == nil {
			t.Errorf("GenerateCounter(%q, %q) accepted", bad[0], bad[1])
		}
	}
	if _, err := GenerateCounter("parts", "none", 3999, 1); err == nil {
		t.Error("GenerateCounter accepted 3,999 samples")
	}
}

func mean(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}
