package eval

import (
	"errors"
	"math/rand/v2"
	"slices"
)

// Counts are one file's point-wise counts of an alert against per-row
// labels.
type Counts struct{ TP, FP, FN, TN int }

// CountRows counts rows skip onward of one file.
func CountRows(labels, alert []bool, skip int) Counts {
	var c Counts
	for i := skip; i < len(labels); i++ {
		switch {
		case labels[i] && alert[i]:
			c.TP++
		case labels[i]:
			c.FN++
		case alert[i]:
			c.FP++
		default:
			c.TN++
		}
	}
	return c
}

// EveryRow is what alerting on every row of the same file would count.
func (c Counts) EveryRow() Counts { return Counts{TP: c.TP + c.FN, FP: c.FP + c.TN} }

func (c *Counts) add(o Counts) {
	c.TP, c.FP, c.FN, c.TN = c.TP+o.TP, c.FP+o.FP, c.FN+o.FN, c.TN+o.TN
}

// F1 is TP / (TP + (FP + FN) / 2), as PointStats.F1.
func (c Counts) F1() float64 {
	p := PointStats{TP: c.TP, FP: c.FP, FN: c.FN, TN: c.TN}
	return p.F1()
}

// PairedF1 compares two alerts scored on the same files by their F1s
// pooled over the files: A's and B's, A's less B's, and a 95% interval of
// that difference from a paired bootstrap over files (files drawn with
// replacement, both alerts' counts of a file drawn together). Files, not
// rows, are drawn: a file's rows share its alerts, its faults and its
// wander, so rows are far from independent, and an interval over rows
// would claim differences that one more file could undo.
type PairedF1 struct {
	A, B, Diff float64
	Low, High  float64 // the 2.5% and 97.5% points of the resampled differences
	Ahead      float64 // share of resamples in which A's F1 is above B's
	Files      int
	Resamples  int
}

// Verdict reads the interval: "ahead" or "behind" when it leaves out 0,
// "not separable" when it holds it.
func (p PairedF1) Verdict() string {
	switch {
	case p.Low > 0:
		return "ahead"
	case p.High < 0:
		return "behind"
	}
	return "not separable"
}

// ComparePairedF1 is the paired bootstrap of PairedF1 over files whose
// counts are a[i] and b[i], with resamples draws from a generator seeded
// with seed (the same seed, the same interval).
func ComparePairedF1(a, b []Counts, resamples int, seed uint64) (PairedF1, error) {
	switch {
	case len(a) != len(b):
		return PairedF1{}, errors.New("paired F1: the two alerts were counted on different numbers of files")
	case len(a) == 0:
		return PairedF1{}, errors.New("paired F1: no files")
	case resamples < 40:
		return PairedF1{}, errors.New("paired F1: at least 40 resamples are needed for a 95% interval")
	}
	var ta, tb Counts
	for i := range a {
		ta.add(a[i])
		tb.add(b[i])
	}
	out := PairedF1{A: ta.F1(), B: tb.F1(), Files: len(a), Resamples: resamples}
	out.Diff = out.A - out.B
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	diffs := make([]float64, resamples)
	ahead := 0
	for r := range diffs {
		var sa, sb Counts
		for range a {
			i := rng.IntN(len(a))
			sa.add(a[i])
			sb.add(b[i])
		}
		diffs[r] = sa.F1() - sb.F1()
		if diffs[r] > 0 {
			ahead++
		}
	}
	slices.Sort(diffs)
	out.Low = diffs[int(0.025*float64(resamples))]
	out.High = diffs[int(0.975*float64(resamples))-1]
	out.Ahead = float64(ahead) / float64(resamples)
	return out, nil
}
