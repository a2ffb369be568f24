package synth

import (
	"fmt"
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

// A growth moves a channel and the one it correlates with most, each on
// the side the correlation gives, by its size at the regime's end, in its
// shape; nothing else.
func TestInjectGrowth(t *testing.T) {
	rec := recording(6000)
	files, err := Inject(rec, 1150, 12, 3, GrowthFault)
	if err != nil {
		t.Fatal(err)
	}
	shapes := map[string]int{}
	for _, in := range files {
		if in.Fault != GrowthFault || len(in.Channels) != 2 || slices.Contains(in.Channels, 3) || in.Size < 4 || in.Size > 12 {
			t.Fatalf("%s: fault %s, channels %v, size %v", in.Name, in.Fault, in.Channels, in.Size)
		}
		shapes[in.Shape]++
		std := trainStd(rec[in.From : in.From+InjectTrain])
		var last [2]float64 // each channel's change on the regime's last row
		for i, row := range in.Values {
			for q, j := range in.Channels {
				d := row[j] - rec[in.From+i][j]
				if (i < in.Start || i >= in.End) && d != 0 {
					t.Fatalf("%s: row %d outside the regime changed", in.Name, i)
				}
				if i == in.End-1 {
					last[q] = d / std[j]
				}
			}
		}
		for q := range last {
			if math.Abs(math.Abs(last[q])-in.Size) > 1e-6 {
				t.Errorf("%s: channel %d ends %.4f deviations away, want %.4f", in.Name, in.Channels[q], last[q], in.Size)
			}
		}
		// Channels 0 and 1 move against each other in the recording.
		if in.Channels[0] == 0 && in.Channels[1] == 1 && last[0]*last[1] > 0 {
			t.Errorf("%s: anticorrelated channels moved to one side (%v)", in.Name, last)
		}
		j, mid := in.Channels[0], (in.Start+in.End)/2
		at := func(i int) float64 { return math.Abs(in.Values[i][j]-rec[in.From+i][j]) / std[j] / in.Size }
		switch in.Shape {
		case "step":
			if math.Abs(at(in.Start)-1) > 1e-6 || math.Abs(at(mid)-1) > 1e-6 {
				t.Errorf("%s: a step at %.3f and %.3f of its size", in.Name, at(in.Start), at(mid))
			}
		case "linear":
			if math.Abs(at(mid)-0.5) > 0.01 {
				t.Errorf("%s: a linear growth at %.3f of its size halfway", in.Name, at(mid))
			}
		case "exponential":
			if want := math.Expm1(1.5) / math.Expm1(3); math.Abs(at(mid)-want) > 0.01 {
				t.Errorf("%s: an exponential growth at %.3f of its size halfway, want %.3f", in.Name, at(mid), want)
			}
		default:
			t.Errorf("%s: shape %q", in.Name, in.Shape)
		}
	}
	if len(shapes) != len(InjectShapes) {
		t.Errorf("shapes drawn: %v", shapes)
	}
	all, _ := Inject(rec, 1150, 2, 4)
	named, _ := Inject(rec, 1150, 2, 4, InjectFaults...)
	if !reflect.DeepEqual(all, named) {
		t.Error("the default faults named are not the default")
	}
	if _, err := Inject(rec, 1150, 2, 4, "step", "leak"); err == nil || !strings.Contains(err.Error(), `fault "leak": unknown`) {
		t.Errorf("an unknown fault: got %v", err)
	}
}

// A cut with no fault is the recording as it was, with no regime, drawn
// from where the other cuts are.
func TestInjectNone(t *testing.T) {
	rec := recording(6000)
	files, err := Inject(rec, 1150, 5, 2, NoFault)
	if err != nil {
		t.Fatal(err)
	}
	from := map[int]bool{}
	for n, in := range files {
		if in.Name != fmt.Sprintf("none-%d.csv", n) || in.Fault != NoFault || in.Start != 0 || in.End != 0 || len(in.Channels) != 0 || in.Size != 0 {
			t.Fatalf("%s: fault %s, regime [%d, %d), channels %v, size %v", in.Name, in.Fault, in.Start, in.End, in.Channels, in.Size)
		}
		if !reflect.DeepEqual(in.Values, rec[in.From:in.From+1150]) {
			t.Fatalf("%s: differs from the recording's rows %d on", in.Name, in.From)
		}
		from[in.From] = true
	}
	if len(from) < 2 {
		t.Errorf("every cut from row %v", from)
	}
}
