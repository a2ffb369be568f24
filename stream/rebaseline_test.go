package stream

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestRebaselinesQueue(t *testing.T) {
	q := NewRebaselines()
	if _, ok := q.take("a"); ok {
		t.Fatal("empty queue gave a request")
	}
	if _, err := q.Request(RebaselineRequest{}); err == nil || !strings.Contains(err.Error(), "series: required") {
		t.Fatalf("empty series: %v", err)
	}
	if _, err := q.Request(RebaselineRequest{Series: strings.Repeat("x", 2000)}); err == nil || !strings.Contains(err.Error(), "got 2000") {
		t.Fatalf("long series: %v", err)
	}
	if _, err := q.Request(RebaselineRequest{Series: "misspelled"}); !errors.Is(err, ErrUnknownSeries) || !strings.Contains(err.Error(), `"misspelled"`) {
		t.Fatalf("unknown series: %v, want ErrUnknownSeries naming it", err)
	}
	q.Seen("a")
	if known, err := q.Request(RebaselineRequest{Series: "a", Source: "first"}); !known || err != nil {
		t.Fatalf("known %v, err %v", known, err)
	}
	if known, _ := q.Request(RebaselineRequest{Series: "a", Source: "second"}); !known {
		t.Fatal("a is known")
	}
	r, ok := q.take("a")
	if !ok || r.Source != "second" {
		t.Fatalf("took %+v %v, want the newer request", r, ok)
	}
	if _, ok := q.take("a"); ok {
		t.Fatal("a request was taken twice")
	}
	q.requeue(r)
	if r2, ok := q.take("a"); !ok || r2.Source != r.Source {
		t.Fatal("requeued request lost")
	}
	// Requests waiting together merge: channels add up; every channel
	// covers all.
	q.Request(RebaselineRequest{Series: "a", Channel: "temp"})
	q.Request(RebaselineRequest{Series: "a", Channel: "flow"})
	if r, _ := q.take("a"); !r.wants("temp") || !r.wants("flow") || r.wants("pressure") {
		t.Errorf("temp then flow merged to %q", r.ChannelList())
	}
	q.Request(RebaselineRequest{Series: "a"})
	q.Request(RebaselineRequest{Series: "a", Channel: "flow"})
	if r, _ := q.take("a"); !r.wants("pressure") {
		t.Errorf("every channel then flow merged to %q, want every channel", r.ChannelList())
	}
	for i := 0; i < MaxPendingRebaselines; i++ {
		q.Seen(fmt.Sprintf("s%d", i))
		if _, err := q.Request(RebaselineRequest{Series: fmt.Sprintf("s%d", i)}); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	q.Seen("one too many")
	if _, err := q.Request(RebaselineRequest{Series: "one too many"}); !errors.Is(err, ErrTooManyRebaselines) {
		t.Fatalf("over the bound: %v", err)
	}
	var nilQueue *Rebaselines
	nilQueue.Seen("x") // replay runs without a queue
	if _, ok := nilQueue.take("x"); ok {
		t.Fatal("nil queue gave a request")
	}
}

// TestRebaselineOfAnUnknownChannel: a request naming a channel the series
// has not had here is refused at once (it would wait for a sample that
// never comes), naming the channels it has; a series whose checkpoint of
// several channels is loaded but not yet read takes any channel until its
// detector names them.
func TestRebaselineOfAnUnknownChannel(t *testing.T) {
	q := NewRebaselines()
	q.Seen("pump7", "temp")
	q.Seen("pump7", "flow")
	if _, err := q.Request(RebaselineRequest{Series: "pump7", Channel: "flow"}); err != nil {
		t.Fatalf("a channel seen: %v", err)
	}
	_, err := q.Request(RebaselineRequest{Series: "pump7", Channel: "tmep"})
	if !errors.Is(err, ErrUnknownChannel) || !strings.Contains(err.Error(), `"tmep"`) || !strings.Contains(err.Error(), "temp, flow") {
		t.Fatalf("a misspelled channel: %v, want ErrUnknownChannel naming it and the series' channels", err)
	}
	if r, _ := q.take("pump7"); r.wants("tmep") {
		t.Error("the refused channel was queued")
	}
	q.Seen("press3") // a checkpoint of several channels, loaded
	if _, err := q.Request(RebaselineRequest{Series: "press3", Channel: "p_in"}); err != nil {
		t.Fatalf("a loaded checkpoint's series: %v, want any channel taken", err)
	}
	q.Seen("press3", "p_in", "p_out") // its detector built from the checkpoint
	if _, err := q.Request(RebaselineRequest{Series: "press3", Channel: "p_mid"}); !errors.Is(err, ErrUnknownChannel) {
		t.Fatalf("a channel beyond the built detector's: %v, want ErrUnknownChannel", err)
	}
}
