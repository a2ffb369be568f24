// Package lograte bounds how often a recurring problem is logged: one line
// per period, with how many occurrences were held back since; Keyed keeps
// one such bound per kind of problem. Safe for concurrent use.
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

// Keyed lets one occurrence of each key through per Period, so that a
// burst of one problem does not hide the first of another. Each key's
// bound is kept: keys must come from a small fixed set (reasons, not
// series).
type Keyed struct {
	Period time.Duration

	mu    sync.Mutex
	byKey map[string]*Limiter
}

// Allow reports whether to log an occurrence of key now, and how many of
// key were held back since its last line.
func (k *Keyed) Allow(key string) (bool, int) {
	k.mu.Lock()
	l, ok := k.byKey[key]
	if !ok {
		if k.byKey == nil {
			k.byKey = map[string]*Limiter{}
		}
		l = &Limiter{Period: k.Period}
		k.byKey[key] = l
	}
	k.mu.Unlock()
	return l.Allow()
}
