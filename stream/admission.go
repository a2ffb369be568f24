package stream

import (
	"sync"
	"time"
)

// admission paces the creation of brand-new detectors to a rate, with a
// burst of one second's worth: a flood of new series (one 1 MB message of
// 20,000 names) waits its turn instead of taking the memory and the shards
// at once. Series restored from a checkpoint are not paced. A shard does
// not wait for an admission while it has other work: the samples of a
// series waiting for its admission are set aside in arrival order and the
// shard goes on with the series it has (admit.go). Safe for concurrent
// use by the shards.
type admission struct {
	mu     sync.Mutex
	rate   float64 // per second; 0: unpaced
	tokens float64
	last   time.Time
}

func newAdmission(rate int) *admission {
	return &admission{rate: float64(rate), tokens: float64(rate), last: time.Now()}
}

// paced reports whether admissions are paced at all.
func (a *admission) paced() bool { return a != nil && a.rate > 0 }

// tryTake takes n admissions if they are due now (n beyond a second's
// worth once a second's worth is), else none; due is how long until they
// are.
func (a *admission) tryTake(n int) (ok bool, due time.Duration) {
	if !a.paced() {
		return true, 0
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	a.tokens = min(a.rate, a.tokens+now.Sub(a.last).Seconds()*a.rate)
	a.last = now
	want := min(float64(n), a.rate)
	if a.tokens < want {
		return false, time.Duration((want - a.tokens) / a.rate * float64(time.Second))
	}
	a.tokens -= float64(n)
	return true, 0
}

// take takes n admissions, sleeping until they are due.
func (a *admission) take(n int) {
	for {
		ok, due := a.tryTake(n)
		if ok {
			return
		}
		time.Sleep(due)
	}
}
