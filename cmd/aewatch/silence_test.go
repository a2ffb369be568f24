package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aewatch/aewatch/synth"
)

// TestSilenceThroughRun: a sustained fault inside a maintenance window
// (config detector.silences), streamed through `aewatch run`, is written
// flagged silenced and opens no alert; every ae_score field, silenced
// included, equals eval's with the same config.
func TestSilenceThroughRun(t *testing.T) {
	influx, brokers := peers(t, 1, "sensors")
	s, err := synth.GenerateSustained("noisy", "level_shift", 6000, 1)
	if err != nil {
		t.Fatal(err)
	}
	s.Labelled = false // the anomaly column would be read as a channel
	const name = "pump5"
	file := writeRows(t, s, t.TempDir(), name, 0, len(s.Values))
	from, to := s.Times[s.Onset], s.Times[s.End].Add(time.Second)
	cfg := filepath.Join(t.TempDir(), "silence.yaml")
	body := fmt.Sprintf("detector:\n  silences:\n    - series: \"pump*\"\n      from: %s\n      to: %s\n      reason: valve maintenance\n",
		from.Format(time.RFC3339), to.Format(time.RFC3339))
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	produceFiles(t, brokers, file)
	run := startRun(t, brokers, influx.URL, "g-silence", "--config", cfg)
	waitAtLeast(t, len(s.Values)-31, 60*time.Second, func() int { return influx.Count("sensors", "SELECT count(score) FROM ae_score") })
	requireEvalFields(t, influx, file, "from run", "--config", cfg)
	run.stop(t)

	silenced := influx.Count("sensors", "SELECT count(silenced) FROM ae_score")
	if want := s.End - s.Onset + 1; silenced != want {
		t.Errorf("%d ae_score points flagged silenced, want the window's %d", silenced, want)
	}
	for _, a := range influx.Rows("sensors", `SELECT * FROM ae_alert WHERE "event" = 'opened'`) {
		ts, _ := a["time"].(json.Number).Int64()
		if ts >= from.UnixNano() && ts < to.UnixNano() {
			t.Errorf("alert opened inside the maintenance window: %v", a)
		}
	}
	// Without the silence the same fault is alerted (the test's premise).
	f, col := evalOutput(t, file)
	opened := 0
	for i, row := range f.Rows {
		if i >= s.Onset && i <= s.End && row[col["alert"]] == "1" {
			opened++
		}
	}
	if opened == 0 {
		t.Fatal("without the silence eval alerts on none of the fault's rows: the test shows nothing")
	}
	t.Logf("%d points silenced; without the silence %d of the fault's %d rows are alerted", silenced, opened, s.End-s.Onset+1)
}
