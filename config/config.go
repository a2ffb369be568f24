package config

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/aewatch/aewatch/alerting"
	"github.com/aewatch/aewatch/detector"
	"github.com/aewatch/aewatch/internal/creds"
	"github.com/aewatch/aewatch/sink"
	"github.com/aewatch/aewatch/stream"
)

// Config is the whole configuration file.
type Config struct {
	Detector   detector.Config         `yaml:"detector"`
	Kafka      stream.KafkaConfig      `yaml:"kafka"`
	Pipeline   stream.PipelineConfig   `yaml:"pipeline"`
	Influx     sink.Config             `yaml:"influx"`
	HTTP       HTTPConfig              `yaml:"http"`
	Checkpoint stream.CheckpointConfig `yaml:"checkpoint"`
	Alerting   alerting.Config         `yaml:"alerting"`
	Output     sink.OutputConfig       `yaml:"output"`
}

// HTTPConfig is the metrics and health endpoint.
type HTTPConfig struct {
	// Addr is host:port for /metrics, /healthz and /readyz; loopback by
	// default. Empty disables the endpoint.
	Addr string `yaml:"addr"`
	// Token is the bearer token every state-changing endpoint (POST
	// /rebaseline) requires. Prefer AEWATCH_HTTP_TOKEN or TokenFile.
	Token     string `yaml:"token"`
	TokenFile string `yaml:"token_file"`
	// ProtectReads requires the token of /metrics, /healthz and /readyz too.
	ProtectReads bool `yaml:"protect_reads"`
	// Pprof serves /debug/pprof (internals: keep it off where others reach
	// the port).
	Pprof bool          `yaml:"pprof"`
	TLS   HTTPTLSConfig `yaml:"tls"`
	// ReadHeaderTimeout closes a connection whose request headers have not
	// arrived in time (a slow or stalled client); IdleTimeout closes a
	// keep-alive connection with no request for that long.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	IdleTimeout       time.Duration `yaml:"idle_timeout"`
}

// HTTPTLSConfig serves the endpoint over TLS when both files are set.
type HTTPTLSConfig struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Check loads the certificate and key, when set, as serving them does.
func (c HTTPTLSConfig) Check() error {
	if c.CertFile == "" {
		return nil
	}
	if _, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile); err != nil {
		return fmt.Errorf("http.tls.cert_file, http.tls.key_file: %w", err)
	}
	return nil
}

// BearerToken returns the configured token (read from TokenFile if set),
// or "" when none is configured.
func (c HTTPConfig) BearerToken() (string, error) {
	if c.TokenFile == "" {
		return c.Token, nil
	}
	tok, err := creds.Secret("http.token_file", c.TokenFile)
	if err != nil {
		return "", err
	}
	if tok == "" {
		return "", fmt.Errorf("http.token_file: %s is empty", c.TokenFile)
	}
	return tok, nil
}

func (c HTTPConfig) validate() error {
	if c.Addr != "" {
		if _, _, err := net.SplitHostPort(c.Addr); err != nil {
			return fmt.Errorf("http.addr: want host:port (got %q)", c.Addr)
		}
	}
	switch {
	case c.Token != "" && c.TokenFile != "":
		return errors.New("http.token and http.token_file: set one, not both")
	case (c.TLS.CertFile == "") != (c.TLS.KeyFile == ""):
		return fmt.Errorf("http.tls.cert_file and http.tls.key_file: set both or neither (got %q and %q)", c.TLS.CertFile, c.TLS.KeyFile)
	case c.ProtectReads && c.Token == "" && c.TokenFile == "":
		return errors.New("http.protect_reads: needs a token (AEWATCH_HTTP_TOKEN or http.token_file)")
	case c.ReadHeaderTimeout < 100*time.Millisecond || c.ReadHeaderTimeout > time.Hour:
		return fmt.Errorf("http.read_header_timeout: must be in [100ms, 1h] (got %v)", c.ReadHeaderTimeout)
	case c.IdleTimeout < 100*time.Millisecond || c.IdleTimeout > 24*time.Hour:
		return fmt.Errorf("http.idle_timeout: must be in [100ms, 24h] (got %v)", c.IdleTimeout)
	}
	return nil
}

// Default returns the configuration used when no file is given.
func Default() Config {
	return Config{
		Detector:   detector.DefaultConfig(),
		Kafka:      stream.DefaultKafkaConfig(),
		Pipeline:   stream.DefaultPipelineConfig(),
		Influx:     sink.DefaultConfig(),
		HTTP:       HTTPConfig{Addr: "127.0.0.1:9464", ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute},
		Checkpoint: stream.DefaultCheckpointConfig(),
		Alerting:   alerting.DefaultConfig(),
	}
}

// Load reads a YAML file over the defaults, applies AEWATCH_* environment
// variables over it, and validates the result. Unknown keys are errors, so
// a typo never silently falls back to a default.
func Load(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	c, err := parse(b)
	if err != nil {
		return Config{}, fmt.Errorf("parsing %s: %w", path, err)
	}
	if err := c.FromEnv(os.Environ()); err != nil {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// LoadOrEnv is Load of path, or, with no path, the defaults with AEWATCH_*
// environment variables applied.
func LoadOrEnv(path string) (Config, error) {
	if path != "" {
		return Load(path)
	}
	c := Default()
	err := c.FromEnv(os.Environ())
	return c, err
}

// Parse decodes YAML over the defaults and validates the result.
func Parse(b []byte) (Config, error) {
	c, err := parse(b)
	if err != nil {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

func parse(b []byte) (Config, error) {
	c := Default()
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		// The decoder names Go types ("field windw not found in type
		// detector.Config"); the walk names the key path, the line and
		// what is wanted.
		if e := checkYAML(b); e != nil {
			return Config{}, e
		}
		return Config{}, err
	}
	return c, nil
}

// Validate checks every field; the detector is checked for univariate
// series (multivariate shapes are checked when the channel count is known).
func (c Config) Validate() error {
	if err := c.Detector.Validate(1); err != nil {
		return err
	}
	if err := c.Kafka.Validate(); err != nil {
		return err
	}
	if err := c.Pipeline.Validate(); err != nil {
		return err
	}
	if err := c.Influx.Validate(); err != nil {
		return err
	}
	if err := c.Checkpoint.Validate(); err != nil {
		return err
	}
	if err := c.Alerting.Validate(); err != nil {
		return err
	}
	if err := c.validateOutput(); err != nil {
		return err
	}
	// A member rejoins a rebalance only once its drain (bounded by the
	// shutdown timeout) is over; a rebalance that gives up on it sooner
	// hands its partitions on before their checkpoints are saved.
	if c.Kafka.RebalanceTimeout < c.Pipeline.ShutdownTimeout+5*time.Second {
		return fmt.Errorf("kafka.rebalance_timeout: must be at least pipeline.shutdown_timeout+5s = %v (got %v)",
			c.Pipeline.ShutdownTimeout+5*time.Second, c.Kafka.RebalanceTimeout)
	}
	return c.HTTP.validate()
}

// validateOutput checks that the optional outputs can be had from the
// detector configured.
func (c Config) validateOutput() error {
	if !c.Output.Latent {
		return nil
	}
	if k := c.Detector.Kind; k != detector.Autoencoder && k != detector.Frozen {
		return fmt.Errorf("output.latent: needs a network, detector.kind autoencoder or frozen (got %s)", k)
	}
	if m := c.Detector.Model; m.Bottleneck == "auto" && m.AutoMax > sink.MaxCode {
		return fmt.Errorf("output.latent: writes bottlenecks of at most %d units (got detector.model.auto_max %d)", sink.MaxCode, m.AutoMax)
	}
	m, key := c.Detector.Model, "hidden"
	if c.Pipeline.Multivariate && len(m.MultivariateHidden) > 0 {
		m, key = m.ForChannels(2), "multivariate_hidden"
	}
	if m.Bottleneck != "auto" && slices.Min(m.Hidden) > sink.MaxCode {
		return fmt.Errorf("output.latent: writes bottlenecks of at most %d units (got detector.model.%s %v)", sink.MaxCode, key, m.Hidden)
	}
	return nil
}
