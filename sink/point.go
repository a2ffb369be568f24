package sink

import (
	"math"
	"strconv"
	"strings"
)

// Tag is a key/value pair on a point.
type Tag struct{ Key, Value string }

// Point is one scored sample of one channel (measurement ae_score) or, with
// Event set, an alert opening or closing (measurement ae_alert).
type Point struct {
	Series, Channel string
	Tags            []Tag // the input's own tags
	Time            int64 // event time, Unix nanoseconds
	Value           float64
	Error           float64
	Score           float64
	Threshold       float64
	Alert           bool
	// Event is "" for ae_score points, "opened" or "closed" for ae_alert.
	Event    string
	Kind     string  // alert kind, with Event
	Peak     float64 // with Event closed
	Duration float64 // seconds, with Event closed
}

// reservedTags are aewatch's own tag keys; input tags of these names are
// written with an "input_" prefix so that they cannot overwrite them.
var reservedTags = map[string]bool{"series": true, "channel": true, "run": true, "kind": true, "event": true}

// AppendLine appends p as one line of InfluxDB line protocol (no newline),
// with extra tags (such as run) after the point's own.
func AppendLine(dst []byte, p *Point, extra []Tag) []byte {
	if p.Event == "" {
		dst = append(dst, "ae_score"...)
	} else {
		dst = append(dst, "ae_alert"...)
	}
	dst = appendTag(dst, "channel", p.Channel)
	if p.Event != "" {
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
	alert := 0.0
	if p.Alert {
		alert = 1
	}
	if p.Event == "" {
		field("value", p.Value)
		field("error", p.Error)
		field("score", p.Score)
		field("threshold", p.Threshold)
	} else {
		field("score", p.Score)
		field("peak", p.Peak)
		field("duration_s", p.Duration)
	}
	if !first {
		dst = append(dst, ',')
	}
	dst = append(dst, "alert="...)
	dst = strconv.AppendInt(dst, int64(alert), 10)
	dst = append(dst, 'i', ' ')
	return strconv.AppendInt(dst, p.Time, 10)
}

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
