package window

import (
	"fmt"
	"math"
)

// Normaliser keeps per-channel running mean and variance: exact moments for
// the first NormWarmup samples, exponential forgetting with time constant
// NormHorizon afterwards. Apply maps a value to (v-mean)/std.
//
// IsWild tells a glitch (a register read as 1e10) from a value: folded into
// a warm-up whose moments are then frozen, one would set the spread for
// good. Its owner decides what to do with one (detector.Detector holds
// isolated ones back while its models learn).
type Normaliser struct {
	warmup int
	alpha  float64
	floor  float64 // Config.SpreadFloor
	n      int
	mean   []float64
	m2     []float64 // sum of squared deviations during warm-up, variance after
}

// A wild value lies more than wildDevs deviations from the mean (see
// IsWild); WildRun of them in a row are a change of level (a motor
// starting), not a glitch.
const (
	wildAfter      = 16
	wildDevs       = 1000
	earlyWildRatio = 1e6 // before wildAfter: a first value near 0 of a signal around 0 is no scale
	WildRun        = 3
)

func errChannels(c int) error {
	return fmt.Errorf("window: channels must be >= 1 (got %d)", c)
}

// NewNormaliser returns a normaliser for the given number of channels.
func NewNormaliser(cfg Config, channels int) (*Normaliser, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if channels < 1 {
		return nil, errChannels(channels)
	}
	return &Normaliser{
		warmup: cfg.NormWarmup,
		alpha:  1 / float64(cfg.NormHorizon),
		floor:  cfg.SpreadFloor,
		mean:   make([]float64, channels),
		m2:     make([]float64, channels),
	}, nil
}

// Observe folds one finite sample into the moments.
func (n *Normaliser) Observe(x []float64) {
	n.n++
	if n.n <= n.warmup {
		for j, v := range x {
			d := v - n.mean[j]
			n.mean[j] += d / float64(n.n)
			n.m2[j] += float64(d * (v - n.mean[j]))
		}
		if n.n == n.warmup {
			for j := range n.m2 {
				n.m2[j] /= float64(n.n - 1)
			}
		}
		return
	}
	a := n.alpha
	for j, v := range x {
		d := v - n.mean[j]
		n.mean[j] += float64(a * d)
		n.m2[j] = (1 - a) * (n.m2[j] + float64(a*d*d))
	}
}

// IsWild reports whether v, as channel j's next value, would be a wild
// one. Once wildAfter samples are in: more than wildDevs deviations from
// the mean. Before, the spread of a few samples says little (a quantised
// channel's first values are equal), so only magnitudes are compared: v
// is wild if it lies earlyWildRatio times the smaller of |v| and
// |mean| + spread from the mean (a first sample of 1e10 makes a second of
// 10 wild, as a first of 10 makes a second of 1e10); a channel that has
// been exactly 0 has no scale, and nothing is wild after it.
func (n *Normaliser) IsWild(j int, v float64) bool {
	d := math.Abs(v - n.mean[j])
	switch {
	case n.n == 0:
		return false
	case n.n < wildAfter:
		scale := min(float64(math.Abs(n.mean[j])+math.Sqrt(n.variance(j))), math.Abs(v))
		return scale > 0 && d > float64(earlyWildRatio*scale)
	}
	return d > float64(wildDevs*n.Std(j))
}

// Reset forgets every sample observed.
func (n *Normaliser) Reset() {
	n.n = 0
	clear(n.mean)
	clear(n.m2)
}

// SetWarmup sets how many samples the exact moments cover; call it after
// Reset, before the next Observe.
func (n *Normaliser) SetWarmup(warmup int) { n.warmup = warmup }

// MoveMean shifts channel j's mean by delta; the variance is kept. It lets
// an owner that froze the moments follow a slow change of level.
func (n *Normaliser) MoveMean(j int, delta float64) { n.mean[j] += delta }

// Count returns the number of samples observed.
func (n *Normaliser) Count() int { return n.n }

// Apply normalises v as a value of channel j.
func (n *Normaliser) Apply(j int, v float64) float64 {
	return (v - n.mean[j]) / n.Std(j)
}

// Mean returns channel j's running mean.
func (n *Normaliser) Mean(j int) float64 { return n.mean[j] }

// Std returns channel j's running standard deviation, floored at
// Config.SpreadFloor of its level (and 1e-9) so that a constant signal
// still maps to finite values.
func (n *Normaliser) Std(j int) float64 {
	floor := float64(n.floor*math.Abs(n.mean[j])) + 1e-9
	return math.Max(math.Sqrt(n.variance(j)), floor)
}

// variance is channel j's running variance, unfloored.
func (n *Normaliser) variance(j int) float64 {
	switch {
	case n.n < 2:
		return 0
	case n.n < n.warmup:
		return n.m2[j] / float64(n.n-1)
	}
	return n.m2[j]
}
