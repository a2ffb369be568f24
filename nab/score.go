package nab

import (
	"cmp"
	"math"
	"slices"

	"github.com/aewatch/aewatch/internal/detmath"
)

// Profile is a NAB cost matrix.
type Profile struct {
	Name       string
	TP, FP, FN float64
}

// Profiles are NAB's three standard profiles.
var Profiles = []Profile{
	{"standard", 1, 0.11, 1},
	{"reward_low_FP_rate", 1, 0.22, 1},
	{"reward_low_FN_rate", 1, 0.11, 2},
}

// File is one scored series: a score per row and its labelled windows.
type File struct {
	Name    string
	Times   []int64
	Scores  []float64
	Windows []Window
}

// Result is a profile's outcome over a corpus.
type Result struct {
	Profile   string
	Score     float64 // normalised: null detector 0, perfect 100
	Raw       float64
	Threshold float64
	Windows   int
	Files     []FileScore // each file's part of Raw at Threshold
}

// FileScore is one file's part of a corpus score at the chosen threshold.
type FileScore struct {
	Name           string
	Raw            float64 // the file's contribution to Result.Raw
	Windows, Found int     // labelled windows, windows detected
	FalsePos       int     // detections outside windows, after probation
}

// ProbationLength is the number of leading rows NAB does not score.
func ProbationLength(rows int) int {
	return int(math.Min(math.Floor(0.15*float64(rows)), 0.15*5000))
}

func scaledSigmoid(pos float64) float64 {
	if pos > 3 {
		return -1
	}
	return 2/(1+detmath.Exp(5*pos)) - 1
}

// point is a scored row after probation.
type point struct {
	score float64
	// shape is the row's sweep score before the profile's weights: the
	// scaled sigmoid of its place in its window or after the one before,
	// 0 before the first window.
	shape  float64
	window int  // global window index, or -1 outside windows
	before bool // outside windows, before the file's first
}

// weight is the row's sweep score under profile p.
func (pt *point) weight(p Profile, maxTP float64) float64 {
	switch {
	case pt.window >= 0:
		return pt.shape * p.TP / maxTP
	case pt.before:
		return -p.FP
	}
	return pt.shape * p.FP
}

// Score optimises one threshold for the profile over all files and returns
// the normalised score at that threshold.
func Score(files []File, p Profile) Result { return ScoreAll(files, []Profile{p})[0] }

// ScoreAll is Score for each profile, in their order: the rows' places
// and their order by score are the same under every profile, and are
// taken once.
func ScoreAll(files []File, profiles []Profile) []Result {
	rows := 0
	for _, f := range files {
		rows += len(f.Scores)
	}
	pts := make([]point, 0, rows)
	owner := make([]int, 0, rows) // file index of each point
	nWin := 0
	for fi, f := range files {
		prob := ProbationLength(len(f.Times))
		ranges := windowRows(f.Times, f.Windows)
		cur, prevRight, prevWidth := 0, -1, 0.0
		for i, s := range f.Scores {
			for cur < len(ranges) && i > ranges[cur][1] {
				prevRight, prevWidth = ranges[cur][1], float64(ranges[cur][1]-ranges[cur][0]+1)
				cur++
			}
			if i < prob {
				continue
			}
			pt := point{score: s, window: -1}
			if cur < len(ranges) && i >= ranges[cur][0] {
				width := float64(ranges[cur][1] - ranges[cur][0] + 1)
				pt.shape = scaledSigmoid(-float64(ranges[cur][1]-i+1) / width)
				pt.window = nWin + cur
			} else if prevRight < 0 {
				pt.before = true
			} else {
				pt.shape = scaledSigmoid(math.Abs(float64(prevRight-i)) / (prevWidth - 1))
			}
			pts = append(pts, pt)
			owner = append(owner, fi)
		}
		nWin += len(f.Windows)
	}
	order := make([]int32, len(pts))
	for i := range order {
		order[i] = int32(i)
	}
	// Highest score first, ties in row order (as a stable sort would leave
	// them, at a fraction of its cost).
	slices.SortFunc(order, func(a, b int32) int {
		switch {
		case pts[a].score > pts[b].score:
			return -1
		case pts[a].score < pts[b].score:
			return 1
		}
		return cmp.Compare(a, b)
	})
	out := make([]Result, len(profiles))
	weights := make([]float64, len(pts))
	best := make([]float64, nWin)
	maxTP := scaledSigmoid(-1)
	for i, p := range profiles {
		for k := range pts {
			weights[k] = pts[k].weight(p, maxTP)
		}
		bestScore, bestThr := sweep(pts, weights, order, best, p)
		out[i] = Result{Profile: p.Name, Score: Normalised(bestScore, nWin, p), Raw: bestScore, Threshold: bestThr, Windows: nWin}
		out[i].Files = fileScores(files, pts, weights, owner, bestThr, p)
	}
	return out
}

// sweep lowers the threshold through the points' scores in order and
// returns the best raw score and the threshold it was reached at; best is
// scratch, a slot per window.
func sweep(pts []point, weights []float64, order []int32, best []float64, p Profile) (bestScore, bestThr float64) {
	for i := range best {
		best[i] = math.Inf(-1)
	}
	// Every window starts as a false negative; a window's part becomes the
	// best (earliest) detection in it.
	total := -p.FN * float64(len(best))
	fp := 0.0
	winPart := func(w int) float64 { return math.Max(-p.FN, best[w]) }
	bestScore, bestThr = total, 1.1
	thr := 1.1
	for _, k := range order {
		pt := &pts[k]
		if pt.score != thr {
			if cur := total + fp; cur > bestScore {
				bestScore, bestThr = cur, thr
			}
			thr = pt.score
		}
		if pt.window < 0 {
			fp += weights[k]
			continue
		}
		before := winPart(pt.window)
		best[pt.window] = math.Max(best[pt.window], weights[k])
		total += winPart(pt.window) - before
	}
	if cur := total + fp; cur > bestScore {
		bestScore, bestThr = cur, thr
	}
	return bestScore, bestThr
}

// Normalised is NAB's normalised score of a raw score over files with
// windows labelled windows in all: the null detector (no detection) 0, a
// perfect one (each window found at its start, nothing else) 100.
func Normalised(raw float64, windows int, p Profile) float64 {
	null := -p.FN * float64(windows)
	perfect := p.TP * float64(windows)
	if perfect == null {
		return 0
	}
	return 100 * (raw - null) / (perfect - null)
}

// fileScores splits the corpus score at threshold thr by file.
func fileScores(files []File, pts []point, weights []float64, owner []int, thr float64, p Profile) []FileScore {
	out := make([]FileScore, len(files))
	winBase := make([]int, len(files))
	n := 0
	for i, f := range files {
		out[i] = FileScore{Name: f.Name, Windows: len(f.Windows), Raw: -p.FN * float64(len(f.Windows))}
		winBase[i] = n
		n += len(f.Windows)
	}
	best := make([]float64, n)
	for i := range best {
		best[i] = -p.FN
	}
	for k, pt := range pts {
		if pt.score < thr {
			continue
		}
		fs, w := &out[owner[k]], weights[k]
		if pt.window < 0 {
			fs.Raw += w
			fs.FalsePos++
			continue
		}
		if best[pt.window] == -p.FN {
			fs.Found++
		}
		if w > best[pt.window] {
			fs.Raw += w - best[pt.window]
			best[pt.window] = w
		}
	}
	return out
}

// windowRows maps time windows onto inclusive row ranges of times; windows
// that cover no row are dropped.
func windowRows(times []int64, wins []Window) [][2]int {
	var out [][2]int
	for _, w := range wins {
		lo, _ := slices.BinarySearch(times, w.Start)
		hi, found := slices.BinarySearch(times, w.End)
		if !found {
			hi--
		}
		if lo <= hi && lo < len(times) {
			out = append(out, [2]int{lo, hi})
		}
	}
	return out
}

// AlertStats scores binary alert decisions as episodes: a window counts as
// found when an alert is on at any of its rows, an episode (a run of alert
// rows starting after probation) counts as true when it overlaps a window.
type AlertStats struct {
	Windows, Found    int
	Episodes, TrueEps int
	// Rows after probation inside and outside windows, and the episodes
	// that start in each: alert rates that say whether alerts follow the
	// windows or fall anywhere.
	WindowRows, OtherRows     int
	StartsInside, StartsOther int
}

// Add accumulates one file.
func (a *AlertStats) Add(times []int64, alert []bool, wins []Window) {
	prob := ProbationLength(len(times))
	ranges := windowRows(times, wins)
	inWin := markRows(len(times), ranges)
	for _, r := range ranges {
		a.Windows++
		if slices.Contains(alert[r[0]:r[1]+1], true) {
			a.Found++
		}
	}
	for i := prob; i < len(alert); i++ {
		if inWin[i] {
			a.WindowRows++
		} else {
			a.OtherRows++
		}
	}
	for i := 0; i < len(alert); i++ {
		if !alert[i] || (i > 0 && alert[i-1]) {
			continue
		}
		if i >= prob && inWin[i] {
			a.StartsInside++
		} else if i >= prob {
			a.StartsOther++
		}
		j, hit := i, false
		for ; j < len(alert) && alert[j]; j++ {
			hit = hit || inWin[j]
		}
		if i >= prob {
			a.Episodes++
			if hit {
				a.TrueEps++
			}
		}
		i = j
	}
}

// RatesPer10k returns alert episodes started per 10,000 rows inside
// windows and outside them.
func (a AlertStats) RatesPer10k() (inside, outside float64) {
	return 1e4 * ratio(a.StartsInside, a.WindowRows), 1e4 * ratio(a.StartsOther, a.OtherRows)
}

// Precision is the share of alert episodes that overlap a window.
func (a AlertStats) Precision() float64 { return ratio(a.TrueEps, a.Episodes) }

// Recall is the share of windows that some alert overlaps.
func (a AlertStats) Recall() float64 { return ratio(a.Found, a.Windows) }

// F1 is the harmonic mean of precision and recall.
func (a AlertStats) F1() float64 {
	p, r := a.Precision(), a.Recall()
	if p+r == 0 {
		return 0
	}
	return 2 * p * r / (p + r)
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// NormalRows marks the rows NAB scores as normal: after probation and
// outside every window.
func NormalRows(times []int64, wins []Window) []bool {
	out, prob := markRows(len(times), windowRows(times, wins)), ProbationLength(len(times))
	for i := range out {
		out[i] = i >= prob && !out[i]
	}
	return out
}

// markRows marks the n rows that lie in one of the ranges (windowRows).
func markRows(n int, ranges [][2]int) []bool {
	out := make([]bool, n)
	for _, r := range ranges {
		for i := r[0]; i <= r[1]; i++ {
			out[i] = true
		}
	}
	return out
}
