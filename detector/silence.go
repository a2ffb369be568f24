package detector

import (
	"fmt"
	"path"
	"slices"
	"time"

	"github.com/aewatch/aewatch/window"
)

// Silence is a maintenance window an operator sets: the samples of the
// series its pattern matches whose event time lies in [From, To) are scored
// and written, flagged silenced, but they open no alert and leave the
// detector as it was before the window, so no model, calibration or
// reference learns from them. A silence ends on its own at To.
type Silence struct {
	// Series is a path pattern of series names ("" or absent: every
	// series), as for quality limits.
	Series string `yaml:"series" json:"series"`
	From   string `yaml:"from" json:"from"` // RFC 3339, e.g. 2024-03-01T08:00:00Z
	To     string `yaml:"to" json:"to"`
	Reason string `yaml:"reason" json:"reason"` // for the record
}

// TimeRange is a half-open interval of event times, Unix nanoseconds.
type TimeRange struct{ From, To int64 }

const maxSilenceReason = 1024

// Window parses the silence: its series pattern and ends. Errors name the
// field and its value.
func (s Silence) Window() (TimeRange, error) {
	if _, err := path.Match(s.Series, ""); err != nil {
		return TimeRange{}, fmt.Errorf("series: not a path pattern (got %q)", s.Series)
	}
	if len(s.Reason) > maxSilenceReason {
		return TimeRange{}, fmt.Errorf("reason: at most %d bytes (got %d)", maxSilenceReason, len(s.Reason))
	}
	from, err := time.Parse(time.RFC3339Nano, s.From)
	if err != nil {
		return TimeRange{}, fmt.Errorf("from: not an RFC 3339 time such as 2024-03-01T08:00:00Z (got %q)", s.From)
	}
	to, err := time.Parse(time.RFC3339Nano, s.To)
	if err != nil {
		return TimeRange{}, fmt.Errorf("to: not an RFC 3339 time such as 2024-03-01T12:00:00Z (got %q)", s.To)
	}
	if !to.After(from) {
		return TimeRange{}, fmt.Errorf("to: must be after from=%s (got %s)", s.From, s.To)
	}
	return TimeRange{from.UnixNano(), to.UnixNano()}, nil
}

// Matches reports whether the silence's pattern matches series.
func (s Silence) Matches(series string) bool {
	ok, _ := path.Match(s.Series, series)
	return s.Series == "" || ok
}

func validateSilences(ss []Silence) error {
	for i, s := range ss {
		if _, err := s.Window(); err != nil {
			return fmt.Errorf("detector.silences[%d].%w", i, err)
		}
	}
	return nil
}

// SilencesFor resolves the maintenance windows of one series, sorted by
// start (c must be valid).
func (c Config) SilencesFor(series string) []TimeRange { return c.ParseSilences().For(series) }

// ParsedSilences are a configuration's maintenance windows parsed once, for
// a caller that resolves them for many series.
type ParsedSilences []parsedSilence

type parsedSilence struct {
	Silence
	window TimeRange
}

// ParseSilences parses c's maintenance windows (c must be valid).
func (c Config) ParseSilences() ParsedSilences {
	var out ParsedSilences
	for _, s := range c.Silences {
		if r, err := s.Window(); err == nil {
			out = append(out, parsedSilence{s, r})
		}
	}
	return out
}

// For resolves the maintenance windows of one series, sorted by start.
func (p ParsedSilences) For(series string) []TimeRange {
	var out []TimeRange
	for _, s := range p {
		if s.Matches(series) {
			out = append(out, s.window)
		}
	}
	slices.SortFunc(out, func(a, b TimeRange) int { return int(min(1, max(-1, a.From-b.From))) })
	return out
}

// SetSilences sets the series' maintenance windows (Config.SilencesFor).
// Like limits they are not part of a snapshot, so changing them keeps a
// series' state.
func (d *Detector) SetSilences(windows []TimeRange) {
	d.silences = append(d.silences[:0], windows...)
}

// silenced reports whether event time t lies in a maintenance window.
func (d *Detector) silenced(t int64) bool {
	for _, w := range d.silences {
		if t >= w.From && t < w.To {
			return true
		}
	}
	return false
}

// pushSilenced scores a sample of a maintenance window on the window's
// copy of the detector, taken at its first sample, and reports the
// detector's own alerts as they stand, without events.
func (d *Detector) pushSilenced(t int64, x []float64) []Result {
	if d.shadow == nil {
		if err := d.startShadow(); err != nil {
			// Only a detector that cannot snapshot itself gets here; the
			// sample is then left out rather than learnt from.
			res := d.unscored(d.seq, t, window.Filling, x)
			d.seq++
			res[0].Silenced = true
			return res
		}
	}
	d.seq++ // the copy numbers the sample; the detector skips the number
	res := d.shadow.Push(t, x)
	if f, n := d.shadow.TakeFault(); n > 0 { // the copy started afresh; the fault is the detector's to report
		d.fault = f
		d.untakenFaults += n
	}
	for i := range res {
		r := &res[i]
		r.Silenced = true
		r.Bottleneck = 0 // a choice the copy makes goes with it; the detector makes its own
		r.Anomaly = Outcome{Open: d.alert.open}
		r.DriftAlert = Outcome{Open: d.DriftOpen()}
		r.Quality = Outcome{Open: d.QualityOpen()}
	}
	return res
}

// startShadow copies the detector, through its snapshot, into d.shadow.
func (d *Detector) startShadow() error {
	b, err := d.AppendBinary(d.shadowBuf[:0])
	if err != nil {
		return err
	}
	d.shadowBuf = b
	return d.restoreShadow(b)
}

// restoreShadow builds d.shadow from snapshot b.
func (d *Detector) restoreShadow(b []byte) error {
	cfg := d.cfg
	cfg.Silences = nil
	sh, err := New(cfg, d.channels)
	if err != nil {
		return err
	}
	sh.SetContext(d.context) // before the state: it decides what the relation keeps
	if err := sh.UnmarshalBinary(b); err != nil {
		return err
	}
	if d.quality != nil {
		sh.SetLimits(d.quality.lo, d.quality.hi)
	}
	sh.noHold = true // d held what it had to before the copy sees it
	d.shadow = sh
	return nil
}
