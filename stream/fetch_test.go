package stream

import (
	"strings"
	"testing"
	"time"

	"github.com/aewatch/aewatch/stream/codec"
)

func TestCheckTimes(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	c := DefaultPipelineConfig()
	at := func(tm time.Time) []codec.Sample { return []codec.Sample{{Series: "p", Time: tm.UnixNano()}} }
	if err := checkTimes(at(now.Add(59*time.Minute)), time.Time{}, now, c); err != nil {
		t.Errorf("59 min ahead of the clock, max_future 1h: %v", err)
	}
	if err := checkTimes(at(now.Add(2*time.Hour)), time.Time{}, now, c); codec.ReasonOf(err) != codec.ReasonBadTime || !strings.Contains(err.Error(), "pipeline.max_future=1h0m0s") {
		t.Errorf("2 h ahead: got %v, want bad_time naming pipeline.max_future", err)
	}
	// A record from the future (a producer's clock ahead) moves the bound.
	if err := checkTimes(at(now.Add(2*time.Hour)), now.Add(90*time.Minute), now, c); err != nil {
		t.Errorf("30 min after a record 90 min ahead: %v", err)
	}
	if err := checkTimes(at(time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)), now, now, c); codec.ReasonOf(err) != codec.ReasonBadTime {
		t.Errorf("2099: got %v, want bad_time", err)
	}
	if err := checkTimes(at(time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)), now, now, c); err != nil {
		t.Errorf("1990 with max_past unset (replays): %v", err)
	}
	c.MaxPast = 24 * time.Hour
	if err := checkTimes(at(now.Add(-48*time.Hour)), now, now, c); codec.ReasonOf(err) != codec.ReasonBadTime || !strings.Contains(err.Error(), "pipeline.max_past=24h0m0s") {
		t.Errorf("2 days old with max_past 24h: got %v, want bad_time naming pipeline.max_past", err)
	}
}
