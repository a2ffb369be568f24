package stream

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"
)

// ErrNotKafka marks a broker address whose server answered, but not in the
// Kafka protocol: a web server's port, or TLS where kafka.tls is off. No
// retry cures it; kafka-go reads such an answer as a response of gigabytes
// (produce spun a core for as long as it was left running;
// segmentio/kafka-go#1439).
var ErrNotKafka = errors.New("not a Kafka broker")

// ErrUnreachableAdvertised marks a broker the cluster advertises (its
// advertised.listeners) that cannot be reached from here, while the
// bootstrap addresses can: clients are sent to it for its partitions.
var ErrUnreachableAdvertised = errors.New("advertised broker unreachable")

// ErrSilent marks a broker address that took the connection but answered
// nothing, within probeTimeout, to a request every Kafka broker answers at
// once: the port of a service that waits for something else, or a broker
// stalled. The clients would time out on it again and again.
var ErrSilent = errors.New("answered nothing")

// probeTimeout bounds each broker's probe.
const probeTimeout = 5 * time.Second

// CheckBrokers asks every broker for its API versions, the first request
// a Kafka client sends (allowed before SASL): first the configured
// addresses, then the brokers the cluster's metadata advertises, where the
// clients go next. It returns an ErrNotKafka error naming each address
// that answered otherwise (HTTP, a TLS record while kafka.tls is off, a
// size no Kafka response has), an ErrSilent one for an address that takes
// the connection and answers nothing, and an ErrUnreachableAdvertised one
// for an advertised broker it cannot connect to. A configured address
// that cannot be reached, closes the connection or fails the TLS
// handshake is not judged here: the clients retry or report it
// themselves.
func (c *Conn) CheckBrokers(ctx context.Context) error {
	tlsCfg := c.transport.TLS
	configured, err := probeAll(ctx, c.Brokers, tlsCfg, false)
	c.slowestAnswer.Store(int64(configured))
	if err != nil {
		return err
	}
	advertised := c.advertised(ctx)
	advertised = slices.DeleteFunc(advertised, func(a string) bool { return slices.Contains(c.Brokers, a) })
	others, err := probeAll(ctx, advertised, tlsCfg, true)
	c.slowestAnswer.Store(int64(max(configured, others)))
	return err
}

// SlowBrokerWarning returns, when the slowest answer CheckBrokers saw is
// longer than a fetch's answer may take with kafka.max_wait at maxWait,
// what that does and what to set, and "" otherwise.
func (c *Conn) SlowBrokerWarning(maxWait time.Duration) string {
	slowest := time.Duration(c.slowestAnswer.Load())
	if slowest <= fetchAnswerBudget(maxWait) {
		return ""
	}
	advice := "set kafka.max_wait to at least " + (4 * slowest).Round(10*time.Millisecond).String()
	if 4*slowest >= time.Second {
		advice = "set kafka.max_wait to 1.5s or more, which leaves an answer 1 s"
		if slowest >= time.Second {
			advice = "no kafka.max_wait leaves an answer more than 1 s: run aewatch nearer the brokers"
		}
	}
	return fmt.Sprintf("a broker answered in %v, longer than the %v kafka-go leaves a fetch's answer with kafka.max_wait %v: "+
		"it drops a later answer and redials, so fetches of idle partitions will fail; %s",
		slowest.Round(time.Millisecond), fetchAnswerBudget(maxWait), maxWait, advice)
}

// fetchAnswerBudget is how long a broker's answer may take before a
// kafka-go reader with this MaxWait drops it: the reader's deadline is
// MaxWait, and it asks the broker to hold the fetch for new data for all
// of that but its estimate of the round trip, a quarter of MaxWait below
// a second and a second above.
func fetchAnswerBudget(maxWait time.Duration) time.Duration {
	if maxWait < time.Second {
		return maxWait / 4
	}
	return time.Second
}

// advertised returns the broker addresses the first configured broker that
// answers lists in its metadata (nil if none answers). It reads them over
// kafka-go's Conn, whose reads fail on a non-Kafka answer rather than spin.
func (c *Conn) advertised(ctx context.Context) []string {
	for _, addr := range c.Brokers {
		dctx, cancel := context.WithTimeout(ctx, probeTimeout)
		conn, err := c.dialer.DialContext(dctx, "tcp", addr)
		cancel()
		if err != nil {
			continue
		}
		conn.SetDeadline(time.Now().Add(probeTimeout))
		brokers, err := conn.Brokers()
		conn.Close()
		if err != nil {
			continue
		}
		var out []string
		for _, b := range brokers {
			out = append(out, net.JoinHostPort(b.Host, strconv.Itoa(b.Port)))
		}
		return out
	}
	return nil
}

// probeAll probes addrs at once and returns the slowest Kafka answer's
// time; an unreachable address counts only when the addresses are the
// cluster's advertised ones.
func probeAll(ctx context.Context, addrs []string, tlsCfg *tls.Config, advertised bool) (time.Duration, error) {
	errs := make([]error, len(addrs))
	answers := make([]time.Duration, len(addrs))
	var wg sync.WaitGroup
	for i, addr := range addrs {
		wg.Go(func() {
			var err error
			answers[i], err = probeBroker(ctx, addr, tlsCfg)
			switch {
			case err == nil:
			case advertised && (errors.Is(err, ErrNotKafka) || errors.Is(err, ErrSilent)):
				errs[i] = fmt.Errorf("kafka.brokers: the cluster advertises a broker at %s, which %w", addr, err)
			case errors.Is(err, ErrNotKafka):
				errs[i] = fmt.Errorf("kafka.brokers: %s %w", addr, err)
			case errors.Is(err, ErrSilent):
				errs[i] = fmt.Errorf("kafka.brokers: %s %w (a stalled broker, or the port of another service?)", addr, err)
			case advertised:
				errs[i] = fmt.Errorf("kafka.brokers: the cluster advertises a broker at %s, which cannot be reached from here (%w: %v); the brokers' advertised.listeners must be addresses clients reach",
					addr, ErrUnreachableAdvertised, err)
			}
		})
	}
	wg.Wait()
	return slices.Max(append(answers, 0)), errors.Join(errs...)
}

// apiVersionsV0 is an ApiVersions request, version 0, correlation id 1,
// client id "aewatch", with its size first; then a line's end, which a
// server reading lines (Go's net/http, Python's, Redis) waits for before
// it answers, and a Kafka broker takes for the start of a next request
// it never gets (it answers the first meanwhile).
var apiVersionsV0 = []byte{0, 0, 0, 17, 0, 18, 0, 0, 0, 0, 0, 1, 0, 7, 'a', 'e', 'w', 'a', 't', 'c', 'h', '\r', '\n'}

// probeBroker returns nil when addr answers the request as Kafka, with the
// time the answer took, or closes the connection or fails the TLS
// handshake; an ErrNotKafka error when it answers otherwise; and the
// dial's error when it cannot be reached.
func probeBroker(ctx context.Context, addr string, tlsCfg *tls.Config) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	raw, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, err
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
			return 0, nil
		}
		conn = tc
	}
	asked := time.Now()
	if _, err := conn.Write(apiVersionsV0); err != nil {
		return 0, nil
	}
	var head [8]byte // the size, then the correlation id
	n, err := io.ReadFull(conn, head[:])
	answer := time.Since(asked)
	if n == 0 && errors.Is(err, os.ErrDeadlineExceeded) {
		return 0, fmt.Errorf("%w in %s to an ApiVersions request, which a Kafka broker answers at once", ErrSilent, probeTimeout)
	}
	if n < 4 {
		return 0, nil // closed
	}
	switch size := binary.BigEndian.Uint32(head[:4]); {
	case string(head[:4]) == "HTTP":
		return 0, fmt.Errorf("answered in HTTP, %w (the port of a web server, a REST proxy or a schema registry?)", ErrNotKafka)
	case tlsCfg == nil && (head[0] == 0x15 || head[0] == 0x16):
		return 0, fmt.Errorf("answered with a TLS record, %w without TLS (set kafka.tls.enabled)", ErrNotKafka)
	case size < 4 || size > 1<<24:
		return 0, fmt.Errorf("answered % x..., %w (a response of %d bytes)", head[:4], ErrNotKafka, size)
	case err == nil && binary.BigEndian.Uint32(head[4:]) != 1:
		return 0, fmt.Errorf("answered for correlation id %d, not the 1 asked for: %w", binary.BigEndian.Uint32(head[4:]), ErrNotKafka)
	}
	return answer, nil
}
