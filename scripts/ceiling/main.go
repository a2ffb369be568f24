// Command ceiling measures what classic statistics fitted on each file's
// first 400 rows (SKAB's training part) reach on per-row labels, to put the
// detectors' point-wise F1 beside the frontier of the simplest references:
// each channel's window mean and spread against the reference period's
// windows, and PCA's Hotelling T² and Q (SPE) of the reference rows. Each
// statistic is divided by its 99th percentile over the reference period's
// windows, then thresholded at several multiples; F1 and false-alarm rate
// are pooled over the files' rows 400 on, as eval --label-column does. The
// best multiple per corpus is chosen with the labels, so the figures are an
// upper bound of what each statistic would do with a threshold set blind.
//
//	go run ./scripts/ceiling DIR... (CSV files with an "anomaly" column;
//	files without it count as fault-free)
package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/aewatch/aewatch/sensorcsv"
)

const (
	windowRows    = 32
	referenceRows = 400
)

var multiples = [...]float64{0.5, 0.75, 1, 1.5, 2, 3, 4, 6, 10}

var statNames = []string{"level", "spread", "level+spread", "T2", "Q", "T2+Q"}

type tally struct{ tp, fp, fn, tn [len(multiples)]int }

func main() {
	byFault := flag.Float64("by-fault", 0, "also print recall per fault (the file name up to its first '-') at this multiple")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: go run ./scripts/ceiling [--by-fault M] DIR...")
		os.Exit(2)
	}
	for _, dir := range flag.Args() {
		if err := corpus(dir, *byFault); err != nil {
			fmt.Fprintln(os.Stderr, "ceiling:", err)
			os.Exit(1)
		}
	}
}

func corpus(dir string, byFault float64) error {
	paths, err := filepath.Glob(filepath.Join(dir, "*.csv"))
	if err != nil || len(paths) == 0 {
		return fmt.Errorf("%s: no CSV files", dir)
	}
	tallies := map[string]*tally{}
	for _, n := range statNames {
		tallies[n] = &tally{}
	}
	found, labelled := map[string]int{}, map[string]int{}
	for _, p := range paths {
		f, err := readLabelled(p)
		if err != nil {
			return err
		}
		if len(f.Values) < 2*referenceRows {
			return fmt.Errorf("%s: %d rows; at least %d needed", p, len(f.Values), 2*referenceRows)
		}
		labels, err := rowLabels(f)
		if err != nil {
			return err
		}
		fault, _, _ := strings.Cut(filepath.Base(p), "-")
		for name, v := range statistics(f.Values) {
			t := tallies[name]
			for i := referenceRows; i < len(v); i++ {
				for k, m := range multiples {
					alert := v[i] >= m
					switch {
					case alert && labels[i]:
						t.tp[k]++
					case alert:
						t.fp[k]++
					case labels[i]:
						t.fn[k]++
					default:
						t.tn[k]++
					}
					if m == byFault && labels[i] && name == "T2+Q" {
						labelled[fault]++
						if alert {
							found[fault]++
						}
					}
				}
			}
		}
	}
	fmt.Printf("%s (%d files): F1 / false-alarm rate at multiples of the reference's 99th percentile\n", dir, len(paths))
	for _, name := range statNames {
		t := tallies[name]
		fmt.Printf("  %-13s", name)
		best := 0
		for k := range multiples {
			fmt.Printf(" %g: %.3f/%.2f", multiples[k], f1(t, k), rate(t.fp[k], t.tn[k]))
			if f1(t, k) > f1(t, best) {
				best = k
			}
		}
		fmt.Printf("  | best %.3f at %g\n", f1(t, best), multiples[best])
	}
	if byFault > 0 {
		faults := make([]string, 0, len(labelled))
		for f := range labelled {
			faults = append(faults, f)
		}
		slices.Sort(faults)
		fmt.Printf("  recall of T2+Q at %g:", byFault)
		for _, f := range faults {
			fmt.Printf(" %s %.2f", f, float64(found[f])/float64(labelled[f]))
		}
		fmt.Println()
	}
	return nil
}

func f1(t *tally, k int) float64 {
	if t.tp[k] == 0 {
		return 0
	}
	return float64(t.tp[k]) / (float64(t.tp[k]) + float64(t.fp[k]+t.fn[k])/2)
}

func rate(fp, tn int) float64 {
	if fp+tn == 0 {
		return 0
	}
	return float64(fp) / float64(fp+tn)
}

// readLabelled reads the file with its label columns, where it has them,
// left out of the channels.
func readLabelled(path string) (*sensorcsv.File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	header, _, _ := strings.Cut(string(b), "\n")
	var ignore []string
	for _, col := range []string{"anomaly", "changepoint"} {
		if strings.Contains(header, col) {
			ignore = append(ignore, col)
		}
	}
	return sensorcsv.Parse(strings.NewReader(string(b)), ignore)
}

// rowLabels reads the "anomaly" column (absent: every row normal).
func rowLabels(f *sensorcsv.File) ([]bool, error) {
	col := slices.Index(f.Header, "anomaly")
	labels := make([]bool, len(f.Rows))
	if col < 0 {
		return labels, nil
	}
	for i, row := range f.Rows {
		switch strings.TrimSpace(row[col]) {
		case "0", "0.0", "":
		case "1", "1.0":
			labels[i] = true
		default:
			return nil, fmt.Errorf("%s: row %d: anomaly %q is not 0 or 1", f.Path, i+1, row[col])
		}
	}
	return labels, nil
}

// statistics returns, per named statistic, its value per row (0 for the
// first window's rows) divided by its 99th percentile over the reference
// period's windows.
func statistics(x [][]float64) map[string][]float64 {
	n, c := len(x), len(x[0])
	z := standardise(x)
	rowT2, rowQ := pca(z)

	// Per channel and window: the mean, and the log of the spread.
	level, spread := make([][]float64, n), make([][]float64, n)
	for i := windowRows - 1; i < n; i++ {
		level[i], spread[i] = make([]float64, c), make([]float64, c)
		for j := range c {
			var m, ss float64
			for t := i - windowRows + 1; t <= i; t++ {
				m += z[t][j]
			}
			m /= windowRows
			for t := i - windowRows + 1; t <= i; t++ {
				ss += (z[t][j] - m) * (z[t][j] - m)
			}
			level[i][j], spread[i][j] = m, math.Log(math.Sqrt(ss/windowRows)+1e-3)
		}
	}
	// The reference period's spread of both, per channel.
	levelSD, spreadMean, spreadSD := make([]float64, c), make([]float64, c), make([]float64, c)
	ref := float64(referenceRows - windowRows + 1)
	for i := windowRows - 1; i < referenceRows; i++ {
		for j := range c {
			levelSD[j] += level[i][j] * level[i][j] / ref
			spreadMean[j] += spread[i][j] / ref
		}
	}
	for i := windowRows - 1; i < referenceRows; i++ {
		for j := range c {
			spreadSD[j] += (spread[i][j] - spreadMean[j]) * (spread[i][j] - spreadMean[j]) / ref
		}
	}
	for j := range c {
		levelSD[j] = max(math.Sqrt(levelSD[j]), 0.05)
		spreadSD[j] = max(math.Sqrt(spreadSD[j]), 0.05)
	}
	raw := map[string][]float64{}
	for _, name := range []string{"level", "spread", "T2", "Q"} {
		raw[name] = make([]float64, n)
	}
	for i := windowRows - 1; i < n; i++ {
		for j := range c {
			raw["level"][i] = max(raw["level"][i], math.Abs(level[i][j])/levelSD[j])
			raw["spread"][i] = max(raw["spread"][i], math.Abs(spread[i][j]-spreadMean[j])/spreadSD[j])
		}
		for t := i - windowRows + 1; t <= i; t++ {
			raw["T2"][i] += rowT2[t] / windowRows
			raw["Q"][i] += rowQ[t] / windowRows
		}
	}
	out := map[string][]float64{}
	for name, v := range raw {
		out[name] = scaled(v)
	}
	out["level+spread"] = larger(out["level"], out["spread"])
	out["T2+Q"] = larger(out["T2"], out["Q"])
	return out
}

// standardise puts each channel in deviations of the reference period.
func standardise(x [][]float64) [][]float64 {
	c := len(x[0])
	mean, sd := make([]float64, c), make([]float64, c)
	for _, row := range x[:referenceRows] {
		for j, v := range row {
			mean[j] += v / referenceRows
		}
	}
	for _, row := range x[:referenceRows] {
		for j, v := range row {
			sd[j] += (v - mean[j]) * (v - mean[j]) / referenceRows
		}
	}
	z := make([][]float64, len(x))
	for i, row := range x {
		z[i] = make([]float64, c)
		for j, v := range row {
			z[i][j] = (v - mean[j]) / max(math.Sqrt(sd[j]), 1e-9)
		}
	}
	return z
}

// pca fits principal components to the reference rows, keeps those that
// explain 90% of their variance, and returns each row's Hotelling T² in
// the kept components and its squared residual off them (Q).
func pca(z [][]float64) (t2, q []float64) {
	c := len(z[0])
	cov := mat.NewSymDense(c, nil)
	for a := range c {
		for b := a; b < c; b++ {
			var s float64
			for _, row := range z[:referenceRows] {
				s += row[a] * row[b]
			}
			cov.SetSym(a, b, s/referenceRows)
		}
	}
	var eig mat.EigenSym
	if !eig.Factorize(cov, true) {
		panic("ceiling: the reference covariance does not factorise")
	}
	values := eig.Values(nil)
	var vectors mat.Dense
	eig.VectorsTo(&vectors)
	order := make([]int, c)
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return -cmpFloat(values[a], values[b]) })
	var total, kept float64
	for _, v := range values {
		total += v
	}
	k := 0
	for k < c && kept < 0.9*total {
		kept += values[order[k]]
		k++
	}
	t2, q = make([]float64, len(z)), make([]float64, len(z))
	for i, row := range z {
		var norm2, inPlane float64
		for _, v := range row {
			norm2 += v * v
		}
		for p := range k {
			var s float64
			for j, v := range row {
				s += v * vectors.At(j, order[p])
			}
			t2[i] += s * s / max(values[order[p]], 1e-9)
			inPlane += s * s
		}
		q[i] = max(0, norm2-inPlane)
	}
	return t2, q
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// scaled divides v by its 99th percentile over the reference period's
// windows.
func scaled(v []float64) []float64 {
	ref := slices.Clone(v[windowRows-1 : referenceRows])
	slices.Sort(ref)
	q99 := max(ref[int(0.99*float64(len(ref)-1))], 1e-12)
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = x / q99
	}
	return out
}

func larger(a, b []float64) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		out[i] = max(a[i], b[i])
	}
	return out
}
