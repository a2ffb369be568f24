package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestProgressLine: off a terminal the renderer writes a plain line at
// most every offTTY and the final state once; with a logger it logs
// instead; with offTTY 0 it writes nothing.
func TestProgressLine(t *testing.T) {
	var b bytes.Buffer
	p := newProgressLine(&b, "eval", "files", time.Hour, nil)
	for i := int64(1); i <= 5; i++ {
		p.show(i, 5, "x rows")
	}
	p.show(5, 5, "x rows")
	p.finish()
	if got, want := b.String(), "eval: 1/5 files, x rows\neval: 5/5 files, x rows\n"; got != want {
		t.Errorf("plain lines %q, want %q", got, want)
	}

	b.Reset()
	log := slog.New(slog.NewTextHandler(&b, nil))
	p = newProgressLine(&b, "replay", "msgs", time.Hour, log)
	p.show(2, 4, "fast")
	p.show(4, 4, "done")
	if n := strings.Count(b.String(), "msg=\"replay progress\""); n != 2 || !strings.Contains(b.String(), "done=4 total=4") {
		t.Errorf("logged %q", b.String())
	}

	b.Reset()
	p = newProgressLine(&b, "file.csv", "msgs", 0, nil)
	p.show(1, 2, "")
	p.show(2, 2, "")
	p.finish()
	if b.Len() != 0 {
		t.Errorf("off a terminal with offTTY 0: wrote %q", b.String())
	}
}
