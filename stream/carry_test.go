package stream

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestCarryKeepsOnlyWhatResumesExactly: the next generation keeps a
// partition only if it still owns it and starts reading it at the offset
// the kept state covers to, and only right after the generation that
// handed it over; it keeps that partition's detectors, unused checkpoints
// and parked locations, and never overrides a checkpoint it loaded.
func TestCarryKeepsOnlyWhatResumesExactly(t *testing.T) {
	p0, p1, p2 := partitionKey{"in", 0}, partitionKey{"in", 1}, partitionKey{"in", 2}
	old := &shardState{id: 0,
		dets: map[string]*seriesState{"a": {key: "a", series: "a", part: p0}, "b": {key: "b", series: "b", part: p1}},
		restore: map[string]Checkpoint{"c": {Key: "c", Topic: "in", Partition: 0, State: []byte{1}},
			"d": {Key: "d", Topic: "in", Partition: 1, State: []byte{2}}},
		evicted:  map[string]parked{"e": {Locator{0, 7}, p0}, "f": {Locator{1, 8}, p1}},
		deferred: map[string]parked{"g": {Locator{0, 9}, p0}},
	}
	c := &carried{generation: 5, next: map[partitionKey]int64{p0: 100, p1: 200, p2: -1}, shards: []*shardState{old}}

	if c.keep(7, map[partitionKey]int64{p0: 100}) != nil {
		t.Error("kept state across a generation this member missed")
	}
	kept := c.keep(6, map[partitionKey]int64{p0: 100, p1: 150, partitionKey{"in", 3}: 0})
	if kept == nil || len(kept.next) != 1 || !kept.owns("in", 0) {
		t.Fatalf("kept %v; want partition 0 only (1 resumes elsewhere, 2 is gone, 3 is new)", kept)
	}

	p := &Pipeline{o: Options{Metrics: NewMetrics(prometheus.NewRegistry())}}
	loaded := Checkpoint{Key: "c", Topic: "in", Partition: 0, State: []byte{9}}
	sh := &shardState{id: 0, dets: map[string]*seriesState{}, restore: map[string]Checkpoint{"c": loaded},
		evicted: map[string]parked{}, deferred: map[string]parked{}}
	kept.handTo(sh, p)
	if _, ok := sh.dets["a"]; !ok || len(sh.dets) != 1 {
		t.Errorf("detectors handed over: %v; want a (partition 0) only", sh.dets)
	}
	if len(sh.restore) != 1 || sh.restore["c"].State[0] != 9 {
		t.Errorf("checkpoints: %v; want the loaded c kept, d (partition 1) not handed over", sh.restore)
	}
	if _, ok := sh.evicted["e"]; !ok || len(sh.evicted) != 1 || len(sh.deferred) != 1 {
		t.Errorf("parked: evicted %v deferred %v; want e and g (partition 0)", sh.evicted, sh.deferred)
	}
	if n := p.live.Load(); n != 1 {
		t.Errorf("live series %d after the hand-over, want 1", n)
	}
}
