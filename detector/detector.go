package detector

import (
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/aewatch/aewatch/internal/detmath"
	"github.com/aewatch/aewatch/model"
	"github.com/aewatch/aewatch/window"
)

// Result is the outcome for one sample.
type Result struct {
	Seq    uint64        // position of the sample among all pushed to the detector
	Time   int64         // the sample's event time, Unix nanoseconds
	Status window.Status // Ready for scored samples
	// Values are the sample's raw values (aliases the detector's buffers or
	// the pushed slice; valid until the next Push).
	Values []float64
	Scored bool // false while the first window fills and for rejected samples
	// Error is the sample's mean squared error across channels, on the
	// normalised scale; ChannelError holds each channel's share (aliases the
	// detector's buffers, valid until the next Push).
	Error        float64
	ChannelError []float64
	// Expected is each channel's expected value of the sample in sensor
	// units (the autoencoder's prediction, or the control's), and Lower and
	// Upper the values at which the sample's Score would reach Threshold,
	// everything else equal (band.go; infinite where none would), on the
	// sample's own time scale: the coarse track is left out. They
	// alias the detector's buffers like ChannelError; NaN when not Scored.
	Expected, Lower, Upper []float64
	// Code is the adapting network's bottleneck code of the sample's
	// window (nil for the controls without a network, and when not
	// Scored); it aliases the detector's buffer, shared by a stride's
	// results.
	Code []float64
	// Bottleneck is the size model.bottleneck: auto chose, on the sample
	// at which it chose it; 0 on every other.
	Bottleneck int
	// CountersChanged: at this sample a channel was taken as a counter, or
	// one taken was found none, and the detector started afresh
	// (Detector.Counters says which are).
	CountersChanged bool
	Score           float64 // calibrated anomaly score in [0,1]
	// Evidence is the adapting model's evidence for the alert in [0,1]:
	// the same error as Score, its tail modelled from the series' own
	// peaks rather than a normal's.
	Evidence  float64
	RefScore  float64 // calibrated reference score in [0,1]
	Threshold float64 // the alert's open threshold
	// Extreme: Score and Evidence are 1 because a value left its running
	// extremes with a large error (detector.spatial_tolerance).
	Extreme bool
	// Phased: Score is the reference's, above the adapting model's, on a
	// series whose cycle the reference reads by phase
	// (detector.reference.season.score).
	Phased bool
	// DailyRepeat: Score reached alert.open but is shown as a repeat, the
	// score having reached it near the same time of day on enough of the
	// days before (detector.daily_repeat).
	DailyRepeat bool
	// Anomaly is the anomaly alert after this sample (it steps on
	// AlertScore); its Why explains the alert at its worst sample so far.
	Anomaly Outcome

	// Drift is the drift score in [0,1], 0 until the reference is complete;
	// DriftAlert is the drift alert. Drift results come with every accepted
	// sample, scored or not.
	Drift      float64
	DriftReady bool // the reference is complete and the sample was tested
	DriftAlert Outcome

	// Quality is the data-quality alert: stuck or flat-lined channels and
	// values beyond operator-set limits. Like drift, it comes with every
	// accepted sample.
	Quality Outcome

	// Silenced: the sample lies in a maintenance window; it was scored on
	// the window's copy of the detector and its outcomes carry no event.
	Silenced bool
	// Tolerated: the alert score was high, but its departure is of a kind
	// operators' false-positive verdicts taught to tolerate, so it counted
	// as normal for the alert.
	Tolerated bool
	// Missing marks the channels whose values the sample lacked (NaN),
	// filled from their newest values (missing.go); nil when none was.
	// It aliases the detector's buffers like ChannelError.
	Missing []bool
	// Held marks those of them held as a slower tag's newest reading
	// (scored and learnt from as data) rather than masked; nil when none.
	Held []bool
}

// AlertScore is the evidence the anomaly alert steps on: the larger of the
// adapting model's evidence and the reference score.
func (r *Result) AlertScore() float64 { return max(r.Evidence, r.RefScore) }

// Detector scores one series.
type Detector struct {
	cfg      Config
	channels int
	win      *window.Window
	norm     *window.Normaliser
	ae       *model.Autoencoder
	cal      *calibrator
	calWin   *calibrator // whole-window error, with WindowScore
	coarse   *coarse     // the coarse track; nil when disabled
	// winDecay is the whole-window error's weight from one position to the
	// one before it (WindowScoreHalfLife; 1: every position alike).
	winDecay float64
	// episodeEnd is one past the number of the last accepted sample whose
	// score reached Alert.Open (0: none yet), for EpisodeGap.
	episodeEnd uint64
	daily      *dailyRepeats // scores by time of day; nil when off
	alert      alertState
	drift      *driftMonitor   // nil when disabled
	ref        *reference      // nil when disabled
	quality    *qualityMonitor // nil when disabled
	den        *denoiser       // nil when disabled
	why        Explanation     // the open anomaly alert's worst sample
	fb         *feedback
	// silences are the series' maintenance windows; shadow is the copy of
	// the detector their samples are scored on while one lasts (nil
	// outside), shadowBuf its snapshot buffer.
	silences  []TimeRange
	shadow    *Detector
	shadowBuf []byte

	seq      uint64
	windows  uint64 // windows scored
	accepted int
	minVal   []float64 // running extremes per channel, raw units
	maxVal   []float64
	// wildRun counts the wild values in a row, wild marks the channels of
	// the last sample that were (see holdBackWild).
	wildRun int
	wild    []bool
	// ahead holds a sample dated far ahead of its series until the next
	// tells a gap from a clock glitch (window.Config.HoldAhead); released
	// keeps the held sample's results while the next is pushed; noHold
	// marks a maintenance window's copy, whose detector holds for it.
	ahead    heldAhead
	released []Result
	noHold   bool
	// assembled keeps a held row's results (assemble.go).
	assembled []Result
	// names are the channels' names (SetChannelNames; nil: not set).
	names []string
	// fault is the newest fault met (fault.go), untakenFaults how many
	// since TakeFault; faultPending is the samples waiting for the stride
	// as a call began.
	fault         *Fault
	untakenFaults int
	faultPending  []pendingSample
	failAt        int64 // FailAt's time (0: none)

	vec      []float64 // normalised window, Size×channels: borrowed while a window is scored (windowScratch)
	pending  []pendingSample
	results  []Result
	chErrBuf []float64 // Stride×channels
	bandBuf  []float64 // 3×Stride×channels: Expected, Lower, Upper
	code     []float64 // the last window's bottleneck code (nil without a network)
	// With model.bottleneck: auto, search holds the candidates until
	// warm-up ends (nil after), chosen the size then kept, and netCfg the
	// adapting network's configuration, to rebuild the chosen one.
	search *bottleneckSearch
	chosen int
	netCfg model.Config
	// The tail probability that scores Alert.Open, and the error
	// average's deviation with that tail (band.go).
	tailOpen, zOpen float64
	// context marks the context channels (SetContext; nil: none), scored
	// counts the others.
	context []bool
	scored  int
	driftX  []float64 // driftInputs' scratch
	// miss fills and masks missing values (nil with one channel).
	miss *missingValues
	// counters turns channels that count into their rises (counter.go).
	counters *counters
}

type pendingSample struct {
	seq  uint64
	time int64
}

// New returns a detector for series of the given number of channels.
func New(cfg Config, channels int) (*Detector, error) {
	if err := cfg.Validate(channels); err != nil {
		return nil, err
	}
	win, err := window.New(cfg.Window, channels)
	if err != nil {
		return nil, err
	}
	norm, err := window.NewNormaliser(cfg.Window, channels)
	if err != nil {
		return nil, err
	}
	floor := errorFloor
	if cfg.Kind == Range {
		floor = 0 // its error is a share of the span, not in normalised units
	}
	d := &Detector{
		cfg:      cfg,
		channels: channels,
		scored:   channels,
		win:      win,
		norm:     norm,
		cal:      newCalibrator(cfg.Calibration, floor),
		alert:    newAlertState(cfg.Alert),
		minVal:   make([]float64, channels),
		maxVal:   make([]float64, channels),
		wild:     make([]bool, channels),
		ahead:    heldAhead{x: make([]float64, channels)},
		pending:  make([]pendingSample, 0, cfg.Window.Stride),
		results:  make([]Result, cfg.Window.Stride),
		chErrBuf: make([]float64, cfg.Window.Stride*channels),
		bandBuf:  make([]float64, 3*cfg.Window.Stride*channels),
		drift:    newDriftMonitor(cfg.Drift, cfg.Window.Size, channels),
		quality:  newQualityMonitor(cfg.Quality, channels),
		why:      Explanation{Share: make([]float64, channels), Departure: make([]float64, channels), Statistic: "value"},
		fb:       newFeedback(cfg.Feedback, channels),
		den:      newDenoiser(cfg.Denoise, channels),
		miss:     newMissingValues(cfg.Window.Size, cfg.Window.Stride, channels),
		daily:    newDailyRepeats(cfg.DailyRepeat),
		counters: newCounters(channels, counterRing(cfg)),
	}
	d.tailOpen, d.zOpen = tailForScore(cfg.Alert.Open)
	if cfg.Calibration.Instant {
		d.cal.inst = newInstantTail()
	}
	d.cal.scoreTail = cfg.Calibration.ScoreTail
	if cfg.Kind == Autoencoder || cfg.Kind == Frozen {
		mc := cfg.Model.ForChannels(channels)
		if cfg.MaskNewest {
			mc.MaskTail = cfg.Window.Stride * channels
			if cfg.Residual {
				mc.TailSkip = channels
			}
		}
		d.netCfg = mc
		if mc.Bottleneck == "auto" {
			if err := d.startSearch(); err != nil {
				return nil, err
			}
		} else if d.ae, err = model.New(mc, cfg.Window.Size*channels, cfg.Seed); err != nil {
			return nil, err
		}
		d.code = make([]float64, len(d.ae.Code()))
		if cfg.WindowScore {
			d.calWin = newCalibrator(cfg.Calibration, errorFloor)
			d.winDecay = 1
			if hl := cfg.WindowScoreHalfLife; hl > 0 {
				d.winDecay = detmath.Exp(-math.Ln2 / hl)
			}
		}
	}
	if d.coarse, err = newCoarse(cfg.Coarse, cfg.Kind, channels, cfg.Model, cfg.Seed); err != nil {
		return nil, err
	}
	if cfg.Reference.Enabled {
		var mc *model.Config
		if cfg.Kind == Autoencoder || cfg.Kind == Frozen {
			m := cfg.Reference.network(cfg.Model, channels)
			mc = &m
		}
		if d.ref, err = newReference(cfg.Reference, cfg.Window, channels, mc, cfg.Seed, cfg.Kind == Autoencoder); err != nil {
			return nil, err
		}
	}
	for i := range d.results {
		r, b := &d.results[i], d.bandBuf[3*i*channels:]
		r.ChannelError = d.chErrBuf[i*channels : (i+1)*channels]
		r.Expected, r.Lower, r.Upper = b[:channels], b[channels:2*channels], b[2*channels:3*channels]
	}
	return d, nil
}

// MaxCodeLen is the longest Result.Code can be: the bottleneck's size (the
// largest candidate's with model.bottleneck: auto), 0 without a network.
func (d *Detector) MaxCodeLen() int {
	if d.netCfg.Bottleneck == "auto" {
		return d.netCfg.AutoMax
	}
	return len(d.code)
}

// Config returns the detector's configuration.
func (d *Detector) Config() Config { return d.cfg }

// Channels returns the number of values per sample.
func (d *Detector) Channels() int { return d.channels }

// LastTime is the time of the series' newest accepted sample: a later
// sample must come after it (out of order otherwise).
func (d *Detector) LastTime() int64 { return d.liveWindow().LastTime() }

// liveWindow is the window samples go to: while a maintenance window
// lasts, its copy's (the detector's own stops at the silence's start).
func (d *Detector) liveWindow() *window.Window {
	if d.shadow != nil {
		return d.shadow.win
	}
	return d.win
}

// WindowStats returns the window's counters (accepted, rejected, gaps).
func (d *Detector) WindowStats() window.Stats { return d.win.Stats() }

// Counters reports which channels are judged on their rises, as counters
// whose wraps and resets are unwrapped (counter.go). The slice is the
// detector's: read it, do not keep it.
func (d *Detector) Counters() []bool { return d.counters.counting }

// MovesByJumps reports which channels, context channels left out, held
// levels exactly and moved only by jumps between them over the reference
// period (a valve's command, a setpoint: an input to the process, maybe,
// better named as context); nil until the period is over, or without a
// reference.
func (d *Detector) MovesByJumps() []bool {
	if d.ref == nil || !d.ref.marg.settled {
		return nil
	}
	out := make([]bool, d.channels)
	for j, b := range d.ref.marg.byJumps {
		out[j] = b && !isContext(d.context, j)
	}
	return out
}

// SetLimits sets each channel's physical limits (QualityConfig.LimitsFor);
// they are not part of a snapshot, so changing them keeps a series' state.
// Without quality checks it does nothing.
func (d *Detector) SetLimits(lo, hi []float64) {
	if d.quality != nil {
		copy(d.quality.lo, lo)
		copy(d.quality.hi, hi)
	}
	if d.shadow != nil {
		d.shadow.SetLimits(lo, hi)
	}
}

// SetChannelNames records the channels' names, one per channel, in the
// snapshot (SnapshotChannelNames), so that a series whose messages may
// lack channels is restored with the channels it had. Scoring does not
// read them.
func (d *Detector) SetChannelNames(names []string) error {
	if len(names) != d.channels {
		return fmt.Errorf("detector: %d channel names for %d channels", len(names), d.channels)
	}
	d.names = slices.Clone(names)
	return nil
}

// SetContext marks the channels that are context (Config.ContextFor; nil:
// none), before the first sample and before a snapshot is restored. Like
// the limits it is not part of a snapshot: it follows the configuration
// (a snapshot taken with other context channels does not restore).
func (d *Detector) SetContext(mask []bool) {
	if !slices.Contains(mask, true) {
		mask = nil
	}
	d.context, d.scored = mask, scoredOf(d.channels, mask)
	if d.ref != nil {
		d.ref.setContext(mask)
	}
	if d.quality != nil {
		d.quality.context = mask
	}
	if d.drift != nil {
		d.drift.context = mask
	}
	if d.coarse != nil {
		d.coarse.context = mask
	}
	if d.shadow != nil {
		d.shadow.SetContext(mask)
	}
}

// isContext reports whether mask (Detector.context) marks channel j.
func isContext(mask []bool, j int) bool { return mask != nil && mask[j] }

// scoredOf is how many of c channels mask does not mark as context.
func scoredOf(c int, mask []bool) int {
	for _, on := range mask {
		if on {
			c--
		}
	}
	return c
}

// QualityOpen reports whether a quality alert is open.
func (d *Detector) QualityOpen() bool { return d.quality != nil && d.quality.open }

// AlertOpen reports whether an anomaly alert is open.
func (d *Detector) AlertOpen() bool { return d.alert.open }

// Warming reports whether the detector is still in its warm-up (at most
// Config.Warmup samples accepted) with no alert of any kind open: what it
// has written so far are scores of 0, so a detector started afresh in its
// place (over more channels) loses nothing an operator has seen.
func (d *Detector) Warming() bool {
	return d.accepted <= d.cfg.Warmup && !d.AlertOpen() && !d.QualityOpen() && !d.DriftOpen()
}

// DriftOpen reports whether a drift alert is open.
func (d *Detector) DriftOpen() bool { return d.drift != nil && d.drift.alert.open }

// Rebaseline accepts the series' current behaviour as its new normal: from
// the next accepted sample on, the drift monitor takes a new reference over
// detector.drift.reference samples, and an open drift alert closes with
// reason "rebaseline"; the reference model starts a new reference period
// at once, so a sustained anomaly alert closes too. It reports false when
// neither drift monitoring nor the reference model is enabled.
func (d *Detector) Rebaseline() bool {
	if d.drift != nil {
		d.drift.rebaseline = true
	}
	if d.ref != nil {
		d.ref.restart()
	}
	if d.quality != nil {
		d.quality.restart()
	}
	return d.drift != nil || d.ref != nil
}

// Absent tells a one-channel detector that its series' sample at time t
// lacks its channel: the series sends several, each with a detector of its
// own, and this one's stopped coming (a transmitter that died while its
// gateway sends the others). The quality check missing counts such samples
// as it counts a multivariate series' filled values. A sample held as
// dated ahead is settled first, as the next sample would settle it: t
// says whether the series moved on. The result is unscored
// (window.Absent) and carries the quality alert's outcome; during a
// maintenance window, and on a detector of several channels, the sample is
// only numbered.
func (d *Detector) Absent(t int64) (res []Result) {
	defer d.recoverFault(d.owing(), t, true, &res)
	if d.den != nil {
		d.den.out = d.den.out[:0]
	}
	var settled []Result
	if d.ahead.held {
		settled = d.settleAhead(t < d.ahead.t && t > d.LastTime())
	}
	seq := d.seq
	d.seq++
	if d.shadow != nil {
		d.shadow.seq++ // the maintenance window's copy numbers its samples as d does
	}
	x := absentValue[:]
	if d.channels != 1 {
		x = make([]float64, d.channels)
		for j := range x {
			x[j] = math.NaN()
		}
	}
	res = d.unscored(seq, t, window.Absent, x)
	if d.quality != nil && d.channels == 1 && !d.silenced(t) {
		res[0].Quality = d.quality.absent(t, d.LastTime())
	}
	if settled == nil {
		return res
	}
	return append(settled, res...)
}

// LetGo is an operator's re-baseline of a one-channel detector whose
// channel the quality check calls missing: the transmitter is gone, and
// its absence is the new normal. Every open alert closes at t with reason
// rebaseline (as CloseAlerts closes them), and the samples that lack the
// channel count no more until a value of it comes; a later gap counts
// afresh. It reports false, changing nothing, if the channel is not
// missing.
func (d *Detector) LetGo(t int64) (Result, bool) {
	if d.channels != 1 || d.quality == nil || !d.quality.missing(0) {
		return Result{}, false
	}
	r, _ := d.CloseAlerts(t)
	d.quality.gapRun[0], d.quality.released = 0, true
	return r, true
}

// absentValue is an absent sample's value in its result (read only).
var absentValue = [1]float64{math.NaN()}

// MissingChannels marks the channels the quality check now calls missing
// (QualityConfig.MissingSamples); nil when it calls none so.
func (d *Detector) MissingChannels() []bool {
	if d.quality == nil {
		return nil
	}
	var dead []bool
	for j := range d.quality.gapRun {
		if d.quality.missing(j) {
			if dead == nil {
				dead = make([]bool, len(d.quality.gapRun))
			}
			dead[j] = true
		}
	}
	return dead
}

// CloseAlerts closes every alert open on d at time t with reason
// ReasonRebaseline and returns the closings as one unscored result at t
// (closed false: none was open). An operator's re-baseline that puts a
// detector over other channels in d's place calls it: d's open alerts
// would otherwise never close. d is not pushed after it.
func (d *Detector) CloseAlerts(t int64) (r Result, closed bool) {
	r.Seq, r.Time, r.Status = d.seq, t, window.Ready
	if d.alert.open {
		d.why.Reason = ReasonRebaseline
		r.Anomaly = Outcome{Event: Closed, Peak: d.alert.peak, Duration: t - d.alert.openedAt, Why: &d.why}
		d.alert.open, closed = false, true
	}
	if d.DriftOpen() {
		o := d.drift.closeNow(t, ReasonRebaseline)
		r.DriftAlert = Outcome{Event: Closed, Peak: o.peak, Duration: o.duration, Why: o.why}
		closed = true
	}
	if d.QualityOpen() {
		why := d.quality.explain(d.win.Newest(0))
		why.Reason = ReasonRebaseline
		r.Quality = Outcome{Event: Closed, Peak: 1, Duration: t - d.quality.openedAt, Why: why}
		d.quality.open, closed = false, true
	}
	return r, closed
}

// Push feeds one sample (one value per channel; copied) at event time t and
// returns the results it completes: one for a rejected sample or one still
// filling the first window, Stride results when it completes a window, none
// when it waits for the stride or holds a sample dated far ahead or a row
// lacking values (whose results come with the next sample's, before them,
// or from Flush). The slice is valid until the next Push.
func (d *Detector) Push(t int64, x []float64) (res []Result) {
	defer d.recoverFault(d.owing(), t, true, &res)
	if d.failAt != 0 && t >= d.failAt {
		panic(fmt.Sprintf("detector: the failure FailAt(%d) asked for", d.failAt))
	}
	if d.den != nil {
		d.den.out = d.den.out[:0]
	}
	if d.miss != nil && !d.noHold { // a maintenance window's copy gets its rows assembled
		return d.assemble(t, x)
	}
	return d.pushTimed(t, x)
}

// pushTimed is Push once a row is whole or goes in as it is: it holds a
// sample dated far ahead.
func (d *Detector) pushTimed(t int64, x []float64) []Result {
	if d.ahead.held {
		return d.resolveAhead(t, x)
	}
	if d.jumpsAhead(t) {
		d.ahead.held, d.ahead.t = true, t
		copy(d.ahead.x, x)
		return nil
	}
	return d.push(t, x)
}

// heldAhead is a sample dated far ahead of its series, held.
type heldAhead struct {
	held   bool
	t      int64
	x      []float64
	merged int // messages merged into it as a row, whose results follow its own
}

// jumpsAhead reports whether a sample at t lies more than HoldAhead
// typical steps after the series' newest.
func (d *Detector) jumpsAhead(t int64) bool {
	w := d.liveWindow()
	f, step := d.cfg.Window.HoldAhead, w.TypicalStep()
	return f > 0 && step > 0 && !d.noHold && float64(t-w.LastTime()) > float64(f*step)
}

// resolveAhead settles the held sample with the next, at t: a sample at or
// after it says the series moved on, and the held one goes in as it came
// (so it does when the next is out of order anyway); one strictly between
// the series' newest and it says it was dated ahead, and it is dropped
// (Ahead). Then the next sample is pushed.
func (d *Detector) resolveAhead(t int64, x []float64) []Result {
	first := d.settleAhead(t < d.ahead.t && t > d.LastTime())
	return append(first, d.pushTimed(t, x)...)
}

// settleAhead returns (copied) the results of the sample held as dated
// ahead, pushed or, if dropped, as Ahead, then a Merged one for each
// message merged into it as a row (releaseRow), after it as they came.
func (d *Detector) settleAhead(dropped bool) []Result {
	d.ahead.held = false
	// The push may start the detector afresh (restartFor), with an ahead
	// of its own: the held sample's merged messages are this one's.
	held := d.ahead
	d.ahead.merged = 0
	var first []Result
	if dropped {
		first = d.unscored(d.seq, held.t, window.Ahead, held.x)
		d.seq++
	} else {
		first = d.push(held.t, held.x)
	}
	d.released = d.released[:0]
	for _, r := range first {
		d.released = append(d.released, r.clone())
	}
	for range held.merged {
		r := d.unscored(d.seq, held.t, window.Merged, held.x)
		d.seq++
		d.released = append(d.released, r[0].clone())
	}
	return d.released
}

// Denoised returns the denoised values the last Push or Flush completed
// (detector.denoise: each sample's, denoise.delay accepted samples after
// it; none while the denoiser learns, in maintenance windows, or when
// disabled). The slice and its values are valid until the next Push.
func (d *Detector) Denoised() []DenoisedSample {
	if d.den == nil {
		return nil
	}
	return d.den.out
}

// stateSplit returns the value between channel j's two states, ok false
// if it has none or neither the reference period nor the drift monitor's
// has decided yet.
func (d *Detector) stateSplit(j int) (split float64, ok bool) {
	var m *marginal
	switch {
	case d.ref != nil && d.ref.scoring().marg.settled:
		m = d.ref.scoring().marg
	case d.drift != nil && d.drift.states != nil && d.drift.states.settled:
		m = d.drift.states
	default:
		return 0, false
	}
	return m.split[j], m.modal[j]
}

// Holds reports whether a sample waits for the next: one dated far ahead,
// or a row lacking values (assemble.go).
func (d *Detector) Holds() bool { return d.ahead.held || (d.miss != nil && d.miss.row.held) }

// Flush returns the results of the samples still held, a row lacking
// values and one dated ahead, as if the series had moved on after them
// (the end of a file), and nil if none is.
func (d *Detector) Flush() (res []Result) {
	defer d.recoverFault(d.owing(), d.LastTime(), false, &res)
	if d.den != nil {
		d.den.out = d.den.out[:0]
	}
	var first []Result
	if d.miss != nil && d.miss.row.held {
		first = d.releaseRow(d.ahead.held)
	}
	if !d.ahead.held {
		return first
	}
	return append(first, d.settleAhead(false)...)
}

// clone returns r with its slices and explanations copied: the detector
// reuses them for the next sample.
func (r Result) clone() Result {
	r.Values = slices.Clone(r.Values)
	r.ChannelError = slices.Clone(r.ChannelError)
	r.Expected, r.Lower, r.Upper = slices.Clone(r.Expected), slices.Clone(r.Lower), slices.Clone(r.Upper)
	r.Code = slices.Clone(r.Code)
	r.Missing, r.Held = slices.Clone(r.Missing), slices.Clone(r.Held)
	for _, o := range []*Outcome{&r.Anomaly, &r.DriftAlert, &r.Quality} {
		if o.Why != nil {
			w := *o.Why
			w.Share, w.Departure, w.Spread, w.Rate = slices.Clone(w.Share), slices.Clone(w.Departure), slices.Clone(w.Spread), slices.Clone(w.Rate)
			w.Failed = slices.Clone(w.Failed)
			o.Why = &w
		}
	}
	return r
}

// push is Push without the hold of samples dated ahead: it gives pushRow
// each counter's rises (counter.go) and its results the counters' values.
func (d *Detector) push(t int64, x []float64) []Result {
	if len(d.silences) > 0 {
		if d.silenced(t) {
			return d.pushSilenced(t, x)
		}
		d.shadow = nil
	}
	y := d.counters.risesOf(d.seq, t, d.liveWindow().TypicalStep(), x)
	if !d.counters.active() {
		return d.pushRow(t, y)
	}
	var owed []Result
	if d.counters.restart {
		owed = d.restartFor() // never nil
	}
	denoised := 0
	if d.den != nil {
		denoised = len(d.den.out)
	}
	res := d.pushRow(t, y)
	d.counters.shownValues(res)
	if d.den != nil {
		d.counters.shownDenoised(d.den.out[denoised:])
	}
	if owed == nil {
		return res
	}
	for i := range res { // a fresh detector's first sample has its result at once
		res[i].CountersChanged = true
	}
	return append(owed, res...)
}

// pushRow is push on the row the detector sees.
func (d *Detector) pushRow(t int64, x []float64) []Result {
	seq := d.seq
	d.seq++
	x = d.miss.fill(x, d.win)
	if d.holdBackWild(x) {
		return d.heldBack(seq, t, x)
	}
	st := d.win.Push(t, x)
	switch st {
	case window.NonFinite, window.OutOfRange, window.OutOfOrder:
		return d.unscored(seq, t, st, x)
	}
	d.accepted++
	d.miss.accept(d.accepted)
	masked := d.miss.windowMasked()
	if d.ref != nil {
		d.ref.missing = masked
		d.ref.observe(t, x, d.alert.open)
	}
	if d.den != nil {
		d.den.observe(seq, t, x, d.stateSplit, masked == nil)
	}
	d.pending = append(d.pending, pendingSample{seq, t})
	if st == window.Filling && !d.win.Full() {
		d.observe(x, masked == nil)
		d.pending = d.pending[:0]
		res := d.unscored(seq, t, st, x)
		res[0].Missing, res[0].Held = d.miss.filledAt(d.accepted), d.miss.heldAt(d.accepted)
		d.pushMonitors(&res[0], t, x, -1)
		return res
	}
	if st == window.Filling {
		return nil // full, waiting for the stride
	}
	return d.scoreWindow()
}

// holdBackWild reports whether x holds a wild value (window.Normaliser's
// IsWild: a glitch such as a register read as 1e10) to hold back from
// every model. Stored, it would sit in the windows the networks, the
// calibrations, the reference's tails and the seasonal context learn
// from (while the models learn, in the normalisers' moments too): one
// glitch in a seasonal signal after its learning left a step 1,000
// samples later unalerted. A held-back sample is a data-quality event
// (Glitch). A run of WildRun wild values is a change of level (a motor
// starting): its third and later values go in. If fewer samples than a
// run went in before it, they were the odd ones (a glitch as a series'
// first sample): the detector starts afresh. It marks the wild channels
// in d.wild.
func (d *Detector) holdBackWild(x []float64) bool {
	any := false
	for j, v := range x {
		d.wild[j] = math.Abs(v) <= d.cfg.Window.MaxAbs && d.norm.IsWild(j, v) // NaN and beyond max_abs: the window's
		any = any || d.wild[j]
	}
	if !any {
		d.wildRun = 0
		return false
	}
	d.wildRun++
	if d.wildRun < window.WildRun {
		return true
	}
	if d.accepted < window.WildRun {
		d.startAfresh()
	}
	return false
}

// heldBack returns the result of a sample held back as wild: unscored, a
// quality event.
func (d *Detector) heldBack(seq uint64, t int64, x []float64) []Result {
	res := d.unscored(seq, t, window.Wild, x)
	if d.quality != nil {
		res[0].Quality = d.quality.glitch(t, x, d.wild, d.norm.Mean)
	}
	return res
}

// startAfresh makes d a new detector of its configuration that has seen
// nothing, keeping what is not learnt from samples: the sequence, the
// window's counts and last time, operators' limits, maintenance windows
// and verdicts.
func (d *Detector) startAfresh() {
	fresh, err := New(d.cfg, d.channels)
	if err != nil {
		return // cannot happen: d was built from the same configuration
	}
	fresh.seq, fresh.win = d.seq, d.win
	fresh.win.Restart()
	fresh.SetContext(d.context)
	fresh.silences, fresh.shadow, fresh.shadowBuf, fresh.fb, fresh.noHold, fresh.names = d.silences, d.shadow, d.shadowBuf, d.fb, d.noHold, d.names
	if d.quality != nil {
		copy(fresh.quality.lo, d.quality.lo)
		copy(fresh.quality.hi, d.quality.hi)
	}
	*d = *fresh
}

func (d *Detector) unscored(seq uint64, t int64, st window.Status, x []float64) []Result {
	r := &d.results[0]
	ch, ex, lo, hi := r.ChannelError, r.Expected, r.Lower, r.Upper
	clear(ch)
	for j := range ex {
		ex[j], lo[j], hi[j] = math.NaN(), math.NaN(), math.NaN()
	}
	*r = Result{Seq: seq, Time: t, Status: st, Values: x, ChannelError: ch, Expected: ex, Lower: lo, Upper: hi, Threshold: d.cfg.Alert.Open,
		Anomaly: Outcome{Open: d.alert.open}, DriftAlert: Outcome{Open: d.DriftOpen()}, Quality: Outcome{Open: d.QualityOpen()}}
	return d.results[:1]
}

// pushMonitors feeds an accepted sample to the quality checks and the
// drift monitor and records their outcomes in r.
func (d *Detector) pushMonitors(r *Result, t int64, x []float64, p int) {
	if d.quality != nil {
		q := x
		if d.counters.active() { // the limits are in the channel's own values
			q = d.counters.rawScratch(r.Seq, x)
		}
		r.Quality = d.quality.push(t, q, r.Missing, r.Held)
	}
	if d.drift == nil {
		return
	}
	skip := r.Missing
	if d.counters.active() {
		skip = d.counters.still(x, skip)
	}
	o := d.drift.push(t, d.driftInputs(x, p), r.Anomaly.Open, r.Quality.Open, skip)
	r.Drift = o.score
	r.DriftAlert = Outcome{Open: d.drift.alert.open, Event: o.event, Peak: o.peak, Duration: o.duration, Why: o.why}
	r.DriftReady = d.drift.n > d.drift.cfg.Reference
}

// driftInputs is what the drift monitor reads of sample x, at window
// position p (-1 before the window is full): where the relation learns on
// after the period, a channel it judges as its level at the relation's fit
// plus its residual, so that it drifts only against its inputs (a process
// value moving with its setpoint, or with a load that drives its peers,
// does not); x itself otherwise. The first sample after a channel is
// related starts the drift reference again.
func (d *Detector) driftInputs(x []float64, p int) []float64 {
	ref := d.ref
	if p < 0 || ref == nil || ref.rel == nil || !ref.rel.rolling || !ref.relMeasured {
		return x
	}
	rel := ref.rel
	d.driftX = append(d.driftX[:0], x...)
	for j, on := range rel.related {
		if !on || isContext(d.context, j) {
			continue
		}
		d.driftX[j] = rel.level[j] + rel.residual(j, p)
		if rel.switched[j] {
			rel.switched[j] = false
			d.drift.rebase(j, d.driftX[j])
		}
	}
	return d.driftX
}

// explainAnomaly records the channel shares and departures (value minus
// the source's expected value, in sensor units) of r, a scored sample.
func (d *Detector) explainAnomaly(r *Result) {
	var total float64
	for j, e := range r.ChannelError {
		d.why.Share[j] = e
		total += e
		d.why.Departure[j] = r.Values[j] - r.Expected[j]
	}
	d.why.Statistic = "value"
	normaliseShares(d.why.Share, total)
}

// expected is channel j's expected value, in sensor units, of the k-th of
// n new samples (x) at window position p: the network's reconstruction,
// the previous sample (persistence) or the value held within the running
// extremes (range).
func (d *Detector) expected(recon []float64, p, k, n int, x []float64, j int) float64 {
	switch d.cfg.Kind {
	case Autoencoder, Frozen:
		return float64(recon[p*d.channels+j]*d.norm.Std(j)) + d.norm.Mean(j)
	case Persistence:
		return d.win.Newest(n - k)[j]
	}
	return d.inRange(j, x[j])
}

// prediction is channel j's expected value at window position p,
// normalised, and the variance about it (the variational variant's
// spread over its draws); ok is false for the range control, which
// predicts nothing (its error is a departure from the running extremes).
func (d *Detector) prediction(recon, reconVar []float64, p, j int) (pred, spread float64, ok bool) {
	i := p*d.channels + j
	switch d.cfg.Kind {
	case Autoencoder, Frozen:
		if reconVar != nil {
			spread = reconVar[i]
		}
		return recon[i], spread, true
	case Persistence:
		return d.vec[i-d.channels], 0, true
	}
	return 0, 0, false
}

// observe folds an accepted sample into the extremes and, unless it was
// judged anomalous, into the normaliser.
func (d *Detector) observe(x []float64, normal bool) {
	if normal {
		d.norm.Observe(x)
	}
	if d.accepted == 1 {
		copy(d.minVal, x)
		copy(d.maxVal, x)
		return
	}
	for j, v := range x {
		d.minVal[j] = math.Min(d.minVal[j], v)
		d.maxVal[j] = math.Max(d.maxVal[j], v)
	}
}

// shown is the score Result.Score reports for the accepted sample
// numbered n: lowered to repeatScore where it repeats an episode
// (EpisodeGap). Accepted samples, not sequence numbers, measure the gap:
// rejected samples and messages merged into a row are no samples of the
// series' own time scale.
func (d *Detector) shown(score float64, n uint64) float64 {
	if d.cfg.EpisodeGap == 0 || score < d.cfg.Alert.Open {
		return score
	}
	repeat := d.inEpisode(n)
	d.episodeEnd = n + 1
	if repeat {
		return min(score, repeatScore)
	}
	return score
}

// repeatsDaily notes a score reported at time t and returns what to show in
// place of shown: a repeat's score where one reaching Alert.Open recurs at
// this time of day (detector.daily_repeat), and whether it does.
func (d *Detector) repeatsDaily(t int64, reported, shown float64) (float64, bool) {
	b := binOf(t)
	d.daily.advance(b)
	recurs := shown >= d.cfg.Alert.Open && d.daily.recurs(b)
	if reported >= d.cfg.Alert.Open {
		d.daily.mark(b)
	}
	if recurs {
		return repeatScore, true
	}
	return shown, false
}

// inEpisode reports whether a score reaching Alert.Open on the accepted
// sample numbered n would repeat the last episode's (EpisodeGap).
func (d *Detector) inEpisode(n uint64) bool {
	return d.episodeEnd > 0 && n < d.episodeEnd+uint64(d.cfg.EpisodeGap)
}

// windowError is the mean squared reconstruction error over the window
// positions in vec (c values each, oldest first), weighted by decay per
// position back from the newest, which weighs 1. reconVar, if not nil,
// adds the variational variant's expected squared error. Context channels
// (isContext) are left out.
func windowError(recon, reconVar, vec []float64, c int, decay float64, context []bool) float64 {
	var sse, weights float64
	w := 1.0
	scored := scoredOf(c, context)
	for p := len(vec)/c - 1; p >= 0; p-- {
		for i := p * c; i < (p+1)*c; i++ {
			if isContext(context, i-p*c) {
				continue
			}
			diff := recon[i] - vec[i]
			e := float64(diff * diff)
			if i < len(reconVar) {
				e += reconVar[i]
			}
			sse += float64(w * e)
		}
		weights += w
		w = float64(w * decay)
	}
	return sse / float64(weights*float64(scored))
}

// windowScratch lends scoreWindow the normalised window: it is filled and
// used up within one window's scoring, so a detector need not hold one
// between windows (a goroutine holds one while it scores).
var windowScratch sync.Pool

func (d *Detector) scoreWindow() []Result {
	buf, _ := windowScratch.Get().(*[]float64)
	if buf == nil {
		buf = new([]float64)
	}
	if n := d.vecLen(); cap(*buf) < n {
		*buf = make([]float64, n)
	}
	d.vec = (*buf)[:d.vecLen()]
	defer func() {
		d.vec = nil
		windowScratch.Put(buf)
	}()
	return d.scoreWindowInto()
}

// vecLen is the normalised window's length: Size×channels.
func (d *Detector) vecLen() int { return d.cfg.Window.Size * d.channels }

func (d *Detector) scoreWindowInto() []Result {
	c, size := d.channels, d.cfg.Window.Size
	n := len(d.pending)
	d.win.Values(d.vec, d.norm)
	var recon, reconVar []float64
	if d.ae != nil {
		recon = d.ae.Reconstruct(d.vec)
		reconVar = d.ae.ReconVar() // nil but for the variational variant
		copy(d.code, d.ae.Code())
	}
	// Channels with a filled value in the window are left out of the
	// errors (missing.go), as context channels are.
	errMask, scored := d.miss.errorMask(d.context, d.scored)
	partial := d.miss.windowMasked() != nil
	winScore, winEvidence := 0.0, 0.0
	if d.calWin != nil && scored > 0 {
		visible := len(d.vec)
		if d.cfg.MaskNewest {
			visible -= n * c
		}
		winScore, winEvidence = d.calWin.update(d.calWin.scale(windowError(recon, reconVar, d.vec[:visible], c, d.winDecay, errMask)))
	}
	refScore, phased := 0.0, false
	if d.ref != nil {
		refScore = d.ref.score(d.win, d.alert.open)
		phased = d.cfg.Reference.Season.Score && d.ref.phased()
	}
	worst := 0.0
	for k := 0; k < n; k++ {
		p := size - n + k // position of the k-th new sample in the window
		r := &d.results[k]
		ch := r.ChannelError
		x := d.win.Newest(n - 1 - k)
		var sum float64
		for j := 0; j < c; j++ {
			var e float64
			if pred, spread, ok := d.prediction(recon, reconVar, p, j); ok {
				diff := pred - d.vec[p*c+j]
				e = float64(diff*diff) + spread
			} else {
				e = d.rangeDeparture(j, x[j])
			}
			if isContext(errMask, j) && !isContext(d.context, j) {
				e = 0 // masked: not judged
			}
			ch[j] = e
			if !isContext(errMask, j) {
				sum += e
			}
		}
		e := sum / float64(max(scored, 1))
		warm := d.accepted-(n-1-k) > d.cfg.Warmup
		eHi := d.cal.errorReaching(d.tailOpen, d.zOpen)
		for j := 0; j < c; j++ {
			pred, spread, _ := d.prediction(recon, reconVar, p, j)
			others := sum
			if !isContext(errMask, j) {
				others -= ch[j]
			}
			d.band(r, j, d.expected(recon, p, k, n, x, j), pred, eHi, others+spread, winScore >= d.cfg.Alert.Open, warm)
		}
		raw := d.cal.scale(e)
		score, evidence := d.cal.update(raw)
		score, evidence = max(score, winScore), max(evidence, winEvidence)
		if d.coarse != nil {
			learn := d.cfg.Kind == Autoencoder && !d.alert.open && !d.QualityOpen() && !partial
			if cs, ok := d.coarse.push(d.vec[p*c:(p+1)*c], learn, d.cfg.LearnBelow); ok {
				score = max(score, cs)
			}
		}
		extreme := warm && d.newExtreme(x, errMask, raw)
		if extreme {
			score, evidence = 1, 1
		}
		if !warm {
			score, evidence = 0, 0
		}
		// Reported only: the adapting network learns by its own score.
		reported, byPhase := score, phased && refScore > score
		if byPhase {
			reported = refScore
		}
		ps := d.pending[k]
		shown := d.shown(reported, uint64(d.accepted-(n-1-k)))
		recurring := false
		if d.daily != nil && warm {
			shown, recurring = d.repeatsDaily(ps.time, reported, shown)
		}
		*r = Result{Seq: ps.seq, Time: ps.time, Status: window.Ready, Values: x, Scored: true, Error: e,
			ChannelError: ch, Expected: r.Expected, Lower: r.Lower, Upper: r.Upper, Code: d.code, Score: shown, Evidence: evidence, RefScore: refScore, Threshold: d.cfg.Alert.Open,
			Missing: d.miss.filledAt(d.accepted - (n - 1 - k)), Held: d.miss.heldAt(d.accepted - (n - 1 - k)), Extreme: extreme, Phased: byPhase, DailyRepeat: recurring}
		if warm {
			openedAt, wasOpen, peak := d.alert.openedAt, d.alert.open, d.alert.peak
			a := &r.Anomaly
			stepScore := r.AlertScore()
			var top int
			var dep float64
			// The departure's channel and side: for a tolerance to judge,
			// and for an alert about to open.
			if d.fb.any && stepScore >= d.cfg.Alert.Close || !d.alert.open && stepScore >= d.cfg.Alert.Open {
				top = d.dominant(refScore > evidence, ch)
				dep = x[top] - d.level(top)
				if d.fb.tolerates(top, dep, ps.time) {
					stepScore, r.Tolerated = 0, true
				}
			}
			if d.alert.open && d.missingHeld() {
				// Its channel is not judged while missing: the alert's end
				// cannot be told, so it stays open.
				stepScore = max(stepScore, d.cfg.Alert.Close)
			}
			a.Event = d.alert.step(stepScore, ps.time)
			if a.Event == Opened || (wasOpen && d.alert.open && stepScore > peak) {
				switch {
				case extreme:
					d.explainExtreme(x, errMask)
				case refScore > evidence:
					d.ref.scoring().explain(&d.why, p, x)
				default:
					d.explainAnomaly(r)
				}
			}
			switch {
			case a.Event == Opened:
				d.why.Reason = ""
				d.fb.opened(ps.time, top, dep)
				d.why.Tolerance, d.why.ToleranceChannel, d.why.Verdicts = d.fb.noteFor(top, dep, ps.time)
			case d.alert.open:
				if j := d.fb.openChannel(); j >= 0 {
					d.fb.during(x[j] - d.level(j))
				}
			case a.Event == Closed:
				d.fb.closed(ps.time, d.toleranceBound)
			}
			if a.Event == Closed && wasOpen {
				a.Peak, a.Duration = d.alert.peak, ps.time-openedAt
				if d.ref != nil && d.ref.scoring().holdLimitReached() {
					d.why.Reason = ReasonHoldLimit
				}
			}
			if a.Event != NoEvent {
				a.Why = &d.why
			}
		}
		r.Anomaly.Open = d.alert.open
		d.pushMonitors(r, ps.time, x, p)
		worst = max(worst, score)
		d.observe(x, score < d.cfg.LearnBelow && !d.QualityOpen() && !partial)
	}
	d.pending = d.pending[:0]
	d.windows++
	if d.ref != nil {
		d.ref.update(refScore < d.cfg.LearnBelow && !d.alert.open && !d.QualityOpen() && !partial, d.alert.open, d.win.Newest(0))
	}
	learn := d.cfg.Kind == Autoencoder && worst < d.cfg.LearnBelow && !d.QualityOpen() && !partial && d.windows%uint64(d.cfg.LearnEvery) == 0
	switch {
	case d.search != nil:
		d.search.step(d.vec, learn, d.accepted > d.netCfg.AutoSamples/2)
		if d.accepted >= d.netCfg.AutoSamples {
			d.endSearch()
			d.results[n-1].Bottleneck = d.chosen
		}
	case learn:
		d.ae.Learn(d.vec)
	}
	return d.results[:n]
}

// startSearch starts the bottleneck search afresh: its candidates, the
// one of the configured size scoring.
func (d *Detector) startSearch() error {
	s, err := newBottleneckSearch(d.netCfg, d.vecLen(), d.cfg.Seed)
	if err != nil {
		return err
	}
	d.search, d.chosen = s, 0
	d.ae = s.nets[d.configuredBottleneck()-1]
	d.code = make([]float64, len(d.ae.Code()))
	return nil
}

// configuredBottleneck is the candidate that scores while the bottleneck
// search lasts: the configured size, within the candidates'.
func (d *Detector) configuredBottleneck() int {
	return min(slices.Min(d.netCfg.Hidden), d.netCfg.AutoMax)
}

// endSearch keeps the bottleneck the search chose. The calibration's
// histories are of scale-free errors (each over the running mean error),
// so they stay; the running means are scaled by the ratio of the chosen
// network's held-back error to the one that scored meanwhile, so that the
// chosen network's first errors are measured on their own scale.
func (d *Detector) endSearch() {
	s, was := d.search, d.configuredBottleneck()
	k := s.choose(d.netCfg.AutoImprovement)
	if k == 0 {
		k = was
	}
	if k != was && s.errSum[was-1] > 0 {
		ratio := s.errSum[k-1] / s.errSum[was-1]
		for _, c := range []*calibrator{d.cal, d.calWin} {
			if c != nil {
				c.rescale(ratio)
			}
		}
	}
	d.ae, d.chosen, d.search = s.nets[k-1], k, nil
	d.code = make([]float64, k)
}

// ChosenBottleneck is the bottleneck model.bottleneck: auto chose (0 while
// it searches or when the size is fixed).
func (d *Detector) ChosenBottleneck() int { return d.chosen }

// dominant is the channel with the largest share of the sample's error:
// the reference's (fromRef) or the adapting model's.
func (d *Detector) dominant(fromRef bool, ch []float64) int {
	errs := ch
	if fromRef && d.ref != nil {
		errs = d.ref.scoring().channelWeights()
	}
	top := -1
	for j, e := range errs {
		if !isContext(d.context, j) && (top < 0 || e > errs[top]) {
			top = j
		}
	}
	return top
}

// levels is the normalisation feedback measures departures against: the
// reference's level on normal data, or the adapting one's.
func (d *Detector) levels() *window.Normaliser {
	if d.ref != nil {
		return d.ref.scoring().norm
	}
	return d.norm
}

// level is channel j's level on normal data.
func (d *Detector) level(j int) float64 { return d.levels().Mean(j) }

// toleranceBound is the largest tolerance channel j may be taught.
func (d *Detector) toleranceBound(j int) float64 {
	return float64(d.cfg.Feedback.MaxDeviations * d.levels().Std(j))
}

// Feedback applies an operator's verdict v on the anomaly alert that
// covered event time at, given when the series' sample at event time now
// is next; see FeedbackOutcome.
func (d *Detector) Feedback(at int64, v Verdict, now int64) FeedbackOutcome {
	return d.fb.judge(at, v, now, d.toleranceBound)
}

// inRange is v held within channel j's running extremes.
func (d *Detector) inRange(j int, v float64) float64 {
	return math.Max(d.minVal[j], math.Min(d.maxVal[j], v))
}

// rangeDeparture is how far v lies outside channel j's running extremes,
// relative to their span.
func (d *Detector) rangeDeparture(j int, v float64) float64 {
	lo, hi := d.minVal[j], d.maxVal[j]
	span := hi - lo + float64(1e-9*math.Abs(hi)) + 1e-12
	return math.Max(0, math.Max(v-hi, lo-v)) / span
}

// newExtreme reports whether a channel's value (but for those skip marks:
// context and masked channels) lies beyond its running extremes by more
// than SpatialTolerance of their span in a sample whose scale-free error
// raw is at least SpatialError.
func (d *Detector) newExtreme(x []float64, skip []bool, raw float64) bool {
	tol := d.cfg.SpatialTolerance
	if tol == 0 || raw < d.cfg.SpatialError {
		return false
	}
	for j, v := range x {
		lo, hi := d.minVal[j], d.maxVal[j]
		if hi == lo || isContext(skip, j) {
			continue
		}
		m := float64((hi - lo) * tol)
		if v > hi+m || v < lo-m {
			return true
		}
	}
	return false
}

// explainExtreme explains a new extreme: each channel's departure beyond
// its running extremes, in sensor units, and its share of their sum
// relative to the span.
func (d *Detector) explainExtreme(x []float64, skip []bool) {
	var total float64
	for j, v := range x {
		d.why.Share[j], d.why.Departure[j] = 0, 0
		if isContext(skip, j) {
			continue
		}
		d.why.Share[j] = d.rangeDeparture(j, v)
		d.why.Departure[j] = v - d.inRange(j, v)
		total += d.why.Share[j]
	}
	d.why.Statistic = StatisticExtreme
	normaliseShares(d.why.Share, total)
}

// MemoryBytes estimates the memory the detector holds now: its window,
// model, calibration histories and buffers (the slices that dominate).
// Histories are allocated as they fill, so a young detector holds less
// than one that has seen its histories' length (MemoryByPart's Full and
// Peak).
func (d *Detector) MemoryBytes() int { return d.memorySum(func(p MemoryPart) int { return p.Bytes }) }

// memorySum adds one figure of every part of MemoryByPart.
func (d *Detector) memorySum(figure func(MemoryPart) int) int {
	n := 0
	for _, p := range d.MemoryByPart() {
		n += figure(p)
	}
	return n
}

// MemoryFullBytes is what the detector holds once its histories have
// filled and its reference network is frozen (a long-running series).
func (d *Detector) MemoryFullBytes() int {
	return d.memorySum(func(p MemoryPart) int { return p.Full })
}

// MemoryPeakBytes bounds what the detector holds at any time: every part
// at its largest, the reference network's training state before its
// freeze included.
func (d *Detector) MemoryPeakBytes() int {
	return d.memorySum(func(p MemoryPart) int { return p.Peak })
}

// MemoryPart is one component of a detector's memory: the bytes it holds
// now, once every history has filled, and the most it holds at any time
// (Full, or before a freeze dropped it).
type MemoryPart struct {
	Name              string
	Bytes, Full, Peak int
}

// MemoryByPart splits MemoryBytes by what the bytes are for: the slices
// that dominate, plus a fixed allowance for headers and small fields.
func (d *Detector) MemoryByPart() []MemoryPart {
	var parts partList
	addPeak, add, fixed, network := parts.addPeak, parts.add, parts.fixed, parts.network
	c := d.channels
	fixed("window, normaliser and buffers", f64(2*d.cfg.Window.Size*c+6*c+len(d.chErrBuf)))
	if d.ae != nil {
		network("adapting network: ", d.ae, false)
	}
	if d.search != nil {
		var now, full int
		for _, a := range d.search.nets {
			if a != d.ae {
				for _, p := range a.BytesByPart(false) {
					now, full = now+p.Bytes, full+p.Full
				}
			}
		}
		add("bottleneck search's other candidates (warm-up only)", now, full)
	}
	var hist, histFull, avg int
	for _, cal := range []*calibrator{d.cal, d.calWin} {
		if cal != nil {
			hist, histFull = hist+cap(cal.hist), histFull+cal.histLen()
			avg += f64(len(cal.avgRing))
		}
	}
	add("adapting calibration: history of averaged errors", hist, histFull)
	fixed("adapting calibration: moving averages", avg)
	if d.daily != nil {
		fixed("scores by time of day (daily_repeat)", f64(len(d.daily.bits)))
	}
	if r := d.ref; r != nil {
		own := r.memoryParts(c)
		parts.list = append(parts.list, own...)
		// A copy of the reference scores while its period restarts for a
		// cycle the seasonal context finds: at most the reference once
		// full, its network frozen if it freezes.
		var prev, peak int
		if r.prev != nil {
			for _, p := range r.prev.memoryParts(c) {
				prev += p.Bytes
			}
		}
		if r.prev != nil || (r.season != nil && r.season.searching()) || r.seasonPending {
			for _, p := range own {
				peak += p.Full
				if !r.freezes() {
					peak += p.Peak - p.Full
				}
			}
		}
		addPeak("reference kept while its period restarts for a cycle", prev, 0, max(prev, peak))
	}
	if m := d.drift; m != nil {
		fixed("drift monitor", f64((5+20)*c))
		if s := m.season; s != nil {
			addPeak("drift monitor: seasonal context", s.bytes(), s.steadyBytes(), s.fullBytes())
		}
		if m.states != nil {
			addPeak("drift monitor: states", m.states.bytes(), m.states.steadyBytes(), m.states.fullBytes())
		}
	}
	if d.quality != nil {
		fixed("quality checks", f64(15*c)) // limits, runs, move averages and their explanation
	}
	fixed("counters", f64(10*c))
	ring := f64(len(d.counters.ringRaw) + len(d.counters.ringBase))
	addPeak("counters: newest samples (once a channel counts)", ring, ring, f64(2*counterRing(d.cfg)*c))
	if k := d.coarse; k != nil {
		add("coarse track", k.bytes(), k.fullBytes())
	}
	if d.den != nil {
		addPeak("denoiser", d.den.bytes(), d.den.fullBytes(), d.den.peakBytes())
	}
	if d.shadow != nil {
		addPeak("maintenance window's copy of the detector", d.shadow.MemoryBytes(), d.shadow.MemoryFullBytes(), d.shadow.MemoryPeakBytes())
	}
	return append(parts.list, MemoryPart{"headers and small fields", 1024, 1024, 1024})
}

// partList collects MemoryParts.
type partList struct{ list []MemoryPart }

// addPeak adds a part holding now bytes, full once its histories have
// filled and peak at most; none if it holds nothing and never will.
func (l *partList) addPeak(name string, now, full, peak int) {
	if now > 0 || peak > 0 {
		l.list = append(l.list, MemoryPart{name, now, full, peak})
	}
}

// add adds a part that is at its largest once full.
func (l *partList) add(name string, now, full int) { l.addPeak(name, now, full, full) }

// fixed adds a part whose size does not change.
func (l *partList) fixed(name string, b int) { l.add(name, b, b) }

// network adds a network's parts, each name after prefix.
func (l *partList) network(prefix string, a *model.Autoencoder, frozen bool) {
	for _, p := range a.BytesByPart(frozen) {
		l.addPeak(prefix+p.Name, p.Bytes, p.Full, p.Peak)
	}
}

// f64 is the bytes of n float64s.
func f64(n int) int { return 8 * n }

// TrainingScratchBytes is the memory a training step of the detector's
// networks, or a fit of its calibration, borrows, with the normalised
// window it scores: held once per goroutine scoring at once, not per
// detector, so it is not in MemoryBytes.
func (d *Detector) TrainingScratchBytes() int {
	return f64(d.vecLen()) + d.stepScratchBytes()
}

// stepScratchBytes is the largest of what a training step or a fit
// borrows.
func (d *Detector) stepScratchBytes() int {
	n := 0
	if d.cal != nil {
		n = 8 * d.cal.scratchLen()
	}
	if d.ae != nil {
		n = max(n, d.ae.ScratchBytes())
	}
	if d.ref != nil {
		if d.ref.ae != nil {
			n = max(n, d.ref.ae.ScratchBytes())
		}
		n = max(n, 2*2*d.ref.cal.cfg.History) // sortBF16s's two buffers
	}
	return n
}

// memoryParts are the reference's parts of Detector.MemoryByPart, for c
// channels.
func (r *reference) memoryParts(c int) []MemoryPart {
	var parts partList
	addPeak, add, fixed, network := parts.addPeak, parts.add, parts.fixed, parts.network
	if r.ae != nil {
		network("reference network: ", r.ae, r.freezes())
	}
	tails, tailsFull := r.cal.bytes(), r.cal.fullBytes()
	for _, cc := range r.chCal {
		tails, tailsFull = tails+cc.bytes(), tailsFull+cc.fullBytes()
	}
	add("reference: tail models (history and ranks)", tails, tailsFull)
	fixed("reference: window and per-channel state", f64(len(r.vec)+len(r.relVec)+7*c)+c)
	if s := r.season; s != nil {
		addPeak("reference: seasonal context", s.bytes(), s.steadyBytes(), s.fullBytes())
	}
	addPeak("reference: value histogram and its tail", r.marg.bytes(), r.marg.steadyBytes(), r.marg.fullBytes())
	add("reference: transient alerts", 2*cap(r.trans.buf), 2*transientWindows*r.trans.width)
	for _, t := range r.tests {
		add("reference: "+t.name+" tails", t.bytes(), t.fullBytes())
	}
	if r.rel != nil {
		addPeak("reference: channel relations and their tails", r.rel.bytes(), r.rel.steadyBytes(), r.rel.peakBytes())
	}
	if t := r.trend; t != nil {
		fixed("reference: level trend (window means)", f64(len(t.means)))
	}
	if r.peak != nil {
		fixed("reference: departures an open alert reached (follow_return)", f64(len(r.peak)+len(r.back)))
	}
	if r.anchor != nil {
		fixed("reference: anchors of the levels", f64(4*len(r.anchor))+len(r.letGo))
	}
	if rc := r.recur; rc != nil {
		fixed("reference: recurring regimes", f64(2*c+(2+2*c)*recurrenceKeep))
	}
	if r.runs != nil {
		fixed("reference: run lengths", 3*c+f64(5*c)) // state, partial, short; run, shortest and counts
	}
	return parts.list
}
