package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
	"unsafe"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	ihttp "github.com/influxdata/influxdb-client-go/v2/api/http"
	"github.com/prometheus/client_golang/prometheus"
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
}

// DefaultConfig returns the defaults (URL and bucket must be set to write).
func DefaultConfig() Config {
	return Config{Org: "aewatch", BatchSize: 5000, FlushInterval: 500 * time.Millisecond,
		Timeout: 10 * time.Second, MaxBackoff: 5 * time.Second}
}

// RedactedURL is URL fit for logs and errors: a password in it (user:pass@)
// shows as xxxxx, and a URL that does not parse loses what lies between
// its scheme and an @.
func (c Config) RedactedURL() string {
	if u, err := url.Parse(c.URL); err == nil {
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
	case c.BatchSize < 1 || c.BatchSize > 1_000_000:
		return fmt.Errorf("influx.batch_size: must be in [1, 1000000] (got %d)", c.BatchSize)
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
	b, err := os.ReadFile(c.TokenFile)
	if err != nil {
		return "", fmt.Errorf("influx.token_file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
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
		Dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "aewatch_points_rejected_by_influx_total", Help: "Points in batches InfluxDB refused as invalid (HTTP 400 or 422)."}),
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
	client := influxdb2.NewClientWithOptions(cfg.URL, tok, opts)
	return &Writer{cfg: cfg, client: client, api: client.WriteAPIBlocking(cfg.Org, cfg.Bucket),
		log: log, metrics: m, extra: extra, healthy: healthy}, nil
}

// Close releases the client.
func (w *Writer) Close() { w.client.Close() }

// WritePoints writes pts and returns once InfluxDB has acknowledged them.
// Failures are retried with backoff until ctx ends, except a batch that
// InfluxDB refuses as invalid (400, 422): it is logged, counted and not
// retried (InfluxDB keeps the valid points of such a batch).
func (w *Writer) WritePoints(ctx context.Context, pts []Point) error {
	if len(pts) == 0 {
		return nil
	}
	// One body for the whole batch, as WriteRecord would join it.
	var buf []byte
	if b, ok := w.bodies.Get().(*[]byte); ok {
		buf = (*b)[:0]
	} else {
		buf = make([]byte, 0, 256*len(pts))
	}
	for i := range pts {
		if i > 0 {
			buf = append(buf, '\n')
		}
		buf = AppendLine(buf, &pts[i], w.extra)
	}
	body := unsafe.String(unsafe.SliceData(buf), len(buf)) // buf is not changed while body is in use: no copy
	backoff := 50 * time.Millisecond
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			w.metrics.Retries.Inc()
		}
		start := time.Now()
		err := w.api.WriteRecord(ctx, body)
		if err == nil {
			w.metrics.Latency.Observe(time.Since(start).Seconds())
			w.metrics.Points.Add(float64(len(pts)))
			w.setHealthy(true)
			// Acknowledged, so InfluxDB has read the whole body: buf may be
			// reused. After a failure it is left to the collector, in case
			// a request still reads it.
			w.bodies.Put(&buf)
			return nil
		}
		w.metrics.Errors.Inc()
		if !retryable(err) {
			w.metrics.Dropped.Add(float64(len(pts)))
			w.log.Error("influx refused a batch; it is not retried", "points", len(pts), "err", err)
			return nil
		}
		w.setHealthy(false)
		w.log.Warn("influx write failed; retrying", "points", len(pts), "attempt", attempt+1, "backoff", backoff.String(), "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("sink: write %d points: %w (last error: %v)", len(pts), ctx.Err(), err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, w.cfg.MaxBackoff)
	}
}

func (w *Writer) setHealthy(ok bool) {
	if w.healthy != nil {
		w.healthy(ok)
	}
}

// retryable: everything but a refusal of the data itself. Connection
// errors, timeouts, 429 and 5xx pass; 401/403/404 (a token, a missing
// database or bucket) are fixed by an operator while aewatch waits, so
// they are retried too, never dropped. 400 and 422 say the points are
// invalid and will stay so.
func retryable(err error) bool {
	var he *ihttp.Error
	if errors.As(err, &he) {
		return he.StatusCode != 400 && he.StatusCode != 422
	}
	return true
}
