package stream

import (
	"testing"

	"github.com/aewatch/aewatch/detector"
)

// TestSnapshotCoversRestoredState: a detector restored from a checkpoint
// at offset 100 while its partition is re-read from 40 (the commit lagged
// the checkpoint) is snapshotted at 100, not at the fetch position 50: a
// restore from offset 50 would feed it messages 51-100 again, which its
// state already holds.
func TestSnapshotCoversRestoredState(t *testing.T) {
	d, err := detector.New(detector.DefaultConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	part := partitionKey{"in", 3}
	dets := map[string]*seriesState{
		"restored": {det: d, series: "restored", part: part, skipUpTo: 100},
		"fresh":    {det: d, series: "fresh", part: part, skipUpTo: -1},
	}
	p := &Pipeline{}
	got := map[string]int64{}
	for _, c := range p.snapshot(dets, map[partitionKey]int64{part: 50}) {
		got[c.Key] = c.Offset
	}
	if got["restored"] != 100 || got["fresh"] != 50 {
		t.Errorf("checkpoint offsets %v, want restored 100 (its state's) and fresh 50 (the round's)", got)
	}
}
