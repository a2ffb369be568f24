package main

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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
	s.rebaselines.Seen("pump7")
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
		full.rebaselines.Seen(fmt.Sprintf("s%d", i))
		if _, err := full.rebaselines.Request(stream.RebaselineRequest{Series: fmt.Sprintf("s%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	full.rebaselines.Seen("one-more")
	if code, _ := do(full, http.MethodPost, "/rebaseline?series=one-more"); code != http.StatusServiceUnavailable {
		t.Errorf("queue full: %d, want 503", code)
	}
}
