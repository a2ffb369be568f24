// Package alerting owns the routing of alert events to webhooks: every
// ae_alert point, once written to InfluxDB, becomes an alert in
// Alertmanager's JSON (labels alertname, series, channel and kind, the
// input's own tags; annotations the explanation; startsAt, and endsAt once
// it closed; a generatorURL when configured), posted to each webhook that
// takes its kind.
//
// Each webhook has its own bounded queue and one goroutine posting it in
// arrival order, a batch at a time, retrying with exponential backoff and
// jitter until the receiver takes it: the events of a series arrive in
// order, and an outage of the receiver delays them without losing them
// while the queue has room. Observe never blocks the pipeline: with the
// queue full the oldest event is dropped, counted and logged. Events still
// queued when the process stops are logged as undelivered (the queue is
// not persisted).
//
// Concurrency: Observe and Queued are safe for concurrent use; Run starts
// one goroutine per webhook and returns when all have stopped.
package alerting

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/aewatch/aewatch/detector"
	"github.com/aewatch/aewatch/internal/lograte"
	"github.com/aewatch/aewatch/sink"
)

// Config routes alerts to webhooks.
type Config struct {
	Webhooks []Webhook `yaml:"webhooks"`
	// GeneratorURL, if set, is every alert's generatorURL: a link to the
	// dashboard that shows the series.
	GeneratorURL string `yaml:"generator_url"`
	// QueueSize bounds the events waiting for each webhook.
	QueueSize int `yaml:"queue_size"`
	// Timeout bounds one POST.
	Timeout time.Duration `yaml:"timeout"`
}

// Webhook is one receiver: Alertmanager's /api/v2/alerts, or any endpoint
// that takes the same JSON.
type Webhook struct {
	URL string `yaml:"url"`
	// Kinds it takes: anomaly, drift, quality; empty takes every kind.
	Kinds []string `yaml:"kinds"`
}

// DefaultConfig routes nowhere.
func DefaultConfig() Config {
	return Config{Webhooks: []Webhook{}, QueueSize: 10000, Timeout: 10 * time.Second}
}

var kinds = []string{"anomaly", "drift", "quality"}

// Validate names the first invalid field and its value.
func (c Config) Validate() error {
	if c.QueueSize < 1 || c.QueueSize > 1<<24 {
		return fmt.Errorf("alerting.queue_size: must be in [1, 16777216] (got %d)", c.QueueSize)
	}
	if c.Timeout < 100*time.Millisecond {
		return fmt.Errorf("alerting.timeout: must be >= 100ms (got %v)", c.Timeout)
	}
	if c.GeneratorURL != "" {
		if u, err := url.Parse(c.GeneratorURL); err != nil || u.Scheme == "" || u.Host == "" {
			return fmt.Errorf("alerting.generator_url: must be an absolute URL (got %q)", c.GeneratorURL)
		}
	}
	for i, w := range c.Webhooks {
		u, err := url.Parse(w.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("alerting.webhooks[%d].url: must be an http or https URL (got %q)", i, w.URL)
		}
		for _, k := range w.Kinds {
			if !slices.Contains(kinds, k) {
				return fmt.Errorf("alerting.webhooks[%d].kinds: must be among anomaly, drift, quality (got %q)", i, k)
			}
		}
	}
	return nil
}

// Alert is one alert in Alertmanager's API v2 form.
type Alert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       *time.Time        `json:"endsAt,omitempty"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Notifier routes alert events to the webhooks.
type Notifier struct {
	cfg   Config
	log   *slog.Logger
	hooks []*hook
	cli   *http.Client
}

type hook struct {
	url   string
	kinds []string
	limit int

	mu    sync.Mutex
	queue []Alert
	first uint64        // sequence number of queue[0]: a batch in flight may lose its head to a drop
	wake  chan struct{} // capacity 1: something was queued

	sent, failed, dropped prometheus.Counter
	queued                prometheus.Gauge
	failLog, dropLog      lograte.Limiter
}

// New builds a notifier; its metrics go to reg (nil: not registered).
func New(cfg Config, log *slog.Logger, reg prometheus.Registerer) (*Notifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &Notifier{cfg: cfg, log: log, cli: &http.Client{Timeout: cfg.Timeout}}
	sent := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aewatch_webhook_alerts_sent_total",
		Help: "Alert events a webhook accepted."}, []string{"webhook"})
	failed := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aewatch_webhook_failures_total",
		Help: "Posts to a webhook that failed (each is retried)."}, []string{"webhook"})
	dropped := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aewatch_webhook_alerts_dropped_total",
		Help: "Alert events dropped because a webhook's queue was full."}, []string{"webhook"})
	queued := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "aewatch_webhook_queue",
		Help: "Alert events waiting for a webhook."}, []string{"webhook"})
	if reg != nil {
		for _, c := range []prometheus.Collector{sent, failed, dropped, queued} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	for i, w := range cfg.Webhooks {
		name := strconv.Itoa(i) // a URL may carry credentials: metrics name webhooks by position
		n.hooks = append(n.hooks, &hook{url: w.URL, kinds: w.Kinds, limit: cfg.QueueSize, wake: make(chan struct{}, 1),
			sent: sent.WithLabelValues(name), failed: failed.WithLabelValues(name), dropped: dropped.WithLabelValues(name),
			queued: queued.WithLabelValues(name), failLog: lograte.Limiter{Period: 10 * time.Second}, dropLog: lograte.Limiter{Period: 10 * time.Second}})
	}
	return n, nil
}

// AlertOf is the Alertmanager alert of an ae_alert point.
func AlertOf(p sink.Point, generatorURL string) Alert {
	at := time.Unix(0, p.Time).UTC()
	a := Alert{Labels: map[string]string{"alertname": "aewatch_" + p.Kind, "series": p.Series, "channel": p.Channel, "kind": p.Kind},
		StartsAt: at, GeneratorURL: generatorURL}
	for _, t := range p.Tags {
		if _, taken := a.Labels[t.Key]; !taken {
			a.Labels[t.Key] = t.Value
		}
	}
	what := p.Statistic
	if what == "" {
		what = "value"
	}
	summary := fmt.Sprintf("%s %s on %s/%s", p.Kind, p.Event, p.Series, p.Channel)
	a.Annotations = map[string]string{
		"summary":     summary,
		"description": fmt.Sprintf("%s: %s %+.4g from normal, %.0f%% of the evidence", summary, what, p.Departure, 100*p.Share),
		"score":       strconv.FormatFloat(p.Score, 'g', 4, 64),
	}
	if what == detector.StatisticExtreme {
		a.Annotations["description"] = fmt.Sprintf("%s: value %+.4g beyond its running range, %.0f%% of the evidence", summary, p.Departure, 100*p.Share)
	}
	if p.Tolerated != 0 {
		a.Annotations["feedback"] = fmt.Sprintf("beyond the %+.4g from its level that %d false-positive verdicts taught to tolerate", p.Tolerated, p.Verdicts)
	}
	if p.Event == "closed" {
		a.StartsAt = at.Add(-time.Duration(p.Duration * float64(time.Second)))
		a.EndsAt = &at
		a.Annotations["peak"] = strconv.FormatFloat(p.Peak, 'g', 4, 64)
		if p.Reason != "" {
			a.Annotations["closed_by"] = p.Reason
		}
	}
	return a
}

// Observe queues an alert point for every webhook that takes its kind;
// other points are ignored. It never blocks.
func (n *Notifier) Observe(p sink.Point) {
	if p.Measurement != sink.AlertMeasurement {
		return
	}
	var a *Alert
	for _, h := range n.hooks {
		if len(h.kinds) > 0 && !slices.Contains(h.kinds, p.Kind) {
			continue
		}
		if a == nil {
			al := AlertOf(p, n.cfg.GeneratorURL)
			a = &al
		}
		h.push(*a, n.log)
	}
}

func (h *hook) push(a Alert, log *slog.Logger) {
	h.mu.Lock()
	if len(h.queue) >= h.limit {
		h.queue = h.queue[1:]
		h.first++
		h.dropped.Inc()
		if ok, held := h.dropLog.Allow(); ok && log != nil {
			log.Warn("webhook queue full: the oldest alert event was dropped; the receiver is down or too slow",
				"webhook", redact(h.url), "queue_size", h.limit, "dropped_since_last_line", held+1)
		}
	}
	h.queue = append(h.queue, a)
	h.queued.Set(float64(len(h.queue)))
	h.mu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// Queued is how many events wait, over all webhooks.
func (n *Notifier) Queued() int {
	total := 0
	for _, h := range n.hooks {
		h.mu.Lock()
		total += len(h.queue)
		h.mu.Unlock()
	}
	return total
}

// Run posts until ctx ends; drained, if closed first, has it return as
// soon as every queue is empty.
func (n *Notifier) Run(ctx context.Context, drained <-chan struct{}) {
	var wg sync.WaitGroup
	for _, h := range n.hooks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.loop(ctx, h, drained)
		}()
	}
	wg.Wait()
	if q := n.Queued(); q > 0 && n.log != nil {
		n.log.Warn("alert events not delivered to webhooks at stop", "events", q)
	}
}

// maxBatch bounds the alerts of one post.
const maxBatch = 64

func (n *Notifier) loop(ctx context.Context, h *hook, drained <-chan struct{}) {
	backoff := 100 * time.Millisecond
	for {
		h.mu.Lock()
		batch := slices.Clone(h.queue[:min(len(h.queue), maxBatch)])
		end := h.first + uint64(len(batch)) // one past the batch's last event
		h.mu.Unlock()
		if len(batch) == 0 {
			select {
			case <-h.wake:
			case <-drained:
				return
			case <-ctx.Done():
				return
			}
			continue
		}
		err := n.post(ctx, h.url, batch)
		if err == nil {
			h.mu.Lock()
			// Drops while it was posted took events from the head: only
			// what is left of the batch goes.
			n := int(min(uint64(len(h.queue)), end-min(end, h.first)))
			h.queue, h.first = h.queue[n:], h.first+uint64(n)
			h.queued.Set(float64(len(h.queue)))
			h.mu.Unlock()
			h.sent.Add(float64(len(batch)))
			backoff = 100 * time.Millisecond
			continue
		}
		h.failed.Inc()
		if ok, held := h.failLog.Allow(); ok && n.log != nil {
			n.log.Warn("webhook post failed; retrying", "webhook", redact(h.url), "alerts", len(batch), "err", err,
				"retry_in", backoff.String(), "failures_since_last_line", held+1)
		}
		wait := backoff/2 + rand.N(backoff/2+1) // jitter: receivers coming back are not hit in step
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

func (n *Notifier) post(ctx context.Context, u string, batch []Alert) error {
	body, err := json.Marshal(batch)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := n.cli.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// redact drops a URL's user information, which may hold a password.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User = nil
	return u.String()
}
