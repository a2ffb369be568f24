package detector

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/aewatch/aewatch/synth"
)

// TestValvePositions: a control valve held among a few positions for 15 to
// 450 samples at a time, as commanded, as its positioner reads it back and
// as a transmitter sends that in whole percent. Its normal moves alert on
// few rows (they alerted on 9% of them before the detector knew such
// channels: the reference period saw two or three moves, and tails fitted
// on flat windows), while the valve stuck between two positions and
// hunting between two are alerted over most of their span.
func TestValvePositions(t *testing.T) {
	if testing.Short() {
		t.Skip("scores 18 series of 10,000 samples")
	}
	const n = 10000
	var normal float64
	files := 0
	for _, sig := range synth.ValveSignals {
		for seed := uint64(1); seed <= 2; seed++ {
			for _, fault := range synth.ValveFaults {
				s, err := synth.GenerateValve(sig, fault, n, seed)
				if err != nil {
					t.Fatal(err)
				}
				out := run(t, DefaultConfig(), times(n), s.Values)
				if fault == "none" {
					rows := coverage(out, 0, n)
					normal += rows
					files++
					if rows > 0.06 {
						t.Errorf("%s seed %d: alert open on %.3f of the rows, want <= 0.06", s.Name, seed, rows)
					}
					continue
				}
				if c := coverage(out, s.Onset, s.End+1); c < 0.7 {
					t.Errorf("%s seed %d: alert open on %.2f of the fault, want >= 0.7", s.Name, seed, c)
				}
			}
		}
	}
	if mean := normal / float64(files); mean > 0.03 {
		t.Errorf("fault-free valves: alert open on %.3f of the rows on average, want <= 0.03", mean)
	}
}

// TestStatesOfHeldLevels: a channel that stands still on most steps has
// states when its few levels are far apart (a valve's positions, exact or
// read in whole percent with noise) or, evenly spaced, are left for levels
// beyond the next (shut to open), but not when they are one quantum apart
// and walked one at a time (a slowly moving temperature sent in whole
// degrees): that one's next degree is no unknown state.
func TestStatesOfHeldLevels(t *testing.T) {
	const n = 2000
	r := rand.New(rand.NewPCG(4, 4))
	positions := []float64{0, 37, 100}
	hold := func(i int) float64 { return positions[(i/150)%3] }             // 13 moves
	even := func(i int) float64 { return []float64{0, 100, 50}[(i/150)%3] } // shut, open, half: a lattice, left at once
	signals := map[string]func(i int) float64{
		"valve":                    hold,
		"valve at 0, 50 and 100 %": even,
		"quantised feedback":       func(i int) float64 { return math.Round(hold(i) + 0.5*r.NormFloat64()) },
		"temperature in whole degrees": func(i int) float64 {
			return math.Round(20.3 + 1.4*math.Sin(2*math.Pi*float64(i)/1440) + 0.02*r.NormFloat64())
		},
	}
	want := map[string]bool{"valve": true, "valve at 0, 50 and 100 %": true, "quantised feedback": true}
	for name, f := range signals {
		m := settledMarginal(n, f)
		if m.modal[0] != want[name] || m.stepwise[0] != want[name] {
			t.Errorf("%s: modal %v, stepwise %v, want %v", name, m.modal[0], m.stepwise[0], want[name])
		}
	}
}

// TestPeriodRestartsForUnseenStates: a valve that moved four times in the
// reference period has not shown its positions; the period starts again,
// long enough to expect sixteen moves, once: three moves in the restarted
// period start no third. The same valve as a context channel (an input
// the operators move) leaves the period as it is.
func TestPeriodRestartsForUnseenStates(t *testing.T) {
	const period = 400
	positions := []float64{37, 100, 0}
	moves := []int{80, 160, 240, 320, 900, 1300, 1700} // four in the period, three after
	valve := func(i int) float64 {
		k := 0
		for _, at := range moves {
			if i >= at {
				k++
			}
		}
		return positions[k%3]
	}
	r := rand.New(rand.NewPCG(5, 5))
	for _, context := range []bool{false, true} {
		d, err := New(DefaultConfig(), 2)
		if err != nil {
			t.Fatal(err)
		}
		d.SetContext([]bool{false, context})
		for i := range 3000 {
			d.Push(int64(i+1)*60e9, []float64{50 + r.NormFloat64(), valve(i)})
			if i == period+100 {
				if want := 4 * period; !context && d.ref.period != want || context && d.ref.period != period {
					t.Errorf("context %v: period %d samples after four moves in %d", context, d.ref.period, period)
				}
			}
		}
		if d.ref.learning() || !context && d.ref.period != 4*period {
			t.Errorf("context %v: after the restarted period: learning %v, period %d", context, d.ref.learning(), d.ref.period)
		}
	}
}

// TestHuntingBetweenPositions: runs between the jumps of a stepwise
// channel are followed across all its levels; hunting between two
// positions below the split marks the channel, one quick double move does
// not.
func TestHuntingBetweenPositions(t *testing.T) {
	m := newMarginal(nil, 1, 32)
	m.modal[0], m.stepwise[0] = true, true
	m.split[0], m.below[0], m.above[0] = 70, 20, 100 // 0 and 40 both below
	rl := newRunLengths(0.6, 1)
	spread := func(int) float64 { return 40 }
	feed := func(level float64, samples int) {
		for range samples {
			rl.step([]float64{level}, m, spread, true)
		}
	}
	for range heldToLearn/3 + 1 { // runs of 50 learnt
		for _, level := range []float64{0, 40, 100} {
			feed(level, 50)
		}
	}
	feed(0, 10) // a quick double move: one short run
	feed(40, 50)
	if rl.shortRuns(0) {
		t.Fatal("one short run marked the channel")
	}
	for range 4 { // hunting between 0 and 40
		feed(0, 3)
		feed(40, 3)
	}
	if !rl.shortRuns(0) {
		t.Fatal("hunting between two positions below the split not marked")
	}
	if rl.short[0] {
		t.Fatal("the states' own runs marked: the test no longer tests the runs between jumps")
	}
	feed(100, 60)
	if rl.shortRuns(0) {
		t.Fatal("still marked after a normal run")
	}
}

// TestValveSurvivesSnapshot: restored while hunting, with its period
// restarted for the valve's positions, a detector goes on bit for bit as
// the uninterrupted one.
func TestValveSurvivesSnapshot(t *testing.T) {
	const n = 10000
	s, err := synth.GenerateValve("valve_quantised", "hunting", n, 2)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	ts := times(n)
	out := run(t, cfg, ts, s.Values)
	cut := s.Onset + 20
	a, _ := New(cfg, 1)
	for i := range cut {
		a.Push(ts[i], s.Values[i:i+1])
	}
	if a.ref.period == cfg.Reference.Samples || !a.ref.marg.stepwise[0] || a.ref.runs.heldCount[0] < heldToLearn {
		t.Fatalf("period %d, stepwise %v, runs between jumps learnt %d: the test no longer tests them",
			a.ref.period, a.ref.marg.stepwise[0], a.ref.runs.heldCount[0])
	}
	resumesUninterrupted(t, cfg, a, cut, ts, s.Values, out)
}

// TestInputsHeldExactly: a valve's command, held exactly at its positions,
// is named as moving only by jumps; the flow it sets, which follows it
// with noise, and a temperature sent in whole degrees are not; nor is the
// command once it is a context channel. A snapshot keeps the finding.
func TestInputsHeldExactly(t *testing.T) {
	const n = 1500
	r := rand.New(rand.NewPCG(6, 6))
	positions := []float64{0, 40, 100}
	cfg := DefaultConfig()
	for _, context := range []bool{false, true} {
		d, err := New(cfg, 3)
		if err != nil {
			t.Fatal(err)
		}
		if context {
			d.SetContext([]bool{true, false, false})
		}
		if d.MovesByJumps() != nil {
			t.Fatal("a finding before the reference period is over")
		}
		for i := range n {
			valve := positions[(i/37)%3]
			temp := math.Round(20.3 + 1.4*math.Sin(2*math.Pi*float64(i)/1440) + 0.02*r.NormFloat64())
			d.Push(int64(i+1)*60e9, []float64{valve, 2*valve + 0.5*r.NormFloat64(), temp})
		}
		want := []bool{!context, false, false}
		if got := d.MovesByJumps(); !slices.Equal(got, want) {
			t.Errorf("context %v: moves by jumps %v, want %v", context, got, want)
		}
		snap, err := d.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := New(cfg, 3)
		b.SetContext(d.context)
		if err := b.UnmarshalBinary(snap); err != nil {
			t.Fatal(err)
		}
		if got := b.MovesByJumps(); !slices.Equal(got, want) {
			t.Errorf("context %v: restored, moves by jumps %v, want %v", context, got, want)
		}
	}
}
