package detector

import (
	"fmt"
	"math"
	"sync"

	"github.com/aewatch/aewatch/internal/detmath"
	"github.com/aewatch/aewatch/internal/grow"
)

// CalibrationConfig sets the anomaly-likelihood calibration that turns raw
// errors into scores in [0,1] with one meaning across series.
type CalibrationConfig struct {
	// Average is the length of the short moving average of raw errors.
	Average int `yaml:"average"`
	// History is how many recent samples' averages form the reference
	// distribution.
	History int `yaml:"history"`
	// HistoryStride keeps one average in this many in the history: the
	// averages of neighbouring samples share all but a few of their
	// errors, so the history spans History samples in History/HistoryStride
	// values.
	HistoryStride int `yaml:"history_stride"`
	// Settle is how many raw errors only settle the error scale before any
	// enters the reference history (early errors of a fresh model are wild
	// and would inflate the reference spread for good).
	Settle int `yaml:"settle"`
	// Learning is how many samples' averages the history spans before
	// scores are non-zero.
	Learning int `yaml:"learning"`
	// Reestimate is how often, in samples, the distribution is re-fitted.
	Reestimate int `yaml:"reestimate"`
	// MinStd floors the reference spread, relative to its mean, so that a
	// near-constant error history does not turn a blip into an alarm.
	MinStd float64 `yaml:"min_std"`
	// ErrorHorizon is the time constant, in samples, of the running mean
	// that makes raw errors scale-free.
	ErrorHorizon int `yaml:"error_horizon"`
	// Transform maps squared errors before scaling: "none", "sqrt" (absolute
	// error) or "log"; the latter two are less heavy-tailed.
	Transform string `yaml:"transform"`
	// Cap bounds scale-free raw errors (0: unbounded), so that one wild
	// sample cannot dominate the short average, as a bounded raw score
	// cannot in Numenta's detectors.
	Cap float64 `yaml:"cap"`
	// AlertTail is the share of the history beyond which the alert's
	// evidence models the averages' upper tail as exponential (peaks over
	// threshold, fitted to the excesses over the history's 1-AlertTail
	// quantile). The score keeps the fitted normal's tail, whose ranking
	// NAB rewards; averaged errors are skewed, and under the normal's thin
	// tail normal data reached the alert threshold 30 times as often as
	// it says (docs/quality.md).
	AlertTail float64 `yaml:"alert_tail"`
	// ScoreTail is the weight of that peaks-over-threshold tail in the
	// sample's score: its tail probability is the geometric mean of the
	// normal's, weighted 1-ScoreTail, and the peaks', weighted ScoreTail
	// (0: the normal's alone). On a heavy-tailed series the normal reads
	// the series' ordinary bursts as rarer than they are, the peaks'
	// tail reads them as the series' own; the normal ranks a change
	// sooner (docs/quality.md). The whole window's score keeps the
	// normal's.
	ScoreTail float64 `yaml:"score_tail"`
	// Instant adds a score of each error on its own, unaveraged, from a
	// streaming peaks-over-threshold tail (instantTail): the score is the
	// larger of the two, so a single wild sample can reach the alert
	// threshold. The alert's evidence stays the averaged one.
	Instant bool `yaml:"instant"`
}

// DefaultCalibrationConfig returns the defaults.
func DefaultCalibrationConfig() CalibrationConfig {
	return CalibrationConfig{Average: 20, History: 4320, HistoryStride: 4, Settle: 100, Learning: 200, Reestimate: 100,
		MinStd: 0.05, ErrorHorizon: 1000, Transform: "sqrt", Cap: 5, AlertTail: 0.1, ScoreTail: 0.5, Instant: true}
}

// Validate names the first invalid field and its value.
func (c CalibrationConfig) Validate() error {
	switch {
	case c.Average < 1 || c.Average > 10000:
		return fmt.Errorf("detector.calibration.average: must be in [1, 10000] (got %d)", c.Average)
	case c.History < 10 || c.History > 1<<20:
		return fmt.Errorf("detector.calibration.history: must be in [10, 1048576] (got %d)", c.History)
	case c.HistoryStride < 1 || c.HistoryStride > c.History/10:
		return fmt.Errorf("detector.calibration.history_stride: must be in [1, history/10 = %d] (got %d)", c.History/10, c.HistoryStride)
	case c.Settle < 0:
		return fmt.Errorf("detector.calibration.settle: must be >= 0 (got %d)", c.Settle)
	case c.Learning < 10:
		return fmt.Errorf("detector.calibration.learning: must be >= 10 (got %d)", c.Learning)
	case c.Reestimate < 1:
		return fmt.Errorf("detector.calibration.reestimate: must be >= 1 (got %d)", c.Reestimate)
	case !(c.MinStd > 0 && c.MinStd < 100):
		return fmt.Errorf("detector.calibration.min_std: must be in (0, 100) (got %v)", c.MinStd)
	case c.Transform != "none" && c.Transform != "sqrt" && c.Transform != "log":
		return fmt.Errorf("detector.calibration.transform: must be none, sqrt or log (got %q)", c.Transform)
	case !(c.Cap >= 0) || math.IsInf(c.Cap, 0):
		return fmt.Errorf("detector.calibration.cap: must be finite and >= 0 (got %v)", c.Cap)
	case !(c.AlertTail > 0 && c.AlertTail <= 0.5):
		return fmt.Errorf("detector.calibration.alert_tail: must be in (0, 0.5] (got %v)", c.AlertTail)
	case !(c.ScoreTail >= 0 && c.ScoreTail <= 1):
		return fmt.Errorf("detector.calibration.score_tail: must be in [0, 1] (got %v)", c.ScoreTail)
	case c.ErrorHorizon < 1:
		return fmt.Errorf("detector.calibration.error_horizon: must be >= 1 (got %d)", c.ErrorHorizon)
	}
	return nil
}

// calibrator is an anomaly likelihood in the style of Numenta's: a Gaussian
// fitted to a long history of short moving averages of scale-free raw
// errors; the score is the log-scaled tail probability of the current
// average, with an immediate repeat of a top score suppressed. The alert's
// evidence is the same with the upper tail modelled from the history's own
// peaks over a high quantile.
type calibrator struct {
	cfg CalibrationConfig

	errMean float64 // running mean of raw errors (scale)
	// floor bounds errors from below: the errors of a flat or perfectly
	// predicted signal (rounding, 1e-10) are no scale, and measured
	// against their own they made scores of 0.5 on a constant series.
	floor float64
	seen  int

	avgRing []float64
	avgSum  float64
	avgPos  int
	avgN    int

	hist     []uint8 // averages as logCode: a fit to a thousand does not see their rounding; a ring of histLen, grown as it fills
	histPos  int
	histN    int
	mean     float64
	std      float64
	sinceFit int
	fitted   bool

	prevTail  float64 // previous 1-likelihood, for repeat suppression
	prevAlert float64 // the same for the alert's evidence

	// The alert's tail: its threshold (the history's 1-AlertTail
	// quantile) and the mean excess over it.
	potAt, potScale float64

	inst *instantTail // the score's single-sample track; nil for the window's calibrator
	// scoreTail is ScoreTail for the sample's calibrator, 0 for the
	// window's and the coarse track's.
	scoreTail float64
	// The average whose score's tail is reachTail, as of the last fit
	// (averageReaching); not valid after a fit or a restore.
	reachAvg, reachTail float64
	reachValid          bool
}

// newCalibrator returns a calibrator of errors whose squares below
// floor*floor count as that (0: no floor).
func newCalibrator(cfg CalibrationConfig, floor float64) *calibrator {
	c := &calibrator{
		cfg:       cfg,
		avgRing:   make([]float64, cfg.Average),
		prevTail:  1,
		prevAlert: 1,
	}
	c.floor = c.transform(floor * floor)
	return c
}

// histLen is the length of the history's ring.
func (c *calibrator) histLen() int { return c.cfg.History / c.cfg.HistoryStride }

// fitScratch lends fit its selection buffer: the buffer holds nothing
// between fits, so there is one per fit running at once, not one per
// series.
var fitScratch sync.Pool

// scratchLen is the capacity of fit's scratch: four times the tail's
// share of a full history.
func (c *calibrator) scratchLen() int { return 4 * (int(c.cfg.AlertTail*float64(c.histLen())) + 2) }

// logValue is what each byte of the calibration's history stands for: 0,
// then 16 steps an octave (at most 2.2% from the value coded) up to 64,
// above which nothing averaged under the default cap of 5 reaches; from
// 0.0011 down, an average counts as 0.0011 or 0, far below any tail.
var logValue = func() (t [256]float64) {
	for k := 1; k < 256; k++ {
		t[k] = 64 * detmath.Exp(float64(k-255)/16*math.Ln2)
	}
	return t
}()

// logFrom is where each code's cell begins: half a step (2^(-1/32)) below
// its logValue.
var logFrom = func() (t [256]float64) {
	half := detmath.Exp(-math.Ln2 / 32)
	for k := 1; k < 256; k++ {
		t[k] = logValue[k] * half
	}
	return t
}()

// logCode is the byte whose logValue is nearest v's on a log scale
// (comparisons only, so every CPU gives the same byte).
func logCode(v float64) uint8 {
	if !(v >= logFrom[1]) {
		return 0
	}
	lo, hi := 1, 255 // the code is in [lo, hi]
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if v >= logFrom[mid] {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return uint8(lo)
}

// errorFloor is the smallest error that counts, in normalised units
// (standard deviations of the signal): a thousandth of its spread.
const errorFloor = 1e-3

const (
	redTail    = 1e-5 // tail probability of a top ("red") likelihood
	yellowTail = 1e-4 // what a repeated red is lowered to
	logFloor   = 1e-10
)

// repeatScore is the score of yellowTail: what a repeated red shows.
var repeatScore = detmath.Log(yellowTail+logFloor) / detmath.Log(logFloor)

// scale turns a non-negative error into a scale-free raw error: the error
// over its own running mean (before this error); update caps it for the
// average.
func (c *calibrator) scale(e float64) float64 {
	e = max(c.transform(e), c.floor)
	c.seen++
	if c.seen == 1 {
		c.errMean = e
	}
	raw := e / (c.errMean + 1e-12)
	horizon := min(c.seen, c.cfg.ErrorHorizon)
	c.errMean += (e - c.errMean) / float64(horizon)
	return raw
}

// errorAt is the smallest error scale turns into a raw error of at least
// raw (before it updates the running mean).
func (c *calibrator) errorAt(raw float64) float64 {
	return c.untransform(float64(raw * (c.errMean + 1e-12)))
}

// rescale multiplies the running error scale for squared errors that
// became ratio times as large: what the transform makes of that ratio.
func (c *calibrator) rescale(ratio float64) {
	c.errMean = max(c.transform(float64(ratio*c.untransform(c.errMean))), c.floor)
}

// untransform is transform's inverse.
func (c *calibrator) untransform(t float64) float64 {
	switch c.cfg.Transform {
	case "sqrt":
		return float64(t * t)
	case "log":
		return (detmath.Exp(t) - 1) / 100
	}
	return t
}

// transform maps a squared error as Transform says.
func (c *calibrator) transform(e float64) float64 {
	switch c.cfg.Transform {
	case "sqrt":
		return math.Sqrt(e)
	case "log":
		return detmath.Log1p(e * 100)
	}
	return e
}

// update folds a raw error in and returns its calibrated score in [0,1]
// and the alert's evidence in [0,1].
func (c *calibrator) update(raw float64) (score, evidence float64) {
	instant := 0.0
	if c.inst != nil && c.seen > c.cfg.Settle {
		instant = c.inst.score(raw)
	}
	if c.cfg.Cap > 0 {
		raw = min(raw, c.cfg.Cap)
	}
	// Short moving average.
	if c.avgN == len(c.avgRing) {
		c.avgSum -= c.avgRing[c.avgPos]
	} else {
		c.avgN++
	}
	c.avgRing[c.avgPos] = raw
	c.avgSum += raw
	c.avgPos = (c.avgPos + 1) % len(c.avgRing)
	avg := c.avgSum / float64(c.avgN)

	if c.seen <= c.cfg.Settle {
		return 0, 0
	}
	if (c.seen-c.cfg.Settle-1)%c.cfg.HistoryStride == 0 {
		c.hist = grow.To(c.hist, c.histPos+1, c.histLen())
		c.hist[c.histPos] = logCode(avg)
		c.histPos = (c.histPos + 1) % c.histLen()
		c.histN = min(c.histN+1, c.histLen())
	}
	c.sinceFit++
	if c.histN*c.cfg.HistoryStride < c.cfg.Learning {
		return 0, 0
	}
	if !c.fitted || c.sinceFit >= c.cfg.Reestimate {
		c.fit()
	}
	gauss := c.tail(avg)
	alert := c.peaks(avg, gauss)
	return max(likelihoodScore(c.scoreTailOf(gauss, alert), &c.prevTail), instant), likelihoodScore(alert, &c.prevAlert)
}

// peaks is the alert's tail probability of the average avg, whose
// normal tail is gauss.
func (c *calibrator) peaks(avg, gauss float64) float64 {
	switch {
	case avg > c.potAt:
		return peaksTail(c.cfg.AlertTail, c.potAt, c.potScale, avg)
	case avg > c.mean:
		return max(gauss, c.cfg.AlertTail) // monotone up to the threshold
	}
	return gauss // below the mean: a sudden drop in error, on the normal's tail
}

// averageReaching is the smallest average above the mean whose score's
// tail probability (scoreTailOf) is at most tail; z is the normal's
// deviation with that tail. Below AlertTail it lies between the normal's
// and the peaks' own answers, where bisection finds it, once a fit; at or
// above it the peaks' tail at the normal's answer is the normal's, and so
// is the answer.
func (c *calibrator) averageReaching(tail, z float64) float64 {
	normal := c.mean + float64(z*c.std)
	if c.scoreTail == 0 || !(tail < c.cfg.AlertTail) {
		return normal
	}
	if c.reachValid && c.reachTail == tail {
		return c.reachAvg
	}
	peaks := peaksReaching(c.cfg.AlertTail, c.potAt, c.potScale, tail)
	lo, hi := min(normal, peaks), max(normal, peaks)
	for range 60 {
		mid := (lo + hi) / 2
		if g := c.tail(mid); c.scoreTailOf(g, c.peaks(mid, g)) > tail {
			lo = mid
		} else {
			hi = mid
		}
	}
	c.reachAvg, c.reachTail, c.reachValid = hi, tail, true
	return hi
}

// scoreTailOf is the score's tail probability: the geometric mean of the
// normal's tail gauss and the peaks' tail peaks, weighted by scoreTail.
func (c *calibrator) scoreTailOf(gauss, peaks float64) float64 {
	switch c.scoreTail {
	case 0:
		return gauss
	case 1:
		return peaks
	}
	const tiny = 1e-300 // a tail that underflowed: the mean stays finite
	return detmath.Exp((1-c.scoreTail)*detmath.Log(max(gauss, tiny)) + c.scoreTail*detmath.Log(max(peaks, tiny)))
}

// likelihoodScore maps a tail probability to [0,1] on a log scale; a red
// right after a red says nothing new and is lowered to yellow. prev holds
// the previous tail probability.
func likelihoodScore(tail float64, prev *float64) float64 {
	if tail <= redTail && *prev <= redTail {
		*prev = tail
		tail = yellowTail
	} else {
		*prev = tail
	}
	return detmath.Log(tail+logFloor) / detmath.Log(logFloor)
}

func (c *calibrator) fit() {
	c.fitted, c.sinceFit, c.reachValid = true, 0, false
	n := float64(c.histN)
	var s float64
	for _, v := range c.hist[:c.histN] {
		s += logValue[v]
	}
	mean := s / n
	var ss float64
	for _, h := range c.hist[:c.histN] {
		v := logValue[h]
		ss += float64((v - mean) * (v - mean))
	}
	c.mean = mean
	c.std = math.Max(math.Sqrt(ss/n), float64(c.cfg.MinStd*math.Abs(mean))+1e-12)
	// The threshold is the (k+1)-th largest average. The values above
	// mean + 2 std (a few percent of skewed averages) are gathered and the
	// threshold selected among them; where they are too few or too many
	// for the scratch, a min-heap of the k+1 largest over the whole
	// history finds it. Both give the same value.
	k := max(1, int(c.cfg.AlertTail*n))
	lent, _ := fitScratch.Get().(*[]float64)
	if lent == nil || cap(*lent) < c.scratchLen() {
		lent = new([]float64)
		*lent = make([]float64, 0, c.scratchLen())
	}
	defer fitScratch.Put(lent)
	scratch := (*lent)[:0:c.scratchLen()]
	top := scratch
	cut := mean + 2*c.std
	for _, h := range c.hist[:c.histN] {
		if v := logValue[h]; v > cut {
			if len(top) == cap(top) {
				top = nil
				break
			}
			top = append(top, v)
		}
	}
	if top != nil && len(top) > k {
		c.potAt = selectKth(top, len(top)-k-1)
		top = top[len(top)-k:]
	} else {
		top = scratch
		for _, h := range c.hist[:c.histN] {
			switch v := logValue[h]; {
			case len(top) <= k:
				top = append(top, v)
				siftUp(top, len(top)-1)
			case v > top[0]:
				top[0] = v
				siftDown(top, 0)
			}
		}
		c.potAt, top = top[0], top[1:]
	}
	var excess float64
	for _, v := range top {
		excess += v - c.potAt
	}
	c.potScale = max(excess/float64(max(1, len(top))), float64(c.cfg.MinStd*math.Abs(mean))+1e-12)
	c.potScale *= youngTailWidening(len(top), int(c.cfg.AlertTail*float64(c.histLen())))
}

// youngTailZ is the standard normal's 90% point.
const youngTailZ = 1.2816

// youngTailWidening is how much wider than its fit an exponential tail
// (the alert's, the instant one's) is read when k excesses gave it and a
// full history gives full: the upper 90% bound of an exponential mean
// from k excesses over that from full (1 once the history is full). A
// young history's tail, fitted on a few excesses, reads narrow as often as
// wide, and a narrow one opens alerts on the first wider error: one
// detector per channel on SKAB's valve1 opened them on normal rows just
// as the calibration began to score.
func youngTailWidening(k, full int) float64 {
	if k >= full {
		return 1 // the instant tail asks on every sample
	}
	return upperMean(k) / upperMean(full)
}

// upperMean is the upper 90% bound of an exponential mean from k values,
// as a multiple of their mean: 2k over χ²(2k)'s lower 10% point, by
// Wilson and Hilferty's cube root approximation (within 2% from k = 3).
func upperMean(k int) float64 {
	kf := float64(max(k, 1))
	w := 1 - 1/(9*kf) - youngTailZ/(3*math.Sqrt(kf))
	return 1 / float64(float64(w*w)*w)
}

// selectKth reorders v so that v[k] is its k-th smallest value (from 0),
// every value before it no larger and every value after it no smaller,
// and returns it (Hoare's selection with middle pivots: deterministic).
func selectKth(v []float64, k int) float64 {
	lo, hi := 0, len(v)-1
	for lo < hi {
		pivot := v[lo+(hi-lo)/2]
		i, j := lo, hi
		for i <= j {
			for v[i] < pivot {
				i++
			}
			for v[j] > pivot {
				j--
			}
			if i <= j {
				v[i], v[j] = v[j], v[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return v[k]
		}
	}
	return v[k]
}

// siftUp and siftDown keep h a min-heap after h[i] changed.
func siftUp(h []float64, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if h[p] <= h[i] {
			return
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

func siftDown(h []float64, i int) {
	for {
		l, m := 2*i+1, i
		if l < len(h) && h[l] < h[m] {
			m = l
		}
		if r := l + 1; r < len(h) && h[r] < h[m] {
			m = r
		}
		if m == i {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// tail is the upper tail probability of x under the fitted Gaussian; values
// below the mean are reflected, as a sudden drop in error is news too.
func (c *calibrator) tail(x float64) float64 {
	z := math.Abs(x-c.mean) / c.std
	return 0.5 * detmath.Erfc(z/math.Sqrt2)
}

// instantTail scores each raw error on its own, unaveraged: a peaks-over-
// threshold tail (SPOT, Siffer et al. 2017) whose threshold is a streaming
// quantile of the raw errors and whose scale is the running mean excess
// over it. The averaged score needs an error to last; this one lets a
// single wild sample reach the threshold, and gives every sample a finite
// band (band.go).
type instantTail struct {
	at, excess float64 // the threshold (the raw errors' instantQuantile) and the mean excess over it
	n, peaks   int     // errors and excesses seen
	prev       float64 // previous tail probability (repeat suppression)
}

const (
	instantQuantile = 0.98 // where the tail starts
	instantStep     = 0.05 // the quantile's step, in raw (scale-free) units
	instantPeaks    = 50   // excesses the mean excess averages over
	instantLearning = 100  // errors before it scores
	// instantDiscount multiplies the tail probability: a single error is a
	// noisier statistic than an average of twenty. At face value the track
	// cost NAB 2.6 points (seeds 1-3); at 100, 0.55; at 1000, 0.23, with
	// the synthetic corpus's standard score up 4 (docs/quality.md).
	instantDiscount = 1000
)

func newInstantTail() *instantTail { return &instantTail{prev: 1} }

// score folds raw in and returns its score before doing so.
func (t *instantTail) score(raw float64) float64 {
	s := 0.0
	if t.n >= instantLearning && t.peaks > 0 {
		s = likelihoodScore(min(1, t.tail(raw)*instantDiscount), &t.prev)
	}
	t.n++
	if t.n == 1 {
		t.at = raw
		return s
	}
	if raw > t.at {
		t.peaks++
		t.excess += (raw - t.at - t.excess) / float64(min(t.peaks, instantPeaks))
		t.at += instantStep * instantQuantile
	} else {
		t.at -= instantStep * (1 - instantQuantile)
	}
	return s
}

// scale is the tail's exponential scale: the mean excess, widened while
// few peaks gave it (youngTailWidening).
func (t *instantTail) scale() float64 {
	return max(t.excess, 1e-12) * youngTailWidening(t.peaks, instantPeaks)
}

// tail is raw's upper tail probability; 1 at or below the threshold.
func (t *instantTail) tail(raw float64) float64 {
	if raw <= t.at {
		return 1
	}
	return peaksTail(1-instantQuantile, t.at, t.scale(), raw)
}

// reaching is the smallest raw error whose discounted tail probability is
// at most p.
func (t *instantTail) reaching(p float64) float64 {
	if t.n < instantLearning || t.peaks == 0 {
		return math.Inf(1)
	}
	p /= instantDiscount
	if p >= 1-instantQuantile {
		return t.at
	}
	return peaksReaching(1-instantQuantile, t.at, t.scale(), p)
}
