package synth

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
)

// InjectFaults are the faults Inject writes into a normal recording. Sizes
// are in each channel's standard deviation over the file's first
// InjectTrain rows (the spread an operator knows as normal):
//   - step: one channel shifted by 2-4 deviations;
//   - ramp: one channel creeping to 3-6 deviations over the regime (a
//     growing imbalance, a fouling sensor), back at its end;
//   - noise: one channel with added noise of 1.5-3 deviations;
//   - stuck: one channel holding its value at the regime's start;
//   - oscillation: one channel with an added sine of 1.5-3 deviations and
//     a period of 8-40 samples;
//   - regime: two or three channels shifted together by 1.5-3 deviations
//     each (a valve or load change seen by several sensors);
//   - decouple: one channel replaced by its own recording from elsewhere,
//     joined at the regime's start, so each channel alone looks normal and
//     only its relation to the others is broken.
//
// Inject writes these unless told otherwise (the --faults of
// aewatch inject).
var InjectFaults = []string{"step", "ramp", "noise", "stuck", "oscillation", "regime", "decouple"}

// GrowthFault is a fault Inject writes only when asked for by name: one
// channel and the one its training part correlates with most rise together
// (each on the side the correlation gives) by 4-12 deviations, as a step,
// a linear ramp or an exponential growth (InjectShapes), back at the
// regime's end. A growing rotor imbalance seen by two vibration sensors
// is one; its sizes lie beyond what a plant's recording wanders by itself
// within a file, where the other faults' do not (docs/quality.md).
const GrowthFault = "growth"

// NoFault is the "fault" of a cut left as it was recorded, written only
// when named: its rows are all normal, so a detector's alerts on it are
// the false alarms it would raise on the plant's own normal operation
// (faults.json gives it no channels and an empty regime at row 0).
const NoFault = "none"

// InjectShapes are the growth fault's shapes.
var InjectShapes = []string{"step", "linear", "exponential"}

// CheckFaults names the first fault Inject cannot write.
func CheckFaults(faults []string) error {
	for _, f := range faults {
		if f != GrowthFault && f != NoFault && !slices.Contains(InjectFaults, f) {
			return fmt.Errorf("fault %q: unknown (known: %s, %s, %s)", f, strings.Join(InjectFaults, ", "), GrowthFault, NoFault)
		}
	}
	return nil
}

// InjectTrain is the number of rows at the start of each injected file that
// hold no fault (SKAB's training part).
const InjectTrain = 400

// Injected is one file cut from a normal recording, with one abnormal
// regime (none for NoFault).
type Injected struct {
	Name     string // "<fault>-<n>.csv"
	Fault    string
	From     int   // the first row of the recording the file holds
	Channels []int // the channels the fault changes
	// Start and End bound the abnormal regime, in rows of the file: rows
	// Start..End-1 are abnormal.
	Start, End int
	Size       float64     // in channel deviations (0 for stuck and decouple)
	Shape      string      // the growth fault's (InjectShapes), else ""
	Values     [][]float64 // rows × channels, the fault applied
}

// Inject cuts perFault files of rows rows from the recording values (rows ×
// channels, as read) for each of faults (InjectFaults if none) and writes
// one abnormal regime into each: starting between row InjectTrain+50 and
// 60% of the file, lasting 25-40% of it and ending at least 50 rows before
// its end (NoFault: none). Channels whose training part is constant are
// never faulted. The result is a pure function of its arguments.
func Inject(values [][]float64, rows, perFault int, seed uint64, faults ...string) ([]*Injected, error) {
	if len(faults) == 0 {
		faults = InjectFaults
	}
	if err := CheckFaults(faults); err != nil {
		return nil, err
	}
	switch {
	case rows < 2*InjectTrain:
		return nil, fmt.Errorf("rows: must be >= %d (got %d)", 2*InjectTrain, rows)
	case len(values) < 2*rows:
		return nil, fmt.Errorf("the recording has %d rows; injecting files of %d rows needs at least %d", len(values), rows, 2*rows)
	case perFault < 1 || perFault > 100:
		return nil, fmt.Errorf("files per fault: must be in [1, 100] (got %d)", perFault)
	case len(values[0]) == 0:
		return nil, fmt.Errorf("the recording has no channels")
	}
	rng := rand.New(rand.NewPCG(seed, 0x1a7ec7))
	var out []*Injected
	for _, fault := range faults {
		for n := 0; n < perFault; n++ {
			in, err := injectOne(values, rows, fault, rng)
			if err != nil {
				return nil, err
			}
			in.Name = fmt.Sprintf("%s-%d.csv", fault, n)
			out = append(out, in)
		}
	}
	return out, nil
}

func injectOne(values [][]float64, rows int, fault string, rng *rand.Rand) (*Injected, error) {
	c := len(values[0])
	var from int
	var std []float64
	var live []int // channels whose training part varies
	for try := 0; ; try++ {
		from = rng.IntN(len(values) - rows + 1)
		std, live = trainStd(values[from:from+InjectTrain]), live[:0]
		for j, s := range std {
			if s > 0 {
				live = append(live, j)
			}
		}
		if len(live) >= 1 && (fault != "regime" && fault != GrowthFault || len(live) >= 2) && (fault != "decouple" || c >= 2) {
			break
		}
		if try == 100 {
			return nil, fmt.Errorf("fault %s: no slice of %d rows has enough varying channels", fault, rows)
		}
	}
	in := &Injected{Fault: fault, From: from, Values: make([][]float64, rows)}
	for i := range in.Values {
		in.Values[i] = slices.Clone(values[from+i])
	}
	in.Start = InjectTrain + 50 + rng.IntN(int(0.6*float64(rows))-InjectTrain-50+1)
	length := int((0.25 + float64(0.15*rng.Float64())) * float64(rows))
	in.End = min(in.Start+length, rows-50)
	pick := func() int { return live[rng.IntN(len(live))] }
	sign := func() float64 { return float64(1 - 2*rng.IntN(2)) }
	between := func(lo, hi float64) float64 { return lo + float64((hi-lo)*rng.Float64()) }
	regime := in.Values[in.Start:in.End]
	switch fault {
	case NoFault:
		in.Start, in.End = 0, 0
	case "step":
		j := pick()
		in.Channels, in.Size = []int{j}, between(2, 4)
		shift := float64(sign() * in.Size * std[j])
		for _, row := range regime {
			row[j] += shift
		}
	case "ramp":
		j := pick()
		in.Channels, in.Size = []int{j}, between(3, 6)
		full := float64(sign() * in.Size * std[j])
		for i, row := range regime {
			row[j] += float64(full*float64(i+1)) / float64(len(regime))
		}
	case "noise":
		j := pick()
		in.Channels, in.Size = []int{j}, between(1.5, 3)
		for _, row := range regime {
			row[j] += float64(rng.NormFloat64() * in.Size * std[j])
		}
	case "stuck":
		j := pick()
		in.Channels = []int{j}
		for _, row := range regime {
			row[j] = regime[0][j]
		}
	case "oscillation":
		j := pick()
		in.Channels, in.Size = []int{j}, between(1.5, 3)
		period, phase := between(8, 40), between(0, 2*math.Pi)
		for i, row := range regime {
			row[j] += float64(in.Size * std[j] * math.Sin(2*math.Pi*float64(i)/period+phase))
		}
	case "regime":
		k := min(len(live), 2+rng.IntN(2))
		perm := rng.Perm(len(live))[:k]
		in.Size = between(1.5, 3)
		for _, p := range perm {
			j := live[p]
			in.Channels = append(in.Channels, j)
			shift := float64(sign() * in.Size * std[j])
			for _, row := range regime {
				row[j] += shift
			}
		}
		slices.Sort(in.Channels)
	case GrowthFault:
		j := pick()
		k, r := mostCorrelated(values[from:from+InjectTrain], j, live)
		in.Channels, in.Size, in.Shape = []int{j, k}, between(4, 12), InjectShapes[rng.IntN(len(InjectShapes))]
		side := sign()
		sides := [2]float64{side, side} // in.Channels' order
		if r < 0 {
			sides[1] = -side
		}
		for i, row := range regime {
			g := growthAt(in.Shape, float64(i+1)/float64(len(regime)))
			for q, ch := range in.Channels {
				row[ch] += float64(sides[q] * in.Size * std[ch] * g)
			}
		}
		slices.Sort(in.Channels)
	case "decouple":
		j := pick()
		in.Channels = []int{j}
		// A source at least a file away from this one, on either side.
		n := len(regime)
		var src int
		for try := 0; ; try++ {
			src = rng.IntN(len(values) - n + 1)
			if src+n <= from || src >= from+rows || try == 1000 {
				break
			}
		}
		offset := regime[0][j] - values[src][j]
		for i, row := range regime {
			row[j] = values[src+i][j] + offset
		}
	default:
		return nil, fmt.Errorf("fault %q: unknown (known: %v)", fault, InjectFaults)
	}
	return in, nil
}

// growthAt is how far a growth of the shape has come at x in (0, 1] of
// its regime, from 0 to 1.
func growthAt(shape string, x float64) float64 {
	switch shape {
	case "linear":
		return x
	case "exponential":
		return float64(math.Expm1(3*x)) / math.Expm1(3)
	}
	return 1
}

// mostCorrelated returns the channel of live other than j whose values
// over rows correlate most with j's, and the correlation.
func mostCorrelated(rows [][]float64, j int, live []int) (int, float64) {
	best, bestR := -1, 0.0
	for _, k := range live {
		if k == j {
			continue
		}
		if r := correlation(rows, j, k); best < 0 || math.Abs(r) > math.Abs(bestR) {
			best, bestR = k, r
		}
	}
	return best, bestR
}

// correlation is Pearson's correlation of channels j and k over rows.
func correlation(rows [][]float64, j, k int) float64 {
	n := float64(len(rows))
	var mj, mk float64
	for _, row := range rows {
		mj += row[j]
		mk += row[k]
	}
	mj, mk = mj/n, mk/n
	var sjk, sjj, skk float64
	for _, row := range rows {
		dj, dk := row[j]-mj, row[k]-mk
		sjk += float64(dj * dk) // rounded: the same files on arm64
		sjj += float64(dj * dj)
		skk += float64(dk * dk)
	}
	if sjj == 0 || skk == 0 {
		return 0
	}
	return sjk / math.Sqrt(float64(sjj*skk))
}

// trainStd returns each channel's standard deviation over rows.
func trainStd(rows [][]float64) []float64 {
	c := len(rows[0])
	mean, std := make([]float64, c), make([]float64, c)
	for _, row := range rows {
		for j, v := range row {
			mean[j] += v
		}
	}
	for j := range mean {
		mean[j] /= float64(len(rows))
	}
	for _, row := range rows {
		for j, v := range row {
			std[j] += float64((v - mean[j]) * (v - mean[j])) // rounded: the same files on arm64
		}
	}
	for j := range std {
		std[j] = math.Sqrt(std[j] / float64(len(rows)))
	}
	return std
}
