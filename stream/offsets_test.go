package stream

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestTrackerCommitsOnlyDonePrefixes: samples acknowledged in any order,
// offsets with gaps, messages with no samples and a message fetched again:
// the commit point is always the last offset of the fully acknowledged
// prefix, also across the queue's compaction.
func TestTrackerCommitsOnlyDonePrefixes(t *testing.T) {
	tr := newTracker()
	part := partitionKey{"sensors", 3}
	r := rand.New(rand.NewPCG(1, 2))
	type msg struct {
		off  int64
		left int
	}
	var msgs []msg
	off := int64(100)
	for range 5000 {
		off += 1 + int64(r.IntN(3)) // compaction leaves gaps
		n := r.IntN(3)              // 0: nothing to write
		msgs = append(msgs, msg{off, n})
		tr.add(msgRef{part, off}, n, 0)
	}
	tr.add(msgRef{part, msgs[10].off}, msgs[10].left, 0) // fetched again
	// Acknowledge every sample, in random order, checking the commit point
	// after each batch.
	var refs []msgRef
	for _, m := range msgs {
		for range m.left {
			refs = append(refs, msgRef{part, m.off})
		}
	}
	r.Shuffle(len(refs), func(i, j int) { refs[i], refs[j] = refs[j], refs[i] })
	left := map[int64]int{}
	for _, m := range msgs {
		left[m.off] = m.left
	}
	for len(refs) > 0 {
		n := min(len(refs), 1+r.IntN(50))
		tr.done(refs[:n])
		for _, ref := range refs[:n] {
			left[ref.offset]--
		}
		refs = refs[n:]
		want := int64(-1)
		for _, m := range msgs {
			if left[m.off] > 0 {
				break
			}
			want = m.off
		}
		if got := tr.parts[part].committed; got != want {
			t.Fatalf("with %d samples left: commit point %d, want %d", len(refs), got, want)
		}
	}
	if got := tr.committable()[part]; got != msgs[len(msgs)-1].off {
		t.Fatalf("committable %d, want the last offset %d", got, msgs[len(msgs)-1].off)
	}
}

// TestTrackerTimesEachMessage: each message with samples is timed once,
// when its last sample is acknowledged, from its fetch and from its
// record's timestamp (an hour before the fetch here; a record without one
// is not aged); messages without samples are not timed; the times survive
// the queue's compaction.
func TestTrackerTimesEachMessage(t *testing.T) {
	tr := newTracker()
	var got, ages []time.Duration
	tr.latency = func(d time.Duration) { got = append(got, d) }
	tr.age = func(d time.Duration) { ages = append(ages, d) }
	part := partitionKey{"sensors", 0}
	hourAgo := time.Now().Add(-time.Hour).UnixNano()
	for off := range int64(3000) {
		stamp := hourAgo
		if off == 1 {
			stamp = 0
		}
		tr.add(msgRef{part, off}, int(off%3), stamp) // every third message has no sample
	}
	time.Sleep(20 * time.Millisecond)
	var refs []msgRef
	for off := range int64(3000) {
		for range off % 3 {
			refs = append(refs, msgRef{part, off})
		}
	}
	tr.done(refs[:len(refs)/2])
	tr.done(refs[len(refs)/2:])
	if len(got) != 2000 {
		t.Fatalf("%d messages timed, want the 2000 with samples", len(got))
	}
	for _, d := range got {
		if d < 20*time.Millisecond || d > time.Minute {
			t.Fatalf("a message timed at %v, want at least the 20 ms it waited", d)
		}
	}
	if len(ages) != 1999 {
		t.Fatalf("%d messages aged, want the 1999 with samples and a timestamp", len(ages))
	}
	for _, d := range ages {
		if d < time.Hour || d > time.Hour+time.Minute {
			t.Fatalf("a record aged %v, want the hour since its timestamp and the wait", d)
		}
	}
}
