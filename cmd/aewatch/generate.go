package main

import (
	"errors"
	"flag"
	"fmt"

	"github.com/aewatch/aewatch/synth"
)

func runGenerate(args []string) error {
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: aewatch generate [--drift [--day-step D] | --sustained | --long-cycle | --valve | --counter | --relations [--cycle N | --sensors N] | --controlled | --plant-cycles] [--rows N] [--variants N] [--seed N] --out DIR\n\nWrites a labelled corpus of industrial sensor signals with faults (CSV files and labels.json).\nWith --drift: slow drifts (ramps of 3-6 noise standard deviations over 2,000-5,000 samples,\nlabelled from ramp start to ramp end) and fault-free controls, 12,000 rows per file (a daily\ncycle sampled each minute, or every --day-step, in files long enough for the day to be found first).\nWith --sustained: abnormal regimes of 400-1,200 samples (level shifts of 4-8 noise standard\ndeviations, changed frequency or shape, noise bursts, stuck sensors) that end, and fault-free\ncontrols, 6,000 rows per file, with a per-row \"anomaly\" column for eval --label-column.\nWith --long-cycle: the same faults on a motor current with a half-hour duty cycle sampled every\nsecond, 30,000 rows per file.\nWith --valve: a control valve's position (% of travel) held among three or four positions for\n15-450 samples at a time, as commanded, as its positioner reads it and as a transmitter sends that\nin whole percent, stuck between two positions for 100-300 samples or hunting between two for\n33-100, from 60-90% of the file on, and fault-free controls, 10,000 rows per file, with a per-row\n\"anomaly\" column.\nWith --counter: a count of parts (5-15 a minute) and an energy meter's reading (its load cycling over\nabout 1,250 minutes), each sent modulo 10,000 and reset to 0 once, stuck, racing at twice its rate or\nslowed to half for 100-300 samples from 60-90% of the file on, and fault-free controls, 10,000 rows\nper file, with a per-row \"anomaly\" column.\nWith --relations: a pump whose load wanders (flow, pressure and current follow it; temperature\nand vibration do not), with pressure or current offset by 8-12 deviations of its noise for a fifth\nof the file (within its range: only its relation to the others shows it) and fault-free controls,\n3,000 rows per file, with a per-row \"anomaly\" column; eval them with --multivariate.\nWith --relations --cycle N: the same pump on a stroke cycle of N samples that flow, pressure and\ncurrent follow with their own lags, with offsets and with lags (pressure or current a quarter\ncycle late: only its phase against the others shows it) and fault-free controls.\nWith --relations --sensors N: a plant of N sensors, four in five driven by three wandering loads\n(the fifth wander on their own), with one driven sensor offset by 8-12 deviations of its noise\nfor a fifth of the file (only its relation to the many others shows it) and fault-free controls.\nWith --controlled: a controlled variable pv following its setpoint sp (moved every 300 samples or\nso) through a first-order lag, with one fault on pv per file (offset, stuck, noise, ramp,\noscillation, spikes) and fault-free controls, 5,000 rows per file, with a per-row \"anomaly\"\ncolumn; eval them with --multivariate --context sp.\nWith --plant-cycles: fault-free signals of plant that runs in cycles longer than the reference\nperiod at an irregular cadence (a machine's temperature through its stops and warm-ups, a filter's\ndifferential pressure through its cleanings), 20,000 rows per file: every alert on them is false.\n\n")
		fs.PrintDefaults()
	}
	out := fs.String("out", "", "output `directory` (required)")
	rows := fs.Int("rows", 4032, "samples per file")
	seed := fs.Uint64("seed", 1, "random seed")
	variants := fs.Int("variants", 3, "independent draws of each signal and fault")
	drift := fs.Bool("drift", false, "write the drift corpus instead")
	sustained := fs.Bool("sustained", false, "write the sustained-fault corpus instead")
	longCycle := fs.Bool("long-cycle", false, "write the sustained-fault corpus of a half-hour duty cycle sampled every second instead")
	valve := fs.Bool("valve", false, "write the corpus of valve positions instead")
	counter := fs.Bool("counter", false, "write the corpus of counters instead")
	relations := fs.Bool("relations", false, "write the corpus of sensors related through a wandering load instead")
	cycle := fs.Int("cycle", 0, "with --relations: the pump's stroke cycle in samples (0: none)")
	sensors := fs.Int("sensors", 0, "with --relations: a plant of this many sensors (6 to 256) driven by three loads in place of the pump (0: the pump)")
	controlled := fs.Bool("controlled", false, "write the corpus of a controlled variable and its setpoint instead")
	plantCycles := fs.Bool("plant-cycles", false, "write the fault-free corpus of plant running in irregular cycles instead")
	dayStep := fs.Duration("day-step", synth.Steps["daily"], "with --drift: the daily signal's sampling `interval` (a divisor of a day, 1s to 5m; its files as much longer as the drift monitor needs to find the day first)")
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
	}
	if *out == "" {
		fs.Usage()
		return errors.New("--out DIR is required")
	}
	if b2i(*drift)+b2i(*sustained)+b2i(*longCycle)+b2i(*valve)+b2i(*counter)+b2i(*relations)+b2i(*controlled)+b2i(*plantCycles) > 1 {
		return errors.New("--drift, --sustained, --long-cycle, --valve, --counter, --relations, --controlled and --plant-cycles: choose one corpus")
	}
	if flagSet(fs, "day-step") && !*drift {
		return errors.New("--day-step: only with --drift")
	}
	if err := synth.CheckDayStep(*dayStep); err != nil {
		return fmt.Errorf("--day-step: %w", err)
	}
	if flagSet(fs, "cycle") && !*relations {
		return errors.New("--cycle: only with --relations")
	}
	if flagSet(fs, "sensors") && (!*relations || *cycle != 0) {
		return errors.New("--sensors: only with --relations, without --cycle")
	}
	if *sensors != 0 && (*sensors < 6 || *sensors > 256) {
		return fmt.Errorf("--sensors: must be 0 or in [6, 256] (got %d)", *sensors)
	}
	if *cycle != 0 && (*cycle < 8 || *cycle > 1000) {
		return fmt.Errorf("--cycle: must be 0 or in [8, 1000] samples (got %d)", *cycle)
	}
	if *relations && !flagSet(fs, "rows") {
		*rows = 3000
	}
	if *controlled && !flagSet(fs, "rows") {
		*rows = 5000
	}
	if (*valve || *counter) && !flagSet(fs, "rows") {
		*rows = 10000
	}
	if *drift && !flagSet(fs, "rows") {
		*rows = 12000
	}
	if *sustained && !flagSet(fs, "rows") {
		*rows = 6000
	}
	if *longCycle && !flagSet(fs, "rows") {
		*rows = 30000
	}
	if *plantCycles && !flagSet(fs, "rows") {
		*rows = 20000
	}
	if *longCycle && *rows < 3000 {
		return fmt.Errorf("--rows: must be >= 3000 with --long-cycle (got %d)", *rows)
	}
	if *sustained && *rows < 3000 {
		return fmt.Errorf("--rows: must be >= 3000 with --sustained (got %d)", *rows)
	}
	if *valve && *rows < 4000 {
		return fmt.Errorf("--rows: must be >= 4000 with --valve (got %d)", *rows)
	}
	if *counter && *rows < 4000 {
		return fmt.Errorf("--rows: must be >= 4000 with --counter (got %d)", *rows)
	}
	if *drift && *rows < 10000 {
		return fmt.Errorf("--rows: must be >= 10000 with --drift (got %d)", *rows)
	}
	if *rows < 500 {
		return fmt.Errorf("--rows: must be >= 500 (got %d)", *rows)
	}
	if *variants < 1 || *variants > 100 {
		return fmt.Errorf("--variants: must be in [1, 100] (got %d)", *variants)
	}
	if *controlled && *rows < 1000 {
		return fmt.Errorf("--rows: must be >= 1000 with --controlled (got %d)", *rows)
	}
	if *relations || *controlled {
		var files []*synth.Related
		var err error
		if *controlled {
			files, err = synth.ControlledCorpus(*rows, *variants, *seed)
		} else {
			files, err = synth.RelatedCorpus(*rows, *cycle, *sensors, *variants, *seed)
		}
		if err != nil {
			return err
		}
		if err := synth.WriteRelated(*out, files); err != nil {
			return err
		}
		fmt.Printf("wrote %d files to %s\n", len(files), *out)
		return nil
	}
	corpus := synth.Corpus
	switch {
	case *drift:
		corpus = func(n, variants int, seed uint64) ([]*synth.Series, error) {
			return synth.DriftCorpusDayStep(n, variants, seed, *dayStep)
		}
	case *sustained:
		corpus = synth.SustainedCorpus
	case *longCycle:
		corpus = synth.LongCycleCorpus
	case *valve:
		corpus = synth.ValveCorpus
	case *counter:
		corpus = synth.CounterCorpus
	case *plantCycles:
		corpus = synth.PlantCycleCorpus
	}
	series, err := corpus(*rows, *variants, *seed)
	if err != nil {
		return err
	}
	if err := synth.WriteCorpus(*out, series); err != nil {
		return err
	}
	fmt.Printf("wrote %d files and labels.json to %s\n", len(series), *out)
	return nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
