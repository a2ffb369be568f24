package sink

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	ihttp "github.com/influxdata/influxdb-client-go/v2/api/http"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/aewatch/aewatch/internal/creds"
	"github.com/aewatch/aewatch/internal/lograte"
)

// Config sets where and how points are written.
type Config struct {
	URL string `yaml:"url"`
	// Token authenticates (InfluxDB 2.x token, or "user:password" for 1.8).
	// Prefer TokenFile or the AEWATCH_INFLUX_TOKEN environment variable.
	Token     string `yaml:"token"`
	TokenFile string `yaml:"token_file"`
	Org       string `yaml:"org"`
	// Bucket is a 2.x bucket, or "database/retention-policy" for 1.8.
	Bucket        string        `yaml:"bucket"`
	BatchSize     int           `yaml:"batch_size"`
	FlushInterval time.Duration `yaml:"flush_interval"`
	Timeout       time.Duration `yaml:"timeout"`
	MaxBackoff    time.Duration `yaml:"max_backoff"`
	// MaxBodyBytes bounds one write request's body; a batch over it goes
	// as several requests. InfluxDB refuses bodies over its max-body-size
	// (25 MB by default) with HTTP 413.
	MaxBodyBytes int `yaml:"max_body_bytes"`
	// CreateBucket creates the bucket (2.x) or the database (1.8, bucket
	// "database/retention-policy") at start if it does not exist.
	CreateBucket bool      `yaml:"create_bucket"`
	TLS          TLSConfig `yaml:"tls"`
}

// TLSConfig sets how an https:// InfluxDB is trusted; certificates are
// always verified unless InsecureSkipVerify.
type TLSConfig struct {
	// CAFile is a PEM bundle of the CAs to trust (default: the system's).
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are a client certificate (mutual TLS).
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// tlsConfig builds the client's TLS settings (nil when none are set).
func (c TLSConfig) tlsConfig() (*tls.Config, error) {
	if c == (TLSConfig{}) {
		return nil, nil
	}
	return creds.ClientTLS("influx.tls", creds.TLSFiles{CAFile: c.CAFile, CertFile: c.CertFile, KeyFile: c.KeyFile,
		InsecureSkipVerify: c.InsecureSkipVerify})
}

// DefaultConfig returns the defaults (URL and bucket must be set to write).
func DefaultConfig() Config {
	return Config{Org: "aewatch", BatchSize: 5000, FlushInterval: 500 * time.Millisecond,
		Timeout: 10 * time.Second, MaxBackoff: 5 * time.Second, MaxBodyBytes: 4 << 20}
}

// RedactedURL is URL fit for logs and errors: a password in it (user:pass@)
// shows as xxxxx, and a URL that does not parse loses what lies between
// its scheme and an @.
func (c Config) RedactedURL() string {
	if u, err := url.Parse(c.URL); err == nil {
		if _, secret := u.User.Password(); !secret {
			return c.URL // as written: Redacted would re-escape it
		}
		return u.Redacted()
	}
	if at := strings.LastIndexByte(c.URL, '@'); at >= 0 {
		scheme, _, _ := strings.Cut(c.URL, "://")
		return scheme + "://xxxxx" + c.URL[at:]
	}
	return c.URL
}

// Validate names the first invalid field and its value. An empty URL is
// valid: it means "no InfluxDB".
func (c Config) Validate() error {
	if c.URL != "" {
		u, err := url.Parse(c.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("influx.url: want http(s)://host:port (got %q)", c.RedactedURL())
		}
		if c.Bucket == "" {
			return fmt.Errorf("influx.bucket: required with influx.url (got %q)", c.Bucket)
		}
	}
	switch {
	case c.Token != "" && c.TokenFile != "":
		return errors.New("influx.token and influx.token_file: set one, not both")
	case (c.TLS.CertFile == "") != (c.TLS.KeyFile == ""):
		return fmt.Errorf("influx.tls.cert_file and influx.tls.key_file: set both or neither (got %q and %q)", c.TLS.CertFile, c.TLS.KeyFile)
	case c.BatchSize < 1 || c.BatchSize > 1_000_000:
		return fmt.Errorf("influx.batch_size: must be in [1, 1000000] (got %d)", c.BatchSize)
	case c.MaxBodyBytes < 1024 || c.MaxBodyBytes > 1<<30:
		return fmt.Errorf("influx.max_body_bytes: must be in [1024, 1073741824] (got %d)", c.MaxBodyBytes)
	case c.FlushInterval <= 0:
		return fmt.Errorf("influx.flush_interval: must be > 0 (got %v)", c.FlushInterval)
	case c.Timeout <= 0:
		return fmt.Errorf("influx.timeout: must be > 0 (got %v)", c.Timeout)
	case c.MaxBackoff < 10*time.Millisecond:
		return fmt.Errorf("influx.max_backoff: must be >= 10ms (got %v)", c.MaxBackoff)
	}
	return nil
}

// token returns the configured secret, reading TokenFile if set.
func (c Config) token() (string, error) {
	if c.TokenFile == "" {
		return c.Token, nil
	}
	return creds.Secret("influx.token_file", c.TokenFile)
}

// CheckFiles reads the files the configuration names (the token, the TLS
// certificates and key), as New does, without connecting.
func (c Config) CheckFiles() error {
	_, tokErr := c.token()
	_, tlsErr := c.TLS.tlsConfig()
	return errors.Join(tokErr, tlsErr)
}

// Metrics counts what a Writer does.
type Metrics struct {
	Points  prometheus.Counter
	Errors  prometheus.Counter
	Retries prometheus.Counter
	Dropped prometheus.Counter
	Latency prometheus.Histogram
}

// NewMetrics registers the writer's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Points:  prometheus.NewCounter(prometheus.CounterOpts{Name: "aewatch_points_written_total", Help: "Points acknowledged by InfluxDB."}),
		Errors:  prometheus.NewCounter(prometheus.CounterOpts{Name: "aewatch_write_errors_total", Help: "Failed write attempts."}),
		Retries: prometheus.NewCounter(prometheus.CounterOpts{Name: "aewatch_write_retries_total", Help: "Write attempts that were retries."}),
		Dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "aewatch_points_rejected_by_influx_total", Help: "Points InfluxDB refused (HTTP 400, 413 or 422), each isolated by splitting its batch, and dropped."}),
		Latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "aewatch_write_seconds", Help: "Duration of successful batch writes.", Buckets: prometheus.DefBuckets}),
	}
	if reg != nil {
		reg.MustRegister(m.Points, m.Errors, m.Retries, m.Dropped, m.Latency)
	}
	return m
}

// Writer writes batches of points to InfluxDB.
type Writer struct {
	cfg     Config
	client  influxdb2.Client
	api     api.WriteAPIBlocking
	log     *slog.Logger
	metrics *Metrics
	extra   []Tag
	healthy func(bool)
	bodies  sync.Pool // of *[]byte: write bodies, reused after acknowledged writes
	failing failures
	refused func(ctx context.Context, p *Point, line string, err error)
	// refusedLog bounds the log of refused points.
	refusedLog lograte.Limiter
	http       *http.Client // for requests the InfluxDB client does not make
}

// OnRefused sets f to receive each point InfluxDB refuses (after the
// batch was split down to it), with its line and InfluxDB's answer: for
// a dead-letter topic. Call before the first write.
func (w *Writer) OnRefused(f func(ctx context.Context, p *Point, line string, err error)) {
	w.refused = f
}

// New returns a Writer (it connects lazily). extra tags go on every point.
// healthy, if set, is told whether the last write attempt succeeded.
func New(cfg Config, extra []Tag, log *slog.Logger, m *Metrics, healthy func(bool)) (*Writer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.URL == "" {
		return nil, errors.New("influx.url: required to write (got \"\")")
	}
	tok, err := cfg.token()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	opts := influxdb2.DefaultOptions().SetPrecision(time.Nanosecond).
		SetHTTPRequestTimeout(uint(cfg.Timeout / time.Second)).SetMaxRetries(0)
	tlsCfg, err := cfg.TLS.tlsConfig()
	if err != nil {
		return nil, err
	}
	httpClient := &http.Client{Timeout: cfg.Timeout}
	if tlsCfg != nil {
		opts.SetTLSConfig(tlsCfg)
		httpClient.Transport = &http.Transport{TLSClientConfig: tlsCfg}
	}
	client := influxdb2.NewClientWithOptions(cfg.URL, tok, opts)
	return &Writer{cfg: cfg, client: client, api: client.WriteAPIBlocking(cfg.Org, cfg.Bucket),
		log: log, metrics: m, extra: extra, healthy: healthy, refusedLog: lograte.Limiter{Period: logEvery}, http: httpClient}, nil
}

// EnsureBucket creates the bucket (2.x) or database (1.8: bucket
// "database/retention-policy") if it is missing; created says whether it
// did.
func (w *Writer) EnsureBucket(ctx context.Context) (created bool, err error) {
	if db, _, ok := strings.Cut(w.cfg.Bucket, "/"); ok {
		// InfluxDB 1.8, whose CREATE DATABASE does not say whether the
		// database was new: SHOW DATABASES first.
		var shown struct {
			Results []struct{ Series []struct{ Values [][]any } }
		}
		if err := w.query18(ctx, "SHOW DATABASES", &shown); err != nil {
			return false, err
		}
		for _, r := range shown.Results {
			for _, sr := range r.Series {
				for _, v := range sr.Values {
					if len(v) > 0 && v[0] == db {
						return false, nil
					}
				}
			}
		}
		if err := w.query18(ctx, "CREATE DATABASE "+strconv.Quote(db), nil); err != nil {
			return false, err
		}
		return true, nil
	}
	buckets := w.client.BucketsAPI()
	if _, err := buckets.FindBucketByName(ctx, w.cfg.Bucket); err == nil {
		return false, nil
	}
	org, err := w.client.OrganizationsAPI().FindOrganizationByName(ctx, w.cfg.Org)
	if err != nil {
		if w.lacksV2API(ctx) {
			return false, fmt.Errorf("influx.create_bucket: %s has no InfluxDB 2.x API (no /api/v2/orgs): on InfluxDB 1.8, influx.bucket is \"database/retention-policy\" (%q for the default policy), not %q",
				w.cfg.URL, w.cfg.Bucket+"/autogen", w.cfg.Bucket)
		}
		return false, fmt.Errorf("influx.create_bucket: organization %q (influx.org): %w", w.cfg.Org, err)
	}
	if _, err := buckets.CreateBucketWithName(ctx, org, w.cfg.Bucket); err != nil {
		return false, fmt.Errorf("influx.create_bucket: bucket %q: %w", w.cfg.Bucket, err)
	}
	return true, nil
}

// ErrNotInflux marks a URL whose server answered /ping, but not as InfluxDB
// does: the address of another service (Grafana, a proxy's page).
var ErrNotInflux = errors.New("not InfluxDB")

// Probe asks the server's /ping, which InfluxDB 1.8 and 2.x answer with
// their version in X-Influxdb-Version, and returns that version. Its error
// says the server could not be reached (it may be down for now) or, as
// ErrNotInflux, that it answered otherwise.
func (w *Writer) Probe(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	status, header, err := w.get(ctx, "/ping")
	if err != nil {
		return "", fmt.Errorf("influx.url: %s: %w", w.cfg.RedactedURL(), err)
	}
	v := header.Get("X-Influxdb-Version")
	if v == "" {
		return "", fmt.Errorf("influx.url: %s answered /ping with HTTP %d (%s) and no X-Influxdb-Version: %w (the address of another service?)",
			w.cfg.RedactedURL(), status, header.Get("Content-Type"), ErrNotInflux)
	}
	return v, nil
}

// lacksV2API reports whether the server has no /api/v2/orgs at all (a
// plain 404, as InfluxDB 1.x answers), rather than no such organization
// (a 404 in JSON, as 2.x answers).
func (w *Writer) lacksV2API(ctx context.Context) bool {
	status, header, err := w.get(ctx, "/api/v2/orgs?limit=1")
	return err == nil && status == http.StatusNotFound && !strings.Contains(header.Get("Content-Type"), "json")
}

// get asks the server for path, whose body it does not need.
func (w *Writer) get(ctx context.Context, path string) (int, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(w.cfg.URL, "/")+path, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := w.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header, nil
}

// query18 runs an InfluxQL statement on InfluxDB 1.8 (the token is
// "user:password" when authentication is on) and decodes its answer into
// out, if not nil.
func (w *Writer) query18(ctx context.Context, statement string, out any) error {
	tok, err := w.cfg.token()
	if err != nil {
		return err
	}
	q := url.Values{"q": {statement}}
	if user, pass, ok := strings.Cut(tok, ":"); ok {
		q.Set("u", user)
		q.Set("p", pass)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(w.cfg.URL, "/")+"/query", strings.NewReader(q.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := w.http.Do(req)
	if err != nil {
		return fmt.Errorf("influx.create_bucket: %s: %w", statement, err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 || strings.Contains(string(body), `"error"`) {
		return fmt.Errorf("influx.create_bucket: %s: HTTP %d: %.500s", statement, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			return fmt.Errorf("influx.create_bucket: %s: the answer is not InfluxDB's JSON: %w", statement, err)
		}
	}
	return nil
}

// Close releases the client.
func (w *Writer) Close() { w.client.Close() }

// WritePoints writes pts and returns once InfluxDB has acknowledged them,
// in requests of at most MaxBodyBytes. Failures are retried with backoff
// until ctx ends. A request InfluxDB refuses for its content (400, 422) or
// size (413) is split in halves until the points it refuses stand alone;
// those are counted, logged and dropped, so one bad line never holds back
// or takes down the others.
func (w *Writer) WritePoints(ctx context.Context, pts []Point) error {
	if len(pts) == 0 {
		return nil
	}
	// One body for the whole batch, as WriteRecord would join it; ends[i]
	// is where point i's line ends.
	var buf []byte
	if b, ok := w.bodies.Get().(*[]byte); ok {
		buf = (*b)[:0]
	} else {
		buf = make([]byte, 0, 256*len(pts))
	}
	ends := make([]int, len(pts))
	for i := range pts {
		if i > 0 {
			buf = append(buf, '\n')
		}
		buf = AppendLine(buf, &pts[i], w.extra)
		ends[i] = len(buf)
	}
	b := body{buf: buf, ends: ends, pts: pts}
	for from := 0; from < len(pts); {
		to := b.fit(from, w.cfg.MaxBodyBytes)
		if err := w.write(ctx, b, from, to); err != nil {
			return err
		}
		from = to
	}
	// Acknowledged, so InfluxDB has read the whole body: buf may be reused.
	// After a failure it is left to the collector, in case a request still
	// reads it.
	w.bodies.Put(&buf)
	return nil
}

// body is a batch's line protocol, where each point's line ends, and the
// points.
type body struct {
	buf  []byte
	ends []int
	pts  []Point
}

// lines returns the lines of points [from, to) without a trailing newline.
func (b body) lines(from, to int) string {
	start := 0
	if from > 0 {
		start = b.ends[from-1] + 1
	}
	s := b.buf[start:b.ends[to-1]]
	return unsafe.String(unsafe.SliceData(s), len(s)) // buf is not changed while in use: no copy
}

// fit returns the end of the longest run of points from `from` whose lines
// take at most limit bytes (at least one point).
func (b body) fit(from, limit int) int {
	start := 0
	if from > 0 {
		start = b.ends[from-1] + 1
	}
	to := from + 1
	for to < len(b.ends) && b.ends[to]-start <= limit {
		to++
	}
	return to
}

// write sends points [from, to) of b until InfluxDB takes them or ctx ends.
func (w *Writer) write(ctx context.Context, b body, from, to int) error {
	backoff := 50 * time.Millisecond
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			w.metrics.Retries.Inc()
		}
		start := time.Now()
		err := w.api.WriteRecord(ctx, b.lines(from, to))
		if err == nil {
			w.metrics.Latency.Observe(time.Since(start).Seconds())
			w.metrics.Points.Add(float64(to - from))
			w.setHealthy(true)
			w.failing.recovered(w.log)
			return nil
		}
		if ctx.Err() != nil { // our own stop cut the request short: it says nothing about InfluxDB
			return fmt.Errorf("sink: write %d points: %w (last error: %v)", to-from, ctx.Err(), err)
		}
		w.metrics.Errors.Inc()
		if status := statusOf(err); status == 400 || status == 422 || status == 413 {
			if to-from == 1 {
				w.metrics.Dropped.Inc()
				if ok, held := w.refusedLog.Allow(); ok {
					w.log.Error("influx refused a point; it is dropped", "status", status, "line", truncate(b.lines(from, to), 300),
						"refused_since_last_line", held, "err", err)
				}
				if w.refused != nil {
					w.refused(ctx, &b.pts[from], strings.Clone(b.lines(from, to)), err)
				}
				return nil
			}
			// Isolate what InfluxDB refuses: the halves go on their own.
			mid := from + (to-from)/2
			if err := w.write(ctx, b, from, mid); err != nil {
				return err
			}
			return w.write(ctx, b, mid, to)
		}
		w.setHealthy(false)
		w.failing.failed(w.log, err, to-from, attempt+1, backoff)
		select {
		case <-ctx.Done():
			return fmt.Errorf("sink: write %d points: %w (last error: %v)", to-from, ctx.Err(), err)
		case <-time.After(jitter(backoff)):
		}
		backoff = min(2*backoff, w.cfg.MaxBackoff)
	}
}

// LastError is InfluxDB's answer to the last failed write while writes
// fail, or "" once one succeeds.
func (w *Writer) LastError() string { return w.failing.last() }

// statusOf returns the HTTP status of an InfluxDB error, or 0.
func statusOf(err error) int {
	var he *ihttp.Error
	if errors.As(err, &he) {
		return he.StatusCode
	}
	return 0
}

// jitter spreads d over [0.75d, 1.25d], so that instances retrying after
// one outage do not all come back at once.
func jitter(d time.Duration) time.Duration {
	return d*3/4 + time.Duration(rand.Int64N(int64(d)/2+1))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// failures logs a streak of failed writes: the first at once with
// InfluxDB's answer, then one line per logEvery with the count since.
// 401, 403 and 404 (a token, rights, a missing database or bucket) need an
// operator and are logged as errors; the rest as warnings.
type failures struct {
	mu      sync.Mutex
	streak  int
	since   time.Time
	logged  time.Time
	lastErr string
}

const logEvery = 30 * time.Second

func (f *failures) failed(log *slog.Logger, err error, points, attempt int, backoff time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	f.lastErr = err.Error()
	if f.streak == 0 {
		f.since = now
	}
	f.streak++
	if f.streak > 1 && now.Sub(f.logged) < logEvery {
		return
	}
	f.logged = now
	level, msg := slog.LevelWarn, "influx write failed; retrying"
	switch statusOf(err) {
	case 401, 403:
		level, msg = slog.LevelError, "influx refuses the credentials (influx.token); retrying until they are fixed"
	case 404:
		level, msg = slog.LevelError, "influx has no such database or bucket (influx.bucket); retrying until it exists"
	}
	log.Log(context.Background(), level, msg, "points", points, "attempt", attempt, "failures", f.streak,
		"failing_for", now.Sub(f.since).Round(time.Millisecond).String(), "backoff", backoff.String(), "err", err)
}

func (f *failures) recovered(log *slog.Logger) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.streak > 0 {
		log.Info("influx writes succeed again", "failures", f.streak, "failed_for", time.Since(f.since).Round(time.Millisecond).String())
	}
	f.streak, f.lastErr = 0, ""
}

func (f *failures) last() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastErr
}

func (w *Writer) setHealthy(ok bool) {
	if w.healthy != nil {
		w.healthy(ok)
	}
}
