package synth

import (
	"bytes"
	"math"
	"testing"
)

func TestDeterministic(t *testing.T) {
	a, _ := Generate("duty", "stuck", 2000, 5)
	b, _ := Generate("duty", "stuck", 2000, 5)
	c, _ := Generate("duty", "stuck", 2000, 6)
	if !bytes.Equal(a.CSV(), b.CSV()) {
		t.Fatal("same seed, different series")
	}
	if bytes.Equal(a.CSV(), c.CSV()) {
		t.Fatal("different seeds, same series")
	}
}

// TestInRangeFaults checks the corpus' premise: in-range faults stay within
// the span of the normal samples before them (a range check cannot see
// them), and every fault lies inside its labelled window's reach.
func TestInRangeFaults(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		series, err := Corpus(4032, 1, seed)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range series {
			if s.Onset < 0 {
				if s.Fault != "none" {
					t.Errorf("%s: no onset", s.Name)
				}
				continue
			}
			if s.Window[0] > s.Onset || s.Window[1] < s.Onset {
				t.Errorf("%s: onset %d outside window %v", s.Name, s.Onset, s.Window)
			}
			if !InRange(s.Fault) {
				continue
			}
			lo, hi := math.Inf(1), math.Inf(-1)
			for _, v := range s.Values[:s.Onset] {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
			for i := s.Onset; i <= s.End; i++ {
				if v := s.Values[i]; v < lo || v > hi {
					t.Errorf("seed %d %s: sample %d = %.3f outside the normal span [%.3f, %.3f]", seed, s.Name, i, v, lo, hi)
					break
				}
			}
		}
	}
}

func TestUnknownSignal(t *testing.T) {
	if _, err := Generate("pressure", "none", 100, 1); err == nil {
		t.Fatal("unknown signal accepted")
	}
}
