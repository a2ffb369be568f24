package eval

import (
	"math"
	"strings"
	"testing"

	"github.com/aewatch/aewatch/sensorcsv"
)

func TestPointStatsByHand(t *testing.T) {
	labels := []bool{true, true, false, true, true, false, false, false}
	alert := []bool{true, false, true, true, true, false, false, true}
	score := []float64{0.9, 0.2, 0.8, 0.2, 0.7, 0.1, 0.3, 0.6}
	var p PointStats
	p.Add(labels, alert, score, 1) // row 0 skipped
	// Rows 1..7: TP rows 3,4; FN row 1; FP rows 2,7; TN rows 5,6.
	if p.TP != 2 || p.FN != 1 || p.FP != 2 || p.TN != 2 {
		t.Fatalf("TP %d FN %d FP %d TN %d, want 2 1 2 2", p.TP, p.FN, p.FP, p.TN)
	}
	near := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-12 {
			t.Errorf("%s %v, want %v", name, got, want)
		}
	}
	near("F1", p.F1(), 2/(2+1.5))
	near("precision", p.Precision(), 0.5)
	near("recall", p.Recall(), 2.0/3)
	near("FAR", p.FAR(), 0.5)
	near("MAR", p.MAR(), 1.0/3)
	// Every row alerted: TP 3, FP 4, FN 0.
	near("F1 of alerting on every row", p.EveryRowF1(), 3/(3+2.0))
	// Positives score 0.2, 0.2, 0.7; negatives 0.8, 0.1, 0.3, 0.6. Pairs won:
	// 0.2 beats 0.1 (x2), 0.7 beats 0.1, 0.3, 0.6: 5 of 12.
	near("AUC", p.AUC(), 5.0/12)
	// Spans: row 1 (not alerted), rows 3-4 (alerted). Alerts open on
	// normal rows 2 and 7: 2 per 4 normal rows.
	if n, median := p.Covered(0.7); len(p.Coverage) != 2 || n != 1 || median != 0.5 {
		t.Errorf("coverage %v: %d covered, median %v; want [0 1], 1, 0.5", p.Coverage, n, median)
	}
	near("false opens per 10k", p.FalseOpensPer10k(), 5000)
}

func TestLabelColumn(t *testing.T) {
	in := "datetime;x;anomaly\n2020-03-09 10:14:33;1;0.0\n2020-03-09 10:14:34;2;1.0\n2020-03-09 10:14:35;3;yes\n"
	f, err := sensorcsv.Parse(strings.NewReader(in), []string{"anomaly"})
	if err != nil {
		t.Fatal(err)
	}
	f.Path = "in.csv"
	s := &Scored{File: f}
	_, err = s.LabelColumn("anomaly")
	if err == nil || err.Error() != `in.csv: row 3, column "anomaly": label must be a number (0 for normal) or true/false (got "yes")` {
		t.Errorf("got %v", err)
	}
	if _, err := s.LabelColumn("label"); err == nil || !strings.Contains(err.Error(), `no column named "label"`) {
		t.Errorf("missing column: got %v", err)
	}
	f.Rows = f.Rows[:2]
	f.Rows[0][2] = "0,0" // a decimal comma, as a ';' file may write it
	got, err := s.LabelColumn("anomaly")
	if err != nil || got[0] || !got[1] {
		t.Errorf("labels %v, %v; want [false true]", got, err)
	}
	f.Rows[0][2], f.Rows[1][2] = "True", "FALSE" // as pandas writes booleans
	if got, err = s.LabelColumn("anomaly"); err != nil || !got[0] || got[1] {
		t.Errorf("labels %v, %v; want [true false]", got, err)
	}
}
