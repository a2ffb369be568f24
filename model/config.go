package model

import (
	"fmt"
	"math"
	"slices"
)

// Config shapes the network and its training.
type Config struct {
	// Hidden lists the hidden layer sizes from the input side, e.g. [16, 4, 16]
	// for a 32-16-4-16-32 network. The smallest is the bottleneck.
	Hidden []int `yaml:"hidden"`
	// MultivariateHidden replaces Hidden for a network over more than one
	// channel (empty: Hidden): eight channels' window is eight times the
	// values a code must describe.
	MultivariateHidden []int `yaml:"multivariate_hidden"`
	// Optimizer is "adam", "adam_factored" (Adam with a layer's second
	// moments factored into rows and columns, as Adafactor's: a network's
	// moments in about half the memory) or "momentum" (SGD with momentum).
	Optimizer    string  `yaml:"optimizer"`
	LearningRate float64 `yaml:"learning_rate"`
	// MultivariateLearningRate replaces LearningRate for a network over
	// more than one channel (untied by default, MultivariateTied); 0:
	// LearningRate.
	MultivariateLearningRate float64 `yaml:"multivariate_learning_rate"`
	// Average, when > 0, scores with an exponential moving average of the
	// trained weights over about this many steps (Polyak averaging): the
	// scoring model is steadier and slower to absorb an anomaly than the
	// one being trained.
	Average int `yaml:"average"`
	// Momentum is SGD's momentum or Adam's beta1.
	Momentum float64 `yaml:"momentum"`
	// Beta2 is Adam's second-moment decay.
	Beta2 float64 `yaml:"beta2"`
	// NoiseStd is the standard deviation of the Gaussian corruption added to
	// training inputs (inputs are on the normalised scale).
	NoiseStd float64 `yaml:"noise_std"`
	// MaskProb is the probability that a training input is set to zero.
	MaskProb float64 `yaml:"mask_prob"`
	// ReplaySize is how many recent normal windows are kept for replay.
	// The adapting network keeps few (24): on NAB it then follows a
	// changed normal sooner (docs/quality.md); the reference network keeps
	// its own number (detector.reference.replay_size).
	ReplaySize int `yaml:"replay_size"`
	// ReplayBatch is how many replayed windows join each training step.
	ReplayBatch int `yaml:"replay_batch"`
	// Variant is "denoising" (the default; "" too), "sparse": the denoising
	// network with an L1 penalty of weight Sparsity on the bottleneck's
	// activations, so that a window's code uses few active units, or
	// "variational": the bottleneck becomes an encoder of each latent
	// unit's mean and log-variance, a latent code is drawn from them
	// (reparameterised), training adds Beta times the KL divergence from a
	// standard normal, and a window's error is its expected squared error
	// over Draws codes drawn (the reconstruction probability of a unit-
	// variance Gaussian decoder, up to constants), as Donut scores.
	Variant  string  `yaml:"variant"`
	Sparsity float64 `yaml:"sparsity"`
	Beta     float64 `yaml:"beta"`
	Draws    int     `yaml:"draws"`
	// Bottleneck is "fixed" (the smallest of Hidden; "" too) or "auto":
	// the detector then chooses the adapting network's bottleneck during
	// warm-up, the smallest of 1 .. AutoMax units beyond which one more
	// unit lowers the error on held-back windows by less than the share
	// AutoImprovement.
	Bottleneck      string  `yaml:"bottleneck"`
	AutoMax         int     `yaml:"auto_max"`
	AutoImprovement float64 `yaml:"auto_improvement"`
	// AutoSamples is how many samples the search lasts: the candidates
	// train on the first half and are compared over the second.
	AutoSamples int `yaml:"auto_samples"`
	// Tied makes each decoder layer use its mirrored encoder layer's
	// weights, transposed (Vincent et al.'s denoising autoencoders do):
	// half the weights, optimiser moments and averages to hold. Needs
	// hidden layers that read the same both ways. The variational
	// variant's decoder takes the rows of its encoder's means.
	Tied bool `yaml:"tied"`
	// MultivariateTied replaces Tied for a network over more than one
	// channel. Off by default: tied, the network over eight channels
	// opened no alert on a shift of one channel by 10 noise deviations
	// that it otherwise finds (docs/quality.md).
	MultivariateTied bool `yaml:"multivariate_tied"`
	// MaskTail is how many trailing inputs are always hidden (set to 0) from
	// the network, in scoring and in training, so that their outputs are
	// predictions from the rest of the window. Set by the detector.
	MaskTail int `yaml:"-"`
	// TailSkip, when > 0, is the number of channels per sample; each masked
	// output then predicts a residual over the last visible input of its
	// channel (a skip connection), so the network starts from persistence
	// and learns what persistence misses. Set by the detector.
	TailSkip int `yaml:"-"`
	// LinearCode leaves the bottleneck's units linear (no tanh): a code
	// that varies by degree, as a principal component's does, instead of
	// saturating at ±1. Set by the detector for the reference network
	// (detector.reference.linear_code); the variational variant's code
	// (its latent means) is linear either way.
	LinearCode bool `yaml:"-"`
}

// DefaultConfig returns the configuration used when nothing is set.
func DefaultConfig() Config {
	return Config{
		Hidden:                   []int{16, 2, 16},
		MultivariateHidden:       []int{16, 3, 16},
		Tied:                     true,
		Optimizer:                "adam",
		LearningRate:             0.002,
		MultivariateLearningRate: 0.003,
		Momentum:                 0.9,
		Beta2:                    0.999,
		NoiseStd:                 0.1,
		MaskProb:                 0.05,
		ReplaySize:               24,
		ReplayBatch:              2,
		Average:                  100,
		Variant:                  "denoising",
		Sparsity:                 0.01,
		Beta:                     0.01,
		Draws:                    4,
		Bottleneck:               "fixed",
		AutoMax:                  6,
		AutoImprovement:          0.1,
		AutoSamples:              1000,
	}
}

// Validate checks the configuration for a network with the given number of
// inputs, naming the first invalid field and its value.
func (c Config) Validate(inputs int) error {
	if inputs < 2 {
		return fmt.Errorf("model: inputs must be >= 2 (got %d)", inputs)
	}
	if err := ValidateLayers("model.hidden", c.Hidden, inputs); err != nil {
		return err
	}
	// A network over two channels or more has twice the inputs at least.
	if len(c.MultivariateHidden) > 0 {
		if err := ValidateLayers("model.multivariate_hidden", c.MultivariateHidden, 2*inputs); err != nil {
			return err
		}
	}
	switch c.Optimizer {
	case "adam", "adam_factored", "momentum":
	default:
		return fmt.Errorf("model.optimizer: must be adam, adam_factored or momentum (got %q)", c.Optimizer)
	}
	switch {
	case !(c.LearningRate > 0 && c.LearningRate <= 1):
		return fmt.Errorf("model.learning_rate: must be in (0, 1] (got %v)", c.LearningRate)
	case !(c.MultivariateLearningRate >= 0 && c.MultivariateLearningRate <= 1):
		return fmt.Errorf("model.multivariate_learning_rate: must be in [0, 1] (got %v)", c.MultivariateLearningRate)
	case c.Average < 0:
		return fmt.Errorf("model.average: must be >= 0 (got %d)", c.Average)
	case !(c.Momentum >= 0 && c.Momentum < 1):
		return fmt.Errorf("model.momentum: must be in [0, 1) (got %v)", c.Momentum)
	case !(c.Beta2 > 0 && c.Beta2 < 1):
		return fmt.Errorf("model.beta2: must be in (0, 1) (got %v)", c.Beta2)
	case !(c.NoiseStd >= 0) || math.IsInf(c.NoiseStd, 0):
		return fmt.Errorf("model.noise_std: must be finite and >= 0 (got %v)", c.NoiseStd)
	case !(c.MaskProb >= 0 && c.MaskProb < 1):
		return fmt.Errorf("model.mask_prob: must be in [0, 1) (got %v)", c.MaskProb)
	case c.ReplaySize < 0 || c.ReplaySize > 1<<16:
		return fmt.Errorf("model.replay_size: must be in [0, 65536] (got %d)", c.ReplaySize)
	case c.ReplayBatch < 0 || c.ReplayBatch > 64:
		return fmt.Errorf("model.replay_batch: must be in [0, 64] (got %d)", c.ReplayBatch)
	case c.MaskTail < 0 || c.MaskTail >= inputs:
		return fmt.Errorf("model: mask tail must be in [0, %d) (got %d)", inputs, c.MaskTail)
	case c.TailSkip < 0 || (c.TailSkip > 0 && c.MaskTail+c.TailSkip > inputs):
		return fmt.Errorf("model: tail skip must be in [0, inputs-mask tail] (got %d)", c.TailSkip)
	case c.Variant != "denoising" && c.Variant != "sparse" && c.Variant != "variational" && c.Variant != "":
		return fmt.Errorf("model.variant: must be denoising, sparse or variational (got %q)", c.Variant)
	case !(c.Beta >= 0 && c.Beta <= 100):
		return fmt.Errorf("model.beta: must be in [0, 100] (got %v)", c.Beta)
	case c.Variant == "variational" && (c.Draws < 1 || c.Draws > 64):
		return fmt.Errorf("model.draws: must be in [1, 64] (got %d)", c.Draws)
	case !(c.Sparsity >= 0 && c.Sparsity <= 10):
		return fmt.Errorf("model.sparsity: must be in [0, 10] (got %v)", c.Sparsity)
	case c.Bottleneck != "fixed" && c.Bottleneck != "auto" && c.Bottleneck != "":
		return fmt.Errorf("model.bottleneck: must be fixed or auto (got %q)", c.Bottleneck)
	case c.Bottleneck == "auto" && (c.AutoMax < 2 || 2*c.AutoMax > inputs):
		return fmt.Errorf("model.auto_max: must be in [2, %d], half the window's %d values (got %d)", inputs/2, inputs, c.AutoMax)
	case c.Bottleneck == "auto" && slices.ContainsFunc(c.Hidden, func(h int) bool { return h != slices.Min(c.Hidden) && h < c.AutoMax }):
		return fmt.Errorf("model.auto_max: %d would make another hidden layer than the bottleneck the smallest (hidden %v)", c.AutoMax, c.Hidden)
	case c.Bottleneck == "auto" && !(c.AutoImprovement > 0 && c.AutoImprovement < 1):
		return fmt.Errorf("model.auto_improvement: must be in (0, 1) (got %v)", c.AutoImprovement)
	case c.Bottleneck == "auto" && (c.AutoSamples < 100 || c.AutoSamples > 1e6):
		return fmt.Errorf("model.auto_samples: must be in [100, 1000000] (got %d)", c.AutoSamples)
	case c.Tied && !ReadsBothWays(c.Hidden):
		return fmt.Errorf("model.hidden: %v does not read the same both ways, as model.tied needs (or set model.tied: false)", c.Hidden)
	case c.MultivariateTied && !ReadsBothWays(c.MultivariateHidden):
		return fmt.Errorf("model.multivariate_hidden: %v does not read the same both ways, as model.multivariate_tied needs", c.MultivariateHidden)
	case c.ReplayBatch > 0 && c.ReplaySize == 0:
		return fmt.Errorf("model.replay_batch: needs model.replay_size > 0 (got replay_batch %d)", c.ReplayBatch)
	}
	return nil
}

// WithBottleneck returns c with its bottleneck (the smallest hidden layer,
// the first of equals) set to k units.
func (c Config) WithBottleneck(k int) Config {
	c.Hidden = slices.Clone(c.Hidden)
	c.Hidden[slices.Index(c.Hidden, slices.Min(c.Hidden))] = k
	return c
}

// ValidateLayers checks hidden layer sizes (key names them) for a network
// of at most that many inputs.
func ValidateLayers(key string, hidden []int, inputs int) error {
	if len(hidden) == 0 {
		return fmt.Errorf("%s: must list at least one layer (got %v)", key, hidden)
	}
	for i, h := range hidden {
		if h < 1 || h > 4096 {
			return fmt.Errorf("%s[%d]: must be in [1, 4096] (got %d)", key, i, h)
		}
	}
	if b := slices.Min(hidden); 2*b > inputs {
		return fmt.Errorf("%s: bottleneck %d must be at most half the window's %d values, or the network learns the identity (got %v)", key, b, inputs, hidden)
	}
	return nil
}

// ForChannels returns c as a network over that many channels uses it:
// beyond one channel, with MultivariateHidden, MultivariateTied and
// MultivariateLearningRate (if set) as its Hidden, Tied and LearningRate.
func (c Config) ForChannels(channels int) Config {
	if channels > 1 {
		if len(c.MultivariateHidden) > 0 {
			c.Hidden = c.MultivariateHidden
		}
		c.Tied = c.MultivariateTied
		if c.MultivariateLearningRate > 0 {
			c.LearningRate = c.MultivariateLearningRate
		}
	}
	return c
}

// ReadsBothWays reports whether layer sizes read the same both ways, as
// tied layers need.
func ReadsBothWays(xs []int) bool {
	for i := range len(xs) / 2 {
		if xs[i] != xs[len(xs)-1-i] {
			return false
		}
	}
	return true
}
