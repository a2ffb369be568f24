package synth

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// Valve signals: a control valve's position in % of travel, moved by the
// process among a few positions and held at each for 15 to 450 samples
// (one a minute). "valve" is the commanded position (exact levels),
// "valve_feedback" the positioner's reading of it (noise of 0.5% of
// travel) and "valve_quantised" that reading as a transmitter sends it,
// in whole percent.
var (
	ValveSignals = []string{"valve", "valve_feedback", "valve_quantised"}
	// ValveFaults: the valve stuck part-way, at a position between two it
	// is moved to (a sticking stem, a broken linkage), and hunting, moving
	// between two positions every 2 to 4 samples (a badly tuned loop).
	ValveFaults = []string{"none", "stuck_between", "hunting"}
)

const (
	valveMinHold, valveMaxHold = 15, 450 // samples held at a position
	// A valve's or a counter's fault lasts this many samples.
	lateFaultMin, lateFaultMax = 100, 300
)

// checkDraw says what is wrong with a draw of a corpus of kind: its
// signal or fault not among those given, or fewer than least samples.
func checkDraw(kind string, signals, faults []string, signal, fault string, n, least int) error {
	switch {
	case !slices.Contains(signals, signal):
		return fmt.Errorf("synth: %s signal must be one of %v (got %q)", kind, signals, signal)
	case !slices.Contains(faults, fault):
		return fmt.Errorf("synth: %s fault must be one of %v (got %q)", kind, faults, fault)
	case n < least:
		return fmt.Errorf("synth: %s series need >= %d samples (got %d)", kind, least, n)
	}
	return nil
}

// GenerateValve returns one valve series of n samples (n >= 4000). Each
// draw picks three or four positions, 0% and 100% among them; a fault
// starts between 60% and 90% of the series (a valve moves a few times an
// hour: its positions take thousands of samples to show) and lasts
// 100-300 samples (hunting a third of that). Window and the CSV's
// "anomaly" column mark it exactly.
func GenerateValve(signal, fault string, n int, seed uint64) (*Series, error) {
	if err := checkDraw("valve", ValveSignals, ValveFaults, signal, fault, n, 4000); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, hash("valve/"+signal+"/"+fault)))
	positions := []float64{0, 100, float64(20 + rng.IntN(30))}
	if rng.IntN(2) == 0 {
		positions = append(positions, float64(60+rng.IntN(25)))
	}
	slices.Sort(positions)
	s := &Series{Name: fmt.Sprintf("%s/%s_%s.csv", signal, signal, fault), Signal: signal, Fault: fault,
		Onset: -1, End: -1, Labelled: true}
	if fault != "none" {
		s.Onset = int(float64(n) * (0.6 + 0.3*rng.Float64()))
		length := lateFaultMin + rng.IntN(lateFaultMax-lateFaultMin+1)
		if fault == "hunting" {
			length /= 3
		}
		s.End = s.Onset + length - 1
		s.Window = [2]int{s.Onset, s.End}
	}
	// Stuck halfway between two neighbouring positions, drawn; hunting
	// between the same two.
	k := rng.IntN(len(positions) - 1)
	between := math.Round((positions[k] + positions[k+1]) / 2)
	huntPeriod := 2 + rng.IntN(3)
	at, left := positions[rng.IntN(len(positions))], 0
	for i := 0; i < n; i++ {
		if left == 0 {
			next := at
			for next == at {
				next = positions[rng.IntN(len(positions))]
			}
			// Log-uniform holds: many short, some long.
			at, left = next, int(valveMinHold*math.Pow(valveMaxHold/valveMinHold, rng.Float64()))
		}
		left--
		v := at
		if i >= s.Onset && i <= s.End && s.Onset >= 0 {
			switch fault {
			case "stuck_between":
				v = between
			case "hunting":
				v = positions[k+(i-s.Onset)/huntPeriod%2]
			}
		}
		switch signal {
		case "valve_feedback":
			v += 0.5 * rng.NormFloat64()
		case "valve_quantised":
			v = math.Round(v + 0.5*rng.NormFloat64())
		}
		s.Times = append(s.Times, Start.Add(time.Duration(i)*time.Minute))
		s.Values = append(s.Values, v)
	}
	return s, nil
}

// ValveCorpus generates variants draws of every valve signal with every
// valve fault, n samples each, the way Corpus does.
func ValveCorpus(n, variants int, seed uint64) ([]*Series, error) {
	return numberedCorpus(GenerateValve, ValveSignals, ValveFaults, n, variants, seed)
}
