package main

// The HTTP API of run and demo: metrics, health, readiness, pprof and the
// operator's re-baseline, behind the bearer token where configured.

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/aewatch/aewatch/stream"
)

// handler routes the service's endpoints.
func (s *service) handler() http.Handler {
	mux := http.NewServeMux()
	read := func(h http.HandlerFunc) http.Handler {
		if s.cfg.HTTP.ProtectReads {
			return s.authorized(h)
		}
		return h
	}
	mux.Handle("/metrics", read(promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}).ServeHTTP))
	if s.cfg.HTTP.Pprof { // internals: off unless asked for
		mux.Handle("/debug/pprof/", read(pprof.Index))
		mux.Handle("/debug/pprof/profile", read(pprof.Profile))
		mux.Handle("/debug/pprof/trace", read(pprof.Trace))
	}
	mux.Handle("/healthz", read(func(w http.ResponseWriter, _ *http.Request) {
		if after := s.cfg.Pipeline.StallTimeout; after > 0 {
			if stalled, pending, idle := s.progress.Stalled(time.Now(), after); stalled {
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprintf(w, "stuck: %d samples fetched and waiting, nothing written for %v (pipeline.stall_timeout %v)\n",
					pending, idle.Round(time.Second), after)
				return
			}
		}
		fmt.Fprintln(w, "ok")
	}))
	mux.Handle("/readyz", read(func(w http.ResponseWriter, _ *http.Request) {
		var bad []string
		if !s.kafkaOK.Load() {
			msg := "kafka unreachable"
			if e, _ := s.clientErr.Load().(string); strings.Contains(e, "Authorization Failed") {
				msg = "kafka refused access"
			}
			if e, _ := s.kafkaErr.Load().(string); e != "" {
				msg += " (" + e + ")"
			}
			if e, _ := s.clientErr.Load().(string); e != "" {
				msg += "; last client error: " + e
			}
			bad = append(bad, msg)
		}
		if !s.sinkOK.Load() {
			msg := "influxdb writes failing"
			if s.writeError != nil {
				if e := s.writeError(); e != "" {
					msg += " (" + e + ")"
				}
			}
			bad = append(bad, msg)
		}
		if len(bad) > 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "degraded: "+strings.Join(bad, ", "))
			return
		}
		fmt.Fprintln(w, "ready")
	}))
	mux.Handle("/rebaseline", s.authorized(http.HandlerFunc(s.handleRebaseline)))
	return mux
}

// isLoopback reports whether host names this machine only.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// authorized lets a request through h only with the configured bearer
// token (compared in constant time); without a configured token, all pass.
func (s *service) authorized(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.token != "" {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(s.token)) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="aewatch"`)
				http.Error(w, "missing or wrong bearer token (see http.token_file, AEWATCH_HTTP_TOKEN)", http.StatusUnauthorized)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// handleRebaseline takes an operator's request to accept a series' current
// behaviour as its new normal: POST /rebaseline?series=S[&channel=C]. It
// answers 202 with JSON once the request is queued (the series' next
// sample applies it, logged and written to ae_rebaseline), 404 for a series
// this instance has not seen.
func (s *service) handleRebaseline(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST /rebaseline?series=S[&channel=C]", http.StatusMethodNotAllowed)
		return
	}
	if !s.cfg.Detector.Drift.Enabled {
		http.Error(w, "detector.drift.enabled is false: there is no drift reference to re-baseline", http.StatusConflict)
		return
	}
	req := stream.RebaselineRequest{Series: r.URL.Query().Get("series"), Channel: r.URL.Query().Get("channel"),
		Source: "http " + r.RemoteAddr, At: time.Now()}
	if by := r.URL.Query().Get("by"); by != "" {
		req.Source = by + " via http " + r.RemoteAddr
	}
	if _, err := s.rebaselines.Request(req); err != nil {
		code := http.StatusBadRequest
		switch {
		case errors.Is(err, stream.ErrTooManyRebaselines):
			code = http.StatusServiceUnavailable
		case errors.Is(err, stream.ErrUnknownSeries):
			code = http.StatusNotFound
		}
		http.Error(w, "rebaseline: "+err.Error(), code)
		return
	}
	s.log.Info("re-baseline requested", "series", req.Series, "channel", req.Channel, "source", req.Source)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	json.NewEncoder(w).Encode(map[string]any{"series": req.Series, "channel": req.Channel,
		"status": "queued: applies at the series' next sample"})
}
