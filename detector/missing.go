package detector

import (
	"fmt"
	"math"
	"slices"

	"github.com/aewatch/aewatch/internal/statecodec"
	"github.com/aewatch/aewatch/window"
)

// missingValues lets a sample of several channels with some values missing
// (NaN: a transmitter that dropped out, a field its message lacked) be
// scored on the channels it has, rather than lost for all of them. A
// missing value is filled with the channel's newest accepted value (before
// any, its newest value in the rows so far), so the
// window keeps its shape, and for as long as the window holds a filled
// value of a channel, that channel is masked: it adds nothing to the
// errors, the evidence or an alert's shares, its level does not follow,
// and nothing learns from the window (networks, normalisers, the
// reference and its tails, the relation, the denoiser), and an open alert
// that holds it stays open: its end cannot be told. The quality checks
// and the drift monitor skip the filled samples themselves: a dropout is
// neither a stuck sensor nor a drift. A sample with every value missing,
// or one with a channel that has had no value yet, is rejected as before.
//
// A channel sampled more slowly than the series' rows (a tag its historian
// logs every fifth row, a field sent in every other message) misses
// values all the time; masked each time, it would never be judged and the
// models would never learn. Once a channel's last cadenceGaps gaps were
// each short (at most half the window), its missing values are
// held: the newest reading stands as data, as a sample-and-hold would
// give it, and the channel stays scored and learnt from, until a gap
// outlasts twice its longest habitual one, which is a dropout again.
//
// It belongs to its Detector and shares its goroutine.
type missingValues struct {
	size int // window size
	// gap is, per channel, how many more accepted samples the window
	// holds a filled value of it for (0: none); masked says gap > 0.
	gap    []int
	masked []bool
	any    bool // some channel is masked
	// filled holds, for the last Stride accepted samples (slot: accepted
	// number - 1 mod Stride), which channels were filled: a stride's
	// pending samples each have their own.
	filled []bool
	// held marks, in the same slots, the filled values held as a slower
	// tag's newest reading rather than masked.
	held   []bool
	stride int
	// run is, per channel, how many samples in a row it has missed;
	// streak how many gaps in a row were short, and habit the longest of
	// them: the channel's cadence.
	run, streak, habit []int
	// first and seen hold each channel's newest value before the window
	// held any sample, to fill the first.
	first []float64
	seen  []bool
	// row is a row lacking values held for the next (assemble.go).
	row heldRow
	// scratch: the sample with its missing values filled, and the
	// channels missing in the sample being pushed.
	buf     []float64
	missing []bool
	errMask []bool
}

func newMissingValues(size, stride, channels int) *missingValues {
	if channels < 2 {
		return nil // one channel: a missing value leaves nothing to score
	}
	return &missingValues{size: size, stride: stride, gap: make([]int, channels), masked: make([]bool, channels),
		filled: make([]bool, stride*channels), held: make([]bool, stride*channels), buf: make([]float64, channels),
		missing: make([]bool, channels), errMask: make([]bool, channels),
		run: make([]int, channels), streak: make([]int, channels), habit: make([]int, channels),
		first: make([]float64, channels), seen: make([]bool, channels), row: heldRow{x: make([]float64, channels), spare: make([]float64, channels)}}
}

// cadenceGaps is how many short gaps in a row make a channel's missing
// values a slower cadence to hold rather than a dropout to mask.
const cadenceGaps = 8

// shortGap is the longest gap that counts towards a cadence: half the
// window, so that a window holds at least two of the channel's readings
// (a tag logged every 10 s beside one every second, at the default 32).
func (m *missingValues) shortGap() int { return max(1, m.size/2) }

// holds reports whether channel j's current gap (run samples so far) is
// its cadence's: held rather than masked.
func (m *missingValues) holds(j int) bool {
	return m.streak[j] >= cadenceGaps && m.run[j] <= min(2*m.habit[j], m.shortGap())
}

// endGap counts channel j's gap that a reading just ended towards its
// cadence, or breaks the cadence if the gap was long.
func (m *missingValues) endGap(j int) {
	if m.run[j] <= m.shortGap() {
		m.streak[j] = min(m.streak[j]+1, cadenceGaps)
		m.habit[j] = max(m.habit[j], m.run[j])
	} else {
		m.streak[j], m.habit[j] = 0, 0
	}
	m.run[j] = 0
}

// fill returns x with its missing values filled from the window's newest
// sample (firstValues' while it is empty), marking them in m.missing; x
// itself when none is missing, all are, there is nothing to fill from, or
// m is nil (one channel).
func (m *missingValues) fill(x []float64, win *window.Window) []float64 {
	if m == nil {
		return x
	}
	n := 0
	for j, v := range x {
		m.missing[j] = math.IsNaN(v)
		if m.missing[j] {
			n++
		}
	}
	if n == 0 || n == len(x) {
		clear(m.missing)
		return x
	}
	var newest []float64
	if win.Len() > 0 {
		newest = win.Newest(0)
	} else if newest = m.firstValues(x); newest == nil {
		clear(m.missing)
		return x
	}
	for j, v := range x {
		m.buf[j] = v
		if m.missing[j] {
			m.buf[j] = newest[j]
		}
	}
	return m.buf
}

// firstValues returns each channel's newest value before the window held
// any sample, x's own included, or nil while some missing channel has
// none: tags sampled at different rates may never give a first row with
// every value.
func (m *missingValues) firstValues(x []float64) []float64 {
	complete := true
	for j, v := range x {
		if !math.IsNaN(v) {
			m.first[j], m.seen[j] = v, true
		}
		complete = complete && m.seen[j]
	}
	if !complete {
		return nil
	}
	return m.first
}

// accept records the sample just accepted (number accepted, from 1): its
// filled channels and the window's masks.
func (m *missingValues) accept(accepted int) {
	if m == nil {
		return
	}
	c := len(m.gap)
	slot := (accepted - 1) % m.stride
	copy(m.filled[slot*c:(slot+1)*c], m.missing)
	held := m.held[slot*c : (slot+1)*c]
	for j := range m.gap {
		held[j] = false
		if !m.missing[j] {
			if m.run[j] > 0 {
				m.endGap(j)
			}
		} else {
			m.run[j]++
			held[j] = m.holds(j)
			if !held[j] {
				m.gap[j] = m.size
				continue
			}
		}
		if m.gap[j] > 0 {
			m.gap[j]--
		}
	}
	clear(m.missing)
	m.setMasks()
}

// setMasks derives masked and any from the gaps.
func (m *missingValues) setMasks() {
	m.any = false
	for j, g := range m.gap {
		m.masked[j] = g > 0
		m.any = m.any || m.masked[j]
	}
}

// filledAt returns the channels filled in the sample accepted as number
// accepted (one of the last Stride), or nil if none was.
func (m *missingValues) filledAt(accepted int) []bool {
	if m == nil {
		return nil
	}
	return m.slot(m.filled, accepted)
}

// heldAt returns the channels whose missing values were held as a slower
// tag's reading in the sample accepted as number accepted, or nil.
func (m *missingValues) heldAt(accepted int) []bool {
	if m == nil {
		return nil
	}
	return m.slot(m.held, accepted)
}

// slot returns the sample accepted as number accepted's part of ring, nil
// if it marks no channel.
func (m *missingValues) slot(ring []bool, accepted int) []bool {
	c := len(m.gap)
	s := (accepted - 1) % m.stride
	if part := ring[s*c : (s+1)*c]; slices.Contains(part, true) {
		return part
	}
	return nil
}

// windowMasked returns the masked channels, nil if none is.
func (m *missingValues) windowMasked() []bool {
	if m == nil || !m.any {
		return nil
	}
	return m.masked
}

// errorMask is the mask the window's errors leave out: the context
// channels and the masked ones, with how many channels remain.
func (m *missingValues) errorMask(context []bool, scored int) ([]bool, int) {
	if m == nil || !m.any {
		return context, scored
	}
	for j := range m.errMask {
		m.errMask[j] = m.masked[j] || isContext(context, j)
	}
	return m.errMask, scoredOf(len(m.errMask), m.errMask)
}

// appendState writes the gaps, the last stride's filled and held channels
// and the cadences.
func (m *missingValues) appendState(e *statecodec.Encoder) {
	for _, g := range m.gap {
		e.Int(g)
	}
	for i, f := range m.filled {
		e.Bool(f)
		e.Bool(m.held[i])
	}
	for j := range m.run {
		e.Int(m.run[j])
		e.Int(m.streak[j])
		e.Int(m.habit[j])
		e.Bool(m.seen[j])
		e.F64(m.first[j])
	}
	e.Bool(m.row.held)
	e.I64(m.row.t)
	e.I64(m.row.last)
	for _, v := range m.row.x {
		e.Bool(math.IsNaN(v)) // a value it lacks
		e.F64(zeroNaN(v))
	}
	e.Int(m.row.merged)
}

func (m *missingValues) readState(d *statecodec.Decoder) error {
	for j := range m.gap {
		m.gap[j] = d.Int()
		if d.Err() == nil && (m.gap[j] < 0 || m.gap[j] > m.size) {
			return fmt.Errorf("detector: snapshot's gap of filled values %d is outside [0, %d]", m.gap[j], m.size)
		}
	}
	for i := range m.filled {
		m.filled[i] = d.Bool()
		m.held[i] = d.Bool()
	}
	for j := range m.run {
		m.run[j], m.streak[j], m.habit[j] = d.Int(), d.Int(), d.Int()
		m.seen[j], m.first[j] = d.Bool(), d.F64()
		if d.Err() == nil && (m.run[j] < 0 || m.streak[j] < 0 || m.streak[j] > cadenceGaps || m.habit[j] < 0 || m.habit[j] > m.shortGap()) {
			return fmt.Errorf("detector: snapshot's cadence of missing values (run %d, streak %d, habit %d) is out of range", m.run[j], m.streak[j], m.habit[j])
		}
	}
	m.row.held, m.row.t, m.row.last = d.Bool(), d.I64(), d.I64()
	if d.Err() == nil && m.row.held && m.row.last < m.row.t {
		return fmt.Errorf("detector: snapshot's held row has its newest message at %d, before its time %d", m.row.last, m.row.t)
	}
	for j := range m.row.x {
		lacks, v := d.Bool(), d.F64()
		if m.row.x[j] = v; lacks {
			m.row.x[j] = math.NaN()
		}
	}
	m.row.merged = d.Int()
	if d.Err() == nil && (m.row.merged < 0 || m.row.merged > 0 && !m.row.held) {
		return fmt.Errorf("detector: snapshot's held row has %d messages merged into it", m.row.merged)
	}
	m.setMasks()
	return d.Err()
}

// missingHeld reports whether a channel the open anomaly alert holds
// (any, without a reference) is masked.
func (d *Detector) missingHeld() bool {
	masked := d.miss.windowMasked()
	if masked == nil {
		return false
	}
	if d.ref == nil || !d.ref.scoring().heldSet {
		return true
	}
	for j, m := range masked {
		if m && d.ref.scoring().held[j] {
			return true
		}
	}
	return false
}
