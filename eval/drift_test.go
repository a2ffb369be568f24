package eval

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/aewatch/aewatch/detector"
	"github.com/aewatch/aewatch/nab"
	"github.com/aewatch/aewatch/synth"
)

// writeCorpus writes generated series with their labels to a temporary
// directory and returns the inputs and labels eval reads from it.
func writeCorpus(t *testing.T, series []*synth.Series) ([]Input, nab.Labels) {
	t.Helper()
	dir := t.TempDir()
	if err := synth.WriteCorpus(dir, series); err != nil {
		t.Fatal(err)
	}
	lab, err := nab.LoadLabels(filepath.Join(dir, "labels.json"))
	if err != nil {
		t.Fatal(err)
	}
	inputs, err := Discover([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	return inputs, lab
}

// driftCorpus writes the drift corpus (every signal with a drift and
// without a fault, variants draws) and returns its inputs and labels.
func driftCorpus(t *testing.T, variants int) ([]Input, nab.Labels) {
	t.Helper()
	series, err := synth.DriftCorpus(12000, variants, driftSeed)
	if err != nil {
		t.Fatal(err)
	}
	return writeCorpus(t, series)
}

// driftStats scores inputs and summarises their drift alerts.
func driftStats(t *testing.T, inputs []Input, lab nab.Labels, cfg detector.Config) (DriftStats, []FileResult) {
	t.Helper()
	results, err := Run(context.Background(), inputs, Options{Detector: cfg, OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	var st DriftStats
	for _, r := range results {
		w, _ := lab.Lookup(r.Rel)
		st.AddDrift(r.Rel, r.File.Times, r.DriftOpenings, r.Monitored, r.FirstMonitored, w)
	}
	return st, results
}

func (d DriftStats) String() string {
	med, share := d.MedianDelay()
	return fmt.Sprintf("%d files: %d of %d drifts alerted before the ramp ended (%d late), median delay %d samples (%.0f%% of the ramp), median onset error %d samples; %d false alarms in %d monitored samples (%.3f per 10k); missed %v, false alarms in %v",
		d.Files, d.Detected, d.Windows, d.Late, med, 100*share, d.MedianOnsetError(), d.FalseAlarms, d.Monitored, d.FalseAlarmsPer10k(),
		d.Missed, d.Falsely)
}

// TestDriftCorpus is the drift bar: on the generated drift corpus (ramps of
// 3-6 noise standard deviations over 2,000-5,000 samples on every signal
// type, and fault-free controls) every drift is alerted as kind drift
// before its ramp ends and no control file has a drift alert. Three draws
// of the corpus; detection delay and false alarms are logged.
func TestDriftCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("scores a 30-file drift corpus")
	}
	variants := 3
	if v, err := strconv.Atoi(os.Getenv("AEWATCH_TEST_DRIFT_VARIANTS")); err == nil && v > 0 {
		variants = v // larger checks; AEWATCH_TEST_DRIFT_SEED picks another corpus
	}
	if v, err := strconv.ParseUint(os.Getenv("AEWATCH_TEST_DRIFT_SEED"), 10, 64); err == nil {
		driftSeed = v
	}
	inputs, lab := driftCorpus(t, variants)
	st, results := driftStats(t, inputs, lab, detector.DefaultConfig())
	t.Log(st)
	if want := len(synth.DriftSignals) * variants; st.Detected != st.Windows || st.Windows != want {
		t.Errorf("%d of %d drifts alerted in time (want all %d); missed %v", st.Detected, st.Windows, want, st.Missed)
	}
	for _, r := range results {
		if n := len(r.DriftOpenings); strings.Contains(r.Rel, "_none_") && n > 0 {
			t.Errorf("%s: %d drift alerts on a control file", r.Rel, n)
		}
	}
	// The explanation's rate against the ramp's true slope, and its sign.
	series, _ := synth.DriftCorpus(12000, variants, driftSeed)
	byName := map[string]*synth.Series{}
	for _, s := range series {
		byName[s.Name] = s
	}
	var ratios []float64
	for _, r := range results {
		s := byName[filepath.ToSlash(r.Rel)]
		if s == nil || s.Onset < 0 || len(r.DriftOpenings) == 0 {
			continue
		}
		first := r.DriftOpenings[0]
		if first.Statistic != "level" {
			t.Logf("%s: first explained as a drift of the %s, not the level", r.Rel, first.Statistic)
			continue
		}
		hours := float64(s.End-s.Onset+1) * synth.Steps[s.Signal].Hours()
		ratio := first.Rate / (s.Size / hours)
		if ratio <= 0 {
			t.Errorf("%s: rate %v per hour has the wrong sign for a drift of %+.2f", r.Rel, first.Rate, s.Size)
		}
		ratios = append(ratios, ratio)
	}
	sort.Float64s(ratios)
	if len(ratios) > 0 {
		t.Logf("%d of %d drifts explained as the level moving; estimated rate / true ramp slope: median %.2f, range %.2f-%.2f",
			len(ratios), st.Detected, ratios[len(ratios)/2], ratios[0], ratios[len(ratios)-1])
	}
}

var driftSeed uint64 = 1

// TestDriftUnwatchedWindows: a window that ends before the drift monitor
// has its reference is counted as such, not silently as a miss.
func TestDriftUnwatchedWindows(t *testing.T) {
	times := make([]int64, 100)
	for i := range times {
		times[i] = int64(i)
	}
	wins := []nab.Window{{Start: 10, End: 20}, {Start: 60, End: 70}}
	var st DriftStats
	st.AddDrift("f", times, nil, 50, 50, wins)
	st.AddDrift("g", times, nil, 0, -1, wins[:1])
	if st.Windows != 3 || st.Unwatched != 2 {
		t.Errorf("%d windows, %d unwatched; want 3 and 2 (the first of f, and g's, which the monitor never tested)", st.Windows, st.Unwatched)
	}
}
