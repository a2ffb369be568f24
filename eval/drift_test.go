package eval

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aewatch/aewatch/detector"
	"github.com/aewatch/aewatch/nab"
	"github.com/aewatch/aewatch/synth"
)

// driftCorpus writes the drift corpus (every signal with a drift and
// without a fault, variants draws) and returns its inputs and labels.
func driftCorpus(t *testing.T, variants int) ([]Input, nab.Labels) {
	t.Helper()
	dir := t.TempDir()
	series, err := synth.DriftCorpus(12000, variants, driftSeed)
	if err != nil {
		t.Fatal(err)
	}
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
		st.AddDrift(r.Rel, r.File.Times, r.DriftOpened, r.Monitored, w)
	}
	return st, results
}

func (d DriftStats) String() string {
	med, share := d.MedianDelay()
	return fmt.Sprintf("%d files: %d of %d drifts alerted before the ramp ended (%d late), median delay %d samples (%.0f%% of the ramp); %d false alarms in %d monitored samples (%.3f per 10k); missed %v, false alarms in %v",
		d.Files, d.Detected, d.Windows, d.Late, med, 100*share, d.FalseAlarms, d.Monitored, d.FalseAlarmsPer10k(),
		d.Missed, d.Falsely)
}

// TestDriftCorpus is the drift bar: on the generated drift corpus (ramps of
// 3-6 noise standard deviations over 2,000-5,000 samples on every signal
// type, and fault-free controls) every drift is alerted as kind drift
// before its ramp ends and no control file has a drift alert. Three draws
// of the corpus; detection delay and false alarms are logged.
func TestDriftCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("scores a 24-file drift corpus")
	}
	inputs, lab := driftCorpus(t, 3)
	st, results := driftStats(t, inputs, lab, detector.DefaultConfig())
	t.Log(st)
	if st.Detected != st.Windows || st.Windows != 12 {
		t.Errorf("%d of %d drifts alerted in time (want all 12); missed %v", st.Detected, st.Windows, st.Missed)
	}
	for _, r := range results {
		if strings.Contains(r.Rel, "_none_") && r.DriftAlerts > 0 {
			t.Errorf("%s: %d drift alerts on a control file", r.Rel, r.DriftAlerts)
		}
	}
}

var driftSeed uint64 = 1
