package stream

import (
	"testing"
	"time"
)

func TestAdmissionPaces(t *testing.T) {
	a := newAdmission(100)
	start := time.Now()
	for range 150 { // a burst of 100, then 50 at 100 per second
		a.take(1)
	}
	took := time.Since(start)
	// A lower bound only: a slow machine can only take longer.
	if took < 490*time.Millisecond {
		t.Errorf("150 admissions at 100/s with a burst of 100 took %v, want at least 0.5 s", took)
	}
	if ok, due := a.tryTake(1); ok || due <= 0 || due > 20*time.Millisecond {
		t.Errorf("right after the burst and its pacing: took %v, due in %v; want not yet, within 10 ms", ok, due)
	}
	var unpaced *admission
	if ok, _ := unpaced.tryTake(5); !ok {
		t.Error("an unpaced admission waited")
	}
	if ok, _ := newAdmission(0).tryTake(5); !ok {
		t.Error("an unpaced admission waited")
	}
}
