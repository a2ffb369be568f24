package eval

import (
	"bufio"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aewatch/aewatch/detector"
	"github.com/aewatch/aewatch/sensorcsv"
	"github.com/aewatch/aewatch/window"
)

// Scored is one file's outcome.
type Scored struct {
	File *sensorcsv.File
	// LeftOut names the channels with no value in any row, left out of
	// the one detector over several channels (Options.Multivariate).
	LeftOut    []string
	Score      []float64   // anomaly_score per row
	RefScore   []float64   // reference_score per row (the largest over channels)
	AlertScore []float64   // alert_score per row: the evidence the alert steps on (the largest over channels)
	Alert      []bool      // alert per row
	Error      []float64   // error per row
	Channel    [][]float64 // per channel score (univariate) per row
	ChannelErr [][]float64 // per channel error per row
	Drift      []float64   // drift_score per row: the largest over channels
	DriftAlert []bool      // a drift alert is open at the row
	Quality    []bool      // a quality alert is open at the row
	Silenced   []bool      // the row lies in a maintenance window (detector.silences)
	ChDrift    [][]float64 // per channel drift score (univariate) per row
	// Expected, Lower and Upper are per channel per row: the expected value
	// and the band of values that keep the score below the threshold
	// (detector.Result); NaN where the row was not scored.
	Expected, Lower, Upper [][]float64
	// Code holds each detector's bottleneck codes (one detector per
	// channel, or one with --multivariate), CodeLen values per row, NaN
	// where the row was not scored; nil unless asked for (latent) and
	// without a network. WriteCSV writes them when there are any.
	Code    [][]float64
	CodeLen int
	// Bottlenecks are the sizes model.bottleneck: auto chose, one per
	// detector (0: the search had not ended); nil with a fixed size.
	Bottlenecks []int
	// Denoised is per channel per row the denoised value (detector.denoise;
	// NaN where none was given: while the denoiser learned, in the last
	// denoise.delay rows); nil when disabled.
	Denoised [][]float64
	// HeldBytes is the memory each detector held at the end of the file
	// (detector.MemoryBytes; its histories grow as they fill).
	HeldBytes  []int
	Why        []string // explanations of the alert events at the row
	NonFinite  uint64
	OutOfRange uint64 // beyond ±detector.window.max_abs
	Wild       uint64 // isolated wild values held back from the models
	Filled     uint64 // missing values of rows scored on their other channels (detector.Result.Missing)
	FilledRows uint64 // those rows
	Held       uint64 // of Filled, those held as a slower tag's reading (detector.Result.Held)
	MaskedRows uint64 // rows with a filled value not held: its channel masked
	Merged     uint64 // rows merged into the row before (detector/assemble.go), which lacked their values
	// Extremes counts samples scored 1 as new extremes (detector.Result.Extreme),
	// ExtremeAlerts the anomaly alerts one opened.
	Extremes, ExtremeAlerts uint64
	// Phased counts samples whose score is the reference's, read by the
	// phase of a cycle (detector.Result.Phased).
	Phased uint64
	// MovesByJumps are the channels (file columns) of a detector over
	// several that held levels exactly, moved only by jumps between them
	// and are not context channels (detector.Detector.MovesByJumps): a
	// valve's command or a setpoint that an operator or a controller sets
	// is better named as context.
	MovesByJumps []int
	// Counters counts the channels judged on their rises at the file's
	// end (detector.Detector.Counters): counters, wraps unwrapped.
	Counters int
	// DailyRepeats counts scores reaching the alert threshold shown as
	// repeats, having reached it at the same time of day before
	// (detector.Result.DailyRepeat).
	DailyRepeats uint64
	OutOfOrder   uint64
	// OutOfOrderRows is the most samples one detector (channel) dropped as
	// out of order: rows, where OutOfOrder counts them once per channel.
	OutOfOrderRows uint64
	TimeJumps      uint64 // samples dated far ahead of their series that the next showed to be clock glitches
	// Faults are the faults of the detectors' own code (detector.Fault;
	// FaultCount of them, a Push's silenced copy and the detector both
	// failing counting two), FaultRows the samples left unscored by them
	// (a bug in aewatch).
	Faults     []*detector.Fault
	FaultCount int
	FaultRows  uint64
	Gaps       uint64
	Alerts     int // anomaly alerts opened
	// DriftOpenings are the drift alerts opened (each channel's in row order).
	DriftOpenings []DriftOpening
	// Monitored counts samples, per channel, whose drift was tested (after
	// the reference was complete).
	Monitored int
	// FirstMonitored is the first row whose drift was tested (-1: none).
	FirstMonitored int
	Threshold      float64
}

// DriftOpening is a drift alert's opening: its row and, for the channel
// with the largest share, the estimated onset (Unix ns), the rate (units
// per hour) and what moved (level or spread).
type DriftOpening struct {
	Row       int
	Onset     int64
	Rate      float64
	Statistic string
}

// testHookDetectorBuilt, if set, sees each detector ScoreFile builds (the
// tests' way to make one fail: detector.FailAt).
var testHookDetectorBuilt func(*detector.Detector)

// ScoreFile runs fresh detectors over f: one per channel, or one for all
// channels when multivariate, applying verdicts (f's own) as the service
// would: before the first row at or after each one's Given time, to the
// channel named or else the first whose alert it names; with latent it
// keeps each row's bottleneck code.
func ScoreFile(f *sensorcsv.File, cfg detector.Config, multivariate, latent bool, verdicts ...Verdict) (*Scored, error) {
	n, c := len(f.Rows), len(f.Channels)
	s := &Scored{
		File: f, Score: make([]float64, n), RefScore: make([]float64, n), AlertScore: make([]float64, n), Alert: make([]bool, n), Error: make([]float64, n),
		Channel: make([][]float64, c), ChannelErr: make([][]float64, c),
		Drift: make([]float64, n), DriftAlert: make([]bool, n), Quality: make([]bool, n), Silenced: make([]bool, n), ChDrift: make([][]float64, c), Why: make([]string, n),
		Expected: make([][]float64, c), Lower: make([][]float64, c), Upper: make([][]float64, c),
		Threshold: cfg.Alert.Open, FirstMonitored: -1,
	}
	names := f.ChannelNames()
	if cfg.Denoise.Enabled {
		s.Denoised = make([][]float64, c)
		for j := range s.Denoised {
			s.Denoised[j] = make([]float64, n)
			for i := range s.Denoised[j] {
				s.Denoised[j][i] = math.NaN()
			}
		}
	}
	for j := range s.Channel {
		s.Channel[j] = make([]float64, n)
		s.ChannelErr[j] = make([]float64, n)
		s.ChDrift[j] = make([]float64, n)
		for _, col := range [][][]float64{s.Expected, s.Lower, s.Upper} {
			col[j] = make([]float64, n)
			for i := range col[j] {
				col[j][i] = math.NaN()
			}
		}
	}
	context := cfg.ContextFor(names)
	if context != nil && !slices.Contains(context, false) {
		return nil, fmt.Errorf("%s: detector.context names every channel (%s): nothing would be scored", f.Path, strings.Join(names, ", "))
	}
	if multivariate {
		// The detector's inputs are the channels sorted by name, as the
		// service lays a series' channels out (codec.Sample), so that
		// eval and a replay of the file agree bit for bit whatever the
		// columns' order; col maps them back.
		col := make([]int, c)
		for j := range col {
			col[j] = j
		}
		slices.SortStableFunc(col, func(a, b int) int { return strings.Compare(names[a], names[b]) })
		sorted, sortedContext := make([]string, c), []bool(nil)
		for p, j := range col {
			sorted[p] = names[j]
		}
		if context != nil {
			sortedContext = make([]bool, c)
			for p, j := range col {
				sortedContext[p] = context[j]
			}
		}
		d, err := detector.New(cfg, c)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Path, err)
		}
		if testHookDetectorBuilt != nil {
			testHookDetectorBuilt(d)
		}
		d.SetLimits(cfg.Quality.LimitsFor(f.Series(), sorted))
		d.SetContext(sortedContext)
		d.SetSilences(cfg.SilencesFor(f.Series()))
		code := s.codeOf(d, latent)
		fb := newVerdictFeed(verdicts)
		keep := func(results []detector.Result) {
			for _, r := range results {
				k := r.Seq
				s.keepCode(code, int(k), &r)
				s.Score[k], s.Alert[k], s.Error[k] = r.Score, r.Anomaly.Open, r.Error
				s.RefScore[k], s.AlertScore[k] = r.RefScore, r.AlertScore()
				s.Drift[k], s.DriftAlert[k], s.Quality[k], s.Silenced[k] = r.Drift, r.DriftAlert.Open, r.Quality.Open, r.Silenced
				for p, e := range r.ChannelError {
					j := col[p]
					s.Channel[j][k] = r.Score
					s.ChannelErr[j][k] = e
					s.ChDrift[j][k] = r.Drift
					s.Expected[j][k], s.Lower[j][k], s.Upper[j][k] = r.Expected[p], r.Lower[p], r.Upper[p]
				}
				s.count(r, sorted)
			}
			s.noteFaults(d)
			s.keepDenoised(d, col)
		}
		x := make([]float64, c)
		for i, t := range f.Times {
			fb.apply(s, i, t, d, sorted)
			for p, j := range col {
				x[p] = f.Values[i][j]
			}
			keep(d.Push(t, x))
		}
		keep(d.Flush())
		s.addStats(d)
		for p, b := range d.MovesByJumps() {
			if b {
				s.MovesByJumps = append(s.MovesByJumps, col[p])
			}
		}
		return s, nil
	}
	x := make([]float64, 1)
	fb := newVerdictFeed(verdicts)
	firstScored := max(0, slices.Index(context, false))
	// A row with no value at all is no message the service would be sent;
	// in the others, a channel's empty cell is that channel absent.
	rowHasValue := make([]bool, n)
	for i, row := range f.Values {
		rowHasValue[i] = slices.ContainsFunc(row, func(v float64) bool { return !math.IsNaN(v) })
	}
	for j := 0; j < c; j++ {
		if context != nil && context[j] {
			continue // an input alone: nothing to judge it against
		}
		d, err := detector.New(cfg, 1)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Path, err)
		}
		if testHookDetectorBuilt != nil {
			testHookDetectorBuilt(d)
		}
		d.SetLimits(cfg.Quality.LimitsFor(f.Series(), names[j:j+1]))
		d.SetSilences(cfg.SilencesFor(f.Series()))
		code := s.codeOf(d, latent)
		fb.next = 0
		only := []int{j}
		keep := func(results []detector.Result) {
			for _, r := range results {
				k := r.Seq
				s.keepCode(code, int(k), &r)
				s.Channel[j][k], s.ChannelErr[j][k], s.ChDrift[j][k] = r.Score, r.Error, r.Drift
				s.Expected[j][k], s.Lower[j][k], s.Upper[j][k] = r.Expected[0], r.Lower[0], r.Upper[0]
				if j == firstScored || r.Score > s.Score[k] {
					s.Score[k], s.Error[k] = r.Score, r.Error
				}
				s.Alert[k] = s.Alert[k] || r.Anomaly.Open
				s.RefScore[k] = max(s.RefScore[k], r.RefScore)
				s.AlertScore[k] = max(s.AlertScore[k], r.AlertScore())
				s.Drift[k] = max(s.Drift[k], r.Drift)
				s.DriftAlert[k] = s.DriftAlert[k] || r.DriftAlert.Open
				s.Quality[k] = s.Quality[k] || r.Quality.Open
				s.Silenced[k] = s.Silenced[k] || r.Silenced
				s.count(r, names[j:j+1])
			}
			s.noteFaults(d)
			s.keepDenoised(d, only)
		}
		for i, t := range f.Times {
			fb.apply(s, i, t, d, names[j:j+1])
			x[0] = f.Values[i][j]
			if math.IsNaN(x[0]) && rowHasValue[i] {
				keep(d.Absent(t))
				continue
			}
			keep(d.Push(t, x))
		}
		keep(d.Flush())
		s.addStats(d)
	}
	return s, nil
}

// keepDenoised stores the denoised values d's last Push gave, its channel
// p in column col[p].
func (s *Scored) keepDenoised(d *detector.Detector, col []int) {
	for _, o := range d.Denoised() {
		for p, v := range o.Values {
			s.Denoised[col[p]][o.Seq] = v
		}
	}
}

// codeOf adds a column block for detector d's codes (NaN until scored)
// and returns it; nil unless latent and d has a network.
func (s *Scored) codeOf(d *detector.Detector, latent bool) []float64 {
	k := d.MaxCodeLen()
	if k == 0 || !latent {
		return nil
	}
	s.CodeLen = k
	c := make([]float64, k*len(s.Score))
	for i := range c {
		c[i] = math.NaN()
	}
	s.Code = append(s.Code, c)
	return c
}

// keepCode records r's code at row k of block code.
func (s *Scored) keepCode(code []float64, k int, r *detector.Result) {
	if code != nil && r.Scored {
		copy(code[k*s.CodeLen:(k+1)*s.CodeLen], r.Code) // a smaller chosen bottleneck leaves the rest NaN
	}
}

// verdictFeed applies a file's verdicts in the order they were given.
type verdictFeed struct {
	vs      []Verdict
	next    int
	applied []bool // a verdict for any channel stops at the first that applies it
}

func newVerdictFeed(vs []Verdict) *verdictFeed {
	vs = slices.Clone(vs)
	for i := range vs {
		if vs[i].Given.IsZero() {
			vs[i].Given = vs[i].At
		}
	}
	slices.SortStableFunc(vs, func(a, b Verdict) int { return a.Given.Compare(b.Given) })
	return &verdictFeed{vs: vs, applied: make([]bool, len(vs))}
}

// apply gives d (of the channels names) the verdicts due
// before row i at time t and notes their outcome in the row's explanation.
func (fb *verdictFeed) apply(s *Scored, i int, t int64, d *detector.Detector, names []string) {
	for ; fb.next < len(fb.vs) && fb.vs[fb.next].Given.UnixNano() <= t; fb.next++ {
		v := fb.vs[fb.next]
		if fb.applied[fb.next] || (v.Channel != "" && !slices.Contains(names, v.Channel)) {
			continue
		}
		o := d.Feedback(v.At.UnixNano(), v.Verdict, t)
		if !o.Applied {
			continue
		}
		fb.applied[fb.next] = true
		if s.Why[i] != "" {
			s.Why[i] += "; "
		}
		s.Why[i] += fmt.Sprintf("feedback %s on the alert from %s", v.Verdict, time.Unix(0, o.Start).UTC().Format(time.RFC3339))
		if o.Tolerance > 0 {
			s.Why[i] += fmt.Sprintf(": %s tolerates %+.4g from its level (%d false-positive verdicts)", names[o.Channel], float64(o.Side)*o.Tolerance, o.Verdicts)
		}
	}
}

// noteFaults keeps the faults d met in its last Push or Flush.
func (s *Scored) noteFaults(d *detector.Detector) {
	if f, n := d.TakeFault(); n > 0 {
		s.Faults = append(s.Faults, f)
		s.FaultCount += n
	}
}

func (s *Scored) count(r detector.Result, names []string) {
	k := r.Seq
	switch r.Status {
	case window.Wild:
		s.Wild++
	case window.Ahead:
		s.TimeJumps++
	case window.Merged:
		s.Merged++
	case window.Failed:
		s.FaultRows++
	}
	if r.Missing != nil {
		s.FilledRows++
		masked := false
		for j, m := range r.Missing {
			held := r.Held != nil && r.Held[j]
			if m {
				s.Filled++
				masked = masked || !held
			}
			if held {
				s.Held++
			}
		}
		if masked {
			s.MaskedRows++
		}
	}
	if r.Extreme {
		s.Extremes++
	}
	if r.Phased {
		s.Phased++
	}
	if r.DailyRepeat {
		s.DailyRepeats++
	}
	if r.Anomaly.Event == detector.Opened {
		s.Alerts++
		if r.Extreme {
			s.ExtremeAlerts++
		}
	}
	if r.DriftAlert.Event == detector.Opened {
		w, top := r.DriftAlert.Why, 0
		for j := range w.Share {
			if w.Share[j] > w.Share[top] {
				top = j
			}
		}
		s.DriftOpenings = append(s.DriftOpenings, DriftOpening{Row: int(k), Onset: w.Onset, Rate: w.Rate[top], Statistic: w.Statistic})
	}
	if r.DriftReady {
		s.Monitored++
		if s.FirstMonitored < 0 || int(k) < s.FirstMonitored {
			s.FirstMonitored = int(k)
		}
	}
	add := func(kind string, o detector.Outcome) {
		if o.Event == detector.NoEvent {
			return
		}
		if s.Why[k] != "" {
			s.Why[k] += "; "
		}
		s.Why[k] += Explain(kind, o, names)
	}
	add("anomaly", r.Anomaly)
	add("drift", r.DriftAlert)
	add("quality", r.Quality)
}

// Departure renders a departure in sensor units with what it is measured
// from: "+1.2 from expected" (the model's expected value), "+1.2 from the
// reference", or for drift "level +1.2" and "spread +1.2".
func Departure(statistic string, v float64, format string) string {
	d := fmt.Sprintf(format, v)
	switch statistic {
	case "value":
		return d + " from expected"
	case "reference":
		return d + " from the reference"
	case detector.StatisticExtreme:
		return d + " beyond its running range"
	}
	return statistic + " " + d
}

// Explain renders an alert event in one line (commas only inside channel
// names; the CSV quotes such a cell), as eval's
// explanation column prints it.
func Explain(kind string, o detector.Outcome, channels []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", kind, o.Event)
	if o.Event == detector.Closed {
		fmt.Fprintf(&b, " after %s (peak %.3f)", time.Duration(o.Duration), o.Peak)
	}
	why := o.Why
	if why == nil {
		return b.String()
	}
	if why.Reason != "" {
		fmt.Fprintf(&b, " by %s", why.Reason)
	}
	if kind == "quality" {
		for j, name := range channels {
			switch f := why.Failed[j]; f {
			case "":
			case detector.Quantised:
				fmt.Fprintf(&b, ": %s quantised", name)
			case detector.Stuck, detector.Missing:
				fmt.Fprintf(&b, ": %s %s since %s", name, f, time.Unix(0, why.Onset).UTC().Format(time.RFC3339))
			default:
				fmt.Fprintf(&b, ": %s %s by %+.4g", name, f, why.Departure[j])
			}
		}
		return b.String()
	}
	if kind == "anomaly" && why.Tolerance != 0 && why.ToleranceChannel < len(channels) {
		fmt.Fprintf(&b, " beyond the %+.4g from its level %s tolerates after %d false-positive verdicts",
			why.Tolerance, channels[why.ToleranceChannel], why.Verdicts)
	}
	for j, name := range channels {
		if j >= len(why.Share) {
			break
		}
		fmt.Fprintf(&b, ": %s %s", name, Departure(why.Statistic, why.Departure[j], "%+.4g"))
		if len(channels) > 1 {
			fmt.Fprintf(&b, " share %.2f", why.Share[j])
		}
		if kind == "drift" {
			fmt.Fprintf(&b, " spread x%.2f", why.Spread[j])
			if why.Onset != 0 && why.Reason == "" {
				fmt.Fprintf(&b, " since %s rate %+.4g/h", time.Unix(0, why.Onset).UTC().Format(time.RFC3339), why.Rate[j])
			}
		}
	}
	return b.String()
}

func (s *Scored) addStats(d *detector.Detector) {
	if d.Config().Model.Bottleneck == "auto" {
		s.Bottlenecks = append(s.Bottlenecks, d.ChosenBottleneck())
	}
	s.HeldBytes = append(s.HeldBytes, d.MemoryBytes())
	for _, c := range d.Counters() {
		if c {
			s.Counters++
		}
	}
	st := d.WindowStats()
	s.NonFinite += st.NonFinite
	s.OutOfRange += st.OutOfRange
	s.OutOfOrder += st.OutOfOrder
	s.OutOfOrderRows = max(s.OutOfOrderRows, st.OutOfOrder)
	s.Gaps += st.Gaps
}

// WriteCSV writes the output: the input columns, anomaly_score, alert,
// error, threshold, reference_score, alert_score, drift_score, drift_alert, quality_alert,
// alert_kind (the kinds of alert open joined by "+": "", anomaly, drift,
// quality, anomaly+drift, ...), explanation (alert
// events at the row), silenced (1 in a maintenance window), then per channel score_<col>, error_<col> and
// drift_score_<col> when the file has more than one channel, and the
// expected value and its band: yhat, yhat_lower and yhat_upper (per channel
// yhat_<col>, yhat_lower_<col> and yhat_upper_<col> when more than one;
// empty before the row is scored, ±Inf where no value would reach the
// threshold); with codes, the bottleneck code z0, z1, ... (z0_<col>, ...
// with one detector per channel); with detector.denoise, denoised
// (denoised_<col> when more than one channel).
func (s *Scored) WriteCSV(buf *bufio.Writer) {
	f := s.File
	names := f.ChannelNames()
	header := append([]string(nil), f.Header...)
	header = append(header, "anomaly_score", "alert", "error", "threshold", "reference_score", "alert_score", "drift_score", "drift_alert", "quality_alert", "alert_kind", "explanation", "silenced")
	if len(names) > 1 {
		for _, prefix := range []string{"score_", "error_", "drift_score_", "yhat_", "yhat_lower_", "yhat_upper_"} {
			for _, n := range names {
				header = append(header, prefix+n)
			}
		}
	} else {
		header = append(header, "yhat", "yhat_lower", "yhat_upper")
	}
	if s.Code != nil {
		for b := range s.Code {
			for i := range s.CodeLen {
				h := "z" + strconv.Itoa(i)
				if len(s.Code) > 1 {
					h += "_" + names[b] // one detector per channel
				}
				header = append(header, h)
			}
		}
	}
	if s.Denoised != nil {
		if len(names) > 1 {
			for _, n := range names {
				header = append(header, "denoised_"+n)
			}
		} else {
			header = append(header, "denoised")
		}
	}
	sensorcsv.Join(buf, header)
	buf.WriteByte('\n')
	thr := sensorcsv.FormatFloat(s.Threshold)
	for i, row := range f.Rows {
		sensorcsv.Join(buf, row)
		alert := "0"
		if s.Alert[i] {
			alert = "1"
		}
		drift, quality := "0", "0"
		var kinds []string
		if s.Alert[i] {
			kinds = append(kinds, "anomaly")
		}
		if s.DriftAlert[i] {
			drift, kinds = "1", append(kinds, "drift")
		}
		if s.Quality[i] {
			quality, kinds = "1", append(kinds, "quality")
		}
		silenced := "0"
		if s.Silenced[i] {
			silenced = "1"
		}
		writeFloat(buf, s.Score[i])
		writeText(buf, alert)
		writeFloat(buf, s.Error[i])
		writeText(buf, thr)
		writeFloat(buf, s.RefScore[i])
		writeFloat(buf, s.AlertScore[i])
		writeFloat(buf, s.Drift[i])
		writeText(buf, drift)
		writeText(buf, quality)
		writeText(buf, strings.Join(kinds, "+"))
		writeText(buf, s.Why[i])
		writeText(buf, silenced)
		cols := [][][]float64{s.Expected, s.Lower, s.Upper}
		if len(names) > 1 {
			cols = [][][]float64{s.Channel, s.ChannelErr, s.ChDrift, s.Expected, s.Lower, s.Upper}
		}
		for _, col := range cols {
			for j := range names {
				writeCell(buf, col[j][i])
			}
		}
		if s.Code != nil {
			for _, code := range s.Code {
				for _, v := range code[i*s.CodeLen : (i+1)*s.CodeLen] {
					writeCell(buf, v)
				}
			}
		}
		for _, col := range s.Denoised {
			writeCell(buf, col[i])
		}
		buf.WriteByte('\n')
	}
}

// writeCell writes a comma and v, nothing for NaN (no value).
func writeCell(buf *bufio.Writer, v float64) {
	if math.IsNaN(v) {
		buf.WriteByte(',')
		return
	}
	writeFloat(buf, v)
}

// writeFloat writes a comma and v as sensorcsv.FormatFloat does, without a
// string in between (eval writes a dozen numbers a row).
func writeFloat(buf *bufio.Writer, v float64) {
	buf.WriteByte(',')
	buf.Write(strconv.AppendFloat(buf.AvailableBuffer(), v, 'g', -1, 64))
}

// writeText writes a comma and s, quoted if it must be (an explanation
// naming a channel with a comma in its name).
func writeText(buf *bufio.Writer, s string) {
	buf.WriteByte(',')
	sensorcsv.WriteField(buf, s)
}
