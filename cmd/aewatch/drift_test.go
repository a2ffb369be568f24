package main

import (
	"encoding/json"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aewatch/aewatch/internal/testsvc"
	"github.com/aewatch/aewatch/synth"
)

// writeRows writes rows [from, to) of s as dir/name.csv (the series name).
func writeRows(t *testing.T, s *synth.Series, dir, name string, from, to int) string {
	t.Helper()
	lines := strings.SplitAfter(string(s.CSV()), "\n")
	body := lines[0] + strings.Join(lines[1+from:1+to], "")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name+".csv")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDriftAlertAndRebaseline: a slow drift streamed through `aewatch run`
// opens an ae_alert of kind drift that explains itself (share, direction,
// onset inside the ramp, rate), every ae_score field (drift_score and
// drift_alert included) equals eval's; `aewatch rebaseline` is accepted,
// logged, applied at the series' next sample, written to ae_rebaseline and
// closes the drift alert with reason rebaseline.
func TestDriftAlertAndRebaseline(t *testing.T) {
	influx, brokers := peers(t, 2, "sensors")
	s, err := synth.GenerateDrift("noisy", "drift", 12000, 1)
	if err != nil {
		t.Fatal(err)
	}
	const name = "flow7"
	cut := s.End + 1 // the whole ramp first; the re-baseline applies at the next sample
	first := writeRows(t, s, filepath.Join(t.TempDir(), "a"), name, 0, cut)
	rest := writeRows(t, s, filepath.Join(t.TempDir(), "b"), name, cut, len(s.Values))
	produceFiles(t, brokers, first)
	run := startRun(t, brokers, influx.URL, "g-drift")
	waitAtLeast(t, cut-31, 60*time.Second, scoreCount(influx))
	requireEvalFields(t, influx, first, "from run")

	opened := influx.Rows("sensors", `SELECT * FROM ae_alert WHERE "kind" = 'drift' AND "event" = 'opened'`)
	if len(opened) != 1 {
		t.Fatalf("%d drift alerts opened, want 1: %v", len(opened), opened)
	}
	a := opened[0]
	ts, _ := a["time"].(json.Number).Int64()
	onset, _ := a["onset_ns"].(json.Number).Int64()
	share, _ := a["share"].(json.Number).Float64()
	dep, _ := a["departure"].(json.Number).Float64()
	rate, _ := a["rate_per_h"].(json.Number).Float64()
	rampStart, rampEnd := s.Times[s.Onset].UnixNano(), s.Times[s.End].UnixNano()
	switch {
	case ts < rampStart || ts > rampEnd:
		t.Errorf("drift alert opened at %d, outside the ramp [%d, %d]", ts, rampStart, rampEnd)
	case onset < rampStart-int64(1000*synth.Steps["noisy"]) || onset > rampStart+int64(1000*synth.Steps["noisy"]): // within a horizon
		t.Errorf("estimated onset %d, ramp starts at %d, alert at %d", onset, rampStart, ts)
	case share != 1 || a["statistic"] != "level" || (a["direction"] == "up") != (s.Size > 0) || math.Signbit(dep) != math.Signbit(s.Size) || math.Signbit(rate) != math.Signbit(s.Size):
		t.Errorf("explanation %v for a drift of %+.2f", a, s.Size)
	}

	// Errors first: wrong method, no series, nothing listening.
	if code, _ := httpGet(run.http + "/rebaseline?series=" + name); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /rebaseline: %d, want 405", code)
	}
	if resp, err := http.Post(run.http+"/rebaseline", "", nil); err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("POST /rebaseline without series: %v %v, want 400", resp, err)
	}
	if _, stderr, code := cli(t, "rebaseline", "--addr", "http://"+testsvc.FreeAddr(t), name); code != 1 || !strings.Contains(stderr, name) {
		t.Errorf("rebaseline against nothing: exit %d, stderr %q", code, stderr)
	}
	// A misspelled series is refused, and the CLI says so with exit 1.
	if _, stderr, code := cli(t, "rebaseline", "--addr", run.http, name+"-typo"); code != 1 || !strings.Contains(stderr, "no instance in --addr has seen it") {
		t.Errorf("rebaseline of a misspelled series: exit %d, stderr %q", code, stderr)
	}
	// So is a misspelled channel of a series it has seen: queued, it
	// would wait for a sample that never comes. The answer names the
	// series' channels.
	if _, stderr, code := cli(t, "rebaseline", "--addr", run.http, "--channel", "valeu", name); code != 1 ||
		!strings.Contains(stderr, `channel "valeu": no instance in --addr has seen it`) || !strings.Contains(stderr, "its channels here: value") {
		t.Errorf("rebaseline of a misspelled channel: exit %d, stderr %q", code, stderr)
	}
	out, stderr, code := cli(t, "rebaseline", "--addr", run.http, "--by", "tester", name)
	if code != 0 || !strings.Contains(out, `"queued`) {
		t.Fatalf("rebaseline: exit %d, stdout %q, stderr %q", code, out, stderr)
	}

	produceFiles(t, brokers, rest)
	waitAtLeast(t, len(s.Values)-31, 60*time.Second, scoreCount(influx))
	rb := influx.Rows("sensors", `SELECT * FROM ae_rebaseline`)
	if len(rb) != 1 || !strings.Contains(rb[0]["source"].(string), "tester") || rb[0]["series"] != name {
		t.Fatalf("ae_rebaseline points %v, want one from tester for %s", rb, name)
	}
	next := s.Times[cut].UnixNano()
	closed := influx.Rows("sensors", `SELECT * FROM ae_alert WHERE "kind" = 'drift' AND "event" = 'closed'`)
	if len(closed) != 1 || closed[0]["reason"] != "rebaseline" {
		t.Fatalf("drift closes %v, want one by rebaseline", closed)
	}
	if ct, _ := closed[0]["time"].(json.Number).Int64(); ct != next {
		t.Errorf("drift alert closed at %d, want the first sample after the request (%d)", ct, next)
	}
	if n := influx.Count("sensors", `SELECT count(score) FROM ae_alert WHERE "kind" = 'drift' AND "event" = 'opened'`); n != 1 {
		t.Errorf("%d drift alerts opened in all, want 1 (none after the re-baseline)", n)
	}
	if v := run.metric(t, "aewatch_rebaselines_total", ""); v != 1 {
		t.Errorf("aewatch_rebaselines_total %v, want 1", v)
	}
	run.stop(t)
	for _, want := range []string{"re-baseline requested", "re-baseline applied"} {
		if !strings.Contains(run.stderr.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}
}

// TestGenerateDriftDayStep: --day-step samples the drift corpus's daily
// signal at that interval, its files as much longer as the drift monitor
// needs to find the day and take its reference again (nine times the rows
// at 10 s), the other signals as without it; a step that does not divide
// a day, or the flag without --drift, is refused by name.
func TestGenerateDriftDayStep(t *testing.T) {
	dir := t.TempDir()
	if _, stderr, code := cli(t, "generate", "--drift", "--day-step", "10s", "--variants", "1", "--out", dir); code != 0 {
		t.Fatalf("generate --drift --day-step 10s: exit %d: %s", code, stderr)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "daily", "daily_none_1.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(lines) != 1+9*12000 {
		t.Errorf("daily file: %d rows, want %d", len(lines)-1, 9*12000)
	}
	first, _ := time.Parse(time.DateTime, strings.Split(lines[1], ",")[0])
	second, _ := time.Parse(time.DateTime, strings.Split(lines[2], ",")[0])
	if step := second.Sub(first); step != 10*time.Second {
		t.Errorf("daily file: step %v, want 10s", step)
	}
	other, err := os.ReadFile(filepath.Join(dir, "noisy", "noisy_none_1.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(other), "\n"); n != 1+12000 {
		t.Errorf("noisy file: %d lines, want %d", n, 1+12000)
	}
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"--drift", "--day-step", "7s"}, "--day-step: must divide a day and be in [1s, 5m0s] (got 7s)"},
		{[]string{"--day-step", "10s"}, "--day-step: only with --drift"},
	} {
		_, stderr, code := cli(t, append(append([]string{"generate"}, bad.args...), "--out", filepath.Join(dir, "bad"))...)
		if code == 0 || !strings.Contains(stderr, bad.want) {
			t.Errorf("generate %v: exit %d, %q: want a failure saying %q", bad.args, code, stderr, bad.want)
		}
	}
}

// TestGeneratePlantCycles: the real binary writes both fault-free plant
// signals, with no labelled window, and refuses a second corpus flag.
func TestGeneratePlantCycles(t *testing.T) {
	dir := t.TempDir()
	if _, stderr, code := cli(t, "generate", "--plant-cycles", "--variants", "1", "--rows", "3000", "--out", dir); code != 0 {
		t.Fatalf("generate --plant-cycles: exit %d: %s", code, stderr)
	}
	for _, name := range []string{"start_stop/start_stop_none_1.csv", "filter_reset/filter_reset_none_1.csv"} {
		raw, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(raw), "\n"); n != 1+3000 {
			t.Errorf("%s: %d lines, want %d", name, n, 1+3000)
		}
	}
	labels, err := os.ReadFile(filepath.Join(dir, "labels.json"))
	if err != nil || !strings.Contains(string(labels), `"start_stop/start_stop_none_1.csv": []`) {
		t.Errorf("labels.json: %s (%v), want no window", labels, err)
	}
	_, stderr, code := cli(t, "generate", "--plant-cycles", "--valve", "--out", dir)
	if code == 0 || !strings.Contains(stderr, "--controlled and --plant-cycles: choose one corpus") {
		t.Errorf("two corpora: exit %d: %s", code, stderr)
	}
}
