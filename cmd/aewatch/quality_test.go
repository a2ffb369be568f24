package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/aewatch/aewatch/synth"
)

// TestQualityAlerts: a sensor that freezes, streamed through `aewatch
// run`, raises an ae_alert of kind quality saying "stuck" and since when;
// a value beyond an operator's limit (config detector.quality.limits)
// raises one saying "above max" by how much; the anomaly kind stays the
// model's; every ae_score field, quality_alert, the bottleneck code
// (output.latent) and the denoised value (detector.denoise, written
// denoise.delay samples late into the sample's point) included, equals
// eval's with the same config (with the variational variant, whose draws
// come from the network's own source).
func TestQualityAlerts(t *testing.T) {
	influx, brokers := peers(t, 1, "sensors")
	s, err := synth.Generate("noisy", "stuck", 4000, 2)
	if err != nil {
		t.Fatal(err)
	}
	const name = "pump3"
	file := writeRows(t, s, t.TempDir(), name, 0, len(s.Values))
	hi := s.Values[0]
	for _, v := range s.Values[:s.Onset] {
		hi = max(hi, v)
	}
	limit := hi - 0.5 // the normal signal's highest values pass it
	cfg := filepath.Join(t.TempDir(), "limits.yaml")
	body := "detector:\n  denoise:\n    enabled: true\n  model:\n    variant: variational\n  quality:\n    limits:\n      - series: \"pump*\"\n        channel: value\n        max: " + strconv.FormatFloat(limit, 'g', -1, 64) + "\n" +
		"output:\n  latent: true\n"
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	produceFiles(t, brokers, file)
	run := startRun(t, brokers, influx.URL, "g-quality", "--config", cfg)
	waitAtLeast(t, len(s.Values)-31, 60*time.Second, scoreCount(influx))
	denoised := 0
	for _, r := range evalRows(t, file, "--config", cfg) {
		if !math.IsNaN(r["denoised"]) {
			denoised++
		}
	}
	// A denoised value reaches its point denoise.delay samples late, in a
	// later write than the point's score: the scores' count can be
	// complete before the last of them are in.
	waitAtLeast(t, denoised, 30*time.Second, func() int { return influx.Count("sensors", "SELECT count(denoised) FROM ae_score") })
	requireEvalFields(t, influx, file, "from run", "--config", cfg)
	if got := influx.Count("sensors", "SELECT count(denoised) FROM ae_score"); got != denoised || denoised < len(s.Values)-600 {
		t.Errorf("%d denoised values written, eval has %d of %d rows", got, denoised, len(s.Values))
	}
	open := run.metric(t, "aewatch_open_alerts", `kind="quality"`)
	run.stop(t)

	opened := influx.Rows("sensors", `SELECT * FROM ae_alert WHERE "kind" = 'quality' AND "event" = 'opened'`)
	stuck, above := 0, 0
	for _, a := range opened {
		ts, _ := a["time"].(json.Number).Int64()
		switch a["statistic"] {
		case "stuck":
			stuck++
			onset, _ := a["onset_ns"].(json.Number).Int64()
			if onset != s.Times[s.Onset].UnixNano() && onset != s.Times[s.Onset-1].UnixNano() {
				t.Errorf("stuck since %d, the sensor froze at %d", onset, s.Times[s.Onset].UnixNano())
			}
			if ts < s.Times[s.Onset].UnixNano() || ts > s.Times[s.End].UnixNano() {
				t.Errorf("stuck alert at %d, outside the frozen span", ts)
			}
		case "above max":
			above++
			if dep, _ := a["departure"].(json.Number).Float64(); !(dep > 0 && dep <= 0.5+hi-limit) {
				t.Errorf("above max by %v", dep)
			}
		default:
			t.Errorf("quality alert %v", a)
		}
	}
	t.Logf("quality alerts opened: %d stuck, %d above max %.3f", stuck, above, limit)
	if stuck != 1 || above == 0 {
		t.Fatalf("quality alerts opened: %d stuck (want 1), %d above max (want some): %v", stuck, above, opened)
	}
	if open != 0 {
		t.Errorf("aewatch_open_alerts{kind=quality} %v at the end, want 0", open)
	}
}
