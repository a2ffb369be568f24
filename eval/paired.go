package eval

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/aewatch/aewatch/nab"
)

// Counts are point-wise counts of an alert against per-row labels: one
// file's, or pooled over files (PointStats).
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

// FAR is the false-alarm rate FP / (FP + TN).
func (c Counts) FAR() float64 { return ratio(c.FP, c.FP+c.TN) }

// F1 is TP / (TP + (FP + FN) / 2), as SKAB computes it.
func (c Counts) F1() float64 {
	d := float64(c.TP) + float64(float64(c.FP+c.FN)/2)
	if d == 0 {
		return 0
	}
	return float64(c.TP) / d
}

// Paired compares two detectors scored on the same files by a statistic
// pooled over the files: A's and B's, A's less B's, and a 95% interval of
// that difference from a paired bootstrap over files (files drawn with
// replacement, both detectors' parts of a file drawn together). Files, not
// rows, are drawn: a file's rows share its alerts, its faults and its
// wander, so rows are far from independent, and an interval over rows
// would claim differences that one more file could undo.
type Paired struct {
	A, B, Diff float64
	Low, High  float64 // the 2.5% and 97.5% points of the resampled differences
	// Ahead is the share of resamples in which A's statistic is better
	// than B's: above it, or below it when LowerIsBetter.
	Ahead         float64
	LowerIsBetter bool // a rate of false alarms
	Files         int
	Resamples     int
}

// Verdict reads the interval: "ahead" or "behind" when it leaves out 0,
// "not separable" when it holds it.
func (p Paired) Verdict() string {
	low, high := p.Low, p.High
	if p.LowerIsBetter {
		low, high = -p.High, -p.Low
	}
	switch {
	case low > 0:
		return "ahead"
	case high < 0:
		return "behind"
	}
	return "not separable"
}

// pairedBootstrap draws resamples of files 0..files-1 with replacement
// from a generator seeded with seed (the same seed, the same interval);
// pooled returns both detectors' statistics over the files drawn, a file
// as often as it was drawn (nil: all once).
func pairedBootstrap(files, resamples int, seed uint64, lowerIsBetter bool, pooled func(draw []int) (a, b float64)) (Paired, error) {
	switch {
	case files == 0:
		return Paired{}, errors.New("paired comparison: no files")
	case resamples < 40:
		return Paired{}, errors.New("paired comparison: at least 40 resamples are needed for a 95% interval")
	}
	out := Paired{Files: files, Resamples: resamples, LowerIsBetter: lowerIsBetter}
	out.A, out.B = pooled(nil)
	out.Diff = out.A - out.B
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	draw := make([]int, files)
	diffs := make([]float64, resamples)
	ahead := 0
	for r := range diffs {
		for i := range draw {
			draw[i] = rng.IntN(files)
		}
		a, b := pooled(draw)
		diffs[r] = a - b
		if diffs[r] > 0 && !lowerIsBetter || diffs[r] < 0 && lowerIsBetter {
			ahead++
		}
	}
	slices.Sort(diffs)
	out.Low = diffs[int(0.025*float64(resamples))]
	out.High = diffs[int(0.975*float64(resamples))-1]
	out.Ahead = float64(ahead) / float64(resamples)
	return out, nil
}

// each calls f with every file drawn (draw nil: every file once).
func each(files int, draw []int, f func(i int)) {
	if draw == nil {
		for i := range files {
			f(i)
		}
		return
	}
	for _, i := range draw {
		f(i)
	}
}

// ComparePairedF1 compares two alerts by their F1s pooled over files whose
// counts are a[i] and b[i].
func ComparePairedF1(a, b []Counts, resamples int, seed uint64) (Paired, error) {
	if len(a) != len(b) {
		return Paired{}, errors.New("paired F1: the two alerts were counted on different numbers of files")
	}
	return pairedBootstrap(len(a), resamples, seed, false, pooledCounts(a, b, Counts.F1))
}

// ComparePairedFAR compares two alerts by their false-alarm rates pooled
// over files whose counts are a[i] and b[i]: on files with no labelled row
// (a plant's normal operation) F1 says nothing, and the lower rate is
// ahead.
func ComparePairedFAR(a, b []Counts, resamples int, seed uint64) (Paired, error) {
	if len(a) != len(b) {
		return Paired{}, errors.New("paired false-alarm rate: the two alerts were counted on different numbers of files")
	}
	return pairedBootstrap(len(a), resamples, seed, true, pooledCounts(a, b, Counts.FAR))
}

// pooledCounts is pairedBootstrap's pooled for stat of counts pooled over
// the files drawn.
func pooledCounts(a, b []Counts, stat func(Counts) float64) func(draw []int) (float64, float64) {
	return func(draw []int) (float64, float64) {
		var sa, sb Counts
		each(len(a), draw, func(i int) {
			sa.add(a[i])
			sb.add(b[i])
		})
		return stat(sa), stat(sb)
	}
}

// ComparePairedNAB compares two detectors by their NAB scores under
// profile p over the same files, each file's part taken at the threshold
// its detector's nab.Score chose over the whole corpus (a and b, file by
// file in the same order): the interval leaves out how the threshold
// would move with the files drawn, so it is a little narrower than one
// that chose it again in each resample.
func ComparePairedNAB(a, b []nab.FileScore, p nab.Profile, resamples int, seed uint64) (Paired, error) {
	if len(a) != len(b) {
		return Paired{}, errors.New("paired NAB: the two detectors were scored on different numbers of files")
	}
	for i := range a {
		if a[i].Name != b[i].Name || a[i].Windows != b[i].Windows {
			return Paired{}, fmt.Errorf("paired NAB: file %d is %s (%d windows) for one detector and %s (%d) for the other", i, a[i].Name, a[i].Windows, b[i].Name, b[i].Windows)
		}
	}
	return pairedBootstrap(len(a), resamples, seed, false, func(draw []int) (float64, float64) {
		var rawA, rawB float64
		windows := 0
		each(len(a), draw, func(i int) {
			rawA += a[i].Raw
			rawB += b[i].Raw
			windows += a[i].Windows
		})
		return nab.Normalised(rawA, windows, p), nab.Normalised(rawB, windows, p)
	})
}
