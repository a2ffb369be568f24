package detector

import (
	"fmt"
	"math"
	"slices"

	"github.com/aewatch/aewatch/model"
	"github.com/aewatch/aewatch/window"
)

// Kind names a raw-error source.
type Kind string

const (
	Autoencoder Kind = "autoencoder"
	Frozen      Kind = "frozen"
	Persistence Kind = "persistence"
	Range       Kind = "range"
)

// Kinds lists every kind, the default first.
var Kinds = []Kind{Autoencoder, Frozen, Persistence, Range}

// Config is everything that decides a series' scores. Two detectors with
// equal Configs fed the same samples emit identical results.
type Config struct {
	Kind        Kind              `yaml:"kind"`
	Seed        uint64            `yaml:"seed"`
	Window      window.Config     `yaml:"window"`
	Model       model.Config      `yaml:"model"`
	Calibration CalibrationConfig `yaml:"calibration"`
	Alert       AlertConfig       `yaml:"alert"`
	Drift       DriftConfig       `yaml:"drift"`
	Reference   ReferenceConfig   `yaml:"reference"`
	Quality     QualityConfig     `yaml:"quality"`
	// Feedback sets what operators' verdicts on alerts teach (feedback.go).
	Feedback FeedbackConfig `yaml:"feedback"`
	// Denoise sets the denoised output (denoise.go).
	Denoise DenoiseConfig `yaml:"denoise"`
	// Silences are maintenance windows (silence.go).
	Silences []Silence `yaml:"silences"`
	// SpatialTolerance and SpatialError make a new extreme score 1: a
	// value beyond its channel's running min/max by more than
	// SpatialTolerance of their span, in a sample whose error is at least
	// SpatialError times the series' typical error (the running mean the
	// calibration scales by). The error keeps a channel that creeps to new
	// highs (a warming motor) from scoring each step. SpatialTolerance 0
	// disables the check; SpatialError 0 takes any error.
	SpatialTolerance float64 `yaml:"spatial_tolerance"`
	SpatialError     float64 `yaml:"spatial_error"`
	// LearnBelow: windows whose score is at or above this are not learned.
	LearnBelow float64 `yaml:"learn_below"`
	// LearnEvery trains the autoencoder on every n-th window only (1: every
	// window); higher values trade adaptation for speed.
	LearnEvery int `yaml:"learn_every"`
	// MaskNewest hides each window's newest samples from the autoencoder, so
	// that their reconstruction is a prediction from the samples before
	// them (a masked denoising autoencoder).
	MaskNewest bool `yaml:"mask_newest"`
	// Residual makes the masked samples' outputs residuals over the last
	// visible sample (needs MaskNewest).
	Residual bool `yaml:"residual"`
	// WindowScore adds a second calibrated score from the autoencoder's
	// error over the whole (unmasked) window, which sees unfamiliar levels
	// and shapes; the sample's score is the larger of the two.
	WindowScore bool `yaml:"window_score"`
	// WindowScoreHalfLife weighs the whole-window error towards the newest
	// samples: a sample this many positions older counts half as much
	// (0: every position alike). A sample unlike the network's expectation
	// then moves the score as it enters the window rather than a
	// window-length's share of it, and stops moving it before it leaves.
	WindowScoreHalfLife float64 `yaml:"window_score_half_life"`
	// EpisodeGap: a score at or above Alert.Open within this many samples
	// of the last one that reached it belongs to the same episode and is
	// shown lowered to the likelihood's "yellow" (0.4), as a red right
	// after a red already is; each such sample extends the episode.
	// A score then reports an episode once, not each of its samples. It
	// changes what Result.Score shows, not what the alert, the bands or
	// the learning step on. 0: only the likelihood's own rule.
	EpisodeGap int `yaml:"episode_gap"`
	// DailyRepeat shows a score that recurs at the same time of day as a
	// repeat (daily.go).
	DailyRepeat DailyRepeatConfig `yaml:"daily_repeat"`
	// Coarse scores the series at a longer time scale too (coarse.go).
	Coarse CoarseConfig `yaml:"coarse"`
	// Warmup is how many accepted samples a series sees before any score is
	// non-zero or any alert opens.
	Warmup int `yaml:"warmup"`
	// Context names the channels that are inputs to the process rather
	// than measurements of it (a controlled variable's setpoint, a valve's
	// command, a load demand): with several channels the models see them,
	// but they are never alerted on themselves, and a channel whose
	// relation to the others holds (reference.relation_r2) has its level
	// judged by that relation, so an operator's setpoint change that the
	// process follows is normal while the same move without it is not.
	// Alone (one detector per channel) a context channel is not scored.
	Context []string `yaml:"context"`
}

// ContextFor marks which of channels are context channels (Context); nil
// when none is.
func (c Config) ContextFor(channels []string) []bool {
	var mask []bool
	for j, name := range channels {
		if slices.Contains(c.Context, name) {
			if mask == nil {
				mask = make([]bool, len(channels))
			}
			mask[j] = true
		}
	}
	return mask
}

// DefaultConfig returns the configuration used when nothing is set.
func DefaultConfig() Config {
	return Config{
		Kind:                Autoencoder,
		Seed:                1,
		Window:              window.DefaultConfig(),
		Model:               model.DefaultConfig(),
		Calibration:         DefaultCalibrationConfig(),
		Alert:               DefaultAlertConfig(),
		Drift:               DefaultDriftConfig(),
		Reference:           DefaultReferenceConfig(),
		Quality:             DefaultQualityConfig(),
		Feedback:            DefaultFeedbackConfig(),
		Denoise:             DefaultDenoiseConfig(),
		SpatialTolerance:    0.05,
		SpatialError:        6,
		MaskNewest:          true,
		Residual:            true,
		WindowScore:         true,
		WindowScoreHalfLife: 4,
		EpisodeGap:          32,
		DailyRepeat:         DefaultDailyRepeatConfig(),
		Coarse:              DefaultCoarseConfig(),
		LearnBelow:          0.5,
		LearnEvery:          1,
		Warmup:              200,
		Context:             []string{},
	}
}

// Validate checks c for series of the given number of channels and names
// the first invalid field and its value.
func (c Config) Validate(channels int) error {
	switch c.Kind {
	case Autoencoder, Frozen, Persistence, Range:
	default:
		return fmt.Errorf("detector.kind: must be one of autoencoder, frozen, persistence, range (got %q)", c.Kind)
	}
	if channels < 1 {
		return fmt.Errorf("detector: channels must be >= 1 (got %d)", channels)
	}
	for i, name := range c.Context {
		if name == "" || slices.Contains(c.Context[:i], name) {
			return fmt.Errorf("detector.context[%d]: must name a channel once (got %q)", i, name)
		}
	}
	if err := c.Window.Validate(); err != nil {
		return fmt.Errorf("detector.%w", err)
	}
	if c.Kind == Autoencoder || c.Kind == Frozen {
		if err := c.Model.ForChannels(channels).Validate(c.Window.Size * channels); err != nil {
			return fmt.Errorf("detector.%w", err)
		}
	}
	if c.Model.Bottleneck == "auto" && c.Kind != Autoencoder {
		return fmt.Errorf("detector.model.bottleneck: auto needs a network that trains, detector.kind autoencoder (got %s)", c.Kind)
	}
	if err := c.Calibration.Validate(); err != nil {
		return err
	}
	if err := c.Coarse.Validate(); err != nil {
		return err
	}
	if err := c.DailyRepeat.Validate(); err != nil {
		return err
	}
	if err := c.Alert.Validate(); err != nil {
		return err
	}
	if err := c.Drift.Validate(c.Window.Size); err != nil {
		return err
	}
	if c.Reference.Enabled {
		if err := c.Reference.Validate(c.Window.Size); err != nil {
			return err
		}
		if channels > 1 && len(c.Reference.MultivariateHidden) > 0 {
			if err := model.ValidateLayers("detector.reference.multivariate_hidden", c.Reference.MultivariateHidden, c.Window.Size*channels); err != nil {
				return err
			}
			if c.Model.MultivariateTied && !model.ReadsBothWays(c.Reference.MultivariateHidden) {
				return fmt.Errorf("detector.reference.multivariate_hidden: %v does not read the same both ways, as detector.model.multivariate_tied needs", c.Reference.MultivariateHidden)
			}
		}
	}
	if c.Quality.Enabled {
		if err := c.Quality.Validate(); err != nil {
			return err
		}
	}
	if err := c.Feedback.Validate(); err != nil {
		return err
	}
	if err := c.Denoise.Validate(); err != nil {
		return err
	}
	if err := validateSilences(c.Silences); err != nil {
		return err
	}
	switch {
	case !(c.SpatialTolerance >= 0) || math.IsInf(c.SpatialTolerance, 0):
		return fmt.Errorf("detector.spatial_tolerance: must be finite and >= 0 (got %v)", c.SpatialTolerance)
	case !(c.SpatialError >= 0) || math.IsInf(c.SpatialError, 0):
		return fmt.Errorf("detector.spatial_error: must be finite and >= 0 (got %v)", c.SpatialError)
	case !(c.WindowScoreHalfLife >= 0 && c.WindowScoreHalfLife <= 1e6):
		return fmt.Errorf("detector.window_score_half_life: must be in [0, 1e6] samples (got %v)", c.WindowScoreHalfLife)
	case c.EpisodeGap < 0 || c.EpisodeGap > 1e6:
		return fmt.Errorf("detector.episode_gap: must be in [0, 1000000] samples (got %d)", c.EpisodeGap)
	case !(c.LearnBelow > 0 && c.LearnBelow <= 1):
		return fmt.Errorf("detector.learn_below: must be in (0, 1] (got %v)", c.LearnBelow)
	case c.Residual && !c.MaskNewest:
		return fmt.Errorf("detector.residual: needs detector.mask_newest (got residual %v, mask_newest %v)", c.Residual, c.MaskNewest)
	case c.LearnEvery < 1 || c.LearnEvery > 1000:
		return fmt.Errorf("detector.learn_every: must be in [1, 1000] (got %d)", c.LearnEvery)
	case c.Warmup < 0:
		return fmt.Errorf("detector.warmup: must be >= 0 (got %d)", c.Warmup)
	}
	return nil
}
