package detector

import (
	"fmt"
	"math"

	"github.com/aewatch/aewatch/internal/statecodec"
	"github.com/aewatch/aewatch/window"
)

// missingValues lets a sample of several channels with some values missing
// (NaN: a transmitter that dropped out, a field its message lacked) be
// scored on the channels it has, rather than lost for all of them. A
// missing value is filled with the channel's newest accepted value, so the
// window keeps its shape, and for as long as the window holds a filled
// value of a channel, that channel is masked: it adds nothing to the
// errors, the evidence or an alert's shares, its level does not follow,
// and nothing learns from the window (networks, normalisers, the
// reference and its tails, the relation, the denoiser), and an open alert
// that holds it stays open: its end cannot be told. The quality checks
// and the drift monitor skip the filled samples themselves: a dropout is
// neither a stuck sensor nor a drift. A sample with every value missing,
// or one before any value was accepted, is rejected as before.
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
	stride int
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
		filled: make([]bool, stride*channels), buf: make([]float64, channels), missing: make([]bool, channels),
		errMask: make([]bool, channels)}
}

// fill returns x with its missing values filled from the window's newest
// sample, marking them in m.missing; x itself when none is missing, all
// are, the window holds nothing to fill from, or m is nil (one channel).
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
	if n == 0 || n == len(x) || win.Len() == 0 {
		clear(m.missing)
		return x
	}
	newest := win.Newest(0)
	for j, v := range x {
		m.buf[j] = v
		if m.missing[j] {
			m.buf[j] = newest[j]
		}
	}
	return m.buf
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
	for j := range m.gap {
		if m.missing[j] {
			m.gap[j] = m.size
		} else if m.gap[j] > 0 {
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
	c := len(m.gap)
	slot := (accepted - 1) % m.stride
	f := m.filled[slot*c : (slot+1)*c]
	for _, v := range f {
		if v {
			return f
		}
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

// appendState writes the gaps and the last stride's filled channels.
func (m *missingValues) appendState(e *statecodec.Encoder) {
	for _, g := range m.gap {
		e.Int(g)
	}
	for _, f := range m.filled {
		e.Bool(f)
	}
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
	if d.ref == nil || !d.ref.heldSet {
		return true
	}
	for j, m := range masked {
		if m && d.ref.held[j] {
			return true
		}
	}
	return false
}
