package detector

import (
	"errors"

	"github.com/aewatch/aewatch/internal/statecodec"
	"github.com/aewatch/aewatch/model"
)

// bottleneckSearch chooses the adapting network's bottleneck during
// warm-up (model.bottleneck: auto), as the textbook advises: start small,
// grow only while reconstruction improves. Candidates of 1 .. AutoMax
// units train side by side on the same windows; every holdEvery-th window
// is held back from all of them, and in the warm-up's second half their
// errors on those windows are summed. When warm-up ends the smallest size
// beyond which one more unit lowers that error by less than the share
// AutoImprovement is kept, and the others are dropped.
//
// The candidate of the configured size scores meanwhile; if another is
// chosen, the calibration starts afresh with the chosen network's errors.
type bottleneckSearch struct {
	nets   []*model.Autoencoder // candidate k+1 at k
	errSum []float64            // held-back squared error, per candidate
	held   int                  // held-back windows summed
	window int                  // windows seen
}

// holdEvery: one window in this many is held back from training.
const holdEvery = 5

func newBottleneckSearch(mc model.Config, inputs int, seed uint64) (*bottleneckSearch, error) {
	b := &bottleneckSearch{errSum: make([]float64, mc.AutoMax)}
	for k := 1; k <= mc.AutoMax; k++ {
		a, err := model.New(mc.WithBottleneck(k), inputs, seed)
		if err != nil {
			return nil, err
		}
		b.nets = append(b.nets, a)
	}
	return b, nil
}

// step trains every candidate on x, or holds x back and, in the warm-up's
// second half (late), adds each candidate's error on it.
func (b *bottleneckSearch) step(x []float64, learn, late bool) {
	b.window++
	if b.window%holdEvery != 0 {
		if learn {
			for _, a := range b.nets {
				a.Learn(x)
			}
		}
		return
	}
	if !late {
		return
	}
	for k, a := range b.nets {
		out := a.Reconstruct(x)
		var sse float64
		for i, v := range out {
			d := v - x[i]
			sse += float64(d * d)
		}
		b.errSum[k] += sse
	}
	b.held++
}

// choose is the size kept: the smallest k whose successor improves on its
// held-back error by less than the share improvement (AutoMax if every
// step improves; 0 with no held-back window).
func (b *bottleneckSearch) choose(improvement float64) int {
	if b.held == 0 {
		return 0
	}
	for k := 0; k+1 < len(b.errSum); k++ {
		if b.errSum[k+1] > float64((1-improvement)*b.errSum[k]) {
			return k + 1
		}
	}
	return len(b.errSum)
}

func (b *bottleneckSearch) appendState(e *statecodec.Encoder) error {
	e.F64s(b.errSum)
	e.Int(b.held)
	e.Int(b.window)
	for _, a := range b.nets {
		if err := a.AppendState(e); err != nil {
			return err
		}
	}
	return nil
}

func (b *bottleneckSearch) readState(d *statecodec.Decoder) error {
	d.F64sInto(b.errSum, "bottleneck search errors")
	b.held, b.window = d.Int(), d.Int()
	if err := d.Err(); err != nil {
		return err
	}
	if b.held < 0 || b.window < 0 {
		return errors.New("detector: bottleneck search state out of range")
	}
	for _, a := range b.nets {
		if err := a.ReadState(d); err != nil {
			return err
		}
	}
	return nil
}
