package main

import (
	"testing"

	"github.com/aewatch/aewatch/sink"
	"github.com/aewatch/aewatch/synth"
)

// TestDemoAlertLogSkipsRebaselines: the demo's alert callback also sees
// ae_rebaseline points; they neither close an alert nor change the count
// of open ones.
func TestDemoAlertLogSkipsRebaselines(t *testing.T) {
	a := &alertLog{}
	a.print(sink.Point{Series: "s", Kind: "anomaly", Measurement: sink.AlertMeasurement, Event: "opened", Time: 1})
	a.print(sink.Point{Series: "s", Measurement: sink.RebaselineMeasurement, Reason: "ops", Time: 2})
	if n := a.open(); n != 1 {
		t.Fatalf("%d alerts open after an open and a re-baseline, want 1", n)
	}
	a.print(sink.Point{Series: "s", Kind: "anomaly", Measurement: sink.AlertMeasurement, Event: "closed", Time: 3})
	if n := a.open(); n != 0 {
		t.Fatalf("%d alerts open after the close, want 0", n)
	}
}

// TestDemoExplainsInUnits: a demo sensor's departures carry its unit, drift
// rates its unit per hour; a series the demo did not make has none.
func TestDemoExplainsInUnits(t *testing.T) {
	s, err := synth.Generate("seasonal", "none", 600, 1)
	if err != nil {
		t.Fatal(err)
	}
	a := &alertLog{sensors: map[string]*synth.Series{"temp": s}}
	cases := []struct {
		series string
		p      sink.Point
		want   string
	}{
		{"temp", sink.Point{Kind: "anomaly", Statistic: "value", Departure: 1.86}, "+1.86 °C from expected"},
		{"temp", sink.Point{Kind: "drift", Statistic: "level", Departure: -2, Spread: 1, Onset: 1, Rate: 0.5}, "level -2 °C, spread x1.00, since 1970-01-01 00:00, +0.5 °C/h"},
		{"other", sink.Point{Kind: "anomaly", Statistic: "reference", Departure: 3}, "+3 from the reference"},
		{"temp", sink.Point{Kind: "quality", Statistic: "missing", Onset: 60e9}, "missing since 1970-01-01 00:01"},
	}
	for _, c := range cases {
		if got := explainPoint(c.p, a.unit(c.series)); got != c.want {
			t.Errorf("%s: %q, want %q", c.series, got, c.want)
		}
	}
}
