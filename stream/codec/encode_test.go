package codec

import (
	"math"
	"testing"
)

// TestEncodeSampleRoundTrips: what EncodeSample writes, the decoder of the
// same format reads back as the sample, without its missing values; a
// sample with none left is not sent.
func TestEncodeSampleRoundTrips(t *testing.T) {
	names := []string{"flow rate", "temp,inner", "a=b", "p", "q"}
	vals := []float64{1.5, -2.25e-7, 3, math.NaN(), math.Inf(1)}
	for _, format := range []string{"json", "line"} {
		b, ok := EncodeSample(format, "pump 7,east", names, 1_700_000_000_123_456_789, vals)
		if !ok {
			t.Fatalf("%s: nothing encoded", format)
		}
		dec, err := DecoderFor(format, Nanosecond)
		if err != nil {
			t.Fatal(err)
		}
		got, err := dec(nil, b)
		if err != nil || len(got) != 1 {
			t.Fatalf("%s: %q decodes to %v, %v", format, b, got, err)
		}
		s := got[0]
		if s.Series != "pump 7,east" || s.Time != 1_700_000_000_123_456_789 {
			t.Errorf("%s: series %q time %d", format, s.Series, s.Time)
		}
		want := map[string]float64{"flow rate": 1.5, "temp,inner": -2.25e-7, "a=b": 3}
		if len(s.Channels) != len(want) {
			t.Fatalf("%s: channels %v, want %v", format, s.Channels, want)
		}
		for j, ch := range s.Channels {
			if v, ok := want[ch]; !ok || s.Values[j] != v {
				t.Errorf("%s: channel %q = %v, want %v", format, ch, s.Values[j], want[ch])
			}
		}
		if _, ok := EncodeSample(format, "s", names[3:], 1, vals[3:]); ok {
			t.Errorf("%s: a sample with only missing values was encoded", format)
		}
	}
}
