package synth

import (
	"bytes"
	"math"
	"slices"
	"testing"
)

// TestValveCorpus: every valve series holds few positions outside its fault
// (three or four, up to the feedback's noise), is labelled exactly over its
// fault, and a stuck valve sits between two of its positions, at none of
// them.
func TestValveCorpus(t *testing.T) {
	series, err := ValveCorpus(10000, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(series) != 2*len(ValveSignals)*len(ValveFaults) {
		t.Fatalf("%d series, want %d", len(series), 2*len(ValveSignals)*len(ValveFaults))
	}
	for _, s := range series {
		if (s.Onset < 0) != (s.Fault == "none") || !s.Labelled {
			t.Errorf("%s: onset %d, labelled %v", s.Name, s.Onset, s.Labelled)
			continue
		}
		var normal []float64
		for i, v := range s.Values {
			if s.Onset < 0 || i < s.Onset || i > s.End {
				normal = append(normal, v)
			}
		}
		positions := clusters(normal)
		if len(positions) < 3 || len(positions) > 4 {
			t.Errorf("%s: %d positions outside the fault (%v), want 3 or 4", s.Name, len(positions), positions)
		}
		if s.Fault != "stuck_between" {
			continue
		}
		if at := s.Values[s.Onset]; slices.ContainsFunc(positions, func(p float64) bool { return math.Abs(at-p) < 5 }) {
			t.Errorf("%s: stuck at %v, by one of its positions %v", s.Name, at, positions)
		}
		if s.Onset < len(s.Values)*6/10 || s.End >= len(s.Values) {
			t.Errorf("%s: fault over %d-%d of %d samples", s.Name, s.Onset, s.End, len(s.Values))
		}
	}
	a, _ := GenerateValve("valve_quantised", "hunting", 5000, 3)
	b, _ := GenerateValve("valve_quantised", "hunting", 5000, 3)
	if !bytes.Equal(a.CSV(), b.CSV()) {
		t.Error("same seed, different series")
	}
	if slices.ContainsFunc(a.Values, func(v float64) bool { return v != math.Round(v) }) {
		t.Error("quantised valve reads fractions of a percent")
	}
	for _, bad := range [][2]string{{"pressure", "none"}, {"valve", "spike"}} {
		if _, err := GenerateValve(bad[0], bad[1], 5000, 1); err == nil {
			t.Errorf("GenerateValve(%q, %q) accepted", bad[0], bad[1])
		}
	}
	if _, err := GenerateValve("valve", "none", 3999, 1); err == nil {
		t.Error("3999 samples accepted")
	}
}

// clusters returns the lowest value of each group of values that lie
// within 3 of the next (the feedback's noise is 0.5).
func clusters(values []float64) []float64 {
	v := slices.Sorted(slices.Values(values))
	var out []float64
	for i, x := range v {
		if i == 0 || x-v[i-1] > 3 {
			out = append(out, x)
		}
	}
	return out
}
