package synth

import (
	"bytes"
	"slices"
	"testing"
)

// TestControlledCorpus: each fault lies on the process value within its
// labelled rows, the setpoint only takes its five levels (100 at first)
// and moves, the same seed gives the same file, and an unknown fault or
// too few rows are refused.
func TestControlledCorpus(t *testing.T) {
	const n = 5000
	none, err := GenerateControlled("none", n, 3)
	if err != nil {
		t.Fatal(err)
	}
	moves := 0
	for i, row := range none.Values {
		if !slices.Contains([]float64{90, 95, 100, 105, 110}, row[1]) {
			t.Fatalf("row %d: setpoint %v", i, row[1])
		}
		if i > 0 && row[1] != none.Values[i-1][1] {
			moves++
		}
	}
	if moves < 5 {
		t.Errorf("the setpoint moved %d times in %d rows, want about one in 300", moves, n)
	}
	for _, f := range ControlledFaults[:len(ControlledFaults)-1] {
		r, err := GenerateControlled(f, n, 3)
		if err != nil {
			t.Fatal(err)
		}
		if r.Start < n/2 || r.End <= r.Start || r.End > n {
			t.Errorf("%s: rows %d-%d", f, r.Start, r.End)
		}
		again, _ := GenerateControlled(f, n, 3)
		if !bytes.Equal(r.CSV(), again.CSV()) {
			t.Errorf("%s: the same seed gave another file", f)
		}
		if !bytes.HasPrefix(r.CSV(), []byte("timestamp,pv,sp,anomaly\n")) {
			t.Errorf("%s: header %q", f, r.CSV()[:30])
		}
	}
	if _, err := GenerateControlled("leak", n, 1); err == nil {
		t.Error("an unknown fault was generated")
	}
	if _, err := GenerateControlled("none", 999, 1); err == nil {
		t.Error("999 rows were generated")
	}
}
