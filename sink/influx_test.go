package sink

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/aewatch/aewatch/internal/testsvc"
)

func realWriter(t *testing.T, in *testsvc.Influx, bucket string, maxBody int) (*Writer, *Metrics, *bytes.Buffer) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.URL, cfg.Bucket, cfg.MaxBackoff = in.URL, bucket, 50*time.Millisecond
	if maxBody > 0 {
		cfg.MaxBodyBytes = maxBody
	}
	m := NewMetrics(nil)
	logs := &bytes.Buffer{}
	w, err := New(cfg, nil, slog.New(slog.NewTextHandler(logs, nil)), m, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return w, m, logs
}

func points(n int, tag string) []Point {
	pts := make([]Point, n)
	for i := range pts {
		pts[i] = Point{Series: "s", Channel: "c", Time: int64(i+1) * 1e9, Value: float64(i), Score: 0.1, Threshold: 0.5,
			Tags: []Tag{{Key: "note", Value: tag}}}
	}
	return pts
}

// TestBodyLimitAndTooLarge against a real influxd whose max-body-size is
// 64 KB: a batch of about 500 KB goes as requests of at most
// influx.max_body_bytes; with that bound above the server's, the 413 splits
// the batch until it fits; a single point over the limit is dropped and
// counted, and the rest are written.
func TestBodyLimitAndTooLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("needs influxd")
	}
	in := testsvc.StartInfluxWithBodyLimit(t, "db", 64<<10)
	pts := points(2000, strings.Repeat("x", 200))
	w, m, _ := realWriter(t, in, "db/autogen", 32<<10)
	if err := w.WritePoints(context.Background(), pts); err != nil {
		t.Fatal(err)
	}
	if got := in.Count("db", "SELECT count(score) FROM ae_score"); got != len(pts) || testutil.ToFloat64(m.Errors) != 0 {
		t.Fatalf("bounded bodies: %d points stored, %v errors; want %d, 0", got, testutil.ToFloat64(m.Errors), len(pts))
	}

	in.Exec("CREATE DATABASE db2")
	w, m, logs := realWriter(t, in, "db2/autogen", 1<<30) // the server's limit, not ours, decides
	huge := Point{Series: "s", Channel: "c", Time: 5000e9, Score: 0.1, Tags: []Tag{{Key: "note", Value: strings.Repeat("y", 100<<10)}}}
	batch := append(points(1000, strings.Repeat("x", 200)), huge)
	if err := w.WritePoints(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	got := in.Count("db2", "SELECT count(score) FROM ae_score")
	if got != 1000 || testutil.ToFloat64(m.Dropped) != 1 {
		t.Fatalf("after 413s: %d points stored, %v dropped; want 1000, 1", got, testutil.ToFloat64(m.Dropped))
	}
	if !strings.Contains(logs.String(), "status=413") {
		t.Errorf("the dropped point is not logged with its status:\n%.2000s", logs)
	}
	t.Logf("1001 points with one over the server's limit: %v refused requests on the way", testutil.ToFloat64(m.Errors))
}

// TestBadLineIsIsolated: InfluxDB refuses a line (400; 1.8 keeps the rest
// of the batch, 2.x drops it all): the batch is split until the bad point
// stands alone, every good point is stored and one point is counted.
func TestBadLineIsIsolated(t *testing.T) {
	if testing.Short() {
		t.Skip("needs influxd")
	}
	in := testsvc.StartInflux(t, "db")
	w, m, _ := realWriter(t, in, "db/autogen", 0)
	batch := points(1000, "ok")
	batch[517].Series = `bad\` // escapes the separator after it: unparsable
	if err := w.WritePoints(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if got := in.Count("db", "SELECT count(score) FROM ae_score"); got != 999 || testutil.ToFloat64(m.Dropped) != 1 || testutil.ToFloat64(m.Points) != 999 {
		t.Fatalf("%d points stored, %v dropped, %v counted written; want 999, 1, 999", got, testutil.ToFloat64(m.Dropped), testutil.ToFloat64(m.Points))
	}
}

// TestMissingDatabaseIsSaid: writes to a database that does not exist are
// retried (an operator creates it), logged at once as an error with
// InfluxDB's answer and then at a bounded rate, and LastError carries it.
func TestMissingDatabaseIsSaid(t *testing.T) {
	if testing.Short() {
		t.Skip("needs influxd")
	}
	in := testsvc.StartInflux(t, "db")
	w, m, logs := realWriter(t, in, "nodb/autogen", 0)
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	if err := w.WritePoints(ctx, points(10, "ok")); err == nil {
		t.Fatal("a write to a missing database succeeded")
	}
	lines := strings.Count(logs.String(), "no such database")
	if lines != 1 || !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "database not found") {
		t.Errorf("want one ERROR line naming the missing database with InfluxDB's answer, got %d:\n%s", lines, logs)
	}
	if got := w.LastError(); !strings.Contains(got, "database not found") {
		t.Errorf("LastError() = %q, want InfluxDB's answer", got)
	}
	if n := testutil.ToFloat64(m.Errors); n < 3 {
		t.Errorf("%v attempts in 1.5 s, want retries", n)
	}
	in.Exec("CREATE DATABASE nodb")
	if err := w.WritePoints(context.Background(), points(10, "ok")); err != nil || w.LastError() != "" {
		t.Errorf("after the database exists: %v, LastError %q", err, w.LastError())
	}
}

// TestEnsureBucket18 against a real InfluxDB 1.8: influx.create_bucket
// creates the database of bucket "database/retention-policy", says so the
// first time only, and points written then land in it.
func TestEnsureBucket18(t *testing.T) {
	if testing.Short() {
		t.Skip("needs influxd")
	}
	in := testsvc.StartInflux(t, "db")
	w, _, _ := realWriter(t, in, "fresh/autogen", 0)
	if created, err := w.EnsureBucket(context.Background()); err != nil || !created {
		t.Fatalf("a missing database: created %v, err %v", created, err)
	}
	if created, err := w.EnsureBucket(context.Background()); err != nil || created {
		t.Fatalf("a second call on an existing database: created %v, err %v", created, err)
	}
	if err := w.WritePoints(context.Background(), points(5, "ok")); err != nil {
		t.Fatal(err)
	}
	if got := in.Count("fresh", "SELECT count(score) FROM ae_score"); got != 5 {
		t.Fatalf("%d points in the created database, want 5", got)
	}
	// A 2.x bucket's name on 1.8: the error says what 1.8 wants.
	w2, _, _ := realWriter(t, in, "other", 0)
	if _, err := w2.EnsureBucket(context.Background()); err == nil || !strings.Contains(err.Error(), `"other/autogen"`) {
		t.Fatalf("bucket \"other\" on InfluxDB 1.8: err %v, want one naming \"other/autogen\"", err)
	}
}

// TestInfluxOverTLS: influxd behind a TLS-terminating proxy whose
// certificate a CA made here signed. With influx.tls.ca_file the writes go
// through; without it (the system's CAs) they are refused as untrusted,
// and the error says so.
func TestInfluxOverTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("needs influxd")
	}
	in := testsvc.StartInflux(t, "db")
	target, _ := url.Parse(in.URL)
	caFile, certFile, keyFile := testsvc.WriteCert(t, t.TempDir())
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(target))
	proxy.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	proxy.StartTLS()
	defer proxy.Close()
	cfg := DefaultConfig()
	cfg.URL, cfg.Bucket, cfg.MaxBackoff = proxy.URL, "db/autogen", 50*time.Millisecond
	cfg.TLS.CAFile = caFile
	w, err := New(cfg, nil, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.WritePoints(context.Background(), points(5, "ok")); err != nil {
		t.Fatalf("write over TLS with the CA: %v", err)
	}
	if got := in.Count("db", "SELECT count(score) FROM ae_score"); got != 5 {
		t.Fatalf("%d points written over TLS, want 5", got)
	}
	cfg.TLS.CAFile = ""
	untrusting, _ := New(cfg, nil, nil, nil, nil)
	defer untrusting.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := untrusting.WritePoints(ctx, points(5, "ok")); err == nil || !strings.Contains(untrusting.LastError(), "certificate") {
		t.Errorf("write to an untrusted certificate: %v (last error %q), want a certificate error", err, untrusting.LastError())
	}
}

// TestProbe: a real InfluxDB 1.8 answers the probe with its version; a web
// server that is not InfluxDB is ErrNotInflux, naming what it answered; an
// address nothing listens on is an error, but not ErrNotInflux.
func TestProbe(t *testing.T) {
	if testing.Short() {
		t.Skip("needs influxd")
	}
	in := testsvc.StartInflux(t, "db")
	w, _, _ := realWriter(t, in, "db/autogen", 0)
	if v, err := w.Probe(context.Background()); err != nil || v == "" {
		t.Fatalf("InfluxDB 1.8: version %q, err %v", v, err)
	}
	web := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "text/html")
		rw.Write([]byte("<html>Grafana</html>"))
	}))
	defer web.Close()
	for _, c := range []struct {
		url     string
		notOurs bool
	}{{web.URL, true}, {"http://" + testsvc.FreeAddr(t), false}} {
		cfg := DefaultConfig()
		cfg.URL, cfg.Bucket = c.url, "db/autogen"
		w, err := New(cfg, nil, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = w.Probe(context.Background())
		w.Close()
		if err == nil || errors.Is(err, ErrNotInflux) != c.notOurs || !strings.Contains(err.Error(), c.url) {
			t.Errorf("%s: err %v, want one naming the URL, ErrNotInflux %v", c.url, err, c.notOurs)
		}
		if c.notOurs && !strings.Contains(err.Error(), "HTTP 200 (text/html)") {
			t.Errorf("%s: err %v, want it to say what answered", c.url, err)
		}
	}
}
