package detector

import (
	"errors"
	"fmt"
	"math"

	"github.com/aewatch/aewatch/internal/statecodec"
)

// DenoiseConfig sets the denoised output: each channel's clean signal
// estimated by a linear denoising autoencoder of its lag windows.
type DenoiseConfig struct {
	// Enabled writes a denoised value for every accepted sample, Delay
	// samples after it (ae_score field denoised, eval column denoised).
	Enabled bool `yaml:"enabled"`
	// Window is how many consecutive samples one window holds.
	Window int `yaml:"window"`
	// Delay is how many later samples a value waits for: its denoised
	// value averages the reconstructions of the Delay+1 windows that hold
	// it by then (more context, at that much latency).
	Delay int `yaml:"delay"`
	// Components is the code's size: the directions of the normal windows'
	// variance kept (the rest is taken for noise).
	Components int `yaml:"components"`
	// Learn is how many accepted samples the windows' covariance is
	// estimated on before the first denoised value.
	Learn int `yaml:"learn"`
}

// DefaultDenoiseConfig returns the defaults (off).
func DefaultDenoiseConfig() DenoiseConfig {
	return DenoiseConfig{Window: 64, Delay: 32, Components: 2, Learn: 500}
}

// Validate names the first invalid field and its value.
func (c DenoiseConfig) Validate() error {
	if !c.Enabled {
		return nil
	}
	switch {
	case c.Window < 4 || c.Window > 512:
		return fmt.Errorf("detector.denoise.window: must be in [4, 512] (got %d)", c.Window)
	case c.Delay < 0 || c.Delay >= c.Window:
		return fmt.Errorf("detector.denoise.delay: must be in [0, detector.denoise.window-1=%d] (got %d)", c.Window-1, c.Delay)
	case c.Components < 1 || c.Components >= c.Window:
		return fmt.Errorf("detector.denoise.components: must be in [1, detector.denoise.window-1=%d] (got %d)", c.Window-1, c.Components)
	case c.Learn < 2*c.Window || c.Learn > 1<<20:
		return fmt.Errorf("detector.denoise.learn: must be in [2*detector.denoise.window=%d, 1048576] (got %d)", 2*c.Window, c.Learn)
	}
	return nil
}

// DenoisedSample is the denoised value of an earlier sample: its Seq and
// Time (as in its Result) and one value per channel. Values aliases the
// detector's buffer until the next Push.
type DenoisedSample struct {
	Seq    uint64
	Time   int64
	Values []float64
}

// denoiseIterations of subspace iteration find the code's directions: a
// fixed count, so that every CPU computes the same ones.
const denoiseIterations = 300

// denoiseGuard: a value further than this many residual deviations from
// its reconstruction is passed through: a spike or a step's edge is
// signal the code cannot hold, not noise to smooth away.
const denoiseGuard = 4

// denoiseStateGuard is the same for a value and its state's level, in
// deviations estimated from one run (a few dozen samples: wider, so
// that the noise's own tail is smoothed and an inrush is not).
const denoiseStateGuard = 8

// denoiser is the linear denoising autoencoder (singular spectrum
// analysis): over its first Learn samples it estimates each channel's
// autocovariance up to Window-1 lags, whose Toeplitz matrix is the
// covariance of the channel's windows; the encoder and decoder are that
// matrix's leading eigenvectors (the optimal linear autoencoder of the
// windows), found once. Each window is then projected onto them, and a
// sample's denoised value is the mean of its reconstructions in the
// Delay+1 newest windows that hold it. A window code smears a switch
// between states (a motor's on and off) over the window, however small
// the noise on each state: on a channel with states a sample's value is
// instead the mean of its run in that state within the window, values
// beyond three deviations of the level near it left out.
type denoiser struct {
	cfg      DenoiseConfig
	channels int
	n        int // samples seen

	ring []float64 // the Window newest samples, sample-major
	// Pending samples, Delay+1 slots: their positions, times and sums of
	// their reconstructions so far (count: how many windows).
	seqs  []uint64
	times []int64
	sums  []float64 // slot-major, channels per slot
	count []int

	// Before the fit: sums of the values less origin, and of their products
	// at each lag, per channel (freed at the fit).
	origin []float64
	s1     []float64
	prod   []float64 // channel-major, Window lags

	fitted bool
	mean   []float64 // per channel
	basis  []float64 // per channel Window x Components, row-major
	guard  []float64 // per channel: how far a value may lie from its reconstruction
	pass   []bool    // per channel: passed through
	// split is, per channel with states, the value between them (NaN on
	// the others).
	split []float64
	run   []float64 // scratch: a run's steps, then the samples nearest one

	out  []DenoisedSample // the samples the last Push completed (one, or two with a held one)
	buf  []float64        // their values
	code []float64        // a window's code, Components long
}

func newDenoiser(cfg DenoiseConfig, channels int) *denoiser {
	if !cfg.Enabled {
		return nil
	}
	f := func(n int) []float64 { return make([]float64, n) }
	slots := cfg.Delay + 1
	return &denoiser{
		cfg: cfg, channels: channels,
		ring: f(cfg.Window * channels),
		seqs: make([]uint64, slots), times: make([]int64, slots), sums: f(slots * channels), count: make([]int, slots),
		origin: f(channels), s1: f(channels), prod: f(channels * cfg.Window),
		out: make([]DenoisedSample, 0, 1), buf: f(channels), code: f(cfg.Components), run: f(cfg.Window),
	}
}

// observe takes an accepted sample; states gives a channel's value
// between its states, ok false for a channel without (asked only at the
// fit). It appends the sample Delay back, once done, to d.out, which the
// detector empties at each Push.
func (d *denoiser) observe(seq uint64, t int64, x []float64, states func(j int) (split float64, ok bool), learn bool) {
	L, c := d.cfg.Window, d.channels
	pos := d.n % L
	copy(d.ring[pos*c:(pos+1)*c], x)
	slot := d.n % len(d.seqs)
	d.seqs[slot], d.times[slot], d.count[slot] = seq, t, 0
	clear(d.sums[slot*c : (slot+1)*c])
	d.n++
	if !d.fitted {
		if learn {
			d.learn(x)
		}
		if d.n == d.cfg.Learn {
			d.fit(states)
		}
		return
	}
	d.reconstruct() // after the fit, n > Learn > Delay: a sample Delay back exists
	// The sample Delay back is done.
	old := (d.n - 1 - d.cfg.Delay) % len(d.seqs)
	raw := d.ring[((d.n-1-d.cfg.Delay)%L)*c:]
	k := d.count[old]
	if k == 0 {
		return // it came before the fit
	}
	// Two samples can be done in one Push (a sample held as dated ahead
	// and the next): each has its own values.
	at := len(d.out) * c
	if at+c > len(d.buf) {
		d.buf = append(d.buf, make([]float64, c)...)
	}
	vals := d.buf[at : at+c]
	for j := range c {
		var v float64
		switch {
		case !math.IsNaN(d.split[j]):
			v = d.stateLevel(j, d.n-1-d.cfg.Delay)
		case d.pass[j]:
			v = raw[j]
		default:
			v = d.sums[old*c+j] / float64(k)
			if math.Abs(v-raw[j]) > d.guard[j] {
				v = raw[j]
			}
		}
		vals[j] = v
	}
	d.out = append(d.out, DenoisedSample{Seq: d.seqs[old], Time: d.times[old], Values: vals})
}

// learn adds the newest sample to the autocovariance sums.
func (d *denoiser) learn(x []float64) {
	L, c := d.cfg.Window, d.channels
	if d.n == 1 {
		copy(d.origin, x)
	}
	lags := min(L, d.n)
	for j := range c {
		v := x[j] - d.origin[j]
		d.s1[j] += v
		p := d.prod[j*L : (j+1)*L]
		for lag := range lags {
			u := d.ring[((d.n-1-lag)%L)*c+j] - d.origin[j]
			p[lag] += float64(v * u)
		}
	}
}

// fit finds each channel's code from its autocovariance.
func (d *denoiser) fit(states func(j int) (float64, bool)) {
	L, c, k := d.cfg.Window, d.channels, d.cfg.Components
	d.mean, d.basis, d.guard, d.pass = make([]float64, c), make([]float64, c*L*k), make([]float64, c), make([]bool, c)
	d.split = make([]float64, c)
	toeplitz := make([]float64, L*L)
	acov := make([]float64, L)
	for j := range c {
		m := d.s1[j] / float64(d.n)
		d.mean[j] = d.origin[j] + m
		for lag := range L {
			acov[lag] = d.prod[j*L+lag]/float64(d.n-lag) - float64(m*m)
		}
		d.split[j] = math.NaN()
		if split, ok := states(j); ok {
			d.split[j], d.pass[j] = split, true
			continue
		}
		if !(acov[0] > 0) {
			d.pass[j] = true
			continue
		}
		for a := range L {
			for b := range L {
				toeplitz[a*L+b] = acov[abs(a-b)]
			}
		}
		q := d.basis[j*L*k : (j+1)*L*k]
		kept := leadingSubspace(toeplitz, q, L, k)
		// The variance left out, per sample, is what the code takes for
		// noise; the guard is a few of its deviations.
		rest := max(0, float64(float64(L)*acov[0])-kept) / float64(L)
		d.guard[j] = denoiseGuard * math.Sqrt(rest)
	}
	d.fitted = true
	d.s1, d.prod, d.origin = nil, nil, nil
}

// stateLevel is sample s's level in its state on channel j. Its run in
// that state among the Window newest samples is where the level can come
// from; the level is the mean of the run's samples within three noise
// deviations of the median of the nine nearest s, taken again about that
// mean (a state may step between sub-levels: a motor's current settling,
// a daily profile's shoulders), the deviation taken from the run's steps
// between neighbours (which a sub-level's step barely moves). s's own
// value if it lies beyond denoiseStateGuard deviations (an inrush, a
// spike).
func (d *denoiser) stateLevel(j, s int) float64 {
	L, c := d.cfg.Window, d.channels
	at := func(i int) float64 { return d.ring[(i%L)*c+j] }
	x := at(s)
	high := x >= d.split[j]
	from, to := s, s
	for from > d.n-L && (at(from-1) >= d.split[j]) == high {
		from--
	}
	for to < d.n-1 && (at(to+1) >= d.split[j]) == high {
		to++
	}
	steps := d.run[:0]
	for i := from + 1; i <= to; i++ {
		steps = append(steps, math.Abs(at(i)-at(i-1)))
	}
	sd := 0.0
	if len(steps) > 0 {
		sd = 1.4826 * median(steps) / math.Sqrt2 // a step holds two samples' noise
	}
	near := d.run[:0]
	for i := max(from, s-4); i <= min(to, s+4); i++ {
		near = append(near, at(i))
	}
	level := median(near)
	if math.Abs(x-level) > denoiseStateGuard*sd {
		return x
	}
	// Twice: the first mean corrects the nine samples' own noise, which a
	// band about their median would otherwise cut one side of.
	for range 2 {
		sum, n := 0.0, 0
		for i := from; i <= to; i++ {
			if v := at(i); math.Abs(v-level) <= 3*sd {
				sum, n = sum+v, n+1
			}
		}
		if n > 0 {
			level = sum / float64(n)
		}
	}
	return level
}

// median sorts v (insertion sort: at most a window's values, no
// allocation) and returns its median.
func median(v []float64) float64 {
	for i := 1; i < len(v); i++ {
		for k := i; k > 0 && v[k] < v[k-1]; k-- {
			v[k], v[k-1] = v[k-1], v[k]
		}
	}
	m := len(v) / 2
	if len(v)%2 == 1 {
		return v[m]
	}
	return (v[m-1] + v[m]) / 2
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// reconstruct projects the newest window of each channel onto its code
// and adds the reconstruction to the pending samples' sums.
func (d *denoiser) reconstruct() {
	L, c, k := d.cfg.Window, d.channels, d.cfg.Components
	code := d.code
	newest := d.n - 1 // after the fit: the ring is full
	pending := d.cfg.Delay + 1
	for j := range c {
		if d.pass[j] {
			continue
		}
		q := d.basis[j*L*k : (j+1)*L*k]
		mu := d.mean[j]
		clear(code)
		// Window position a holds sample newest-(L-1-a).
		for a := range L {
			v := d.ring[((newest-(L-1-a))%L)*c+j] - mu
			for i := range k {
				code[i] += float64(q[a*k+i] * v)
			}
		}
		for back := range pending {
			a := L - 1 - back
			r := mu
			for i := range k {
				r += float64(q[a*k+i] * code[i])
			}
			d.sums[((newest-back)%len(d.seqs))*c+j] += r
		}
	}
	for back := range pending {
		d.count[(newest-back)%len(d.seqs)]++
	}
}

// leadingSubspace writes into q (n x k, row-major) an orthonormal basis of
// the k leading eigenvectors of the symmetric matrix a (n x n) by subspace
// iteration from the powers 1, x, x², ... of the window's position, and
// returns the sum of their eigenvalues (the variance the subspace holds).
// Every product is rounded on its own (no fused multiply-add) and no
// library function is called, so every CPU finds the same basis.
func leadingSubspace(a, q []float64, n, k int) float64 {
	for r := range n {
		x, p := (float64(r)+0.5)/float64(n)-0.5, 1.0
		for i := range k {
			q[r*k+i] = p
			p = float64(p * x)
		}
	}
	orthonormalise(q, n, k)
	z := make([]float64, n*k)
	for range denoiseIterations {
		for r := range n {
			row := a[r*n : (r+1)*n]
			for i := range k {
				s := 0.0
				for cc := range n {
					s += float64(row[cc] * q[cc*k+i])
				}
				z[r*k+i] = s
			}
		}
		copy(q, z)
		orthonormalise(q, n, k)
	}
	// trace(qᵀ a q)
	kept := 0.0
	for i := range k {
		for r := range n {
			s := 0.0
			for cc := range n {
				s += float64(a[r*n+cc] * q[cc*k+i])
			}
			kept += float64(q[r*k+i] * s)
		}
	}
	return kept
}

// orthonormalise applies modified Gram-Schmidt to q's k columns; a column
// that vanishes (a matrix of lower rank) becomes a unit vector orthogonal
// to the ones before it.
func orthonormalise(q []float64, n, k int) {
	for i := range k {
		for p := range i {
			dot := 0.0
			for r := range n {
				dot += float64(q[r*k+i] * q[r*k+p])
			}
			for r := range n {
				q[r*k+i] -= float64(dot * q[r*k+p])
			}
		}
		norm := 0.0
		for r := range n {
			norm += float64(q[r*k+i] * q[r*k+i])
		}
		if norm < 1e-300 {
			// Any unit vector orthogonal to the others will do: try the
			// standard ones in turn.
			for e := range n {
				for r := range n {
					q[r*k+i] = 0
				}
				q[e*k+i] = 1
				for p := range i {
					dot := q[e*k+p]
					for r := range n {
						q[r*k+i] -= float64(dot * q[r*k+p])
					}
				}
				norm = 0
				for r := range n {
					norm += float64(q[r*k+i] * q[r*k+i])
				}
				if norm > 1e-6 {
					break
				}
			}
		}
		inv := 1 / math.Sqrt(norm)
		for r := range n {
			q[r*k+i] *= inv
		}
	}
}

// bytes is the memory its slices hold.
func (d *denoiser) bytes() int {
	return 8*(len(d.ring)+len(d.seqs)+len(d.times)+len(d.sums)+len(d.count)+len(d.origin)+len(d.s1)+len(d.prod)+
		len(d.mean)+len(d.basis)+len(d.guard)+len(d.buf)+len(d.code)+len(d.split)+len(d.run)) + len(d.pass)
}

// fullBytes is what it holds once fitted; peakBytes while it learns
// (besides the fit's scratch, freed at once).
func (d *denoiser) fullBytes() int {
	c, L, k, slots := d.channels, d.cfg.Window, d.cfg.Components, len(d.seqs)
	return 8*(L*c+3*slots+slots*c+c+c*L*k+3*c+k+L) + c
}

func (d *denoiser) peakBytes() int {
	c, L, k, slots := d.channels, d.cfg.Window, d.cfg.Components, len(d.seqs)
	return max(d.fullBytes(), 8*(L*c+3*slots+slots*c+3*c+c*L+c+k+L))
}

func (d *denoiser) appendState(e *statecodec.Encoder) {
	e.Int(d.n)
	e.F64s(d.ring)
	for i := range d.seqs {
		e.U64(d.seqs[i])
		e.I64(d.times[i])
		e.Int(d.count[i])
	}
	e.F64s(d.sums)
	e.Bool(d.fitted)
	if !d.fitted {
		e.F64s(d.origin)
		e.F64s(d.s1)
		e.F64s(d.prod)
		return
	}
	e.F64s(d.mean)
	e.F64s(d.basis)
	e.F64s(d.guard)
	for _, p := range d.pass {
		e.Bool(p)
	}
	for _, v := range d.split {
		e.Bool(!math.IsNaN(v))
		e.F64(zeroNaN(v))
	}
}

// zeroNaN is v, or 0 for NaN (the snapshot's floats are finite).
func zeroNaN(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return v
}

func (d *denoiser) readState(dec *statecodec.Decoder) error {
	d.n = dec.Int()
	dec.F64sInto(d.ring, "denoiser's window")
	for i := range d.seqs {
		d.seqs[i], d.times[i], d.count[i] = dec.U64(), dec.I64(), dec.Int()
		if dec.Err() == nil && (d.count[i] < 0 || d.count[i] > len(d.seqs)) {
			return fmt.Errorf("detector: snapshot's denoiser has %d windows over a sample (at most %d)", d.count[i], len(d.seqs))
		}
	}
	dec.F64sInto(d.sums, "denoiser's sums")
	d.fitted = dec.Bool()
	if err := dec.Err(); err != nil {
		return err
	}
	if d.n < 0 || (!d.fitted && d.n >= d.cfg.Learn) {
		return fmt.Errorf("detector: snapshot's denoiser has seen %d samples (fitted %v, learn %d)", d.n, d.fitted, d.cfg.Learn)
	}
	c, L, k := d.channels, d.cfg.Window, d.cfg.Components
	if !d.fitted {
		d.origin, d.s1, d.prod = make([]float64, c), make([]float64, c), make([]float64, c*L)
		dec.F64sInto(d.origin, "denoiser's origin")
		dec.F64sInto(d.s1, "denoiser's sums")
		dec.F64sInto(d.prod, "denoiser's products")
		d.mean, d.basis, d.guard, d.pass, d.split = nil, nil, nil, nil, nil
		return dec.Err()
	}
	d.origin, d.s1, d.prod = nil, nil, nil
	d.mean, d.basis, d.guard, d.pass = make([]float64, c), make([]float64, c*L*k), make([]float64, c), make([]bool, c)
	d.split = make([]float64, c)
	dec.F64sInto(d.mean, "denoiser's means")
	dec.F64sInto(d.basis, "denoiser's code")
	dec.F64sInto(d.guard, "denoiser's guards")
	for j := range d.pass {
		d.pass[j] = dec.Bool()
	}
	for j := range d.split {
		has, v := dec.Bool(), dec.F64()
		d.split[j] = math.NaN()
		if has {
			d.split[j] = v
		}
	}
	if err := dec.Err(); err != nil {
		return err
	}
	for _, v := range d.guard {
		if !(v >= 0) || math.IsInf(v, 0) {
			return errors.New("detector: snapshot's denoiser guard is not a finite value >= 0")
		}
	}
	for _, part := range [][]float64{d.ring, d.sums, d.mean} {
		for _, v := range part {
			if !finite(v) {
				return errors.New("detector: snapshot's denoiser holds a value that is not finite")
			}
		}
	}
	for j, v := range d.split {
		if !math.IsNaN(v) && !d.pass[j] {
			return fmt.Errorf("detector: snapshot's denoiser splits channel %d's states at %v but smooths it", j, v)
		}
	}
	for _, v := range d.basis {
		if !(math.Abs(v) <= 1+1e-9) { // unit vectors
			return fmt.Errorf("detector: snapshot's denoiser code has an entry %v beyond ±1", v)
		}
	}
	return nil
}
