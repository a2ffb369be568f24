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

func TestKeyed(t *testing.T) {
	var k Keyed
	k.Period = time.Hour
	if ok, held := k.Allow("malformed"); !ok || held != 0 {
		t.Fatalf("first malformed: %v %d, want true 0", ok, held)
	}
	for range 3 {
		if ok, _ := k.Allow("malformed"); ok {
			t.Fatal("a second malformed line within the period")
		}
	}
	if ok, held := k.Allow("bad_name"); !ok || held != 0 {
		t.Fatalf("the first bad_name after a burst of malformed: %v %d, want true 0", ok, held)
	}
	if ok, _ := k.Allow("bad_name"); ok {
		t.Fatal("a second bad_name line within the period")
	}
	k.byKey["malformed"].last = time.Now().Add(-2 * time.Hour)
	if ok, held := k.Allow("malformed"); !ok || held != 3 {
		t.Fatalf("malformed after the period: %v %d, want true 3 (bad_name's not counted)", ok, held)
	}
}
