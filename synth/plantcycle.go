package synth

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// PlantCycles are fault-free signals of plant whose normal operation has
// events longer apart than a reference period, at an irregular cadence,
// so no seasonal search finds them as a cycle:
//   - start_stop: a machine's bearing temperature, running for 300-700
//     samples towards 65 °C and stopped for 50-200 towards 20 °C (a time
//     constant of 60 samples each way), from a cold start;
//   - filter_reset: a filter's differential pressure, building by about
//     0.01 a sample from 10 and cleaned back to 10 once it passes 24-26.
//
// Every alert on them is false: what a detector learns of a recurring
// event, it shows on these.
var PlantCycles = []string{"start_stop", "filter_reset"}

// GeneratePlantCycle writes rows samples, one a minute, of a PlantCycles
// signal.
func GeneratePlantCycle(signal string, rows int, seed uint64) (*Series, error) {
	rng := rand.New(rand.NewPCG(seed, hash("plant/"+signal)))
	s := &Series{Name: signal + "/" + signal + "_none.csv", Signal: signal, Fault: "none", Onset: -1, End: -1}
	switch signal {
	case "start_stop":
		temp, running, left := 20.0, true, 300+rng.IntN(401)
		for range rows {
			if left--; left <= 0 {
				running = !running
				left = 50 + rng.IntN(151)
				if running {
					left = 300 + rng.IntN(401)
				}
			}
			target := 20.0
			if running {
				target = 65
			}
			temp += (target-temp)/60 + float64(0.05*rng.NormFloat64())
			s.Values = append(s.Values, temp+float64(0.1*rng.NormFloat64()))
		}
	case "filter_reset":
		dp, clean := 10.0, 25+rng.NormFloat64()
		for range rows {
			if dp += 0.01 + float64(0.002*rng.NormFloat64()); dp > clean {
				dp, clean = 10+float64(0.3*rng.NormFloat64()), 25+rng.NormFloat64()
			}
			s.Values = append(s.Values, dp+float64(0.1*rng.NormFloat64()))
		}
	default:
		return nil, fmt.Errorf("signal %q: unknown (known: %v)", signal, PlantCycles)
	}
	for i := range rows {
		s.Times = append(s.Times, Start.Add(time.Duration(i)*time.Minute))
	}
	return s, nil
}

// PlantCycleCorpus is variants draws of every PlantCycles signal, rows
// samples each, named "<signal>/<signal>_none_<k>.csv".
func PlantCycleCorpus(rows, variants int, seed uint64) ([]*Series, error) {
	var out []*Series
	for _, signal := range PlantCycles {
		for k := 1; k <= variants; k++ {
			s, err := GeneratePlantCycle(signal, rows, seed*1000+uint64(k))
			if err != nil {
				return nil, err
			}
			s.Name = fmt.Sprintf("%s/%s_none_%d.csv", signal, signal, k)
			out = append(out, s)
		}
	}
	return out, nil
}
