package model

import (
	"fmt"

	"github.com/aewatch/aewatch/internal/detmath"
	"github.com/aewatch/aewatch/internal/statecodec"
)

// AppendState writes the network's complete state: weights, optimiser
// moments, averaged weights, replay and random source (a frozen network's
// weights and random source only).
func (a *Autoencoder) AppendState(e *statecodec.Encoder) error {
	e.Bool(a.frozen)
	if a.frozen {
		e.U16s(a.packed)
		return a.appendRand(e)
	}
	e.F32s(a.params)
	e.F32s(a.m)
	e.F32s(a.v)
	e.F32s(a.avg)
	e.Int(a.steps)
	e.F64(a.beta1Pow)
	e.F64(a.beta2Pow)
	e.U16s(a.replay[:a.replayCount*a.n]) // the slots not yet written are not kept
	e.Int(a.replayCount)
	e.Int(a.replayNext)
	e.Int(a.anchors)
	return a.appendRand(e)
}

func (a *Autoencoder) appendRand(e *statecodec.Encoder) error {
	rng, err := a.pcg.MarshalBinary()
	if err != nil {
		return err
	}
	e.Bytes(rng)
	return nil
}

// ReadState restores what AppendState wrote into a network of the same
// configuration.
func (a *Autoencoder) ReadState(d *statecodec.Decoder) error {
	if d.Bool() {
		a.Freeze()
	} else {
		a.Thaw()
	}
	if a.frozen {
		packed := d.U16sUpTo(len(a.packed), "model weights")
		if d.Err() == nil && len(packed) != len(a.packed) {
			return fmt.Errorf("model state: %d weights, want %d", len(packed), len(a.packed))
		}
		for _, h := range packed {
			if !detmath.FiniteBF16(h) {
				return fmt.Errorf("model state: a weight is not finite (%#04x)", h)
			}
		}
		copy(a.packed, packed)
		rng := d.Bytes(64)
		if err := d.Err(); err != nil {
			return err
		}
		return a.pcg.UnmarshalBinary(rng)
	}
	d.F32sInto(a.params, "model weights")
	d.F32sInto(a.m, "optimiser first moments")
	d.F32sInto(a.v, "optimiser second moments")
	d.F32sInto(a.avg, "averaged weights")
	a.steps = d.Int()
	a.beta1Pow, a.beta2Pow = d.F64(), d.F64()
	a.replay = d.U16sUpTo(a.cfg.ReplaySize*a.n, "replay")
	kept := len(a.replay)
	for _, h := range a.replay {
		if !detmath.FiniteBF16(h) {
			return fmt.Errorf("model state: replay holds a non-finite value (%#04x)", h)
		}
	}
	a.replayCount, a.replayNext, a.anchors = d.Int(), d.Int(), d.Int()
	rng := d.Bytes(64)
	if err := d.Err(); err != nil {
		return err
	}
	if !(a.beta1Pow >= 0 && a.beta1Pow <= 1 && a.beta2Pow >= 0 && a.beta2Pow <= 1) {
		return fmt.Errorf("model state: Adam powers %v, %v outside [0, 1]", a.beta1Pow, a.beta2Pow)
	}
	if a.steps < 0 || a.replayCount < 0 || a.replayCount > a.cfg.ReplaySize || kept != a.replayCount*a.n || a.replayNext < 0 ||
		(a.cfg.ReplaySize > 0 && a.replayNext >= a.cfg.ReplaySize) || a.anchors < 0 || a.anchors > a.replayCount ||
		(a.anchors > 0 && a.replayNext < a.anchors) {
		return fmt.Errorf("model state: steps %d, replay %d/%d (%d anchored) out of range", a.steps, a.replayCount, a.replayNext, a.anchors)
	}
	return a.pcg.UnmarshalBinary(rng)
}
