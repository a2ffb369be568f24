package stream

import (
	"testing"
	"time"
)

func TestAdmissionPaces(t *testing.T) {
	a := newAdmission(100)
	start := time.Now()
	waited := 0
	for range 150 { // a burst of 100, then 50 at 100 per second
		if a.wait() {
			waited++
		}
	}
	took := time.Since(start)
	// A lower bound only: a slow machine can only take longer.
	if took < 490*time.Millisecond {
		t.Errorf("150 admissions at 100/s with a burst of 100 took %v (%d waited), want at least 0.5 s", took, waited)
	}
	var unpaced *admission
	if unpaced.wait() || newAdmission(0).wait() {
		t.Error("an unpaced admission waited")
	}
}
