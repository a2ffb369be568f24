package detector

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/aewatch/aewatch/internal/detmath"
)

// DriftConfig sets the drift monitor. It keeps, per channel, a reference of
// the series' normal level (mean) and spread (mean absolute step) taken over
// the first Reference accepted samples, frozen until an operator
// re-baselines the series, and runs two-sided CUSUM tests on how far slow
// averages (time constant Horizon) have moved from it. The adapting model
// never sees it, so a drift it learns as the new normal is still alerted.
type DriftConfig struct {
	// Enabled turns the monitor on.
	Enabled bool `yaml:"enabled"`
	// Reference is how many accepted samples form the reference, from the
	// start of the series and again after each re-baseline. No drift score
	// is non-zero before it is complete.
	Reference int `yaml:"reference"`
	// Horizon is the time constant, in samples, of the slow averages that
	// are compared with the reference. Longer horizons smooth out daily
	// cycles and noise and see smaller drifts, later.
	Horizon int `yaml:"horizon"`
	// Slack is the CUSUM allowance: departures up to this many standard
	// deviations of the slow average (as measured over the reference) are
	// taken as normal.
	Slack float64 `yaml:"slack"`
	// Threshold is the CUSUM decision interval, in standard deviations ×
	// samples: the drift score is S/(S+Threshold), so it reaches 0.5 when
	// the accumulated excess over Slack reaches Threshold.
	Threshold float64 `yaml:"threshold"`
	// Alert is the drift alert's own state machine.
	Alert AlertConfig `yaml:"alert"`
	// Seasonal looks for a cycle over the first reference (autocorrelation
	// of block means, as the reference model's seasonal context does); if
	// one longer than the window is found, each channel's mean profile over
	// it is taken off every sample and the reference and the slow
	// averages start again, so a daily cycle longer than Horizon does not
	// hide a drift.
	Seasonal bool `yaml:"seasonal"`
	// LongLearn: where that search found no cycle on any channel, it looks
	// again each time the samples double, up to LongLearn (as the
	// reference's season.long_learn does), and takes only a cycle that
	// keeps to the clock (an hour, a shift, a day, a week: clockCycles,
	// within clockSnapLater), since it holds only two to four of them. A
	// day sampled every 10 s is found at 32,000 samples, every second at
	// 256,000; until then the day's swing reads as a drift every day.
	// A cycle found closes an open drift alert (by "cycle"), and the
	// reference starts again without it, over a whole cycle where that is
	// longer (reference). 0 turns it off.
	LongLearn int `yaml:"long_learn"`
	// States looks, over the first reference, for a channel that switches
	// between two separate states (a motor's on and off, as the reference
	// model's value histogram does); if one is found, each sample's state
	// mean is taken off it and the reference starts again, so that a drift
	// of both states is not lost in the swing between them.
	States bool `yaml:"states"`
}

// DefaultDriftConfig returns the defaults.
func DefaultDriftConfig() DriftConfig {
	return DriftConfig{Enabled: true, Reference: 4000, Horizon: 1000, Slack: 3, Threshold: 150,
		Alert: AlertConfig{Open: 0.5, Close: 0.3, CloseAfter: 50, MinGap: 500}, Seasonal: true, LongLearn: 256000, States: true}
}

// Validate names the first invalid field and its value.
func (c DriftConfig) Validate(windowSize int) error {
	if !c.Enabled {
		return nil
	}
	switch {
	case c.Horizon < 8 || c.Horizon > 1<<24:
		return fmt.Errorf("detector.drift.horizon: must be in [8, 16777216] (got %d)", c.Horizon)
	case c.Reference < 2*c.Horizon || c.Reference < windowSize || c.Reference > 1<<26:
		return fmt.Errorf("detector.drift.reference: must be in [max(2×detector.drift.horizon=%d, detector.window.size=%d), 67108864] (got %d)",
			2*c.Horizon, windowSize, c.Reference)
	case !(c.Slack >= 0) || c.Slack > 1e3:
		return fmt.Errorf("detector.drift.slack: must be in [0, 1000] (got %v)", c.Slack)
	case !(c.Threshold > 0) || c.Threshold > 1e9:
		return fmt.Errorf("detector.drift.threshold: must be in (0, 1e9] (got %v)", c.Threshold)
	case c.LongLearn != 0 && (c.LongLearn < 2*c.Reference || c.LongLearn > 1e8):
		return fmt.Errorf("detector.drift.long_learn: must be 0 (off) or in [2 x detector.drift.reference = %d, 1e8] (got %d)", 2*c.Reference, c.LongLearn)
	}
	return c.Alert.validate("detector.drift.alert")
}

// Statistics the drift monitor tests, per channel.
const (
	levelUp = iota
	levelDown
	spreadUp
	spreadDown
	numDriftStats
)

// Explanation says why an alert opened or closed. Slices have one entry per
// channel and alias the detector's buffers (valid until the next Push).
type Explanation struct {
	// Share is each channel's part of the evidence: of the reconstruction
	// error (anomaly), of the channels' own evidence when the reference
	// found some channel unusual on its own (anomaly), or of the CUSUM
	// statistic (drift). It sums to 1.
	Share []float64
	// Departure is, in the sensor's units, value minus expected value
	// (anomaly, at the alert's worst sample), or the slow level (or spread:
	// mean absolute step) minus its reference (drift).
	Departure []float64
	// Statistic names what moved: "value" or "reference" (anomaly: the
	// adapting model's or the reference's evidence), StatisticExtreme
	// (anomaly: a new extreme), "level" or "spread" (drift).
	Statistic string
	// Drift only: Spread is the slow spread over the reference spread;
	// Onset the estimated start of the departure (Unix ns); Rate the
	// departure's growth per hour since Onset, in sensor units.
	Spread []float64
	Onset  int64
	Rate   []float64
	// Reason is "rebaseline" when an operator closed the (drift) alert,
	// ReasonRelation when a drift alert closed because a channel came to
	// be read against its inputs (Detector.driftInputs), and
	// ReasonHoldLimit when an anomaly alert closed after the levels it
	// held followed again (reference.hold_limit).
	Reason string
	// Anomaly only: the departure from its level that operators'
	// false-positive verdicts (Verdicts of them) taught to tolerate on the
	// opening departure's channel and side, in sensor units, signed as the
	// departure (0: none).
	Tolerance        float64
	ToleranceChannel int
	Verdicts         int
	// Quality only: per channel, the check it fails (Stuck, Quantised, AboveMax,
	// BelowMin) or "". Departure is then the value beyond the limit and
	// Onset the start of the earliest stuck run.
	Failed []string
}

// driftChannel is one channel's reference and running statistics.
type driftChannel struct {
	// Reference accumulation: Welford moments of values and steps, and of
	// batch means (for the slow averages' null spread).
	refMean, refM2, refStep float64
	batchSum, batchStep     float64
	batches                 int
	bmMean, bmM2            float64 // batch means of values
	bsMean, bsM2            float64 // batch means of absolute steps
	// Sums of the slow averages over the settled part of the reference,
	// shifted by their first value (for a direct measure of their spread).
	directN                                  int
	lShift, lSum, lSum2, sShift, sSum, sSum2 float64

	// Frozen reference: level, spread (mean absolute step) and the standard
	// deviations of the slow level and spread under it.
	level, spread, levelSD, spreadSD float64

	prev       float64
	slowLevel  float64 // EWMA of values
	slowSpread float64 // EWMA of absolute steps
	// recentLevel is a faster EWMA of values (a fortieth of the horizon):
	// where the level stands now, for the explanation, as the slow average
	// lags a step by most of its size when the test crosses.
	recentLevel float64
	cusum       [numDriftStats]float64
	// since and sinceN: the time and sample count at which each statistic
	// was last on the reference's side of it (or monitoring began): the
	// onset estimate of a departure.
	since  [numDriftStats]int64
	sinceN [numDriftStats]int
}

// driftMonitor is a series' drift test and alert.
type driftMonitor struct {
	cfg        DriftConfig
	context    []bool // Detector.context: never drifts (its sums stay 0)
	batch      int
	n          int // accepted samples since the start or the last re-baseline
	seen       int // accepted samples ever
	ch         []driftChannel
	alert      alertState
	rebaseline bool // requested; applied at the next sample
	// sinceAnomaly counts the samples since an anomaly alert was last
	// open, up to spreadHoldAfter: the spread stays held that long.
	sinceAnomaly int
	rebased      bool // ... by rebase, which the next sample follows at once (not snapshotted)

	why                            Explanation
	share, departure, spread, rate []float64 // explanation buffers
	onset                          int64
	onsetN                         int

	season *season   // nil without Seasonal
	states *marginal // nil without States
	// slowStates: some channel switches between states too slowly for the
	// slow averages, and has its state taken off (xs).
	slowStates bool
	xs         []float64
	// rawDep is, per slow-state channel, a recent average of each sample's
	// departure from its state's mean in sensor units, and rawRef its
	// mean over the reference: the drift's departure as the explanation
	// gives it (the test's own units are the state's deviations).
	rawDep, rawRef []float64
}

func newDriftMonitor(cfg DriftConfig, windowSize, channels int) *driftMonitor {
	if !cfg.Enabled {
		return nil
	}
	m := &driftMonitor{
		cfg: cfg, batch: max(1, cfg.Horizon/4), ch: make([]driftChannel, channels),
		alert: newAlertState(cfg.Alert),
		share: make([]float64, channels), departure: make([]float64, channels),
		spread: make([]float64, channels), rate: make([]float64, channels),
	}
	m.sinceAnomaly = m.spreadHoldAfter()
	if cfg.Seasonal {
		m.season = newSeason(SeasonConfig{Learn: cfg.Reference, LongLearn: cfg.LongLearn, MinACF: DefaultSeasonConfig().MinACF}, windowSize, channels)
		m.season.clockOnly = true
	}
	if cfg.States {
		m.states, m.xs = newMarginal(nil, channels, windowSize), make([]float64, channels)
		m.rawDep, m.rawRef = make([]float64, channels), make([]float64, channels)
	}
	return m
}

// driftOutcome is what the monitor says about one sample.
type driftOutcome struct {
	score    float64
	event    Event
	peak     float64
	duration int64
	why      *Explanation
}

// push folds one accepted sample at time t into the monitor. Once the
// reference is formed, a sample under a quality alert (qualityOpen: a
// stuck sensor, a value beyond its limits) is left out altogether, and one
// under an anomaly alert (anomalyOpen), or soon after one closed
// (spreadHoldAfter), is left out of the spread's average and tests:
// noise, oscillation and a changed shape are the anomaly path's business,
// not a drift, while a slow change of level goes on being measured
// whatever else alerts. A sample with channels filled
// (missing.go; nil: none) is left out of the reference while it forms;
// once it is formed, those channels' tests hold: a dropout is no drift.
func (m *driftMonitor) push(t int64, x []float64, anomalyOpen, qualityOpen bool, filled []bool) driftOutcome {
	var out driftOutcome
	if filled != nil && m.n < m.reference() && !m.rebaseline {
		return out // the reference is formed of samples whole
	}
	if m.season != nil {
		// A cycle no longer than the horizon is smoothed out by the slow
		// averages already; a longer one is taken off.
		found, y := m.season.observe(t, x)
		if m.season.longest > float64(m.cfg.Horizon) {
			if found {
				if m.alert.open {
					// Found by a later search: the departure was the cycle.
					out = m.closeNow(t, ReasonCycle)
				}
				m.restartAverages()
			}
			x = y
		}
	}
	if m.rebaseline {
		m.rebaseline = false
		why := ReasonRebaseline
		if m.rebased {
			m.rebased, why = false, ReasonRelation
		}
		if m.alert.open { // explained by the reference it departed from
			out = m.closeNow(t, why)
		}
		m.restartReference()
	}
	ref := m.reference() // as the season left it above
	if qualityOpen && m.n >= ref && out.event == NoEvent {
		out.score = m.heldScore()
		return out
	}
	if m.states != nil {
		switch {
		case !m.states.settled:
			m.states.observe(x, m.n+1, m.cfg.Reference)
		case m.slowStates:
			a := max(1/float64(m.cfg.Horizon), 1/float64(m.recentHorizon()))
			if m.seen < m.recentHorizon() {
				a = 1 / float64(m.seen+1)
			}
			for j, v := range x {
				m.xs[j] = v
				if m.slowState(j) {
					// Bounded: a switch's own samples (an inrush between
					// the states) must not decide the averages.
					mean, sd := m.states.state(j, v)
					m.xs[j] = max(-stateClip, min(stateClip, (v-mean)/sd))
					// The explanation's departure, in sensor units.
					m.rawDep[j] += float64(a * (v - mean - m.rawDep[j]))
					if m.n < m.cfg.Reference {
						m.rawRef[j] += (v - mean - m.rawRef[j]) / float64(m.n+1)
					}
				}
			}
			x = m.xs
		}
	}
	m.n++
	m.seen++
	alpha := 1 / float64(m.cfg.Horizon)
	if m.seen <= m.cfg.Horizon {
		alpha = 1 / float64(m.seen) // plain means until the slow averages have a horizon's worth
	}
	monitoring := m.n > ref
	first := m.n == ref+1
	if anomalyOpen {
		m.sinceAnomaly = 0
	} else if m.sinceAnomaly < m.spreadHoldAfter() {
		m.sinceAnomaly++
	}
	holdSpread := monitoring && m.sinceAnomaly < m.spreadHoldAfter()
	best, bestJ := 0.0, -1
	for j, v := range x {
		c := &m.ch[j]
		if monitoring && isContext(filled, j) {
			best, bestJ = c.strongest(j, best, bestJ) // its tests hold
			continue
		}
		step := 0.0
		if m.seen > 1 {
			step = math.Abs(v - c.prev)
		}
		level, spread := c.slowLevel+float64(alpha*(v-c.slowLevel)), c.slowSpread
		if m.seen > 1 && !holdSpread {
			spread += float64(1 / float64(min(m.seen-1, m.cfg.Horizon)) * (step - c.slowSpread))
		}
		if math.IsInf(level-spread, 0) || math.IsNaN(level-spread) {
			continue // values near ±MaxFloat64: the averages would overflow
		}
		c.prev, c.slowLevel, c.slowSpread = v, level, spread
		c.recentLevel += float64(max(alpha, 1/float64(m.recentHorizon())) * (v - c.recentLevel))
		if !monitoring {
			m.learnReference(j, c, v, step, ref)
			continue
		}
		zl := (c.slowLevel - c.level) / c.levelSD
		zs := (c.slowSpread - c.spread) / c.spreadSD
		for s, z := range [numDriftStats]float64{zl, -zl, zs, -zs} {
			if (s < 2 || !holdSpread) && !isContext(m.context, j) {
				c.cusum[s] = min(9*m.cfg.Threshold, max(0, c.cusum[s]+z-m.cfg.Slack))
				if z <= 0 || first {
					c.since[s], c.sinceN[s] = t, m.seen
				}
			}
		}
		best, bestJ = c.strongest(j, best, bestJ)
	}
	if !monitoring {
		if m.states != nil && !m.states.settled && m.n == m.cfg.Reference {
			m.settleStates()
		}
		return out
	}
	score := best / (best + m.cfg.Threshold)
	out.score = score
	if out.event != NoEvent {
		return out // closed by a re-baseline at this very sample
	}
	openedAt, wasOpen := m.alert.openedAt, m.alert.open
	switch m.alert.step(score, t) {
	case Opened:
		out.event, out.why = Opened, m.explain(t, bestJ, "")
	case Closed:
		if wasOpen {
			out.event, out.peak, out.duration = Closed, m.alert.peak, t-openedAt
			out.why = m.explain(t, bestJ, "")
		}
	}
	return out
}

// strongest returns the larger of best (channel bestJ's) and channel j's
// largest statistic, with its channel; ties keep the earlier.
func (c *driftChannel) strongest(j int, best float64, bestJ int) (float64, int) {
	for _, v := range c.cusum {
		if v > best {
			best, bestJ = v, j
		}
	}
	return best, bestJ
}

// heldScore is the score the tests stand at, unchanged by a held sample.
func (m *driftMonitor) heldScore() float64 {
	best := 0.0
	for j := range m.ch {
		best = max(best, slices.Max(m.ch[j].cusum[:]))
	}
	return best / (best + m.cfg.Threshold)
}

// settleStates decides, at the end of the first reference, which channels
// switch between states; with any, the reference starts again on the
// samples with their state's mean taken off.
func (m *driftMonitor) settleStates() {
	k := float64(m.n)
	m.states.settle(func(j int) float64 { return m.ch[j].refMean },
		func(j int) float64 { return max(math.Sqrt(m.ch[j].refM2/max(1, k-1)), 1e-12) })
	for j := range m.ch {
		m.slowStates = m.slowStates || m.slowState(j)
	}
	if m.slowStates {
		m.restartAverages()
	}
}

// stateClip bounds a slow-state sample's departure from its state, in the
// state's deviations.
const stateClip = 4

// slowState reports whether channel j switches between states more
// slowly than once every half horizon: faster switching the slow averages
// smooth out already.
func (m *driftMonitor) slowState(j int) bool {
	return m.states.modal[j] && m.states.switches[j] < 2/float64(m.cfg.Horizon)
}

// recentHorizon is the time constant of the recent level, in samples.
func (m *driftMonitor) recentHorizon() int { return max(8, m.cfg.Horizon/40) }

// reference is how many samples the reference takes: Reference, or a
// whole cycle taken off where that is longer (a day sampled every 10 s),
// so that what the profile leaves at every phase of the cycle is in the
// slow averages' null spread.
func (m *driftMonitor) reference() int {
	if m.season != nil && m.season.longest > float64(m.cfg.Horizon) {
		return max(m.cfg.Reference, int(math.Ceil(m.season.longest)))
	}
	return m.cfg.Reference
}

// restartAverages forgets the reference and starts the slow averages
// again: they hold what the samples no longer carry (the swing between a
// channel's states, a cycle now taken off), which would pass for a
// departure and, in the new reference, for its null spread.
func (m *driftMonitor) restartAverages() {
	m.restartReference()
	m.seen = 0
}

// restartReference forgets the reference; the slow averages go on.
func (m *driftMonitor) restartReference() {
	m.n = 0
	for j := range m.ch {
		c := &m.ch[j]
		*c = driftChannel{prev: c.prev, slowLevel: c.slowLevel, slowSpread: c.slowSpread, recentLevel: c.recentLevel}
	}
}

// StatisticExtreme is Explanation.Statistic of an anomaly alert explained
// by a new extreme: Departure is each channel's value beyond its running
// extremes (detector.spatial_tolerance).
const StatisticExtreme = "extreme"

// ReasonRebaseline is Explanation.Reason of an alert an operator's
// re-baseline closed.
const ReasonRebaseline = "rebaseline"

// ReasonRelation is Explanation.Reason of a drift alert closed because a
// channel came to be read against its inputs: its reference starts again.
const ReasonRelation = "relation"

// ReasonCycle is Explanation.Reason of a drift alert closed because a
// later seasonal search found the cycle its departure was
// (DriftConfig.LongLearn): the reference starts again without it.
const ReasonCycle = "cycle"

// rebase starts the reference again at the next sample, with channel j
// now read as v (its level against its inputs, Detector.driftInputs):
// its averages start at v, and it no longer counts as a channel with
// states.
func (m *driftMonitor) rebase(j int, v float64) {
	m.rebaseline, m.rebased = true, true
	c := &m.ch[j]
	c.prev, c.slowLevel, c.recentLevel = v, v, v
	if m.states != nil {
		m.states.modal[j] = false
	}
}

// learnReference accumulates the reference, ref samples long, and freezes
// it once complete.
func (m *driftMonitor) learnReference(j int, c *driftChannel, v, step float64, ref int) {
	k := float64(m.n)
	d := v - c.refMean
	c.refMean += d / k
	c.refM2 += float64(d * (v - c.refMean))
	c.refStep += (step - c.refStep) / k
	c.batchSum += v
	c.batchStep += step
	if m.n%m.batch == 0 {
		c.batches++
		b := float64(c.batches)
		bm, bs := c.batchSum/float64(m.batch), c.batchStep/float64(m.batch)
		d := bm - c.bmMean
		c.bmMean += d / b
		c.bmM2 += float64(d * (bm - c.bmMean))
		d = bs - c.bsMean
		c.bsMean += d / b
		c.bsM2 += float64(d * (bs - c.bsMean))
		c.batchSum, c.batchStep = 0, 0
	}
	if m.n > m.cfg.Horizon {
		if c.directN == 0 {
			c.lShift, c.sShift = c.slowLevel, c.slowSpread
		}
		c.directN++
		dl, ds := c.slowLevel-c.lShift, c.slowSpread-c.sShift
		c.lSum += dl
		c.lSum2 += float64(dl * dl)
		c.sSum += ds
		c.sSum2 += float64(ds * ds)
	}
	if m.n < ref {
		return
	}
	// An EWMA of time constant H over a process whose long-run variance is
	// v has variance about v/(2H), and the reference mean over R samples
	// v/R; v is estimated from the batch means.
	sd := func(m2 float64, batches, batch, horizon int) float64 {
		if batches < 2 {
			return 0
		}
		v := float64(batch) * m2 / float64(batches-1)
		return math.Sqrt(v/(2*float64(horizon)) + v/k)
	}
	// The batch estimate misses the slow averages' ripple from cycles near
	// the batch length (the batch means of a cycle as long as a batch are
	// flat); the root mean square of their own departure from the
	// reference over the reference period measures it directly.
	direct := func(sum, sum2, shift, ref float64) float64 {
		if c.directN == 0 {
			return 0
		}
		n := float64(c.directN)
		d := ref - shift
		return math.Sqrt(max(0, sum2/n-float64(2*d*sum/n)+float64(d*d)))
	}
	std := math.Sqrt(c.refM2 / max(1, k-1))
	c.level, c.spread = c.refMean, c.refStep
	// Floors keep a constant reference from turning rounding into drift.
	c.levelSD = max(sd(c.bmM2, c.batches, m.batch, m.cfg.Horizon), direct(c.lSum, c.lSum2, c.lShift, c.level),
		float64(0.01*std)+float64(1e-6*math.Abs(c.level))+1e-12)
	c.spreadSD = max(sd(c.bsM2, c.batches, m.batch, m.cfg.Horizon), direct(c.sSum, c.sSum2, c.sShift, c.spread),
		float64(0.03*c.spread)+float64(1e-6*math.Abs(c.level))+1e-12)
	if m.slowStates && m.slowState(j) {
		// Each state's mean came from a sample of the first reference;
		// the level, in state deviations, is known no better than that
		// sample's error, whatever share of the time each state takes.
		c.levelSD = max(c.levelSD, 1/math.Sqrt(max(1, m.states.stateN[j])))
	}
}

// closeNow closes an open alert outside the state machine's own rules.
func (m *driftMonitor) closeNow(t int64, reason string) driftOutcome {
	out := driftOutcome{event: Closed, peak: m.alert.peak, duration: t - m.alert.openedAt}
	worst, most := -1, 0.0
	for j := range m.ch {
		for _, v := range m.ch[j].cusum {
			if v > most {
				worst, most = j, v
			}
		}
	}
	out.why = m.explain(t, worst, reason)
	m.alert.open, m.alert.sinceShut = false, 0
	return out
}

// explain fills the explanation buffers at time t; worst is the channel
// with the largest statistic (-1: none).
func (m *driftMonitor) explain(t int64, worst int, reason string) *Explanation {
	stat, total := 0, 0.0
	var lead float64 // samples by which the departure began before the crossing
	if worst >= 0 {
		c := &m.ch[worst]
		for s := range c.cusum {
			if c.cusum[s] > c.cusum[stat] {
				stat = s
			}
		}
		m.onset, m.onsetN = c.since[stat], c.sinceN[stat]
		dep, sd := c.slowLevel-c.level, c.levelSD
		if stat >= spreadUp {
			dep, sd = c.slowSpread-c.spread, c.spreadSD
		}
		if nc := m.seen - m.onsetN; nc > 0 && t > m.onset {
			lead = rampLead(math.Abs(dep)/sd, float64(nc), float64(m.cfg.Horizon))
			m.onset -= int64(lead * float64(t-m.onset) / float64(nc))
		}
	}
	for j := range m.ch {
		c := &m.ch[j]
		m.share[j] = c.cusum[stat]
		total += c.cusum[stat]
		slowDep := c.slowLevel - c.level
		m.departure[j] = c.recentLevel - c.level
		if stat < spreadUp && m.slowStates && m.slowState(j) {
			// From the state's deviations back to sensor units, and the
			// rate with the same ratio.
			raw := m.rawDep[j] - m.rawRef[j]
			if d := m.departure[j]; math.Abs(d) > 1e-12 {
				slowDep *= raw / d
			}
			m.departure[j] = raw
		}
		if stat >= spreadUp {
			slowDep = c.slowSpread - c.spread
			m.departure[j] = slowDep
		}
		m.spread[j] = 0
		if c.spread > 0 {
			m.spread[j] = c.slowSpread / c.spread
		}
		m.rate[j] = 0
		if n := float64(m.seen-m.onsetN) + lead; worst >= 0 && n > 0 && t > m.onset {
			m.rate[j] = slowDep / rampRise(n, float64(m.cfg.Horizon)) * n / (float64(t-m.onset) / float64(time.Hour))
		}
	}
	normaliseShares(m.share, total)
	name := "level"
	if stat >= spreadUp {
		name = "spread"
	}
	m.why = Explanation{Share: m.share, Departure: m.departure, Statistic: name, Spread: m.spread,
		Onset: m.onset, Rate: m.rate, Reason: reason}
	return &m.why
}

// rampRise is how far, in slopes, the slow average (time constant h) of a
// ramp that began n samples ago has risen: n - h·(1 - e^(-n/h)).
func rampRise(n, h float64) float64 { return n - float64(h*(1-detmath.Exp(-n/h))) }

// rampLead estimates how many samples before its last crossing of the
// reference a ramp began, taking the crossing as the moment its slow
// average rose one null standard deviation, and z (the departure now, in
// those deviations) as reached nc samples after it: the n0 with
// rampRise(nc+n0)/rampRise(n0) = z.
func rampLead(z, nc, h float64) float64 {
	if !(z > 1) || math.IsInf(z, 0) {
		return 0
	}
	ratio := func(n0 float64) float64 { return rampRise(nc+n0, h) / rampRise(n0, h) }
	lo, hi := 1e-3, float64(100*h)
	if ratio(hi) >= z {
		return hi
	}
	for range 60 { // ratio falls as n0 grows
		mid := math.Sqrt(lo * hi)
		if ratio(mid) > z {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

// normaliseShares divides s by total, or spreads 1 evenly when total is 0.
func normaliseShares(s []float64, total float64) {
	for j := range s {
		if total > 0 {
			s[j] /= total
		} else {
			s[j] = 1 / float64(len(s))
		}
	}
}

// spreadHoldAfter is how many samples after an anomaly alert closes the
// spread stays held: an alert can close on a fault's last samples, its
// evidence below the close level, and the slow spread read those as a
// drift (a burst on the long duty cycle, covered 0.90 by its alert,
// opened one 51 samples after it).
func (m *driftMonitor) spreadHoldAfter() int { return m.cfg.Horizon / 8 }
