package window

import (
	"fmt"
	"time"
)

// Config sets the shape of a window and how it treats time.
type Config struct {
	// Size is the number of samples in a window (W).
	Size int `yaml:"size"`
	// Stride is the number of new samples between two windows (S), 1..Size.
	Stride int `yaml:"stride"`
	// MaxGap is the largest event-time step between two samples that still
	// counts as continuous. A larger step restarts the window. 0 disables
	// gap detection.
	MaxGap time.Duration `yaml:"max_gap"`
	// NormWarmup is the number of samples whose plain mean and variance seed
	// the normaliser before it switches to exponential forgetting.
	NormWarmup int `yaml:"norm_warmup"`
	// NormHorizon is the time constant, in samples, of the normaliser's
	// exponential forgetting after warm-up. Long horizons keep level shifts
	// and drift visible for longer.
	NormHorizon int `yaml:"norm_horizon"`
	// Clip bounds normalised values to [-Clip, Clip] so one wild value
	// cannot saturate the model.
	Clip float64 `yaml:"clip"`
	// MaxAbs rejects a sample with a value beyond ±MaxAbs as out of range:
	// transmitters and historians mark bad readings with sentinels such as
	// 9.9e37 or float32's largest value, and one of those folded into a
	// warming-up normaliser ruins the series' detector for good.
	MaxAbs float64 `yaml:"max_abs"`
	// SpreadFloor floors each channel's standard deviation at this share of
	// its level (|mean|), so that a constant channel still maps to finite
	// values and a change below it reads as small: a temperature at 90
	// wandering by 0.1 is not a fault. A channel whose normal variation is
	// below it (grid frequency 50 ± 0.01 Hz, absolute pressure in Pa) is
	// seen through the floor and needs a lower one.
	SpreadFloor float64 `yaml:"spread_floor"`
	// HoldAhead: a sample dated more than HoldAhead times the series'
	// typical step after its newest is held until the next sample. If that
	// comes at or after it, the series moved on (a gap) and both go in; if it
	// comes between the two, the held one was dated ahead (a device's
	// clock glitch) and is dropped, where otherwise every sample after it
	// would be dropped as out of order until time caught up with it. The
	// cost is one sample's delay after a gap; 0 turns the hold off.
	HoldAhead float64 `yaml:"hold_ahead"`
}

// DefaultConfig returns the configuration used when nothing is set.
func DefaultConfig() Config {
	return Config{Size: 32, Stride: 1, NormWarmup: 150, NormHorizon: 5000, Clip: 8, MaxAbs: 1e15, SpreadFloor: 1e-3, HoldAhead: 10}
}

// Validate reports the first invalid field, naming it and its value.
func (c Config) Validate() error {
	switch {
	case c.Size < 4 || c.Size > 4096:
		return fmt.Errorf("window.size: must be in [4, 4096] (got %d)", c.Size)
	case c.Stride < 1 || c.Stride > c.Size:
		return fmt.Errorf("window.stride: must be in [1, window.size=%d] (got %d)", c.Size, c.Stride)
	case c.MaxGap < 0:
		return fmt.Errorf("window.max_gap: must be >= 0 (got %v)", c.MaxGap)
	case c.NormWarmup < 2:
		return fmt.Errorf("window.norm_warmup: must be >= 2 (got %d)", c.NormWarmup)
	case c.NormHorizon < 1:
		return fmt.Errorf("window.norm_horizon: must be >= 1 (got %d)", c.NormHorizon)
	case !(c.Clip > 0) || c.Clip > 1e6:
		return fmt.Errorf("window.clip: must be in (0, 1e6] (got %v)", c.Clip)
	case !(c.MaxAbs > 0) || c.MaxAbs > 1e300:
		return fmt.Errorf("window.max_abs: must be in (0, 1e300] (got %v)", c.MaxAbs)
	case !(c.SpreadFloor >= 0 && c.SpreadFloor <= 1):
		return fmt.Errorf("window.spread_floor: must be in [0, 1] (got %v)", c.SpreadFloor)
	case c.HoldAhead != 0 && !(c.HoldAhead >= 2 && c.HoldAhead <= 1e9):
		return fmt.Errorf("window.hold_ahead: must be 0 (off) or in [2, 1e9] steps (got %v)", c.HoldAhead)
	}
	return nil
}
