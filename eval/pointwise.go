package eval

import (
	"fmt"
	"slices"
	"strings"

	"github.com/aewatch/aewatch/sensorcsv"
)

// PointStats scores per-row labels against per-row alerts, pooled point by
// point over files as SKAB's leaderboard does: every row after the skipped
// head of each file counts once.
type PointStats struct {
	Counts
	// Coverage holds, per labelled span (a run of abnormal rows), the share
	// of its scored rows under an alert.
	Coverage []float64
	// FalseOpens counts alerts opened on normal rows.
	FalseOpens int
	// scored rows' anomaly scores and labels, for the ROC-AUC
	scores []float64
	labels []bool
}

// LabelColumn returns the row labels of column name in s's file: a label is
// true for a number other than 0 ("1", "1.0") or "true" in any case, as
// pandas writes booleans ("True"); false for 0 or "false". It names the
// file, line and value of anything else.
func (s *Scored) LabelColumn(name string) ([]bool, error) {
	f := s.File
	col := slices.Index(f.Header, name)
	if col < 0 {
		return nil, fmt.Errorf("%s: --label-column: no column named %q", f.Path, name)
	}
	out := make([]bool, len(f.Rows))
	for i, row := range f.Rows {
		switch field := row[col]; {
		case strings.EqualFold(field, "true"):
			out[i] = true
		case strings.EqualFold(field, "false"):
		default:
			v, err := sensorcsv.ParseNumber(field, f.Sep)
			if err != nil || v != v {
				return nil, fmt.Errorf("%s: row %d, column %q: label must be a number (0 for normal) or true/false (got %q)", f.Path, i+1, name, field)
			}
			out[i] = v != 0
		}
	}
	return out, nil
}

// Add pools rows skip onward of one file.
func (p *PointStats) Add(labels, alert []bool, score []float64, skip int) {
	span, covered := 0, 0
	for i := skip; i <= len(labels); i++ {
		if i < len(labels) && labels[i] {
			span++
			if alert[i] {
				covered++
			}
			continue
		}
		if span > 0 {
			p.Coverage = append(p.Coverage, float64(covered)/float64(span))
			span, covered = 0, 0
		}
		if i < len(labels) && alert[i] && (i == 0 || !alert[i-1]) {
			p.FalseOpens++
		}
	}
	p.add(CountRows(labels, alert, skip))
	for i := skip; i < len(labels); i++ {
		p.scores = append(p.scores, score[i])
		p.labels = append(p.labels, labels[i])
	}
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// FalseOpensPer10k is how many alerts opened on normal rows per 10,000
// normal rows.
func (p *PointStats) FalseOpensPer10k() float64 { return 1e4 * ratio(p.FalseOpens, p.FP+p.TN) }

// Covered returns how many labelled spans the alert covers for at least
// share of their rows, and the median coverage.
func (p *PointStats) Covered(share float64) (n int, median float64) {
	if len(p.Coverage) == 0 {
		return 0, 0
	}
	c := slices.Sorted(slices.Values(p.Coverage))
	for _, v := range c {
		if v >= share {
			n++
		}
	}
	m := len(c) / 2
	if len(c)%2 == 0 {
		return n, (c[m-1] + c[m]) / 2
	}
	return n, c[m]
}

// Precision is TP / (TP + FP).
func (p *PointStats) Precision() float64 { return ratio(p.TP, p.TP+p.FP) }

// Recall is TP / (TP + FN).
func (p *PointStats) Recall() float64 { return ratio(p.TP, p.TP+p.FN) }

// EveryRowF1 is the F1 of alerting on every scored row: the control any
// alert must beat (P / (P + N/2), P the labelled rows and N the others).
func (p *PointStats) EveryRowF1() float64 { return p.EveryRow().F1() }

// MAR is the missed-alarm rate FN / (FN + TP).
func (p *PointStats) MAR() float64 { return ratio(p.FN, p.FN+p.TP) }

// AUC is the ROC-AUC of the pooled anomaly scores against the labels: the
// chance that an abnormal row scores above a normal one (ties count half).
// It says how well the score ranks rows, whatever the alert threshold.
func (p *PointStats) AUC() float64 {
	idx := make([]int, len(p.scores))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		switch {
		case p.scores[a] < p.scores[b]:
			return -1
		case p.scores[a] > p.scores[b]:
			return 1
		}
		return 0
	})
	var pos, neg int
	var rankSum float64
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && p.scores[idx[j]] == p.scores[idx[i]] {
			j++
		}
		mid := float64(float64(i+j+1) / 2) // average 1-based rank of the tie group
		for _, k := range idx[i:j] {
			if p.labels[k] {
				pos++
				rankSum += mid
			} else {
				neg++
			}
		}
		i = j
	}
	if pos == 0 || neg == 0 {
		return 0
	}
	return (rankSum - float64(float64(pos)*float64(pos+1)/2)) / (float64(pos) * float64(neg))
}
