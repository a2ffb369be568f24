package main

import (
	"testing"

	"github.com/aewatch/aewatch/sink"
)

// TestDemoAlertLogSkipsRebaselines: the demo's alert callback also sees
// ae_rebaseline points; they neither close an alert nor change the count
// of open ones.
func TestDemoAlertLogSkipsRebaselines(t *testing.T) {
	a := &alertLog{}
	a.print(sink.Point{Series: "s", Kind: "anomaly", Event: "opened", Time: 1})
	a.print(sink.Point{Series: "s", Event: "rebaseline", Reason: "ops", Time: 2})
	if n := a.open(); n != 1 {
		t.Fatalf("%d alerts open after an open and a re-baseline, want 1", n)
	}
	a.print(sink.Point{Series: "s", Kind: "anomaly", Event: "closed", Time: 3})
	if n := a.open(); n != 0 {
		t.Fatalf("%d alerts open after the close, want 0", n)
	}
}
