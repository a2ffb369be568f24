package window

import (
	"fmt"
	"math"

	"github.com/aewatch/aewatch/internal/statecodec"
)

// AppendState writes the window's complete state.
func (w *Window) AppendState(e *statecodec.Encoder) {
	e.F64s(w.raw)
	e.Int(w.head)
	e.Int(w.filled)
	e.Int(w.pending)
	e.I64(w.lastTime)
	e.Bool(w.started)
	e.F64(w.step)
	for _, v := range []uint64{w.stats.Accepted, w.stats.Windows, w.stats.NonFinite, w.stats.OutOfOrder, w.stats.Gaps, w.stats.OutOfRange} {
		e.U64(v)
	}
}

// ReadState restores what AppendState wrote into a window of the same shape.
func (w *Window) ReadState(d *statecodec.Decoder) error {
	d.F64sInto(w.raw, "window ring")
	w.head, w.filled, w.pending = d.Int(), d.Int(), d.Int()
	w.lastTime, w.started, w.step = d.I64(), d.Bool(), d.F64()
	for _, p := range []*uint64{&w.stats.Accepted, &w.stats.Windows, &w.stats.NonFinite, &w.stats.OutOfOrder, &w.stats.Gaps, &w.stats.OutOfRange} {
		*p = d.U64()
	}
	if err := d.Err(); err != nil {
		return err
	}
	size := w.cfg.Size
	if !(w.step >= 0 && w.step <= math.MaxInt64) {
		return fmt.Errorf("window state: typical step %v", w.step)
	}
	if w.head < 0 || w.head >= size || w.filled < 0 || w.filled > size || w.pending < 0 || w.pending > size {
		return fmt.Errorf("window state: head %d, filled %d, pending %d out of range for size %d", w.head, w.filled, w.pending, size)
	}
	return nil
}

// AppendState writes the normaliser's state.
func (n *Normaliser) AppendState(e *statecodec.Encoder) {
	e.Int(n.n)
	e.F64s(n.mean)
	e.F64s(n.m2)
}

// ReadState restores what AppendState wrote.
func (n *Normaliser) ReadState(d *statecodec.Decoder) error {
	n.n = d.Int()
	d.F64sInto(n.mean, "normaliser mean")
	d.F64sInto(n.m2, "normaliser variance")
	if n.n < 0 {
		return fmt.Errorf("normaliser state: count %d", n.n)
	}
	return d.Err()
}
