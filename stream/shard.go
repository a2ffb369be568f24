package stream

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/aewatch/aewatch/detector"
	"github.com/aewatch/aewatch/sink"
	"github.com/aewatch/aewatch/stream/codec"
	"github.com/prometheus/client_golang/prometheus"
)

// The shard stage: one goroutine per shard owns its detectors, scores the
// samples routed to it and hands its points to the flush loop.

// seriesState is one detector and the channels it scores.
type seriesState struct {
	det      *detector.Detector
	key      string // the detector's key in its shard (keyOf)
	series   string
	channels []string
	tags     []sink.Tag
	part     partitionKey // where the series' messages come from
	// Samples from messages at or before skipUpTo in partition part are
	// already in the detector's restored state.
	skipUpTo   int64
	lastUsed   uint64 // shard clock at the last sample, for eviction
	lastOut    uint64 // seq of the output holding the detector's newest points
	lastOffset int64  // offset of the last message of the series in part, for eviction
	outOfOrder uint64 // samples dropped as not after the series' previous time
	// owed: the checkpoint round still owed this detector's snapshot as of
	// its barrier (nil: none); savedIn: the last round that took it; dirty:
	// it changed since (a fresh detector has no checkpoint: dirty).
	owed, savedIn *checkpointRound
	dirty         bool
	silences      uint64 // the version of Options.Silences the detector has
	// first gathers a new multivariate series' messages of its first row
	// (nil once a later one came, or for a restored series): widen.
	first *firstRow
}

// firstRow is a multivariate series' values at its first time, and in
// the messages after it that carry only channels it lacks: channels
// stamped when each was read, a little apart (the detector merges such
// messages into one row the same way: detector/assemble.go).
type firstRow struct {
	t, last  int64 // its time, and the newest message's merged into it
	channels []string
	values   []float64
}

// add merges s into the first row and reports whether s is of it.
func (f *firstRow) add(s *codec.Sample) bool {
	if len(f.channels) == 0 {
		f.t, f.last = s.Time, s.Time
	}
	if s.Time != f.t && (s.Time < f.last || slices.ContainsFunc(s.Channels, func(ch string) bool { return slices.Contains(f.channels, ch) })) {
		return false
	}
	f.last = max(f.last, s.Time)
	for j, ch := range s.Channels {
		if k := slices.Index(f.channels, ch); k >= 0 {
			f.values[k] = s.Values[j]
		} else {
			f.channels, f.values = append(f.channels, ch), append(f.values, s.Values[j])
		}
	}
	return true
}

// logEvery bounds how often a recurring per-sample problem is logged.
const logEvery = 10 * time.Second

// shard owns the detectors of the series routed to it.
func (p *Pipeline) shard(id int, in <-chan []work, pulls <-chan pullRequest, spent chan<- []work, out chan<- output, restore map[string]Checkpoint) {
	dets := &shardState{id: id, dets: map[string]*seriesState{}, restore: restore,
		evicted: map[string]parked{}, deferred: map[string]parked{}, out: out, spent: p.spentOutputs}
	if c := p.o.carried; c != nil {
		c.handTo(dets, p)
	}
	for key, cp := range restore {
		if cp.State == nil && cp.At != nil {
			dets.deferred[key] = parked{*cp.At, partitionKey{cp.Topic, cp.Partition}}
			delete(restore, key)
		}
	}
	if p.tellsAbsent() {
		dets.indexChannels()
	}
	defer func() { p.ended[id] = dets }() // for the next generation (carry.go)
	defer func() {
		if t := dets.admission.timer; t != nil {
			t.Stop()
		}
	}()
	// Beyond its queue's worth of samples set aside for their admission a
	// shard waits for them.
	setAsideMax := max(handoffBatch, cap(in)*handoffBatch)
	for {
		var batch []work
		select {
		case req := <-pulls:
			p.pull(dets, req)
			continue
		case <-dets.admission.due:
			dets.admission.due = nil
			dets.armAdmission(p.admitWaiting(dets, false, 0))
			dets.emit(false)
			continue
		case b, ok := <-in:
			if !ok {
				p.admitWaiting(dets, true, 0)
				if p.sourceDone {
					p.flushHeld(dets)
				}
				dets.emit(false)
				return
			}
			batch = b
			tell(p.room) // a backlog may wait for this room (fairness.go)
		}
		if len(dets.admission.samples) > 0 {
			p.admitWaiting(dets, false, 0) // the earlier arrivals first
		}
		// One clock reading per sample: one sample's end starts the next.
		start := time.Now()
		for i := range batch {
			w := &batch[i]
			if w.barrier != nil {
				// The round covers every sample fetched before it.
				p.admitWaiting(dets, true, 0)
				dets.emit(false)
				dets.owe(w.barrier)
				w.barrier.passed <- struct{}{}
				start = time.Now()
				continue
			}
			dets.clock++
			if p.setAside(dets, w) {
				continue // its message is acknowledged once it is scored
			}
			p.score(dets, &w.s, w.ref)
			dets.pending.refs = append(dets.pending.refs, w.ref)
			end := time.Now()
			p.o.Metrics.ScoreLatency.Observe(end.Sub(start).Seconds())
			start = end
		}
		if len(dets.admission.samples) > setAsideMax {
			p.admitWaiting(dets, true, setAsideMax)
		}
		dets.armAdmission(p.admitWaiting(dets, false, 0))
		dets.emit(false) // one channel operation per batch, not per sample
		if cap(batch) == handoffBatch {
			clear(batch) // drop the samples' references
			select {
			case spent <- batch[:0]:
			default:
			}
		}
	}
}

// flushHeld writes the samples the shard's detectors hold as dated ahead
// once a bounded source is done: no next sample will settle them, and
// eval takes them as it does at the end of a file (detector.Flush).
func (p *Pipeline) flushHeld(sh *shardState) {
	for _, key := range slices.Sorted(maps.Keys(sh.dets)) {
		sh.flushOne(p, sh.dets[key])
	}
	sh.emit(false)
}

// flushOne adds the points of the sample st's detector holds (if any) to
// the pending output.
func (sh *shardState) flushOne(p *Pipeline, st *seriesState) {
	if !st.det.Holds() {
		return
	}
	p.settle(st)
	n := len(sh.pending.pts)
	sh.pending.pts = p.points(st, st.det.Flush(), sh.pending.pts)
	if len(sh.pending.pts) > n {
		st.lastOut = sh.emitted + 1
	}
}

// partMetrics are one input partition's metric children.
type partMetrics struct {
	messages prometheus.Counter
	lag      prometheus.Gauge
}

// shardState is what one shard owns: its detectors, and the checkpoints of
// its series not yet restored (each is dropped once used).
type shardState struct {
	id      int
	dets    map[string]*seriesState
	restore map[string]Checkpoint
	// evicted: where the checkpoints of detectors evicted to make room lie;
	// deferred: those Load left in the topic (checkpoint.restore_bytes).
	evicted, deferred map[string]parked
	clock             uint64 // samples scored
	emitted           uint64 // outputs sent
	key               []byte // scratch: the detector key being looked up
	// pending: scored since the last emit; it goes to out at the end of
	// each input batch and before anything waits on the flush loop.
	pending output
	out     chan<- output
	spent   <-chan output
	// round is the newest checkpoint round the shard passed; owed holds
	// the keys of the detectors that owed it a snapshot then, owedNext
	// the first not yet pulled.
	round    *checkpointRound
	owed     []string
	owedNext int
	// admission: samples of new series waiting for their admission (admit.go).
	admission admissionWait
	// channelsOf: per series, the channels with a detector of their own in
	// the shard (live, to restore, parked), told when a sample of the
	// series lacks them (absent). Nil with pipeline.multivariate.
	channelsOf map[string]*seriesChannels
	aligned    []float64 // scratch: a multivariate sample in its detector's channel order
}

// emit sends the pending output to the flush loop. Sent in the middle of a
// sample, it may hold points without their message, which follows with
// the next one. An urgent output has the flush loop write its batch at
// once (even an empty one, to write what was sent before it).
func (sh *shardState) emit(urgent bool) {
	if len(sh.pending.refs) == 0 && len(sh.pending.pts) == 0 {
		if urgent {
			sh.out <- output{shard: sh.id, seq: sh.emitted, urgent: true}
		}
		return
	}
	sh.emitted++
	sh.pending.shard, sh.pending.seq, sh.pending.urgent = sh.id, sh.emitted, urgent
	sh.out <- sh.pending
	select {
	case sh.pending = <-sh.spent:
	default:
		sh.pending = output{refs: make([]msgRef, 0, handoffBatch)}
	}
}

// keyOf returns, in the shard's scratch buffer, the key of the detector of
// series and channel: the series alone for a multivariate detector, else
// the series, a zero byte and the channel.
func (sh *shardState) keyOf(series, channel string, multivariate bool) []byte {
	sh.key = append(sh.key[:0], series...)
	if !multivariate {
		sh.key = append(append(sh.key, 0), channel...)
	}
	return sh.key
}

// seriesOfKey is the series part of a detector key (see keyOf).
func seriesOfKey(key string) string {
	series, _, _ := strings.Cut(key, "\x00")
	return series
}

// score scores sample s and appends its points to the shard's pending
// output. The pending slice is read afresh after every state call: making
// room for a detector may emit it.
func (p *Pipeline) score(dets *shardState, s *codec.Sample, ref msgRef) {
	if req, ok := p.o.Rebaselines.take(s.Series); ok {
		p.rebaseline(dets, s, ref, req)
	}
	if rs := p.o.Feedbacks.take(s.Series); len(rs) > 0 {
		p.feedback(dets, s, ref, rs)
	}
	if p.o.Pipeline.Multivariate {
		st := p.state(dets, dets.keyOf(s.Series, "", true), s.Series, s.Channels, s.Tags, ref)
		if st == nil || st.covers(ref) {
			return
		}
		if st.first != nil && !st.first.add(s) {
			st.first = nil
		}
		x := s.Values
		if !equalStrings(st.channels, s.Channels) {
			var missing, beyond int
			x, missing, beyond = dets.align(st.channels, s)
			if beyond > 0 && st.first != nil && p.widen(st) {
				dets.push(p, st, st.first.t, st.first.values)
				return
			}
			if beyond > 0 && st.det.Warming() && p.grow(dets, st, s.Channels) {
				x, missing, beyond = dets.align(st.channels, s)
			}
			if beyond > 0 {
				p.leaveOut(st, s, beyond)
			}
			p.o.Metrics.ValuesFilled.Add(float64(missing))
		}
		dets.push(p, st, s.Time, x)
		return
	}
	for j, ch := range s.Channels {
		if slices.Contains(p.o.Detector.Context, ch) {
			continue // an input alone: nothing to judge it against
		}
		st := p.state(dets, dets.keyOf(s.Series, ch, false), s.Series, s.Channels[j:j+1], s.Tags, ref)
		if st == nil || st.covers(ref) {
			continue
		}
		dets.push(p, st, s.Time, s.Values[j:j+1])
	}
	if dets.channelsOf != nil {
		p.absent(dets, s, ref)
	}
}

// tellsAbsent reports whether the detectors of a series' channels are told
// of its samples that lack their channel: one detector per channel, and
// the quality check missing on.
func (p *Pipeline) tellsAbsent() bool {
	q := p.o.Detector.Quality
	return !p.o.Pipeline.Multivariate && q.Enabled && q.MissingSamples > 0
}

// seriesChannels is one series' entry in channelsOf.
type seriesChannels struct {
	names []string // sorted; one whose detector went is dropped when next looked at
	// told is the newest time of a sample whose absent channels were told:
	// the series' later messages at that time (a gateway that sends each
	// channel in its own) tell nothing, as the detectors would count
	// nothing (one row counts once).
	told int64
}

// absent tells the detectors of s's series' channels that s lacks that
// their channel is absent (detector.Absent), so that a transmitter whose
// tag stopped while its gateway sends the others is reported missing, as
// eval reports a column's empty cells in a row with values.
func (p *Pipeline) absent(sh *shardState, s *codec.Sample, ref msgRef) {
	sc := sh.channelsOf[s.Series]
	if sc == nil || s.Time <= sc.told {
		return
	}
	sc.told = s.Time
	i, gone := 0, 0
	for k, ch := range sc.names {
		for i < len(s.Channels) && s.Channels[i] < ch {
			i++
		}
		if i < len(s.Channels) && s.Channels[i] == ch {
			continue
		}
		key := sh.keyOf(s.Series, ch, false)
		if !sh.holds(string(key)) {
			gone++
			continue
		}
		st := p.state(sh, key, s.Series, sc.names[k:k+1:k+1], s.Tags, ref)
		if st == nil || st.covers(ref) {
			continue
		}
		sh.ready(p, st)
		sh.take(st, p.points(st, st.det.Absent(s.Time), sh.pending.pts))
	}
	if gone > 0 {
		sc.names = slices.DeleteFunc(sc.names, func(ch string) bool { return !sh.holds(string(sh.keyOf(s.Series, ch, false))) })
		if len(sc.names) == 0 {
			delete(sh.channelsOf, s.Series)
		}
	}
}

// indexChannels fills channelsOf from the shard's detectors of one channel.
func (sh *shardState) indexChannels() {
	sh.channelsOf = map[string]*seriesChannels{}
	for _, keys := range []func(func(string) bool){maps.Keys(sh.dets), maps.Keys(sh.restore), maps.Keys(sh.evicted), maps.Keys(sh.deferred)} {
		for key := range keys {
			sh.noteChannel(key)
		}
	}
}

// noteChannel adds the channel of a one-channel detector's key to
// channelsOf (if kept).
func (sh *shardState) noteChannel(key string) {
	if sh.channelsOf == nil {
		return
	}
	series, ch, ok := strings.Cut(key, "\x00")
	if !ok {
		return
	}
	sc := sh.channelsOf[series]
	if sc == nil {
		sc = &seriesChannels{told: math.MinInt64}
		sh.channelsOf[series] = sc
	}
	if at, found := slices.BinarySearch(sc.names, ch); !found {
		sc.names = slices.Insert(sc.names, at, ch)
	}
}

// holds reports whether the shard has the detector of key in any form:
// live, to restore from a checkpoint, parked, or left in the topic.
func (sh *shardState) holds(key string) bool {
	if _, live := sh.dets[key]; live {
		return true
	}
	_, restoring := sh.restore[key]
	_, evicted := sh.evicted[key]
	_, deferred := sh.deferred[key]
	return restoring || evicted || deferred
}

// widen gives a new multivariate series a detector for every channel its
// messages of its first row (firstRow) carried, when one brings a channel beyond
// its first message's (a gateway sending one channel a message): the
// detector built for the first starts afresh, having written nothing yet,
// and the caller pushes the first row whole, as eval reads it. A channel
// beyond the set at a later time grows it while the detector warms up
// (grow), else its values are left out (leaveOut). It reports whether it
// did.
func (p *Pipeline) widen(st *seriesState) bool {
	f := st.first
	if len(f.channels) > p.o.Pipeline.MaxChannels {
		return false
	}
	order := make([]int, len(f.channels))
	for k := range order {
		order[k] = k
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(f.channels[a], f.channels[b]) })
	channels, values := make([]string, len(order)), make([]float64, len(order))
	for k, o := range order { // by name, as the decoders sort a message's
		channels[k], values[k] = f.channels[o], f.values[o]
	}
	d, err := p.newDetector(st.series, channels)
	if err != nil {
		return false
	}
	p.o.Log.Info("series widened: the messages of its first row carry channels its first did not; its detector starts afresh with them all",
		"series", st.series, "channels", channels)
	f.channels, f.values = channels, values
	p.replaceDetector(st, d, channels)
	return true
}

// grow gives st a detector started afresh over its channels and those of
// channels beyond them, when a message brings a channel its series' first
// row lacked (a tag sent every few rows, one whose transmitter dropped
// out at the start) while its detector warms up (detector.Warming): left
// out, the channel would never be judged. A row the old detector holds is
// written before it goes. It reports whether it did.
func (p *Pipeline) grow(sh *shardState, st *seriesState, channels []string) bool {
	union, d, err := p.detectorOver(st.series, append(slices.Clone(st.channels), channels...))
	if err != nil {
		return false
	}
	sh.flushOne(p, st)
	p.o.Log.Info("series grown: a message carries channels its first row lacked, within the detector's warm-up; its detector starts afresh with them all",
		"series", st.series, "channels", union)
	p.replaceDetector(st, d, union)
	return true
}

// rechannel gives st a detector started afresh over the channels of its
// set the quality check does not call missing (a transmitter that died)
// and those with values in s beyond the set, at an operator's re-baseline
// of the whole series: the one way a warm multivariate series takes a new
// channel (outside a re-baseline its values are left out: leaveOut) or
// lets a dead one go. A row the old detector holds is written, then its
// open alerts closed with reason rebaseline, before it goes. It reports
// whether it did: false when the set would not change.
func (p *Pipeline) rechannel(sh *shardState, st *seriesState, s *codec.Sample) bool {
	dead := st.det.MissingChannels()
	var channels, dropped, added []string
	for j, ch := range st.channels {
		if dead != nil && dead[j] {
			dropped = append(dropped, ch)
		} else {
			channels = append(channels, ch)
		}
	}
	for k, ch := range s.Channels {
		if !slices.Contains(st.channels, ch) && !math.IsNaN(s.Values[k]) {
			added = append(added, ch)
		}
	}
	if len(added) == 0 && len(dropped) == 0 {
		return false
	}
	channels, d, err := p.detectorOver(st.series, append(channels, added...))
	if err != nil {
		p.o.Log.Warn("a re-baseline could not change the series' channels; it re-baselines the series on its channels",
			"series", st.series, "channels", st.channels, "taken_in", added, "missing", dropped, "error", err)
		return false
	}
	sh.flushOne(p, st)
	if r, closed := st.det.CloseAlerts(s.Time); closed {
		sh.closePoints(p, st, &r)
	}
	p.o.Log.Info("series' channels changed by a re-baseline: its detector starts afresh over them (its alerts closed, operators' verdicts on it dropped)",
		"series", st.series, "channels", channels, "taken_in", added, "dropped_missing", dropped)
	p.replaceDetector(st, d, channels)
	return true
}

// closePoints adds the points of the alerts of st's detector that r
// closes (detector.CloseAlerts): the detector scores no sample then, so
// each carries score 0.
func (sh *shardState) closePoints(p *Pipeline, st *seriesState, r *detector.Result) {
	sh.pending.pts = p.alertPoints(st, r, "anomaly", r.Anomaly, 0, sh.pending.pts)
	sh.pending.pts = p.alertPoints(st, r, "drift", r.DriftAlert, 0, sh.pending.pts)
	sh.pending.pts = p.alertPoints(st, r, "quality", r.Quality, 0, sh.pending.pts)
	st.lastOut = sh.emitted + 1
}

// letGoMissing applies a re-baseline to the detectors of the channels of
// s's series that s lacks and the quality check calls missing (one
// detector a channel): their alerts close, and the samples without the
// channel count no more until it returns (detector.LetGo). It returns how
// many it let go.
func (p *Pipeline) letGoMissing(sh *shardState, s *codec.Sample, ref msgRef, req RebaselineRequest) int {
	sc := sh.channelsOf[s.Series]
	if sc == nil {
		return 0
	}
	n := 0
	for k, ch := range sc.names {
		key := sh.keyOf(s.Series, ch, false)
		if !req.wants(ch) || slices.Contains(s.Channels, ch) || !sh.holds(string(key)) {
			continue
		}
		st := p.state(sh, key, s.Series, sc.names[k:k+1:k+1], s.Tags, ref)
		if st == nil {
			continue
		}
		p.settle(st)
		r, ok := st.det.LetGo(s.Time)
		if !ok {
			continue
		}
		sh.closePoints(p, st, &r)
		sh.pending.pts = append(sh.pending.pts, sink.Point{Measurement: sink.RebaselineMeasurement, Series: s.Series, Channel: ch, Tags: st.tags, Time: s.Time, Reason: req.Source})
		p.o.Log.Info("a missing channel let go by a re-baseline: its alerts closed, the samples without it count no more until it returns",
			"series", s.Series, "channel", ch)
		n++
	}
	return n
}

// detectorOver returns channels sorted by name, as the decoders sort a
// message's, each once, and a new detector of series over them.
func (p *Pipeline) detectorOver(series string, channels []string) ([]string, *detector.Detector, error) {
	slices.Sort(channels)
	channels = slices.Compact(channels)
	switch {
	case len(channels) == 0:
		return nil, nil, errors.New("no channel would be left")
	case len(channels) > p.o.Pipeline.MaxChannels:
		return nil, nil, fmt.Errorf("%d channels in all, beyond pipeline.max_channels (%d)", len(channels), p.o.Pipeline.MaxChannels)
	}
	d, err := p.newDetector(series, channels)
	return channels, d, err
}

// replaceDetector puts d, started afresh over channels, in place of st's
// detector: it has no checkpoint yet (dirty), and takes the silences anew.
func (p *Pipeline) replaceDetector(st *seriesState, d *detector.Detector, channels []string) {
	st.det, st.channels, st.dirty, st.silences = d, channels, true, 0
	p.o.Rebaselines.SeenOnly(st.part.topic, st.part.partition, st.series, channels...)
	p.o.Metrics.SeriesBytes.Set(float64(d.MemoryPeakBytes()))
}

// leaveOut counts and logs the values of s on channels beyond st's set,
// once its detector is warm: the sample is scored on the channels of the
// set, so a tag added to a gateway's messages loses none of the others'.
func (p *Pipeline) leaveOut(st *seriesState, s *codec.Sample, beyond int) {
	p.o.Metrics.ValuesLeftOut.Add(float64(beyond))
	if ok, held := p.channelsLog.Allow(); ok {
		var extra []string
		for _, ch := range s.Channels {
			if !slices.Contains(st.channels, ch) {
				extra = append(extra, ch)
			}
		}
		p.o.Log.Warn("a message carries channels beyond its series' set (its first row's, kept in the checkpoint): their values are left out, the set's channels scored; a series takes a new channel within its detector's warm-up, or at a re-baseline of the whole series (aewatch rebaseline SERIES)",
			"series", st.series, "left_out", extra, "channels", st.channels, "similar_since_last_line", held)
	}
}

// align returns s's values in the order of channels, NaN for those s
// lacks (the detector fills them: detector/missing.go), with how many it
// lacks and how many of its channels are not among them (the series'
// set: the channels of its first row, widen and grow). Both are sorted
// by name (the decoders sort a message's), so one pass lines them up.
func (sh *shardState) align(channels []string, s *codec.Sample) (x []float64, missing, beyond int) {
	sh.aligned = slices.Grow(sh.aligned[:0], len(channels))
	k := 0 // s's next channel: both lists are sorted by name, each name once
	for _, ch := range channels {
		for ; k < len(s.Channels) && s.Channels[k] < ch; k++ {
			beyond++
		}
		v := math.NaN()
		if k < len(s.Channels) && s.Channels[k] == ch {
			v = s.Values[k]
			k++
		} else {
			missing++
		}
		sh.aligned = append(sh.aligned, v)
	}
	return sh.aligned, missing, beyond + len(s.Channels) - k
}

// push scores one sample of st's detector into the pending output and
// notes which output holds the detector's newest points.
func (sh *shardState) push(p *Pipeline, st *seriesState, t int64, x []float64) {
	sh.ready(p, st)
	sh.take(st, p.push(st, t, x, sh.pending.pts))
}

// ready readies st's detector for a sample: its snapshot owed to a round
// taken, its maintenance windows brought up to date.
func (sh *shardState) ready(p *Pipeline, st *seriesState) {
	p.settle(st)
	if v := p.o.Silences.Version(); v != st.silences {
		st.det.SetSilences(append(p.configSilences.For(st.series), p.o.Silences.For(st.series)...))
		st.silences = v
	}
}

// take makes pts, the pending points with those of st's detector's
// results appended, the pending output, noting that it holds st's newest.
func (sh *shardState) take(st *seriesState, pts []sink.Point) {
	if len(pts) > len(sh.pending.pts) {
		st.lastOut = sh.emitted + 1
	}
	sh.pending.pts = pts
}

// operatorState is the settled detector of s's series that holds channel
// j, for an operator's request (nil if none can be had).
func (p *Pipeline) operatorState(sh *shardState, s *codec.Sample, j int, ref msgRef) *seriesState {
	chans := s.Channels[j : j+1]
	if p.o.Pipeline.Multivariate {
		chans = s.Channels
	}
	st := p.state(sh, sh.keyOf(s.Series, s.Channels[j], p.o.Pipeline.Multivariate), s.Series, chans, s.Tags, ref)
	if st != nil {
		p.settle(st)
	}
	return st
}

// rebaseline applies an operator's request to the detectors of s's series
// (all channels, or the one named) before s is scored, and records it.
func (p *Pipeline) rebaseline(sh *shardState, s *codec.Sample, ref msgRef, req RebaselineRequest) {
	applied := 0
	for j, ch := range s.Channels {
		if !req.wants(ch) {
			continue
		}
		st := p.operatorState(sh, s, j, ref)
		if st == nil {
			continue
		}
		// A request for every channel of a warm multivariate series whose
		// sample brings new ones, or that has a dead one, changes its
		// channels; else the detector re-baselines itself.
		rechanneled := p.o.Pipeline.Multivariate && req.channels == nil && st.first == nil && !st.det.Warming() && p.rechannel(sh, st, s)
		if !rechanneled && !st.det.Rebaseline() {
			continue
		}
		applied++
		sh.pending.pts = append(sh.pending.pts, sink.Point{Measurement: sink.RebaselineMeasurement, Series: s.Series, Channel: ch, Tags: st.tags, Time: s.Time, Reason: req.Source})
		st.lastOut = sh.emitted + 1
		if p.o.Pipeline.Multivariate {
			break
		}
	}
	if sh.channelsOf != nil {
		applied += p.letGoMissing(sh, s, ref, req)
	}
	if applied == 0 {
		// The named channel is not in this sample (or its detector is not
		// available): wait for a sample that has it.
		p.o.Rebaselines.requeue(req)
		return
	}
	p.o.Metrics.Rebaselines.Inc()
	p.o.Log.Info("re-baseline applied", "series", s.Series, "channels", req.ChannelList(), "detectors", applied,
		"source", req.Source, "requested", req.At.Format(time.RFC3339), "at_sample", time.Unix(0, s.Time).UTC().Format(time.RFC3339Nano))
}

// covers reports whether the sample of message ref is already in the
// detector's restored state.
func (st *seriesState) covers(ref msgRef) bool {
	return ref.part == st.part && ref.offset <= st.skipUpTo
}
