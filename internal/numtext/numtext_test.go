package numtext

import (
	"math"
	"testing"
)

func TestParseFloat(t *testing.T) {
	for _, c := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"1.5", 1.5, true},
		{"1e999", math.Inf(1), true},
		{"-1e999", math.Inf(-1), true},
		{"1e-999", 0, true},
		{"high", 0, false},
		{"", 0, false},
	} {
		got, err := ParseFloat(c.in)
		if (err == nil) != c.ok || c.ok && got != c.want {
			t.Errorf("ParseFloat(%q) = %v, %v; want %v (ok %v)", c.in, got, err, c.want, c.ok)
		}
	}
}
