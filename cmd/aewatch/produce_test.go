package main

import (
	"net"
	"strings"
	"testing"
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
