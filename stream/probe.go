package stream

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// ErrNotKafka marks a broker address whose server answered, but not in the
// Kafka protocol: a web server's port, or TLS where kafka.tls is off. No
// retry cures it; kafka-go reads such an answer as a response of gigabytes
// (produce spun a core for as long as it was left running).
var ErrNotKafka = errors.New("not a Kafka broker")

// probeTimeout bounds each broker's probe.
const probeTimeout = 5 * time.Second

// CheckBrokers asks every broker for its API versions, the first request
// a Kafka client sends (allowed before SASL), and returns an ErrNotKafka
// error naming each address that answered otherwise: HTTP, a TLS record
// while kafka.tls is off, or a size no Kafka response has. A broker that
// cannot be reached, closes the connection or fails the TLS handshake is
// not judged here: the clients retry or report it themselves.
func (c *Conn) CheckBrokers(ctx context.Context) error {
	errs := make([]error, len(c.Brokers))
	var wg sync.WaitGroup
	for i, addr := range c.Brokers {
		wg.Go(func() { errs[i] = probeBroker(ctx, addr, c.transport.TLS) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// apiVersionsV0 is an ApiVersions request, version 0, correlation id 1,
// client id "aewatch", with its size first.
var apiVersionsV0 = []byte{0, 0, 0, 17, 0, 18, 0, 0, 0, 0, 0, 1, 0, 7, 'a', 'e', 'w', 'a', 't', 'c', 'h'}

func probeBroker(ctx context.Context, addr string, tlsCfg *tls.Config) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	raw, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil
	}
	defer raw.Close()
	deadline, _ := ctx.Deadline()
	raw.SetDeadline(deadline)
	conn := raw
	if tlsCfg != nil {
		cfg := tlsCfg.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName, _, _ = net.SplitHostPort(addr)
		}
		tc := tls.Client(raw, cfg)
		if tc.HandshakeContext(ctx) != nil {
			return nil
		}
		conn = tc
	}
	if _, err := conn.Write(apiVersionsV0); err != nil {
		return nil
	}
	var head [8]byte // the size, then the correlation id
	n, err := io.ReadFull(conn, head[:])
	if n < 4 {
		return nil // closed or silent
	}
	switch size := binary.BigEndian.Uint32(head[:4]); {
	case string(head[:4]) == "HTTP":
		return fmt.Errorf("kafka.brokers: %s answered in HTTP, %w (the port of a web server, a REST proxy or a schema registry?)", addr, ErrNotKafka)
	case tlsCfg == nil && (head[0] == 0x15 || head[0] == 0x16):
		return fmt.Errorf("kafka.brokers: %s answered with a TLS record, %w without TLS (set kafka.tls.enabled)", addr, ErrNotKafka)
	case size < 4 || size > 1<<24:
		return fmt.Errorf("kafka.brokers: %s answered % x..., %w (a response of %d bytes)", addr, head[:4], ErrNotKafka, size)
	case err == nil && binary.BigEndian.Uint32(head[4:]) != 1:
		return fmt.Errorf("kafka.brokers: %s answered for correlation id %d, not the 1 asked for: %w", addr, binary.BigEndian.Uint32(head[4:]), ErrNotKafka)
	}
	return nil
}
