package detector

import (
	"fmt"
	"math"

	"github.com/aewatch/aewatch/internal/statecodec"
)

// runLengths follows, on each channel with states (marginal.modal: a
// motor's on and off), how long the signal stays in each state, and finds
// runs cut short: a compressor or pump short-cycling, a valve hunting
// between its positions. Every window then holds normal levels and normal
// switches, so neither the reconstruction nor the value histogram sees
// it; only the runs are short.
//
// A completed run of a state shorter than ShortRuns times the shortest of
// at least runsToLearn normal runs of that state marks its channel short;
// the mark stays while the runs after it stay that short, and goes once a
// run outlasts the bar. Runs complete while no alert is open teach the
// normal; the run under way when tracking began is not a whole run.
//
// A channel that moves only by jumps between levels it holds
// (marginal.stepwise: a valve's positions) also has the runs between its
// jumps followed the same way, one shortest for all its levels: a valve
// hunting between two positions on the same side of the split never
// crosses it.
type runLengths struct {
	bar      float64
	state    []int8   // per channel: 0 below the split, 1 above, -1 not yet known
	run      []int    // samples in the current state
	partial  []bool   // the current run began before tracking did
	shortest [][2]int // per channel and state: the shortest normal run
	count    [][2]int // normal runs seen, per channel and state
	short    []bool

	// The same for the runs between jumps of the stepwise channels; held
	// is -2 before the first sample, -1 until the first jump.
	held, heldShortest, heldCount []int
	last                          []float64 // the previous sample (raw units)
	heldShort                     []bool
	heldCut                       []bool // the last completed run was short
}

// runsToLearn normal runs of a state arm the test for it; heldToLearn
// runs between jumps arm that test (they mix every level's holds, a wider
// spread of lengths: on the valve corpus, seed 1, 4 gave F1 0.558, 6 to 12
// 0.582).
const (
	runsToLearn = 4
	heldToLearn = 8
)

// runHysteresis: a switch needs the value a quarter of the way past the
// split towards the other state's mean, so noise at the split is no run.
const runHysteresis = 0.25

func newRunLengths(bar float64, channels int) *runLengths {
	ints := func() []int { return make([]int, channels) }
	r := &runLengths{bar: bar, state: make([]int8, channels), run: ints(), partial: make([]bool, channels),
		shortest: make([][2]int, channels), count: make([][2]int, channels), short: make([]bool, channels),
		held: ints(), heldShortest: ints(), heldCount: ints(), last: make([]float64, channels), heldShort: make([]bool, channels), heldCut: make([]bool, channels)}
	r.reset()
	return r
}

func (r *runLengths) reset() {
	for j := range r.state {
		r.state[j], r.run[j], r.partial[j], r.short[j] = -1, 0, false, false
		r.shortest[j], r.count[j] = [2]int{}, [2]int{}
		r.held[j], r.heldShortest[j], r.heldCount[j], r.heldShort[j], r.heldCut[j] = -2, 0, 0, false, false
	}
}

// step follows one sample x (raw units) on the modal channels of m, whose
// deviations spread gives; learn says a run completing now may teach the
// normal.
func (r *runLengths) step(x []float64, m *marginal, spread func(int) float64, learn bool) {
	for j, v := range x {
		if !m.modal[j] {
			continue
		}
		if m.stepwise[j] {
			r.stepHeld(j, v, spread(j), learn)
		}
		h := float64(runHysteresis * (m.above[j] - m.below[j]))
		s := r.state[j]
		switch {
		case v > m.split[j]+h:
			s = 1
		case v < m.split[j]-h:
			s = 0
		}
		switch {
		case s < 0: // not yet past either bar
		case r.state[j] < 0:
			r.state[j], r.run[j], r.partial[j] = s, 1, true
		case s == r.state[j]:
			r.run[j]++
			if r.short[j] && float64(r.run[j]) > float64(r.bar*float64(r.shortest[j][s])) {
				r.short[j] = false // this run outlasts the bar: the cycling is normal again
			}
		default:
			r.complete(j, learn)
			r.state[j], r.run[j], r.partial[j] = s, 1, false
		}
	}
}

// stepHeld follows stepwise channel j's runs between jumps of half a
// deviation (spread) or more.
func (r *runLengths) stepHeld(j int, v, spread float64, learn bool) {
	jumped := math.Abs(v-r.last[j]) >= 0.5*spread
	r.last[j] = v
	switch {
	case r.held[j] == -2:
		r.held[j] = -1
	case r.held[j] < 0: // the run before the first jump is not whole
		if jumped {
			r.held[j] = 1
		}
	case !jumped:
		r.held[j]++
		if r.heldShort[j] && float64(r.held[j]) > r.bar*float64(r.heldShortest[j]) {
			r.heldShort[j] = false
		}
	default:
		n := r.held[j]
		r.held[j] = 1
		if r.cut(n, &r.heldShortest[j], &r.heldCount[j], heldToLearn, learn) {
			// Two short runs in a row: a valve moved twice in quick
			// succession is no hunting.
			r.heldShort[j] = r.heldCut[j]
			r.heldCut[j] = true
			return
		}
		r.heldShort[j], r.heldCut[j] = false, false
	}
}

// shortRuns reports whether channel j's runs are cut short, between
// its states or between its jumps.
func (r *runLengths) shortRuns(j int) bool { return r.short[j] || r.heldShort[j] }

// complete judges channel j's run that just ended.
func (r *runLengths) complete(j int, learn bool) {
	if r.partial[j] {
		return
	}
	o := r.state[j]
	r.short[j] = r.cut(r.run[j], &r.shortest[j][o], &r.count[j][o], runsToLearn, learn)
}

// cut reports whether a completed run of n samples is shorter than the bar
// of the shortest of at least toLearn normal runs (count of them); one
// that is not teaches the normal when learn says it may.
func (r *runLengths) cut(n int, shortest, count *int, toLearn int, learn bool) bool {
	if *count >= toLearn && float64(n) < float64(r.bar*float64(*shortest)) {
		return true
	}
	if learn {
		if *count == 0 || n < *shortest {
			*shortest = n
		}
		*count++
	}
	return false
}

func (r *runLengths) appendState(e *statecodec.Encoder) {
	for j := range r.state {
		e.Int(int(r.state[j]))
		e.Int(r.run[j])
		e.Bool(r.partial[j])
		e.Bool(r.short[j])
		for s := range 2 {
			e.Int(r.shortest[j][s])
			e.Int(r.count[j][s])
		}
		e.Int(r.held[j])
		e.Int(r.heldShortest[j])
		e.Int(r.heldCount[j])
		e.F64(r.last[j])
		e.Bool(r.heldShort[j])
		e.Bool(r.heldCut[j])
	}
}

func (r *runLengths) readState(d *statecodec.Decoder) error {
	for j := range r.state {
		st := d.Int()
		r.run[j], r.partial[j], r.short[j] = d.Int(), d.Bool(), d.Bool()
		for s := range 2 {
			r.shortest[j][s], r.count[j][s] = d.Int(), d.Int()
		}
		r.held[j], r.heldShortest[j], r.heldCount[j] = d.Int(), d.Int(), d.Int()
		r.last[j], r.heldShort[j], r.heldCut[j] = d.F64(), d.Bool(), d.Bool()
		if err := d.Err(); err != nil {
			return err
		}
		if st < -1 || st > 1 || r.run[j] < 0 || r.shortest[j][0] < 0 || r.shortest[j][1] < 0 || r.count[j][0] < 0 || r.count[j][1] < 0 {
			return fmt.Errorf("run lengths of channel %d: state %d, run %d, shortest %v, count %v", j, st, r.run[j], r.shortest[j], r.count[j])
		}
		if r.held[j] < -2 || r.heldShortest[j] < 0 || r.heldCount[j] < 0 || notFinite(r.last[j]) {
			return fmt.Errorf("run lengths between jumps of channel %d: run %d, shortest %d, count %d, last %v", j, r.held[j], r.heldShortest[j], r.heldCount[j], r.last[j])
		}
		r.state[j] = int8(st)
	}
	return nil
}
