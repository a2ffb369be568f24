package detector

import (
	"errors"
	"math"

	"github.com/aewatch/aewatch/internal/grow"
	"github.com/aewatch/aewatch/internal/statecodec"
)

// transient holds the reference's errors for the windows of an open alert
// until it closes. An alert that ends within transientWindows windows was
// a transient: its errors then join the calibration histories, so that a
// rare but recurring pattern of normal data (a duty cycle's switching, a
// batch starting) keeps its place in the tail. Left out, each such alert
// narrows the tail and makes the next one likelier, until every one
// alerts. A longer alert's errors stay out: a sustained fault must not
// teach the tail that it is normal.
type transient struct {
	width int // values per window: pooled error, channel errors, marginal statistic, each channel test's statistics
	// buf holds windows × width values as the tail models store them
	// (tailValue), allocated while an alert is open.
	buf  []uint16
	open bool
	over bool // the alert outlasted the buffer
}

// transientWindows is the longest alert, in windows, taken as a transient:
// two windows' length, the time a single unusual sample stays in view.
const transientWindows = 64

// newTransient holds, per window, the pooled error, the channels' errors,
// the marginal statistic and the channels' statistic of each of tests.
func newTransient(channels, tests int) *transient {
	return &transient{width: 2 + channels*(1+tests)}
}

// hold records the window just scored while an alert is open.
func (t *transient) hold(r *reference) {
	if !t.open {
		t.open, t.over, t.buf = true, false, t.buf[:0]
	}
	lim := transientWindows * t.width
	if len(t.buf) == lim {
		t.over = true
		return
	}
	keep := func(v float64) { t.buf = grow.Append(t.buf, lim, tailValue(v)) }
	keep(r.err)
	rows := float64(len(r.vec) / len(r.chErr))
	for _, e := range r.chErr {
		keep(math.Sqrt(e / rows))
	}
	keep(r.marg.last)
	for _, ct := range r.tests {
		for _, v := range ct.stat {
			keep(v)
		}
	}
}

// release ends the alert: a transient's errors are accepted.
func (t *transient) release(r *reference) {
	t.open = false
	if t.over {
		t.buf = nil
		return
	}
	c := len(r.chErr)
	for w := t.buf; len(w) > 0; w = w[t.width:] {
		r.cal.acceptStored(w[0])
		for j, cc := range r.chCal {
			cc.acceptStored(w[1+j])
		}
		if r.marg.active() {
			r.marg.cal.acceptStored(w[1+c])
		}
		for k, ct := range r.tests {
			for j, h := range w[2+c+k*c : 2+c+(k+1)*c] {
				ct.tails[j].acceptStored(h)
			}
		}
	}
	t.buf = nil
}

func (t *transient) appendState(e *statecodec.Encoder) {
	e.Bool(t.open)
	e.Bool(t.over)
	e.U16s(t.buf)
}

func (t *transient) readState(d *statecodec.Decoder) error {
	t.open, t.over = d.Bool(), d.Bool()
	t.buf = readBF16s(d, transientWindows*t.width, "transient alert errors")
	if err := d.Err(); err != nil {
		return err
	}
	if len(t.buf)%t.width != 0 {
		return errors.New("detector: transient alert state out of range")
	}
	return nil
}
