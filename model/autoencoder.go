package model

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/blas/blas64"
)

// layer is one dense layer; its slices alias the Autoencoder's flat buffers.
type layer struct {
	w, gw   blas64.General // out × in
	b, gb   []float64
	out, in int
}

// Autoencoder is a dense denoising autoencoder trained online.
type Autoencoder struct {
	cfg    Config
	n      int // inputs = outputs
	layers []layer
	scorer []layer // the layers Reconstruct uses: layers, or views of avg

	avg []float64 // Polyak average of params, with Average > 0

	params, grads []float64 // all weights then biases, flat
	m, v          []float64 // optimiser moments (v only for Adam)
	steps         int
	beta1Pow      float64
	beta2Pow      float64

	act   [][]float64 // act[0] input, act[len(layers)] output
	delta [][]float64 // delta[l] is dLoss/dz at act[l]
	clean []float64   // training target

	// Per layer, each training pass's output gradient and input, from which
	// gradients forms the weight gradients once per step.
	passD, passA [][]float64
	passes       int
	ones         []float64 // a bias's "input" in every pass

	replay      []float32 // ReplaySize × n: normalised windows, float32 is precision enough
	replayCount int
	replayNext  int
	anchors     int // replay slots Learn leaves alone

	rng *rand.Rand
	pcg *rand.PCG
}

// New builds an autoencoder for vectors of n values, its weights drawn from
// the seed.
func New(cfg Config, n int, seed uint64) (*Autoencoder, error) {
	if err := cfg.Validate(n); err != nil {
		return nil, err
	}
	cfg.Hidden = append([]int(nil), cfg.Hidden...)
	sizes := append(append([]int{n}, cfg.Hidden...), n)
	total := 0
	for l := 1; l < len(sizes); l++ {
		total += sizes[l]*sizes[l-1] + sizes[l]
	}
	pcg := rand.NewPCG(seed, 0x6165776174636821) // "aewatch!"
	a := &Autoencoder{
		cfg:      cfg,
		n:        n,
		params:   make([]float64, total),
		grads:    make([]float64, total),
		m:        make([]float64, total),
		beta1Pow: 1,
		beta2Pow: 1,
		clean:    make([]float64, n),
		replay:   make([]float32, cfg.ReplaySize*n),
		pcg:      pcg,
		rng:      rand.New(pcg),
	}
	if cfg.Optimizer == "adam" {
		a.v = make([]float64, total)
	}
	off := 0
	for l := 1; l < len(sizes); l++ {
		out, in := sizes[l], sizes[l-1]
		ly := layer{out: out, in: in}
		ly.w = blas64.General{Rows: out, Cols: in, Stride: in, Data: a.params[off : off+out*in]}
		ly.gw = blas64.General{Rows: out, Cols: in, Stride: in, Data: a.grads[off : off+out*in]}
		off += out * in
		ly.b = a.params[off : off+out]
		ly.gb = a.grads[off : off+out]
		off += out
		// Glorot-uniform weights, zero biases.
		lim := math.Sqrt(6 / float64(in+out))
		for i := range ly.w.Data {
			u := float64(a.rng.Float64()) // rounded here: no fusing into what follows
			ly.w.Data[i] = (float64(2*u) - 1) * lim
		}
		a.layers = append(a.layers, ly)
	}
	a.scorer = a.layers
	if cfg.Average > 0 {
		a.avg = append([]float64(nil), a.params...)
		a.scorer = make([]layer, len(a.layers))
		off := 0
		for l, ly := range a.layers {
			sl := ly
			sl.w.Data = a.avg[off : off+ly.out*ly.in]
			off += ly.out * ly.in
			sl.b = a.avg[off : off+ly.out]
			off += ly.out
			a.scorer[l] = sl
		}
	}
	for _, s := range sizes {
		a.act = append(a.act, make([]float64, s))
		a.delta = append(a.delta, make([]float64, s))
	}
	maxPasses := cfg.ReplayBatch + 1
	for _, ly := range a.layers {
		a.passD = append(a.passD, make([]float64, maxPasses*ly.out))
		a.passA = append(a.passA, make([]float64, maxPasses*ly.in))
	}
	a.ones = make([]float64, maxPasses)
	for i := range a.ones {
		a.ones[i] = 1
	}
	return a, nil
}

// Inputs returns the length of the vectors the network takes.
func (a *Autoencoder) Inputs() int { return a.n }

// Reconstruct runs x through the network without corruption and returns the
// output. The slice is owned by a and valid until its next call.
func (a *Autoencoder) Reconstruct(x []float64) []float64 {
	a.checkLen(x)
	copy(a.act[0], x)
	clear(a.act[0][a.n-a.cfg.MaskTail:])
	a.forward(a.scorer, x)
	return a.act[len(a.layers)]
}

// Learn takes one optimiser step on x (corrupted; loss against clean x) plus
// up to ReplayBatch windows replayed from those learned before, then keeps x
// for replay in place of the oldest. It returns the mean squared error on
// x's corrupted pass.
func (a *Autoencoder) Learn(x []float64) float64 {
	loss := a.step(x)
	a.keep(x, a.replayNext)
	return loss
}

// LearnSampled is Learn for a caller that keeps an even sample of a run of
// windows for replay instead of the most recent ones (reservoir sampling),
// so that a state seen early in the run is not forgotten by its end: x is
// the run's n-th window (from 1), draw a uniform random number the caller
// owns.
func (a *Autoencoder) LearnSampled(x []float64, n int, draw uint64) float64 {
	loss := a.step(x)
	switch {
	case a.replayCount < a.cfg.ReplaySize:
		a.keep(x, a.replayNext)
	case n > 0:
		if i := draw % uint64(n); i < uint64(a.cfg.ReplaySize) {
			a.keep(x, int(i))
		}
	}
	return loss
}

func (a *Autoencoder) step(x []float64) float64 {
	a.checkLen(x)
	a.passes = 0
	loss := a.accumulate(x)
	batch := 1
	for k := 0; k < a.cfg.ReplayBatch && a.replayCount > 0; k++ {
		i := a.rng.IntN(a.replayCount)
		for j, v := range a.replay[i*a.n : (i+1)*a.n] {
			a.clean[j] = float64(v) // accumulate reads its input from clean
		}
		a.accumulate(a.clean)
		batch++
	}
	a.gradients()
	a.update(1 / float64(batch))
	return loss
}

// keep stores x for replay in slot; the oldest slot moves on when it was
// the one used.
func (a *Autoencoder) keep(x []float64, slot int) {
	if a.cfg.ReplaySize == 0 {
		return
	}
	for i, v := range x {
		a.replay[slot*a.n+i] = float32(v)
	}
	if slot == a.replayNext {
		if a.replayNext++; a.replayNext == a.cfg.ReplaySize {
			a.replayNext = a.anchors
		}
	}
	a.replayCount = min(a.replayCount+1, a.cfg.ReplaySize)
}

// AnchorReplay keeps the first k windows kept for replay (at most as many
// as are kept) where they are: Learn then replaces the oldest of the
// others. A caller that sampled a run of windows with LearnSampled keeps
// part of that sample for good this way, while the rest follows what it
// learns next. 0 releases them.
func (a *Autoencoder) AnchorReplay(k int) {
	a.anchors = min(k, a.replayCount, max(a.cfg.ReplaySize-1, 0))
	if a.replayNext < a.anchors {
		a.replayNext = a.anchors
	}
}

// accumulate runs one corrupted training pass on x and records its
// per-layer output gradients and inputs for gradients.
func (a *Autoencoder) accumulate(x []float64) float64 {
	copy(a.clean, x)
	in := a.act[0]
	a.corrupt(in, x)
	clear(in[a.n-a.cfg.MaskTail:])
	a.forward(a.layers, a.clean)
	return a.backward(a.clean)
}

// corrupt writes x to in with each value masked (set to 0) with
// probability MaskProb and otherwise given Gaussian noise of SD NoiseStd.
func (a *Autoencoder) corrupt(in, x []float64) {
	for i, v := range x {
		// rand.Rand.Float64's draw, from the source directly (no interface call).
		if a.cfg.MaskProb > 0 && float64(a.pcg.Uint64()<<11>>11)/(1<<53) < a.cfg.MaskProb {
			v = 0
		} else if a.cfg.NoiseStd > 0 {
			v += float64(a.cfg.NoiseStd * gaussian(a.pcg.Uint64()))
		}
		in[i] = v
	}
}

// forward runs the network on act[0]; masked outputs with TailSkip add the
// last visible values of skip (the clean input, also while training, so the
// network learns residuals over what it will see when scoring).
func (a *Autoencoder) forward(layers []layer, skip []float64) {
	last := len(layers) - 1
	for l := range layers {
		ly := &layers[l]
		out := a.act[l+1]
		copy(out, ly.b)
		mulAddRows(ly.w.Data, ly.out, ly.in, a.act[l], out)
		if l != last {
			tanhInPlace(out)
		}
	}
	if c := a.cfg.TailSkip; c > 0 {
		out, in := a.act[last+1], skip
		lastVisible := a.n - a.cfg.MaskTail - c
		for i := a.n - a.cfg.MaskTail; i < a.n; i++ {
			out[i] += in[lastVisible+(i-lastVisible)%c]
		}
	}
}

// backward adds the gradient of loss = mean((out-target)^2)/2 to a.grads and
// returns mean((out-target)^2).
func (a *Autoencoder) backward(target []float64) float64 {
	L := len(a.layers)
	out, d := a.act[L], a.delta[L]
	inv := 1 / float64(a.n)
	var sse float64
	for i, y := range out {
		e := y - target[i]
		sse += float64(e * e)
		d[i] = e * inv
	}
	pass := a.passes
	a.passes++
	for l := L - 1; l >= 0; l-- {
		ly := &a.layers[l]
		dOut := a.delta[l+1]
		copy(a.passD[l][pass*ly.out:], dOut)
		copy(a.passA[l][pass*ly.in:], a.act[l])
		if l == 0 {
			break
		}
		dIn := a.delta[l]
		clear(dIn)
		mulAddRowsT(ly.w.Data, ly.out, ly.in, dOut, dIn)
		for i, h := range a.act[l] {
			dIn[i] *= 1 - float64(h*h)
		}
	}
	return sse * inv
}

// gradients sums the recorded passes into a.grads: each layer's weight
// gradient is the sum of the passes' outer products, its bias gradient the
// sum of their output gradients.
func (a *Autoencoder) gradients() {
	for l := range a.layers {
		ly := &a.layers[l]
		rankSum(ly.gw.Data, ly.out, ly.in, a.passD[l], a.passA[l], a.passes)
		// The bias gradient as a one-row sum, d = 1, so that it vectorises.
		rankSum(ly.gb, 1, ly.out, a.ones, a.passD[l], a.passes)
	}
}

func (a *Autoencoder) update(scale float64) {
	lr, b1 := a.cfg.LearningRate, a.cfg.Momentum
	a.steps++
	grads := a.grads
	params, m := a.params[:len(grads)], a.m[:len(grads)]
	if a.v == nil {
		for i, g := range grads {
			m[i] = float64(b1*m[i]) - float64(lr*g*scale)
			params[i] += m[i]
		}
	} else {
		b2 := a.cfg.Beta2
		a.beta1Pow = float64(a.beta1Pow * b1)
		a.beta2Pow = float64(a.beta2Pow * b2)
		step := lr * math.Sqrt(1-a.beta2Pow) / (1 - a.beta1Pow)
		adam(params, m, a.v, grads, &adamConsts{scale: scale, b1: b1, c1: 1 - b1, b2: b2, c2: 1 - b2, step: step, eps: 1e-8})
	}
	// The scoring weights follow the trained ones; early on the horizon is
	// the step count, so the average is not biased towards the init.
	if a.avg != nil {
		average(a.avg, params, 1/float64(min(a.steps, a.cfg.Average)))
	}
}

func (a *Autoencoder) checkLen(x []float64) {
	if len(x) != a.n {
		panic("model: input has wrong length")
	}
}

// Part is one component of a network's memory.
type Part struct {
	Name  string
	Bytes int
}

// BytesByPart is the memory the network holds, by what it is for.
func (a *Autoencoder) BytesByPart() []Part {
	work := len(a.clean) + len(a.ones)
	for i := range a.act {
		work += len(a.act[i]) + len(a.delta[i])
	}
	for l := range a.passD {
		work += len(a.passD[l]) + len(a.passA[l])
	}
	return []Part{
		{"weights", 8 * len(a.params)},
		{"gradients", 8 * len(a.grads)},
		{"optimiser moments", 8 * (len(a.m) + len(a.v))},
		{"averaged weights", 8 * len(a.avg)},
		{"replay of normal windows", 4 * len(a.replay)},
		{"activations and scratch", 8 * work},
	}
}
