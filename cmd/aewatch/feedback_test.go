package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aewatch/aewatch/synth"
)

// TestFeedbackOverHTTP: a recurring harmless bump streamed through
// `aewatch run` alerts; `aewatch feedback --false-positive` on that alert
// goes through kafka.feedback_topic, is applied at the series' next sample
// and written to ae_feedback; later bumps open no alert while every fault
// still does; and every ae_score field equals eval's given the same
// verdict with --feedback.
func TestFeedbackOverHTTP(t *testing.T) {
	const topic = "aewatch-feedback"
	influx, brokers := peers(t, 1, "sensors", topic)
	r, err := synth.GenerateRecurring(25000, 1)
	if err != nil {
		t.Fatal(err)
	}
	const name = "cleaner1"
	split := r.Bumps[1] // the first bump has alerted and closed
	dir := t.TempDir()
	first := writeRows(t, r.Series, filepath.Join(dir, "a"), name, 0, split)
	rest := writeRows(t, r.Series, filepath.Join(dir, "b"), name, split, len(r.Values))
	whole := writeRows(t, r.Series, filepath.Join(dir, "c"), name, 0, len(r.Values))
	produceFiles(t, brokers, first)
	run := startRun(t, brokers, influx.URL, "g-feedback", "--set", "kafka.feedback_topic="+topic)
	waitAtLeast(t, split-31, 60*time.Second, scoreCount(influx))

	var at int64
	for _, a := range influx.Rows("sensors", `SELECT * FROM ae_alert WHERE "event" = 'opened' AND "kind" = 'anomaly'`) {
		ts, _ := a["time"].(json.Number).Int64()
		if ts >= r.Times[r.Bumps[0]].UnixNano() && ts < r.Times[r.Bumps[0]+synth.RecurringBumpLength].UnixNano() {
			at = ts
		}
	}
	if at == 0 {
		t.Fatal("the first harmless bump opened no anomaly alert: nothing to judge")
	}
	atText := time.Unix(0, at).UTC().Format(time.RFC3339Nano)
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"--at", atText, name}, "give one of --false-positive and --true-positive"},
		{[]string{"--at", "yesterday", "--false-positive", name}, `--at: not an RFC 3339 time such as 2024-03-01T08:00:00Z (got "yesterday")`},
		{[]string{"--at", atText, "--false-positive"}, "name one SERIES (got 0)"},
	} {
		if _, stderr, code := cli(t, append([]string{"feedback", "--addr", run.http}, bad.args...)...); code != 1 || !strings.Contains(stderr, bad.want) {
			t.Errorf("feedback %v: exit %d, %s; want %q", bad.args, code, stderr, bad.want)
		}
	}
	out, stderr, code := cli(t, "feedback", "--addr", run.http, "--at", atText, "--false-positive", "--by", "tester", name)
	if code != 0 || !strings.Contains(out, "published to "+topic) {
		t.Fatalf("feedback: exit %d: %s%s", code, out, stderr)
	}
	for deadline := time.Now().Add(30 * time.Second); run.metric(t, "aewatch_feedback_received_total", "") < 1; {
		if time.Now().After(deadline) {
			t.Fatal("the verdict was not read back from the feedback topic")
		}
		time.Sleep(50 * time.Millisecond)
	}
	produceFiles(t, brokers, rest)
	waitAtLeast(t, len(r.Values)-31, 60*time.Second, scoreCount(influx))
	run.stop(t)

	fb := influx.Rows("sensors", "SELECT * FROM ae_feedback")
	if len(fb) != 1 {
		t.Fatalf("%d ae_feedback points, want 1: %v", len(fb), fb)
	}
	p := fb[0]
	ts, _ := p["time"].(json.Number).Int64()
	start, _ := p["alert_start_ns"].(json.Number).Int64()
	tol, _ := p["tolerance"].(json.Number).Float64()
	if p["verdict"] != "false_positive" || p["applied"] != json.Number("1") || start != at || ts != r.Times[split].UnixNano() ||
		!(tol > synth.RecurringBumpSize) || !strings.Contains(p["reason"].(string), "tester") || p["channel"] != "value" {
		t.Errorf("ae_feedback point %v: want false_positive applied at the first sample after it (%d) to the alert from %d, a tolerance above %v, by tester",
			p, r.Times[split].UnixNano(), at, synth.RecurringBumpSize)
	}
	inAny := func(ts int64, starts []int, length int) bool {
		for _, s := range starts {
			if ts >= r.Times[s].UnixNano() && ts < r.Times[s+length].UnixNano() {
				return true
			}
		}
		return false
	}
	faults := map[int]bool{}
	explained := false
	for _, a := range influx.Rows("sensors", `SELECT * FROM ae_alert WHERE "event" = 'opened' AND "kind" = 'anomaly'`) {
		ts, _ := a["time"].(json.Number).Int64()
		// The step beyond the bump's size (the second fault) says what
		// the verdict tolerates (decayed a little since).
		if inAny(ts, r.Faults[1:2], synth.RecurringFaultLength) {
			told, _ := a["tolerated"].(json.Number).Float64()
			explained = told > 0.99*tol && told <= tol && a["verdicts"] == json.Number("1")
		}
		if ts > r.Times[split].UnixNano() && inAny(ts, r.Bumps, synth.RecurringBumpLength) {
			t.Errorf("a later harmless bump alerted at %d after the false-positive verdict", ts)
		}
		for _, f := range r.Faults {
			if inAny(ts, []int{f}, synth.RecurringFaultLength) {
				faults[f] = true
			}
		}
	}
	if len(faults) != len(r.Faults) {
		t.Errorf("faults alerted %v of %v", faults, r.Faults)
	}
	if !explained {
		t.Errorf("the alert on the step beyond the tolerated bump does not carry tolerated (about %v) and verdicts=1", tol)
	}

	verdicts := filepath.Join(dir, "verdicts.json")
	body := `[{"series":"` + name + `","at":"` + atText + `","verdict":"false_positive","given":"` + r.Times[split].Format(time.RFC3339) + `"}]`
	if err := os.WriteFile(verdicts, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	requireEvalFields(t, influx, whole, "from run with the verdict", "--feedback", verdicts)
	// Without the verdict the later bumps alert (the test's premise).
	f, col := evalOutput(t, whole)
	later := 0
	for _, b := range r.Bumps[2:] {
		for i := b; i < b+synth.RecurringBumpLength; i++ {
			if f.Rows[i][col["alert"]] == "1" {
				later++
				break
			}
		}
	}
	if later < len(r.Bumps)-3 {
		t.Fatalf("without the verdict eval alerts on %d of %d later bumps: the test shows nothing", later, len(r.Bumps)-2)
	}
	t.Logf("later bumps alerted: %d of %d without the verdict, 0 with it; faults alerted %d of %d; tolerance %.2f", later, len(r.Bumps)-2, len(faults), len(r.Faults), tol)
}
