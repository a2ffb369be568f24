package model

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/aewatch/aewatch/internal/detmath"
	"github.com/aewatch/aewatch/internal/grow"
)

// layer is one dense layer; its slices alias the Autoencoder's flat buffers.
type layer struct {
	w       []float32 // out × in, row-major; nil for a tied layer, and while frozen (packed)
	b       []float32
	out, in int
	off     int // where w starts in the flat parameters (b follows it)
	// mirror is, for a decoder layer tied to an encoder layer, that
	// layer's index: its weights are the mirror's transposed. -1 otherwise.
	mirror int
}

// weights is how many weights of the flat parameters the layer holds.
func (ly *layer) weights() int {
	if ly.mirror >= 0 {
		return 0
	}
	return ly.out * ly.in
}

// bind sets dst's layers to src's, their weights and biases views of
// params (laid out as the network's flat parameters).
func bind(dst, src []layer, params []float32) {
	for l, ly := range src {
		nw := ly.weights()
		ly.w, ly.b = nil, nil
		if params != nil {
			if nw > 0 {
				ly.w = params[ly.off : ly.off+nw]
			}
			ly.b = params[ly.off+nw : ly.off+nw+ly.out]
		}
		dst[l] = ly
	}
}

// Autoencoder is a dense denoising autoencoder trained online.
type Autoencoder struct {
	cfg    Config
	n      int // inputs = outputs
	layers []layer
	scorer []layer // the layers Reconstruct uses: layers, or views of avg

	avg []float32 // Polyak average of params, with Average > 0

	// The weights and their average are kept in float32 and every product
	// and sum is taken in float64 (the kernels widen four at a time): a
	// step moves a weight by about LearningRate, far above float32's
	// rounding of it, and the network's output is averaged and calibrated
	// long before a last bit would show.
	params []float32 // all weights then biases, flat; nil while frozen
	// packed holds a frozen network's parameters as bfloat16
	// (detmath.BF16): a network that no longer learns needs no more than
	// the precision of its reconstructions, and Reconstruct widens them
	// into borrowed scratch. nil while it learns.
	packed []uint16
	// The optimiser moments (v only for Adam) are kept in float32: a
	// moment is a running average of gradients, and its rounding moves a
	// step by a relative 1e-7, at half the bytes.
	m, v []float32
	// frozen: the network scores with params for good and holds nothing
	// for training (no moments, average or replay) until Thaw.
	frozen   bool
	steps    int
	beta1Pow float64
	beta2Pow float64

	// act is the activations, act[0] input, act[len(layers)] output: the
	// borrowed scratch's during a call (borrow), nil between calls, so a
	// network holds only what a call leaves for its caller: out and code.
	act     [][]float64
	out     []float64 // Reconstruct's output
	codeOut []float64 // the last Reconstruct's code (not the variational variant's: head)
	code    int       // act[code] is the bottleneck (the smallest hidden layer, the first of equals)

	// The variational variant (vae): act[code] holds the code drawn,
	// padded with zeros to twice its length, as the decoder's input; head
	// holds the encoder's means and log-variances of the last pass, eps
	// the standard normal draws that made the code, and reconVar the
	// variance of Reconstruct's outputs over its draws.
	vae      bool
	head     []float64
	eps      []float64
	reconSum []float64
	reconVar []float64

	// work lends a training step its scratch, shared by the networks of
	// this shape: a step's scratch holds nothing once the step is over.
	work *workPool

	// Up to ReplaySize × n normalised windows, as bfloat16: a training
	// input, to which training adds noise of 0.1 deviations (NoiseStd)
	// anyway. It grows as windows are kept (internal/grow).
	replay      []uint16
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
	code := 1 + slices.Index(cfg.Hidden, slices.Min(cfg.Hidden))
	k := sizes[code]
	vae := cfg.Variant == "variational"
	if vae {
		sizes[code] = 2 * k // the encoder's head: means, then log-variances
	}
	total := paramCount(sizes, cfg.Tied)
	pcg := rand.NewPCG(seed, 0x6165776174636821) // "aewatch!"
	a := &Autoencoder{
		cfg:      cfg,
		n:        n,
		params:   make([]float32, total),
		m:        make([]float32, total),
		beta1Pow: 1,
		beta2Pow: 1,
		pcg:      pcg,
		rng:      rand.New(pcg),
	}
	off, L := 0, len(sizes)-1
	for l := 1; l < len(sizes); l++ {
		out, in := sizes[l], sizes[l-1]
		ly := layer{out: out, in: in, off: off, mirror: mirrorOf(l-1, L, cfg.Tied)}
		if ly.mirror < 0 {
			ly.w = a.params[off : off+out*in]
			off += out * in
		}
		ly.b = a.params[off : off+out]
		off += out
		// Glorot-uniform weights, zero biases.
		lim := math.Sqrt(6 / float64(in+out))
		for i := range ly.w {
			u := float64(a.rng.Float64()) // rounded here: no fusing into what follows
			ly.w[i] = float32((float64(2*u) - 1) * lim)
		}
		a.layers = append(a.layers, ly)
	}
	a.v = a.newSecondMoments()
	a.averageParams()
	a.out, a.codeOut = make([]float64, n), make([]float64, sizes[code])
	a.code = code
	if vae {
		a.vae = true
		a.head, a.eps = make([]float64, 2*k), make([]float64, k)
		a.reconSum, a.reconVar = make([]float64, n), make([]float64, n)
	}
	a.work = workPoolFor(sizes, cfg.ReplayBatch+1)
	return a, nil
}

// averageParams starts the scoring weights' average at the weights (with
// Average > 0) and points the scorer at it.
func (a *Autoencoder) averageParams() {
	a.scorer = a.layers
	if a.cfg.Average == 0 {
		return
	}
	a.avg = append([]float32(nil), a.params...)
	a.scorer = make([]layer, len(a.layers))
	bind(a.scorer, a.layers, a.avg)
}

// Freeze keeps the network scoring as it does now, for good, and drops
// what only training needs: the optimiser moments, the replay and the
// averaged weights, which become the weights, held as bfloat16 (packed).
// Reconstruct's outputs change only by that rounding; Learn panics until
// Thaw.
func (a *Autoencoder) Freeze() {
	if a.frozen {
		return
	}
	if a.avg != nil {
		copy(a.params, a.avg)
	}
	a.packed = make([]uint16, len(a.params))
	for i, p := range a.params {
		a.packed[i] = detmath.BF16(float64(p))
	}
	a.params = nil
	bind(a.layers, a.layers, nil)
	a.scorer = a.layers
	a.m, a.v, a.avg, a.replay = nil, nil, nil, nil
	a.replayCount, a.replayNext, a.anchors = 0, 0, 0
	a.frozen = true
}

// Thaw lets a frozen network learn again from its weights, as a new one
// learns from its initial ones: moments at zero, the average at the
// weights, an empty replay.
func (a *Autoencoder) Thaw() {
	if !a.frozen {
		return
	}
	a.params = make([]float32, len(a.packed))
	widen(a.params, a.packed)
	a.packed = nil
	bind(a.layers, a.layers, a.params)
	a.m = make([]float32, len(a.params))
	a.v = a.newSecondMoments()
	a.steps, a.beta1Pow, a.beta2Pow = 0, 1, 1
	a.averageParams()
	a.frozen = false
}

// paramLen is how many weights and biases the network has.
func (a *Autoencoder) paramLen() int { return len(a.params) + len(a.packed) }

// secondMomentsLen is how many second moments the optimiser keeps: one
// per parameter for Adam; for Adam with factored moments, per layer one
// per row and one per column of its weights and one per bias.
func (a *Autoencoder) secondMomentsLen() int {
	switch a.cfg.Optimizer {
	case "adam":
		return a.paramLen()
	case "adam_factored":
		n := 0
		for _, ly := range a.layers {
			n += ly.out
			if ly.weights() > 0 {
				n += ly.out + ly.in
			}
		}
		return n
	}
	return 0
}

func (a *Autoencoder) newSecondMoments() []float32 {
	if n := a.secondMomentsLen(); n > 0 {
		return make([]float32, n)
	}
	return nil
}

// adamFactored is one step of Adam whose second moments of a layer's
// weights are factored as Adafactor's are (Shazeer and Stern, ICML 2018):
// a running mean of the squared gradients per row and per column, the
// moment of a weight their product over the rows' mean. Biases keep one
// each. Every product is rounded on its own (explicit conversions: no
// fused multiply-add), so that every CPU gives the same bits.
func (a *Autoencoder) adamFactored(grads, colSq []float64, k *adamConsts) {
	v := a.v
	for l := range a.layers {
		ly := &a.layers[l]
		out, in := ly.out, ly.in
		if ly.weights() == 0 {
			adamGeneric(ly.b, a.m[ly.off:ly.off+out], v[:out], grads[ly.off:ly.off+out], k)
			v = v[out:]
			continue
		}
		rows, cols, vb := v[:out], v[out:out+in], v[out+in:2*out+in]
		v = v[2*out+in:]
		gw := grads[ly.off : ly.off+out*in]
		// One pass gathers both sums of squares; each column's is summed
		// over the rows in order, as a pass down the column would.
		cs := colSq[:in]
		clear(cs)
		var rowSum float64
		for o := range out {
			var sq float64
			for i, g := range gw[o*in : (o+1)*in] {
				g = float64(g * k.scale)
				g2 := float64(g * g)
				sq += g2
				cs[i] += g2
			}
			rows[o] = float32(float64(k.b2*float64(rows[o])) + float64(k.c2*sq)/float64(in))
			rowSum += float64(rows[o])
		}
		for i, sq := range cs {
			cols[i] = float32(float64(k.b2*float64(cols[i])) + float64(k.c2*sq)/float64(out))
		}
		rowMean := rowSum / float64(out)
		p, m := ly.w, a.m[ly.off:ly.off+out*in]
		for o := range out {
			r := float64(rows[o]) / (rowMean + 1e-30)
			adamFactoredRow(p[o*in:(o+1)*in], m[o*in:(o+1)*in], cols, gw[o*in:(o+1)*in], r, k)
		}
		b := ly.off + out*in
		adamGeneric(ly.b, a.m[b:b+out], vb, grads[b:b+out], k)
	}
}

// Frozen reports whether the network was frozen (and not thawed since).
func (a *Autoencoder) Frozen() bool { return a.frozen }

// mirrorOf is the encoder layer whose weights, transposed, are layer's
// (0-based, of layers), or -1.
func mirrorOf(layer, layers int, tied bool) int {
	if !tied || layer < layers/2 {
		return -1
	}
	return layers - 1 - layer
}

// paramCount is how many weights and biases dense layers of these sizes
// (inputs first) hold; tied, the decoder's layers hold biases only.
func paramCount(sizes []int, tied bool) int {
	total, L := 0, len(sizes)-1
	for l := 1; l < len(sizes); l++ {
		if mirrorOf(l-1, L, tied) < 0 {
			total += sizes[l-1] * sizes[l]
		}
		total += sizes[l]
	}
	return total
}

// scratch is what one training step works in.
type scratch struct {
	grads        []float64   // the step's gradient, laid out as the parameters
	delta        [][]float64 // delta[l] is dLoss/dz at act[l]
	clean        []float64   // a pass's training target
	passD, passA [][]float64 // per layer, each pass's output gradient and input
	passes       int
	ones         []float64 // a bias's "input" in every pass
	colSq        []float64 // adam_factored: a layer's squared gradients summed by column
	tied         []float64 // a tied layer's weight gradient before it joins its mirror's
	// A frozen network's weights widened from bfloat16 for one
	// Reconstruct, and its layers over them.
	weights []float32
	layers  []layer
	act     [][]float64 // the network's activations for the call
}

// workPool keeps the scratch of idle steps for networks of one shape. A
// step takes one and gives it back, so scratch costs one per step running
// at once (one per goroutine), not one per network: per detector that was
// a third of a network's memory.
type workPool struct {
	// free is a sync.Pool, whose caches are per processor: a free list
	// behind one mutex, shared by every network of the shape, took 5% of
	// eval's CPU over NAB on two cores. The GC may drop idle scratch; a
	// step then makes it again.
	free      sync.Pool
	sizes     []int
	maxPasses int
}

var workPools = struct {
	mu    sync.Mutex
	pools []*workPool
}{}

// workPoolFor returns the pool of networks of these layer sizes and passes
// per step.
func workPoolFor(sizes []int, maxPasses int) *workPool {
	workPools.mu.Lock()
	defer workPools.mu.Unlock()
	for _, p := range workPools.pools {
		if p.maxPasses == maxPasses && slices.Equal(p.sizes, sizes) {
			return p
		}
	}
	p := &workPool{sizes: slices.Clone(sizes), maxPasses: maxPasses}
	workPools.pools = append(workPools.pools, p)
	return p
}

// unpack widens packed into s's weights and returns layers like these
// over them.
func (s *scratch) unpack(layers []layer, packed []uint16) []layer {
	w := s.weights[:len(packed)]
	widen(w, packed)
	bind(s.layers, layers, w)
	return s.layers
}

// widen sets dst to packed's bfloat16 weights as float32.
func widen(dst []float32, packed []uint16) {
	for i, h := range packed {
		dst[i] = detmath.FromBF16To32(h)
	}
}

func (p *workPool) get() *scratch {
	if s, ok := p.free.Get().(*scratch); ok {
		return s
	}
	s := &scratch{grads: make([]float64, paramCount(p.sizes, false)), clean: make([]float64, p.sizes[0]), ones: make([]float64, p.maxPasses),
		colSq: make([]float64, slices.Max(p.sizes))}
	largest := 0 // layer's weights
	for l := 1; l < len(p.sizes); l++ {
		largest = max(largest, p.sizes[l-1]*p.sizes[l])
	}
	s.tied = make([]float64, largest)
	s.weights, s.layers = make([]float32, len(s.grads)), make([]layer, len(p.sizes)-1)
	for _, n := range p.sizes {
		s.act = append(s.act, make([]float64, n))
	}
	for _, n := range p.sizes {
		s.delta = append(s.delta, make([]float64, n))
	}
	for l := 1; l < len(p.sizes); l++ {
		s.passD = append(s.passD, make([]float64, p.maxPasses*p.sizes[l]))
		s.passA = append(s.passA, make([]float64, p.maxPasses*p.sizes[l-1]))
	}
	for i := range s.ones {
		s.ones[i] = 1
	}
	return s
}

func (p *workPool) put(s *scratch) { p.free.Put(s) }

// Inputs returns the length of the vectors the network takes.
func (a *Autoencoder) Inputs() int { return a.n }

// Code returns the bottleneck's activations (the smallest hidden layer,
// the first of equals; the variational variant's latent means) from the
// last Reconstruct: the window's code. The slice is owned by a and valid
// until its next call.
func (a *Autoencoder) Code() []float64 {
	if a.vae {
		return a.head[:len(a.eps)]
	}
	return a.codeOut
}

// ReconVar returns, for the variational variant, each output's variance
// over the codes the last Reconstruct drew (nil for the others): the
// expected squared error is (output - input)² plus it.
func (a *Autoencoder) ReconVar() []float64 { return a.reconVar }

// Reconstruct runs x through the network without corruption and returns the
// output (the variational variant's mean over Draws codes drawn). The
// slice is owned by a and valid until its next call.
func (a *Autoencoder) Reconstruct(x []float64) []float64 {
	a.checkLen(x)
	ws := a.borrow()
	defer a.release(ws)
	layers := a.scorer
	if a.packed != nil {
		layers = ws.unpack(a.layers, a.packed)
	}
	copy(a.act[0], x)
	clear(a.act[0][a.n-a.cfg.MaskTail:])
	if !a.vae {
		a.forward(layers, x, 0, len(layers))
		copy(a.codeOut, a.act[a.code])
		copy(a.out, a.act[len(a.layers)])
		return a.out
	}
	a.forward(layers, x, 0, a.code)
	copy(a.head, a.act[a.code])
	clear(a.reconSum)
	clear(a.reconVar) // the sum of squares until the end
	for range a.cfg.Draws {
		a.drawCode()
		a.forward(layers, x, a.code, len(layers))
		for i, y := range a.act[len(a.layers)] {
			a.reconSum[i] += y
			a.reconVar[i] += float64(y * y)
		}
	}
	inv := 1 / float64(a.cfg.Draws)
	for i := range a.out {
		m := a.reconSum[i] * inv
		a.out[i] = m
		a.reconVar[i] = max(0, float64(a.reconVar[i]*inv)-float64(m*m))
	}
	return a.out
}

// borrow lends the network a scratch for one call, its activations
// included; release gives it back.
func (a *Autoencoder) borrow() *scratch {
	ws := a.work.get()
	a.act = ws.act
	return ws
}

func (a *Autoencoder) release(ws *scratch) {
	a.act = nil
	a.work.put(ws)
}

// drawCode draws a latent code from the encoder's head (copied from
// act[code] once the encoder has run) into act[code], keeping the draws
// for backward.
func (a *Autoencoder) drawCode() {
	k := len(a.eps)
	z := a.act[a.code]
	for i := range k {
		a.eps[i] = gaussian(a.pcg.Uint64())
		z[i] = a.head[i] + float64(detmath.Exp(0.5*a.head[k+i])*a.eps[i])
	}
	clear(z[k:])
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
	if a.frozen {
		panic("model: Learn on a frozen network")
	}
	ws := a.borrow()
	defer a.release(ws)
	ws.passes = 0
	loss := a.accumulate(ws, x)
	batch := 1
	for k := 0; k < a.cfg.ReplayBatch && a.replayCount > 0; k++ {
		i := a.rng.IntN(a.replayCount)
		for j, v := range a.replay[i*a.n : (i+1)*a.n] {
			ws.clean[j] = detmath.FromBF16(v) // accumulate reads its input from clean
		}
		a.accumulate(ws, ws.clean)
		batch++
	}
	a.gradients(ws)
	a.update(ws.grads[:len(a.params)], ws.colSq, 1/float64(batch))
	return loss
}

// keep stores x for replay in slot; the oldest slot moves on when it was
// the one used.
func (a *Autoencoder) keep(x []float64, slot int) {
	if a.cfg.ReplaySize == 0 {
		return
	}
	a.replay = grow.To(a.replay, (slot+1)*a.n, a.cfg.ReplaySize*a.n)
	for i, v := range x {
		a.replay[slot*a.n+i] = detmath.BF16(v)
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
func (a *Autoencoder) accumulate(ws *scratch, x []float64) float64 {
	copy(ws.clean, x)
	in := a.act[0]
	a.corrupt(in, x)
	clear(in[a.n-a.cfg.MaskTail:])
	if a.vae {
		a.forward(a.layers, ws.clean, 0, a.code)
		copy(a.head, a.act[a.code])
		a.drawCode()
		a.forward(a.layers, ws.clean, a.code, len(a.layers))
	} else {
		a.forward(a.layers, ws.clean, 0, len(a.layers))
	}
	return a.backward(ws, ws.clean)
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

// forward runs layers from .. to-1 on act[from]; masked outputs with
// TailSkip add the last visible values of skip (the clean input, also
// while training, so the network learns residuals over what it will see
// when scoring). The variational encoder's head stays linear.
func (a *Autoencoder) forward(layers []layer, skip []float64, from, to int) {
	last := len(layers) - 1
	for l := from; l < to; l++ {
		ly := &layers[l]
		out := a.act[l+1]
		for i, b := range ly.b {
			out[i] = float64(b)
		}
		if m := ly.mirror; m >= 0 {
			// The mirror's first ly.in rows: all of them, but for the
			// variational encoder's head (means, then log-variances).
			mulAddRowsT(layers[m].w[:ly.in*ly.out], ly.in, ly.out, a.act[l], out)
		} else {
			mulAddRows(ly.w, ly.out, ly.in, a.act[l], out)
		}
		if l != last && !((a.vae || a.cfg.LinearCode) && l+1 == a.code) {
			tanhInPlace(out)
		}
	}
	if to != len(layers) {
		return
	}
	if c := a.cfg.TailSkip; c > 0 {
		out, in := a.act[last+1], skip
		lastVisible := a.n - a.cfg.MaskTail - c
		for i := a.n - a.cfg.MaskTail; i < a.n; i++ {
			out[i] += in[lastVisible+(i-lastVisible)%c]
		}
	}
}

// backward records one pass's output gradients and inputs of loss =
// mean((out-target)^2)/2 in ws and returns mean((out-target)^2).
func (a *Autoencoder) backward(ws *scratch, target []float64) float64 {
	L := len(a.layers)
	out, d := a.act[L], ws.delta[L]
	inv := 1 / float64(a.n)
	var sse float64
	for i, y := range out {
		e := y - target[i]
		sse += float64(e * e)
		d[i] = e * inv
	}
	pass := ws.passes
	ws.passes++
	for l := L - 1; l >= 0; l-- {
		ly := &a.layers[l]
		dOut := ws.delta[l+1]
		copy(ws.passD[l][pass*ly.out:], dOut)
		copy(ws.passA[l][pass*ly.in:], a.act[l])
		if l == 0 {
			break
		}
		dIn := ws.delta[l]
		clear(dIn)
		if m := ly.mirror; m >= 0 {
			mulAddRows(a.layers[m].w[:ly.in*ly.out], ly.in, ly.out, dOut, dIn)
		} else {
			mulAddRowsT(ly.w, ly.out, ly.in, dOut, dIn)
		}
		if l == a.code && a.vae {
			a.reparameterise(dIn)
			continue
		}
		if l == a.code && a.cfg.Variant == "sparse" {
			// The penalty Sparsity × mean |code|.
			g := a.cfg.Sparsity / float64(len(dIn))
			for i, h := range a.act[l] {
				dIn[i] += math.Copysign(g, h)
			}
		}
		if l == a.code && a.cfg.LinearCode {
			continue
		}
		for i, h := range a.act[l] {
			dIn[i] *= 1 - float64(h*h)
		}
	}
	return sse * inv
}

// reparameterise turns d, the loss's gradient at the code drawn (its
// first half), into its gradient at the encoder's head, means then
// log-variances, adding Beta times the KL divergence's per value of the
// window (the reconstruction loss is a mean over them too).
func (a *Autoencoder) reparameterise(d []float64) {
	k := len(a.eps)
	kl := a.cfg.Beta / float64(a.n)
	for i := range k {
		mu, lv := a.head[i], a.head[k+i]
		dz, sigma := d[i], detmath.Exp(0.5*lv)
		d[i] = dz + float64(kl*mu)
		d[k+i] = float64(float64(dz*a.eps[i])*float64(0.5*sigma)) + float64(kl*float64(0.5*(float64(sigma*sigma)-1)))
	}
}

// gradients sums the recorded passes into ws.grads: each layer's weight
// gradient is the sum of the passes' outer products, its bias gradient the
// sum of their output gradients.
func (a *Autoencoder) gradients(ws *scratch) {
	for l := range a.layers {
		ly := &a.layers[l]
		nw := ly.weights()
		gb := ws.grads[ly.off+nw : ly.off+nw+ly.out]
		if m := ly.mirror; m >= 0 {
			// A tied layer's weight gradient is its mirror's, transposed:
			// added to the mirror's (earlier layers are summed first).
			off := a.layers[m].off
			g := ws.tied[:ly.in*ly.out]
			rankSum(g, ly.in, ly.out, ws.passA[l], ws.passD[l], ws.passes)
			for i, v := range ws.grads[off : off+len(g)] {
				ws.grads[off+i] = v + g[i]
			}
		} else {
			rankSum(ws.grads[ly.off:ly.off+nw], ly.out, ly.in, ws.passD[l], ws.passA[l], ws.passes)
		}
		// The bias gradient as a one-row sum, d = 1, so that it vectorises.
		rankSum(gb, 1, ly.out, ws.ones, ws.passD[l], ws.passes)
	}
}

func (a *Autoencoder) update(grads, colSq []float64, scale float64) {
	lr, b1 := a.cfg.LearningRate, a.cfg.Momentum
	a.steps++
	params, m := a.params[:len(grads)], a.m[:len(grads)]
	if a.v == nil {
		for i, g := range grads {
			mi := float64(b1*float64(m[i])) - float64(lr*g*scale)
			m[i] = float32(mi)
			params[i] = float32(float64(params[i]) + mi)
		}
	} else {
		b2 := a.cfg.Beta2
		a.beta1Pow = float64(a.beta1Pow * b1)
		a.beta2Pow = float64(a.beta2Pow * b2)
		step := lr * math.Sqrt(1-a.beta2Pow) / (1 - a.beta1Pow)
		k := &adamConsts{scale: scale, b1: b1, c1: 1 - b1, b2: b2, c2: 1 - b2, step: step, eps: 1e-8}
		if a.cfg.Optimizer == "adam_factored" {
			a.adamFactored(grads, colSq, k)
		} else {
			adam(params, m, a.v, grads, k)
		}
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

// Part is one component of a network's memory: what it holds now, once
// the replay is full, and the most it holds at any time (Full, or before
// a freeze dropped it).
type Part struct {
	Name              string
	Bytes, Full, Peak int
}

// BytesByPart is the memory the network holds, by what it is for, and
// what it comes to once the replay is full (frozen says it will be frozen
// by then). A training step's gradients and scratch are not in it: they
// are lent for the step (ScratchBytes, once per step running at once).
func (a *Autoencoder) BytesByPart(frozen bool) []Part {
	// What calls leave for the caller: the output, the code and the
	// variational variant's draws.
	act := len(a.out) + len(a.codeOut) + len(a.head) + len(a.eps) + len(a.reconSum) + len(a.reconVar)
	fixed := func(name string, b int) Part { return Part{name, b, b, b} }
	training := func(name string, b, full int) Part {
		peak := full
		if frozen || a.frozen {
			full = 0
		}
		return Part{name, b, full, peak}
	}
	n := a.paramLen()
	moments := n + a.secondMomentsLen()
	avg := 0
	if a.cfg.Average > 0 {
		avg = n
	}
	// Frozen, the weights are bfloat16.
	weights := Part{"weights", 4 * n, 4 * n, 4 * n}
	switch {
	case a.frozen:
		weights.Bytes, weights.Full = 2*n, 2*n
	case frozen:
		weights.Full = 2 * n
	}
	return []Part{
		weights,
		training("optimiser moments", 4*(len(a.m)+len(a.v)), 4*moments),
		training("averaged weights", 4*len(a.avg), 4*avg),
		training("replay of normal windows", 2*cap(a.replay), 2*a.cfg.ReplaySize*a.n),
		fixed("activations", 8*act),
	}
}

// ScratchBytes is the memory one training step borrows (gradients and
// per-pass buffers), held once per step running at once, not per network.
func (a *Autoencoder) ScratchBytes() int {
	ws := a.work.get()
	defer a.work.put(ws)
	n := len(ws.grads) + len(ws.clean) + len(ws.ones) + len(ws.colSq) + len(ws.tied)
	for _, b := range [][][]float64{ws.delta, ws.passD, ws.passA, ws.act} {
		for _, v := range b {
			n += len(v)
		}
	}
	return 8*n + 4*len(ws.weights)
}
