package stream

import (
	"sync/atomic"
	"time"
)

// Progress lets a health check see whether the pipeline moves: when a
// write was last acknowledged, and how much fetched work waits. One value
// outlives the consumer group's generations. Safe for concurrent use.
type Progress struct {
	last  atomic.Int64 // Unix nanoseconds of the last acknowledged write, or of the start
	track atomic.Pointer[tracker]
}

func (pr *Progress) touch() {
	if pr != nil {
		pr.last.Store(time.Now().UnixNano())
	}
}

func (pr *Progress) running(t *tracker) {
	if pr != nil {
		pr.track.Store(t)
		pr.touch()
	}
}

// Stalled reports whether samples have waited for longer than after with
// no write acknowledged, how many, and for how long nothing was written.
func (pr *Progress) Stalled(now time.Time, after time.Duration) (stalled bool, pending int, idle time.Duration) {
	if pr == nil {
		return false, 0, 0
	}
	t := pr.track.Load()
	if t == nil {
		return false, 0, 0
	}
	idle = now.Sub(time.Unix(0, pr.last.Load()))
	if idle < after {
		return false, 0, idle
	}
	_, pending = t.outstanding()
	return pending > 0, pending, idle
}
