// Package lograte bounds how often a recurring problem is logged: one line
// per period, with how many occurrences were held back since. Safe for
// concurrent use.
package lograte

import (
	"sync"
	"time"
)

// Limiter lets one occurrence through per Period.
type Limiter struct {
	Period time.Duration

	mu   sync.Mutex
	last time.Time
	held int
}

// Allow reports whether to log now, and how many were held back since the
// last line.
func (l *Limiter) Allow() (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now := time.Now(); l.last.IsZero() || now.Sub(l.last) >= l.Period {
		n := l.held
		l.last, l.held = now, 0
		return true, n
	}
	l.held++
	return false, 0
}
