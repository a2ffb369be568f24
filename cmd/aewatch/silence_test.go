package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aewatch/aewatch/stream"
	"github.com/aewatch/aewatch/synth"
)

// TestSilenceThroughRun: a sustained fault inside a maintenance window
// (config detector.silences), streamed through `aewatch run`, is written
// flagged silenced and opens no alert; every ae_score field, silenced
// included, equals eval's with the same config (the sparse variant's
// network, its bottleneck chosen by model.bottleneck: auto: the variants
// keep eval's bits too, and the choice is written once, as eval reports it).
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
	body := fmt.Sprintf("detector:\n  model:\n    variant: sparse\n    bottleneck: auto\n  silences:\n    - series: \"pump*\"\n      from: %s\n      to: %s\n      reason: valve maintenance\n",
		from.Format(time.RFC3339), to.Format(time.RFC3339))
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	produceFiles(t, brokers, file)
	run := startRun(t, brokers, influx.URL, "g-silence", "--config", cfg)
	waitAtLeast(t, len(s.Values)-31, 60*time.Second, scoreCount(influx))
	requireEvalFields(t, influx, file, "from run", "--config", cfg)
	run.stop(t)

	chosen := influx.Rows("sensors", `SELECT bottleneck FROM ae_score WHERE bottleneck > 0`)
	evalDir := t.TempDir()
	if _, stderr, code := cli(t, "eval", "--quiet", "--config", cfg, "--out", evalDir, file); code != 0 {
		t.Fatalf("eval: %s", stderr)
	}
	csv, err := os.ReadFile(filepath.Join(evalDir, "bottleneck.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if len(chosen) != 1 || !strings.HasSuffix(strings.TrimSpace(string(csv)), ","+string(chosen[0]["bottleneck"].(json.Number))) {
		t.Errorf("bottleneck written %v; eval's choice:\n%s", chosen, csv)
	}
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

// TestSilenceOverHTTP: `aewatch silence` sets a maintenance window on a
// running service; the fault that arrives inside it is flagged silenced
// and opens no alert; a restarted service reads the window back from the
// checkpoint topic; --lift removes it.
func TestSilenceOverHTTP(t *testing.T) {
	influx, brokers := peers(t, 1, "sensors")
	s, err := synth.GenerateSustained("noisy", "level_shift", 6000, 3)
	if err != nil {
		t.Fatal(err)
	}
	s.Labelled = false
	const name = "pump8"
	before := writeRows(t, s, t.TempDir(), name, 0, s.Onset)
	after := writeRows(t, s, t.TempDir(), name, s.Onset, len(s.Values))
	produceFiles(t, brokers, before)
	run := startRun(t, brokers, influx.URL, "g-silence-http")
	waitAtLeast(t, s.Onset-31, 60*time.Second, scoreCount(influx))

	if _, stderr, code := cli(t, "silence", "--addr", run.http, "pump*"); code != 1 || !strings.Contains(stderr, "give one of --for and --to") {
		t.Errorf("silence without an end: exit %d, %s", code, stderr)
	}
	if _, stderr, code := cli(t, "silence", "--addr", run.http, "--from", "soon", "--for", "1h", "pump*"); code != 1 ||
		!strings.Contains(stderr, `400 Bad Request: silence: from: not an RFC 3339 time such as 2024-03-01T08:00:00Z (got "soon")`) {
		t.Errorf("silence --from soon: exit %d, %s", code, stderr)
	}
	from, to := s.Times[s.Onset], s.Times[s.End].Add(time.Second)
	out, stderr, code := cli(t, "silence", "--addr", run.http, "--from", from.Format(time.RFC3339), "--to", to.Format(time.RFC3339),
		"--reason", "valve maintenance", "--by", "tester", "pump*")
	if code != 0 {
		t.Fatalf("silence: exit %d: %s", code, stderr)
	}
	_, body, _ := strings.Cut(strings.TrimSpace(out), ": ")
	var set struct {
		Silence stream.SilenceEntry
		Stored  bool
	}
	if err := json.Unmarshal([]byte(body), &set); err != nil || set.Silence.ID == "" || !set.Stored || set.Silence.By != "tester" {
		t.Fatalf("silence answered %q (%v)", out, err)
	}
	produceFiles(t, brokers, after)
	waitAtLeast(t, len(s.Values)-31, 60*time.Second, scoreCount(influx))
	run.stop(t)
	if got, want := influx.Count("sensors", "SELECT count(silenced) FROM ae_score"), s.End-s.Onset+1; got != want {
		t.Errorf("%d points flagged silenced, want the window's %d", got, want)
	}
	for _, a := range influx.Rows("sensors", `SELECT * FROM ae_alert WHERE "event" = 'opened'`) {
		if ts, _ := a["time"].(json.Number).Int64(); ts >= from.UnixNano() && ts < to.UnixNano() {
			t.Errorf("alert opened inside the maintenance window: %v", a)
		}
	}

	// A new process reads the window back from the checkpoint topic.
	run = startRun(t, brokers, influx.URL, "g-silence-http")
	listed := func() string {
		out, _, _ := cli(t, "silence", "--addr", run.http, "--list")
		return out
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(listed(), `"id":"`+set.Silence.ID+`"`) {
		if time.Now().After(deadline) {
			t.Fatalf("the restarted service does not list window %s: %s", set.Silence.ID, listed())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if out, stderr, code := cli(t, "silence", "--addr", run.http, "--lift", set.Silence.ID); code != 0 || !strings.Contains(out, `"status":"lifted"`) {
		t.Fatalf("--lift: exit %d: %s%s", code, out, stderr)
	}
	if l := listed(); strings.Contains(l, set.Silence.ID) {
		t.Errorf("still listed after --lift: %s", l)
	}
	if _, stderr, code := cli(t, "silence", "--addr", run.http, "--lift", set.Silence.ID); code != 1 || !strings.Contains(stderr, "404 Not Found") {
		t.Errorf("lifting it twice: exit %d, %s", code, stderr)
	}
	run.stop(t)
}
