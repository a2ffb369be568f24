package detector

import (
	"cmp"
	"errors"
	"math"
	"slices"
	"sort"
	"sync"

	"github.com/aewatch/aewatch/internal/detmath"
	"github.com/aewatch/aewatch/internal/statecodec"
)

// relation reconstructs each channel of every window row from the row's
// other channels, and from their values some rows earlier (lags: a
// transport delay): the closed form of a linear autoencoder trained to
// fill in one masked channel at a time (each channel's least-squares
// regression on the others, from the covariance of the rows with their
// lags). The window network spends its small code on the window's shape
// over time; where the channels follow one operating point that wanders,
// that shape is hard to reconstruct and a step that breaks their relation
// adds little to an error already large, while a row's channels still
// predict each other to within their noise.
//
// A relation is only used where it held: fitted on the first half of the
// reference period, it must predict the second half to within twice the
// variance the fit implies, and, fitted on the whole period (the fit in
// use), explain at least R2 of the channel's variance. On SKAB's pump
// no channel passes (the most any explains of another over 400 rows is
// half, and the relations of slow drifts do not last), so it costs nothing
// there. Learning on after the period (rolling), a channel is judged again
// at each refit, on the rows since the last. Of many channels (a plant's
// dozens of sensors) each is reconstructed from the relationPartners
// values it correlates with most over the rows fitted.
//
// Each related channel's evidence is the root mean square, over the
// window's rows, of its standardised residual (the residual over its
// variance given the others: the precision matrix's row over the square
// root of its diagonal), on a tail model of its own.
type relation struct {
	r2 float64 // the share of variance a channel's relation must explain
	c  int
	// partners bounds the values a channel is reconstructed from: of
	// more (many channels, or lags), those it correlates with most
	// (relationPartners, within relationLags' bound of what a period's
	// rows fit).
	partners int
	// lags: besides the row's other channels, each channel is reconstructed
	// from the others' values this many rows earlier (a transport delay);
	// d = c×(1+len(lags)) values make up a row with its lags, never the
	// channel's own earlier values (those would forecast it, and follow a
	// step).
	lags []int
	d    int
	u    []float64 // a row with its lags (scratch)
	// With context channels (inputs), each is also taken through
	// first-order lags of contextLags' time constants, so that a process's
	// own dynamics (a controlled variable settling on its setpoint) are in
	// the relation: ctx lists the context channels, filt holds each one's
	// filtered values at the newest row (len(ctx)×len(contextLags), in
	// the fit's frame) and ring the same for every row of the window,
	// oldest first.
	ctx        []int
	filt, ring []float64
	stride     int
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
	// The fit in use: each value's mean, and for each channel the row of
	// the inverse covariance of it and what reconstructs it (d values, 0
	// for its own lags).
	mean, prec []float64
	// level is each channel's reference level (the normaliser's mean) at
	// the fit; shift is how far it has followed the channel since, in
	// reference deviations: the relation is between the values, and a
	// level followed on one channel but held on another (an open alert
	// holds a channel's) must not read as a broken relation.
	level, shift []float64
	// scale: a rolling relation reads each channel as (value -
	// level)/scale, both fixed at the period's end (relation.frame): the
	// normaliser's spread has a floor proportional to its level, which
	// moves with the level it follows.
	scale []float64
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
	// rolling: the relation goes on learning after the period (an
	// operator's input moves when it moves, and a load wanders when it
	// does, not when the period happens to be on): from every row until it
	// relates a channel (until then the inputs' moves are what alerts),
	// then from the rows no alert holds. It is fitted again every refit rows (half
	// the period, as the period's own probe; half that until it relates a
	// channel), its last fit the probe of the rows since; a channel it
	// related stays related. Context channels are never related
	// themselves.
	rolling         bool
	refit, sinceFit int
	// keepPeriod (learning on without context channels): the period is
	// judged as a relation that stops learning judges it, what it related
	// stays related, and the sums go on from the period's, read as the
	// period read them (the reference's window with its followed levels
	// added back; no frame of its own). holds is how many refits in a row
	// a channel's relation must hold before it is related afterwards (1
	// with context channels), heldRuns each channel's count so far; r2On
	// is the share it must then explain (r2 with context channels).
	keepPeriod bool
	holds      int
	r2On       float64
	heldRuns   []int
	// switched marks the channels a rolling relation has just related,
	// until the drift monitor takes them over (Detector.driftInputs).
	switched []bool
	held     []bool // heldOut's scratch
	// zRows is how many of the window's rows measure took.
	zRows int
	err   []float64
	cal   []*tailCalibrator
}

// relationHeldOut bounds a relation's mean squared standardised residual
// on the half of the period it was not fitted on: a relation that the
// second half breaks is a slow co-drift, not physics.
const relationHeldOut = 2

// contextLags are the time constants, in samples, of the first-order lags
// each context channel is taken through: a process settling within a few
// samples up to a few hundred is a sum of them.
var contextLags = [...]float64{4, 16, 64}

// newRelation returns the relation of c channels, context marking those
// that are inputs (nil: none).
func newRelation(r2 float64, t TailConfig, c, rows, period, stride int, lags []int, context []bool) *relation {
	lags = relationLags(lags, c, rows, period, stride)
	var ctx []int
	for j, on := range context {
		if on {
			ctx = append(ctx, j)
		}
	}
	d := c*(1+len(lags)) + len(ctx)*len(contextLags)
	rel := &relation{r2: r2, c: c, lags: lags, d: d, partners: min(relationPartners, max(4, (period-rows)/(8*stride)-1)), u: make([]float64, d), zSq: make([]float64, c),
		ctx: ctx, filt: make([]float64, len(ctx)*len(contextLags)), ring: make([]float64, rows*len(ctx)*len(contextLags)), stride: stride,
		mean: make([]float64, d), prec: make([]float64, c*d), level: make([]float64, c), shift: make([]float64, c), scale: make([]float64, c),
		offset: make([]float64, c), zMean: make([]float64, c), trend: make([]float64, c), trendSE: make([]float64, c), zs: make([]float64, c*rows), related: make([]bool, c), err: make([]float64, c), switched: make([]bool, c),
		holds: 1, r2On: r2, heldRuns: make([]int, c), held: make([]bool, c)}
	for range c {
		rel.cal = append(rel.cal, newTailCalibrator(*marginalTail(t))) // the channel tests' length
	}
	rel.reset()
	return rel
}

// relationPartners is how many values at most reconstruct a channel: a
// plant's sensor relates to a few others (its loop's, its unit's), and a
// regression on dozens fitted on the 200 rows of half a reference period
// learns their noise, fails its held-out half and relates nothing (a
// plant of 48 or 96 sensors driven by three loads: a sensor's offset was
// missed); 8 lost the pump's lagged relations (a stroke cycle).
const relationPartners = 16

// relationLags is those of lags within half a window of rows, as many as a
// reference period of period samples can fit: the probe needs four rows
// per value of a row with its lags over half the rows learnt, one a
// window (every stride samples once the first window is full), so
// c×(1+lags) stays within (period-rows)/(8×stride). Fewer are taken
// evenly across the list, the longest kept.
func relationLags(lags []int, c, rows, period, stride int) []int {
	lags = lags[:sort.SearchInts(lags, rows/2+1)]
	n := min(len(lags), max(0, (period-rows)/(8*c*stride)-1))
	if n == len(lags) {
		return lags
	}
	out := make([]int, n)
	for i := range out {
		out[i] = lags[int(math.Round(float64((i+1)*len(lags))/float64(n)))-1]
	}
	return out
}

// learn takes the newest row of an accepted window of the reference
// period, the seen-th of period samples.
func (rel *relation) learn(vec []float64, seen, period int) {
	row := rel.row(vec, len(vec)/rel.c-1, false)
	probing := seen > period/2
	if probing && !rel.probe {
		rel.probe = rel.fit()
	}
	rel.take(row, probing)
}

// take adds row to the sums, after its residuals under the probe's fit
// when probing and there is one.
func (rel *relation) take(row []float64, probing bool) {
	if probing && rel.probe {
		for j := range rel.c {
			z := rel.standardised(row, j)
			rel.zSq[j] += float64(z * z)
		}
		rel.nB++
	}
	d := rel.d
	for j, v := range row {
		rel.sum[j] += v
		for k, w := range row {
			rel.cross[j*d+k] += float64(v * w)
		}
	}
	rel.n++
}

// heldOut reports, per channel, whether the rows probed since the last
// fit kept its standardised residual within relationHeldOut.
func (rel *relation) heldOut() []bool {
	held := rel.held
	for j := range held {
		held[j] = rel.nB > 0 && rel.zSq[j]/float64(rel.nB) <= relationHeldOut
	}
	return held
}

// explains reports whether the fit in use explains at least r2 of
// channel j's variance.
func (rel *relation) explains(j int, r2 float64) bool {
	v := rel.variance(j)
	return v > 0 && 1-1/float64(v*rel.prec[j*rel.d+j]) >= r2
}

// maxLag is the longest of the lags, the last (0 without).
func (rel *relation) maxLag() int {
	if len(rel.lags) == 0 {
		return 0
	}
	return rel.lags[len(rel.lags)-1]
}

// row returns window row q with its lags (rel.u) and the context channels'
// filtered values there; shifted adds each channel's followed level.
func (rel *relation) row(vec []float64, q int, shifted bool) []float64 {
	c := rel.c
	for i := -1; i < len(rel.lags); i++ {
		qq, at := q, (i+1)*c
		if i >= 0 {
			qq -= rel.lags[i]
		}
		copy(rel.u[at:at+c], vec[qq*c:(qq+1)*c])
		if shifted {
			for k := range c {
				rel.u[at+k] += rel.shift[k]
			}
		}
	}
	if f := len(rel.filt); f > 0 {
		copy(rel.u[c*(1+len(rel.lags)):], rel.ring[q*f:(q+1)*f])
	}
	return rel.u
}

// advance takes the window's new rows (stride of them) through the
// context channels' filters, in the frame the relation reads (its own,
// or the followed levels added back), and moves the window's filtered
// rows along.
func (rel *relation) advance(vec []float64) {
	f := len(rel.filt)
	if f == 0 {
		return
	}
	c, rows := rel.c, len(vec)/rel.c
	n := min(rel.stride, rows)
	copy(rel.ring, rel.ring[n*f:])
	for q := rows - n; q < rows; q++ {
		for i, j := range rel.ctx {
			v := vec[q*c+j] + rel.shift[j]
			for l, tc := range contextLags {
				y := &rel.filt[i*len(contextLags)+l]
				*y += float64((v - *y) / tc)
			}
		}
		copy(rel.ring[q*f:(q+1)*f], rel.filt)
	}
}

// owner is the channel whose values value k of a row holds (its lags and
// filtered values included).
func (rel *relation) owner(k int) int {
	base := rel.c * (1 + len(rel.lags))
	if k < base {
		return k % rel.c
	}
	return rel.ctx[(k-base)/len(contextLags)]
}

// finish ends the reference period (at the first window after it, whatever
// the window's stride): each relation is judged on the held-out half, then
// fitted on the whole period; level is the normaliser's mean. A rolling
// relation then learns on (learnOn): with context channels from nothing.
func (rel *relation) finish(level, spread func(int) float64) {
	rel.done = true
	if rel.keepPeriod {
		rel.probe = rel.judgePeriod(level)
		for j := range rel.level {
			rel.level[j], rel.scale[j] = level(j), spread(j)
		}
		rel.nB = 0
		clear(rel.zSq)
		return
	}
	if rel.rolling {
		// It learns on from nothing, in the frame the period ends with:
		// the period's own rows were in a normalisation still forming.
		for j := range rel.level {
			rel.level[j], rel.scale[j] = level(j), spread(j)
		}
		rel.n, rel.nB, rel.probe = 0, 0, false
		clear(rel.sum)
		clear(rel.cross)
		clear(rel.zSq)
		return
	}
	// The sums are the period's: a new one starts them afresh (reset).
	defer func() { rel.sum, rel.cross = nil, nil }()
	rel.judgePeriod(level)
}

// judgePeriod relates the channels whose fit on the period's first half
// held on its second and whose fit on the whole period explains enough;
// false if there was no fit to judge.
func (rel *relation) judgePeriod(level func(int) float64) bool {
	if !rel.probe || rel.nB == 0 {
		return false
	}
	held := rel.heldOut()
	if !rel.fit() {
		return false
	}
	for j := range rel.c {
		rel.related[j] = held[j] && rel.explains(j, rel.r2)
		rel.active = rel.active || rel.related[j]
		rel.level[j] = level(j)
	}
	return true
}

// learnOn takes the newest row of a window after the period (rolling):
// its residuals under the last fit, then the sums; every refit rows the
// relation is fitted again, and a channel it did not relate yet is judged
// again.
func (rel *relation) learnOn(vec []float64) {
	rel.take(rel.row(vec, len(vec)/rel.c-1, true), true)
	refit := rel.refit
	if !rel.active {
		// Sooner while nothing is related: each input move alerts until
		// then.
		refit = max(1, refit/2)
	}
	if rel.sinceFit++; rel.sinceFit < refit {
		return
	}
	rel.sinceFit = 0
	held := rel.heldOut()
	clear(rel.zSq)
	rel.nB = 0
	if rel.probe = rel.fit(); !rel.probe {
		return
	}
	for j := range rel.c {
		if slices.Contains(rel.ctx, j) {
			continue // an input: what it is related to is not its business
		}
		rel.heldRuns[j]++
		if !held[j] {
			rel.heldRuns[j] = 0
		}
		// Once it held, it stays: a fault that breaks it is what it is for.
		if !rel.related[j] && rel.heldRuns[j] >= rel.holds && rel.explains(j, rel.r2On) {
			rel.related[j], rel.switched[j] = true, true
		}
		rel.active = rel.active || rel.related[j]
	}
}

// frame reports whether the relation reads values in its own frame
// (rolling with context channels, once the period is over): level and
// scale then convert.
func (rel *relation) frame() bool { return rel.rolling && !rel.keepPeriod && rel.done }

// follow takes each channel's level and spread now, before a window is
// measured; a rolling relation reads values in its own frame, with no
// shift.
func (rel *relation) follow(level, spread func(int) float64) {
	if rel.frame() {
		return
	}
	for j := range rel.shift {
		rel.shift[j] = (level(j) - rel.level[j]) / spread(j)
	}
}

// variance is channel j's variance over the rows accumulated.
func (rel *relation) variance(j int) float64 {
	m := rel.sum[j] / float64(rel.n)
	return rel.cross[j*rel.d+j]/float64(rel.n) - float64(m*m)
}

// fit takes the mean and inverse covariance of the rows accumulated; false
// if there are too few or the covariance is singular.
func (rel *relation) fit() bool {
	c, d := rel.c, rel.d
	if rel.n < 4*min(d, rel.partners+1) { // four rows a value fitted
		return false
	}
	for j := range d {
		rel.mean[j] = rel.sum[j] / float64(rel.n)
	}
	// For channel j: the covariance of it and every value but its own
	// lags (or the partners of them it correlates with most), inverted;
	// its row is j's.
	sc, _ := relationScratch.Get().(*relationFit)
	if sc == nil {
		sc = new(relationFit)
	}
	defer relationScratch.Put(sc)
	for j := range c {
		idx := sc.idx[:0]
		for k := range d {
			if k == j || rel.owner(k) != j {
				idx = append(idx, k)
			}
		}
		sc.idx = idx
		if len(idx) > rel.partners+1 {
			idx = rel.closest(j, idx, sc)
		}
		m := len(idx)
		if cap(sc.cov) < m*m {
			sc.cov, sc.inv = make([]float64, m*m), make([]float64, m*m)
		}
		cov, inv := sc.cov[:m*m], sc.inv[:m*m]
		for a, ka := range idx {
			for b, kb := range idx {
				cov[a*m+b] = rel.cross[ka*d+kb]/float64(rel.n) - float64(rel.mean[ka]*rel.mean[kb])
			}
			// A ridge of a thousandth: a channel that another copies exactly
			// would otherwise make the covariance singular.
			cov[a*m+a] = float64(cov[a*m+a]*1.001) + 1e-12
		}
		if !invertSPD(cov, inv, m) {
			return false
		}
		pj := slices.Index(idx, j)
		row := rel.prec[j*d : (j+1)*d]
		clear(row)
		for b, kb := range idx {
			row[kb] = inv[pj*m+b]
		}
	}
	return true
}

// closest keeps of idx (which holds j) j and the rel.partners values
// most correlated with it, in idx's order.
func (rel *relation) closest(j int, idx []int, sc *relationFit) []int {
	d, n := rel.d, float64(rel.n)
	cov := func(a, b int) float64 { return rel.cross[a*d+b]/n - float64(rel.mean[a]*rel.mean[b]) }
	vj := cov(j, j)
	sc.corr = sc.corr[:0]
	for _, k := range idx {
		r := 0.0
		if vk := cov(k, k); k != j && vj > 0 && vk > 0 {
			r = math.Abs(cov(j, k)) / math.Sqrt(vj*vk)
		}
		sc.corr = append(sc.corr, r)
	}
	order := sc.order[:0]
	for i := range idx {
		order = append(order, i)
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(sc.corr[b], sc.corr[a]) })
	sc.order = order
	keep := sc.keep[:0]
	keep = append(keep, j)
	for _, i := range order {
		if len(keep) > rel.partners {
			break
		}
		if idx[i] != j {
			keep = append(keep, idx[i])
		}
	}
	slices.Sort(keep)
	sc.keep = keep
	return keep
}

// relationScratch lends fit its buffers: they hold nothing between fits,
// so there is one set per fit running at once, not one per series (a
// relation learning on refits every few hundred samples).
var relationScratch sync.Pool

type relationFit struct {
	idx      []int
	cov, inv []float64
	// closest's
	corr        []float64
	order, keep []int
}

// standardised is channel j's residual given the row's other channels,
// over its standard deviation given them.
func (rel *relation) standardised(row []float64, j int) float64 {
	d := rel.d
	var z float64
	for k, v := range row {
		z += float64(rel.prec[j*d+k] * (v - rel.mean[k]))
	}
	return z / math.Sqrt(rel.prec[j*d+j])
}

// measure sets, for each related channel, err (the root mean square of
// its standardised residual less its offset over the window's rows) and
// zMean, trend and trendSE (that departure's line over the rows: lineFit).
func (rel *relation) measure(vec []float64) {
	c, from := rel.c, rel.maxLag()
	rows := len(vec)/c - from
	rel.zRows = rows
	for q := range rows {
		row := rel.row(vec, from+q, true)
		for j, on := range rel.related {
			if on {
				rel.zs[j*rows+q] = rel.standardised(row, j) - rel.offset[j]
			}
		}
	}
	for j, on := range rel.related {
		if !on {
			continue
		}
		zs := rel.zs[j*rows : (j+1)*rows]
		var sq float64
		for _, z := range zs {
			sq += float64(z * z)
		}
		rel.err[j] = math.Sqrt(sq / float64(rows))
		rel.zMean[j], rel.trend[j], rel.trendSE[j] = lineFit(zs)
	}
}

// residual is related channel j's residual at window row q (as measure
// last saw it, its offset not taken off), in its sensor's units: what
// the relation does not explain of it. A row before the longest lag (a
// stride of more than half the window) takes the first row measured.
func (rel *relation) residual(j, q int) float64 {
	z := rel.zs[j*rel.zRows+max(q, rel.maxLag())-rel.maxLag()] + rel.offset[j]
	return float64(z*rel.scale[j]) / math.Sqrt(rel.prec[j*rel.d+j])
}

// followOffsets moves each related channel's offset towards its window's
// mean departure, with time constant follow, while the channel's evidence
// is at most quiet decades or its departure drifts away (the rule
// reference.follow applies to levels): a slow change of a relation (a
// sensor ageing against its peers) is followed, a step is not. The
// reference follows them with follow_beyond's time constant: at follow's,
// an offset the evidence did not reach alerting on was followed within
// its fault, and the relation then alerted once the fault ended.
//
// held marks the channels an open alert holds: a rolling relation (with
// context channels) does not follow them, as a channel's level is not
// followed beyond its gate (a process value stuck while its setpoint moves
// trends against it, and a relation followed through the fault then
// alerts after it).
func (rel *relation) followOffsets(chEvidence []float64, quiet float64, follow int, held []bool) {
	a := 1 / float64(follow)
	for j, on := range rel.related {
		if rel.rolling && held != nil && held[j] {
			continue
		}
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
	rel.n, rel.nB, rel.probe, rel.done, rel.active, rel.sinceFit = 0, 0, false, false, false, 0
	clear(rel.filt)
	clear(rel.ring)
	rel.sum, rel.cross = make([]float64, rel.d), make([]float64, rel.d*rel.d)
	clear(rel.zSq)
	clear(rel.related)
	clear(rel.switched)
	clear(rel.heldRuns)
	clear(rel.shift)
	clear(rel.offset)
	for _, cc := range rel.cal {
		cc.reset()
	}
}

// bytes is the memory it holds now; steadyBytes once its period is over
// (its sums freed) and its tails full; peakBytes the most, its sums and
// full tails at once.
func (rel *relation) bytes() int {
	n := 8*(len(rel.sum)+len(rel.cross)+len(rel.zSq)+len(rel.mean)+len(rel.prec)+len(rel.level)+len(rel.shift)+len(rel.scale)+
		len(rel.offset)+len(rel.zMean)+len(rel.trend)+len(rel.trendSE)+len(rel.zs)+len(rel.err)+len(rel.u)+len(rel.filt)+len(rel.ring)+len(rel.heldRuns)) + len(rel.switched)
	for _, cc := range rel.cal {
		n += cc.bytes()
	}
	return n + len(rel.related) + 8*len(rel.lags)
}

func (rel *relation) steadyBytes() int {
	n := rel.bytes()
	if !rel.rolling {
		n -= 8 * (len(rel.sum) + len(rel.cross))
	}
	for _, cc := range rel.cal {
		n += cc.fullBytes() - cc.bytes()
	}
	return n
}

func (rel *relation) peakBytes() int {
	if rel.rolling {
		return rel.steadyBytes()
	}
	return rel.steadyBytes() + 8*(rel.d+rel.d*rel.d)
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
	e.F64s(rel.scale)
	e.F64s(rel.offset)
	for _, on := range rel.related {
		e.Bool(on)
	}
	e.Bool(rel.done)
	e.Bool(rel.active)
	e.Int(rel.sinceFit)
	for _, on := range rel.switched {
		e.Bool(on)
	}
	for _, n := range rel.heldRuns {
		e.Int(n)
	}
	e.F64s(rel.filt)
	e.F64s(rel.ring)
	for _, cc := range rel.cal {
		cc.appendState(e)
	}
}

func (rel *relation) readState(d *statecodec.Decoder) error {
	rel.n = d.Int()
	// Empty once the period is over.
	rel.sum = d.F64sAppend(rel.sum[:0], rel.d, "relation sums")
	rel.cross = d.F64sAppend(rel.cross[:0], rel.d*rel.d, "relation products")
	rel.probe = d.Bool()
	d.F64sInto(rel.zSq, "relation held-out residuals")
	rel.nB = d.Int()
	d.F64sInto(rel.mean, "relation means")
	d.F64sInto(rel.prec, "relation precision")
	d.F64sInto(rel.level, "relation levels")
	d.F64sInto(rel.scale, "relation scales")
	d.F64sInto(rel.offset, "relation offsets")
	for j := range rel.related {
		rel.related[j] = d.Bool()
	}
	rel.done = d.Bool()
	rel.active = d.Bool()
	rel.sinceFit = d.Int()
	for j := range rel.switched {
		rel.switched[j] = d.Bool()
	}
	for j := range rel.heldRuns {
		rel.heldRuns[j] = d.Int()
	}
	d.F64sInto(rel.filt, "relation context filters")
	d.F64sInto(rel.ring, "relation context filters' rows")
	want := rel.d // the period's sums, freed once it is over unless rolling
	if rel.done && !rel.rolling {
		want = 0
	}
	if d.Err() == nil && (len(rel.sum) != want || len(rel.cross) != want*want) {
		return errors.New("detector: relation sums do not match the period's state")
	}
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
	// inv = L⁻ᵀ L⁻¹, column by column: solve L y = e_col, then Lᵀ x = y,
	// y held in the column itself (x[i] replaces y[i] once it is read).
	for col := range n {
		for i := range n {
			s := 0.0
			if i == col {
				s = 1
			}
			for k := range i {
				s -= float64(a[i*n+k] * inv[k*n+col])
			}
			inv[i*n+col] = s / a[i*n+i]
		}
		for i := n - 1; i >= 0; i-- {
			s := inv[i*n+col]
			for k := i + 1; k < n; k++ {
				s -= float64(a[k*n+i] * inv[k*n+col])
			}
			inv[i*n+col] = s / a[i*n+i]
		}
	}
	return true
}
