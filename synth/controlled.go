package synth

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// ControlledChannels are a controlled variable (a process value, pv) and
// its setpoint (sp): the setpoint is an operator's input, eval it with
// --context sp.
var ControlledChannels = []string{"pv", "sp"}

// ControlledFaults are the faults of the controlled corpus, on the process
// value: a sensor offset, a stuck sensor, a noise burst, a ramp (a drifting
// calibration that returns), an oscillation (a hunting loop) and a burst
// of spikes; "none" has no fault.
var ControlledFaults = []string{"offset", "stuck", "noise", "ramp", "oscillation", "spikes", "none"}

// ControlledStep is the sampling interval of the controlled corpus.
const ControlledStep = time.Minute

// GenerateControlled returns n rows (n >= 1000) of a controlled variable
// following its setpoint through a first-order lag of 20 samples, with
// noise 0.5; the setpoint moves to one of 90, 95, 100, 105 and 110 about
// every 300 samples (moves of 5-20, 10-40 noise deviations: each one a new
// level of both channels that only their relation explains). The fault
// (ControlledFaults) starts between 50% and 75% of the rows and lasts 4%
// to 16% of them (spikes: 4 of 50 rows, 4-8 units each); offsets are 3-6
// units, noise bursts 1-2 deviations, ramps 4-8 units at their end,
// oscillations 1.5-3 units with a period of 6-30 samples.
func GenerateControlled(fault string, n int, seed uint64) (*Related, error) {
	if !slices.Contains(ControlledFaults, fault) {
		return nil, fmt.Errorf("fault %q: unknown (known: %v)", fault, ControlledFaults)
	}
	if n < 1000 {
		return nil, fmt.Errorf("rows: must be >= 1000 (got %d)", n)
	}
	rng := rand.New(rand.NewPCG(seed, hash("controlled/"+fault)))
	r := &Related{Name: fault + ".csv", Fault: fault, Channels: ControlledChannels, Times: make([]time.Time, n),
		Values: make([][]float64, n), Channel: -1}
	if fault != "none" {
		r.Channel = 0
		r.Start = n/2 + rng.IntN(n/4)
		r.End = min(n-n/50, r.Start+n/25+rng.IntN(3*n/25))
		if fault == "spikes" {
			r.End = r.Start + 50
		}
	}
	sign := float64(1 - 2*rng.IntN(2))
	size := map[string]float64{"offset": 3 + 3*rng.Float64(), "noise": 1 + rng.Float64(), "ramp": 4 + 4*rng.Float64(),
		"oscillation": 1.5 + 1.5*rng.Float64()}[fault]
	period := 6 + 24*rng.Float64()
	spikes := map[int]float64{}
	if fault == "spikes" {
		for _, k := range rng.Perm(50)[:4] {
			spikes[r.Start+k] = sign * (4 + 4*rng.Float64())
		}
	}
	r.Size = sign * size
	level, y := 100.0, 100.0
	var stuck float64
	for i := range n {
		if rng.Float64() < 1.0/300 {
			level = 90 + float64(5*rng.IntN(5))
		}
		y += (level - y) / 20
		pv := y + float64(0.5*rng.NormFloat64())
		if i >= r.Start && i < r.End {
			k := float64(i - r.Start)
			switch fault {
			case "offset":
				pv += sign * size
			case "stuck":
				if i == r.Start {
					stuck = pv
				}
				pv = stuck
			case "noise":
				pv += float64(size * rng.NormFloat64())
			case "ramp":
				pv += float64(sign * size * k / float64(r.End-r.Start-1))
			case "oscillation":
				pv += float64(size * math.Sin(2*math.Pi*k/period))
			case "spikes":
				pv += spikes[i]
			}
		}
		r.Times[i], r.Values[i] = Start.Add(time.Duration(i)*ControlledStep), []float64{pv, level}
	}
	return r, nil
}

// ControlledCorpus returns variants files of each of ControlledFaults, n
// rows each; variant v is drawn with seed+v.
func ControlledCorpus(n, variants int, seed uint64) ([]*Related, error) {
	var out []*Related
	for v := range variants {
		for _, f := range ControlledFaults {
			r, err := GenerateControlled(f, n, seed+uint64(v))
			if err != nil {
				return nil, err
			}
			r.Name = fmt.Sprintf("%s_%d.csv", f, v+1)
			out = append(out, r)
		}
	}
	return out, nil
}
