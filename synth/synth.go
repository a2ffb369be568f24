package synth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// Signals and faults the corpus is made of. The generator also knows the
// fault "drift" (a slow ramp, see DriftRamp), used by the demo; the drift
// benchmark corpus is DriftCorpus.
var (
	Signals = []string{"seasonal", "duty", "oscillating", "noisy"}
	// DriftSignals adds, for the drift corpus, a daily cycle sampled every
	// minute (1,440 samples a cycle) and a motor on a half-hour duty cycle
	// sampled every second (1,800): both longer than the drift monitor's
	// horizon.
	DriftSignals = append(Signals[:len(Signals):len(Signals)], "daily", "longduty")
	Faults       = []string{"none", "spike", "level_shift", "frequency", "shape", "noise_burst", "stuck"}
)

// InRange reports whether a fault keeps values within the signal's normal
// range, so that only a model of the signal's behaviour can see it.
func InRange(fault string) bool {
	switch fault {
	case "frequency", "shape", "noise_burst", "stuck":
		return true
	}
	return false
}

// Series is one generated file.
type Series struct {
	Name   string // "<signal>/<signal>_<fault>.csv"
	Signal string
	Fault  string
	Times  []time.Time
	Values []float64
	// Onset and End are the fault's first and last sample (-1 without fault).
	Onset, End int
	// Window is the labelled anomaly window, in sample indexes (inclusive).
	Window [2]int
	// Size is a drift's or a sustained level shift's size in sensor units
	// (GenerateDrift, GenerateSustained).
	Size float64
	// Labelled adds a per-row label column "anomaly" (1 from Onset to End)
	// to the CSV.
	Labelled bool
	// Clean is each value without its noise term (Generate only): what a
	// denoiser should recover, outside the fault.
	Clean []float64
}

// Steps are the sampling intervals of the signals; Start is the first
// timestamp.
var Steps = map[string]time.Duration{
	"seasonal": 5 * time.Minute, "daily": time.Minute, "duty": time.Minute, "oscillating": 10 * time.Second, "noisy": 30 * time.Second,
	"longduty": time.Second,
}

// MinDayStep and MaxDayStep bound the "daily" drift signal's step
// (DriftCorpusDayStep): at a second, 12,000 rows become 828,000.
const MinDayStep, MaxDayStep = time.Second, 5 * time.Minute

// CheckDayStep says why step cannot be the "daily" drift signal's.
func CheckDayStep(step time.Duration) error {
	if step < MinDayStep || step > MaxDayStep || (24*time.Hour)%step != 0 {
		return fmt.Errorf("must divide a day and be in [%v, %v] (got %v)", MinDayStep, MaxDayStep, step)
	}
	return nil
}

// DriftRamp is how many samples a drift fault takes to reach its full size.
const DriftRamp = 1500

var Start = time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)

// Generate returns one series of n samples with the given fault, drawn from
// seed. Fault onset lies between 45% and 80% of the series.
func Generate(signal, fault string, n int, seed uint64) (*Series, error) {
	rng := rand.New(rand.NewPCG(seed, hash(signal+"/"+fault)))
	s := &Series{Name: fmt.Sprintf("%s/%s_%s.csv", signal, signal, fault), Signal: signal, Fault: fault,
		Onset: -1, End: -1}
	onset, dur := -1, 0
	if fault != "none" {
		onset = int(float64(n) * (0.45 + 0.35*rng.Float64()))
		dur = 150 + rng.IntN(200)
		if fault == "spike" {
			dur = 2
		}
		if fault == "level_shift" || fault == "drift" {
			dur = n - onset
		}
		s.Onset, s.End = onset, min(n-1, onset+dur-1)
		width := n / 10
		s.Window = [2]int{max(0, onset-width/10), min(n-1, onset-width/10+width-1)}
	}
	g, err := newGenerator(signal, rng)
	if err != nil {
		return nil, err
	}
	in := func(i int) bool { return onset >= 0 && i >= onset && i < onset+dur }
	var stuckAt float64
	lo, hi := math.Inf(1), math.Inf(-1) // span of the normal samples so far
	for i := 0; i < n; i++ {
		f := ""
		if in(i) {
			f = fault
		}
		v := g.next(i, f)
		switch {
		case f == "stuck" && i == onset:
			stuckAt = v
		case f == "stuck":
			v = stuckAt
		case f == "spike":
			v = g.hi + 0.6*(g.hi-g.lo)
		case f == "drift": // a sensor losing calibration: a slow ramp that stays
			v += 0.3 * (g.hi - g.lo) * math.Min(1, float64(i-onset)/DriftRamp)
		}
		switch {
		case f == "":
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		case InRange(f):
			v = math.Max(lo, math.Min(hi, v)) // in range by construction
		}
		s.Times = append(s.Times, Start.Add(time.Duration(i)*Steps[signal]))
		s.Values = append(s.Values, v)
		s.Clean = append(s.Clean, v-g.noiseTerm)
	}
	return s, nil
}

// generator draws one signal; fault is "" outside the fault interval.
type generator struct {
	kind string
	rng  *rand.Rand
	ar   float64 // AR(1) noise state
	// noiseTerm is the noise in the last value next returned.
	noiseTerm float64
	phase     float64 // oscillator phase, radians
	cycle     int     // duty: position in the current cycle
	cycLen    int
	onLen     int
	day       int // "daily": samples a day
	// shortCycling: the current duty cycle is a fault's short one.
	shortCycling bool
	lo, hi       float64 // normal range, for spikes
}

func newGenerator(kind string, rng *rand.Rand) (*generator, error) {
	g := &generator{kind: kind, rng: rng}
	switch kind {
	case "seasonal", "daily":
		g.lo, g.hi = 46, 74
		if kind == "daily" {
			g.day = int(24 * time.Hour / Steps["daily"])
		}
	case "duty":
		g.lo, g.hi = 0, 44
		g.newCycle(48)
	case "longduty":
		g.lo, g.hi = 0, 44
		g.newCycle(longDutyCycle)
	case "oscillating":
		g.lo, g.hi = 1.5, 8.5
	case "noisy":
		g.lo, g.hi = 92, 108
	default:
		return nil, fmt.Errorf("synth: unknown signal %q (want one of %v)", kind, Signals)
	}
	return g, nil
}

func (g *generator) newCycle(period int) {
	g.cycle = 0
	wander := max(3, period/20) // samples either way
	g.cycLen = period - wander + g.rng.IntN(2*wander+1)
	g.onLen = int(float64(g.cycLen) * (0.55 + 0.1*g.rng.Float64()))
}

func (g *generator) noise(phi, sigma float64) float64 {
	g.ar = phi*g.ar + sigma*math.Sqrt(1-phi*phi)*g.rng.NormFloat64()
	return g.ar
}

func (g *generator) next(i int, fault string) float64 {
	noiseMul := 1.0
	if fault == "noise_burst" {
		noiseMul = 4
	}
	shift := 0.0
	if fault == "level_shift" {
		shift = 0.25 * (g.hi - g.lo)
	}
	day := 2 * math.Pi * float64(i) / 288
	if g.kind == "daily" {
		day = 2 * math.Pi * float64(i) / float64(g.day)
	}
	switch g.kind {
	case "seasonal", "daily": // process temperature: daily cycle with a harmonic
		sign := 1.0
		if fault == "shape" {
			sign = -1 // the daily profile inverts (a control schedule gone wrong)
		}
		g.noiseTerm = g.noise(0.7, 0.8*noiseMul)
		v := 60 + 9*math.Sin(day) + sign*3*math.Sin(2*day+0.7) + g.noiseTerm
		if fault == "frequency" {
			v += 3 * math.Sin(2*math.Pi*float64(i)/10) // a hunting control loop
		}
		return v + shift
	case "duty", "longduty": // motor current on an on/off duty cycle
		period := 48
		if g.kind == "longduty" {
			period = longDutyCycle
		}
		if fault == "frequency" {
			period = period * 5 / 12 // short cycling
		}
		// Short cycling starts and ends with the fault: the run under way
		// is cut there, so the labels and the faulty runs coincide.
		if shortCycling := fault == "frequency"; g.cycle >= g.cycLen || shortCycling != g.shortCycling {
			g.newCycle(period)
			g.shortCycling = shortCycling
		}
		c := g.cycle
		g.cycle++
		var v float64
		g.noiseTerm = 0
		switch {
		case c < g.onLen && fault == "shape":
			v = 24 + 16*float64(c)/float64(g.onLen) // current creeps up through each run
		case c == 0:
			v = 20 // inrush ramp
		case c < g.onLen:
			g.noiseTerm = 1.0 * g.rng.NormFloat64() * noiseMul
			v = 38 + g.noiseTerm
		default:
			g.noiseTerm = 0.2 * g.rng.NormFloat64() * noiseMul
			v = 0.5 + g.noiseTerm
		}
		return v + shift
	case "oscillating": // vibration velocity
		period := 16.0
		if fault == "frequency" {
			period = 10
		}
		g.phase += 2 * math.Pi / period
		w := math.Sin(g.phase)
		if fault == "shape" {
			w = 0.8 * math.Copysign(1, w) // clipping: sine turns square
		}
		g.noiseTerm = 0.3 * noiseMul * g.rng.NormFloat64()
		return 5 + 3*w + g.noiseTerm + shift
	default: // noisy flow
		g.noiseTerm = g.noise(0.9, 2*noiseMul)
		v := 100 + 1.5*math.Sin(day) + g.noiseTerm
		switch fault {
		case "frequency":
			v += 3 * math.Sin(2*math.Pi*float64(i)/8) // valve hunting
		case "shape":
			v = 100 + 4*math.Round((v-100)/4) // the transmitter quantises
		}
		return v + shift
	}
}

func hash(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// CSV renders the series in the eval input format.
func (s *Series) CSV() []byte {
	var b bytes.Buffer
	b.WriteString("timestamp,value")
	if s.Labelled {
		b.WriteString(",anomaly")
	}
	b.WriteByte('\n')
	for i, t := range s.Times {
		b.WriteString(t.Format("2006-01-02 15:04:05"))
		b.WriteByte(',')
		b.WriteString(strconv.FormatFloat(s.Values[i], 'f', 4, 64))
		if s.Labelled {
			b.WriteString(",0")
			if i >= s.Onset && i <= s.End && s.Onset >= 0 {
				b.Truncate(b.Len() - 1)
				b.WriteByte('1')
			}
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// Corpus generates variants draws of every signal × fault, n samples each.
// Variant v of a corpus with seed s is drawn with seed s+v, so the corpus of
// seed 1 with 3 variants holds the single-variant corpora of seeds 1, 2, 3.
func Corpus(n, variants int, seed uint64) ([]*Series, error) {
	var out []*Series
	for v := 0; v < variants; v++ {
		for _, sig := range Signals {
			for _, f := range Faults {
				s, err := Generate(sig, f, n, seed+uint64(v))
				if err != nil {
					return nil, err
				}
				if variants > 1 {
					s.Name = fmt.Sprintf("%s/%s_%s_%d.csv", sig, sig, f, v+1)
				}
				out = append(out, s)
			}
		}
	}
	return out, nil
}

// WriteCorpus writes the series under dir and their windows to
// dir/labels.json in NAB's combined_windows.json format.
func WriteCorpus(dir string, series []*Series) error {
	labels := map[string][][2]string{}
	for _, s := range series {
		p := filepath.Join(dir, filepath.FromSlash(s.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, s.CSV(), 0o644); err != nil {
			return err
		}
		wins := [][2]string{}
		if s.Onset >= 0 {
			f := "2006-01-02 15:04:05.000000"
			wins = append(wins, [2]string{s.Times[s.Window[0]].Format(f), s.Times[s.Window[1]].Format(f)})
		}
		labels[s.Name] = wins
	}
	b, err := json.MarshalIndent(labels, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "labels.json"), append(b, '\n'), 0o644)
}

// Units are the signals' sensor units.
var Units = map[string]string{
	"seasonal": "°C", "daily": "°C", "duty": "A", "longduty": "A", "oscillating": "mm/s", "noisy": "m³/h",
}

// NoiseStd is each signal's noise standard deviation (the on-state noise
// for the duty cycle): the unit in which drift sizes are drawn.
var NoiseStd = map[string]float64{"seasonal": 0.8, "daily": 0.8, "duty": 1.0, "oscillating": 0.3, "noisy": 2.0, "longduty": 1.0}

// Drift sizes and ramp lengths that GenerateDrift draws from.
const (
	DriftMinSize, DriftMaxSize = 3.0, 6.0   // noise standard deviations
	DriftMinRamp, DriftMaxRamp = 2000, 5000 // samples
)

// GenerateDrift returns one series of n samples (n >= 10000) with a slow
// drift ("drift": a ramp starting between 42% and 55% of the series, lasting
// DriftMinRamp..DriftMaxRamp samples and then holding, of DriftMinSize..
// DriftMaxSize noise standard deviations up or down) or none ("none").
// Window is the ramp; Size the drift in sensor units (signed). The "daily"
// signal, sampled each minute, gets 2n samples.
func GenerateDrift(signal, fault string, n int, seed uint64) (*Series, error) {
	return generateDrift(signal, fault, n, seed, Steps["daily"])
}

// driftSearch is how many samples aewatch's drift monitor looks for a
// cycle over first (detector.drift.reference); each later search holds
// twice as many as the one before.
const driftSearch = 4000

// dailyRows is how many times n samples a "daily" drift series sampled
// every step holds: enough for the drift monitor's search to find the day
// (holding two and a half of them), take its reference again without it
// (over the search's length or a day, the longer) and have 2,000 samples
// to spare before the earliest drift (42% of the series). A minute's day
// (1,440 samples) takes 2.
func dailyRows(n int, step time.Duration) int {
	day := int(24 * time.Hour / step)
	found := driftSearch
	for 2*found < 5*day {
		found *= 2
	}
	return max(2, int(math.Ceil(float64(found+max(driftSearch, day)+2000)/(0.42*float64(n)))))
}

// generateDrift is GenerateDrift with the "daily" signal sampled every
// dayStep (a day of 24h/dayStep samples).
func generateDrift(signal, fault string, n int, seed uint64, dayStep time.Duration) (*Series, error) {
	if fault != "drift" && fault != "none" {
		return nil, fmt.Errorf("synth: drift corpus fault must be drift or none (got %q)", fault)
	}
	if n < 10000 {
		return nil, fmt.Errorf("synth: drift series need >= 10000 samples (got %d)", n)
	}
	switch signal {
	case "daily":
		// A day of samples (1,440 at a minute): its drift monitor first
		// finds the cycle and then takes another reference without it.
		n *= dailyRows(n, dayStep)
	case "longduty":
		// The same for its two states, and the drift starts after both
		// references.
		n *= 3
	}
	rng := rand.New(rand.NewPCG(seed, hash("drift/"+signal+"/"+fault)))
	g, err := newGenerator(signal, rng)
	if err != nil {
		return nil, err
	}
	step := Steps[signal]
	if signal == "daily" {
		step, g.day = dayStep, int(24*time.Hour/dayStep)
	}
	s := &Series{Name: fmt.Sprintf("%s/%s_%s.csv", signal, signal, fault), Signal: signal, Fault: fault, Onset: -1, End: -1}
	if fault == "drift" {
		s.Onset = int(float64(n) * (0.42 + 0.13*rng.Float64()))
		ramp := DriftMinRamp + rng.IntN(DriftMaxRamp-DriftMinRamp+1)
		s.End = min(n-1, s.Onset+ramp-1)
		s.Window = [2]int{s.Onset, s.End}
		s.Size = NoiseStd[signal] * (DriftMinSize + (DriftMaxSize-DriftMinSize)*rng.Float64())
		if rng.IntN(2) == 0 {
			s.Size = -s.Size
		}
	}
	for i := 0; i < n; i++ {
		v := g.next(i, "")
		if s.Onset >= 0 && i >= s.Onset {
			v += s.Size * math.Min(1, float64(i-s.Onset+1)/float64(s.End-s.Onset+1))
		}
		s.Times = append(s.Times, Start.Add(time.Duration(i)*step))
		s.Values = append(s.Values, v)
	}
	return s, nil
}

// DriftCorpus generates variants draws of every signal with a drift and
// without a fault, n samples each, the way Corpus does.
func DriftCorpus(n, variants int, seed uint64) ([]*Series, error) {
	return DriftCorpusDayStep(n, variants, seed, Steps["daily"])
}

// DriftCorpusDayStep is DriftCorpus with the "daily" signal sampled every
// dayStep (a divisor of a day, MinDayStep to MaxDayStep) instead of each
// minute, its series as much longer as its drift monitor needs to find
// the day first (dailyRows: at 10 s, 9 times n).
func DriftCorpusDayStep(n, variants int, seed uint64, dayStep time.Duration) ([]*Series, error) {
	if err := CheckDayStep(dayStep); err != nil {
		return nil, fmt.Errorf("synth: the daily signal's step: %w", err)
	}
	var out []*Series
	for v := 0; v < variants; v++ {
		for _, sig := range DriftSignals {
			for _, f := range []string{"drift", "none"} {
				s, err := generateDrift(sig, f, n, seed+uint64(v), dayStep)
				if err != nil {
					return nil, err
				}
				s.Name = fmt.Sprintf("%s/%s_%s_%d.csv", sig, sig, f, v+1)
				out = append(out, s)
			}
		}
	}
	return out, nil
}

// Sustained faults: what GenerateSustained draws from.
var SustainedFaults = []string{"none", "level_shift", "frequency", "shape", "noise_burst", "stuck"}

const (
	SustainedMinLen, SustainedMaxLen     = 400, 1200 // samples
	SustainedMinShift, SustainedMaxShift = 4.0, 8.0  // noise standard deviations
)

// GenerateSustained returns one series of n samples (n >= 3000) with a
// sustained fault: an abnormal regime starting between 40% and 60% of the
// series and lasting SustainedMinLen..SustainedMaxLen samples, after which
// the signal returns to normal. A level shift is of SustainedMinShift..
// SustainedMaxShift noise standard deviations, up or down (on the seasonal
// signal a fraction of its daily swing); the other faults are those of
// Generate. Window and the CSV's "anomaly" column mark the regime exactly.
func GenerateSustained(signal, fault string, n int, seed uint64) (*Series, error) {
	if !slices.Contains(SustainedFaults, fault) {
		return nil, fmt.Errorf("synth: sustained fault must be one of %v (got %q)", SustainedFaults, fault)
	}
	if n < 3000 {
		return nil, fmt.Errorf("synth: sustained series need >= 3000 samples (got %d)", n)
	}
	rng := rand.New(rand.NewPCG(seed, hash("sustained/"+signal+"/"+fault)))
	g, err := newGenerator(signal, rng)
	if err != nil {
		return nil, err
	}
	s := &Series{Name: fmt.Sprintf("%s/%s_%s.csv", signal, signal, fault), Signal: signal, Fault: fault,
		Onset: -1, End: -1, Labelled: true}
	if fault != "none" {
		s.Onset = int(float64(n) * (0.4 + 0.2*rng.Float64()))
		s.End = s.Onset + SustainedMinLen + rng.IntN(SustainedMaxLen-SustainedMinLen+1) - 1
		s.Window = [2]int{s.Onset, s.End}
	}
	if fault == "level_shift" {
		s.Size = NoiseStd[signal] * (SustainedMinShift + (SustainedMaxShift-SustainedMinShift)*rng.Float64())
		if rng.IntN(2) == 0 {
			s.Size = -s.Size
		}
	}
	var stuckAt float64
	lo, hi := math.Inf(1), math.Inf(-1)
	for i := 0; i < n; i++ {
		f := ""
		if i >= s.Onset && i <= s.End && s.Onset >= 0 {
			f = fault
		}
		var v float64
		switch f {
		case "level_shift":
			v = g.next(i, "") + s.Size
		case "stuck":
			v = g.next(i, "")
			if i == s.Onset {
				stuckAt = v
			}
			v = stuckAt
		default:
			v = g.next(i, f)
		}
		switch {
		case f == "":
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		case InRange(f):
			v = math.Max(lo, math.Min(hi, v))
		}
		s.Times = append(s.Times, Start.Add(time.Duration(i)*Steps[signal]))
		s.Values = append(s.Values, v)
	}
	return s, nil
}

// SustainedCorpus generates variants draws of every signal with every
// sustained fault, n samples each, the way Corpus does.
func SustainedCorpus(n, variants int, seed uint64) ([]*Series, error) {
	return sustainedCorpus(Signals, n, variants, seed)
}

// longDutyCycle is the long duty cycle's length in samples: half an hour
// at one sample a second, wandering by 5% either way.
const longDutyCycle = 1800

// LongCycleCorpus is SustainedCorpus for a motor on a half-hour duty
// cycle sampled every second ("longduty"): far longer than the window and
// the reference period, so the first off state is a state the detector
// has not seen yet.
func LongCycleCorpus(n, variants int, seed uint64) ([]*Series, error) {
	return sustainedCorpus([]string{"longduty"}, n, variants, seed)
}

func sustainedCorpus(signals []string, n, variants int, seed uint64) ([]*Series, error) {
	return numberedCorpus(GenerateSustained, signals, SustainedFaults, n, variants, seed)
}

// numberedCorpus draws variants of every signal with every fault from
// generate, draw v with seed+v, each named with its draw's number.
func numberedCorpus(generate func(signal, fault string, n int, seed uint64) (*Series, error),
	signals, faults []string, n, variants int, seed uint64) ([]*Series, error) {
	var out []*Series
	for v := 0; v < variants; v++ {
		for _, sig := range signals {
			for _, f := range faults {
				s, err := generate(sig, f, n, seed+uint64(v))
				if err != nil {
					return nil, err
				}
				s.Name = fmt.Sprintf("%s/%s_%s_%d.csv", sig, sig, f, v+1)
				out = append(out, s)
			}
		}
	}
	return out, nil
}
