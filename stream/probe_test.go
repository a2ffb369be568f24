package stream

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/aewatch/aewatch/internal/testsvc"
)

// TestCheckBrokers: real Kafka-protocol brokers (plain; TLS with SASL)
// pass, as do an address nothing listens on and a TLS broker asked
// without TLS that closes the connection (the clients retry or report
// those); a server answering in HTTP (as nginx and Jetty answer a binary
// request at once, and Go's server at the line's end) or with a TLS alert
// is named as not Kafka, one answering nothing as silent.
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
	// Go's own HTTP server (Prometheus's, an exporter's) reads a line
	// before it answers.
	goWeb := httptest.NewServer(http.NotFoundHandler())
	defer goWeb.Close()
	goWebAddr := strings.TrimPrefix(goWeb.URL, "http://")
	silent := testsvc.Serving(t, func(c net.Conn) { io.Copy(io.Discard, c) }) // reads, never answers
	tlsAlert := testsvc.Answering(t, "\x15\x03\x03\x00\x02\x02\x46")          // fatal: protocol_version
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
	// Brokers whose metadata sends clients elsewhere (advertised.listeners):
	// to the web server, and to an address nothing listens on.
	misadvertised := func(to string) string {
		var real string
		testsvc.KafkaCluster(t, 1, []string{"sensors"}, kfake.ListenFn(func(network, addr string) (net.Listener, error) {
			ln, err := net.Listen(network, addr)
			if err != nil {
				return nil, err
			}
			real = ln.Addr().String()
			fake, _ := net.ResolveTCPAddr("tcp", to)
			return advertisedAs{ln, fake}, nil
		}))
		return real
	}
	toWeb, toNobody := misadvertised(web), misadvertised(nobody)
	for _, c := range []struct {
		name string
		conn *Conn
		is   error  // the sentinel the error wraps
		want string // "" for no error
	}{
		{"advertising a web server", PlainConn([]string{toWeb}), ErrNotKafka, "kafka.brokers: the cluster advertises a broker at " + web + ", which answered in HTTP, not a Kafka broker"},
		{"advertising an address nothing listens on", PlainConn([]string{toNobody}), ErrUnreachableAdvertised, "the cluster advertises a broker at " + nobody + ", which cannot be reached from here (advertised broker unreachable: dial tcp " + nobody},
		{"plain broker", PlainConn([]string{plainBroker}), nil, ""},
		{"TLS and SASL broker", secure(tlsBroker), nil, ""},
		{"nothing listening", PlainConn([]string{nobody}), nil, ""},
		{"TLS broker without TLS, closing", PlainConn([]string{tlsBroker}), nil, ""},
		{"HTTP server", PlainConn([]string{plainBroker, web}), ErrNotKafka, web + " answered in HTTP, not a Kafka broker"},
		{"TLS alert", PlainConn([]string{tlsAlert}), ErrNotKafka, tlsAlert + " answered with a TLS record, not a Kafka broker without TLS (set kafka.tls.enabled)"},
		{"Go's HTTP server", PlainConn([]string{goWebAddr}), ErrNotKafka, goWebAddr + " answered in HTTP, not a Kafka broker"},
		{"silent server", PlainConn([]string{plainBroker, silent}), ErrSilent, "kafka.brokers: " + silent + " answered nothing in 5s to an ApiVersions request"},
	} {
		err := c.conn.CheckBrokers(ctx)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v, want no error", c.name, err)
		case c.want != "" && (!errors.Is(err, c.is) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want %v with %q", c.name, err, c.is, c.want)
		}
	}
}

// advertisedAs is a listener that gives its address as addr, which kfake
// then advertises in its metadata.
type advertisedAs struct {
	net.Listener
	addr net.Addr
}

func (l advertisedAs) Addr() net.Addr { return l.addr }

// TestSlowBrokerWarning: a broker answering in 100 ms is named against the
// default kafka.max_wait of 250 ms, whose idle fetches it would answer
// after kafka-go gave up on them, and not against a max_wait of 1 s or
// 2 s; one answering in 400 ms needs a max_wait over a second; a broker
// answering at once is not named.
func TestSlowBrokerWarning(t *testing.T) {
	cluster := testsvc.KafkaCluster(t, 1, []string{"sensors"})
	conn := PlainConn(cluster.ListenAddrs())
	if err := conn.CheckBrokers(context.Background()); err != nil {
		t.Fatal(err)
	}
	if w := conn.SlowBrokerWarning(250 * time.Millisecond); w != "" {
		t.Errorf("a broker answering at once: %q", w)
	}
	cluster.ControlKey(int16(kmsg.ApiVersions), func(kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		cluster.SleepControl(func() { time.Sleep(100 * time.Millisecond) })
		return nil, nil, false
	})
	if err := conn.CheckBrokers(context.Background()); err != nil {
		t.Fatal(err)
	}
	w := conn.SlowBrokerWarning(250 * time.Millisecond)
	if !strings.Contains(w, "longer than the 62.5ms kafka-go leaves a fetch's answer with kafka.max_wait 250ms") ||
		!strings.Contains(w, "set kafka.max_wait to at least 4") {
		t.Errorf("a broker answering in 100 ms, max_wait 250ms: %q", w)
	}
	for _, maxWait := range []time.Duration{time.Second, 2 * time.Second} {
		if w := conn.SlowBrokerWarning(maxWait); w != "" {
			t.Errorf("a broker answering in 100 ms, max_wait %v: %q", maxWait, w)
		}
	}
	// An answer of 400 ms: no max_wait below a second leaves it time.
	conn.slowestAnswer.Store(int64(400 * time.Millisecond))
	if w := conn.SlowBrokerWarning(500 * time.Millisecond); !strings.Contains(w, "set kafka.max_wait to 1.5s or more") {
		t.Errorf("a broker answering in 400 ms, max_wait 500ms: %q", w)
	}
	if w := conn.SlowBrokerWarning(2 * time.Second); w != "" {
		t.Errorf("a broker answering in 400 ms, max_wait 2s: %q", w)
	}
}
