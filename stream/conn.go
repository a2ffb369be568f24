package stream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/aewatch/aewatch/internal/creds"
)

// KafkaTLSConfig secures the connections to the brokers.
type KafkaTLSConfig struct {
	Enabled bool `yaml:"enabled"`
	// CAFile is a PEM bundle of the CAs that sign the brokers'
	// certificates (default: the system's).
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are a client certificate (mutual TLS).
	CertFile   string `yaml:"cert_file"`
	KeyFile    string `yaml:"key_file"`
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify accepts any certificate (logged as a warning).
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// KafkaSASLConfig authenticates to the brokers.
type KafkaSASLConfig struct {
	// Mechanism is "" (none), plain, scram-sha-256 or scram-sha-512.
	Mechanism string `yaml:"mechanism"`
	Username  string `yaml:"username"`
	// Password: prefer AEWATCH_KAFKA_SASL_PASSWORD or PasswordFile; it is
	// never logged.
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
}

func (c KafkaTLSConfig) validate() error {
	switch {
	case !c.Enabled && (c.CAFile != "" || c.CertFile != "" || c.KeyFile != "" || c.ServerName != "" || c.InsecureSkipVerify):
		return errors.New("kafka.tls: set kafka.tls.enabled: true to use its other keys")
	case (c.CertFile == "") != (c.KeyFile == ""):
		return fmt.Errorf("kafka.tls.cert_file and kafka.tls.key_file: set both or neither (got %q and %q)", c.CertFile, c.KeyFile)
	}
	return nil
}

func (c KafkaSASLConfig) validate() error {
	switch c.Mechanism {
	case "":
		if c.Username != "" || c.Password != "" || c.PasswordFile != "" {
			return errors.New("kafka.sasl.mechanism: required with a username or password (plain, scram-sha-256 or scram-sha-512)")
		}
		return nil
	case "plain", "scram-sha-256", "scram-sha-512":
	default:
		return fmt.Errorf("kafka.sasl.mechanism: must be plain, scram-sha-256 or scram-sha-512 (got %q)", c.Mechanism)
	}
	switch {
	case c.Username == "":
		return fmt.Errorf("kafka.sasl.username: required with mechanism %s", c.Mechanism)
	case c.Password != "" && c.PasswordFile != "":
		return errors.New("kafka.sasl.password and kafka.sasl.password_file: set one, not both")
	case c.Password == "" && c.PasswordFile == "":
		return errors.New("kafka.sasl.password: required (AEWATCH_KAFKA_SASL_PASSWORD or kafka.sasl.password_file)")
	}
	return nil
}

// Conn is how every Kafka client aewatch creates connects: the brokers,
// and TLS and SASL when configured. Safe for concurrent use.
type Conn struct {
	Brokers   []string
	dialer    *kafka.Dialer
	transport *kafka.Transport
	// Insecure says that certificates are not verified (for a warning).
	Insecure bool
	// MaxWait is how long a fetch of the input waits for data
	// (kafka.max_wait).
	MaxWait time.Duration
	// slowestAnswer is the slowest broker answer CheckBrokers saw, in ns.
	slowestAnswer atomic.Int64
}

// PlainConn connects to brokers without TLS or SASL (the embedded broker).
func PlainConn(brokers []string) *Conn {
	return &Conn{Brokers: brokers, dialer: &kafka.Dialer{Timeout: 10 * time.Second, DualStack: true}, transport: &kafka.Transport{},
		MaxWait: DefaultKafkaConfig().MaxWait}
}

// NewConn builds the connection settings of c, reading its files.
func NewConn(c KafkaConfig) (*Conn, error) {
	conn := PlainConn(c.Brokers)
	conn.MaxWait = c.MaxWait
	var tlsCfg *tls.Config
	if c.TLS.Enabled {
		var err error
		tlsCfg, err = creds.ClientTLS("kafka.tls", creds.TLSFiles{CAFile: c.TLS.CAFile, CertFile: c.TLS.CertFile,
			KeyFile: c.TLS.KeyFile, ServerName: c.TLS.ServerName, InsecureSkipVerify: c.TLS.InsecureSkipVerify})
		if err != nil {
			return nil, err
		}
		conn.Insecure = c.TLS.InsecureSkipVerify
	}
	var mech sasl.Mechanism
	if c.SASL.Mechanism != "" {
		pass := c.SASL.Password
		if c.SASL.PasswordFile != "" {
			var err error
			if pass, err = creds.Secret("kafka.sasl.password_file", c.SASL.PasswordFile); err != nil {
				return nil, err
			}
		}
		switch c.SASL.Mechanism {
		case "plain":
			mech = plain.Mechanism{Username: c.SASL.Username, Password: pass}
		default:
			algo := scram.SHA256
			if c.SASL.Mechanism == "scram-sha-512" {
				algo = scram.SHA512
			}
			m, err := scram.Mechanism(algo, c.SASL.Username, pass)
			if err != nil {
				return nil, fmt.Errorf("kafka.sasl: %w", err)
			}
			mech = m
		}
	}
	conn.dialer.TLS, conn.dialer.SASLMechanism = tlsCfg, mech
	conn.transport.TLS, conn.transport.SASL = tlsCfg, mech
	return conn, nil
}

// Client returns a client for one-off requests.
func (c *Conn) Client(timeout time.Duration) *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(c.Brokers...), Timeout: timeout, Transport: c.transport}
}

// FreshClient returns a client with a transport of its own (a pooled
// connection can outlive a broker: a probe needs a new one each time),
// and the function that closes its connections.
func (c *Conn) FreshClient(timeout time.Duration) (*kafka.Client, func()) {
	tr := &kafka.Transport{TLS: c.transport.TLS, SASL: c.transport.SASL}
	return &kafka.Client{Addr: kafka.TCP(c.Brokers...), Timeout: timeout, Transport: tr}, tr.CloseIdleConnections
}

// Reader returns a reader of cfg (its brokers and dialer are set here).
func (c *Conn) Reader(cfg kafka.ReaderConfig) *kafka.Reader {
	cfg.Brokers, cfg.Dialer = c.Brokers, c.dialer
	return kafka.NewReader(cfg)
}

// Writer returns w with its address and transport set.
func (c *Conn) Writer(w *kafka.Writer) *kafka.Writer {
	w.Addr, w.Transport = kafka.TCP(c.Brokers...), c.transport
	return w
}

// Dialer is the dialer consumer groups use.
func (c *Conn) Dialer() *kafka.Dialer { return c.dialer }

// Explain adds to err, when the broker just closed the connection (an EOF:
// how a refused SASL login or a failed handshake looks to a one-off
// client), what a direct connection to the first broker says, such as
// "SASL Authentication failed" or "certificate signed by unknown
// authority". Other errors are returned as they are.
func (c *Conn) Explain(ctx context.Context, err error) error {
	if err == nil || !(errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) || len(c.Brokers) == 0 {
		return err
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, derr := c.dialer.DialContext(dctx, "tcp", c.Brokers[0])
	if derr != nil {
		return fmt.Errorf("%w (connecting to %s: %v)", err, c.Brokers[0], derr)
	}
	conn.Close()
	return err
}

// fetchBatch reads, with one fetch request, the batch holding offset off
// of a partition and what follows it up to maxBytes, every record in
// offset order (the batch's records before off included). Kafka returns
// the first batch whole even when it is larger than maxBytes, so a small
// bound reads one batch, not the rest of the log. Where a single record is
// wanted this replaces a partition reader: a reader's fetch must answer
// within its MaxWait or the reader redials, and under load a broker slower
// than that kept a reader redialling past a 10 s deadline.
func (c *Conn) fetchBatch(ctx context.Context, topic string, partition int, off int64, maxBytes int) ([]kafka.Message, error) {
	resp, err := c.Client(fetchBatchTimeout).Fetch(ctx, &kafka.FetchRequest{Topic: topic, Partition: partition, Offset: off,
		MinBytes: 1, MaxBytes: int64(maxBytes), MaxWait: 500 * time.Millisecond})
	if err == nil {
		err = resp.Error
	}
	if err != nil {
		return nil, err
	}
	var out []kafka.Message
	for {
		r, err := resp.Records.ReadRecord()
		if err != nil {
			return out, nil // the end of what was fetched
		}
		m := kafka.Message{Topic: topic, Partition: partition, Offset: r.Offset, Time: r.Time, Headers: r.Headers}
		if r.Key != nil {
			m.Key, _ = io.ReadAll(r.Key)
		}
		if r.Value != nil {
			m.Value, _ = io.ReadAll(r.Value)
		}
		out = append(out, m)
	}
}

// fetchBatchTimeout bounds one fetchBatch request.
const fetchBatchTimeout = 30 * time.Second

// readerCloseWait bounds how long closing a Kafka reader may hold its
// caller. kafka-go's Reader.Close waits for the fetch in flight, for up to
// the reader's MaxWait (kafka-go #428, #1353); under load the checkpoint
// load's reader (it reads with fetchBatch now) was seen blocked in Close
// for over 40 s on a read in flight, holding the generation that long.
const readerCloseWait = 5 * time.Second

// closeWithin closes c, giving up after wait: c's Close then goes on in
// the background, and log (if not nil) says so. It reports whether c
// closed in time.
func closeWithin(c io.Closer, wait time.Duration, log *slog.Logger, what string) bool {
	closed := make(chan struct{})
	go func() { c.Close(); close(closed) }()
	select {
	case <-closed:
		return true
	case <-time.After(wait):
		if log != nil {
			log.Warn(what+" is taking long; left to finish in the background", "waited", wait.String())
		}
		return false
	}
}
