package stream

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/aewatch/aewatch/internal/testsvc"
)

// TestCheckBrokers: real Kafka-protocol brokers (plain; TLS with SASL)
// pass, as do an address nothing listens on and a TLS broker asked
// without TLS that closes the connection (the clients retry or report
// those); a server answering in HTTP (as nginx and Jetty answer a binary
// request at once) or with a TLS alert is named as not Kafka.
func TestCheckBrokers(t *testing.T) {
	ctx := context.Background()
	plainBroker := testsvc.Kafka(t, 1, "sensors")
	caFile, certFile, keyFile := testsvc.WriteCert(t, t.TempDir())
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	tlsBroker := testsvc.KafkaWith(t, 1, []string{"sensors"}, kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}}),
		kfake.EnableSASL(), kfake.Superuser("PLAIN", "aewatch", "pw"))
	web := testsvc.Answering(t, "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
	tlsAlert := testsvc.Answering(t, "\x15\x03\x03\x00\x02\x02\x46") // fatal: protocol_version
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nobody := closed.Addr().String()
	closed.Close()

	secure := func(brokers ...string) *Conn {
		c := DefaultKafkaConfig()
		c.Brokers = brokers
		c.TLS = KafkaTLSConfig{Enabled: true, CAFile: caFile}
		c.SASL = KafkaSASLConfig{Mechanism: "plain", Username: "aewatch", Password: "pw"}
		conn, err := NewConn(c)
		if err != nil {
			t.Fatal(err)
		}
		return conn
	}
	for _, c := range []struct {
		name string
		conn *Conn
		want string // "" for no error
	}{
		{"plain broker", PlainConn([]string{plainBroker}), ""},
		{"TLS and SASL broker", secure(tlsBroker), ""},
		{"nothing listening", PlainConn([]string{nobody}), ""},
		{"TLS broker without TLS, closing", PlainConn([]string{tlsBroker}), ""},
		{"HTTP server", PlainConn([]string{plainBroker, web}), web + " answered in HTTP, not a Kafka broker"},
		{"TLS alert", PlainConn([]string{tlsAlert}), tlsAlert + " answered with a TLS record, not a Kafka broker without TLS (set kafka.tls.enabled)"},
	} {
		err := c.conn.CheckBrokers(ctx)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v, want no error", c.name, err)
		case c.want != "" && (!errors.Is(err, ErrNotKafka) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want ErrNotKafka with %q", c.name, err, c.want)
		}
	}
}
