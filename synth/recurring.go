package synth

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// Lengths and sizes of GenerateRecurring's patterns, in samples and noise
// deviations.
const (
	RecurringBumpEvery, RecurringBumpLength, RecurringBumpSize = 2500, 150, 6.0
	RecurringFaultLength                                       = 300
	RecurringDropSize, RecurringStepSize                       = -6.0, 15.0
)

// Recurring is a signal with a harmless pattern that recurs too seldom to
// be learnt as one of its states, and faults beside it.
type Recurring struct {
	*Series
	Bumps  []int // first samples of the harmless bumps
	Faults []int // first samples of the faults
}

// GenerateRecurring writes rows samples, one a second, of 50 plus unit
// noise with a harmless bump of RecurringBumpSize for RecurringBumpLength
// samples every RecurringBumpEvery from sample 3,000 (a cleaning cycle),
// and, in every other gap from the fifth bump on, a fault of
// RecurringFaultLength samples: a drop (the other side of the level) and a
// step larger than the bump, in turn. It is what operators' verdicts are
// measured on: after a false positive on a bump, later bumps should stop
// alerting while every fault still does.
func GenerateRecurring(rows int, seed uint64) (*Recurring, error) {
	if rows < 5*RecurringBumpEvery {
		return nil, fmt.Errorf("rows: at least %d (got %d)", 5*RecurringBumpEvery, rows)
	}
	rng := rand.New(rand.NewPCG(seed, hash("recurring")))
	s := &Series{Name: "recurring.csv", Signal: "recurring", Fault: "harmless_bump", Onset: -1, End: -1, Values: make([]float64, rows)}
	for i := range s.Values {
		s.Values[i] = 50 + rng.NormFloat64()
		s.Times = append(s.Times, Start.Add(time.Duration(i)*time.Second))
	}
	r := &Recurring{Series: s}
	for k, b := 0, 3000; b+RecurringBumpEvery <= rows; k, b = k+1, b+RecurringBumpEvery {
		r.Bumps = append(r.Bumps, b)
		for i := b; i < b+RecurringBumpLength; i++ {
			s.Values[i] += RecurringBumpSize
		}
		if k < 4 || k%2 != 0 {
			continue
		}
		f, size := b+RecurringBumpEvery/2, RecurringDropSize
		if len(r.Faults)%2 == 1 {
			size = RecurringStepSize
		}
		r.Faults = append(r.Faults, f)
		for i := f; i < f+RecurringFaultLength; i++ {
			s.Values[i] += size
		}
	}
	return r, nil
}
