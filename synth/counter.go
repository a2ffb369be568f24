package synth

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Counter signals: a count a device keeps and sends as it stands, once a
// minute, wrapping at its modulus and reset to 0 once by a restart (both
// normal). "parts" counts 5 to 15 parts a minute modulo 10,000, wrapping
// about every 1,000 samples; "meter" is an energy meter's reading in kWh
// to 0.1, its load cycling between 1 and 3 kWh a minute over about 1,250
// minutes, modulo 10,000, wrapping about every 5,000 samples.
var (
	CounterSignals = []string{"parts", "meter"}
	// CounterFaults: the count stuck (a jammed sensor, a frozen register),
	// racing at twice its rate (a chattering contact counted twice) and
	// slowed to half its rate (a sensor missing pulses).
	CounterFaults = []string{"none", "stuck", "racing", "slowed"}
)

const counterModulus = 10000

// GenerateCounter returns one counter series of n samples (n >= 4000):
// it starts anywhere in its range, is reset to 0 between 25% and 50% of
// the series, and a fault starts between 60% and 90% and lasts 100-300
// samples. Window and the CSV's "anomaly" column mark the fault exactly.
func GenerateCounter(signal, fault string, n int, seed uint64) (*Series, error) {
	if err := checkDraw("counter", CounterSignals, CounterFaults, signal, fault, n, 4000); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, hash("counter/"+signal+"/"+fault)))
	s := &Series{Name: fmt.Sprintf("%s/%s_%s.csv", signal, signal, fault), Signal: signal, Fault: fault,
		Onset: -1, End: -1, Labelled: true}
	if fault != "none" {
		s.Onset = int(float64(n) * (0.6 + 0.3*rng.Float64()))
		s.End = s.Onset + lateFaultMin + rng.IntN(lateFaultMax-lateFaultMin+1) - 1
		s.Window = [2]int{s.Onset, s.End}
	}
	reset := int(float64(n) * (0.25 + 0.25*rng.Float64()))
	period, phase := 1100+300*rng.Float64(), 2*math.Pi*rng.Float64()
	count := math.Floor(counterModulus * rng.Float64())
	for i := 0; i < n; i++ {
		var rise float64
		switch signal {
		case "parts":
			rise = float64(5 + rng.IntN(11))
		case "meter":
			rise = 2 + math.Sin(2*math.Pi*float64(i)/period+phase) + 0.1*rng.NormFloat64()
		}
		if i >= s.Onset && i <= s.End && s.Onset >= 0 {
			switch fault {
			case "stuck":
				rise = 0
			case "racing":
				rise *= 2
			case "slowed":
				rise /= 2
			}
		}
		if count += rise; i == reset {
			count = 0
		}
		v := math.Mod(count, counterModulus)
		if signal == "meter" {
			v = math.Floor(v*10) / 10 // the meter shows tenths of a kWh
		}
		s.Times = append(s.Times, Start.Add(time.Duration(i)*time.Minute))
		s.Values = append(s.Values, v)
	}
	return s, nil
}

// CounterCorpus generates variants draws of every counter signal with
// every counter fault, n samples each, the way Corpus does.
func CounterCorpus(n, variants int, seed uint64) ([]*Series, error) {
	return numberedCorpus(GenerateCounter, CounterSignals, CounterFaults, n, variants, seed)
}
