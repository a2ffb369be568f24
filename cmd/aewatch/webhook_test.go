package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aewatch/aewatch/alerting"
	"github.com/aewatch/aewatch/sensorcsv"
)

// alertEvent is one opening or closing as eval sees it or a webhook
// receives it.
type alertEvent struct {
	Kind, Event string
	At          int64 // Unix seconds
}

// evalAlertEvents runs eval on file and returns its alert openings and
// closings, anomaly, drift and quality, in row order.
func evalAlertEvents(t *testing.T, file string) []alertEvent {
	t.Helper()
	f, col := evalOutput(t, file)
	var evs []alertEvent
	prev := map[string]bool{}
	for i, row := range f.Rows {
		for kind, c := range map[string]string{"anomaly": "alert", "drift": "drift_alert", "quality": "quality_alert"} {
			open := row[col[c]] == "1"
			switch {
			case open && !prev[kind]:
				evs = append(evs, alertEvent{kind, "opened", f.Times[i] / 1e9})
			case !open && prev[kind]:
				evs = append(evs, alertEvent{kind, "closed", f.Times[i] / 1e9})
			}
			prev[kind] = open
		}
	}
	return evs
}

// TestWebhookAcrossRestartAndOutage: aewatch run posts every alert event
// to a webhook receiver that is down for its first 10 s, and is stopped
// (SIGTERM) and started again half-way. The receiver gets each opening
// and closing eval finds exactly once, in order per series.
func TestWebhookAcrossRestartAndOutage(t *testing.T) {
	influx, brokers := peers(t, 2, "sensors")
	files := writeSeries(t, 3, 6000)
	var down atomic.Bool
	down.Store(true)
	var mu sync.Mutex
	got := map[string][]alertEvent{}
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "receiver down", http.StatusServiceUnavailable)
			return
		}
		var batch []alerting.Alert
		if err := json.NewDecoder(r.Body).Decode(&batch); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, a := range batch {
			ev := alertEvent{Kind: a.Labels["kind"], Event: "opened", At: a.StartsAt.Unix()}
			if a.EndsAt != nil {
				ev.Event, ev.At = "closed", a.EndsAt.Unix()
			}
			got[a.Labels["series"]] = append(got[a.Labels["series"]], ev)
		}
	}))
	defer recv.Close()
	cfgFile := filepath.Join(t.TempDir(), "alerting.yaml")
	os.WriteFile(cfgFile, fmt.Appendf(nil, "alerting:\n  webhooks:\n    - url: %s/api/v2/alerts\n", recv.URL), 0o644)

	run := startRun(t, brokers, influx.URL, "g-hook", "--config", cfgFile)
	producer := exec.Command(binary, append([]string{"produce", "--brokers", brokers, "--topic", "sensors", "--rate", "900"}, files...)...)
	if err := producer.Start(); err != nil {
		t.Fatal(err)
	}
	defer producer.Process.Kill()
	time.Sleep(10 * time.Second)
	down.Store(false)
	queued := func(r *runProc) func() int {
		return func() int { return int(r.metric(t, "aewatch_webhook_queue", "")) }
	}
	deadline := time.Now().Add(30 * time.Second)
	for queued(run)() > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	failures := run.metric(t, "aewatch_webhook_failures_total", "")
	run.stop(t)
	mu.Lock()
	received := 0
	for _, evs := range got {
		received += len(evs)
	}
	mu.Unlock()
	before := influx.Count("sensors", "SELECT count(score) FROM ae_score")
	run = startRun(t, brokers, influx.URL, "g-hook", "--config", cfgFile)
	if err := producer.Wait(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	waitStable(t, "ae_score points", scoreCount(influx))
	for deadline := time.Now().Add(30 * time.Second); queued(run)() > 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	run.stop(t)
	if failures == 0 {
		t.Error("no failed post counted while the receiver was down")
	}
	if before >= 3*(6000-31) {
		t.Fatalf("every point was written before the restart (%d): the test did not restart mid-stream", before)
	}
	mu.Lock()
	defer mu.Unlock()
	total := 0
	for _, file := range files {
		series := sensorcsv.SeriesName(file)
		want := evalAlertEvents(t, file)
		// Events at one sample come in the order of their kinds, which eval
		// and the service need not share: compare each kind's sequence.
		for _, kind := range []string{"anomaly", "drift", "quality"} {
			of := func(evs []alertEvent) []alertEvent {
				return slices.DeleteFunc(slices.Clone(evs), func(e alertEvent) bool { return e.Kind != kind })
			}
			if w, g := of(want), of(got[series]); !slices.Equal(w, g) {
				t.Errorf("%s %s: received %v, eval has %v", series, kind, g, w)
			}
		}
		total += len(want)
	}
	if total == 0 {
		t.Fatal("eval found no alert events: the test checks nothing")
	}
	t.Logf("%d alert events, each received once and in order, across a 10 s outage (%v failed posts) and a restart at %d points (%d events received by then)",
		total, failures, before, received)
}
