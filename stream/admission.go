package stream

import (
	"sync"
	"time"
)

// admission paces the creation of brand-new detectors to a rate, with a
// burst of one second's worth: a flood of new series (one 1 MB message of
// 20,000 names) waits its turn instead of taking the memory and the shards
// at once. Series restored from a checkpoint are not paced. Safe for
// concurrent use by the shards.
type admission struct {
	mu     sync.Mutex
	rate   float64 // per second; 0: unpaced
	tokens float64
	last   time.Time
}

func newAdmission(rate int) *admission {
	return &admission{rate: float64(rate), tokens: float64(rate), last: time.Now()}
}

// wait takes one admission, sleeping until one is due; it reports whether
// it had to wait.
func (a *admission) wait() bool {
	if a == nil || a.rate == 0 {
		return false
	}
	a.mu.Lock()
	now := time.Now()
	a.tokens = min(a.rate, a.tokens+now.Sub(a.last).Seconds()*a.rate)
	a.last = now
	a.tokens--
	debt := a.tokens
	a.mu.Unlock()
	if debt >= 0 {
		return false
	}
	time.Sleep(time.Duration(-debt / a.rate * float64(time.Second)))
	return true
}
