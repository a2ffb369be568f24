package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aewatch/aewatch/internal/testsvc"
)

// TestProduceManyFilesToNoBroker: unpaced, produce sends several files at
// once; when the broker cannot be reached every sender stops, and the
// command fails naming the file and the cause instead of hanging.
func TestProduceManyFilesToNoBroker(t *testing.T) {
	files := writeSeries(t, 20, 200)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	_, stderr, code := cli(t, append([]string{"produce", "--brokers", addr, "--topic", "sensors"}, files...)...)
	if code != 1 || !strings.Contains(stderr, "write to kafka") || !strings.Contains(stderr, ".csv") {
		t.Errorf("produce of 20 files to %s: exit %d, stderr %q; want exit 1 naming a file and the failed write", addr, code, stderr)
	}
}

// TestWrongPortIsNamed: produce, replay and run pointed at a web server's
// port (a stand-in answering as nginx does) fail at once naming the
// address; before, produce spun a core in kafka-go reading the answer as
// a response of a gigabyte, until killed.
func TestWrongPortIsNamed(t *testing.T) {
	web := testsvc.Answering(t, "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
	files := writeSeries(t, 1, 50)
	want := "kafka.brokers: " + web + " answered in HTTP, not a Kafka broker"
	for _, args := range [][]string{
		append([]string{"produce", "--brokers", web, "--topic", "sensors"}, files...),
		{"replay", "--brokers", web, "--topics", "sensors", "--from", "earliest", "--influx-url", "http://127.0.0.1:1", "--influx-bucket", "s/autogen"},
		{"run", "--brokers", web, "--topics", "sensors", "--group", "g", "--influx-url", "http://127.0.0.1:1", "--influx-bucket", "s/autogen"},
	} {
		if _, stderr, code := cli(t, args...); code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("%s: exit %d, stderr %q; want exit 1 with %q", args[0], code, stderr, want)
		}
	}
}

// TestProduceChecksEveryFileFirst: one malformed file among good ones is
// named with its line, and nothing is sent: the topic does not keep part
// of the files for a second run to send twice.
func TestProduceChecksEveryFileFirst(t *testing.T) {
	brokers := testsvc.Kafka(t, 2, "sensors")
	files := writeSeries(t, 4, 200)
	bad := filepath.Join(filepath.Dir(files[0]), "bad.csv")
	os.WriteFile(bad, []byte("timestamp,value\n2024-03-01 00:00:00,1\n2024-03-01 00:01:00,x\n"), 0o644)
	_, stderr, code := cli(t, append([]string{"produce", "--brokers", brokers, "--topic", "sensors"}, append(files, bad)...)...)
	if code != 1 || !strings.Contains(stderr, "nothing sent") || !strings.Contains(stderr, bad+`: line 3, column 2 (value): not a number: "x"`) {
		t.Fatalf("exit %d, stderr %q: want exit 1 naming bad.csv's line 3 and nothing sent", code, stderr)
	}
	for p, end := range topicEnds(t, brokers, 2) {
		if end != 0 {
			t.Errorf("partition %d holds %d messages, want none", p, end)
		}
	}
}

// TestProduceIgnoresColumns: a file's label and text columns named in
// --ignore are not sent, as eval --ignore does not score them: a label
// sent as a channel would be an input the service learns from.
func TestProduceIgnoresColumns(t *testing.T) {
	brokers := testsvc.Kafka(t, 1, "sensors")
	p := filepath.Join(t.TempDir(), "pump.csv")
	os.WriteFile(p, []byte("timestamp;flow;anomaly;status\n"+
		"2024-03-01 00:00:00;1,5;0;OK\n"+
		"2024-03-01 00:00:01;1,75;1;check valve\n"), 0o644)
	if _, stderr, code := cli(t, "produce", "--brokers", brokers, "--topic", "sensors", "--format", "line", "--ignore", "anomaly,status", p); code != 0 {
		t.Fatalf("produce --ignore anomaly,status: exit %d, stderr %q", code, stderr)
	}
	got := readPartition(t, brokers, "sensors")
	want := []string{"pump=pump flow=1.5 1709251200000000000", "pump=pump flow=1.75 1709251201000000000"}
	if !slices.Equal(got, want) {
		t.Errorf("sent %q, want %q", got, want)
	}
	_, stderr, code := cli(t, "produce", "--brokers", brokers, "--topic", "sensors", p)
	if code != 1 || !strings.Contains(stderr, `column 4 (status): not a number: "OK"`) {
		t.Errorf("produce without --ignore: exit %d, stderr %q; want exit 1 naming the status column", code, stderr)
	}
}

// TestProducePipeNamedBySeries: a file given as a pipe (here stdin, as
// `zcat pump9.csv.gz | aewatch produce ... /dev/stdin`) is read once,
// checked and sent whole, under the series --series names; --series with
// several files is refused.
func TestProducePipeNamedBySeries(t *testing.T) {
	brokers := testsvc.Kafka(t, 1, "sensors")
	cmd := exec.Command(binary, "produce", "--brokers", brokers, "--topic", "sensors", "--format", "line", "--series", "pump9", "/dev/stdin")
	cmd.Stdin = strings.NewReader("timestamp,flow\n2024-03-01 00:00:00,1.5\n2024-03-01 00:00:01,1.75\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("produce --series pump9 /dev/stdin: %v: %s", err, out)
	}
	got := readPartition(t, brokers, "sensors")
	want := []string{"pump9=pump9 flow=1.5 1709251200000000000", "pump9=pump9 flow=1.75 1709251201000000000"}
	if !slices.Equal(got, want) {
		t.Errorf("sent %q, want %q", got, want)
	}
	_, stderr, code := cli(t, "produce", "--brokers", brokers, "--topic", "sensors", "--series", "pump9", "a.csv", "b.csv")
	if code != 1 || !strings.Contains(stderr, `--series: names the series of one PATH (got "pump9" and 2 PATHs)`) {
		t.Errorf("--series with two files: exit %d, stderr %q", code, stderr)
	}
}
