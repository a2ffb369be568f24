package synth

import (
	"bytes"
	"math"
	"strings"
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

// offsetWithinRange checks that a's offset is within its channel's range
// over the rows without it (only its relation shows it) and that the
// labels cover it exactly.
func offsetWithinRange(t *testing.T, a *Related) {
	t.Helper()
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, row := range a.Values {
		if i < a.Start || i >= a.End {
			lo, hi = min(lo, row[a.Channel]), max(hi, row[a.Channel])
		}
	}
	if r := math.Abs(a.Size) / (hi - lo); r > 0.3 {
		t.Errorf("offset %.2f is %.2f of the channel's range: not within it", a.Size, r)
	}
	lines := strings.Split(strings.TrimSpace(string(a.CSV())), "\n")
	for i, l := range lines[1:] {
		if want := i >= a.Start && i < a.End; strings.HasSuffix(l, ",1") != want {
			t.Fatalf("row %d labelled %v, want %v", i, !want, want)
		}
	}
}

// TestGenerateRelated: the same seed gives the same file; the offset lies
// within the channel's own range over the file (only its relation shows
// it) and the labels cover it exactly.
func TestGenerateRelated(t *testing.T) {
	a, err := GenerateRelated("offset", 3000, 7)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := GenerateRelated("offset", 3000, 7)
	if !bytes.Equal(a.CSV(), b.CSV()) {
		t.Fatal("same seed, different files")
	}
	offsetWithinRange(t, a)
	if _, err := GenerateRelated("leak", 3000, 1); err == nil {
		t.Error("an unknown fault generated")
	}
}

// TestGeneratePlant: the same seed gives the same file; the offset sensor
// is one the loads drive, its offset within its own range over the file;
// the labels cover the offset exactly; bad arguments are refused by name.
func TestGeneratePlant(t *testing.T) {
	a, err := GeneratePlant("offset", 3000, 20, 7)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := GeneratePlant("offset", 3000, 20, 7)
	if !bytes.Equal(a.CSV(), b.CSV()) {
		t.Fatal("same seed, different files")
	}
	if len(a.Channels) != 20 || len(a.Values[0]) != 20 || a.Channel%5 == 4 {
		t.Fatalf("%d channels, %d values, sensor %d offset: want 20, 20 and a driven sensor", len(a.Channels), len(a.Values[0]), a.Channel)
	}
	offsetWithinRange(t, a)
	if n, err := GeneratePlant("none", 3000, 20, 7); err != nil || n.Start != n.End {
		t.Fatalf("fault-free plant: %v, fault rows %d-%d", err, n.Start, n.End)
	}
	for _, bad := range []struct {
		fault   string
		rows, n int
		want    string
	}{{"leak", 3000, 20, `fault "leak"`}, {"offset", 999, 20, "rows"}, {"offset", 3000, 5, "sensors"}, {"offset", 3000, 257, "sensors"}} {
		if _, err := GeneratePlant(bad.fault, bad.rows, bad.n, 1); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("GeneratePlant(%q, %d, %d): %v, want an error naming %s", bad.fault, bad.rows, bad.n, err, bad.want)
		}
	}
}

// TestGenerateCyclicRelated: pressure or current delayed by a further
// quarter cycle keeps its range (only its timing against flow shows the
// fault): flow's best match in it moves by the added delay.
func TestGenerateCyclicRelated(t *testing.T) {
	const cycle = 40
	r, err := GenerateCyclicRelated("lag", 3000, cycle, 5)
	if err != nil {
		t.Fatal(err)
	}
	// The delay of the channel behind flow that fits best over rows a..b.
	bestLag := func(a, b int) int {
		best, lag := math.Inf(-1), 0
		for k := range cycle {
			var s float64
			for i := a + cycle; i < b; i++ {
				s += (r.Values[i-k][0] - 50) * (r.Values[i][r.Channel] - relatedLoad[r.Channel][0])
			}
			if s > best {
				best, lag = s, k
			}
		}
		return lag
	}
	normal, late := bestLag(400, r.Start), bestLag(r.Start, r.End)
	want := int(math.Round(relatedLag[r.Channel] * cycle))
	if normal != want || late != want+cycle/4 {
		t.Errorf("%s lags flow by %d samples before the fault and %d during it, want %d and %d",
			RelatedChannels[r.Channel], normal, late, want, want+cycle/4)
	}
	spread := func(a, b int) float64 {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, row := range r.Values[a:b] {
			lo, hi = min(lo, row[r.Channel]), max(hi, row[r.Channel])
		}
		return hi - lo
	}
	if s, f := spread(0, r.Start), spread(r.Start, r.End); f > 1.1*s {
		t.Errorf("the delayed channel spans %.2f during the fault against %.2f before it: beyond its range", f, s)
	}
	for _, c := range []struct {
		fault string
		cycle int
		want  string
	}{
		{"lag", 4, "cycle: must be in [8, 1000] samples (got 4)"},
		{"leak", cycle, `fault "leak": unknown (known: offset, lag, none)`},
	} {
		if _, err := GenerateCyclicRelated(c.fault, 3000, c.cycle, 1); err == nil || err.Error() != c.want {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
	if _, err := GenerateRelated("lag", 3000, 1); err == nil {
		t.Error("a lag generated without a cycle")
	}
}
