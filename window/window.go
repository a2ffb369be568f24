package window

import "math"

// Status says what Push did with a sample.
type Status uint8

const (
	// Filling: the sample was stored; no window is ready yet.
	Filling Status = iota
	// Ready: the sample was stored and completes a window (see Values).
	Ready
	// NonFinite: a value was NaN or ±Inf; nothing was stored.
	NonFinite
	// OutOfOrder: the timestamp was not after the previous one; nothing was stored.
	OutOfOrder
	// OutOfRange: a value was beyond ±Config.MaxAbs; nothing was stored.
	OutOfRange
	// Wild: the window's owner held back an isolated wild value (see
	// Normaliser.IsWild); nothing was stored.
	Wild
	// Ahead: the window's owner held a sample dated far ahead of its series
	// (Config.HoldAhead) and the next sample came between the two: a clock
	// glitch, dropped; nothing was stored.
	Ahead
	// Merged: the sample's values went into the row before it at the same
	// time, which lacked them (a series sent one channel a message); its
	// owner scored them with that row.
	Merged
	// Failed: the window's owner failed on the sample, or failed before
	// the sample's window was scored (a fault in its code); it started
	// afresh, and the sample was not scored.
	Failed
	// Absent: the window's owner was told that a sample of its series
	// lacks its channel (the series' other channels came without it);
	// nothing was stored.
	Absent
)

func (s Status) String() string {
	switch s {
	case Filling:
		return "filling"
	case Ready:
		return "ready"
	case NonFinite:
		return "non_finite"
	case OutOfOrder:
		return "out_of_order"
	case OutOfRange:
		return "out_of_range"
	case Wild:
		return "wild"
	case Ahead:
		return "time_jump"
	case Merged:
		return "merged"
	case Failed:
		return "detector_fault"
	case Absent:
		return "absent"
	}
	return "unknown"
}

// Stats counts what a Window has seen.
type Stats struct {
	Accepted   uint64 // samples stored
	Windows    uint64 // windows completed
	NonFinite  uint64 // samples rejected for a NaN or ±Inf value
	OutOfOrder uint64 // samples rejected for a timestamp not after the previous one
	Gaps       uint64 // restarts caused by a step larger than MaxGap
	OutOfRange uint64 // samples rejected for a value beyond ±MaxAbs
}

// Window is a ring buffer of the last Size samples of one series.
type Window struct {
	cfg      Config
	channels int
	raw      []float64 // Size×channels, row = sample, oldest at head
	head     int       // index (in samples) of the oldest sample
	filled   int       // samples in the ring since the last restart
	pending  int       // samples since the last completed window
	lastTime int64
	started  bool
	stats    Stats
	// step is the series' typical step between samples, nanoseconds: an
	// average of the steps, each capped at stepCap times it so that gaps
	// do not count (0 before two samples).
	step float64

	mean, std []float64 // per channel, scratch for Values
}

// New returns an empty window for samples of the given number of channels.
func New(cfg Config, channels int) (*Window, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if channels < 1 {
		return nil, errChannels(channels)
	}
	return &Window{cfg: cfg, channels: channels, raw: make([]float64, cfg.Size*channels),
		mean: make([]float64, channels), std: make([]float64, channels)}, nil
}

// Push offers one sample at event time t (Unix nanoseconds). x must have one
// value per channel; it is copied.
func (w *Window) Push(t int64, x []float64) Status {
	if len(x) != w.channels {
		panic("window: sample has wrong number of channels")
	}
	for _, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			w.stats.NonFinite++
			return NonFinite
		}
	}
	for _, v := range x {
		if math.Abs(v) > w.cfg.MaxAbs {
			w.stats.OutOfRange++
			return OutOfRange
		}
	}
	if w.started && t <= w.lastTime {
		w.stats.OutOfOrder++
		return OutOfOrder
	}
	if w.started && w.cfg.MaxGap > 0 && t-w.lastTime > int64(w.cfg.MaxGap) {
		w.stats.Gaps++
		w.Restart()
	}
	if w.started {
		d := float64(t - w.lastTime)
		if w.step == 0 {
			w.step = d
		} else {
			w.step += (min(d, stepCap*w.step) - w.step) / stepHorizon
		}
	}
	w.started = true
	w.lastTime = t
	w.stats.Accepted++

	slot := (w.head + w.filled) % w.cfg.Size
	if w.filled == w.cfg.Size {
		slot = w.head
		w.head = (w.head + 1) % w.cfg.Size
	} else {
		w.filled++
	}
	copy(w.raw[slot*w.channels:(slot+1)*w.channels], x)
	w.pending++
	if w.filled == w.cfg.Size && w.pending >= w.cfg.Stride {
		w.pending = 0
		w.stats.Windows++
		return Ready
	}
	return Filling
}

// Typical steps: each step counts up to stepCap times the average, which
// forgets with a time constant of stepHorizon steps.
const (
	stepCap     = 4
	stepHorizon = 16
)

// TypicalStep is the series' typical step between samples in nanoseconds
// (0 before two samples were stored).
func (w *Window) TypicalStep() float64 { return w.step }

// LastTime is the time of the newest sample stored (0 before any): a
// sample must come after it.
func (w *Window) LastTime() int64 { return w.lastTime }

// Restart empties the ring (after a gap, or on request). Counters and the
// last timestamp are kept, so ordering checks continue across the restart.
func (w *Window) Restart() {
	w.head, w.filled, w.pending = 0, 0, 0
}

// Len is how many samples the ring holds.
func (w *Window) Len() int { return w.filled }

// Full reports whether the ring holds Size samples.
func (w *Window) Full() bool { return w.filled == w.cfg.Size }

// Values writes the window, oldest sample first, normalised by n and
// clipped, into dst (length Size×Channels, sample-major).
func (w *Window) Values(dst []float64, n *Normaliser) {
	if len(dst) != len(w.raw) {
		panic("window: destination has wrong length")
	}
	c := w.channels
	clip := w.cfg.Clip
	// n.Apply's operations, with each channel's mean and deviation looked
	// up once per window rather than once per value.
	for j := range c {
		w.mean[j], w.std[j] = n.Mean(j), n.Std(j)
	}
	mean, std := w.mean, w.std
	pos := w.head
	for i := 0; i < w.filled; i++ {
		src := w.raw[pos*c : (pos+1)*c]
		row := dst[i*c : (i+1)*c]
		for j, v := range src {
			row[j] = clamp((v-mean[j])/std[j], clip)
		}
		if pos++; pos == w.cfg.Size {
			pos = 0
		}
	}
}

// Newest returns the raw values of the sample at position back from the
// newest (0 = newest). The slice aliases the ring.
func (w *Window) Newest(back int) []float64 {
	i := (w.head + w.filled - 1 - back + w.cfg.Size) % w.cfg.Size
	return w.raw[i*w.channels : (i+1)*w.channels]
}

// Stats returns the counters.
func (w *Window) Stats() Stats { return w.stats }

// Config returns the configuration the window was built with.
func (w *Window) Config() Config { return w.cfg }

// Channels returns the number of channels per sample.
func (w *Window) Channels() int { return w.channels }

func clamp(v, lim float64) float64 {
	if v > lim {
		return lim
	}
	if v < -lim {
		return -lim
	}
	return v
}
