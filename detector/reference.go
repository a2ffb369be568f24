package detector

import (
	"fmt"
	"math"

	"github.com/aewatch/aewatch/model"
	"github.com/aewatch/aewatch/window"
)

// ReferenceConfig sets the reference model: the slow timescale beside the
// adapting autoencoder. It learns the series' normal behaviour over its
// first Samples accepted samples (its normalisation is frozen then), and
// afterwards only from windows it accepts as normal, so a sustained fault
// keeps scoring until the signal returns or an operator re-baselines,
// where the adapting model would learn it away within tens of samples.
type ReferenceConfig struct {
	Enabled bool `yaml:"enabled"`
	// Samples is the reference period, in accepted samples.
	Samples int `yaml:"samples"`
	// LearnEvery: after the reference period, the reference learns from
	// every n-th window it accepts as normal.
	LearnEvery int        `yaml:"learn_every"`
	Tail       TailConfig `yaml:"tail"`
	// Slack and Evidence set a CUSUM over the windows' evidence, in decades
	// of tail probability: each window adds its decades beyond Slack, and
	// the reference score reaches 0.5 (an alert opens) when the sum reaches
	// Evidence. A moderate departure that lasts is as telling as a large
	// one: hundreds of windows each only a little unusual add up.
	Slack    float64 `yaml:"slack"`
	Evidence float64 `yaml:"evidence"`
}

// DefaultReferenceConfig returns the defaults.
func DefaultReferenceConfig() ReferenceConfig {
	return ReferenceConfig{Enabled: true, Samples: 300, LearnEvery: 4, Tail: DefaultTailConfig(), Slack: 1.5, Evidence: 20}
}

// Validate names the first invalid field and its value.
func (c ReferenceConfig) Validate(windowSize int) error {
	switch {
	case c.Samples < windowSize+20:
		return fmt.Errorf("detector.reference.samples: must be >= window.size+20 = %d (got %d)", windowSize+20, c.Samples)
	case c.LearnEvery < 1 || c.LearnEvery > 1000:
		return fmt.Errorf("detector.reference.learn_every: must be in [1, 1000] (got %d)", c.LearnEvery)
	case !(c.Slack >= 0 && c.Slack <= 20):
		return fmt.Errorf("detector.reference.slack: must be in [0, 20] (got %v)", c.Slack)
	case !(c.Evidence > 0 && c.Evidence <= 1e6):
		return fmt.Errorf("detector.reference.evidence: must be in (0, 1e6] (got %v)", c.Evidence)
	}
	return c.Tail.Validate("detector.reference.tail")
}

// reference scores whole windows against the series' reference behaviour.
// With a model it is an autoencoder over the window on the frozen
// normalisation; without one (the persistence and range controls) the
// window is compared with the reference mean.
type reference struct {
	cfg     ReferenceConfig
	norm    *window.Normaliser
	ae      *model.Autoencoder // nil for the model-free controls
	train   bool               // false: the frozen control's untrained network
	cal     *tailCalibrator
	seen    int       // accepted samples
	windows uint64    // windows accepted after the reference period
	vec     []float64 // the window on the reference normalisation
	chErr   []float64 // per-channel share of the last window's error
	recon   []float64 // the last window's reconstruction (aliases ae's buffer)
	err     float64   // the last window's error
	cusum   float64   // accumulated decades beyond Slack, at most 2×Evidence
}

func newReference(cfg ReferenceConfig, wcfg window.Config, channels int, mc *model.Config, seed uint64, train bool) (*reference, error) {
	wcfg.NormWarmup = cfg.Samples
	norm, err := window.NewNormaliser(wcfg, channels)
	if err != nil {
		return nil, err
	}
	r := &reference{
		cfg: cfg, norm: norm, train: train, cal: newTailCalibrator(cfg.Tail),
		vec: make([]float64, wcfg.Size*channels), chErr: make([]float64, channels),
	}
	if mc != nil {
		// Another stream of weights than the adapting model's.
		if r.ae, err = model.New(*mc, len(r.vec), seed^0x7265666572656e63); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// observe folds an accepted sample into the reference normalisation while
// the reference period lasts.
func (r *reference) observe(x []float64) {
	r.seen++
	if r.seen <= r.cfg.Samples {
		r.norm.Observe(x)
	}
}

// learning reports whether the reference period is still on.
func (r *reference) learning() bool { return r.seen <= r.cfg.Samples }

// score returns the window's calibrated reference score.
func (r *reference) score(win *window.Window) float64 {
	win.Values(r.vec, r.norm)
	c := len(r.chErr)
	clear(r.chErr)
	var sse float64
	if r.ae != nil {
		r.recon = r.ae.Reconstruct(r.vec)
		for i, v := range r.vec {
			d := r.recon[i] - v
			r.chErr[i%c] += d * d
		}
	} else {
		for i, v := range r.vec {
			r.chErr[i%c] += v * v
		}
	}
	for _, e := range r.chErr {
		sse += e
	}
	r.err = math.Sqrt(sse / float64(len(r.vec)))
	if r.learning() || !r.cal.fitted {
		return 0
	}
	decades := r.cal.decades(r.err)
	r.cusum = min(2*r.cfg.Evidence, max(0, r.cusum+decades-r.cfg.Slack))
	return max(r.cal.scoreOf(decades), min(1, 0.5*r.cusum/r.cfg.Evidence))
}

// update learns from the window just scored: always during the reference
// period, afterwards only when normal says it was accepted as normal.
func (r *reference) update(normal bool) {
	if r.learning() {
		if r.seen > r.cfg.Samples/2 {
			r.cal.accept(r.err)
		}
		if r.ae != nil && r.train {
			r.ae.Learn(r.vec)
		}
		return
	}
	if !normal {
		return
	}
	r.cal.accept(r.err)
	r.windows++
	if r.ae != nil && r.train && r.windows%uint64(r.cfg.LearnEvery) == 0 {
		r.ae.Learn(r.vec)
	}
}

// restart begins a new reference period: the normalisation and the error
// history are learnt afresh; the network keeps its weights and learns on.
func (r *reference) restart() {
	r.seen, r.cusum = 0, 0
	r.norm.Reset()
	r.cal.reset()
}

// floats is how many float64 values the reference holds.
func (r *reference) floats() int {
	n := len(r.vec) + 3*len(r.cal.hist) + 3*len(r.chErr)
	if r.ae != nil {
		n += r.ae.Floats()
	}
	return n
}

// explain records, for the sample at window position p with raw values x,
// each channel's share of the window's reference error and its departure
// from what the reference expects there, in sensor units (the reference
// mean for the model-free controls).
func (r *reference) explain(why *Explanation, p int, x []float64) {
	c := len(r.chErr)
	var total float64
	for j := range c {
		why.Share[j] = r.chErr[j]
		total += r.chErr[j]
		expected := r.norm.Mean(j)
		if r.ae != nil {
			expected += r.recon[p*c+j] * r.norm.Std(j)
		}
		why.Departure[j] = x[j] - expected
	}
	why.Statistic = "reference"
	normaliseShares(why.Share, total)
}
