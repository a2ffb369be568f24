package sink

import (
	"math"
	"strconv"
	"strings"

	"github.com/aewatch/aewatch/stream/codec"
)

// Tag is a key/value pair on a point: the input's own tag type, so that a
// message's tags pass to its points as they are.
type Tag = codec.Tag

// Measurement is which of aewatch's measurements a point belongs to.
type Measurement uint8

const (
	ScoreMeasurement      Measurement = iota // ae_score: one scored sample of one channel
	AlertMeasurement                         // ae_alert: an alert opening or closing
	RebaselineMeasurement                    // ae_rebaseline: an operator's re-baseline
	FeedbackMeasurement                      // ae_feedback: an operator's verdict on an alert
	// DenoisedMeasurement is a partial ae_score point: only the field
	// denoised, written denoise.delay samples after the sample's own point
	// and merged into it by InfluxDB (same series, tags and time).
	DenoisedMeasurement
)

// Scored reports whether m's points are ae_score's.
func (m Measurement) Scored() bool { return m == ScoreMeasurement || m == DenoisedMeasurement }

// String is the measurement's name in InfluxDB.
func (m Measurement) String() string {
	switch m {
	case AlertMeasurement:
		return "ae_alert"
	case RebaselineMeasurement:
		return "ae_rebaseline"
	case FeedbackMeasurement:
		return "ae_feedback"
	}
	return "ae_score"
}

// Point is one point of a Measurement: a scored sample, an alert event or
// a re-baseline; the fields each one carries are said beside them.
type Point struct {
	Measurement     Measurement
	Series, Channel string
	Tags            []Tag // the input's own tags
	Time            int64 // event time, Unix nanoseconds
	Value           float64
	Error           float64
	Score           float64
	RefScore        float64 // the reference model's score (sustained departures)
	AlertScore      float64 // the evidence the anomaly alert steps on
	Threshold       float64
	Alert           bool
	DriftScore      float64
	DriftAlert      bool
	QualityAlert    bool
	Silenced        bool // in a maintenance window: scored, no alert, nothing learnt
	// Yhat is the channel's expected value (ae_score), YhatLower and
	// YhatUpper the values at which the score would reach the threshold;
	// each is left out where NaN or infinite (no value would).
	Yhat, YhatLower, YhatUpper float64
	// Code is the bottleneck code of the sample's window (ae_score, with
	// output.latent), written as fields z0 .. z<CodeLen-1>.
	Code    [MaxCode]float64
	CodeLen uint8
	// Bottleneck is the size model.bottleneck: auto chose, on the one
	// point of the sample at which it chose it (field bottleneck).
	Bottleneck uint8
	// Denoised is the sample's denoised value (DenoisedMeasurement).
	Denoised float64
	// Event is "opened" or "closed" (ae_alert only).
	Event    string
	Kind     string  // alert kind (ae_alert): anomaly, drift or quality
	Peak     float64 // with Event closed
	Duration float64 // seconds, with Event closed
	// Explanation (ae_alert): the channel's share of the evidence, its
	// departure in sensor units (also written as direction up or down) and
	// what moved (value, level, spread; for quality the check the channel
	// fails: stuck, above max, below min, or ""); for
	// drift also the spread ratio and rate per hour; for drift and stuck
	// channels the estimated onset (Unix ns, 0: none); Reason says who closed it ("rebaseline"). For
	// ae_rebaseline, Reason is the request's source. For ae_feedback,
	// Event is the verdict, Alert whether it was applied, Reason the
	// source or why it was not applied, Onset the judged alert's start,
	// Peak its peak departure and Departure the tolerance taught (sensor
	// units, signed).
	Share, Departure float64
	Statistic        string
	Spread           float64
	Onset            int64
	Rate             float64
	Reason           string
	// Tolerated (anomaly, on the channel it concerns): the departure from
	// its level operators' false-positive verdicts (Verdicts of them)
	// taught to tolerate on the opening departure's side, sensor units,
	// signed; 0: none.
	Tolerated float64
	Verdicts  int
}

// OutputConfig chooses optional fields of ae_score.
type OutputConfig struct {
	// Latent writes each scored sample's bottleneck code as fields z0, z1,
	// ... (for clustering operating regimes or feeding other models).
	Latent bool `yaml:"latent"`
}

// MaxCode is the largest bottleneck output.latent writes.
const MaxCode = 8

// codeFields are the code's field names.
var codeFields = func() (f [MaxCode]string) {
	for i := range f {
		f[i] = "z" + strconv.Itoa(i)
	}
	return f
}()

// reservedTags are aewatch's own tag keys; input tags of these names are
// written with an "input_" prefix so that they cannot overwrite them.
var reservedTags = map[string]bool{"series": true, "channel": true, "run": true, "kind": true, "event": true}

// AppendLine appends p as one line of InfluxDB line protocol (no newline),
// with extra tags (such as run) after the point's own.
func AppendLine(dst []byte, p *Point, extra []Tag) []byte {
	start := len(dst)
	dst = append(dst, p.Measurement.String()...)
	dst = appendTag(dst, "channel", p.Channel)
	if p.Measurement == AlertMeasurement {
		dst = appendTag(dst, "event", p.Event)
		dst = appendTag(dst, "kind", p.Kind)
	}
	for _, t := range p.Tags {
		k := t.Key
		if reservedTags[k] {
			k = "input_" + k
		}
		dst = appendTag(dst, k, t.Value)
	}
	for _, t := range extra {
		dst = appendTag(dst, t.Key, t.Value)
	}
	dst = appendTag(dst, "series", p.Series)
	dst = append(dst, ' ')
	first := true
	field := func(k string, v float64) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return // NaN/Inf wedge InfluxDB writes; they are never sent
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, k...)
		dst = append(dst, '=')
		dst = strconv.AppendFloat(dst, v, 'g', -1, 64)
	}
	intField := func(k string, v int64) {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, k...)
		dst = append(dst, '=')
		dst = strconv.AppendInt(dst, v, 10)
		dst = append(dst, 'i')
	}
	strField := func(k, v string) {
		if v == "" {
			return
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, k...)
		dst = append(dst, '=', '"')
		dst = append(dst, fieldEscaper.Replace(v)...)
		dst = append(dst, '"')
	}
	switch p.Measurement {
	case ScoreMeasurement:
		field("value", p.Value)
		field("error", p.Error)
		field("score", p.Score)
		field("threshold", p.Threshold)
		field("reference_score", p.RefScore)
		field("alert_score", p.AlertScore)
		field("drift_score", p.DriftScore)
		field("yhat", p.Yhat)
		field("yhat_lower", p.YhatLower)
		field("yhat_upper", p.YhatUpper)
		for i, z := range p.Code[:p.CodeLen] {
			field(codeFields[i], z)
		}
		if p.Bottleneck > 0 {
			intField("bottleneck", int64(p.Bottleneck))
		}
		intField("drift_alert", boolInt(p.DriftAlert))
		intField("quality_alert", boolInt(p.QualityAlert))
		if p.Silenced {
			intField("silenced", 1) // only where true: most points never are
		}
	case DenoisedMeasurement:
		field("denoised", p.Denoised)
		if first {
			return dst[:start] // a value that is not finite: no line at all
		}
		dst = append(dst, ' ')
		return strconv.AppendInt(dst, p.Time, 10)
	case RebaselineMeasurement:
		strField("source", p.Reason)
		intField("accepted", 1)
		dst = append(dst, ' ')
		return strconv.AppendInt(dst, p.Time, 10)
	case FeedbackMeasurement:
		strField("verdict", p.Event)
		intField("applied", boolInt(p.Alert))
		strField("reason", p.Reason)
		if p.Onset != 0 {
			intField("alert_start_ns", p.Onset)
		}
		field("peak", p.Peak)
		field("tolerance", p.Departure)
		dst = append(dst, ' ')
		return strconv.AppendInt(dst, p.Time, 10)
	default:
		field("score", p.Score)
		field("peak", p.Peak)
		field("duration_s", p.Duration)
		field("share", p.Share)
		field("departure", p.Departure)
		switch {
		case p.Departure > 0:
			strField("direction", "up")
		case p.Departure < 0:
			strField("direction", "down")
		}
		strField("statistic", p.Statistic)
		if p.Kind == "drift" {
			field("spread_ratio", p.Spread)
			field("rate_per_h", p.Rate)
		}
		if p.Onset != 0 {
			intField("onset_ns", p.Onset)
		}
		strField("reason", p.Reason)
		if p.Tolerated != 0 {
			field("tolerated", p.Tolerated)
			intField("verdicts", int64(p.Verdicts))
		}
	}
	intField("alert", boolInt(p.Alert))
	dst = append(dst, ' ')
	return strconv.AppendInt(dst, p.Time, 10)
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

var fieldEscaper = strings.NewReplacer(`"`, `\"`, `\`, `\\`, "\n", `\n`)

var tagEscaper = strings.NewReplacer(",", `\,`, "=", `\=`, " ", `\ `, "\n", `\n`)

func appendTag(dst []byte, k, v string) []byte {
	if v == "" {
		return dst // InfluxDB rejects empty tag values
	}
	dst = append(dst, ',')
	dst = append(dst, tagEscaper.Replace(k)...)
	dst = append(dst, '=')
	return append(dst, tagEscaper.Replace(v)...)
}
