package stream

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aewatch/aewatch/detector"
)

func TestSilencesRegistry(t *testing.T) {
	s := NewSilences()
	now := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	win := func(id, series, from, to string) SilenceEntry {
		return SilenceEntry{ID: id, Silence: detector.Silence{Series: series, From: from, To: to}}
	}
	if err := s.Add(win("a", "pump-*", "2024-03-01T13:00:00Z", "2024-03-01T14:00:00Z"), now); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(win("b", "", "2024-03-01T08:00:00Z", "2024-03-01T09:00:00Z"), now); err != nil {
		t.Fatal(err)
	}
	v := s.Version()
	if got := s.For("pump-2"); len(got) != 2 {
		t.Errorf("For(pump-2) = %v, want both windows", got)
	}
	if got := s.For("fan"); len(got) != 1 {
		t.Errorf("For(fan) = %v, want the one for every series", got)
	}
	if l := s.List(); len(l) != 2 || l[0].ID != "b" {
		t.Errorf("List = %v, want b (earlier) first", l)
	}
	for _, c := range []struct {
		e    SilenceEntry
		want string
	}{
		{win("bad id", "", "2024-03-01T08:00:00Z", "2024-03-01T09:00:00Z"), `id: 1-64 letters, digits, '-' or '_' (got "bad id")`},
		{win("c", "", "2024-03-01T09:00:00Z", "2024-03-01T08:00:00Z"), "to: must be after from=2024-03-01T09:00:00Z (got 2024-03-01T08:00:00Z)"},
	} {
		if err := s.Add(c.e, now); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Add(%+v): %v, want %q", c.e, err, c.want)
		}
	}
	if s.Version() != v {
		t.Error("a refused window changed the version")
	}
	if !s.Remove("a") || s.Remove("a") || s.Version() == v {
		t.Error("Remove: want true once, then false, and a new version")
	}
}

// TestSilencesBounded: at MaxSilences an ended window makes room; with
// none ended a new one is refused.
func TestSilencesBounded(t *testing.T) {
	s := NewSilences()
	now := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range MaxSilences {
		e := SilenceEntry{ID: "w" + strconv.Itoa(i),
			Silence: detector.Silence{From: "2024-03-01T13:00:00Z", To: "2024-03-01T14:00:00Z"}}
		if i == 0 {
			e.From, e.To = "2024-03-01T08:00:00Z", "2024-03-01T09:00:00Z" // ended
		}
		if err := s.Add(e, now); err != nil {
			t.Fatalf("window %d: %v", i, err)
		}
	}
	next := SilenceEntry{ID: "next", Silence: detector.Silence{From: "2024-03-01T13:00:00Z", To: "2024-03-01T14:00:00Z"}}
	if err := s.Add(next, now); err != nil {
		t.Fatalf("with an ended window to drop: %v", err)
	}
	next.ID = "more"
	if err := s.Add(next, now); err == nil || !strings.Contains(err.Error(), "too many maintenance windows are set (10000, none ended)") {
		t.Errorf("with none ended: %v", err)
	}
}
