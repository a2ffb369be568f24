package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// progressLine is the one progress renderer of the commands (eval,
// produce, replay): on a terminal a bar redrawn in place at most every
// 100 ms; elsewhere (a log file, a pipe) a line at most every offTTY,
// through log when one is given, or nothing when offTTY is 0. The final
// state (done == total) is always rendered, once. Safe for concurrent use.
type progressLine struct {
	mu          sync.Mutex
	w           io.Writer
	tty         bool
	log         *slog.Logger
	offTTY      time.Duration
	label, unit string
	last        time.Time
	drawn       bool
	final       bool // the final state was rendered
}

func newProgressLine(w io.Writer, label, unit string, offTTY time.Duration, log *slog.Logger) *progressLine {
	p := &progressLine{w: w, label: label, unit: unit, offTTY: offTTY, log: log}
	if f, ok := w.(*os.File); ok {
		st, err := f.Stat()
		p.tty = err == nil && st.Mode()&os.ModeCharDevice != 0
	}
	return p
}

// show renders done of total units, with detail after them.
func (p *progressLine) show(done, total int64, detail string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	every := p.offTTY
	if p.tty {
		every = 100 * time.Millisecond
	}
	now := time.Now()
	final := done >= total
	if every == 0 || (final && p.final) || (!final && now.Sub(p.last) < every) {
		return
	}
	p.last, p.final = now, final
	switch {
	case p.tty:
		n := int(30 * float64(done) / float64(max(total, 1)))
		fmt.Fprintf(p.w, "\r%s [%s%s] %d/%d %s %s ", p.label, strings.Repeat("#", n), strings.Repeat(".", 30-n), done, total, p.unit, detail)
		p.drawn = true
	case p.log != nil:
		p.log.Info(p.label+" progress", "done", done, "total", total, "unit", p.unit, "detail", detail)
	default:
		fmt.Fprintf(p.w, "%s: %d/%d %s, %s\n", p.label, done, total, p.unit, detail)
	}
}

// finish clears a drawn bar.
func (p *progressLine) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}
