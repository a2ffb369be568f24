package main

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/aewatch/aewatch/config"
	"github.com/aewatch/aewatch/stream"
)

// TestRebaselineEndpoint checks the HTTP contract of POST /rebaseline on
// the service's own handler: 202 with JSON, 404 for a series never seen,
// 409 when drift is off, 503 when the queue is full, 400 for bad requests.
func TestRebaselineEndpoint(t *testing.T) {
	newSvc := func(drift bool) *service {
		cfg := config.Default()
		cfg.Detector.Drift.Enabled = drift
		return &service{cfg: cfg, log: slog.New(slog.NewTextHandler(io.Discard, nil)), rebaselines: stream.NewRebaselines()}
	}
	do := func(s *service, method, target string) (int, string) {
		rec := httptest.NewRecorder()
		s.handler().ServeHTTP(rec, httptest.NewRequest(method, target, nil))
		return rec.Code, rec.Body.String()
	}
	s := newSvc(true)
	if code, body := do(s, http.MethodPost, "/rebaseline?series=pump7&channel=temp&by=ops"); code != http.StatusNotFound ||
		!strings.Contains(body, `"pump7"`) {
		t.Errorf("POST for a series never seen: %d %s, want 404 naming it", code, body)
	}
	s.rebaselines.Seen("sensors", 0, "pump7")
	if code, body := do(s, http.MethodPost, "/rebaseline?series=pump7&channel=temp&by=ops"); code != http.StatusAccepted ||
		!strings.Contains(body, `"series":"pump7"`) {
		t.Errorf("POST: %d %s", code, body)
	}
	for _, c := range []struct {
		method, target string
		want           int
	}{
		{http.MethodGet, "/rebaseline?series=pump7", http.StatusMethodNotAllowed},
		{http.MethodPost, "/rebaseline", http.StatusBadRequest},
		{http.MethodPost, "/rebaseline?series=" + strings.Repeat("x", 2000), http.StatusBadRequest},
	} {
		if code, body := do(s, c.method, c.target); code != c.want {
			t.Errorf("%s %.40s: %d %s, want %d", c.method, c.target, code, body, c.want)
		}
	}
	if code, _ := do(newSvc(false), http.MethodPost, "/rebaseline?series=pump7"); code != http.StatusConflict {
		t.Errorf("drift disabled: %d, want 409", code)
	}
	full := newSvc(true)
	for i := 0; i < stream.MaxPendingRebaselines; i++ {
		full.rebaselines.Seen("sensors", 0, fmt.Sprintf("s%d", i))
		if _, err := full.rebaselines.Request(stream.RebaselineRequest{Series: fmt.Sprintf("s%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	full.rebaselines.Seen("sensors", 0, "one-more")
	if code, _ := do(full, http.MethodPost, "/rebaseline?series=one-more"); code != http.StatusServiceUnavailable {
		t.Errorf("queue full: %d, want 503", code)
	}
}

// TestHTTPAuth: with a token, every state-changing endpoint needs it (401
// and nothing queued without it or with a wrong one); reads stay open
// unless http.protect_reads; /debug/pprof is off unless http.pprof.
func TestHTTPAuth(t *testing.T) {
	newSvc := func(mut func(*config.HTTPConfig)) *service {
		cfg := config.Default()
		mut(&cfg.HTTP)
		s := &service{cfg: cfg, log: slog.New(slog.NewTextHandler(io.Discard, nil)), rebaselines: stream.NewRebaselines(),
			reg: prometheus.NewRegistry()}
		s.token, _ = cfg.HTTP.BearerToken()
		s.rebaselines.Seen("sensors", 0, "pump7")
		return s
	}
	do := func(s *service, method, target, token string) int {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(method, target, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		s.handler().ServeHTTP(rec, req)
		return rec.Code
	}
	s := newSvc(func(h *config.HTTPConfig) { h.Token = "s3cret-http" })
	for _, tok := range []string{"", "wrong", "s3cret-httpX"} {
		if code := do(s, http.MethodPost, "/rebaseline?series=pump7", tok); code != http.StatusUnauthorized {
			t.Errorf("POST /rebaseline with token %q: %d, want 401", tok, code)
		}
	}
	if code := do(s, http.MethodPost, "/rebaseline?series=pump7", "s3cret-http"); code != http.StatusAccepted {
		t.Errorf("POST /rebaseline with the token: %d, want 202", code)
	}
	for _, path := range []string{"/metrics", "/healthz", "/readyz"} {
		if code := do(s, http.MethodGet, path, ""); code == http.StatusUnauthorized {
			t.Errorf("GET %s without a token: 401, want open by default", path)
		}
	}
	if code := do(s, http.MethodGet, "/debug/pprof/", ""); code != http.StatusNotFound {
		t.Errorf("GET /debug/pprof/ by default: %d, want 404", code)
	}
	p := newSvc(func(h *config.HTTPConfig) { h.Token, h.ProtectReads, h.Pprof = "s3cret-http", true, true })
	if code := do(p, http.MethodGet, "/metrics", ""); code != http.StatusUnauthorized {
		t.Errorf("GET /metrics with protect_reads and no token: %d, want 401", code)
	}
	if code := do(p, http.MethodGet, "/debug/pprof/", "s3cret-http"); code != http.StatusOK {
		t.Errorf("GET /debug/pprof/ with http.pprof and the token: %d, want 200", code)
	}
}

// TestAPIRefusesUnknownParameters: a misspelt parameter is a 400 naming it,
// not a request carried out without it (a re-baseline or a verdict of the
// whole series where one channel was meant); a form body is read as the
// query is.
func TestAPIRefusesUnknownParameters(t *testing.T) {
	s := &service{cfg: config.Default(), log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		rebaselines: stream.NewRebaselines(), feedbacks: stream.NewFeedbacks(), silences: stream.NewSilences()}
	s.rebaselines.Seen("sensors", 0, "pump7")
	do := func(method, target, form string) (int, string) {
		var req *http.Request
		if form != "" {
			req = httptest.NewRequest(method, target, strings.NewReader(form))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			req = httptest.NewRequest(method, target, nil)
		}
		rec := httptest.NewRecorder()
		s.handler().ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	for _, c := range []struct{ method, target, form, want string }{
		{http.MethodPost, "/rebaseline?series=pump7&chanel=temp", "", `rebaseline: unknown parameter "chanel" (known: series, channel, by)`},
		{http.MethodPost, "/rebaseline", "series=pump7&chanel=temp", `unknown parameter "chanel"`},
		{http.MethodPost, "/feedback?series=pump7&at=2024-03-01T00:00:00Z&verdit=false_positive", "", `feedback: unknown parameter "verdit"`},
		{http.MethodPost, "/silence?series=pump7&until=2030-01-01T00:00:00Z", "", `silence: unknown parameter "until" (known: series, from, to, for, reason, by, id)`},
		// Left out, the pattern would silence every series.
		{http.MethodPost, "/silence?for=1h&reason=pump7+service", "", `silence: series: required, a pattern of series names such as pump-* (got none; series= with no pattern silences every series)`},
		{http.MethodDelete, "/silence?id=x&series=pump7", "", `silence: unknown parameter "series" (known: id)`},
	} {
		if code, body := do(c.method, c.target, c.form); code != http.StatusBadRequest || !strings.Contains(body, c.want) {
			t.Errorf("%s %s %s: %d %q, want 400 with %q", c.method, c.target, c.form, code, body, c.want)
		}
	}
	if n := len(s.silences.List()); n != 0 {
		t.Errorf("%d maintenance windows set by refused requests", n)
	}
	if code, body := do(http.MethodPost, "/rebaseline", "series=pump7&channel=temp"); code != http.StatusAccepted || !strings.Contains(body, `"channel":"temp"`) {
		t.Errorf("POST /rebaseline with a form body: %d %s, want 202 for channel temp", code, body)
	}
	if code, body := do(http.MethodPost, "/silence", "series=pump7&for=1h&by=ops"); code != http.StatusCreated || len(s.silences.List()) != 1 {
		t.Errorf("POST /silence with a form body: %d %s, want 201 and one window", code, body)
	}
	code, body := do(http.MethodPost, "/silence?series=&for=1h&by=ops", "")
	every := slices.IndexFunc(s.silences.List(), func(e stream.SilenceEntry) bool { return e.Matches("any-series") })
	if code != http.StatusCreated || len(s.silences.List()) != 2 || every < 0 {
		t.Errorf("POST /silence with series= asked for: %d %s, want 201 and a window on every series", code, body)
	}
}

// TestVerdictForAnUnseenSeries: without a feedback topic, a verdict is
// queued only for a series and channel this instance has seen: a
// misspelled name is a 404 naming it, not a verdict waiting a day for a
// sample that never comes.
func TestVerdictForAnUnseenSeries(t *testing.T) {
	s := &service{cfg: config.Default(), log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		rebaselines: stream.NewRebaselines(), feedbacks: stream.NewFeedbacks(), silences: stream.NewSilences()}
	s.rebaselines.Seen("sensors", 0, "pump7", "temp")
	for _, c := range []struct {
		query string
		code  int
		want  string
	}{
		{"series=pmup7", http.StatusNotFound, `series "pmup7": no sample of this series seen by this instance`},
		{"series=pump7&channel=tmep", http.StatusNotFound, `channel "tmep": no sample of this channel seen by this instance (its channels here: temp)`},
		{"series=pump7&channel=temp", http.StatusAccepted, "queued on this instance"},
		{"series=pump7", http.StatusAccepted, "queued on this instance"},
	} {
		rec := httptest.NewRecorder()
		s.handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/feedback?at=2024-03-01T00:00:00Z&verdict=false_positive&"+c.query, nil))
		if rec.Code != c.code || !strings.Contains(rec.Body.String(), c.want) {
			t.Errorf("POST /feedback?%s: %d %q, want %d with %q", c.query, rec.Code, rec.Body.String(), c.code, c.want)
		}
	}
}
