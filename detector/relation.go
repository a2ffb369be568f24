package detector

import (
	"math"

	"github.com/aewatch/aewatch/internal/detmath"
	"github.com/aewatch/aewatch/internal/statecodec"
)

// relation reconstructs each channel of every window row from the row's
// other channels: the closed form of a linear autoencoder trained to fill
// in one masked channel at a time (each channel's least-squares regression
// on the others, from the rows' covariance). The window network spends its
// small code on the window's shape over time; where the channels follow
// one operating point that wanders, that shape is hard to reconstruct and
// a step that breaks their relation adds little to an error already large,
// while a row's channels still predict each other to within their noise.
//
// A relation is only used where it held: fitted on the first half of the
// reference period, it must predict the second half to within twice the
// variance the fit implies, and, fitted on the whole period (the fit in
// use), explain at least R2 of the channel's variance. On SKAB's pump
// no channel passes (the most any explains of another over 400 rows is
// half, and the relations of slow drifts do not last), so it costs nothing
// there.
//
// Each related channel's evidence is the root mean square, over the
// window's rows, of its standardised residual (the residual over its
// variance given the others: the precision matrix's row over the square
// root of its diagonal), on a tail model of its own.
type relation struct {
	r2 float64 // the share of variance a channel's relation must explain
	c  int
	// Accumulated over the reference period: rows, the sum of each
	// channel and of each product of two (reference units).
	n          int
	sum, cross []float64
	// The probe is the fit on the period's first half; zSq sums each
	// channel's squared standardised residual over the second half, nB
	// rows of it.
	probe bool
	zSq   []float64
	nB    int
	// The fit in use: each channel's mean and the inverse covariance.
	mean, prec []float64
	// level is each channel's reference level (the normaliser's mean) at
	// the fit; shift is how far it has followed the channel since, in
	// reference deviations: the relation is between the values, and a
	// level followed on one channel but held on another (an open alert
	// holds a channel's) must not read as a broken relation.
	level, shift []float64
	// offset is each related channel's standardised residual's level,
	// which follows a slow change of the relation as a channel's level
	// follows a slow change of the channel (reference.follow's rule);
	// zMean and trend are the last window's, from it.
	offset, zMean  []float64
	trend, trendSE []float64
	zs             []float64 // measure's scratch: one channel's departures over the window's rows
	related        []bool
	done           bool // the period is over and judged
	active         bool // after the period, some channel related
	err            []float64
	cal            []*tailCalibrator
}

// relationHeldOut bounds a relation's mean squared standardised residual
// on the half of the period it was not fitted on: a relation that the
// second half breaks is a slow co-drift, not physics.
const relationHeldOut = 2

func newRelation(r2 float64, t TailConfig, c, rows int) *relation {
	rel := &relation{r2: r2, c: c, sum: make([]float64, c), cross: make([]float64, c*c), zSq: make([]float64, c),
		mean: make([]float64, c), prec: make([]float64, c*c), level: make([]float64, c), shift: make([]float64, c),
		offset: make([]float64, c), zMean: make([]float64, c), trend: make([]float64, c), trendSE: make([]float64, c), zs: make([]float64, rows), related: make([]bool, c), err: make([]float64, c)}
	for range c {
		rel.cal = append(rel.cal, newTailCalibrator(*marginalTail(t))) // the channel tests' length
	}
	return rel
}

// learn takes the newest row of an accepted window of the reference
// period, the seen-th of period samples.
func (rel *relation) learn(vec []float64, seen, period int) {
	c := rel.c
	row := vec[len(vec)-c:]
	if seen > period/2 {
		if !rel.probe {
			rel.probe = rel.fit()
		}
		if rel.probe {
			for j := range c {
				z := rel.standardised(row, j)
				rel.zSq[j] += float64(z * z)
			}
			rel.nB++
		}
	}
	for j, v := range row {
		rel.sum[j] += v
		for k, w := range row {
			rel.cross[j*c+k] += float64(v * w)
		}
	}
	rel.n++
}

// finish ends the reference period (at the first window after it, whatever
// the window's stride): each relation is judged on the held-out half, then
// fitted on the whole period; level is the normaliser's mean.
func (rel *relation) finish(level func(int) float64) {
	rel.done = true
	if !rel.probe || rel.nB == 0 {
		return
	}
	c := rel.c
	held := make([]bool, c)
	for j := range c {
		held[j] = rel.zSq[j]/float64(rel.nB) <= relationHeldOut
	}
	if !rel.fit() {
		return
	}
	for j := range c {
		v := rel.variance(j)
		rel.related[j] = held[j] && v > 0 && 1-1/float64(v*rel.prec[j*c+j]) >= rel.r2
		rel.active = rel.active || rel.related[j]
		rel.level[j] = level(j)
	}
}

// follow takes each channel's level and spread now, before a window is
// measured.
func (rel *relation) follow(level, spread func(int) float64) {
	for j := range rel.shift {
		rel.shift[j] = (level(j) - rel.level[j]) / spread(j)
	}
}

// variance is channel j's variance over the rows accumulated.
func (rel *relation) variance(j int) float64 {
	m := rel.sum[j] / float64(rel.n)
	return rel.cross[j*rel.c+j]/float64(rel.n) - float64(m*m)
}

// fit takes the mean and inverse covariance of the rows accumulated; false
// if there are too few or the covariance is singular.
func (rel *relation) fit() bool {
	c := rel.c
	if rel.n < 4*c {
		return false
	}
	for j := range c {
		rel.mean[j] = rel.sum[j] / float64(rel.n)
	}
	cov := make([]float64, c*c)
	for j := range c {
		for k := range c {
			cov[j*c+k] = rel.cross[j*c+k]/float64(rel.n) - float64(rel.mean[j]*rel.mean[k])
		}
		// A ridge of a thousandth: a channel that another copies exactly
		// would otherwise make the covariance singular.
		cov[j*c+j] = float64(cov[j*c+j]*1.001) + 1e-12
	}
	return invertSPD(cov, rel.prec, c)
}

// standardised is channel j's residual given the row's other channels,
// over its standard deviation given them.
func (rel *relation) standardised(row []float64, j int) float64 {
	c := rel.c
	var z float64
	for k, v := range row {
		z += float64(rel.prec[j*c+k] * (v + rel.shift[k] - rel.mean[k]))
	}
	return z / math.Sqrt(rel.prec[j*c+j])
}

// measure sets, for each related channel, err (the root mean square of
// its standardised residual less its offset over the window's rows) and
// zMean, trend and trendSE (that departure's line over the rows: lineFit).
func (rel *relation) measure(vec []float64) {
	c := rel.c
	for j, on := range rel.related {
		if !on {
			continue
		}
		var sq float64
		for q := range rel.zs {
			z := rel.standardised(vec[q*c:(q+1)*c], j) - rel.offset[j]
			rel.zs[q] = z
			sq += float64(z * z)
		}
		rel.err[j] = math.Sqrt(sq / float64(len(rel.zs)))
		rel.zMean[j], rel.trend[j], rel.trendSE[j] = lineFit(rel.zs)
	}
}

// followOffsets moves each related channel's offset towards its window's
// mean departure, with time constant follow, while the channel's evidence
// is at most quiet decades or its departure drifts away (the rule
// reference.follow applies to levels): a slow change of a relation (a
// sensor ageing against its peers) is followed, a step is not.
func (rel *relation) followOffsets(chEvidence []float64, quiet float64, follow int) {
	a := 1 / float64(follow)
	for j, on := range rel.related {
		if on && (quiet == 0 || chEvidence[j] <= quiet || driftsAway(rel.zMean[j], rel.trend[j], rel.trendSE[j], follow)) {
			rel.offset[j] += float64(a * rel.zMean[j])
		}
	}
}

// evidence raises each related channel's evidence (decades, less
// log10(channels) for taking the most unusual) to its relation's.
func (rel *relation) evidence(chEvidence []float64) {
	many := detmath.Log10(float64(rel.c))
	for j, cc := range rel.cal {
		if rel.related[j] && cc.fitted {
			chEvidence[j] = max(chEvidence[j], cc.decades(rel.err[j])-many)
		}
	}
}

// accept adds the last window's residuals to the related channels' tails.
func (rel *relation) accept() {
	for j, cc := range rel.cal {
		if rel.related[j] {
			cc.accept(rel.err[j])
		}
	}
}

// reset forgets everything: a new reference period.
func (rel *relation) reset() {
	rel.n, rel.nB, rel.probe, rel.done, rel.active = 0, 0, false, false, false
	clear(rel.sum)
	clear(rel.cross)
	clear(rel.zSq)
	clear(rel.related)
	clear(rel.shift)
	clear(rel.offset)
	for _, cc := range rel.cal {
		cc.reset()
	}
}

// bytes is the memory it holds; fullBytes once its tails are full.
func (rel *relation) bytes() int {
	n := 8 * (len(rel.sum) + len(rel.cross) + len(rel.zSq) + len(rel.mean) + len(rel.prec) + len(rel.level) + len(rel.shift) +
		len(rel.offset) + len(rel.zMean) + len(rel.trend) + len(rel.trendSE) + len(rel.zs) + len(rel.err))
	for _, cc := range rel.cal {
		n += cc.bytes()
	}
	return n + len(rel.related)
}

func (rel *relation) fullBytes() int {
	n := rel.bytes()
	for _, cc := range rel.cal {
		n += cc.fullBytes() - cc.bytes()
	}
	return n
}

func (rel *relation) appendState(e *statecodec.Encoder) {
	e.Int(rel.n)
	e.F64s(rel.sum)
	e.F64s(rel.cross)
	e.Bool(rel.probe)
	e.F64s(rel.zSq)
	e.Int(rel.nB)
	e.F64s(rel.mean)
	e.F64s(rel.prec)
	e.F64s(rel.level)
	e.F64s(rel.offset)
	for _, on := range rel.related {
		e.Bool(on)
	}
	e.Bool(rel.done)
	e.Bool(rel.active)
	for _, cc := range rel.cal {
		cc.appendState(e)
	}
}

func (rel *relation) readState(d *statecodec.Decoder) error {
	rel.n = d.Int()
	d.F64sInto(rel.sum, "relation sums")
	d.F64sInto(rel.cross, "relation products")
	rel.probe = d.Bool()
	d.F64sInto(rel.zSq, "relation held-out residuals")
	rel.nB = d.Int()
	d.F64sInto(rel.mean, "relation means")
	d.F64sInto(rel.prec, "relation precision")
	d.F64sInto(rel.level, "relation levels")
	d.F64sInto(rel.offset, "relation offsets")
	for j := range rel.related {
		rel.related[j] = d.Bool()
	}
	rel.done = d.Bool()
	rel.active = d.Bool()
	for _, cc := range rel.cal {
		if err := cc.readState(d); err != nil {
			return err
		}
	}
	return d.Err()
}

// invertSPD writes the inverse of the symmetric positive definite n×n
// matrix a (row-major; a is overwritten) to inv, by Cholesky, every
// product rounded before it is added (the same bits on every CPU: no fused
// multiply-add); false if a is not positive definite.
func invertSPD(a, inv []float64, n int) bool {
	// a = L Lᵀ, L in a's lower triangle.
	for j := range n {
		d := a[j*n+j]
		for k := range j {
			d -= float64(a[j*n+k] * a[j*n+k])
		}
		if !(d > 0) {
			return false
		}
		d = math.Sqrt(d)
		a[j*n+j] = d
		for i := j + 1; i < n; i++ {
			s := a[i*n+j]
			for k := range j {
				s -= float64(a[i*n+k] * a[j*n+k])
			}
			a[i*n+j] = s / d
		}
	}
	// inv = L⁻ᵀ L⁻¹, column by column: solve L y = e_col, then Lᵀ x = y.
	y := make([]float64, n)
	for col := range n {
		for i := range n {
			s := 0.0
			if i == col {
				s = 1
			}
			for k := range i {
				s -= float64(a[i*n+k] * y[k])
			}
			y[i] = s / a[i*n+i]
		}
		for i := n - 1; i >= 0; i-- {
			s := y[i]
			for k := i + 1; k < n; k++ {
				s -= float64(a[k*n+i] * inv[k*n+col])
			}
			inv[i*n+col] = s / a[i*n+i]
		}
	}
	return true
}
