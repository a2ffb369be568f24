package synth

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// RelatedChannels are the channels of a pump whose load wanders: flow,
// discharge pressure and motor current follow the load (each a linear
// function of it, with its own noise); bearing temperature and vibration
// do not.
var RelatedChannels = []string{"flow", "pressure", "current", "temperature", "vibration"}

// relatedLoad maps the load u to each channel, plus the channel's noise
// standard deviation: value = base + gain*u + noise.
var relatedLoad = [][3]float64{ // base, gain, noise
	{50, 10, 0.5},  // flow, m³/h
	{3, 0.8, 0.04}, // pressure, bar
	{20, 4, 0.2},   // current, A
	{60, 0, 1},     // temperature, °C
	{1, 0, 0.1},    // vibration, mm/s
}

// RelatedStep is the sampling interval of the related corpus.
const RelatedStep = 10 * time.Second

// Related is one file of the related corpus: rows × RelatedChannels (or
// the controlled corpus: rows × ControlledChannels).
type Related struct {
	Name     string   // "<fault>_<n>.csv"
	Fault    string   // "offset", "lag" or "none" (the controlled corpus: ControlledFaults)
	Channels []string // the columns' names: RelatedChannels if nil
	Times    []time.Time
	Values   [][]float64
	// Start and End bound the fault: rows Start..End-1 (0, 0 without).
	Start, End int
	Channel    int     // the channel offset or lagged (-1 without)
	Size       float64 // the offset in sensor units, or the added lag in samples
}

// relatedLag is each channel's delay behind the load, in cycles:
// flow follows it at once, pressure an eighth of a cycle later, current a
// quarter.
var relatedLag = []float64{0, 0.125, 0.25, 0, 0}

// GenerateRelated returns n rows (n >= 1000) of a pump whose load wanders
// (an AR(0.95) process of unit spread); with fault "offset", pressure or
// current reads high or low by 8-12 deviations of its own noise (a
// quarter to a half of its spread over the load's swings: within its
// normal range) from between 45% and 60% of the rows, for 20% of them: a
// sensor whose calibration slipped, which only its relation to the other
// two shows.
func GenerateRelated(fault string, n int, seed uint64) (*Related, error) {
	return generateRelated(fault, n, 0, seed)
}

// GenerateCyclicRelated is GenerateRelated for a pump on a stroke cycle
// of cycle samples (8 to 1000): the load also swings by 1.2 of its
// wander's spread in a sine, and flow, pressure and current follow the
// load with their own delays (relatedLag, a transport delay), so each
// window holds a phase of the cycle as well as a level, and no row's
// channels are a linear function of each other. Fault "lag" delays
// pressure or current by a further quarter cycle for a fifth of the
// rows: its values and range are unchanged, only its timing against the
// others shows the fault.
func GenerateCyclicRelated(fault string, n, cycle int, seed uint64) (*Related, error) {
	if cycle < 8 || cycle > 1000 {
		return nil, fmt.Errorf("cycle: must be in [8, 1000] samples (got %d)", cycle)
	}
	return generateRelated(fault, n, cycle, seed)
}

func generateRelated(fault string, n, cycle int, seed uint64) (*Related, error) {
	known, stream := "offset, none", "related/"
	if cycle > 0 {
		known, stream = "offset, lag, none", "related-cycle/"
	}
	if fault != "offset" && fault != "none" && (cycle == 0 || fault != "lag") {
		return nil, fmt.Errorf("fault %q: unknown (known: %s)", fault, known)
	}
	if n < 1000 {
		return nil, fmt.Errorf("rows: must be >= 1000 (got %d)", n)
	}
	rng := rand.New(rand.NewPCG(seed, hash(stream+fault)))
	r := &Related{Name: fault + ".csv", Fault: fault, Times: make([]time.Time, n), Values: make([][]float64, n), Channel: -1}
	if fault != "none" {
		r.Start = int(float64(n) * (0.45 + float64(0.15*rng.Float64())))
		r.End = r.Start + n/5
		r.Channel = 1 + rng.IntN(2)
		r.Size = float64(float64(1-2*rng.IntN(2)) * (8 + float64(4*rng.Float64())) * relatedLoad[r.Channel][2])
		if fault == "lag" {
			r.Size = float64(cycle) / 4
		}
	}
	// The load over the rows and, with a cycle, the half cycle before
	// them that the lagged channels still see.
	early := 0
	if cycle > 0 {
		early = cycle / 2
	}
	load := make([]float64, early+n)
	phase := 0.0
	if cycle > 0 {
		phase = rng.Float64()
	}
	u := 0.0
	// Each row draws its load and then its noise, as the corpus without a
	// cycle always has (the same seed gives the same files).
	next := func(k int) {
		u = float64(0.95*u) + float64(0.31*rng.NormFloat64())
		load[k] = u
		if cycle > 0 {
			load[k] += 1.2 * math.Sin(2*math.Pi*(float64(k)/float64(cycle)+phase))
		}
	}
	for k := range early {
		next(k)
	}
	for i := range n {
		next(early + i)
		faulty := i >= r.Start && i < r.End
		row := make([]float64, len(relatedLoad))
		for j, l := range relatedLoad {
			delay := relatedLag[j] * float64(cycle)
			if faulty && fault == "lag" && j == r.Channel {
				delay += r.Size
			}
			row[j] = l[0] + float64(l[1]*load[early+i-int(math.Round(delay))]) + float64(l[2]*rng.NormFloat64())
		}
		if faulty && fault == "offset" {
			row[r.Channel] += r.Size
		}
		r.Times[i], r.Values[i] = Start.Add(time.Duration(i)*RelatedStep), row
	}
	return r, nil
}

// RelatedCorpus returns variants files of each fault and as many without,
// n rows each; variant v is drawn with seed+v. With cycle > 0 the pump
// runs on a stroke cycle of that many samples (GenerateCyclicRelated)
// and the faults are offsets and lags; with sensors > 0 the files are of
// a plant of that many sensors (GeneratePlant); otherwise, offsets of
// the pump.
func RelatedCorpus(n, cycle, sensors, variants int, seed uint64) ([]*Related, error) {
	faults := []string{"offset", "none"}
	if cycle > 0 {
		faults = []string{"offset", "lag", "none"}
	}
	var out []*Related
	for v := range variants {
		for _, f := range faults {
			var r *Related
			var err error
			switch {
			case sensors > 0:
				r, err = GeneratePlant(f, n, sensors, seed+uint64(v))
			case cycle > 0:
				r, err = GenerateCyclicRelated(f, n, cycle, seed+uint64(v))
			default:
				r, err = GenerateRelated(f, n, seed+uint64(v))
			}
			if err != nil {
				return nil, err
			}
			r.Name = fmt.Sprintf("%s_%d.csv", f, v+1)
			out = append(out, r)
		}
	}
	return out, nil
}

// CSV renders the file in the eval input format, with a per-row
// "anomaly" column for eval --label-column.
func (r *Related) CSV() []byte {
	var b bytes.Buffer
	b.WriteString("timestamp")
	channels := r.Channels
	if channels == nil {
		channels = RelatedChannels
	}
	for _, c := range channels {
		b.WriteString("," + c)
	}
	b.WriteString(",anomaly\n")
	for i, t := range r.Times {
		b.WriteString(t.Format("2006-01-02 15:04:05"))
		for _, v := range r.Values[i] {
			b.WriteByte(',')
			b.WriteString(strconv.FormatFloat(v, 'f', 4, 64))
		}
		if i >= r.Start && i < r.End {
			b.WriteString(",1\n")
		} else {
			b.WriteString(",0\n")
		}
	}
	return b.Bytes()
}

// WriteRelated writes the files under dir.
func WriteRelated(dir string, files []*Related) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, r := range files {
		if err := os.WriteFile(filepath.Join(dir, r.Name), r.CSV(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// GeneratePlant returns n rows (n >= 1000) of a plant of sensors (6 to
// 256) that three loads drive (AR(0.98) processes of unit spread): each
// of four in five sensors is a level plus a mix of the loads (5 to 15
// times its own noise) plus its noise; the fifth wander on their own
// (an AR(0.98) of their own, 10 times their noise). Every product is
// rounded before it is added, so that no CPU fuses it: the same files
// on every one. With fault "offset" one
// load-driven sensor reads high or low by 8-12 deviations of its noise
// from between 45% and 60% of the rows, for 20% of them: within its
// normal range, only its relation to the many others shows it, as a
// transmitter whose calibration slipped among a unit's dozens.
func GeneratePlant(fault string, n, sensors int, seed uint64) (*Related, error) {
	if fault != "offset" && fault != "none" {
		return nil, fmt.Errorf("fault %q: unknown (known: offset, none)", fault)
	}
	if n < 1000 {
		return nil, fmt.Errorf("rows: must be >= 1000 (got %d)", n)
	}
	if sensors < 6 || sensors > 256 {
		return nil, fmt.Errorf("sensors: must be in [6, 256] (got %d)", sensors)
	}
	rng := rand.New(rand.NewPCG(seed, hash(fmt.Sprintf("plant/%d/%s", sensors, fault))))
	const loads, phi = 3, 0.98
	innovation := math.Sqrt(1 - phi*phi)
	base, noise, own := make([]float64, sensors), make([]float64, sensors), make([]bool, sensors)
	gain := make([][loads]float64, sensors)
	var driven []int
	for j := range sensors {
		base[j] = 10 + float64(90*rng.Float64())
		noise[j] = base[j] * (0.005 + float64(0.015*rng.Float64()))
		own[j] = j%5 == 4
		if own[j] {
			continue
		}
		driven = append(driven, j)
		size, norm := noise[j]*(5+float64(10*rng.Float64())), 0.0
		for k := range loads {
			gain[j][k] = rng.NormFloat64()
			norm += float64(gain[j][k] * gain[j][k])
		}
		for k := range loads {
			gain[j][k] *= size / math.Sqrt(norm)
		}
	}
	channels := make([]string, sensors)
	for j := range channels {
		channels[j] = fmt.Sprintf("s%03d", j+1)
	}
	r := &Related{Name: fault + ".csv", Fault: fault, Channels: channels, Times: make([]time.Time, n), Values: make([][]float64, n), Channel: -1}
	if fault == "offset" {
		r.Start = int(float64(n) * (0.45 + float64(0.15*rng.Float64())))
		r.End = r.Start + n/5
		r.Channel = driven[rng.IntN(len(driven))]
		r.Size = float64(1-2*rng.IntN(2)) * (8 + float64(4*rng.Float64())) * noise[r.Channel]
	}
	u, wander := make([]float64, loads), make([]float64, sensors)
	for i := range n {
		for k := range u {
			u[k] = float64(phi*u[k]) + float64(innovation*rng.NormFloat64())
		}
		row := make([]float64, sensors)
		for j := range row {
			row[j] = base[j] + float64(noise[j]*rng.NormFloat64())
			if own[j] {
				wander[j] = float64(phi*wander[j]) + float64(innovation*rng.NormFloat64())
				row[j] += float64(10 * noise[j] * wander[j])
				continue
			}
			for k := range u {
				row[j] += float64(gain[j][k] * u[k])
			}
		}
		if i >= r.Start && i < r.End {
			row[r.Channel] += r.Size
		}
		r.Times[i], r.Values[i] = Start.Add(time.Duration(i)*RelatedStep), row
	}
	return r, nil
}
