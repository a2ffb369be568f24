package eval

import (
	"bufio"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/aewatch/aewatch/detector"
	"github.com/aewatch/aewatch/sensorcsv"
)

// TestScoreFileContainsADetectorFault: a fault of a detector's own code on
// a row (provoked with detector.FailAt) is counted once, leaves that row
// unscored (NaN expectations, as the service writes no point for it),
// and the file's other rows are scored by the fresh detector once its
// window is full, in both layouts.
func TestScoreFileContainsADetectorFault(t *testing.T) {
	const n, window, failOn = 300, 32, 150
	var in strings.Builder
	in.WriteString("timestamp,a,b\n")
	for i := range n {
		fmt.Fprintf(&in, "%d,%g,%g\n", 1_700_000_000+i, 100+math.Sin(float64(i)/5), 50+math.Cos(float64(i)/7))
	}
	f, err := sensorcsv.Parse(strings.NewReader(in.String()), nil)
	if err != nil {
		t.Fatal(err)
	}
	f.Path = "in.csv"
	testHookDetectorBuilt = func(d *detector.Detector) { d.FailAt(f.Times[failOn]) }
	t.Cleanup(func() { testHookDetectorBuilt = nil })
	for _, multivariate := range []bool{false, true} {
		s, err := ScoreFile(f, detector.DefaultConfig(), multivariate, false)
		if err != nil {
			t.Fatal(err)
		}
		detectors := 2
		if multivariate {
			detectors = 1
		}
		if len(s.Faults) != detectors || s.FaultCount != detectors || s.FaultRows != uint64(detectors) {
			t.Fatalf("multivariate %v: %d faults kept, %d counted, %d rows unscored; want %d of each", multivariate, len(s.Faults), s.FaultCount, s.FaultRows, detectors)
		}
		if fl := s.Faults[0]; fl.Seq != failOn || fl.Owed != 1 || fl.Flush || !strings.Contains(fl.Panic, "FailAt") || !strings.Contains(fl.Stack, "Push") {
			t.Errorf("multivariate %v: fault %+v: want row %d, one owed, in Push, with its panic and stack", multivariate, *fl, failOn)
		}
		for j := range 2 {
			for i, want := range map[int]bool{failOn - 1: true, failOn: false, failOn + window - 1: false, failOn + window: true, n - 1: true} {
				if got := !math.IsNaN(s.Expected[j][i]); got != want {
					t.Errorf("multivariate %v: channel %d row %d scored %v, want %v", multivariate, j, i, got, want)
				}
			}
		}
		var out strings.Builder
		w := bufio.NewWriter(&out)
		s.WriteCSV(w)
		w.Flush()
		if rows := strings.Count(out.String(), "\n"); rows != n+1 {
			t.Errorf("multivariate %v: %d lines written, want the header and %d rows", multivariate, rows, n)
		}
	}
}
