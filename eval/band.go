package eval

import "math"

// BandStats measures the expected-value band (yhat_lower, yhat_upper) on
// rows taken as normal: how often it holds the value, and how often it is
// finite on both sides.
type BandStats struct {
	Rows, Inside, Finite int
}

// Add counts the scored rows of s that normal marks, each channel once.
func (b *BandStats) Add(s *Scored, normal []bool) {
	for j := range s.Expected {
		for i, ok := range normal {
			lo, hi := s.Lower[j][i], s.Upper[j][i]
			if !ok || math.IsNaN(lo) || math.IsNaN(s.File.Values[i][j]) { // a missing value has no band to be in
				continue
			}
			b.Rows++
			if v := s.File.Values[i][j]; v >= lo && v <= hi {
				b.Inside++
			}
			if !math.IsInf(lo, 0) && !math.IsInf(hi, 0) {
				b.Finite++
			}
		}
	}
}

// Coverage is the share of counted values inside their band.
func (b BandStats) Coverage() float64 { return ratio(b.Inside, b.Rows) }

// FiniteShare is the share of counted rows whose band is finite.
func (b BandStats) FiniteShare() float64 { return ratio(b.Finite, b.Rows) }
