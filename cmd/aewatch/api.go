package main

// The HTTP API of run and demo: metrics, health, readiness, pprof and the
// operator's re-baseline, maintenance windows and verdicts on alerts, behind
// the bearer token where configured.

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"slices"
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
	mux.Handle("/feedback", s.authorized(http.HandlerFunc(s.handleFeedback)))
	mux.Handle("/silence", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			read(s.listSilences).ServeHTTP(w, r)
			return
		}
		s.authorized(http.HandlerFunc(s.handleSilence)).ServeHTTP(w, r)
	}))
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

// params parses a request's parameters (the URL's, and a POST's form
// body) and refuses a name not in known: a misspelt channel would
// otherwise widen a re-baseline or a verdict to the whole series.
func params(r *http.Request, known ...string) (url.Values, error) {
	if err := r.ParseForm(); err != nil {
		return nil, fmt.Errorf("parameters: %w", err)
	}
	for _, k := range slices.Sorted(maps.Keys(r.Form)) {
		if !slices.Contains(known, k) {
			return nil, fmt.Errorf("unknown parameter %.60q (known: %s)", k, strings.Join(known, ", "))
		}
	}
	return r.Form, nil
}

// requester says who sent an operator's request: the by parameter, if
// given, and the client's address.
func requester(r *http.Request) string {
	if by := r.FormValue("by"); by != "" {
		return by + " via http " + r.RemoteAddr
	}
	return "http " + r.RemoteAddr
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
	q, err := params(r, "series", "channel", "by")
	if err != nil {
		http.Error(w, "rebaseline: "+err.Error(), http.StatusBadRequest)
		return
	}
	req := stream.RebaselineRequest{Series: q.Get("series"), Channel: q.Get("channel"),
		Source: requester(r), At: time.Now()}
	if _, err := s.rebaselines.Request(req); err != nil {
		code := http.StatusBadRequest
		switch {
		case errors.Is(err, stream.ErrTooManyRebaselines):
			code = http.StatusServiceUnavailable
		case errors.Is(err, stream.ErrUnknownSeries), errors.Is(err, stream.ErrUnknownChannel):
			code = http.StatusNotFound
		}
		http.Error(w, "rebaseline: "+err.Error(), code)
		return
	}
	s.log.Info("re-baseline requested", "series", req.Series, "channel", req.Channel, "source", req.Source)
	writeJSON(w, http.StatusAccepted, map[string]any{"series": req.Series, "channel": req.Channel,
		"status": "queued: applies at the series' next sample"})
}

// handleFeedback takes an operator's verdict on an anomaly alert:
// POST /feedback?series=S&at=TIME&verdict=false_positive|true_positive
// [&channel=C&by=NAME]. With kafka.feedback_topic the verdict is published
// there, for every instance; without, this instance queues it. It answers
// 202 with the verdict as JSON: the series' next sample applies it to the
// alert that covered TIME, logged and written to ae_feedback.
func (s *service) handleFeedback(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST /feedback?series=S&at=TIME&verdict=false_positive|true_positive[&channel=C]", http.StatusMethodNotAllowed)
		return
	}
	q, err := params(r, "series", "channel", "at", "verdict", "by")
	if err != nil {
		http.Error(w, "feedback: "+err.Error(), http.StatusBadRequest)
		return
	}
	req := stream.FeedbackRequest{Series: q.Get("series"), Channel: q.Get("channel"), Verdict: q.Get("verdict"),
		Source: requester(r), Given: time.Now()}
	at, err := time.Parse(time.RFC3339Nano, q.Get("at"))
	if err != nil {
		http.Error(w, fmt.Sprintf("feedback: at: not an RFC 3339 time such as 2024-03-01T08:00:00Z (got %q)", q.Get("at")), http.StatusBadRequest)
		return
	}
	req.At = at
	if err := req.Validate(); err != nil {
		http.Error(w, "feedback: "+err.Error(), http.StatusBadRequest)
		return
	}
	where := "queued on this instance"
	if s.feedbackTopic != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		if err := s.feedbackTopic.Publish(ctx, req); err != nil {
			http.Error(w, "feedback: publishing to kafka.feedback_topic: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		where = "published to " + s.feedbackTopic.Topic
	} else if err := s.rebaselines.Check(req.Series, req.Channel); err != nil {
		// Queued here, it would wait for a sample that never comes (a
		// misspelled name, or a series another instance owns).
		http.Error(w, "feedback: "+err.Error(), http.StatusNotFound)
		return
	} else if err := s.feedbacks.Add(req, req.Given); err != nil {
		code := http.StatusBadRequest
		if errors.Is(err, stream.ErrTooManyFeedback) {
			code = http.StatusServiceUnavailable
		}
		http.Error(w, "feedback: "+err.Error(), code)
		return
	}
	s.log.Info("verdict received", "series", req.Series, "channel", req.Channel, "at", req.At.Format(time.RFC3339Nano),
		"verdict", req.Verdict, "source", req.Source)
	writeJSON(w, http.StatusAccepted, map[string]any{"feedback": req, "status": where + ": applies at the series' next sample"})
}

// handleSilence sets or lifts a maintenance window:
// POST /silence?series=PATTERN&from=T&to=T (or &for=DURATION from now)
// [&reason=R&by=NAME&id=ID] answers 201 with the window as JSON;
// DELETE /silence?id=ID lifts one. The window is stored in the checkpoint
// topic, where every instance reads it back at its next restart or
// rebalance; a running instance knows only the windows sent to it, so send
// each to every instance (aewatch silence does).
func (s *service) handleSilence(w http.ResponseWriter, r *http.Request) {
	var known []string
	switch r.Method {
	case http.MethodPost:
		known = []string{"series", "from", "to", "for", "reason", "by", "id"}
	case http.MethodDelete:
		known = []string{"id"}
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		http.Error(w, "use POST /silence?series=PATTERN&from=T&to=T (or &for=2h), GET /silence, DELETE /silence?id=ID", http.StatusMethodNotAllowed)
		return
	}
	q, err := params(r, known...)
	if err != nil {
		http.Error(w, "silence: "+err.Error(), http.StatusBadRequest)
		return
	}
	if r.Method == http.MethodDelete {
		id := q.Get("id")
		if !s.silences.Remove(id) {
			http.Error(w, fmt.Sprintf("silence: id %q: no such maintenance window", id), http.StatusNotFound)
			return
		}
		stored := s.storeSilence(r, id, nil)
		s.log.Info("maintenance window lifted", "id", id, "source", "http "+r.RemoteAddr)
		writeJSON(w, http.StatusOK, map[string]any{"id": id, "status": "lifted", "stored": stored})
		return
	}
	now := time.Now().UTC()
	if !q.Has("series") {
		// Left out, the pattern would be every series: a window that
		// silences the whole plant must be asked for, not forgotten.
		http.Error(w, "silence: series: required, a pattern of series names such as pump-* (got none; series= with no pattern silences every series)", http.StatusBadRequest)
		return
	}
	e := stream.SilenceEntry{ID: q.Get("id"), By: q.Get("by"), Created: now}
	e.Series, e.From, e.To, e.Reason = q.Get("series"), q.Get("from"), q.Get("to"), q.Get("reason")
	if e.ID == "" {
		e.ID = stream.NewSilenceID()
	}
	if e.By == "" {
		e.By = "http " + r.RemoteAddr
	}
	if d := q.Get("for"); d != "" {
		dur, err := time.ParseDuration(d)
		if err != nil || dur <= 0 || e.To != "" {
			http.Error(w, fmt.Sprintf("silence: for: a positive duration such as 2h, instead of to (got %q, to %q)", d, e.To), http.StatusBadRequest)
			return
		}
		if e.From == "" {
			e.From = now.Format(time.RFC3339Nano)
		}
		if from, err := time.Parse(time.RFC3339Nano, e.From); err == nil {
			e.To = from.Add(dur).Format(time.RFC3339Nano)
		} // else Add names the bad from
	}
	if err := s.silences.Add(e, now); err != nil {
		code := http.StatusBadRequest
		if errors.Is(err, stream.ErrTooManySilences) {
			code = http.StatusServiceUnavailable
		}
		http.Error(w, "silence: "+err.Error(), code)
		return
	}
	stored := s.storeSilence(r, e.ID, &e)
	s.log.Info("maintenance window set", "id", e.ID, "series", e.Series, "from", e.From, "to", e.To, "reason", e.Reason, "by", e.By)
	writeJSON(w, http.StatusCreated, map[string]any{"silence": e, "stored": stored})
}

// storeSilence writes a window (nil: lifted) to the checkpoint topic and
// says whether it is stored there.
func (s *service) storeSilence(r *http.Request, id string, e *stream.SilenceEntry) bool {
	if s.ckpt == nil {
		return false
	}
	if err := s.ckpt.SaveSilence(r.Context(), id, e); err != nil {
		s.log.Warn("a maintenance window could not be stored in the checkpoint topic; it holds on this instance until it restarts", "id", id, "err", err)
		return false
	}
	return true
}

// listSilences answers GET /silence: the maintenance windows set at run
// time and in the configuration, with whether each is on now.
func (s *service) listSilences(w http.ResponseWriter, _ *http.Request) {
	type item struct {
		stream.SilenceEntry
		Source string `json:"source"` // "api" or "config"
		Active bool   `json:"active"`
	}
	now := time.Now().UnixNano()
	var out []item
	for _, e := range s.silences.List() {
		win, _ := e.Window()
		out = append(out, item{e, "api", now >= win.From && now < win.To})
	}
	for _, c := range s.cfg.Detector.Silences {
		win, _ := c.Window()
		out = append(out, item{stream.SilenceEntry{Silence: c}, "config", now >= win.From && now < win.To})
	}
	writeJSON(w, http.StatusOK, map[string]any{"silences": out})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
