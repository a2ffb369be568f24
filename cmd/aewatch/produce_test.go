package main

import (
	"net"
	"os"
	"path/filepath"
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
