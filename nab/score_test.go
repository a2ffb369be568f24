package nab

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func minutes(n int) []int64 {
	ts := make([]int64, n)
	for i := range ts {
		ts[i] = int64(i) * 60e9
	}
	return ts
}

// TestScoreByHand checks a case worked out by hand from NAB's rules: 100
// rows (probation 15), one window over rows 50..59, a detection at row 55
// (halfway: scaled sigmoid of -0.5, over that of -1) and a weaker one far
// after the window (a false positive at relative position 21/9).
func TestScoreByHand(t *testing.T) {
	ts := minutes(100)
	scores := make([]float64, 100)
	scores[55], scores[80] = 1, 0.8
	scores[5] = 1 // in probation: ignored
	f := File{Name: "a.csv", Times: ts, Scores: scores, Windows: []Window{{ts[50], ts[59]}}}
	tp := (2/(1+math.Exp(-2.5)) - 1) / (2/(1+math.Exp(-5)) - 1)
	for _, c := range []struct {
		p         Profile
		want, thr float64
	}{
		{Profiles[0], 100 * (tp + 1) / 2, 1},
		{Profiles[2], 100 * (tp + 2) / 3, 1},
	} {
		res := Score([]File{f}, c.p)
		if math.Abs(res.Score-c.want) > 1e-9 || res.Threshold != c.thr {
			t.Errorf("%s: score %v at threshold %v, want %v at %v", c.p.Name, res.Score, res.Threshold, c.want, c.thr)
		}
		if fs := res.Files[0]; fs.Found != 1 || fs.FalsePos != 0 || math.Abs(fs.Raw-res.Raw) > 1e-12 {
			t.Errorf("%s: file breakdown %+v does not match raw %v", c.p.Name, fs, res.Raw)
		}
	}
	// With the detection inside the window weaker than the false positive,
	// taking both costs the false positive's weight.
	scores[55], scores[80] = 0.7, 0.8
	res := Score([]File{f}, Profiles[0])
	fp := (2/(1+math.Exp(5*21.0/9)) - 1) * 0.11
	if want := 100 * (tp + fp + 1) / 2; math.Abs(res.Score-want) > 1e-9 || res.Threshold != 0.7 {
		t.Errorf("score %v at %v, want %v at 0.7", res.Score, res.Threshold, want)
	}
}

// TestScoreAllIsScoreOfEach: the profiles share the rows' order and the
// scratch of the sweeps, and each comes out as it does alone.
func TestScoreAllIsScoreOfEach(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var files []File
	for n := range 3 {
		ts := minutes(600 + 100*n)
		scores := make([]float64, len(ts))
		for i := range scores {
			scores[i] = math.Round(rng.Float64()*50) / 50 // ties
		}
		files = append(files, File{Name: fmt.Sprint(n), Times: ts, Scores: scores,
			Windows: []Window{{ts[200], ts[239]}, {ts[400+50*n], ts[459+50*n]}}})
	}
	all := ScoreAll(files, Profiles)
	for i, p := range Profiles {
		if one := Score(files, p); !reflect.DeepEqual(all[i], one) {
			t.Errorf("%s: ScoreAll %+v, Score %+v", p.Name, all[i], one)
		}
	}
	if all[0].Threshold == all[1].Threshold && all[0].Raw == all[1].Raw {
		t.Errorf("the standard and low-FP profiles agree on %+v: the test does not tell them apart", all[0])
	}
}

func TestNullAndPerfect(t *testing.T) {
	ts := minutes(1000)
	wins := []Window{{ts[400], ts[449]}, {ts[700], ts[749]}}
	null := make([]float64, 1000)
	for i := range null {
		null[i] = 0.5
	}
	perfect := make([]float64, 1000)
	perfect[400], perfect[700] = 1, 1
	for _, p := range Profiles {
		if got := Score([]File{{Times: ts, Scores: null, Windows: wins}}, p).Score; got != 0 {
			t.Errorf("%s: null detector scores %v, want 0", p.Name, got)
		}
		if got := Score([]File{{Times: ts, Scores: perfect, Windows: wins}}, p).Score; math.Abs(got-100) > 1e-9 {
			t.Errorf("%s: perfect detector scores %v, want 100", p.Name, got)
		}
	}
}

func TestProbationLength(t *testing.T) {
	for rows, want := range map[int]int{100: 15, 4032: 604, 5000: 750, 22695: 750} {
		if got := ProbationLength(rows); got != want {
			t.Errorf("ProbationLength(%d) = %d, want %d", rows, got, want)
		}
	}
}

func TestAlertStats(t *testing.T) {
	ts := minutes(200)
	alert := make([]bool, 200)
	for _, i := range []int{10, 100, 101, 102, 150} { // 10 is in probation
		alert[i] = true
	}
	var st AlertStats
	st.Add(ts, alert, []Window{{ts[95], ts[110]}, {ts[170], ts[180]}})
	if st.Windows != 2 || st.Found != 1 || st.Episodes != 2 || st.TrueEps != 1 {
		t.Fatalf("stats %+v: want 2 windows, 1 found, 2 episodes after probation, 1 true", st)
	}
	if p, r := st.Precision(), st.Recall(); p != 0.5 || r != 0.5 || st.F1() != 0.5 {
		t.Fatalf("precision %v recall %v F1 %v, want 0.5 each", p, r, st.F1())
	}
	// Probation is 15% of 200 rows = 30; windows hold 16 + 11 rows after it.
	if in, out := st.RatesPer10k(); st.WindowRows != 27 || st.OtherRows != 143 || math.Abs(in-1e4/27) > 1e-9 || math.Abs(out-1e4/143) > 1e-9 {
		t.Fatalf("rows %d/%d, rates %v/%v: want 27/143 and one start in each", st.WindowRows, st.OtherRows, in, out)
	}
}

func TestLoadLabels(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "l.json")
	os.WriteFile(p, []byte(`{"x/a.csv": [["2014-04-10 07:15:00.000000", "2014-04-11 16:45:00.000000"]], "x/b.csv": []}`), 0o644)
	l, err := LoadLabels(p)
	if err != nil {
		t.Fatal(err)
	}
	if w, ok := l.Lookup("a.csv"); !ok || len(w) != 1 {
		t.Fatalf("Lookup(a.csv) = %v, %v", w, ok)
	}
	if w, ok := l.Lookup("x/b.csv"); !ok || len(w) != 0 {
		t.Fatalf("Lookup(x/b.csv) = %v, %v", w, ok)
	}
	os.WriteFile(p, []byte(`{"a.csv": [["2014-04-10", "later"]]}`), 0o644)
	if _, err := LoadLabels(p); err == nil {
		t.Fatal("bad window times accepted")
	}
}
