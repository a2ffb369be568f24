package eval

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/aewatch/aewatch/nab"
)

func TestCountRows(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var pooled PointStats
	var sum, want Counts
	for range 20 {
		n := 50 + r.IntN(200)
		labels, alert, score := make([]bool, n), make([]bool, n), make([]float64, n)
		for i := range labels {
			labels[i], alert[i], score[i] = r.IntN(3) == 0, r.IntN(2) == 0, r.Float64()
			if i < 10 {
				continue
			}
			switch {
			case labels[i] && alert[i]:
				want.TP++
			case labels[i]:
				want.FN++
			case alert[i]:
				want.FP++
			default:
				want.TN++
			}
		}
		pooled.Add(labels, alert, score, 10)
		sum.add(CountRows(labels, alert, 10))
	}
	if sum != want {
		t.Fatalf("counts %+v, want %+v", sum, want)
	}
	if sum.F1() != pooled.F1() || sum.F1() != float64(want.TP)/(float64(want.TP)+float64(want.FP+want.FN)/2) {
		t.Errorf("F1 %v, PointStats %v", sum.F1(), pooled.F1())
	}
	if e := sum.EveryRow(); e.F1() != pooled.EveryRowF1() || e.TP != want.TP+want.FN || e.FP != want.FP+want.TN {
		t.Errorf("every row %+v, F1 %v, PointStats %v", e, e.F1(), pooled.EveryRowF1())
	}
}

// pairedFiles draws n files' counts for two alerts on the same rows: each
// file has its own share of labelled rows and its own difficulty (an offset
// of both alerts' recall and false-alarm rate: files differ more than rows
// do), and each alert a little noise of its own on top.
func pairedFiles(r *rand.Rand, n int, recallA, recallB, far float64) (a, b []Counts) {
	a, b = make([]Counts, n), make([]Counts, n)
	for i := range n {
		rows := 600 + r.IntN(400)
		pos := int(float64(rows) * (0.2 + 0.4*r.Float64()))
		hard, wander := 0.25*r.NormFloat64(), 0.15*r.NormFloat64()
		one := func(recall float64) Counts {
			rec := min(1, max(0, recall+hard+0.08*r.NormFloat64()))
			fa := min(1, max(0, far+wander+0.05*r.NormFloat64()))
			tp, fp := int(rec*float64(pos)), int(fa*float64(rows-pos))
			return Counts{TP: tp, FN: pos - tp, FP: fp, TN: rows - pos - fp}
		}
		a[i], b[i] = one(recallA), one(recallB)
	}
	return a, b
}

func TestPairedF1(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	a, _ := pairedFiles(r, 30, 0.7, 0.7, 0.2)
	same, err := ComparePairedF1(a, a, 500, 1)
	if err != nil {
		t.Fatal(err)
	}
	if same.Diff != 0 || same.Low != 0 || same.High != 0 || same.Ahead != 0 || same.Verdict() != "not separable" {
		t.Errorf("an alert against itself: %+v, %s", same, same.Verdict())
	}
	// Better on every file: fewer false alarms at the same recall.
	b := make([]Counts, len(a))
	for i, c := range a {
		moved := c.FP / 2
		b[i] = Counts{TP: c.TP, FN: c.FN, FP: c.FP - moved, TN: c.TN + moved}
	}
	lead, err := ComparePairedF1(b, a, 500, 1)
	if err != nil {
		t.Fatal(err)
	}
	if lead.Diff <= 0 || lead.Low <= 0 || lead.Ahead != 1 || lead.Verdict() != "ahead" {
		t.Errorf("half the false alarms on every file: %+v, %s", lead, lead.Verdict())
	}
	var pooled Counts
	for _, c := range b {
		pooled.add(c)
	}
	if lead.A != pooled.F1() {
		t.Errorf("A's F1 %v, pooled %v", lead.A, pooled.F1())
	}
	back, _ := ComparePairedF1(a, b, 500, 1)
	if back.Verdict() != "behind" || math.Abs(back.Diff+lead.Diff) > 1e-15 {
		t.Errorf("the same the other way round: %+v, %s", back, back.Verdict())
	}
	again, _ := ComparePairedF1(a, b, 500, 1)
	if again != back {
		t.Errorf("same seed, different result: %+v, %+v", again, back)
	}
	for _, c := range []struct {
		a, b []Counts
		n    int
		want string
	}{
		{a, a[:3], 500, "different numbers of files"},
		{nil, nil, 500, "no files"},
		{a, a, 10, "at least 40 resamples"},
	} {
		if _, err := ComparePairedF1(c.a, c.b, c.n, 1); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want an error with %q, got %v", c.want, err)
		}
	}
}

// TestPairedFAR: on normal operation alone the lower false-alarm rate is
// ahead, and the rates are the pooled ones.
func TestPairedFAR(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	noisy := make([]Counts, 25)
	for i := range noisy {
		rows := 700 + r.IntN(300)
		fp := int(float64(rows) * (0.1 + 0.2*r.Float64()))
		noisy[i] = Counts{FP: fp, TN: rows - fp}
	}
	quiet := make([]Counts, len(noisy))
	var pooled Counts
	for i, c := range noisy {
		moved := c.FP / 3
		quiet[i] = Counts{FP: c.FP - moved, TN: c.TN + moved}
		pooled.add(quiet[i])
	}
	lead, err := ComparePairedFAR(quiet, noisy, 500, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !lead.LowerIsBetter || lead.A != pooled.FAR() || lead.Diff >= 0 || lead.High >= 0 || lead.Ahead != 1 || lead.Verdict() != "ahead" {
		t.Errorf("a third fewer false alarms on every file: %+v, %s (pooled rate %v)", lead, lead.Verdict(), pooled.FAR())
	}
	back, _ := ComparePairedFAR(noisy, quiet, 500, 1)
	if back.Verdict() != "behind" || back.Ahead != 0 || math.Abs(back.Diff+lead.Diff) > 1e-15 {
		t.Errorf("the same the other way round: %+v, %s", back, back.Verdict())
	}
	same, _ := ComparePairedFAR(noisy, noisy, 500, 1)
	if same.Diff != 0 || same.Verdict() != "not separable" {
		t.Errorf("an alert against itself: %+v, %s", same, same.Verdict())
	}
	if _, err := ComparePairedFAR(noisy, noisy[:3], 500, 1); err == nil || !strings.Contains(err.Error(), "different numbers of files") {
		t.Errorf("different numbers of files: got %v", err)
	}
}

// TestPairedF1IntervalCovers: for two alerts equally good on average, the
// 95% interval holds 0 in most draws of the files; for one whose recall is
// higher by 0.05, it leaves 0 out in most.
func TestPairedF1IntervalCovers(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	const trials = 200
	holds, separates := 0, 0
	for trial := range trials {
		a, b := pairedFiles(r, 60, 0.65, 0.65, 0.25)
		p, err := ComparePairedF1(a, b, 1000, uint64(trial))
		if err != nil {
			t.Fatal(err)
		}
		if p.Low <= 0 && 0 <= p.High {
			holds++
		}
		better, worse := pairedFiles(r, 60, 0.70, 0.65, 0.25)
		if q, _ := ComparePairedF1(better, worse, 1000, uint64(trial)); q.Low > 0 {
			separates++
		}
	}
	t.Logf("equal alerts: 0 within the interval in %d of %d draws; recall higher by 0.05: ahead in %d", holds, trials, separates)
	if holds < trials*88/100 {
		t.Errorf("equal alerts: 0 within the 95%% interval in only %d of %d draws", holds, trials)
	}
	if separates < trials*80/100 {
		t.Errorf("recall higher by 0.05: called ahead in only %d of %d draws", separates, trials)
	}
}

// TestPairedNAB: over the whole corpus the comparison's scores are
// nab.Score's own; a detector that finds every window early is ahead of
// one that finds half of them late.
func TestPairedNAB(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	var early, late []nab.File
	for f := range 24 {
		times := make([]int64, 1000)
		for i := range times {
			times[i] = int64(i) * 60e9
		}
		start := 300 + r.IntN(500)
		wins := []nab.Window{{Start: times[start], End: times[start+80]}}
		a, b := make([]float64, 1000), make([]float64, 1000)
		for i := range a {
			a[i], b[i] = 0.3*r.Float64(), 0.3*r.Float64()
		}
		a[start+5] = 0.9
		if f%2 == 0 {
			b[start+70] = 0.9
		}
		name := fmt.Sprintf("f%d.csv", f)
		early = append(early, nab.File{Name: name, Times: times, Scores: a, Windows: wins})
		late = append(late, nab.File{Name: name, Times: times, Scores: b, Windows: wins})
	}
	for _, p := range nab.Profiles {
		ra, rb := nab.Score(early, p), nab.Score(late, p)
		got, err := ComparePairedNAB(ra.Files, rb.Files, p, 1000, 1)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got.A-ra.Score) > 1e-9 || math.Abs(got.B-rb.Score) > 1e-9 {
			t.Errorf("%s: %v and %v, nab.Score %v and %v", p.Name, got.A, got.B, ra.Score, rb.Score)
		}
		if got.Verdict() != "ahead" || got.Low <= 0 {
			t.Errorf("%s: every window found early against half found late: %+v", p.Name, got)
		}
	}
	ra, rb := nab.Score(early, nab.Profiles[0]), nab.Score(late[1:], nab.Profiles[0])
	if _, err := ComparePairedNAB(ra.Files, rb.Files, nab.Profiles[0], 1000, 1); err == nil || !strings.Contains(err.Error(), "different numbers of files") {
		t.Errorf("files missing on one side: %v", err)
	}
	rb = nab.Score(append(late[1:], late[0]), nab.Profiles[0])
	if _, err := ComparePairedNAB(ra.Files, rb.Files, nab.Profiles[0], 1000, 1); err == nil || !strings.Contains(err.Error(), "file 0 is f0.csv") {
		t.Errorf("files in another order: %v", err)
	}
}
