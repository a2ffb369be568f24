package detector

import (
	"fmt"
	"math"
	"slices"

	"github.com/aewatch/aewatch/internal/detmath"
	"github.com/aewatch/aewatch/internal/statecodec"
	"github.com/aewatch/aewatch/model"
	"github.com/aewatch/aewatch/window"
)

// ReferenceConfig sets the reference model: the slow timescale beside the
// adapting autoencoder. It learns the series' normal behaviour over its
// first Samples accepted samples (its normalisation is frozen then), and
// afterwards only from windows it accepts as normal, so a sustained fault
// keeps scoring until the signal returns or an operator re-baselines (a
// departure of level alone for at most HoldLimit samples), where the
// adapting model would learn it away within tens of samples.
type ReferenceConfig struct {
	Enabled bool `yaml:"enabled"`
	// Samples is the reference period, in accepted samples.
	Samples int `yaml:"samples"`
	// LearnEvery: after the reference period, the reference network learns
	// from every n-th window it accepts as normal; 0 freezes it when the
	// period and the seasonal search (season.learn) are over, dropping its
	// optimiser state, averaged weights and replay (it learns again only
	// if a new period begins).
	LearnEvery int        `yaml:"learn_every"`
	Tail       TailConfig `yaml:"tail"`
	// Slack and Evidence set a CUSUM over the windows' evidence, in decades
	// of tail probability: each window adds its decades beyond Slack, and
	// while an alert is open the reference score stays at 0.5 or above
	// as long as the sum is at least Evidence. It holds an alert open
	// through a sustained fault whose windows are each only a little
	// unusual; it does not open one, because overlapping windows share
	// their samples, so one unusual stretch of normal data adds up to an
	// alert on its own (14% of SKAB's 9,405 fault-free rows alerted with
	// it, 5% without). 0 turns the hold off, the default: on real data
	// it held alerts through the normal's own slow novelty after a fault
	// (SKAB valve1 false-alarm rate 0.42 with it, 0.27 without; a
	// synthetic sustained regime or two is less covered without it).
	Slack    float64 `yaml:"slack"`
	Evidence float64 `yaml:"evidence"`
	// Follow is the time constant, in samples, with which each channel's
	// reference level follows the channel while the channel's window mean
	// stays within FollowGate times its spread over the reference period
	// (how far a window's mean strays from the level on normal data); 0
	// keeps the level frozen. Beyond the gate the level follows with the
	// much longer time constant FollowBeyond, so that a channel whose
	// normal drift outran the gate once is not held away for good, and not
	// at all while an alert it is part of is open (a channel the alert
	// does not involve follows as within the gate).
	// A slow change of the normal (a temperature warming
	// over hours) is followed, so it does not hold an alert open after a
	// fault ends; a step beyond the gate is not, so a sustained fault
	// keeps scoring.
	Follow       int     `yaml:"follow"`
	FollowGate   float64 `yaml:"follow_gate"`
	FollowBeyond int     `yaml:"follow_beyond"`
	// HoldLimit is how many samples an open alert holds its channels'
	// levels where they were; beyond it they follow again, as a channel
	// the alert does not involve does. A steady new level (an operator's
	// setpoint change on a controlled variable, a sensor that recovers to
	// a value its process drifted to meanwhile) then becomes the normal and
	// the alert closes, while a departure in shape, roughness or stillness
	// keeps it open. Below it a sustained fault keeps scoring (the
	// synthetic corpus's regimes last up to 1,191 samples); 0 holds until
	// the signal returns or an operator re-baselines.
	HoldLimit int `yaml:"hold_limit"`
	// FollowEvidence: within the gate, a channel whose own evidence in the
	// window (its error's tail, stillness, roughness; the pooled evidence
	// with one channel) is beyond this many decades is followed only while
	// it moves as a drift does: a significant trend within the window,
	// leaving the level with no more than twice the lag the follow itself
	// gives. A step, or a channel that breaks its relation to the others,
	// is not followed away; 0 follows within the gate whatever the
	// evidence.
	FollowEvidence float64 `yaml:"follow_evidence"`
	// FollowTrend: while an open alert holds a channel beyond the gate,
	// the channel's last FollowTrend window means, one a window's length
	// apart, are fitted by a line and by a single step; where the line
	// fits better, rises or falls significantly and has no step on top of
	// it, the channel moved as a drift and its level follows as within the
	// gate (leveltrend.go). A slow change of the normal that outran the
	// gate during an alert (a vibration level creeping up, a process
	// warming while a sensor was stuck) then no longer holds the alert
	// open to the hold limit, while a step stays held. 0 turns it off.
	FollowTrend int `yaml:"follow_trend"`
	// FollowReturn: a channel an open alert holds beyond the gate whose
	// window mean comes back within half of its largest departure in the
	// alert, or past its held level to the other side, for this many
	// samples in a row has returned from the fault: its level follows five
	// times as fast as within the gate, wholly clipped or not (a channel
	// that warmed on under the fault comes back past its level by more
	// than the clip). The normal goes on moving while a
	// fault holds the level (SKAB's accelerometers wander three deviations
	// in 300 rows), and a slow onset is followed as a drift until the fault
	// outruns the gate, so the level the alert held was stale and kept it
	// open for hundreds of rows after the fault. Not on a channel with a
	// cycle found (a stuck sensor on a cycle crosses its level with the
	// cycle), nor while the relation is in use (a load that moves the
	// channels carries a faulty one back towards its level as well); a
	// dip of an oscillating departure shorter than this is no return. 0
	// turns it off.
	FollowReturn int `yaml:"follow_return"`
	// Anchor: over this many samples after the reference period, each
	// channel's window means are measured both from its followed level and
	// from their own mean over the span. A channel that following brought
	// a little closer to its level and no more (a flow's noise wandering
	// about its setpoint: the level only chased the noise; anchorMinRatio,
	// anchorMaxRatio) is stationary, not drifting or cycling: from then on
	// its level follows within the gate with FollowBeyond's time constant,
	// as beyond it, and is no longer carried on by FollowTrend or
	// FollowReturn while an alert holds it, so that a sustained step
	// inside the gate is not followed away within a few hundred samples.
	// A level that strays beyond anchorSpreads from that mean after all,
	// or an open alert that reaches the hold limit, lets the channel go:
	// it follows as before. 0 turns it off.
	Anchor int `yaml:"anchor"`
	// RelationR2: with several channels, each channel of every window row
	// is also reconstructed from the row's other channels (relation.go; a
	// relation's offset follows as a level does, at follow_beyond),
	// where that relation explains at least this share of the channel's
	// variance and held on data it was not fitted on; 0 turns it off.
	RelationR2 float64 `yaml:"relation_r2"`
	// RelationLags: each channel is also reconstructed from the other
	// channels' values this many rows earlier (a transport delay: a
	// pressure that follows a flow through a pipe), in increasing order;
	// those beyond half the window are left out, and a period too short to
	// fit them all takes fewer, evenly across the list (relationLags).
	RelationLags []int `yaml:"relation_lags"`
	// RelationLearnOn: the relation goes on learning after the reference
	// period, as it does with context channels: from every row until it
	// relates a channel, then from the rows no alert holds, refitted every
	// half period (every quarter until it relates a channel). A channel
	// the period did not relate is related once its relation has held on
	// RelationHolds refits in a row; one the period related stays related.
	// A related channel's level follows at once and is judged by the
	// relation, and the drift monitor reads it against the others. Where
	// one operating point wanders further than the period saw (a load, a
	// throughput), the channels it drives are then judged against each
	// other instead of against their levels.
	RelationLearnOn bool `yaml:"relation_learn_on"`
	// RelationHolds is that run of refits: a co-drift of two warming
	// temperatures (SKAB's fault-free recording) held on ten and broke
	// thousands of samples later. With context channels one is enough:
	// what the inputs drive is the relation's to learn.
	RelationHolds int `yaml:"relation_holds"`
	// RelationLearnOnR2 is the share of a channel's variance its relation
	// must explain to relate it after the period, in place of RelationR2:
	// a fit that held out of sample on RelationHolds refits is trusted
	// further than one judged on the period's second half. A channel with
	// a wander of its own beside what the load drives is then judged
	// against the others rather than against a level the load moves.
	RelationLearnOnR2 float64 `yaml:"relation_learn_on_r2"`
	// Season gives the reference the phase of a cycle longer than its
	// window (season.go).
	Season SeasonConfig `yaml:"season"`
	// Stillness adds a test of each channel's spread within a window
	// against normal windows': a stuck sensor takes it to nothing
	// (channeltest.go).
	Stillness bool `yaml:"stillness"`
	// Roughness adds a test of each channel's movement from sample to
	// sample within a window against normal windows': a hunting loop or a
	// noise burst raises it (channeltest.go).
	Roughness bool `yaml:"roughness"`
	// Swing adds a test of each channel's spread about the window's own
	// trend line against normal windows': an oscillation too slow for the
	// roughness test, or a vibration growing, raises it while the level
	// and the trend stay where they were (channeltest.go).
	Swing bool `yaml:"swing"`
	// Level adds, over several channels, a test of each channel's window
	// mean against normal windows' (channeltest.go). The network's one-unit
	// code reconstructs a departure along the period's own co-movement (two
	// vibration levels rising together) as well as it does the normal; the
	// level sees it. With one channel the network's error is the channel's.
	Level bool `yaml:"level"`
	// Slope adds, over several channels, a test of each channel's trend
	// across the window against normal windows' (channeltest.go): a
	// channel driven faster than it ever moves normally, whose level the
	// follow tracks and whose ramp the network reconstructs (a motor
	// heating under a closed valve, SKAB valve1). With one channel it
	// moved nothing on NAB (70.12 against 70.09) and would take a
	// univariate detector past 32 KB.
	Slope bool `yaml:"slope"`
	// ShortRuns: on a channel with states (a motor's on and off), a run of
	// a state shorter than this share of the shortest of the normal runs
	// of that state is anomalous, and so are the runs after it until one
	// outlasts the bar (a compressor short-cycling; runs.go); 0 turns it
	// off.
	ShortRuns float64 `yaml:"short_runs"`
	// Recurrence is the longest cycle, in samples, over which a regime
	// that alerted, ended and came back (beyond the period's levels; within
	// them, twice) restarts the reference period to cover the cycle
	// (recurrence.go); 0 turns it off.
	Recurrence int `yaml:"recurrence"`
	// ReplaySize is how many normal windows the reference network keeps
	// for replay (model.replay_size is the adapting network's): half of
	// them an even sample of the reference period, kept for good.
	ReplaySize int `yaml:"replay_size"`
	// MultivariateHidden replaces the reference network's hidden layers
	// over more than one channel (model.multivariate_hidden sets the
	// adapting network's, and the reference's when this is empty). One
	// unit by default: a code that can follow one channel's level as a
	// direction of its own reconstructs that channel's level shift
	// (docs/quality.md, "a one-unit code for the reference network").
	MultivariateHidden []int `yaml:"multivariate_hidden"`
	// LinearCode leaves the reference network's bottleneck linear over one
	// channel, and MultivariateLinearCode over several. With tanh, its two
	// code units sat near ±1 on most windows (the synthetic noisy flow's),
	// so it rebuilt a window as one of a few prototypes; linear, the code
	// follows a window by degree. Over several channels the one-unit code
	// keeps its tanh: linear there, SKAB's figures fell a little
	// (docs/quality.md).
	LinearCode             bool `yaml:"linear_code"`
	MultivariateLinearCode bool `yaml:"multivariate_linear_code"`
}

// DefaultReferenceConfig returns the defaults.
func DefaultReferenceConfig() ReferenceConfig {
	return ReferenceConfig{Enabled: true, Samples: 400, LearnEvery: 0, Tail: DefaultTailConfig(), Slack: 1.5, Evidence: 0, Follow: 100, FollowGate: 5, FollowBeyond: 3000, HoldLimit: 1500, FollowEvidence: 5, FollowTrend: 12, FollowReturn: 8, Anchor: 2000, RelationR2: 0.9,
		Season: DefaultSeasonConfig(), Recurrence: 20000, Stillness: true, Roughness: true, Swing: true, Level: true, Slope: true, ShortRuns: 0.6, ReplaySize: 128,
		MultivariateHidden: []int{16, 1, 16}, RelationLags: []int{1, 2, 3, 4, 6, 8, 12, 16}, RelationLearnOn: true, RelationHolds: 40, RelationLearnOnR2: 0.7, LinearCode: true}
}

// Validate names the first invalid field and its value.
func (c ReferenceConfig) Validate(windowSize int) error {
	switch {
	case c.Samples < windowSize+20:
		return fmt.Errorf("detector.reference.samples: must be >= window.size+20 = %d (got %d)", windowSize+20, c.Samples)
	case c.LearnEvery < 0 || c.LearnEvery > 1000:
		return fmt.Errorf("detector.reference.learn_every: must be 0 (frozen after its period) or in [1, 1000] (got %d)", c.LearnEvery)
	case !(c.Slack >= 0 && c.Slack <= 20):
		return fmt.Errorf("detector.reference.slack: must be in [0, 20] (got %v)", c.Slack)
	case !(c.Evidence >= 0 && c.Evidence <= 1e6):
		return fmt.Errorf("detector.reference.evidence: must be 0 (off) or in (0, 1e6] (got %v)", c.Evidence)
	case c.ShortRuns != 0 && !(c.ShortRuns > 0 && c.ShortRuns < 1):
		return fmt.Errorf("detector.reference.short_runs: must be 0 (off) or in (0, 1) (got %v)", c.ShortRuns)
	case c.Follow < 0 || c.Follow > 1e9:
		return fmt.Errorf("detector.reference.follow: must be in [0, 1e9] samples (got %d)", c.Follow)
	case c.Follow > 0 && (c.FollowBeyond < c.Follow || c.FollowBeyond > 1e9):
		return fmt.Errorf("detector.reference.follow_beyond: must be in [follow=%d, 1e9] samples (got %d)", c.Follow, c.FollowBeyond)
	case c.HoldLimit < 0 || c.HoldLimit > 1e9:
		return fmt.Errorf("detector.reference.hold_limit: must be 0 (hold until the signal returns) or in [1, 1e9] samples (got %d)", c.HoldLimit)
	case c.Recurrence != 0 && (c.Recurrence < 0 || c.Recurrence > 1e8):
		return fmt.Errorf("detector.reference.recurrence: must be 0 (off) or in [detector.reference.samples, 1e8] (got %d)", c.Recurrence)
	case c.Recurrence != 0 && c.Recurrence < c.Samples:
		// Either may be the one just set: both named, with their values.
		return fmt.Errorf("detector.reference.recurrence (%d) must be 0 (off) or at least detector.reference.samples (%d)", c.Recurrence, c.Samples)
	case c.ReplaySize < 0 || c.ReplaySize > 1<<16:
		return fmt.Errorf("detector.reference.replay_size: must be in [0, 65536] (got %d)", c.ReplaySize)
	case !(c.RelationR2 >= 0 && c.RelationR2 < 1):
		return fmt.Errorf("detector.reference.relation_r2: must be 0 (off) or in (0, 1) (got %v)", c.RelationR2)
	case c.RelationHolds < 1 || c.RelationHolds > 1e6:
		return fmt.Errorf("detector.reference.relation_holds: must be in [1, 1e6] refits (got %d)", c.RelationHolds)
	case !(c.RelationLearnOnR2 > 0 && c.RelationLearnOnR2 < 1):
		return fmt.Errorf("detector.reference.relation_learn_on_r2: must be in (0, 1) (got %v)", c.RelationLearnOnR2)
	case !(c.FollowEvidence >= 0 && c.FollowEvidence <= 100):
		return fmt.Errorf("detector.reference.follow_evidence: must be 0 (off) or in (0, 100] decades (got %v)", c.FollowEvidence)
	case c.FollowTrend != 0 && (c.FollowTrend < 4 || c.FollowTrend > 1e5):
		return fmt.Errorf("detector.reference.follow_trend: must be 0 (off) or in [4, 100000] window means (got %d)", c.FollowTrend)
	case c.Anchor < 0 || c.Anchor > 1e7:
		return fmt.Errorf("detector.reference.anchor: must be 0 (off) or in [1, 10000000] samples (got %d)", c.Anchor)
	case c.FollowReturn < 0 || c.FollowReturn > 1e6:
		return fmt.Errorf("detector.reference.follow_return: must be 0 (off) or in [1, 1000000] samples (got %d)", c.FollowReturn)
	case !(c.FollowGate > 0 && c.FollowGate <= 100):
		return fmt.Errorf("detector.reference.follow_gate: must be in (0, 100] (got %v)", c.FollowGate)
	}
	for i, l := range c.RelationLags {
		if l < 1 || l > 1e4 || (i > 0 && l <= c.RelationLags[i-1]) {
			return fmt.Errorf("detector.reference.relation_lags[%d]: must be in [1, 10000] and above the lag before it (got %v)", i, c.RelationLags)
		}
	}
	if err := c.Season.Validate(windowSize); err != nil {
		return err
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
	// Per channel, the sum of squared window means (reference units) over
	// the second half of the reference period, and how many windows.
	meanSq []float64
	meanN  int
	// With several channels, each channel's error also has its own tail
	// model, so that a fault on one channel of many is not diluted in the
	// pooled error; the strongest channel's evidence counts, less
	// log10(channels) decades (Bonferroni: the most unusual of c channels).
	chCal []*tailCalibrator
	// season removes each channel's cycle from what the reference sees (nil:
	// off).
	season    *season
	mean, std []float64 // the normalisation's, looked up once per window
	marg      *marginal
	// period is the current reference period: Samples, or the cycle a
	// recurring regime showed.
	period  int
	recur   *recurrence    // nil: off
	runs    *runLengths    // nil: off
	clip    float64        // the window's clip, normalised units
	seed    uint64         // for the replay's reservoir sampling
	anchors int            // replay slots kept from the period once it is over
	trans   *transient     // an open alert's errors, for the tails if it proves a transient
	tests   []*channelTest // stillness, roughness, swing and level, those on, in that order (snapshots and the transient buffer keep it)
	// chEvidence is each channel's own evidence in the last window, in
	// decades: its error's and its tests'.
	chEvidence []float64
	// held marks the channels whose level stays where it was while an
	// alert is open: those with evidence beyond Slack in the window it
	// opened on (all if none had); heldSet says they are chosen.
	held    []bool
	heldSet bool
	// heldFor counts the windows an open alert has held levels for;
	// holdWindows is HoldLimit in windows (0: no limit).
	heldFor, holdWindows int
	// peak is each channel's largest departure in the open alert, in
	// window-mean spreads from its level, signed: once beyond the gate,
	// on that side. back counts the windows in a row the channel has been
	// back from it (FollowReturn, returnWindows of them; nil: off).
	peak          []float64
	back          []int
	returnWindows int
	// anchor is each channel's level where the reference period left it,
	// and once the anchor's span is over its window means' mean; over the
	// anchorFor windows since the period (Anchor, anchorWindows of them;
	// nil: off) meanSum and meanSqSum sum its window means from where the
	// period left it and their squares, levelSq their squares from its
	// followed level; letGo marks a channel let go for good.
	anchor, meanSum, meanSqSum, levelSq []float64
	letGo                               []bool
	anchorFor, anchorWindows            int
	weights                             []float64 // channelWeights' scratch
	// seasonPending: the seasonal context found a cycle while an alert was
	// open; the reference goes on without it until the alert closes.
	seasonPending bool
	decades       float64     // the last window's evidence, for following one channel
	trend         *levelTrend // nil: FollowTrend off
	rel           *relation   // nil: one channel, off, or no trained network
	// context marks the context channels (Detector.SetContext; nil: none).
	// With them the relation reads the window unclipped (relVec): an input
	// the period saw still reads as tens of its deviations once it moves.
	context []bool
	relVec  []float64
	// relMeasured: the relation measured the last window scored.
	relMeasured bool
	// missing marks the channels with a filled value in the window
	// (missing.go; nil: none): left out of the errors and the evidence,
	// not followed, and the window is not learnt from.
	missing []bool
	// spawn builds a fresh reference like this one.
	spawn func() (*reference, error)
	// prev is the reference as it stood when the seasonal context found a
	// cycle and the period restarted on the signal without it: until the
	// new period is over it scores, explains and holds in its place, so
	// that the restart leaves no period unjudged. It reads the signal
	// with its cycles, as it learnt it, and restarts no more.
	prev *reference
}

// minMeanSpread floors a channel's window-mean spread, in reference
// deviations, so that a flat or strongly averaged channel can still follow.
const minMeanSpread = 0.05

// minSpreadScale floors the tail scale of the reference's window errors,
// which are in spreads (pooled and per channel): window.spread_floor
// declares variation under a spread of no interest, and a tail fitted to
// that variation's own scale made it an alarm all the same (a step of 8 on
// a level of 1e6, under the floor's spread of 1000, scored 30 decades).
const minSpreadScale = 0.01

// newSpreadTail is a tail model of window errors measured in spreads.
func newSpreadTail(cfg TailConfig) *tailCalibrator {
	c := newTailCalibrator(cfg)
	c.minScale = minSpreadScale
	return c
}

func newReference(cfg ReferenceConfig, wcfg window.Config, channels int, mc *model.Config, seed uint64, train bool) (*reference, error) {
	r, err := buildReference(cfg, wcfg, channels, mc, seed, train)
	if err != nil {
		return nil, err
	}
	r.spawn = func() (*reference, error) { return buildReference(cfg, wcfg, channels, mc, seed, train) }
	return r, nil
}

func buildReference(cfg ReferenceConfig, wcfg window.Config, channels int, mc *model.Config, seed uint64, train bool) (*reference, error) {
	wcfg.NormWarmup = cfg.Samples
	norm, err := window.NewNormaliser(wcfg, channels)
	if err != nil {
		return nil, err
	}
	r := &reference{
		cfg: cfg, norm: norm, train: train, cal: newSpreadTail(cfg.Tail),
		vec: make([]float64, wcfg.Size*channels), chErr: make([]float64, channels),
		meanSq: make([]float64, channels), season: newSeason(cfg.Season, wcfg.Size, channels),
		mean: make([]float64, channels), std: make([]float64, channels),
		marg: newMarginal(marginalTail(cfg.Tail), channels, wcfg.Size), period: cfg.Samples,
		clip: wcfg.Clip, seed: seed, chEvidence: make([]float64, channels), held: make([]bool, channels), weights: make([]float64, channels),
	}
	if cfg.FollowTrend > 0 && cfg.Follow > 0 {
		r.trend = newLevelTrend(cfg.FollowTrend, wcfg.Size, channels)
	}
	if cfg.FollowReturn > 0 && cfg.Follow > 0 {
		r.peak, r.back = make([]float64, channels), make([]int, channels)
		r.returnWindows = (cfg.FollowReturn + wcfg.Stride - 1) / wcfg.Stride
	}
	if cfg.Anchor > 0 && cfg.Follow > 0 {
		r.anchor, r.meanSum, r.meanSqSum, r.levelSq = make([]float64, channels), make([]float64, channels), make([]float64, channels), make([]float64, channels)
		r.letGo = make([]bool, channels)
		r.anchorWindows = (cfg.Anchor + wcfg.Stride - 1) / wcfg.Stride
	}
	if cfg.HoldLimit > 0 {
		r.holdWindows = (cfg.HoldLimit + wcfg.Stride - 1) / wcfg.Stride
	}
	if cfg.Recurrence > 0 {
		r.recur = newRecurrence(channels)
	}
	if cfg.ShortRuns > 0 {
		r.runs = newRunLengths(cfg.ShortRuns, channels)
	}
	if cfg.Stillness {
		r.tests = append(r.tests, newStillness(cfg.Tail, channels))
	}
	if cfg.Roughness {
		r.tests = append(r.tests, newRoughness(cfg.Tail, channels))
	}
	if cfg.Swing {
		r.tests = append(r.tests, newSwing(cfg.Tail, channels))
	}
	if cfg.Level && channels > 1 {
		r.tests = append(r.tests, newLevel(cfg.Tail, channels))
	}
	if cfg.Slope && channels > 1 {
		r.tests = append(r.tests, newSlope(cfg.Tail, channels))
	}
	r.trans = newTransient(channels, len(r.tests))
	if channels > 1 {
		for range channels {
			r.chCal = append(r.chCal, newSpreadTail(cfg.Tail))
		}
		// A learned model, as the network is: the controls go without.
		if cfg.RelationR2 > 0 && mc != nil && train {
			r.rel = newRelation(cfg.RelationR2, cfg.Tail, channels, wcfg.Size, cfg.Samples, wcfg.Stride, cfg.RelationLags, nil)
			r.buildRelation()
		}
	}
	if mc != nil {
		m := *mc
		m.ReplaySize = cfg.ReplaySize
		if m.ReplaySize == 0 {
			m.ReplayBatch = 0 // nothing to replay
		}
		mc = &m
		// Another stream of weights than the adapting model's.
		if r.ae, err = model.New(*mc, len(r.vec), seed^0x7265666572656e63); err != nil {
			return nil, err
		}
		r.anchors = mc.ReplaySize / 2
	}
	return r, nil
}

// network is the reference network's model configuration over that many
// channels: the adapting network's, with the reference's own layers and
// code over several channels (MultivariateHidden, MultivariateLinearCode)
// and its code over one (LinearCode).
func (c ReferenceConfig) network(base model.Config, channels int) model.Config {
	m := base.ForChannels(channels)
	m.LinearCode = c.LinearCode
	if channels > 1 {
		if len(c.MultivariateHidden) > 0 {
			m.Hidden = c.MultivariateHidden
		}
		m.LinearCode = c.MultivariateLinearCode
	}
	return m
}

// marginalTail is the value histogram's tail model: the reference's,
// over a quarter of its history (the statistic is a share of a window's
// samples, a few dozen values).
func marginalTail(t TailConfig) *TailConfig {
	t.History = max(20, t.History/4)
	t.Learning = min(t.Learning, t.History)
	return &t
}

// observe folds an accepted sample taken at time t into the reference
// normalisation while the reference period lasts; holding says whether an
// alert is open. When the seasonal context has just found a cycle, the
// reference period starts again on the signal without it, once no alert
// is open: a period restarted inside a fault would learn the fault as the
// normal.
func (r *reference) observe(t int64, x []float64, holding bool) {
	if r.prev != nil {
		r.prev.missing = r.missing
		r.prev.observe(t, x, holding)
	}
	if r.missing != nil {
		// Filled values teach nothing, nor count towards the period; a
		// learnt cycle's offsets still move on with the window, or every
		// channel would be read out of phase from here on.
		if r.season != nil && r.season.done {
			r.season.observe(t, x)
		}
		return
	}
	if r.season != nil {
		found, y := r.season.observe(t, x)
		if found && r.marg.settled {
			// A channel that switches between states keeps them to a
			// cycle of its own that wanders; its states are learnt, and a
			// profile smeared by the wander would blur them. A cycle of
			// the clock (a shift's schedule) is kept.
			found = r.season.drop(func(j int) bool { return !r.marg.modal[j] || r.season.onClock(j) }, x)
		}
		r.seasonPending = r.seasonPending || found
		if r.seasonPending && !holding {
			r.seasonPending = false
			if r.learning() {
				// A period still on (restarted for a recurring regime) has
				// not finished learning, so it cannot stand in: whatever
				// stands in for it already goes on doing so.
				standing := r.prev
				r.restart()
				r.prev = standing
			} else {
				prev := r.retire()
				r.restart()
				if r.prev = prev; prev != nil {
					prev.observe(t, x, holding) // as r would have without the restart
				}
			}
		}
		if !r.seasonPending {
			x = y
		}
	}
	r.seen++
	if r.seen <= r.period {
		r.norm.Observe(x)
		r.marg.observe(x, r.seen, r.period)
	} else if r.runs != nil && r.marg.settled {
		r.runs.step(x, r.marg, r.norm.Std, !holding)
	}
}

// learning reports whether the reference period is still on.
func (r *reference) learning() bool { return r.seen <= r.period }

// score returns the window's calibrated reference score; holding says
// whether an alert is open, which the CUSUM may then hold.
func (r *reference) score(win *window.Window, holding bool) float64 {
	own := r.scoreOwn(win, holding)
	if r.prev == nil {
		return own
	}
	if r.learning() {
		return r.prev.score(win, holding)
	}
	r.prev = nil // the new period is over
	return own
}

// scoring is the reference whose score, explanation and held channels
// stand: prev while the period restarted for a cycle learns.
func (r *reference) scoring() *reference {
	if r.prev != nil {
		return r.prev
	}
	return r
}

// phased reports whether the reference that scores reads the signal by
// the phase of a cycle it found.
func (r *reference) phased() bool {
	s := r.scoring()
	return s.season != nil && s.season.done && !s.seasonPending && s.season.longest > 0
}

// retire returns a copy of r to score while its period restarts (prev),
// nil if it cannot be made: it reads the signal as r did before the
// restart, without a seasonal context, and restarts no more.
func (r *reference) retire() *reference {
	p, err := r.spawn()
	if err != nil {
		return nil
	}
	p.setContext(r.context)
	var e statecodec.Encoder
	if r.appendState(&e) != nil || p.readState(statecodec.NewDecoder(e.Buf)) != nil {
		return nil
	}
	p.retired()
	if p.ae != nil && p.freezes() {
		p.ae.Freeze() // as r would have now that the seasonal search is over
	}
	return p
}

// retired turns a fresh or copied reference into a predecessor (prev).
func (r *reference) retired() {
	r.season, r.recur, r.spawn, r.seasonPending = nil, nil, nil, false
}

func (r *reference) scoreOwn(win *window.Window, holding bool) float64 {
	c := len(r.chErr)
	r.relMeasured = false
	if r.season != nil && r.season.done && !r.seasonPending {
		// The cycle comes off before normalising and clipping.
		size, clip := len(r.vec)/c, win.Config().Clip
		for j := range c {
			r.mean[j], r.std[j] = r.norm.Mean(j), r.norm.Std(j)
		}
		for q := range size {
			x, off := win.Newest(size-1-q), r.season.windowOffsets(q, c)
			for j := range c {
				v := (x[j] - off[j] - r.mean[j]) / r.std[j]
				r.vec[q*c+j] = max(-clip, min(clip, v))
			}
		}
	} else {
		win.Values(r.vec, r.norm)
	}
	clear(r.chErr)
	var sse float64
	if r.ae != nil {
		r.recon = r.ae.Reconstruct(r.vec)
		for i, v := range r.vec {
			d := r.recon[i] - v
			r.chErr[i%c] += float64(d * d)
		}
		for i, v := range r.ae.ReconVar() { // the variational variant's expected error
			r.chErr[i%c] += v
		}
	} else {
		for i, v := range r.vec {
			r.chErr[i%c] += float64(v * v)
		}
	}
	// The network's error leaves out the channels the relation judges (the
	// inputs and, with them, what they drive): a setpoint's step and the
	// process settling on it are a shape the network need not know.
	scored := len(r.vec)
	for j, e := range r.chErr {
		if r.levelByRelation(j) || isContext(r.missing, j) {
			scored -= len(r.vec) / c
			continue
		}
		sse += e
	}
	r.err = 0
	if scored > 0 {
		r.err = math.Sqrt(sse / float64(scored))
	}
	for _, t := range r.tests {
		t.measure(r.vec, t.stat)
	}
	if r.rel != nil && !r.rel.done && !r.learning() {
		r.rel.finish(r.norm.Mean, r.norm.Std)
	}
	if r.rel != nil {
		if r.rel.done && (r.rel.active || r.rel.rolling) && r.missing == nil {
			r.rel.follow(r.norm.Mean, r.norm.Std)
		}
		if r.relVec != nil {
			r.fillRelRows(win)
		}
		r.rel.advance(r.relRows())
	}
	if r.learning() || !r.cal.fitted {
		return 0
	}
	decades := r.cal.decades(r.err)
	if !r.marg.settled {
		if p := min(r.marg.periodForStates(r.period, r.norm.Std, r.context), marginalLongest*r.cfg.Samples); p > r.period && r.period == r.cfg.Samples {
			// A channel held a few levels and jumped between them too
			// rarely for the period to have shown them all: it starts
			// again, long enough to. Once: a chain of restarts, each
			// counting only its own jumps, left the series unjudged for
			// the sum of their periods.
			r.period = p
			r.restart()
			return 0
		}
		r.marg.settle(r.norm.Mean, r.norm.Std)
		if r.ae != nil {
			// Half the replay stays a sample of the whole period, so that
			// a state seen in it is not forgotten however long the series
			// stays in another.
			r.ae.AnchorReplay(r.anchors)
		}
	}
	if r.rel != nil && r.rel.rolling && r.marg.settled {
		for j := range r.marg.modal {
			// Their levels are the relation's to judge.
			r.marg.modal[j] = r.marg.modal[j] && !r.levelByRelation(j)
		}
	}
	if r.marg.active() {
		if st := r.marg.statistic(r.vec, c); r.marg.cal.fitted {
			decades = max(decades, r.marg.cal.decades(st)-marginalDiscount)
		}
	}
	clear(r.chEvidence)
	if r.chCal != nil {
		rows, many := float64(len(r.vec)/c), detmath.Log10(float64(c))
		for j, cc := range r.chCal {
			if cc.fitted && !r.levelByRelation(j) {
				r.chEvidence[j] = cc.decades(math.Sqrt(r.chErr[j]/rows)) - many
			}
		}
	}
	if r.rel != nil && r.rel.active && r.missing == nil {
		// A filled input would pass for its outputs' departure.
		r.rel.measure(r.relRows())
		r.rel.evidence(r.chEvidence)
		r.relMeasured = true
	}
	for _, t := range r.tests {
		for j := range r.chEvidence {
			if t.movesByRelation && r.levelByRelation(j) {
				continue
			}
			r.chEvidence[j] = max(r.chEvidence[j], t.channelDecades(j, r.marg.modal))
		}
	}
	if r.runs != nil {
		for j := range r.runs.short {
			if r.runs.shortRuns(j) {
				r.chEvidence[j] = max(r.chEvidence[j], r.cfg.Tail.Decades)
			}
		}
	}
	for j, d := range r.chEvidence {
		if isContext(r.context, j) || isContext(r.missing, j) {
			r.chEvidence[j] = 0
			continue
		}
		decades = max(decades, d)
	}
	r.decades = decades
	r.cusum = min(2*r.cfg.Evidence, max(0, r.cusum+decades-r.cfg.Slack))
	instant := r.cal.scoreOf(decades)
	if !holding || r.cfg.Evidence == 0 {
		return instant
	}
	return max(instant, min(1, 0.5*r.cusum/r.cfg.Evidence))
}

// update learns from the window just scored: always during the reference
// period, afterwards only when normal says it was accepted as normal.
func (r *reference) update(normal, holding bool, x []float64) {
	if r.prev != nil {
		r.prev.update(normal, holding, x)
	}
	if r.recur != nil && !r.learning() {
		cycle, repeats := r.recur.step(holding, x, r.norm.Mean, r.norm.Std)
		// A regime the period never saw restarts it at once; one it saw
		// at the regime's third occurrence (recurrenceSeenRepeats): the
		// frozen network never learns a shape it alerted on, so a
		// machine's stop and warm-up, seen again and again, held an
		// alert over two fifths of its rows.
		if cycle > 0 && cycle <= r.cfg.Recurrence && (repeats >= recurrenceSeenRepeats || r.recurUnseen()) {
			r.period = max(r.cfg.Samples, cycle)
			r.restart()
			r.recur.aim(max(r.cfg.Samples, recurrencePeriod(cycle)))
			return
		}
	}
	if r.learning() {
		if r.missing != nil {
			return // no learning from a window with filled values
		}
		if r.recur != nil && r.recur.seeking {
			r.recur.seek(x, r.norm.Mean, r.norm.Std)
			// Grown a sample at a time ahead of the normalisation, which
			// settles its moments when its warm-up is reached (never
			// after: they would be folded in again as sums).
			if r.recur.seeking && r.seen >= r.period-1 && r.period < r.recur.limit && r.norm.Count() < r.period {
				r.period++
				r.norm.SetWarmup(r.period)
			}
		}
		if r.rel != nil {
			r.rel.learn(r.relRows(), r.seen, r.period)
		}
		if r.seen > r.period/2 {
			r.cal.accept(r.err)
			r.acceptChannels()
			for j := range r.meanSq {
				m := r.channelMean(j)
				r.meanSq[j] += float64(m * m)
			}
			r.meanN++
		}
		if r.ae != nil && r.train {
			// An even sample of the whole period stays for replay: the
			// states of a long cycle early in it are not forgotten by its
			// end.
			r.ae.LearnSampled(r.vec, r.seen, detmath.Mix(r.seed^uint64(r.seen)))
		}
		return
	}
	if r.freezes() && !r.ae.Frozen() && (r.season == nil || r.season.done) && !r.seasonPending {
		// Only once the seasonal search is over: a cycle found restarts
		// the period, and a network thawed then would learn it again from
		// fresh moments and an empty replay.
		r.ae.Freeze()
	}
	if r.rel != nil && r.rel.rolling && r.rel.done && (!holding || !r.rel.active) && r.missing == nil {
		// Until some channel is related, alert or not: what the inputs
		// drive is learnt when they move, and their moves are what alerts
		// until then. Afterwards not while an alert is open: a fault is
		// not learnt into the fit.
		r.rel.learnOn(r.relRows())
	}
	r.follow(holding)
	switch {
	case holding:
		if r.missing == nil { // filled values are no transient's errors
			r.trans.hold(r)
		}
	case r.trans.open:
		r.trans.release(r)
	}
	if !normal {
		return
	}
	r.cal.accept(r.err)
	r.acceptChannels()
	if r.marg.active() {
		r.marg.cal.accept(r.marg.last)
		r.marg.learn(r.vec, len(r.chErr))
	}
	r.windows++
	if r.ae != nil && r.train && r.cfg.LearnEvery > 0 && r.windows%uint64(r.cfg.LearnEvery) == 0 {
		r.ae.Learn(r.vec)
	}
}

// freezes reports whether the reference network is frozen once its period
// and the seasonal search end: with learn_every 0, and always for a
// network that never learns (the frozen control's).
func (r *reference) freezes() bool {
	return r.ae != nil && (r.cfg.LearnEvery == 0 || !r.train)
}

// recurUnseen reports whether the open alert's regime lies beyond what
// the reference period saw on some channel.
func (r *reference) recurUnseen() bool {
	r.recur.meansInto(r.mean)
	return r.marg.unseen(r.mean)
}

// acceptChannels adds the last window's channel errors (root mean
// squares, like the pooled error) to the channels' tail models.
func (r *reference) acceptChannels() {
	for _, t := range r.tests {
		t.accept()
	}
	if r.rel != nil && r.rel.active && !r.learning() {
		r.rel.accept()
	}
	rows := float64(len(r.vec) / len(r.chErr))
	for j, cc := range r.chCal {
		cc.accept(math.Sqrt(r.chErr[j] / rows))
	}
}

// channelMean is channel j's mean over the window, in reference units.
func (r *reference) channelMean(j int) float64 {
	c := len(r.chErr)
	var m float64
	for i := j; i < len(r.vec); i += c {
		m += r.vec[i]
	}
	return m / float64(len(r.vec)/c)
}

// follow moves each channel's reference level towards the window's mean:
// quickly within the gate, slowly beyond it unless an alert is open
// (holding).
func (r *reference) follow(holding bool) {
	if r.cfg.Follow == 0 || r.meanN == 0 {
		return
	}
	a, beyond := 1/float64(r.cfg.Follow), 1/float64(r.cfg.FollowBeyond)
	r.chooseHeld(holding)
	if r.trend != nil {
		r.trend.step(r)
	}
	if r.rel != nil && r.rel.active {
		var held []bool
		if holding {
			held = r.held
		}
		r.rel.followOffsets(r.chEvidence, r.cfg.FollowEvidence, r.cfg.FollowBeyond, held)
	}
	counting := r.anchorWindow()
	for j, sq := range r.meanSq {
		spread := max(minMeanSpread, math.Sqrt(sq/float64(r.meanN)))
		m := r.channelMean(j)
		anchored := r.trackAnchor(j, m, spread, holding, counting)
		returned := r.returned(j, m/spread, holding)
		switch {
		case isContext(r.missing, j):
			// A filled value is not where the level went.
		case r.levelByRelation(j):
			// At once: the network sees its shape, the relation its level.
			r.norm.MoveMean(j, float64(m*r.norm.Std(j)))
		case r.marg.modal[j]:
			// A window's mean is the state the channel is in, not its
			// level; the histogram follows what it is shown instead.
		case returned && !anchored:
			// Back from its fault: five times as fast as within the gate,
			// and before the clip's case, since a channel back past its
			// level may be wholly clipped on the other side (a
			// temperature that warmed on under the fault), and its level
			// would stay stale to the hold limit. An anchored channel's
			// level is where it comes back to: its noise dipping to half
			// a step carried the level onto the step.
			r.norm.MoveMean(j, float64(returnSpeedup*a*m*r.norm.Std(j)))
		case math.Abs(m) >= r.clip && holding && !r.holdLimitReached():
			// Wholly clipped: the mean does not measure how far the level
			// moved, and following it would drag the level towards the
			// clip for as long as the regime lasts. Past the hold limit it
			// is followed as any level is (at most a clip a step): a level
			// left beyond the clip for good held its alert open for good.
		case math.Abs(m) < r.cfg.FollowGate*spread && (r.cfg.FollowEvidence == 0 || r.evidenceOf(j) <= r.cfg.FollowEvidence || r.drifting(j, m)):
			rate := a
			if anchored {
				rate = beyond // its window means' wander is no move of its level
			}
			r.norm.MoveMean(j, float64(rate*m*r.norm.Std(j)))
		case holding && (!r.held[j] || r.trend != nil && r.trend.drifted(j) && !anchored):
			// Not part of the open alert, or got beyond the gate as a
			// drift does rather than as a step: followed as within the
			// gate, or a slow drift (a temperature warming while another
			// channel's fault lasts, or while this one's) would hold the
			// alert open after the fault on a stale level. Not an
			// anchored channel's: its noise on a step reads as a trend,
			// and a stationary channel that drifts is the fault.
			r.norm.MoveMean(j, float64(a*m*r.norm.Std(j)))
		case holding:
			// Beyond the gate while an alert is open: most likely the
			// fault itself, and a level dragged towards it would hold
			// the alert open after the signal returns.
		default:
			r.norm.MoveMean(j, float64(beyond*m*r.norm.Std(j)))
		}
	}
}

// anchorSpreads is how far, in window-mean spreads, an anchored channel's
// level may stray from its window means' mean over the anchor's span.
const anchorSpreads = 2

// The bounds of an anchored channel's window means' square departure
// from their own mean over the anchor's span, as a multiple of that from
// its followed level. A level following a stationary channel's window
// means at time constant 100 lags their wander and takes a little of it:
// 1.1 to 1.4 on stationary noise (the synthetic corpora's fault-free
// stretches, NAB's steady series). A cycle longer than the period and a
// random walk are followed, 3 and more; a sawtooth or a channel that
// jumps between states is followed worse than not at all, under 1 (a
// filter's pressure 0.39): holding either held alerts over a third of a
// filter's rows.
const (
	anchorMinRatio = 1
	anchorMaxRatio = 2
)

// anchorWindow begins a window's anchor measurement (Anchor): the first
// window after the period sets the anchors. It reports whether the span
// is still being measured (false with Anchor off).
func (r *reference) anchorWindow() (counting bool) {
	if r.anchor == nil {
		return false
	}
	if r.anchorFor == 0 {
		for j := range r.anchor {
			r.anchor[j] = r.norm.Mean(j)
		}
		clear(r.meanSum)
		clear(r.meanSqSum)
		clear(r.levelSq)
		clear(r.letGo)
	}
	counting = r.anchorFor < r.anchorWindows
	r.anchorFor = min(r.anchorFor+1, r.anchorWindows)
	return counting
}

// trackAnchor measures channel j's window mean m (reference units; spread
// its window-mean spread) from its level and about the span's own mean,
// the mean becoming its anchor, and an anchored channel's level, when the
// span ends; the channel is let go for good when its level strays beyond
// anchorSpreads from it afterwards, or an open alert holds it to the hold
// limit. It reports whether the channel is anchored.
func (r *reference) trackAnchor(j int, m, spread float64, holding, counting bool) bool {
	if r.anchor == nil {
		return false
	}
	away := (r.norm.Mean(j) - r.anchor[j]) / r.norm.Std(j)
	switch {
	case counting:
		r.levelSq[j] += float64(m * m)
		r.meanSum[j] += m + away
		r.meanSqSum[j] += float64((m + away) * (m + away))
	case math.Abs(away) > anchorSpreads*spread:
		r.letGo[j] = true
	}
	if holding && r.held[j] && r.holdLimitReached() {
		r.letGo[j] = true
	}
	if counting && r.anchorFor == r.anchorWindows {
		// The span's mean is where a stationary channel sits.
		r.anchor[j] += float64(r.meanSum[j] / float64(r.anchorFor) * r.norm.Std(j))
		if r.anchored(j) {
			// From the level where the following left it, wherever
			// the wander had taken it, a frozen offset of every window.
			r.norm.MoveMean(j, r.anchor[j]-r.norm.Mean(j))
		}
	}
	return r.anchored(j)
}

// anchored reports whether channel j is stationary (Anchor): measured
// over anchorWindows since the period, following brought its window means
// a little closer to the level and no more (anchorMinRatio,
// anchorMaxRatio), and it was never let go. Never on a channel with a
// cycle found, nor in a period restarted for a recurring regime or a
// channel's states: their levels are not one level.
func (r *reference) anchored(j int) bool {
	if r.anchor == nil || r.anchorFor < r.anchorWindows || r.letGo[j] || r.period != r.cfg.Samples || r.season != nil && r.season.done && r.season.period[j] > 0 {
		return false
	}
	ratio := r.spreadAboutMean(j) / r.levelSq[j] // NaN for a constant channel: not anchored
	return ratio >= anchorMinRatio && ratio <= anchorMaxRatio
}

// spreadAboutMean is the sum of channel j's window means' square
// departures from their own mean over the anchor's span.
func (r *reference) spreadAboutMean(j int) float64 {
	n := float64(r.anchorFor)
	return r.meanSqSum[j] - float64(r.meanSum[j]*r.meanSum[j])/n
}

// returnSpeedup: a channel back from its fault (FollowReturn) follows this
// many times as fast as within the gate.
const returnSpeedup = 5

// returned tracks channel j's departure d (in window-mean spreads from its
// level) through an open alert (holding) and reports whether the channel,
// held beyond the gate, has been back for FollowReturn samples in a row:
// within half of the alert's largest departure, or past the level to its
// other side. Never on a channel with a cycle, nor with the relation in
// use (ReferenceConfig.FollowReturn).
func (r *reference) returned(j int, d float64, holding bool) bool {
	if r.peak == nil {
		return false
	}
	p := r.peak[j]
	switch {
	case !holding:
		r.peak[j], r.back[j] = 0, 0
		return false
	case math.Abs(d) > math.Abs(p) && (math.Abs(p) < r.cfg.FollowGate || d*p > 0):
		r.peak[j], p = d, d
	}
	cyclic := r.season != nil && r.season.done && r.season.period[j] > 0
	driven := r.rel != nil && r.rel.active
	if !r.held[j] || cyclic || driven || math.Abs(p) < r.cfg.FollowGate || math.Abs(d) >= 0.5*math.Abs(p) && d*p > 0 {
		r.back[j] = 0
		return false
	}
	r.back[j]++
	return r.back[j] >= r.returnWindows
}

// setContext marks the context channels: the relation then learns on
// after the period.
func (r *reference) setContext(mask []bool) {
	if mask == nil && r.context == nil {
		return
	}
	r.context = mask
	if mask != nil {
		// No cycle is taken off: what moves the process is in its inputs,
		// and an input held for a while reads as a cycle it does not have
		// (a setpoint moved every 300 samples or so showed one of 230).
		r.season = nil
	}
	r.buildRelation()
}

// buildRelation builds the relation afresh for the context channels and
// RelationLearnOn; with context channels it reads the window unclipped
// (relVec).
func (r *reference) buildRelation() {
	r.relVec = nil
	if r.rel == nil {
		return
	}
	old := r.rel
	r.rel = newRelation(old.r2, r.cfg.Tail, old.c, len(r.vec)/old.c, r.cfg.Samples, old.stride, r.cfg.RelationLags, r.context)
	if r.context == nil && !r.cfg.RelationLearnOn {
		return
	}
	r.rel.rolling, r.rel.refit = true, max(1, r.cfg.Samples/2)
	if r.context == nil {
		r.rel.keepPeriod, r.rel.holds, r.rel.r2On = true, r.cfg.RelationHolds, r.cfg.RelationLearnOnR2
		return
	}
	r.relVec = make([]float64, len(r.vec))
}

// relRows is the window the relation reads: the network's, or with
// context channels the values as they are (fillRelRows), unclipped and
// with no cycle taken off (a relation holds between the values; a profile
// that goes on learning would move them under it).
func (r *reference) relRows() []float64 {
	if r.relVec == nil {
		return r.vec
	}
	return r.relVec
}

// fillRelRows reads the window win for relRows, once a window: in the
// normaliser's units during the period, in the relation's own frame after
// it (relation.frame).
func (r *reference) fillRelRows(win *window.Window) {
	c := len(r.chErr)
	size := len(r.vec) / c
	for j := range c {
		mean, std := r.norm.Mean(j), r.norm.Std(j)
		if r.rel.frame() {
			mean, std = r.rel.level[j], r.rel.scale[j]
		}
		for q := range size {
			r.relVec[q*c+j] = (win.Newest(size - 1 - q)[j] - mean) / std
		}
	}
}

// levelByRelation reports whether channel j's level follows at once, left
// to the relation to judge: a context channel, and one whose relation to
// the others holds where the relation learns on after the period.
func (r *reference) levelByRelation(j int) bool {
	return isContext(r.context, j) || r.rel != nil && r.rel.rolling && r.rel.active && r.rel.related[j]
}

// evidenceOf is channel j's own evidence in the last window, in decades:
// the pooled evidence with one channel.
func (r *reference) evidenceOf(j int) float64 {
	if len(r.chEvidence) == 1 {
		return r.decades
	}
	return r.chEvidence[j]
}

// Bars of drifting: a trend of at least driftTrendSE standard errors
// (SKAB's thermocouple drifts in bursts; a lower bar lets a step pass
// while it crosses the window, as a ramp), and a departure of at most
// driftLagTimes the lag that following such a trend leaves.
const (
	driftTrendSE  = 6
	driftLagTimes = 2
)

// drifting reports whether channel j, m from its level (reference units),
// moves as a drift that the level is following, by what the model leaves
// of it in the window (the window itself without a network: a cycle the
// network knows is no trend).
func (r *reference) drifting(j int, m float64) bool {
	c := len(r.chErr)
	_, slope, se := lineFitOf(len(r.vec)/c, func(q int) float64 {
		if r.ae != nil {
			return r.vec[q*c+j] - r.recon[q*c+j]
		}
		return r.vec[q*c+j]
	})
	return driftsAway(m, slope, se, r.cfg.Follow)
}

// driftsAway reports whether a departure m from a followed level, whose
// window trends by slope per row (standard error se), moves as a drift
// that following with time constant follow keeps up with: the trend is
// significant, away from the level, and m is no more than the lag it
// gives the follow.
func driftsAway(m, slope, se float64, follow int) bool {
	return math.Abs(slope) > driftTrendSE*se && slope*m > 0 && math.Abs(m) < driftLagTimes*math.Abs(slope)*float64(follow)
}

// lineFit returns the mean of ys (one value per window row), the
// least-squares slope per row and the slope's standard error.
func lineFit(ys []float64) (mean, slope, se float64) {
	return lineFitOf(len(ys), func(q int) float64 { return ys[q] })
}

// lineFitOf is lineFit of the n values y(0), ..., y(n-1), read three
// times, so that a strided or computed series needs no copy.
func lineFitOf(n int, y func(q int) float64) (mean, slope, se float64) {
	mid := float64(n-1) / 2
	for q := range n {
		mean += y(q)
	}
	mean /= float64(n)
	var sxx, sxy float64
	for q := range n {
		d := float64(q) - mid
		sxx += float64(d * d)
		sxy += float64(d * (y(q) - mean))
	}
	slope = sxy / sxx
	var rss float64
	for q := range n {
		e := y(q) - mean - float64(slope*(float64(q)-mid))
		rss += float64(e * e)
	}
	return mean, slope, math.Sqrt(rss / float64(n-2) / sxx)
}

// chooseHeld keeps, while an alert is open, the set of channels whose
// level it holds: those with their own evidence beyond Slack in the window
// it opened on (all if none had: the pooled error or the adapting model
// opened it), joined later by any whose evidence scores 0.5 (the default
// alert.open), a channel that would open an alert on its own. Joining at
// Slack let nearly every channel in over a long alert by chance, and with
// them their normal drift. Once the alert has held them for HoldLimit
// samples, none is held.
func (r *reference) chooseHeld(holding bool) {
	join := r.cfg.Tail.Decades / 2
	if holding {
		r.heldFor++
	} else {
		r.heldFor = 0
	}
	switch {
	case !holding:
		r.heldSet = false
	case r.holdLimitReached():
		clear(r.held)
	case !r.heldSet:
		r.heldSet = true
		found := false
		for j, d := range r.chEvidence {
			r.held[j] = d > r.cfg.Slack
			found = found || r.held[j]
		}
		if !found {
			for j := range r.held {
				r.held[j] = true
			}
		}
	default:
		for j, d := range r.chEvidence {
			r.held[j] = r.held[j] || d >= join
		}
	}
}

// ReasonHoldLimit is Explanation.Reason of an anomaly alert that closed
// after HoldLimit had passed: the levels it held followed again.
const ReasonHoldLimit = "hold_limit"

// holdLimitReached reports whether the open alert has held its channels'
// levels for HoldLimit samples, so that they follow again.
func (r *reference) holdLimitReached() bool {
	return r.holdWindows > 0 && r.heldFor > r.holdWindows
}

// restart begins a new reference period: the normalisation and the error
// history are learnt afresh; the network keeps its weights and learns on.
func (r *reference) restart() {
	r.prev = nil
	r.seen, r.cusum, r.meanN = 0, 0, 0
	r.heldSet = false // the levels are learnt afresh: an open alert chooses again
	clear(r.meanSq)
	clear(r.peak) // departures from the old levels
	clear(r.back)
	r.anchorFor = 0 // the anchors are where the new period leaves the levels
	r.norm.Reset()
	r.norm.SetWarmup(r.period)
	if r.ae != nil && r.train {
		r.ae.Thaw()
		r.ae.AnchorReplay(0)
	}
	if r.recur != nil {
		r.recur.forget()
	}
	r.cal.reset()
	r.marg.reset()
	if r.runs != nil {
		r.runs.reset()
	}
	for _, cc := range r.chCal {
		cc.reset()
	}
	for _, t := range r.tests {
		t.reset()
	}
	if r.rel != nil {
		r.rel.reset()
	}
	if r.trend != nil {
		r.trend.reset()
	}
}

// channelWeights is how much of the last window's evidence each channel
// carries: its own evidence in decades (its error's tail, stillness,
// roughness) when some channel's is beyond Slack, else its part of the
// window's reference error. A stuck flow among noisy channels carries the
// evidence with a sliver of the error.
func (r *reference) channelWeights() []float64 {
	if slices.Max(r.chEvidence) <= r.cfg.Slack {
		if r.context == nil {
			return r.chErr
		}
		for j, e := range r.chErr {
			r.weights[j] = e
			if isContext(r.context, j) {
				r.weights[j] = 0
			}
		}
		return r.weights
	}
	for j, d := range r.chEvidence {
		r.weights[j] = max(0, d)
	}
	return r.weights
}

// explain records, for the sample at window position p with raw values x,
// each channel's share of the window's evidence (channelWeights) and its
// departure from what the reference expects there, in sensor units (the
// reference mean for the model-free controls).
func (r *reference) explain(why *Explanation, p int, x []float64) {
	c := len(r.chErr)
	var total float64
	for j, w := range r.channelWeights() {
		why.Share[j] = w
		total += w
		expected := r.norm.Mean(j)
		if r.season != nil && r.season.done {
			expected += r.season.windowOffsets(p, c)[j]
		}
		if r.ae != nil {
			expected += float64(r.recon[p*c+j] * r.norm.Std(j))
		}
		why.Departure[j] = x[j] - expected
	}
	why.Statistic = "reference"
	normaliseShares(why.Share, total)
}
