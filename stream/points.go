package stream

import (
	"math"
	"slices"
	"time"

	"github.com/aewatch/aewatch/detector"
	"github.com/aewatch/aewatch/sink"
	"github.com/aewatch/aewatch/stream/codec"
	"github.com/aewatch/aewatch/window"
)

// Points: what a scored sample and an alert event become for the sink.

// push scores one sample of st's detector and appends its points (a
// score point per channel, an alert point per event) to pts.
func (p *Pipeline) push(st *seriesState, t int64, x []float64, pts []sink.Point) []sink.Point {
	return p.points(st, st.det.Push(t, x), pts)
}

// points appends the points of st's detector's results to pts.
func (p *Pipeline) points(st *seriesState, results []detector.Result, pts []sink.Point) []sink.Point {
	m := p.o.Metrics
	if f, n := st.det.TakeFault(); n > 0 {
		m.DetectorFaults.Add(float64(n))
		p.o.Log.Error("the series' detector failed (a bug in aewatch: please report it with this line); it starts afresh, the samples it owed results for are dropped",
			"series", st.series, "time", time.Unix(0, f.Time).UTC().Format(time.RFC3339Nano), "at_flush", f.Flush, "samples_dropped", f.Owed,
			"faults", n, "fault", f.Panic, "stack", f.Stack)
	}
	for _, r := range results {
		switch r.Status {
		case window.NonFinite:
			m.SamplesDropped.WithLabelValues(string(codec.ReasonNonFinite)).Inc()
		case window.OutOfRange: // decode rejects these first; a guard
			m.SamplesDropped.WithLabelValues(string(codec.ReasonOutOfRange)).Inc()
		case window.Wild:
			m.SamplesDropped.WithLabelValues(string(codec.ReasonWild)).Inc()
		case window.Ahead:
			m.SamplesDropped.WithLabelValues(string(codec.ReasonTimeJump)).Inc()
			if ok, held := p.outOfOrderLog.Allow(); ok {
				p.o.Log.Warn("sample dated far ahead of its series, and the next came between the two: a clock glitch; dropped", "series", st.series,
					"time", time.Unix(0, r.Time).UTC().Format(time.RFC3339Nano), "series_newest", time.Unix(0, st.det.LastTime()).UTC().Format(time.RFC3339Nano),
					"others_since_last_line", held)
			}
		case window.Failed:
			m.SamplesDropped.WithLabelValues(string(codec.ReasonDetectorFault)).Inc()
		case window.Merged:
			m.MessagesMerged.Inc()
		case window.OutOfOrder:
			m.SamplesDropped.WithLabelValues(string(codec.ReasonOutOfOrder)).Inc()
			st.outOfOrder++
			if ok, held := p.outOfOrderLog.Allow(); ok {
				// The newest time says whether samples dated ahead (a
				// glitch of several in a row, or a clock stepped back)
				// are what the series waits for.
				newest := st.det.LastTime()
				p.o.Log.Warn("sample not after its series' previous one; dropped", "series", st.series,
					"time", time.Unix(0, r.Time).UTC().Format(time.RFC3339Nano), "series_newest", time.Unix(0, newest).UTC().Format(time.RFC3339Nano),
					"behind", time.Duration(newest-r.Time).String(), "dropped_of_series", st.outOfOrder, "others_since_last_line", held)
			}
		}
		if r.CountersChanged {
			var counting []string
			for j, c := range st.det.Counters() {
				if c {
					counting = append(counting, st.channels[j])
				}
			}
			p.o.Log.Info("channels judged as counters, on their rises, wraps and resets unwrapped; the series' detector starts afresh",
				"series", st.series, "counters", counting)
		}
		if r.Scored {
			m.Windows.Inc()
			for j, ch := range st.channels {
				if r.Missing != nil && r.Missing[j] {
					continue // no value, nothing to write
				}
				pts = append(pts, sink.Point{Series: st.series, Channel: ch, Tags: st.tags, Time: r.Time,
					Value: r.Values[j], Error: r.ChannelError[j], Score: r.Score, RefScore: r.RefScore, AlertScore: r.AlertScore(), Threshold: r.Threshold, Alert: r.Anomaly.Open,
					DriftScore: r.Drift, DriftAlert: r.DriftAlert.Open, QualityAlert: r.Quality.Open, Silenced: r.Silenced,
					Yhat: r.Expected[j], YhatLower: r.Lower[j], YhatUpper: r.Upper[j]})
				pt := &pts[len(pts)-1]
				if p.o.Output.Latent {
					pt.CodeLen = uint8(copy(pt.Code[:], r.Code))
				}
				pt.Bottleneck = uint8(r.Bottleneck)
			}
			if r.Bottleneck > 0 {
				p.o.Log.Info("bottleneck chosen", "series", st.series, "units", r.Bottleneck)
			}
			pts = p.alertPoints(st, &r, "anomaly", r.Anomaly, r.AlertScore(), pts)
		}
		pts = p.alertPoints(st, &r, "drift", r.DriftAlert, r.Drift, pts)
		pts = p.alertPoints(st, &r, "quality", r.Quality, boolScore(r.Quality.Open), pts)
	}
	// The denoised values of earlier samples, into their ae_score points.
	for _, o := range st.det.Denoised() {
		for j, ch := range st.channels {
			if v := o.Values[j]; !math.IsNaN(v) && !math.IsInf(v, 0) {
				pts = append(pts, sink.Point{Measurement: sink.DenoisedMeasurement, Series: st.series, Channel: ch, Tags: st.tags, Time: o.Time, Denoised: v})
			}
		}
	}
	return pts
}

// alertPoints appends one ae_alert point per channel for an event of the
// alert o of the given kind, whose score at this sample is score.
func (p *Pipeline) alertPoints(st *seriesState, r *detector.Result, kind string, o detector.Outcome, score float64, pts []sink.Point) []sink.Point {
	if o.Event == detector.NoEvent {
		return pts
	}
	k := slices.Index(alertKinds[:], kind)
	peak, dur, why := o.Peak, o.Duration, o.Why
	switch o.Event {
	case detector.Opened:
		p.o.Metrics.OpenAlerts.WithLabelValues(kind).Set(float64(p.open[k].Add(1)))
		peak, dur = score, 0
	case detector.Closed:
		p.o.Metrics.OpenAlerts.WithLabelValues(kind).Set(float64(p.open[k].Add(-1)))
	}
	for j, ch := range st.channels {
		pt := sink.Point{Series: st.series, Channel: ch, Tags: st.tags, Time: r.Time, Score: score, Alert: o.Open,
			Measurement: sink.AlertMeasurement, Event: o.Event.String(), Kind: kind, Peak: peak, Duration: float64(dur) / 1e9}
		if why != nil {
			pt.Share, pt.Departure, pt.Statistic, pt.Reason = why.Share[j], why.Departure[j], why.Statistic, why.Reason
			switch kind {
			case "drift":
				pt.Spread, pt.Onset, pt.Rate = why.Spread[j], why.Onset, why.Rate[j]
			case "quality":
				pt.Statistic = why.Failed[j]
				if f := why.Failed[j]; f == detector.Stuck || f == detector.Missing {
					pt.Onset = why.Onset
				}
			case "anomaly":
				if why.Tolerance != 0 && j == why.ToleranceChannel {
					pt.Tolerated, pt.Verdicts = why.Tolerance, why.Verdicts
				}
			}
		}
		pts = append(pts, pt)
	}
	return pts
}

// alertKinds are the kinds of alert a detector raises.
var alertKinds = [...]string{"anomaly", "drift", "quality"}

// boolScore is 1 for true: a quality alert's score at its opening.
func boolScore(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
