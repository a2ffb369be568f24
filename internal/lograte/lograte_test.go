package lograte

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	l := &Limiter{Period: time.Hour}
	if ok, held := l.Allow(); !ok || held != 0 {
		t.Fatalf("first: %v %d, want true 0", ok, held)
	}
	for range 5 {
		if ok, _ := l.Allow(); ok {
			t.Fatal("a second line within the period")
		}
	}
	l.last = time.Now().Add(-2 * time.Hour)
	if ok, held := l.Allow(); !ok || held != 5 {
		t.Fatalf("after the period: %v %d, want true 5", ok, held)
	}
}
