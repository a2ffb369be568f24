package detector

import (
	"errors"
	"fmt"
	"math"
	"path"

	"github.com/aewatch/aewatch/internal/statecodec"
)

// QualityConfig sets the data-quality checks, which raise their own alert
// kind ("quality") beside the model's anomaly score: a channel stuck or
// flat-lined (its value holds still far longer than it ever did while the
// checks learned the series), a quantised transmitter (coarser steps than
// it reported while learning) and values beyond operator-set physical
// limits. They are rules, reported apart so that what the autoencoder sees
// and what a rule sees are never mixed in one score. While a quality alert
// is open the models do not learn, so a stuck sensor is not learnt as the
// new normal.
type QualityConfig struct {
	Enabled bool `yaml:"enabled"`
	// Learn is how many accepted samples the stuck check learns from:
	// each channel's typical step and its longest still run.
	Learn int `yaml:"learn"`
	// A channel is stuck once it has held still for StuckSamples samples
	// and StuckFactor times its longest still run while learning. A
	// channel that never moved while learning is never called stuck.
	StuckSamples int     `yaml:"stuck_samples"`
	StuckFactor  float64 `yaml:"stuck_factor"`
	// Stillness: a sample holds still when it lies within this fraction of
	// the channel's typical step (mean absolute change between consecutive
	// samples while learning) of the value that began the run; 0 asks for
	// exactly repeated values (a frozen transmitter only).
	Stillness float64 `yaml:"stillness"`
	// Quantised: a channel whose samples now hold still at least
	// QuantisedStill of the time (averaged over about 100 samples, and at
	// least twice as often as while learning) while its moves have grown
	// to QuantisedJump times their size while learning: a transmitter
	// that reports in coarser steps than it did. 0 disables the check.
	QuantisedStill float64 `yaml:"quantised_still"`
	QuantisedJump  float64 `yaml:"quantised_jump"`
	// A channel is missing once its values have been missing for
	// MissingSamples rows of its series in a row and StuckFactor times its
	// longest such gap while learning: a transmitter that died. On a
	// multivariate series the rows are those filled (not held as a slower
	// tag's reading); with a detector a channel, the series' samples that
	// lack it (Detector.Absent). 0 disables the check.
	MissingSamples int `yaml:"missing_samples"`
	// Limits are physical limits set by an operator, per series pattern
	// and channel; a value beyond one opens a quality alert at once.
	Limits []Limit `yaml:"limits"`
}

// Limit bounds one channel of the series a pattern matches.
type Limit struct {
	// Series is a path.Match pattern of series names ("" matches any).
	Series string `yaml:"series"`
	// Channel is the channel's name ("" matches any).
	Channel string   `yaml:"channel"`
	Min     *float64 `yaml:"min"`
	Max     *float64 `yaml:"max"`
}

// DefaultQualityConfig returns the defaults.
func DefaultQualityConfig() QualityConfig {
	return QualityConfig{Enabled: true, Learn: 1000, StuckSamples: 60, StuckFactor: 2, Stillness: 0.05,
		QuantisedStill: 0.5, QuantisedJump: 3, MissingSamples: 60}
}

// Validate names the first invalid field and its value.
func (c QualityConfig) Validate() error {
	switch {
	case c.Learn < 2 || c.Learn > 1e8:
		return fmt.Errorf("detector.quality.learn: must be in [2, 1e8] samples (got %d)", c.Learn)
	case c.StuckSamples < 2 || c.StuckSamples > 1e8:
		return fmt.Errorf("detector.quality.stuck_samples: must be in [2, 1e8] (got %d)", c.StuckSamples)
	case !(c.StuckFactor >= 1 && c.StuckFactor <= 1000):
		return fmt.Errorf("detector.quality.stuck_factor: must be in [1, 1000] (got %v)", c.StuckFactor)
	case !(c.Stillness >= 0 && c.Stillness < 1):
		return fmt.Errorf("detector.quality.stillness: must be in [0, 1) (got %v)", c.Stillness)
	case !(c.QuantisedStill >= 0 && c.QuantisedStill < 1):
		return fmt.Errorf("detector.quality.quantised_still: must be in [0, 1), 0 disables (got %v)", c.QuantisedStill)
	case !(c.QuantisedJump >= 1 && c.QuantisedJump <= 1000):
		return fmt.Errorf("detector.quality.quantised_jump: must be in [1, 1000] (got %v)", c.QuantisedJump)
	case c.MissingSamples < 0 || c.MissingSamples > 1e8:
		return fmt.Errorf("detector.quality.missing_samples: must be in [0, 1e8], 0 disables (got %d)", c.MissingSamples)
	}
	for i, l := range c.Limits {
		key := fmt.Sprintf("detector.quality.limits[%d]", i)
		if _, err := path.Match(l.Series, ""); err != nil {
			return fmt.Errorf("%s.series: bad pattern %q: %v", key, l.Series, err)
		}
		switch {
		case l.Min == nil && l.Max == nil:
			return fmt.Errorf("%s: needs min, max or both (series %q, channel %q)", key, l.Series, l.Channel)
		case l.Min != nil && !finite(*l.Min):
			return fmt.Errorf("%s.min: must be finite (got %v)", key, *l.Min)
		case l.Max != nil && !finite(*l.Max):
			return fmt.Errorf("%s.max: must be finite (got %v)", key, *l.Max)
		case l.Min != nil && l.Max != nil && *l.Min > *l.Max:
			return fmt.Errorf("%s: min %v is above max %v (series %q, channel %q)", key, *l.Min, *l.Max, l.Series, l.Channel)
		}
	}
	return nil
}

// LimitsFor resolves the limits of one series' channels: lo and hi per
// channel, -Inf and +Inf where none is set. Where several limits match, the
// narrowest bound wins.
func (c QualityConfig) LimitsFor(series string, channels []string) (lo, hi []float64) {
	lo, hi = make([]float64, len(channels)), make([]float64, len(channels))
	for j := range channels {
		lo[j], hi[j] = math.Inf(-1), math.Inf(1)
	}
	for _, l := range c.Limits {
		if ok, _ := path.Match(l.Series, series); l.Series != "" && !ok {
			continue
		}
		for j, name := range channels {
			if l.Channel != "" && l.Channel != name {
				continue
			}
			if l.Min != nil {
				lo[j] = max(lo[j], *l.Min)
			}
			if l.Max != nil {
				hi[j] = min(hi[j], *l.Max)
			}
		}
	}
	return lo, hi
}

// Quality check outcomes per channel, as Explanation.Failed names them.
const (
	Stuck     = "stuck"
	Quantised = "quantised"
	AboveMax  = "above max"
	BelowMin  = "below min"
	Missing   = "missing" // a channel's values missing far longer than its gaps while learning
	Glitch    = "glitch"  // an isolated wild value (Detector.holdBackWild), kept out of every model
)

// qualityMonitor runs the checks of one series. Its state is per channel
// except the alert.
type qualityMonitor struct {
	cfg     QualityConfig
	lo, hi  []float64 // limits, ±Inf where none (set by SetLimits, not snapshotted)
	context []bool    // Detector.context: only the limits apply (not snapshotted)

	n       int       // accepted samples
	prev    []float64 // the previous sample, for the typical step
	stepSum []float64 // sum of |change| while learning
	anchor  []float64 // the value that began the current still run
	run     []int     // samples in the current still run
	since   []int64   // time of the still run's first sample
	longest []int     // longest still run while learning
	// For the quantised check: while learning, how many samples held still
	// and the sum of the moves' sizes; afterwards exponential averages
	// of the share of still samples (about 100 samples) and of the moves'
	// sizes (about 20 moves).
	stillN, jumpN []int
	jumpSum       []float64
	stillAvg      []float64
	jumpAvg       []float64
	quantised     []bool
	// For the missing check: the rows in a row each channel has been
	// missing (filled, not held), since when, and its longest such gap
	// while learning.
	gapRun, longestGap []int
	gapSince           []int64
	// absentAt is the newest time a one-channel detector was told its
	// series' sample lacks the channel (absent): a row counts once;
	// released: an operator let the missing channel go, and absent
	// samples count no more until a value comes.
	absentAt int64
	released bool

	open     bool
	openedAt int64
	why      Explanation
}

func newQualityMonitor(cfg QualityConfig, channels int) *qualityMonitor {
	if !cfg.Enabled {
		return nil
	}
	m := &qualityMonitor{cfg: cfg, lo: make([]float64, channels), hi: make([]float64, channels),
		prev: make([]float64, channels), stepSum: make([]float64, channels), anchor: make([]float64, channels),
		run: make([]int, channels), since: make([]int64, channels), longest: make([]int, channels),
		stillN: make([]int, channels), jumpN: make([]int, channels), jumpSum: make([]float64, channels),
		stillAvg: make([]float64, channels), jumpAvg: make([]float64, channels), quantised: make([]bool, channels),
		gapRun: make([]int, channels), longestGap: make([]int, channels), gapSince: make([]int64, channels),
		why: Explanation{Share: make([]float64, channels), Departure: make([]float64, channels),
			Failed: make([]string, channels), Statistic: "quality"}}
	for j := range m.lo {
		m.lo[j], m.hi[j] = math.Inf(-1), math.Inf(1)
	}
	return m
}

// learning reports whether the checks still learn the series.
func (m *qualityMonitor) learning() bool { return m.n <= m.cfg.Learn }

// push checks one accepted sample taken at time t; the channels filled
// marks (missing.go; nil: none) are left as they stood but for how long
// they have been missing (those held marks, a slower tag's readings, are
// not).
func (m *qualityMonitor) push(t int64, x []float64, filled, held []bool) Outcome {
	m.n++
	m.released = false
	failing := false
	for j, v := range x {
		m.countGap(j, t, isContext(filled, j) && !isContext(held, j))
		if isContext(filled, j) && m.n > 1 {
			// A filled value is the last one again: no stillness.
			failing = failing || m.failed(j, m.prev[j]) != ""
			continue
		}
		if m.n == 1 {
			m.anchor[j], m.run[j], m.since[j] = v, 1, t
			m.prev[j] = v
			continue
		}
		step := math.Abs(v - m.prev[j])
		m.prev[j] = v
		if !finite(step) { // values near ±MaxFloat64: a move, kept out of the statistics
			m.anchor[j], m.run[j], m.since[j] = v, 1, t
			failing = failing || m.failed(j, v) != ""
			continue
		}
		if m.learning() {
			// A spike while learning must not make every later step look
			// still: a step counts at most 10 typical steps.
			counted := step
			if typical := m.typicalStep(j); m.n > 20 && typical > 0 {
				counted = min(step, 10*typical)
			}
			m.stepSum[j] += counted
		}
		tol := m.cfg.Stillness * m.typicalStep(j)
		if math.Abs(v-m.anchor[j]) <= tol {
			m.run[j]++
		} else {
			m.anchor[j], m.run[j], m.since[j] = v, 1, t
		}
		m.trackMoves(j, step, step <= tol)
		if m.learning() {
			m.longest[j] = max(m.longest[j], m.run[j])
		}
		failing = failing || m.failed(j, v) != ""
	}
	switch {
	case failing && !m.open:
		m.open, m.openedAt = true, t
		return Outcome{Open: true, Event: Opened, Why: m.explain(x)}
	case !failing && m.open:
		m.open = false
		return Outcome{Event: Closed, Peak: 1, Duration: t - m.openedAt, Why: m.explain(x)}
	}
	return Outcome{Open: m.open}
}

// glitch reports a sample x at time t whose channels marked wild hold
// isolated wild values, each departing from its running mean: it opens
// the alert (the next sample's checks close it) and changes no statistic,
// as the sample reaches no model.
func (m *qualityMonitor) glitch(t int64, x []float64, wild []bool, mean func(int) float64) Outcome {
	w := &m.why
	n := 0
	for j := range wild {
		w.Failed[j], w.Share[j], w.Departure[j] = "", 0, 0
		if wild[j] {
			w.Failed[j], w.Departure[j] = Glitch, x[j]-mean(j)
			n++
		}
	}
	for j := range wild {
		if wild[j] {
			w.Share[j] = 1 / float64(n)
		}
	}
	w.Onset, w.Reason = 0, ""
	if m.open {
		return Outcome{Open: true}
	}
	m.open, m.openedAt = true, t
	return Outcome{Open: true, Event: Opened, Why: w}
}

// The exponential averages' weights: of a sample in the share of still
// samples, and of a move in the moves' size (moves are rarer).
const stillWeight, moveWeight = 1.0 / 100, 1.0 / 20

// trackMoves updates the quantised check of channel j with a step of size
// step that held still or not.
func (m *qualityMonitor) trackMoves(j int, step float64, still bool) {
	if m.learning() {
		if still {
			m.stillN[j]++
		} else {
			if m.jumpN[j] > 20 { // a spike counts at most 10 typical moves
				step = min(step, 10*m.jumpSum[j]/float64(m.jumpN[j]))
			}
			m.jumpN[j]++
			m.jumpSum[j] += step
		}
		m.stillAvg[j] = float64(m.stillN[j]) / float64(m.n-1)
		m.jumpAvg[j] = m.jumpSum[j] / float64(max(1, m.jumpN[j]))
		return
	}
	s := 0.0
	if still {
		s = 1
	} else {
		m.jumpAvg[j] += float64(moveWeight * (step - m.jumpAvg[j]))
	}
	m.stillAvg[j] += float64(stillWeight * (s - m.stillAvg[j]))
	if m.cfg.QuantisedStill == 0 || m.jumpN[j] == 0 {
		return
	}
	learnt := float64(m.stillN[j]) / float64(m.cfg.Learn)
	typical := m.jumpSum[j] / float64(m.jumpN[j])
	// Enter at the configured ratios, leave at three quarters of them.
	stillAt, jumpAt := max(m.cfg.QuantisedStill, 2*learnt), m.cfg.QuantisedJump*typical
	if m.quantised[j] {
		stillAt, jumpAt = 0.75*stillAt, 0.75*jumpAt
	}
	m.quantised[j] = m.stillAvg[j] >= stillAt && m.jumpAvg[j] >= jumpAt
}

// countGap counts channel j's sample at time t towards its current gap if
// missing, else ends the gap (learnt as its longest while learning).
func (m *qualityMonitor) countGap(j int, t int64, missing bool) {
	switch {
	case missing:
		if m.gapRun[j] == 0 {
			m.gapSince[j] = t
		}
		m.gapRun[j]++
	case m.gapRun[j] > 0:
		if m.learning() {
			m.longestGap[j] = max(m.longestGap[j], m.gapRun[j])
		}
		m.gapRun[j] = 0
	}
}

// absent counts towards the gap of a one-channel detector's channel a
// sample of its series at time t that lacks it, the channel's newest value
// being at newest: once per time after that value (a series that sends
// each channel in a message of its own has messages without it at times
// it has a value), and not before the first. It returns the alert's
// outcome, opened once the channel is missing.
func (m *qualityMonitor) absent(t, newest int64) Outcome {
	if m.n == 0 || m.released || t <= max(newest, m.absentAt) {
		return Outcome{Open: m.open}
	}
	m.absentAt = t
	m.countGap(0, t, true)
	if m.open || !m.missing(0) {
		return Outcome{Open: m.open}
	}
	m.open, m.openedAt = true, t
	return Outcome{Open: true, Event: Opened, Why: m.explain(m.prev)}
}

// missing reports whether channel j has been missing far longer than its
// gaps while learning.
// failed asks it of every channel at every sample: the run is compared
// first, as it is 0 but in a gap.
func (m *qualityMonitor) missing(j int) bool {
	return m.cfg.MissingSamples > 0 && m.gapRun[j] >= m.cfg.MissingSamples && !m.learning() &&
		m.gapRun[j] >= int(math.Ceil(m.cfg.StuckFactor*float64(m.longestGap[j])))
}

// typicalStep is channel j's mean absolute change while learning (so far).
func (m *qualityMonitor) typicalStep(j int) float64 {
	return m.stepSum[j] / float64(max(1, min(m.n, m.cfg.Learn+1)-1))
}

// failed names the check channel j fails with value v, or "".
func (m *qualityMonitor) failed(j int, v float64) string {
	switch {
	case m.missing(j): // v is its last value again: no limit applies
		return Missing
	case v > m.hi[j]:
		return AboveMax
	case v < m.lo[j]:
		return BelowMin
	case isContext(m.context, j):
		// An input such as a setpoint holds still by design.
		return ""
	case !m.learning() && m.stepSum[j] > 0 &&
		m.run[j] >= max(m.cfg.StuckSamples, int(math.Ceil(m.cfg.StuckFactor*float64(m.longest[j])))):
		return Stuck
	case m.quantised[j]:
		return Quantised
	}
	return ""
}

// explain fills the explanation for the sample x: which channels fail and
// how (all of them share the evidence equally), the departure beyond a
// limit in sensor units, and for stuck channels the run's start as Onset
// (the earliest, with several), as for a missing channel its gap's.
func (m *qualityMonitor) explain(x []float64) *Explanation {
	w, failing := &m.why, 0
	w.Onset, w.Reason = 0, "" // an operator's closing (CloseAlerts) sets Reason
	for j, v := range x {
		w.Failed[j], w.Share[j], w.Departure[j] = m.failed(j, v), 0, 0
		switch w.Failed[j] {
		case "":
			continue
		case AboveMax:
			w.Departure[j] = v - m.hi[j]
		case BelowMin:
			w.Departure[j] = v - m.lo[j]
		case Stuck:
			if w.Onset == 0 || m.since[j] < w.Onset {
				w.Onset = m.since[j]
			}
		case Missing:
			if w.Onset == 0 || m.gapSince[j] < w.Onset {
				w.Onset = m.gapSince[j]
			}
		}
		w.Share[j] = 1
		failing++
	}
	if failing > 0 {
		for j := range w.Share {
			w.Share[j] /= float64(failing)
		}
	}
	return w
}

// restart learns the series afresh (an operator's re-baseline); an open
// alert stays open until the checks pass.
func (m *qualityMonitor) restart() {
	m.n = 0
	clear(m.stepSum)
	clear(m.longest)
	clear(m.stillN)
	clear(m.jumpN)
	clear(m.jumpSum)
	clear(m.quantised)
	clear(m.longestGap)
}

func (m *qualityMonitor) appendState(e *statecodec.Encoder) {
	e.Int(m.n)
	e.F64s(m.prev)
	e.F64s(m.stepSum)
	e.F64s(m.anchor)
	for j := range m.run {
		e.Int(m.run[j])
		e.I64(m.since[j])
		e.Int(m.longest[j])
		e.Int(m.stillN[j])
		e.Int(m.jumpN[j])
		e.Bool(m.quantised[j])
		e.Int(m.gapRun[j])
		e.Int(m.longestGap[j])
		e.I64(m.gapSince[j])
	}
	e.F64s(m.jumpSum)
	e.F64s(m.stillAvg)
	e.F64s(m.jumpAvg)
	e.Bool(m.open)
	e.I64(m.openedAt)
	e.I64(m.absentAt)
	e.Bool(m.released)
}

func (m *qualityMonitor) readState(d *statecodec.Decoder) error {
	m.n = d.Int()
	d.F64sInto(m.prev, "quality previous sample")
	d.F64sInto(m.stepSum, "quality steps")
	d.F64sInto(m.anchor, "quality run anchors")
	for j := range m.run {
		m.run[j], m.since[j], m.longest[j] = d.Int(), d.I64(), d.Int()
		m.stillN[j], m.jumpN[j], m.quantised[j] = d.Int(), d.Int(), d.Bool()
		m.gapRun[j], m.longestGap[j], m.gapSince[j] = d.Int(), d.Int(), d.I64()
		if m.run[j] < 0 || m.longest[j] < 0 || m.stillN[j] < 0 || m.jumpN[j] < 0 || m.gapRun[j] < 0 || m.longestGap[j] < 0 {
			return errors.New("detector: quality state out of range")
		}
	}
	d.F64sInto(m.jumpSum, "quality move sizes")
	d.F64sInto(m.stillAvg, "quality still share")
	d.F64sInto(m.jumpAvg, "quality move average")
	m.open, m.openedAt = d.Bool(), d.I64()
	m.absentAt, m.released = d.I64(), d.Bool()
	if err := d.Err(); err != nil {
		return err
	}
	if m.n < 0 {
		return errors.New("detector: quality state out of range")
	}
	for _, v := range [][]float64{m.prev, m.stepSum, m.anchor, m.jumpSum, m.stillAvg, m.jumpAvg} {
		if !allFinite(v) {
			return errors.New("detector: quality state not finite")
		}
	}
	return nil
}
