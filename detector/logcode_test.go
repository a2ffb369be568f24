package detector

import (
	"math"
	"testing"
)

// TestLogCode: the calibration history's byte codes are nearest on a log
// scale (within 2.2% from 0.0011 to 64), keep order, and code 0 for 0.
func TestLogCode(t *testing.T) {
	if logCode(0) != 0 || logValue[logCode(0)] != 0 {
		t.Fatalf("0 coded as %d", logCode(0))
	}
	if logCode(1e9) != 255 || logCode(64) != 255 {
		t.Fatalf("64 and 1e9 coded as %d and %d, want 255", logCode(64), logCode(1e9))
	}
	prev := uint8(0)
	for v := 0.0012; v <= 64; v *= 1.003 {
		k := logCode(v)
		if k < prev {
			t.Fatalf("%g coded %d, below a smaller value's %d", v, k, prev)
		}
		prev = k
		if r := logValue[k] / v; math.Abs(math.Log2(r)) > 1.0/32+1e-12 {
			t.Fatalf("%g coded %d, which stands for %g (ratio %g)", v, k, logValue[k], r)
		}
	}
}
