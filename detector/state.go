package detector

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/fnv"
	"math"
	"slices"

	"github.com/aewatch/aewatch/internal/detmath"
	"github.com/aewatch/aewatch/internal/statecodec"
	"github.com/aewatch/aewatch/model"
)

// Snapshot encoding, version 50 (version 49 kept no time a one-channel
// detector was last told its channel was absent, nor whether an operator
// let it go; version 48 kept no gaps of missing
// channels for the quality checks; version 47 kept no anchors of the
// reference's levels; version 46 kept no onset that a period
// restarted for a recurring regime seeks, nor how long ago the drift
// monitor saw an anomaly alert; version 45 compared recurring regimes by
// their whole episodes' means and kept no count of their occurrences;
// version 44's drift monitor looked for a
// cycle over its reference only; version 43 looked for none after the
// first search; version 42 spread no counter's rise over
// the steps it spans and kept no time of a counter's newest value; version 41 turned no counters into their
// rises and kept no finding of inputs held exactly; version 40 had no runs between the jumps
// of channels that move only by jumps; version 39 had no slope test over several
// channels; version 38 had no level test over several
// channels; version 37 had no departures an open
// alert's channels reached, to tell when one is back; version 36 had no window means kept to
// tell a held channel's drift from a step; version 35 had no scores by time of
// day (detector.daily_repeat); version 34 merged into a held row only
// messages at its time, gave the messages merged into a row held as dated
// ahead their results before the row's, and counted a score episode in
// sequence numbers; version 33 told an anomaly explanation's
// statistic by a flag, from before new extremes explained one; version 32 had no channel names; version
// 31 had no row held for the next
// at its time; version 30 had no reference kept to score
// while the period restarts for a cycle found; version 29 had no cadences of channels
// sampled more slowly; version 28 had no channels filled for
// missing values; version 27 had no count of the refits in
// a row on which each channel's relation held; version 26 had no context
// channels' filters nor a relation that learns on after its period; version 25 had no count of how long an
// open alert has held its channels' levels; version 24 had a tanh code in
// the reference network over one channel; version 23 had no coarse track; version 22 had no score episode; version 21 held seasonal profiles, value
// histogram counts and frozen networks' weights wider, and the
// calibration's history as bfloat16; version 20 held tail models' sorted
// history rather than its ranks as of the last fit; version 19 had no denoiser; version 18 had no frozen networks: every
// network held its optimiser state; version 17 had no run lengths of
// channels with states; version 16 had no sample held as dated
// ahead nor the window's typical step; version 15 had no swing test in the
// reference; version 14 had no count of samples out of
// range in the window nor a run of wild values held back; version 13 had no channel relations;
// version 12 had no seasonal restart put off while an alert is open;
// version 11 had no set of channels an open alert holds; version 10 had
// no roughness test in the
// reference and held an open alert's window spreads rather than their
// inverse; version 9 had no single-sample tail in
// the calibration; version 8 held the networks' weights, moments and
// error histories wider; version 7 had no operators' verdicts;
// version 6 had no stillness test in the
// reference and no maintenance window's copy; version 5 held error histories and the
// networks' replay as float64, unwritten slots included; version 4 had no value histogram or
// recurring regimes in the reference, version 3 no quality checks, version
// 2 no reference model and version 1 no drift monitor; all are refused, so
// such series start fresh, and the service logs it):
//
//	"AEWD" | version u16 | config fingerprint u64 | channel names | body | CRC-32C (Castagnoli) of all before it
//
// The body is the window, normaliser, model (if any), calibrators, the
// coarse track (if enabled), alert
// state, the detector's own counters, the anomaly explanation and the drift
// monitor, the reference model and the quality checks (each if enabled),
// the recent alerts operators may judge and what their verdicts taught,
// then the maintenance window's copy (a snapshot of its own) if one is
// open, in that order (statecodec:
// little-endian; slices length-prefixed). The fingerprint hashes the
// configuration and channel count: a snapshot only restores into a detector
// built the same way, so a changed config starts fresh rather than wrong.
const (
	snapshotMagic   = "AEWD"
	snapshotVersion = 50
)

// anomalyStatistics are the anomaly explanation's statistics, in the order
// a snapshot numbers them.
var anomalyStatistics = []string{"value", "reference", StatisticExtreme}

// ErrSnapshotMismatch: the snapshot was taken with another configuration.
var ErrSnapshotMismatch = errors.New("detector: snapshot was taken with a different configuration")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func (d *Detector) fingerprint() uint64 {
	h := fnv.New64a()
	cfg := d.cfg
	cfg.Quality.Limits, cfg.Silences = nil, nil // set per series, kept out of the snapshot
	fmt.Fprintf(h, "%d|%#v", d.channels, cfg)
	return h.Sum64()
}

// MarshalBinary snapshots the detector's complete state: restoring it into
// a detector with the same configuration and feeding both the same samples
// gives bit-identical results.
func (d *Detector) MarshalBinary() ([]byte, error) {
	return d.AppendBinary(make([]byte, 0, d.MemoryBytes()))
}

// AppendBinary appends the snapshot MarshalBinary returns to b, so that a
// caller can reuse its buffers.
func (d *Detector) AppendBinary(b []byte) ([]byte, error) {
	start := len(b)
	e := &statecodec.Encoder{Buf: b}
	e.Buf = append(e.Buf, snapshotMagic...)
	e.Buf = binary.LittleEndian.AppendUint16(e.Buf, snapshotVersion)
	e.U64(d.fingerprint())
	e.Int(len(d.names))
	for _, n := range d.names {
		e.Bytes([]byte(n))
	}
	d.win.AppendState(e)
	d.norm.AppendState(e)
	if d.netCfg.Bottleneck == "auto" {
		e.Int(d.chosen)
	}
	switch {
	case d.search != nil:
		if err := d.search.appendState(e); err != nil {
			return nil, err
		}
	case d.ae != nil:
		if err := d.ae.AppendState(e); err != nil {
			return nil, err
		}
	}
	d.cal.appendState(e)
	if d.calWin != nil {
		d.calWin.appendState(e)
	}
	if d.coarse != nil {
		if err := d.coarse.appendState(e); err != nil {
			return nil, err
		}
	}
	d.alert.appendState(e)
	e.U64(d.seq)
	e.Int(d.accepted)
	e.U64(d.windows)
	e.F64s(d.minVal)
	e.F64s(d.maxVal)
	e.Int(d.wildRun)
	e.U64(d.episodeEnd)
	if d.daily != nil {
		d.daily.appendState(e)
	}
	e.Bool(d.ahead.held)
	e.I64(d.ahead.t)
	e.F64s(d.ahead.x)
	e.Int(d.ahead.merged)
	e.Int(len(d.pending))
	for _, p := range d.pending {
		e.U64(p.seq)
		e.I64(p.time)
	}
	if d.miss != nil {
		d.miss.appendState(e)
	}
	d.counters.appendState(e)
	e.F64s(d.why.Share)
	e.F64s(d.why.Departure)
	e.Int(slices.Index(anomalyStatistics, d.why.Statistic))
	e.F64(d.why.Tolerance)
	e.Int(d.why.ToleranceChannel)
	e.Int(d.why.Verdicts)
	if d.drift != nil {
		d.drift.appendState(e)
	}
	if d.ref != nil {
		if err := d.ref.appendState(e); err != nil {
			return nil, err
		}
	}
	if d.quality != nil {
		d.quality.appendState(e)
	}
	d.fb.appendState(e)
	if d.den != nil {
		d.den.appendState(e)
	}
	e.Bool(d.shadow != nil)
	if d.shadow != nil {
		var err error
		if d.shadowBuf, err = d.shadow.AppendBinary(d.shadowBuf[:0]); err != nil {
			return nil, err
		}
		e.Bytes(d.shadowBuf)
	}
	e.Buf = binary.LittleEndian.AppendUint32(e.Buf, crc32.Checksum(e.Buf[start:], castagnoli))
	return e.Buf, nil
}

// maxChannelName bounds a channel name read from a snapshot.
const maxChannelName = 1 << 10

// readChannelNames reads the snapshot's channel names: none, or one for
// each of channels (any count when channels < 0).
func readChannelNames(dec *statecodec.Decoder, channels int) ([]string, error) {
	n := dec.Int()
	if dec.Err() == nil && (n < 0 || n > maxSnapshotChannels || channels >= 0 && n != 0 && n != channels) {
		return nil, fmt.Errorf("detector: snapshot names %d channels, want none or %d", n, channels)
	}
	if n == 0 {
		return nil, dec.Err()
	}
	names := make([]string, n)
	for i := range names {
		names[i] = string(dec.Bytes(maxChannelName))
	}
	return names, dec.Err()
}

// maxSnapshotChannels bounds the channel names a snapshot may hold.
const maxSnapshotChannels = 1 << 16

// SnapshotChannelNames returns the channel names a snapshot keeps
// (SetChannelNames; nil if none were set), without restoring it: what a
// detector to restore it into must be built for.
func SnapshotChannelNames(b []byte) ([]string, error) {
	if len(b) < len(snapshotMagic)+2+8+4 || string(b[:4]) != snapshotMagic {
		return nil, errors.New("detector: not a detector snapshot")
	}
	if v := binary.LittleEndian.Uint16(b[4:]); v != snapshotVersion {
		return nil, fmt.Errorf("detector: snapshot version %d, this build reads %d", v, snapshotVersion)
	}
	dec := statecodec.NewDecoder(b[6 : len(b)-4])
	dec.U64() // fingerprint
	return readChannelNames(dec, -1)
}

// UnmarshalBinary restores a snapshot into d, which must have been built
// with the configuration and channel count of the snapshotted detector. On
// any error d is left unusable: build a fresh one.
func (d *Detector) UnmarshalBinary(b []byte) error {
	if len(b) < len(snapshotMagic)+2+8+4 || string(b[:4]) != snapshotMagic {
		return errors.New("detector: not a detector snapshot")
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return errors.New("detector: snapshot checksum mismatch (corrupt)")
	}
	if v := binary.LittleEndian.Uint16(body[4:]); v != snapshotVersion {
		return fmt.Errorf("detector: snapshot version %d, this build reads %d", v, snapshotVersion)
	}
	dec := statecodec.NewDecoder(body[6:])
	if dec.U64() != d.fingerprint() {
		return ErrSnapshotMismatch
	}
	names, err := readChannelNames(dec, d.channels)
	if err != nil {
		return err
	}
	d.names = names
	if err := d.win.ReadState(dec); err != nil {
		return err
	}
	if err := d.norm.ReadState(dec); err != nil {
		return err
	}
	if d.netCfg.Bottleneck == "auto" {
		if err := d.readBottleneck(dec); err != nil {
			return err
		}
	}
	switch {
	case d.search != nil:
		if err := d.search.readState(dec); err != nil {
			return err
		}
	case d.ae != nil:
		if err := d.ae.ReadState(dec); err != nil {
			return err
		}
	}
	if err := d.cal.readState(dec); err != nil {
		return err
	}
	if d.calWin != nil {
		if err := d.calWin.readState(dec); err != nil {
			return err
		}
	}
	if d.coarse != nil {
		if err := d.coarse.readState(dec); err != nil {
			return err
		}
	}
	d.alert.readState(dec)
	d.seq, d.accepted, d.windows = dec.U64(), dec.Int(), dec.U64()
	dec.F64sInto(d.minVal, "running minimum")
	dec.F64sInto(d.maxVal, "running maximum")
	d.wildRun = dec.Int()
	if dec.Err() == nil && d.wildRun < 0 {
		return fmt.Errorf("detector: snapshot's run of wild values %d is negative", d.wildRun)
	}
	d.episodeEnd = dec.U64()
	if d.daily != nil {
		d.daily.readState(dec)
	}
	if dec.Err() == nil && d.episodeEnd > uint64(d.accepted)+1 {
		return fmt.Errorf("detector: snapshot's score episode ends at accepted sample %d, after its newest (%d)", d.episodeEnd, d.accepted)
	}
	d.ahead.held, d.ahead.t = dec.Bool(), dec.I64()
	dec.F64sInto(d.ahead.x, "sample held as dated ahead")
	if d.ahead.merged = dec.Int(); dec.Err() == nil && (d.ahead.merged < 0 || d.ahead.merged > 0 && !d.ahead.held) {
		return fmt.Errorf("detector: snapshot's sample held as dated ahead has %d messages merged into it", d.ahead.merged)
	}
	n := dec.Int()
	if dec.Err() == nil && (n < 0 || n > d.cfg.Window.Stride) {
		return fmt.Errorf("detector: snapshot has %d pending samples, stride is %d", n, d.cfg.Window.Stride)
	}
	d.pending = d.pending[:0]
	for i := 0; i < n; i++ {
		d.pending = append(d.pending, pendingSample{seq: dec.U64(), time: dec.I64()})
	}
	if d.miss != nil {
		if err := d.miss.readState(dec); err != nil {
			return err
		}
	}
	if err := d.counters.readState(dec); err != nil {
		return err
	}
	dec.F64sInto(d.why.Share, "anomaly shares")
	dec.F64sInto(d.why.Departure, "anomaly departures")
	if i := dec.Int(); i >= 0 && i < len(anomalyStatistics) {
		d.why.Statistic = anomalyStatistics[i]
	} else if dec.Err() == nil {
		return fmt.Errorf("detector: anomaly explanation's statistic %d out of range", i)
	}
	d.why.Tolerance, d.why.ToleranceChannel, d.why.Verdicts = dec.F64(), dec.Int(), dec.Int()
	if dec.Err() == nil && (!finite(d.why.Tolerance) || d.why.ToleranceChannel < 0 || d.why.ToleranceChannel >= d.channels || d.why.Verdicts < 0) {
		return errors.New("detector: anomaly explanation's tolerance out of range")
	}
	if d.drift != nil {
		if err := d.drift.readState(dec); err != nil {
			return err
		}
	}
	if d.ref != nil {
		if err := d.ref.readState(dec); err != nil {
			return err
		}
	}
	if d.quality != nil {
		if err := d.quality.readState(dec); err != nil {
			return err
		}
	}
	if err := d.fb.readState(dec); err != nil {
		return err
	}
	if d.den != nil {
		if err := d.den.readState(dec); err != nil {
			return err
		}
	}
	d.shadow = nil
	if dec.Bool() {
		if b := dec.Bytes(len(body)); dec.Err() == nil {
			if err := d.restoreShadow(b); err != nil {
				return fmt.Errorf("detector: maintenance window's copy: %w", err)
			}
		}
	}
	return dec.Done()
}

func (c *calibrator) appendState(e *statecodec.Encoder) {
	e.F64(c.errMean)
	e.Int(c.seen)
	e.F64s(c.avgRing)
	e.F64(c.avgSum)
	e.Int(c.avgPos)
	e.Int(c.avgN)
	e.Bytes(c.hist[:c.histN]) // the rest is not yet written
	e.Int(c.histPos)
	e.F64(c.mean)
	e.F64(c.std)
	e.Int(c.sinceFit)
	e.Bool(c.fitted)
	e.F64(c.prevTail)
	e.F64(c.prevAlert)
	e.F64(c.potAt)
	e.F64(c.potScale)
	if t := c.inst; t != nil {
		e.F64(t.at)
		e.F64(t.excess)
		e.Int(t.n)
		e.Int(t.peaks)
		e.F64(t.prev)
	}
}

func (c *calibrator) readState(d *statecodec.Decoder) error {
	c.errMean, c.seen = d.F64(), d.Int()
	c.reachValid = false
	d.F64sInto(c.avgRing, "calibration average")
	c.avgSum, c.avgPos, c.avgN = d.F64(), d.Int(), d.Int()
	c.hist = d.Bytes(c.histLen())
	c.histN = len(c.hist)
	c.histPos = d.Int()
	c.mean, c.std, c.sinceFit, c.fitted, c.prevTail = d.F64(), d.F64(), d.Int(), d.Bool(), d.F64()
	c.prevAlert, c.potAt, c.potScale = d.F64(), d.F64(), d.F64()
	if !finite(c.potAt) || !finite(c.potScale) || c.potScale < 0 {
		return errors.New("detector: calibration tail out of range")
	}
	if t := c.inst; t != nil {
		t.at, t.excess, t.n, t.peaks, t.prev = d.F64(), d.F64(), d.Int(), d.Int(), d.F64()
		if !finite(t.at) || !finite(t.excess) || t.excess < 0 || t.n < 0 || t.peaks < 0 || t.peaks > t.n {
			return errors.New("detector: calibration's single-sample tail out of range")
		}
	}
	if err := d.Err(); err != nil {
		return err
	}
	if c.avgPos < 0 || c.avgPos >= len(c.avgRing) || c.avgN < 0 || c.avgN > len(c.avgRing) ||
		c.histPos < 0 || c.histPos >= c.histLen() || (c.histN < c.histLen() && c.histPos != c.histN) {
		return errors.New("detector: calibration state out of range")
	}
	return nil
}

func (m *driftMonitor) appendState(e *statecodec.Encoder) {
	e.Int(m.n)
	e.Int(m.seen)
	e.Int(m.sinceAnomaly)
	e.Bool(m.rebaseline)
	m.alert.appendState(e)
	e.I64(m.onset)
	e.Int(m.onsetN)
	for _, s := range [][]float64{m.share, m.departure, m.spread, m.rate} {
		e.F64s(s)
	}
	for i := range m.ch {
		c := &m.ch[i]
		for _, v := range c.floats() {
			e.F64(*v)
		}
		e.Int(c.batches)
		e.Int(c.directN)
		for s := range c.cusum {
			e.F64(c.cusum[s])
			e.I64(c.since[s])
			e.Int(c.sinceN[s])
		}
	}
	if m.season != nil {
		m.season.appendState(e)
	}
	if m.states != nil {
		m.states.appendState(e)
		e.Bool(m.slowStates)
		e.F64s(m.rawDep)
		e.F64s(m.rawRef)
	}
}

func (m *driftMonitor) readState(d *statecodec.Decoder) error {
	m.n, m.seen, m.sinceAnomaly, m.rebaseline = d.Int(), d.Int(), d.Int(), d.Bool()
	m.alert.readState(d)
	a := &m.alert
	m.onset, m.onsetN = d.I64(), d.Int()
	d.F64sInto(m.share, "drift shares")
	d.F64sInto(m.departure, "drift departures")
	d.F64sInto(m.spread, "drift spreads")
	d.F64sInto(m.rate, "drift rates")
	for i := range m.ch {
		c := &m.ch[i]
		for _, p := range c.floats() {
			*p = d.F64()
		}
		c.batches, c.directN = d.Int(), d.Int()
		for s := range c.cusum {
			c.cusum[s], c.since[s], c.sinceN[s] = d.F64(), d.I64(), d.Int()
		}
	}
	if err := d.Err(); err != nil {
		return err
	}
	if m.n < 0 || m.seen < m.n || m.sinceAnomaly < 0 || m.sinceAnomaly > m.spreadHoldAfter() || a.below < 0 || a.length < 0 {
		return errors.New("detector: drift state out of range")
	}
	for i := range m.ch {
		c := &m.ch[i]
		for _, v := range c.floats() {
			if math.IsNaN(*v) || math.IsInf(*v, 0) {
				return errors.New("detector: drift state not finite")
			}
		}
		for _, v := range c.cusum {
			if !(v >= 0) || math.IsInf(v, 0) {
				return errors.New("detector: drift statistic out of range")
			}
		}
		for _, n := range c.sinceN {
			if n < 0 || n > m.seen {
				return errors.New("detector: drift onset out of range")
			}
		}
	}
	if !(a.peak >= 0 && a.peak <= 1) {
		return errors.New("detector: drift alert peak out of range")
	}
	if m.season != nil {
		if err := m.season.readState(d); err != nil {
			return err
		}
	}
	for i := range m.ch {
		// After the season: the reference is as long as its cycle.
		if c := &m.ch[i]; m.n > m.reference() && !(c.levelSD > 0 && c.spreadSD > 0) {
			return errors.New("detector: drift reference spread not positive")
		}
	}
	if m.states != nil {
		if err := m.states.readState(d); err != nil {
			return err
		}
		m.slowStates = d.Bool()
		d.F64sInto(m.rawDep, "drift departures in sensor units")
		d.F64sInto(m.rawRef, "drift reference departures in sensor units")
		if err := d.Err(); err != nil {
			return err
		}
		if slices.ContainsFunc(m.rawDep, notFinite) || slices.ContainsFunc(m.rawRef, notFinite) {
			return errors.New("detector: drift departures not finite")
		}
		return nil
	}
	return nil
}

// floats lists the channel's float state in snapshot order.
func (c *driftChannel) floats() []*float64 {
	return []*float64{&c.refMean, &c.refM2, &c.refStep, &c.batchSum, &c.batchStep, &c.bmMean, &c.bmM2,
		&c.bsMean, &c.bsM2, &c.level, &c.spread, &c.levelSD, &c.spreadSD, &c.prev, &c.slowLevel, &c.slowSpread,
		&c.lShift, &c.lSum, &c.lSum2, &c.sShift, &c.sSum, &c.sSum2, &c.recentLevel}
}

func (a *alertState) appendState(e *statecodec.Encoder) {
	e.Bool(a.open)
	e.Int(a.below)
	e.Int(a.sinceShut)
	e.F64(a.peak)
	e.I64(a.openedAt)
	e.Int(a.length)
}

func (a *alertState) readState(d *statecodec.Decoder) {
	a.open, a.below, a.sinceShut = d.Bool(), d.Int(), d.Int()
	a.peak, a.openedAt, a.length = d.F64(), d.I64(), d.Int()
}

// readBF16s reads at most max bfloat16 values, each finite and not
// negative, into a slice of exactly their number.
func readBF16s(d *statecodec.Decoder, max int, what string) []uint16 {
	v := d.U16sUpTo(max, what)
	for _, h := range v {
		if !detmath.FiniteBF16(h) || h&0x8000 != 0 {
			d.Fail(fmt.Errorf("detector: %s holds %#04x, not a finite value >= 0", what, h))
			return nil
		}
	}
	return v
}

func (c *tailCalibrator) appendState(e *statecodec.Encoder) {
	e.U16s(c.hist[:c.histN]) // the rest is not yet written
	e.Int(c.histPos)
	e.Int(c.sinceFit)
	e.F64(c.threshold)
	e.F64(c.scale)
	e.Bool(c.fitted)
	e.U16s(c.below)
	e.Int(c.belowN)
	e.Int(c.belowK)
}

func (c *tailCalibrator) readState(d *statecodec.Decoder) error {
	c.hist = readBF16s(d, c.cfg.History, "tail history")
	c.histN = len(c.hist)
	c.histPos, c.sinceFit = d.Int(), d.Int()
	c.threshold, c.scale, c.fitted = d.F64(), d.F64(), d.Bool()
	c.below = readBF16s(d, tailRanks+1, "tail ranks")
	c.belowN, c.belowK = d.Int(), d.Int()
	if err := d.Err(); err != nil {
		return err
	}
	if c.histPos < 0 || c.histPos >= c.cfg.History || (c.histN < c.cfg.History && c.histPos != c.histN) || c.sinceFit < 0 ||
		(c.fitted && (!(c.scale > 0) || c.histN == 0 || len(c.below) != tailRanks+1 || c.belowN < 1 || c.belowN > c.cfg.History ||
			c.belowK < 0 || c.belowK >= c.belowN || !slices.IsSorted(c.below))) {
		return errors.New("detector: tail calibration state out of range")
	}
	return nil
}

func (r *reference) appendState(e *statecodec.Encoder) error {
	r.norm.AppendState(e)
	if r.ae != nil {
		if err := r.ae.AppendState(e); err != nil {
			return err
		}
	}
	r.cal.appendState(e)
	for _, cc := range r.chCal {
		cc.appendState(e)
	}
	e.Int(r.seen)
	e.U64(r.windows)
	e.F64(r.cusum)
	e.F64s(r.meanSq)
	e.Int(r.meanN)
	if r.season != nil {
		r.season.appendState(e)
	}
	e.Int(r.period)
	r.marg.appendState(e)
	r.trans.appendState(e)
	if r.recur != nil {
		r.recur.appendState(e)
	}
	if r.runs != nil {
		r.runs.appendState(e)
	}
	for _, ct := range r.tests {
		for _, t := range ct.tails {
			t.appendState(e)
		}
	}
	e.Bool(r.heldSet)
	for _, h := range r.held {
		e.Bool(h)
	}
	e.Int(r.heldFor)
	if r.peak != nil {
		e.F64s(r.peak)
		for _, b := range r.back {
			e.Int(b)
		}
	}
	if r.anchor != nil {
		e.Int(r.anchorFor)
		e.F64s(r.anchor)
		e.F64s(r.meanSum)
		e.F64s(r.meanSqSum)
		e.F64s(r.levelSq)
		for _, g := range r.letGo {
			e.Bool(g)
		}
	}
	e.Bool(r.seasonPending)
	if r.rel != nil {
		r.rel.appendState(e)
	}
	if r.trend != nil {
		r.trend.appendState(e)
	}
	e.Bool(r.prev != nil)
	if r.prev != nil {
		return r.prev.appendState(e)
	}
	return nil
}

func (r *reference) readState(d *statecodec.Decoder) error {
	if err := r.norm.ReadState(d); err != nil {
		return err
	}
	if r.ae != nil {
		if err := r.ae.ReadState(d); err != nil {
			return err
		}
	}
	if err := r.cal.readState(d); err != nil {
		return err
	}
	for _, cc := range r.chCal {
		if err := cc.readState(d); err != nil {
			return err
		}
	}
	r.seen, r.windows, r.cusum = d.Int(), d.U64(), d.F64()
	d.F64sInto(r.meanSq, "reference window-mean spread")
	r.meanN = d.Int()
	if r.season != nil {
		if err := r.season.readState(d); err != nil {
			return err
		}
	}
	r.period = d.Int()
	if err := r.marg.readState(d); err != nil {
		return err
	}
	if err := r.trans.readState(d); err != nil {
		return err
	}
	if r.recur != nil {
		if err := r.recur.readState(d); err != nil {
			return err
		}
	}
	if r.runs != nil {
		if err := r.runs.readState(d); err != nil {
			return err
		}
	}
	for _, ct := range r.tests {
		for _, t := range ct.tails {
			if err := t.readState(d); err != nil {
				return err
			}
		}
	}
	r.heldSet = d.Bool()
	for j := range r.held {
		r.held[j] = d.Bool()
	}
	if r.heldFor = d.Int(); r.heldFor < 0 {
		d.Fail(fmt.Errorf("detector: snapshot holds a negative hold count %d", r.heldFor))
	}
	if r.peak != nil {
		d.F64sInto(r.peak, "reference departures in an open alert")
		for j := range r.back {
			if r.back[j] = d.Int(); r.back[j] < 0 {
				d.Fail(fmt.Errorf("detector: snapshot holds a negative count of windows back from a fault %d", r.back[j]))
			}
		}
	}
	if r.anchor != nil {
		if r.anchorFor = d.Int(); r.anchorFor < 0 || r.anchorFor > r.anchorWindows {
			d.Fail(fmt.Errorf("detector: snapshot holds %d windows followed since the period, want [0, %d]", r.anchorFor, r.anchorWindows))
		}
		d.F64sInto(r.anchor, "reference anchors")
		d.F64sInto(r.meanSum, "reference window means since the period")
		d.F64sInto(r.meanSqSum, "reference square window means since the period")
		d.F64sInto(r.levelSq, "reference square departures from the levels")
		for j := range r.letGo {
			r.letGo[j] = d.Bool()
		}
		for j := range r.anchor {
			// An anchored level is set to its anchor.
			if d.Err() == nil && (!finite(r.anchor[j]) || !finite(r.meanSum[j]) || !(r.meanSqSum[j] >= 0) || !(r.levelSq[j] >= 0) || math.IsInf(r.meanSqSum[j]+r.levelSq[j], 0)) {
				d.Fail(fmt.Errorf("detector: snapshot holds a reference anchor of channel %d that is not finite", j))
			}
		}
	}
	r.seasonPending = d.Bool()
	if r.rel != nil {
		if err := r.rel.readState(d); err != nil {
			return err
		}
	}
	if r.trend != nil {
		if err := r.trend.readState(d); err != nil {
			return err
		}
	}
	r.prev = nil
	if d.Bool() {
		if r.spawn == nil || !r.learning() {
			return errors.New("detector: snapshot holds a reference before a restart where none can be")
		}
		p, err := r.spawn()
		if err != nil {
			return err
		}
		p.setContext(r.context)
		p.retired()
		if err := p.readState(d); err != nil {
			return err
		}
		if p.learning() {
			return errors.New("detector: snapshot holds a reference before a restart that had not finished its period")
		}
		r.prev = p
	}
	if err := d.Err(); err != nil {
		return err
	}
	if r.period < r.cfg.Samples || (r.period > r.cfg.Samples && r.period > max(recurrencePeriod(r.cfg.Recurrence), marginalLongest*r.cfg.Samples)) {
		return fmt.Errorf("detector: reference period %d out of range", r.period)
	}
	r.norm.SetWarmup(r.period)
	if r.seen < 0 || r.meanN < 0 || !(r.cusum >= 0 && r.cusum <= 2*r.cfg.Evidence) ||
		slices.ContainsFunc(r.meanSq, func(v float64) bool { return !(v >= 0 && v <= math.MaxFloat64) }) {
		return errors.New("detector: reference state out of range")
	}
	return nil
}

// readBottleneck reads the size model.bottleneck: auto chose (0: still
// searching) and shapes the detector for it: the candidates while it
// searches, the chosen network after.
func (d *Detector) readBottleneck(dec *statecodec.Decoder) error {
	k := dec.Int()
	switch {
	case dec.Err() != nil:
		return dec.Err()
	case k < 0 || k > d.netCfg.AutoMax:
		return fmt.Errorf("detector: snapshot's bottleneck %d outside [0, %d]", k, d.netCfg.AutoMax)
	case k == 0 && d.search == nil:
		return d.startSearch()
	case k > 0 && k != d.chosen:
		a, err := model.New(d.netCfg.WithBottleneck(k), d.vecLen(), d.cfg.Seed)
		if err != nil {
			return err
		}
		d.ae, d.search, d.chosen = a, nil, k
		d.code = make([]float64, k)
	}
	return nil
}
