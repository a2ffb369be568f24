package detector

import (
	"fmt"
	"math"
	"slices"

	"github.com/aewatch/aewatch/internal/statecodec"
)

// Bars of a drift: the line over a channel's block means rises or falls
// by at least trendSE standard errors (below it the means wander about a
// level), and a step added to the line explains less than stepOnTrendF
// (its F over the line's residual, at the best break): a step followed by
// a wander the same way fits a line nearly as well as it fits a step
// (0.89 of its sum of squares on a generated level shift of -13 whose
// alert the line alone let go), but the step on top of the line stands
// out. Holding a drift a little longer costs a late alert; following a
// step away costs the fault.
const (
	trendSE      = 4
	stepOnTrendF = 10
)

// levelTrend keeps each channel's recent window means, one every window's
// length (a block), and says of each channel whether they moved as a
// drift: a line fits them better than any single step does, its slope is
// significant and no step stands on it. The reference follows such a
// channel while an alert holds it beyond the gate
// (ReferenceConfig.FollowTrend): a slow change of the normal (a vibration
// level or a temperature that creeps up through a shift) is not held stale
// until the hold limit, a step fault is held.
type levelTrend struct {
	size   int       // samples a block spans: the window's length
	blocks int       // block means kept per channel
	tick   int       // samples since the last block mean
	n      int       // block means held, at most blocks
	means  []float64 // per channel, its block means oldest first (channel-major)
}

// stackBlocks is the most block means driftShaped fits on the stack; more
// (a follow_trend set that high) take a buffer per call.
const stackBlocks = 64

func newLevelTrend(blocks, size, channels int) *levelTrend {
	return &levelTrend{size: size, blocks: blocks, means: make([]float64, blocks*channels)}
}

// step counts a sample; at a block's end it adds each channel's window
// mean in its own units (a level that followed meanwhile does not move
// them). A channel filled for a missing value keeps its last mean.
func (t *levelTrend) step(r *reference) {
	if t.tick++; t.tick < t.size {
		return
	}
	t.tick = 0
	for j := range len(t.means) / t.blocks {
		ms := t.channel(j)
		m := r.norm.Mean(j) + float64(r.channelMean(j)*r.norm.Std(j)) // rounded: arm64 must not fuse it
		if isContext(r.missing, j) && t.n > 0 {
			m = ms[t.n-1]
		}
		if t.n == t.blocks {
			copy(ms, ms[1:])
			ms[t.blocks-1] = m
		} else {
			ms[t.n] = m
		}
	}
	t.n = min(t.n+1, t.blocks)
}

// channel is channel j's block means, oldest first.
func (t *levelTrend) channel(j int) []float64 { return t.means[j*t.blocks : (j+1)*t.blocks] }

// drifted reports whether channel j's block means, once there are all of
// them, moved as a drift (driftShaped). It is read only while an alert
// holds the channel beyond the gate, so it is judged then, not kept.
func (t *levelTrend) drifted(j int) bool {
	return t.n == t.blocks && driftShaped(t.channel(j))
}

// driftShaped reports whether ys moved as a drift: their least-squares
// line is significant (trendSE), leaves less of them unexplained than the
// best single step between two levels does, and has no step on top of it
// (stepOnTrendF).
func driftShaped(ys []float64) bool {
	n := len(ys)
	origin := ys[0] // both fits are scale-free: read them near the data
	var local [stackBlocks]float64
	resid := local[:0]
	if n > stackBlocks {
		resid = make([]float64, 0, n)
	}
	resid = resid[:n]
	for q, y := range ys {
		resid[q] = y - origin
	}
	mean, slope, se := lineFit(resid)
	if !(math.Abs(slope) >= trendSE*se) {
		return false
	}
	stepRSS := bestStepRSS(resid)
	mid := float64(n-1) / 2
	var lineRSS float64
	for q := range resid {
		resid[q] -= mean + float64(slope*(float64(q)-mid)) // rounded: arm64 must not fuse it
		lineRSS += float64(resid[q] * resid[q])
	}
	return lineRSS < stepRSS && stepOnTrend(resid, lineRSS) < stepOnTrendF
}

// stepOnTrend is the largest F, over the breaks k, of a step at k added to
// a line whose residuals are resid (summing to lineRSS): by Frisch-Waugh,
// the step's gain is (the residuals' sum from k)² over what of the step
// the line does not explain.
func stepOnTrend(resid []float64, lineRSS float64) float64 {
	n := len(resid)
	mid := float64(n-1) / 2
	sxx := float64(n*(n*n-1)) / 12 // Σ (q-mid)²
	var best, tail, sxy float64
	for k := n - 1; k >= 1; k-- {
		tail += resid[k]
		sxy += float64(k) - mid
		m := float64(n - k)
		beta := sxy / sxx
		unexplained := m - float64(m*m)/float64(n) - float64(beta*beta*sxx)
		if unexplained <= 0 {
			continue
		}
		gain := float64(tail*tail) / unexplained
		rest := lineRSS - gain
		if rest <= 0 {
			return math.Inf(1)
		}
		best = max(best, gain/(rest/float64(n-3)))
	}
	return best
}

// bestStepRSS is the least sum of squares about two levels, the first for
// ys[:k] and the second for ys[k:], over the breaks k with at least two
// values on each side.
func bestStepRSS(ys []float64) float64 {
	n := len(ys)
	var total, totalSq float64
	for _, y := range ys {
		total += y
		totalSq += float64(y * y)
	}
	best := math.Inf(1)
	var head float64
	for k := 1; k <= n-2; k++ {
		head += ys[k-1]
		if k < 2 {
			continue
		}
		tail := total - head
		// The sum of squares about each side's mean, from the sums.
		rss := totalSq - float64(head*head)/float64(k) - float64(tail*tail)/float64(n-k)
		best = min(best, rss)
	}
	return best
}

// reset forgets the means: a new reference period learns the levels afresh.
func (t *levelTrend) reset() {
	t.tick, t.n = 0, 0
	clear(t.means)
}

func (t *levelTrend) appendState(e *statecodec.Encoder) {
	e.Int(t.tick)
	e.Int(t.n)
	e.F64s(t.means)
}

func (t *levelTrend) readState(d *statecodec.Decoder) error {
	t.tick, t.n = d.Int(), d.Int()
	d.F64sInto(t.means, "reference level trend")
	if err := d.Err(); err != nil {
		return err
	}
	if t.tick < 0 || t.tick >= t.size || t.n < 0 || t.n > t.blocks {
		return fmt.Errorf("detector: snapshot's level trend out of range (tick %d of %d, %d of %d block means)", t.tick, t.size, t.n, t.blocks)
	}
	if i := slices.IndexFunc(t.means, func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }); i >= 0 {
		return fmt.Errorf("detector: snapshot's level trend holds a non-finite block mean %v", t.means[i])
	}
	return nil
}
