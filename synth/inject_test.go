package synth

import (
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// recording is a normal multivariate recording: three correlated channels
// with noise, one that is constant.
func recording(n int) [][]float64 {
	rng := rand.New(rand.NewPCG(9, 9))
	out := make([][]float64, n)
	for i := range out {
		base := math.Sin(float64(i) / 50)
		out[i] = []float64{10 + base + 0.1*rng.NormFloat64(), 5 - base + 0.1*rng.NormFloat64(), 20 + 0.3*rng.NormFloat64(), 7}
	}
	return out
}

func TestInjectChangesOnlyTheRegime(t *testing.T) {
	rec := recording(6000)
	files, err := Inject(rec, 1150, 2, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2*len(InjectFaults) {
		t.Fatalf("%d files, want %d", len(files), 2*len(InjectFaults))
	}
	for _, in := range files {
		if !strings.HasPrefix(in.Name, in.Fault+"-") || len(in.Values) != 1150 {
			t.Fatalf("%s: fault %s, %d rows", in.Name, in.Fault, len(in.Values))
		}
		if in.Start < InjectTrain+50 || in.End <= in.Start || in.End > 1150-50 {
			t.Fatalf("%s: regime [%d, %d) out of bounds", in.Name, in.Start, in.End)
		}
		if len(in.Channels) == 0 || len(in.Channels) > 3 {
			t.Fatalf("%s: channels %v", in.Name, in.Channels)
		}
		changed := map[int]bool{}
		for i, row := range in.Values {
			for j, v := range row {
				if v == rec[in.From+i][j] {
					continue
				}
				if i < in.Start || i >= in.End {
					t.Fatalf("%s: row %d (outside the regime [%d, %d)) changed on channel %d", in.Name, i, in.Start, in.End, j)
				}
				changed[j] = true
			}
		}
		for _, j := range in.Channels {
			if j == 3 {
				t.Fatalf("%s: the constant channel was faulted", in.Name)
			}
			// The first regime row of a stuck or decoupled channel keeps
			// its value; every fault changes some row.
			if !changed[j] {
				t.Errorf("%s: channel %d named but never changed", in.Name, j)
			}
		}
		for j := range changed {
			if !slices.Contains(in.Channels, j) {
				t.Errorf("%s: channel %d changed but not named (%v)", in.Name, j, in.Channels)
			}
		}
		if in.Fault == "stuck" {
			j := in.Channels[0]
			for _, row := range in.Values[in.Start:in.End] {
				if row[j] != in.Values[in.Start][j] {
					t.Fatalf("%s: stuck channel moves", in.Name)
				}
			}
		}
	}
	again, _ := Inject(rec, 1150, 2, 4)
	if !reflect.DeepEqual(files, again) {
		t.Fatal("same seed, different files")
	}
	other, _ := Inject(rec, 1150, 2, 5)
	if reflect.DeepEqual(files, other) {
		t.Fatal("different seeds, same files")
	}
}

func TestInjectRejects(t *testing.T) {
	rec := recording(3000)
	for _, c := range []struct {
		rows, perFault int
		want           string
	}{
		{700, 1, "rows: must be >= 800 (got 700)"},
		{2000, 1, "the recording has 3000 rows; injecting files of 2000 rows needs at least 4000"},
		{1000, 0, "files per fault: must be in [1, 100] (got 0)"},
	} {
		if _, err := Inject(rec, c.rows, c.perFault, 1); err == nil || err.Error() != c.want {
			t.Errorf("rows %d per fault %d: got %v, want %q", c.rows, c.perFault, err, c.want)
		}
	}
	flat := make([][]float64, 3000)
	for i := range flat {
		flat[i] = []float64{1, 2}
	}
	if _, err := Inject(flat, 1000, 1, 1); err == nil || !strings.Contains(err.Error(), "enough varying channels") {
		t.Errorf("a constant recording: got %v", err)
	}
}
