package detector

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/aewatch/aewatch/internal/detmath"
	"github.com/aewatch/aewatch/internal/statecodec"
)

// Verdict is an operator's judgement of an anomaly alert.
type Verdict uint8

const (
	NoVerdict Verdict = iota
	// FalsePositive: the alert's departure was harmless. Departures of
	// the same kind (its channel, on its side) up to a little beyond its
	// peak stop alerting, a tolerance that decays with FeedbackConfig's
	// half-life.
	FalsePositive
	// TruePositive: the alert was right. Its kind's tolerance drops below
	// its peak (departures that large must alert), and to nothing when it
	// was the only false positive that taught it (a corrected verdict).
	TruePositive
)

func (v Verdict) String() string {
	switch v {
	case FalsePositive:
		return "false_positive"
	case TruePositive:
		return "true_positive"
	}
	return "none"
}

// ParseVerdict reads "false_positive" or "true_positive".
func ParseVerdict(s string) (Verdict, error) {
	switch s {
	case "false_positive":
		return FalsePositive, nil
	case "true_positive":
		return TruePositive, nil
	}
	return NoVerdict, fmt.Errorf("verdict: must be false_positive or true_positive (got %q)", s)
}

// FeedbackConfig sets what a false-positive verdict teaches.
type FeedbackConfig struct {
	// Margin: a false positive tolerates departures of its kind up to
	// (1+Margin) times the alert's peak departure.
	Margin float64 `yaml:"margin"`
	// MaxDeviations bounds a tolerance, in the channel's deviations on
	// normal data, however large the alerts it was taught on.
	MaxDeviations float64 `yaml:"max_deviations"`
	// HalfLife is the event time over which a tolerance halves; verdicts
	// renew it.
	HalfLife time.Duration `yaml:"half_life"`
}

// DefaultFeedbackConfig returns the defaults.
func DefaultFeedbackConfig() FeedbackConfig {
	return FeedbackConfig{Margin: 0.25, MaxDeviations: 20, HalfLife: 30 * 24 * time.Hour}
}

// Validate names the first invalid field and its value.
func (c FeedbackConfig) Validate() error {
	switch {
	case !(c.Margin >= 0 && c.Margin <= 10):
		return fmt.Errorf("detector.feedback.margin: must be in [0, 10] (got %v)", c.Margin)
	case !(c.MaxDeviations > 0 && c.MaxDeviations <= 1000):
		return fmt.Errorf("detector.feedback.max_deviations: must be in (0, 1000] (got %v)", c.MaxDeviations)
	case c.HalfLife < time.Minute:
		return fmt.Errorf("detector.feedback.half_life: must be >= 1m (got %v)", c.HalfLife)
	}
	return nil
}

// FeedbackOutcome says what a verdict did.
type FeedbackOutcome struct {
	// Applied: the verdict changed the detector (false: Reason says why).
	Applied bool
	Reason  string
	// Repeated: the alert already had this verdict.
	Repeated bool
	// Found: a recent alert covered the time; the fields below describe it.
	Found bool
	// The alert it judged: its first and last sample times (End 0: still
	// open), the channel and side (+1 above, -1 below its level) its
	// departure was on, and the departure's peak, in sensor units.
	Start, End int64
	Channel    int
	Side       int
	Peak       float64
	// Tolerance is, after a false positive, the departure of that kind
	// tolerated from now on, in sensor units; Verdicts how many false
	// positives taught it.
	Tolerance float64
	Verdicts  int
}

// feedbackAlerts is how many recent anomaly alerts a verdict can name.
const feedbackAlerts = 16

// judgedAlert is a recent anomaly alert a verdict may name.
type judgedAlert struct {
	start, end int64 // end 0: open
	channel    int
	side       int     // +1 or -1
	peak       float64 // largest departure on its side, sensor units
	verdict    Verdict
}

// tolerance is what false positives taught about one kind of departure.
type tolerance struct {
	value float64 // sensor units, as of since
	since int64
	fp    int // false positives that taught it (true ones are on the alerts and in ae_feedback)
}

// feedback holds the recent alerts and the tolerances per channel and side.
type feedback struct {
	cfg    FeedbackConfig
	alerts []judgedAlert // oldest first
	tols   []tolerance   // channel*2 + (side>0)
	any    bool          // some tolerance is set
	open   int           // index in alerts of the open alert, -1: none
}

func newFeedback(cfg FeedbackConfig, channels int) *feedback {
	return &feedback{cfg: cfg, tols: make([]tolerance, 2*channels), open: -1}
}

// sideOf is the side of the level a departure dep lies on: +1 or -1.
func sideOf(dep float64) int {
	if dep < 0 {
		return -1
	}
	return 1
}

func sideIndex(j, side int) int {
	if side > 0 {
		return 2*j + 1
	}
	return 2 * j
}

// at returns the tolerance of channel j's departures on side at time t.
func (f *feedback) at(j, side int, t int64) float64 {
	tl := &f.tols[sideIndex(j, side)]
	if tl.value == 0 {
		return 0
	}
	age := float64(max(0, t-tl.since)) / float64(f.cfg.HalfLife)
	return float64(tl.value * detmath.Exp(-math.Ln2*age))
}

// opened records a new alert departing on channel j by dep.
func (f *feedback) opened(t int64, j int, dep float64) {
	side := sideOf(dep)
	if len(f.alerts) == feedbackAlerts {
		f.alerts = append(f.alerts[:0], f.alerts[1:]...)
	}
	f.alerts = append(f.alerts, judgedAlert{start: t, channel: j, side: side, peak: math.Abs(dep)})
	f.open = len(f.alerts) - 1
}

// during follows the open alert's peak with the departure dep of its
// channel at a sample.
func (f *feedback) during(dep float64) {
	if f.open < 0 {
		return
	}
	a := &f.alerts[f.open]
	a.peak = max(a.peak, float64(dep*float64(a.side)))
}

// closed ends the open alert at t; one judged a false positive while open
// teaches its final peak.
func (f *feedback) closed(t int64, bound func(int) float64) {
	if f.open < 0 {
		return
	}
	a := &f.alerts[f.open]
	a.end, f.open = t, -1
	if a.verdict == FalsePositive {
		f.teach(a, t, bound(a.channel))
	}
}

// teach raises the tolerance of a's kind of departure to cover its peak.
func (f *feedback) teach(a *judgedAlert, t int64, bound float64) {
	tl := &f.tols[sideIndex(a.channel, a.side)]
	tl.value = max(f.at(a.channel, a.side, t), min(bound, float64(a.peak*(1+f.cfg.Margin))))
	tl.since = t
	f.any = true
}

// unteach lowers the tolerance of a's kind below its peak, by the margin
// teach adds, or clears it when no false positive is left to teach it.
func (f *feedback) unteach(a *judgedAlert, t int64) {
	tl := &f.tols[sideIndex(a.channel, a.side)]
	if tl.value == 0 {
		return
	}
	tl.value = min(f.at(a.channel, a.side, t), a.peak/(1+f.cfg.Margin))
	tl.since = t
	if tl.fp == 0 {
		tl.value = 0
	}
}

// tolerates reports whether a departure dep of channel j at t is within
// what false positives taught.
func (f *feedback) tolerates(j int, dep float64, t int64) bool {
	if !f.any {
		return false
	}
	side := sideOf(dep)
	tol := f.at(j, side, t)
	return tol > 0 && math.Abs(dep) <= tol
}

// noteFor returns, for an alert opening on channel j's departure dep, the
// tolerance of its kind (signed as dep), the channel and the false
// positives that taught it.
func (f *feedback) noteFor(j int, dep float64, t int64) (float64, int, int) {
	side := sideOf(dep)
	return float64(side) * f.at(j, side, t), j, f.tols[sideIndex(j, side)].fp
}

// openChannel is the open alert's channel, or -1.
func (f *feedback) openChannel() int {
	if f.open < 0 {
		return -1
	}
	return f.alerts[f.open].channel
}

// judge applies verdict v, given at time now, to the alert covering at.
func (f *feedback) judge(at int64, v Verdict, now int64, bound func(int) float64) FeedbackOutcome {
	idx := -1
	for i := len(f.alerts) - 1; i >= 0; i-- {
		if a := f.alerts[i]; a.start <= at && (a.end == 0 || at <= a.end) {
			idx = i
			break
		}
	}
	if idx < 0 {
		return FeedbackOutcome{Reason: "no recent anomaly alert of this detector covers that time"}
	}
	a := &f.alerts[idx]
	tl := &f.tols[sideIndex(a.channel, a.side)]
	out := FeedbackOutcome{Found: true, Start: a.start, End: a.end, Channel: a.channel, Side: a.side, Peak: a.peak}
	if a.verdict == v {
		out.Reason, out.Repeated = "already recorded", true
		out.Tolerance, out.Verdicts = f.at(a.channel, a.side, now), tl.fp
		return out
	}
	if a.verdict == FalsePositive {
		tl.fp--
	}
	a.verdict = v
	switch v {
	case FalsePositive:
		tl.fp++
		f.teach(a, now, bound(a.channel))
	case TruePositive:
		f.unteach(a, now)
	}
	out.Applied = true
	out.Tolerance, out.Verdicts = f.at(a.channel, a.side, now), tl.fp
	return out
}

func (f *feedback) appendState(e *statecodec.Encoder) {
	e.Int(f.open)
	e.Int(len(f.alerts))
	for _, a := range f.alerts {
		e.I64(a.start)
		e.I64(a.end)
		e.Int(a.channel)
		e.Int(a.side)
		e.F64(a.peak)
		e.Int(int(a.verdict))
	}
	for _, tl := range f.tols {
		e.F64(tl.value)
		e.I64(tl.since)
		e.Int(tl.fp)
	}
}

func (f *feedback) readState(d *statecodec.Decoder) error {
	f.open = d.Int()
	n := d.Int()
	if d.Err() == nil && (n < 0 || n > feedbackAlerts || f.open < -1 || f.open >= n) {
		return errors.New("detector: feedback alerts out of range")
	}
	f.alerts = f.alerts[:0]
	for range n {
		a := judgedAlert{start: d.I64(), end: d.I64(), channel: d.Int(), side: d.Int(), peak: d.F64(), verdict: Verdict(d.Int())}
		if a.channel < 0 || 2*a.channel >= len(f.tols) || (a.side != 1 && a.side != -1) || !(a.peak >= 0) || !finite(a.peak) || a.verdict > TruePositive {
			return errors.New("detector: feedback alert out of range")
		}
		f.alerts = append(f.alerts, a)
	}
	f.any = false
	for i := range f.tols {
		tl := &f.tols[i]
		tl.value, tl.since, tl.fp = d.F64(), d.I64(), d.Int()
		if !(tl.value >= 0) || !finite(tl.value) || tl.fp < 0 {
			return errors.New("detector: feedback tolerance out of range")
		}
		f.any = f.any || tl.value > 0
	}
	return d.Err()
}
