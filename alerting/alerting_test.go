package alerting

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/aewatch/aewatch/sink"
)

// receiver is a webhook endpoint that answers 503 while down.
type receiver struct {
	srv  *httptest.Server
	down atomic.Bool
	mu   sync.Mutex
	got  []Alert
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.down.Load() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		var batch []Alert
		if err := json.NewDecoder(req.Body).Decode(&batch); err != nil || req.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad alerts", http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.got = append(r.got, batch...)
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) alerts() []Alert {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Alert(nil), r.got...)
}

func alertPoint(series, channel, kind, event string, at int64) sink.Point {
	p := sink.Point{Measurement: sink.AlertMeasurement, Series: series, Channel: channel, Kind: kind, Event: event,
		Time: at, Share: 0.8, Departure: -3.5, Statistic: "level", Score: 0.9,
		Tags: []sink.Tag{{Key: "site", Value: "north"}, {Key: "series", Value: "not this one"}}}
	if event == "closed" {
		p.Duration, p.Peak = 60, 1
	}
	return p
}

// events: for each of 3 series, 4 alerts of alternating kinds, each
// opened then closed a minute later; interleaved across series.
func events() []sink.Point {
	var pts []sink.Point
	base := int64(1_700_000_000) * 1e9
	for k := range 4 {
		kind := []string{"anomaly", "drift"}[k%2]
		for s := range 3 {
			at := base + int64(k*600+s)*1e9
			pts = append(pts, alertPoint(fmt.Sprintf("pump%d", s), "flow", kind, "opened", at))
		}
		for s := range 3 {
			at := base + int64(k*600+s+60)*1e9
			pts = append(pts, alertPoint(fmt.Sprintf("pump%d", s), "flow", kind, "closed", at))
		}
	}
	return append(pts, sink.Point{Measurement: sink.RebaselineMeasurement, Series: "pump0", Channel: "flow"})
}

func waitFor(t *testing.T, what string, within time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWebhooksGetEveryEventOnceInOrder: one receiver takes every kind and
// is down for two seconds while the events come; another takes drift
// only. Each gets every event of its kinds exactly once, each series' in
// order, as Alertmanager alerts (labels, explanation, startsAt, endsAt once
// closed); the failures while down are counted; rebaselines are not alerts.
func TestWebhooksGetEveryEventOnceInOrder(t *testing.T) {
	all, drift := newReceiver(t), newReceiver(t)
	all.down.Store(true)
	cfg := DefaultConfig()
	cfg.GeneratorURL = "http://grafana.example/d/aewatch"
	cfg.Webhooks = []Webhook{{URL: all.srv.URL + "/api/v2/alerts"}, {URL: drift.srv.URL, Kinds: []string{"drift"}}}
	reg := prometheus.NewRegistry()
	n, err := New(cfg, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { n.Run(ctx, nil); close(done) }()
	pts := events()
	for _, p := range pts {
		n.Observe(p)
	}
	time.Sleep(2 * time.Second)
	all.down.Store(false)
	waitFor(t, "every event at the receiver of all kinds", 30*time.Second, func() bool { return len(all.alerts()) >= 24 })
	waitFor(t, "the drift events at the drift receiver", 10*time.Second, func() bool { return len(drift.alerts()) >= 12 })
	time.Sleep(200 * time.Millisecond) // nothing more may come
	got, gotDrift := all.alerts(), drift.alerts()
	if len(got) != 24 || len(gotDrift) != 12 {
		t.Fatalf("%d and %d alerts received, want 24 and 12", len(got), len(gotDrift))
	}
	for i, a := range got {
		p := pts[i]
		closed := p.Event == "closed"
		if a.Labels["series"] != p.Series || a.Labels["kind"] != p.Kind || a.Labels["channel"] != "flow" ||
			a.Labels["alertname"] != "aewatch_"+p.Kind || a.Labels["site"] != "north" || (a.EndsAt != nil) != closed {
			t.Fatalf("alert %d: %+v, want the %s %s of %s in order", i, a, p.Kind, p.Event, p.Series)
		}
		want := time.Unix(0, p.Time).UTC()
		if closed {
			want = want.Add(-time.Minute)
		}
		if !a.StartsAt.Equal(want) || a.GeneratorURL != cfg.GeneratorURL || !strings.Contains(a.Annotations["description"], "level -3.5") {
			t.Fatalf("alert %d: startsAt %v (want %v), generatorURL %q, description %q", i, a.StartsAt, want, a.GeneratorURL, a.Annotations["description"])
		}
	}
	for _, a := range gotDrift {
		if a.Labels["kind"] != "drift" {
			t.Fatalf("the drift receiver got a %s alert", a.Labels["kind"])
		}
	}
	if f := testutil.ToFloat64(n.hooks[0].failed); f == 0 {
		t.Error("no failure counted while the receiver was down")
	}
	if s := testutil.ToFloat64(n.hooks[0].sent); s != 24 {
		t.Errorf("%v sent counted, want 24", s)
	}
	cancel()
	<-done
}

// TestFullQueueDropsOldest: with the receiver down and room for 3, the
// oldest events go (counted) and Observe does not block; the rest arrive
// once it is back, and Run returns once drained.
func TestFullQueueDropsOldest(t *testing.T) {
	r := newReceiver(t)
	r.down.Store(true)
	cfg := DefaultConfig()
	cfg.QueueSize = 3
	cfg.Webhooks = []Webhook{{URL: r.srv.URL}}
	n, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	pts := events()[:5]
	start := time.Now()
	for _, p := range pts {
		n.Observe(p)
	}
	if time.Since(start) > time.Second {
		t.Fatal("Observe blocked")
	}
	if d := testutil.ToFloat64(n.hooks[0].dropped); d != 2 {
		t.Fatalf("%v dropped, want 2", d)
	}
	drained := make(chan struct{})
	close(drained)
	r.down.Store(false)
	done := make(chan struct{})
	go func() { n.Run(context.Background(), drained); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return once drained")
	}
	got := r.alerts()
	if len(got) != 3 || got[0].Labels["series"] != pts[2].Series || n.Queued() != 0 {
		t.Fatalf("received %d (first %v), queued %d: want the newest 3", len(got), got[0].Labels, n.Queued())
	}
}

func TestConfigErrorsNameFieldAndValue(t *testing.T) {
	for _, c := range []struct {
		mut  func(*Config)
		want string
	}{
		{func(c *Config) { c.Webhooks = []Webhook{{URL: "ftp://x"}} }, `alerting.webhooks[0].url: must be an http or https URL (got "ftp://x")`},
		{func(c *Config) { c.Webhooks = []Webhook{{URL: "http://x", Kinds: []string{"fire"}}} }, `alerting.webhooks[0].kinds: must be among anomaly, drift, quality (got "fire")`},
		{func(c *Config) { c.QueueSize = 0 }, `alerting.queue_size: must be in [1, 16777216] (got 0)`},
		{func(c *Config) { c.Timeout = time.Millisecond }, `alerting.timeout: must be >= 100ms (got 1ms)`},
		{func(c *Config) { c.GeneratorURL = "grafana" }, `alerting.generator_url: must be an absolute URL (got "grafana")`},
	} {
		cfg := DefaultConfig()
		c.mut(&cfg)
		if err := cfg.Validate(); err == nil || err.Error() != c.want {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
}

// TestDropDuringPostLosesNothingElse: events dropped from a full queue
// while a batch is being posted do not take the events queued after them
// with the batch.
func TestDropDuringPostLosesNothingElse(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var got []string
	first := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var batch []Alert
		json.NewDecoder(req.Body).Decode(&batch)
		mu.Lock()
		wait := first
		first = false
		mu.Unlock()
		if wait {
			<-release // the first post hangs while the queue overflows
		}
		mu.Lock()
		for _, a := range batch {
			got = append(got, a.Labels["series"])
		}
		mu.Unlock()
	}))
	defer srv.Close()
	cfg := DefaultConfig()
	cfg.QueueSize = 2
	cfg.Webhooks = []Webhook{{URL: srv.URL}}
	n, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go n.Run(ctx, nil)
	n.Observe(alertPoint("a", "x", "anomaly", "opened", 1e9))
	n.Observe(alertPoint("b", "x", "anomaly", "opened", 2e9))
	waitFor(t, "the first post", 10*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return !first })
	n.Observe(alertPoint("c", "x", "anomaly", "opened", 3e9)) // drops a (being posted)
	n.Observe(alertPoint("d", "x", "anomaly", "opened", 4e9)) // drops b (being posted)
	close(release)
	waitFor(t, "c and d", 10*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= 4 })
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(got, "") != "abcd" {
		t.Fatalf("received %v, want a b (the batch in flight) then c d", got)
	}
}
