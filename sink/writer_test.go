package sink

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// InfluxDB answers 429 and 503 only under load; a stand-in server gives
// those answers on demand. Everything else is tested against a real influxd
// (cmd/aewatch integration tests).
func TestWriteRetriesThenSucceeds(t *testing.T) {
	var calls atomic.Int32
	var body atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1:
			w.WriteHeader(http.StatusTooManyRequests)
		case 2:
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			b := new(strings.Builder)
			buf := make([]byte, 1<<16)
			n, _ := r.Body.Read(buf)
			b.Write(buf[:n])
			body.Store(b.String())
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer srv.Close()
	cfg := DefaultConfig()
	cfg.URL, cfg.Bucket, cfg.MaxBackoff = srv.URL, "db/rp", 20*time.Millisecond
	m := NewMetrics(nil)
	var healthy []bool
	w, err := New(cfg, []Tag{{Key: "run", Value: "r1"}}, nil, m, func(ok bool) { healthy = append(healthy, ok) })
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	err = w.WritePoints(context.Background(), []Point{{Series: "s", Channel: "c", Time: 1, Value: 2, Score: 0.5, Threshold: 0.5}})
	if err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 3 || testutil.ToFloat64(m.Retries) != 2 || testutil.ToFloat64(m.Points) != 1 {
		t.Fatalf("calls %d, retries %v, points %v: want 3, 2, 1", calls.Load(), testutil.ToFloat64(m.Retries), testutil.ToFloat64(m.Points))
	}
	if got := body.Load().(string); !strings.Contains(got, "run=r1,series=s") {
		t.Fatalf("body %q lacks the extra tag", got)
	}
	if len(healthy) != 3 || healthy[0] || healthy[1] || !healthy[2] {
		t.Fatalf("health reports %v, want [false false true]", healthy)
	}
}

func TestWriteGivesUpOnlyWithContext(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound) // a missing database: an operator fixes it; keep trying
	}))
	defer srv.Close()
	cfg := DefaultConfig()
	cfg.URL, cfg.Bucket, cfg.MaxBackoff = srv.URL, "db/rp", 10*time.Millisecond
	w, _ := New(cfg, nil, nil, nil, nil)
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := w.WritePoints(ctx, []Point{{Series: "s", Channel: "c", Time: 1}})
	if err == nil || !strings.Contains(err.Error(), "context deadline exceeded") {
		t.Fatalf("got %v, want the context's error", err)
	}
}

func TestInvalidBatchIsNotRetried(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusBadRequest)
	}))
	defer srv.Close()
	cfg := DefaultConfig()
	cfg.URL, cfg.Bucket = srv.URL, "db/rp"
	m := NewMetrics(nil)
	w, _ := New(cfg, nil, nil, m, nil)
	defer w.Close()
	if err := w.WritePoints(context.Background(), []Point{{Series: "s", Channel: "c", Time: 1}}); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 1 || testutil.ToFloat64(m.Dropped) != 1 {
		t.Fatalf("calls %d, dropped %v: want 1, 1", calls.Load(), testutil.ToFloat64(m.Dropped))
	}
}

// TestEnsureBucket2x: InfluxDB 2.x cannot be run here; a stand-in answers
// its buckets and organizations API as 2.x does: the bucket is looked up,
// then created in the organization influx.org names.
func TestEnsureBucket2x(t *testing.T) {
	var created atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/api/v2/buckets":
			w.Write([]byte(`{"buckets":[]}`))
		case r.Method == http.MethodGet && r.URL.Path == "/api/v2/orgs":
			w.Write([]byte(`{"orgs":[{"id":"0123456789abcdef","name":"plant"}]}`))
		case r.Method == http.MethodPost && r.URL.Path == "/api/v2/buckets":
			b := new(strings.Builder)
			buf := make([]byte, 4096)
			n, _ := r.Body.Read(buf)
			b.Write(buf[:n])
			created.Store(b.String())
			w.WriteHeader(http.StatusCreated)
			w.Write([]byte(`{"id":"aaaaaaaaaaaaaaaa","name":"sensors","orgID":"0123456789abcdef","retentionRules":[]}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	cfg := DefaultConfig()
	cfg.URL, cfg.Bucket, cfg.Org = srv.URL, "sensors", "plant"
	w, err := New(cfg, nil, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	made, err := w.EnsureBucket(context.Background())
	body, _ := created.Load().(string)
	if err != nil || !made || !strings.Contains(body, `"name":"sensors"`) || !strings.Contains(body, "0123456789abcdef") {
		t.Fatalf("EnsureBucket: created %v, err %v, request %q", made, err, body)
	}
}
