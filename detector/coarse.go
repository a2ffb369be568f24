package detector

import (
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/aewatch/aewatch/internal/detmath"
	"github.com/aewatch/aewatch/internal/statecodec"
	"github.com/aewatch/aewatch/model"
)

// CoarseConfig sets the coarse track: the series at a longer time scale.
// Each channel's normalised samples are averaged over blocks of Block, the
// newest Size block means form a window, and a small autoencoder of its
// own reconstructs that window once per block. Its error, calibrated on
// its own history, scores the block's last sample: a change that no
// 32-sample window shows (a cycle lower than the last ones, a missing
// daily peak, denser spikes) shows in the block means. The controls score
// the same block means their own way: frozen with a network that never
// learns, persistence by each block mean's step from the one before,
// range by the newest one's departure from their running extremes.
type CoarseConfig struct {
	// Block is how many samples each block mean averages (0: no coarse track).
	Block int `yaml:"block"`
	// Size is how many block means the coarse window holds.
	Size int `yaml:"size"`
	// Code is the coarse network's bottleneck, whatever the channels: kept
	// small, as the adapting network's is, so that it does not learn to
	// reconstruct a departure too.
	Code int `yaml:"code"`
	// HalfLife weighs the coarse window's error towards its newest block
	// means, in blocks, as WindowScoreHalfLife does in samples.
	HalfLife float64 `yaml:"half_life"`
	// LearningRate is the coarse network's, which learns once per block by
	// SGD with momentum (model.momentum): half the memory of Adam's
	// moments, and as good here (docs/quality.md).
	LearningRate float64 `yaml:"learning_rate"`
}

// DefaultCoarseConfig returns the defaults.
func DefaultCoarseConfig() CoarseConfig {
	return CoarseConfig{Block: 8, Size: 16, Code: 2, HalfLife: 2, LearningRate: 0.02}
}

// Validate names the first invalid field and its value.
func (c CoarseConfig) Validate() error {
	switch {
	case c.Block < 0 || c.Block > 1<<16:
		return fmt.Errorf("detector.coarse.block: must be in [0, 65536] samples (got %d)", c.Block)
	case c.Block == 0:
		return nil
	case c.Size < 4 || c.Size > 1024:
		return fmt.Errorf("detector.coarse.size: must be in [4, 1024] block means (got %d)", c.Size)
	case c.Code < 1 || 2*c.Code > c.Size:
		return fmt.Errorf("detector.coarse.code: must be in [1, %d], half the coarse window (got %d)", c.Size/2, c.Code)
	case !(c.HalfLife >= 0 && c.HalfLife <= 1e6):
		return fmt.Errorf("detector.coarse.half_life: must be in [0, 1e6] blocks (got %v)", c.HalfLife)
	case !(c.LearningRate > 0 && c.LearningRate <= 1):
		return fmt.Errorf("detector.coarse.learning_rate: must be in (0, 1] (got %v)", c.LearningRate)
	}
	return nil
}

// coarseCalibration calibrates the coarse errors: one per block, each
// scored on its own against the last 384 blocks' (3,072 samples at the
// default block).
var coarseCalibration = CalibrationConfig{Average: 1, History: 384, HistoryStride: 1, Settle: 0, Learning: 50,
	Reestimate: 10, MinStd: 0.05, ErrorHorizon: 1000, Transform: "sqrt", Cap: 5, AlertTail: 0.1}

// coarseSeed offsets the coarse network's seed from the detector's.
const coarseSeed = 0x5eed

// coarse is the coarse track of one series.
type coarse struct {
	cfg      CoarseConfig
	kind     Kind
	channels int
	n        int                // samples in the current block
	sum      []float64          // per channel, the current block's sum
	means    []float32          // Size×channels block means, oldest row first
	filled   int                // rows written, at most Size
	decay    float64            // the error's weight from one block mean to the one before it
	ae       *model.Autoencoder // autoencoder and frozen only
	lo, hi   []float64          // range only: the block means' running extremes
	cal      *calibrator
	context  []bool // Detector.context: left out of the error
}

func newCoarse(cfg CoarseConfig, kind Kind, channels int, base model.Config, seed uint64) (*coarse, error) {
	if cfg.Block == 0 {
		return nil, nil
	}
	k := &coarse{cfg: cfg, kind: kind, channels: channels, sum: make([]float64, channels),
		means: make([]float32, cfg.Size*channels), decay: 1, cal: newCalibrator(coarseCalibration, errorFloor)}
	if cfg.HalfLife > 0 {
		k.decay = detmath.Exp(-math.Ln2 / cfg.HalfLife)
	}
	switch kind {
	case Range:
		k.lo, k.hi = make([]float64, channels), make([]float64, channels)
		return k, nil
	case Persistence:
		return k, nil
	}
	mc := base
	mc.Hidden, mc.MultivariateHidden = []int{cfg.Code}, nil
	mc.Tied, mc.Optimizer, mc.LearningRate = true, "momentum", cfg.LearningRate
	mc.ReplaySize, mc.ReplayBatch, mc.Average = 0, 0, 0
	mc.Variant, mc.Bottleneck, mc.MaskTail, mc.TailSkip = "denoising", "fixed", 0, 0
	var err error
	// Its own seed: not the adapting network's first weights again.
	if k.ae, err = model.New(mc, cfg.Size*channels, seed+coarseSeed); err != nil {
		return nil, fmt.Errorf("detector.coarse: %w", err)
	}
	return k, nil
}

// push adds one sample's normalised values. At a block's end it returns
// the coarse window's score and true, and the network learns the window
// if learn holds and the score is below learnBelow.
func (k *coarse) push(x []float64, learn bool, learnBelow float64) (float64, bool) {
	for j, v := range x {
		k.sum[j] += v
	}
	k.n++
	if k.n < k.cfg.Block {
		return 0, false
	}
	copy(k.means, k.means[k.channels:])
	row := k.means[len(k.means)-k.channels:]
	for j := range row {
		row[j] = float32(k.sum[j] / float64(k.cfg.Block))
		k.sum[j] = 0
	}
	k.n, k.filled = 0, min(k.filled+1, k.cfg.Size)
	if k.lo != nil && k.filled == 1 {
		for j, v := range row {
			k.lo[j], k.hi[j] = float64(v), float64(v)
		}
	}
	if k.filled < k.cfg.Size {
		return 0, true
	}
	lent, _ := coarseScratch.Get().(*[]float64)
	if lent == nil || cap(*lent) < len(k.means) {
		lent = new([]float64)
		*lent = make([]float64, len(k.means))
	}
	defer coarseScratch.Put(lent)
	vec := (*lent)[:len(k.means)]
	for i, v := range k.means {
		vec[i] = float64(v)
	}
	score, _ := k.cal.update(k.cal.scale(k.error(vec, row)))
	if learn && score < learnBelow && k.ae != nil {
		k.ae.Learn(vec)
	}
	return score, true
}

// coarseScratch lends push the window as float64: it holds nothing
// between blocks, so there is one per push running at once, not one per
// series.
var coarseScratch sync.Pool

// error is the coarse window vec's raw error; newest is its newest row,
// which range then folds into its extremes.
func (k *coarse) error(vec []float64, newest []float32) float64 {
	c := k.channels
	switch k.kind {
	case Persistence:
		return windowError(vec[:len(vec)-c], nil, vec[c:], c, k.decay, k.context)
	case Range:
		var e float64
		scored := c
		for j, v := range newest {
			x := float64(v)
			if isContext(k.context, j) {
				k.lo[j], k.hi[j] = math.Min(k.lo[j], x), math.Max(k.hi[j], x)
				scored--
				continue
			}
			span := k.hi[j] - k.lo[j] + 1e-12
			e += math.Max(0, math.Max(x-k.hi[j], k.lo[j]-x)) / span
			k.lo[j], k.hi[j] = math.Min(k.lo[j], x), math.Max(k.hi[j], x)
		}
		return e / float64(scored)
	}
	return windowError(k.ae.Reconstruct(vec), nil, vec, c, k.decay, k.context)
}

func (k *coarse) appendState(e *statecodec.Encoder) error {
	e.Int(k.n)
	e.F64s(k.sum)
	e.F32s(k.means)
	e.Int(k.filled)
	if k.lo != nil {
		e.F64s(k.lo)
		e.F64s(k.hi)
	}
	if k.ae != nil {
		if err := k.ae.AppendState(e); err != nil {
			return err
		}
	}
	k.cal.appendState(e)
	return nil
}

func (k *coarse) readState(d *statecodec.Decoder) error {
	k.n = d.Int()
	d.F64sInto(k.sum, "coarse block sums")
	d.F32sInto(k.means, "coarse block means")
	k.filled = d.Int()
	if k.lo != nil {
		d.F64sInto(k.lo, "coarse block means' minima")
		d.F64sInto(k.hi, "coarse block means' maxima")
	}
	if err := d.Err(); err != nil {
		return err
	}
	if k.n < 0 || k.n >= k.cfg.Block || k.filled < 0 || k.filled > k.cfg.Size {
		return errors.New("detector: coarse track state out of range")
	}
	for _, v := range k.means {
		if !finite(float64(v)) {
			return errors.New("detector: coarse track's block means not finite")
		}
	}
	for _, s := range [][]float64{k.sum, k.lo, k.hi} {
		for _, v := range s {
			if !finite(v) {
				return errors.New("detector: coarse track's sums or extremes not finite")
			}
		}
	}
	if k.ae != nil {
		if err := k.ae.ReadState(d); err != nil {
			return err
		}
	}
	return k.cal.readState(d)
}

// bytes is what the coarse track holds: its sums, block means, network
// and calibration.
func (k *coarse) bytes() int {
	n := 8*(len(k.sum)+len(k.lo)+len(k.hi)) + 4*len(k.means) + cap(k.cal.hist) + 8*len(k.cal.avgRing)
	if k.ae != nil {
		for _, p := range k.ae.BytesByPart(false) {
			n += p.Bytes
		}
	}
	return n
}

// fullBytes is bytes once the calibration's history is full.
func (k *coarse) fullBytes() int { return k.bytes() - cap(k.cal.hist) + k.cal.histLen() }
