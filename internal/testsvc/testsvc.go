// Package testsvc starts the real peers that aewatch's integration tests
// run against: an in-process Kafka-protocol cluster (franz-go's kfake,
// spoken to over real TCP) and a real InfluxDB 1.8 server: the influxd
// binary named by $AEWATCH_TEST_INFLUXD, else influxd on PATH, else one
// built from source through the Go module proxy into the Go build cache
// (about a minute, once per machine).
//
// If no influxd can be had, tests skip with a message, unless
// AEWATCH_TEST_REQUIRE_SERVICES=1 (set by .ci/run), where they fail.
//
// Concurrency: helpers are called from the test goroutine; the servers
// they start stop in t.Cleanup.
package testsvc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	cryptorand "crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Kafka starts a one-broker cluster with the topics (partitions each) and
// returns its address.
func Kafka(t testing.TB, partitions int32, topics ...string) string {
	t.Helper()
	return KafkaWith(t, partitions, topics)
}

// KafkaWith is Kafka with more kfake options (SASL, TLS, ACLs).
func KafkaWith(t testing.TB, partitions int32, topics []string, opts ...kfake.Opt) string {
	t.Helper()
	return KafkaCluster(t, partitions, topics, opts...).ListenAddrs()[0]
}

// KafkaCluster is KafkaWith returning the cluster itself, whose control
// functions let a test inject broker errors.
func KafkaCluster(t testing.TB, partitions int32, topics []string, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(partitions, topics...), kfake.AllowAutoTopicCreation(),
		kfake.BrokerConfigs(map[string]string{"message.max.bytes": strconv.Itoa(16 << 20)})}, opts...)...)
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// KafkaStorageError is Kafka's error 56 (KAFKA_STORAGE_ERROR): what a
// broker with a failing disk answers a fetch with.
const KafkaStorageError = 56

// FetchError answers every partition of a fetch with a Kafka error code,
// for a cluster's control function.
func FetchError(req *kmsg.FetchRequest, code int16) *kmsg.FetchResponse {
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewFetchResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		for _, rp := range rt.Partitions {
			sp := kmsg.NewFetchResponseTopicPartition()
			sp.Partition, sp.ErrorCode = rp.Partition, code
			sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// KafkaServer is a kfake cluster that can be stopped and started again on
// the same address with its state (records, offsets) kept on disk.
type KafkaServer struct {
	Addr  string
	dir   string
	port  int
	parts int32
	c     *kfake.Cluster
	t     testing.TB
}

// StartKafka starts a restartable cluster with the topics.
func StartKafka(t testing.TB, partitions int32, topics ...string) *KafkaServer {
	t.Helper()
	_, portText, _ := net.SplitHostPort(FreeAddr(t))
	port, _ := strconv.Atoi(portText)
	k := &KafkaServer{dir: t.TempDir(), port: port, parts: partitions, t: t}
	k.start(topics)
	t.Cleanup(k.Stop)
	return k
}

func (k *KafkaServer) start(topics []string) {
	k.t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.Ports(k.port), kfake.DataDir(k.dir), kfake.AllowAutoTopicCreation(),
		kfake.BrokerConfigs(map[string]string{"message.max.bytes": strconv.Itoa(16 << 20)})}
	if len(topics) > 0 {
		opts = append(opts, kfake.SeedTopics(k.parts, topics...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		k.t.Fatalf("kfake: %v", err)
	}
	k.c, k.Addr = c, c.ListenAddrs()[0]
}

// Stop stops the broker (its state stays on disk).
func (k *KafkaServer) Stop() {
	if k.c != nil {
		k.c.Close()
		k.c = nil
	}
}

// Start starts the broker again on the same address and state.
func (k *KafkaServer) Start() { k.start(nil) }

// FreeAddr returns a loopback host:port that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Influx is a running influxd.
type Influx struct {
	URL  string
	dir  string
	bin  string
	conf string
	cmd  *exec.Cmd
	// exited closes when cmd's process has ended (its Wait returned).
	exited chan struct{}
	t      testing.TB
}

// InfluxBinary finds influxd, or skips (fails under
// AEWATCH_TEST_REQUIRE_SERVICES=1).
func InfluxBinary(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("AEWATCH_TEST_INFLUXD")
	if bin == "" {
		bin, _ = exec.LookPath("influxd")
	}
	if bin == "" {
		var err error
		if bin, err = buildInflux(); err != nil {
			msg := "no InfluxDB server: set AEWATCH_TEST_INFLUXD to an influxd 1.8 binary " +
				"(GOBIN=DIR go install github.com/influxdata/influxdb/cmd/influxd@v1.8.10): " + err.Error()
			if os.Getenv("AEWATCH_TEST_REQUIRE_SERVICES") == "1" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	return bin
}

// buildInflux installs influxd 1.8.10 into the Go build cache, once.
func buildInflux() (string, error) {
	out, err := exec.Command("go", "env", "GOCACHE").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOCACHE: %w", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "aewatch-influxd-1.8.10")
	bin := filepath.Join(dir, "influxd")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	cmd := exec.Command("go", "install", "github.com/influxdata/influxdb/cmd/influxd@v1.8.10")
	cmd.Env = append(os.Environ(), "GOBIN="+dir)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building influxd: %v: %s", err, msg)
	}
	return bin, nil
}

// StartInflux starts influxd on a free port with its data in a temporary
// directory, and creates the database db.
func StartInflux(t testing.TB, db string) *Influx {
	t.Helper()
	return StartInfluxWithBodyLimit(t, db, 0)
}

// StartInfluxWithBodyLimit is StartInflux with the server's max-body-size
// (bytes; 0 keeps InfluxDB's default of 25 MB): bodies over it get 413.
func StartInfluxWithBodyLimit(t testing.TB, db string, maxBody int) *Influx {
	t.Helper()
	in := &Influx{dir: t.TempDir(), bin: InfluxBinary(t), t: t}
	in.conf = filepath.Join(in.dir, "influxd.conf")
	bodyLimit := ""
	if maxBody > 0 {
		bodyLimit = fmt.Sprintf("  max-body-size = %d\n", maxBody)
	}
	t.Cleanup(in.Stop) // also a server left waiting by a failed start
	// A free port can be taken between FreeAddr and influxd's bind (by
	// another test package's server): a server that exits before it
	// answers gets fresh ports, twice.
	for attempt := 1; ; attempt++ {
		addr := FreeAddr(t)
		rpc := FreeAddr(t)
		in.URL = "http://" + addr
		conf := fmt.Sprintf(`reporting-disabled = true
bind-address = %q
[meta]
  dir = %q
[data]
  dir = %q
  wal-dir = %q
  query-log-enabled = false
[http]
  bind-address = %q
  flux-enabled = true
  log-enabled = false
%s[monitor]
  store-enabled = false
`, rpc, filepath.Join(in.dir, "meta"), filepath.Join(in.dir, "data"), filepath.Join(in.dir, "wal"), addr, bodyLimit)
		if err := os.WriteFile(in.conf, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		err := in.start()
		if err == nil {
			break
		}
		if !errors.Is(err, errExited) || attempt == 3 {
			t.Fatal(err)
		}
		t.Logf("influxd, attempt %d: %v; again on other ports", attempt, err)
	}
	in.Exec("CREATE DATABASE " + db)
	// A query for the database straight after once found it missing
	// ("database not found", cmd/aewatch's TestExpiredMessagesAreSaid,
	// CI 619): the test waits until the server lists it.
	for deadline := time.Now().Add(10 * time.Second); !in.hasDatabase(db); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("influxd does not list database %s 10 s after CREATE DATABASE", db)
		}
	}
	return in
}

// hasDatabase reports whether SHOW DATABASES lists db.
func (in *Influx) hasDatabase(db string) bool {
	in.t.Helper()
	for _, row := range in.Rows("", "SHOW DATABASES") {
		if row["name"] == db {
			return true
		}
	}
	return false
}

// errExited: influxd ended before it answered.
var errExited = errors.New("influxd exited before answering /ping")

// Start (re)starts the server on the same data directory and waits for it.
func (in *Influx) Start() {
	in.t.Helper()
	if err := in.start(); err != nil {
		in.t.Fatal(err)
	}
}

func (in *Influx) start() error {
	logPath := filepath.Join(in.dir, "influxd.log")
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer log.Close() // the child holds its own descriptor
	logStart, err := log.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	in.cmd = exec.Command(in.bin, "-config", in.conf)
	in.cmd.Stdout, in.cmd.Stderr = log, log
	if err := in.cmd.Start(); err != nil {
		return fmt.Errorf("influxd: %v", err)
	}
	in.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) {
		cmd.Wait()
		close(exited)
	}(in.cmd, in.exited)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-in.exited:
			in.cmd = nil
			return fmt.Errorf("%w: %s", errExited, logTail(logPath))
		default:
		}
		// Only once this server says it holds the port: another test
		// package's influxd that took the port between FreeAddr and the
		// bind answers /ping too, and a test then ran against it ("database
		// not found"), while this one exited on the bind.
		if resp, err := http.Get(in.URL + "/ping"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 204 && in.listening(logPath, logStart) {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("influxd did not answer /ping within 30s: %s", logTail(logPath))
}

// listening reports whether the server's log, from offset from on, says
// it listens for HTTP on in.URL's address.
func (in *Influx) listening(logPath string, from int64) bool {
	b, err := os.ReadFile(logPath)
	if err != nil || int64(len(b)) < from {
		return false
	}
	addr := strings.TrimPrefix(in.URL, "http://")
	for _, line := range strings.Split(string(b[from:]), "\n") {
		if strings.Contains(line, `msg="Listening on HTTP"`) && strings.Contains(line, "addr="+addr+" ") {
			return true
		}
	}
	return false
}

// logTail is the end of the server's log, for a failure's message.
func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return "log ends:\n" + string(b)
}

// Stop stops the server (data stays), paused or not.
func (in *Influx) Stop() {
	if in.cmd != nil && in.cmd.Process != nil {
		in.Resume()
		in.cmd.Process.Kill()
		<-in.exited
		in.cmd = nil
	}
}

// Pause stops the server's process (SIGSTOP): connections are accepted by
// the kernel and then hang, as with a frozen host. Stop ends it paused or
// not.
func (in *Influx) Pause() { in.cmd.Process.Signal(syscall.SIGSTOP) }

// Resume continues a paused server (SIGCONT).
func (in *Influx) Resume() { in.cmd.Process.Signal(syscall.SIGCONT) }

// Exec runs an InfluxQL statement that returns no rows. InfluxDB answers
// 200 to a statement that failed, with the error in the body: that fails
// the test too.
func (in *Influx) Exec(q string) {
	in.t.Helper()
	resp, err := http.PostForm(in.URL+"/query", url.Values{"q": {q}})
	if err != nil {
		in.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		in.t.Fatalf("%s: HTTP %d", q, resp.StatusCode)
	}
	in.results(resp, q)
}

// queryResult is one statement's part of a /query answer.
type queryResult struct {
	Error  string
	Series []struct {
		Columns []string
		Values  [][]any
	}
}

// results decodes the /query answer resp to q (numbers as json.Number),
// failing the test on a statement's error: InfluxDB answers those with
// HTTP 200.
func (in *Influx) results(resp *http.Response, q string) []queryResult {
	in.t.Helper()
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	var out struct{ Results []queryResult }
	if err := dec.Decode(&out); err != nil {
		in.t.Fatalf("%s: %v", q, err)
	}
	for _, r := range out.Results {
		if r.Error != "" {
			in.t.Fatalf("%s: %s", q, r.Error)
		}
	}
	return out.Results
}

// Rows runs an InfluxQL query on db and returns the rows of its first
// series with timestamps in nanoseconds, each as column -> value.
func (in *Influx) Rows(db, q string) []map[string]any {
	in.t.Helper()
	resp, err := http.Get(in.URL + "/query?" + url.Values{"db": {db}, "q": {q}, "epoch": {"ns"}}.Encode())
	if err != nil {
		in.t.Fatal(err)
	}
	defer resp.Body.Close()
	results := in.results(resp, q)
	if len(results) == 0 {
		return nil
	}
	var rows []map[string]any
	for _, s := range results[0].Series {
		for _, v := range s.Values {
			row := map[string]any{}
			for i, c := range s.Columns {
				row[c] = v[i]
			}
			rows = append(rows, row)
		}
	}
	return rows
}

// Count returns SELECT count(field) FROM measurement [WHERE ...].
func (in *Influx) Count(db, q string) int {
	in.t.Helper()
	rows := in.Rows(db, q)
	if len(rows) == 0 {
		return 0
	}
	for k, v := range rows[0] {
		if k != "time" {
			n, _ := strconv.Atoi(fmt.Sprint(v))
			return n
		}
	}
	return 0
}

// WriteCert writes a CA and a certificate it signed for 127.0.0.1 (PEM
// files in dir) and returns their paths.
func WriteCert(t testing.TB, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), cryptorand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "aewatch test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(cryptorand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), cryptorand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	caCert, _ := x509.ParseCertificate(caDER)
	leafDER, err := x509.CreateCertificate(cryptorand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	write := func(name, kind string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("cert.pem", "CERTIFICATE", leafDER), write("key.pem", "EC PRIVATE KEY", keyDER)
}

// Answering is a TCP server that answers a connection's first bytes with
// reply and closes it, as a web server answers a Kafka request: a stand-in
// for a wrong port. It returns its address.
func Answering(t testing.TB, reply string) string {
	t.Helper()
	return Serving(t, func(c net.Conn) {
		buf := make([]byte, 64)
		if _, err := c.Read(buf); err == nil {
			c.Write([]byte(reply))
		}
	})
}

// Serving is a TCP server that hands each connection to handle and closes
// it when handle returns. It returns its address.
func Serving(t testing.TB, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}
