package stream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/segmentio/kafka-go"

	"github.com/aewatch/aewatch/detector"
	"github.com/aewatch/aewatch/internal/testsvc"
)

// checkpointTopic starts a broker with input topic "in" of the given
// partitions and returns a store on its (created, empty) checkpoint topic.
func checkpointTopic(t *testing.T, partitions int32) *KafkaCheckpoints {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a broker")
	}
	brokers := testsvc.Kafka(t, partitions, "in")
	k := &KafkaCheckpoints{Conn: PlainConn([]string{brokers}), Topic: "in-checkpoints", Partitions: int(partitions), MaxBatchBytes: 1 << 20}
	t.Cleanup(func() { k.Close() })
	if _, err := k.Load(context.Background(), nil); err != nil { // creates the topic
		t.Fatal(err)
	}
	return k
}

// TestLargeCheckpoints against a Kafka-protocol broker: checkpoints of
// several MB (a multivariate detector of many channels) are saved as
// chunks under a 1 MiB record limit, loaded back equal beside small ones,
// and an evicted one is fetched back equal.
func TestLargeCheckpoints(t *testing.T) {
	k := checkpointTopic(t, 2)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 2))
	state := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	want := map[string]Checkpoint{
		"big":    {Key: "big", Topic: "in", Partition: 0, Offset: 41, State: state(3<<20 + 17)},
		"small":  {Key: "small", Topic: "in", Partition: 1, Offset: 7, State: state(900)},
		"edge":   {Key: "edge", Topic: "in", Partition: 1, Offset: 8, State: state(1<<20 - 200)},
		"s\x00c": {Key: "s\x00c", Topic: "in", Partition: 0, Offset: 9, State: state(2 << 20)},
	}
	var cps []Checkpoint
	for _, c := range want {
		cps = append(cps, c)
	}
	if err := k.Save(ctx, cps); err != nil {
		t.Fatal(err)
	}
	// A second round with other states: the newest wins.
	next := want["big"]
	next.Offset, next.State = 99, state(5<<20)
	want["big"] = next
	if err := k.Save(ctx, []Checkpoint{next}); err != nil {
		t.Fatal(err)
	}
	got, err := k.Load(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("loaded %d checkpoints, want %d", len(got), len(want))
	}
	for key, w := range want {
		g := got[key]
		if g.Offset != w.Offset || g.Partition != w.Partition || !bytes.Equal(g.State, w.State) {
			t.Errorf("%q: loaded offset %d, %d bytes; want offset %d, %d bytes", key, g.Offset, len(g.State), w.Offset, len(w.State))
		}
	}
	ev := Checkpoint{Key: "parked", Topic: "in", Partition: 1, Offset: 3, State: state(2<<20 + 5)}
	at, err := k.Evict(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	back, err := k.Fetch(ctx, "parked", at)
	if err != nil || !bytes.Equal(back.State, ev.State) || back.Offset != ev.Offset {
		t.Fatalf("evicted %d bytes, fetched %d (%v)", len(ev.State), len(back.State), err)
	}
}

func TestAssembleRefusesMismatch(t *testing.T) {
	v := []byte("0123456789")
	parts := chunked("k", append([]byte(nil), v...), len("k")+len(chunkSep)+10+len(chunkMagic)+recordOverhead+4)
	var raw [][]byte
	for _, p := range parts {
		raw = append(raw, p[len(chunkMagic):])
	}
	mf := manifest{chunks: len(raw), length: len(v), crc: crc32Of(v)}
	if got, err := assemble(mf, raw); err != nil || string(got) != string(v) {
		t.Fatalf("assemble: %q %v", got, err)
	}
	raw[1] = []byte("xxxx")
	if _, err := assemble(mf, raw); err == nil {
		t.Error("a changed chunk was accepted")
	}
	if _, err := assemble(mf, raw[:1]); err == nil {
		t.Error("a missing chunk was accepted")
	}
}

// oneCheckpointSaved starts a broker with input topic "in" (one
// partition) and returns it, a store on its checkpoint topic logging to
// log (nil: none), and the one checkpoint saved there.
func oneCheckpointSaved(t *testing.T, log *slog.Logger) (*kfake.Cluster, *KafkaCheckpoints, Checkpoint) {
	t.Helper()
	cluster := testsvc.KafkaCluster(t, 1, []string{"in"})
	k := &KafkaCheckpoints{Conn: PlainConn([]string{cluster.ListenAddrs()[0]}), Topic: "in-checkpoints", Partitions: 1, MaxBatchBytes: 1 << 20, Log: log}
	t.Cleanup(func() { k.Close() })
	ctx := context.Background()
	if _, err := k.Load(ctx, nil); err != nil { // creates the topic
		t.Fatal(err)
	}
	cp := Checkpoint{Key: "s", Topic: "in", Partition: 0, Offset: 5, State: []byte("state")}
	if err := k.Save(ctx, []Checkpoint{cp}); err != nil {
		t.Fatal(err)
	}
	return cluster, k, cp
}

// listOffsetsAnswer answers every partition req asks about with the offset
// and error code answer gives for the timestamp it asks (-1: the end).
func listOffsetsAnswer(req *kmsg.ListOffsetsRequest, answer func(timestamp int64) (offset int64, code int16)) *kmsg.ListOffsetsResponse {
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition, sp.Timestamp = rp.Partition, rp.Timestamp
			sp.Offset, sp.ErrorCode = answer(rp.Timestamp)
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// TestCheckpointLoadRetriesBrokerErrors: a broker that answers the first
// fetch of the checkpoint topic with an error (56, KAFKA_STORAGE_ERROR):
// Load retries and returns every checkpoint, where it used to return the
// error and end `aewatch run`.
func TestCheckpointLoadRetriesBrokerErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a broker")
	}
	cluster, k, want := oneCheckpointSaved(t, nil)
	ctx := context.Background()
	var failed atomic.Int32
	cluster.ControlKey(int16(kmsg.Fetch), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		req := kreq.(*kmsg.FetchRequest)
		if len(req.Topics) == 0 || req.Topics[0].Topic != k.Topic {
			cluster.KeepControl()
			return nil, nil, false
		}
		failed.Add(1)
		return testsvc.FetchError(req, testsvc.KafkaStorageError), nil, true // handled once: the control is dropped
	})
	got, err := k.Load(ctx, nil)
	if err != nil {
		t.Fatalf("Load after one failed fetch: %v", err)
	}
	if failed.Load() != 1 {
		t.Fatalf("%d fetches of the checkpoint topic failed, want 1: the test tested nothing", failed.Load())
	}
	if g := got["s"]; g.Offset != want.Offset || !bytes.Equal(g.State, want.State) {
		t.Errorf("loaded %+v, want %+v", g, want)
	}
	// ListOffsets answered with a partition error (6,
	// NOT_LEADER_OR_FOLLOWER, as in a leader election): the partition was
	// skipped as empty, and its series started fresh.
	var refused atomic.Int32
	cluster.ControlKey(int16(kmsg.ListOffsets), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		refused.Add(1)
		return listOffsetsAnswer(kreq.(*kmsg.ListOffsetsRequest), func(int64) (int64, int16) { return -1, 6 }), nil, true
	})
	// And a dropped connection under the next one.
	cluster.ControlKey(int16(kmsg.ListOffsets), func(kmsg.Request) (kmsg.Response, error, bool) {
		refused.Add(1)
		return nil, errors.New("connection dropped"), true
	})
	got, err = k.Load(ctx, nil)
	if err != nil || refused.Load() < 2 {
		t.Fatalf("Load after failed ListOffsets (%d failed): %v", refused.Load(), err)
	}
	if g := got["s"]; g.Offset != want.Offset || !bytes.Equal(g.State, want.State) {
		t.Errorf("after failed ListOffsets: loaded %+v, want %+v", g, want)
	}
}

// TestCheckpointLoadWaitsForASlowBroker: a broker that answers every fetch
// 300 ms late: the checkpoints load, where the load's partition reader
// redialled on every answer until its 30 s stall limit ended the run.
func TestCheckpointLoadWaitsForASlowBroker(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a broker")
	}
	cluster, k, want := oneCheckpointSaved(t, nil)
	slowed := slowFetches(cluster, 300*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	got, err := k.Load(ctx, nil)
	if err != nil {
		t.Fatalf("Load against a slow broker: %v", err)
	}
	if slowed.Load() == 0 {
		t.Fatal("no fetch was slowed: the test tested nothing")
	}
	if g := got["s"]; g.Offset != want.Offset || !bytes.Equal(g.State, want.State) {
		t.Errorf("loaded %+v, want %+v", g, want)
	}
}

// TestCheckpointLoadEndsAStalledRead: a broker whose ListOffsets puts the
// checkpoint partition's end 5 records beyond its last (records it never
// serves): the read waits checkpointReadStall for them, fails, and the
// retry, told the real end, loads the checkpoint, where the load used to
// wait for ever and hold the generation.
func TestCheckpointLoadEndsAStalledRead(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a broker")
	}
	defer func(d time.Duration) { checkpointReadStall = d }(checkpointReadStall)
	checkpointReadStall = 300 * time.Millisecond
	var logged bytes.Buffer
	cluster, k, want := oneCheckpointSaved(t, slog.New(slog.NewTextHandler(&logged, nil)))
	ctx := context.Background()
	var stretched atomic.Int32
	cluster.ControlKey(int16(kmsg.ListOffsets), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		req := kreq.(*kmsg.ListOffsetsRequest)
		asksEnd := false
		for _, rt := range req.Topics {
			for _, rp := range rt.Partitions {
				asksEnd = asksEnd || rp.Timestamp == -1
			}
		}
		if !asksEnd { // the first offsets come in a request of their own
			cluster.KeepControl()
			return nil, nil, false
		}
		stretched.Add(1)
		cluster.DropControl() // once: the retry is told the real end
		return listOffsetsAnswer(req, func(timestamp int64) (int64, int16) {
			if timestamp == -1 { // one record saved, and 5 that never come
				return 6, 0
			}
			return 0, 0
		}), nil, true
	})
	start := time.Now()
	got, err := k.Load(ctx, nil)
	if err != nil {
		t.Fatalf("Load after a stalled read: %v\n%s", err, logged.String())
	}
	if stretched.Load() != 1 {
		t.Fatalf("%d ListOffsets stretched, want 1: the test tested nothing", stretched.Load())
	}
	if g := got["s"]; g.Offset != want.Offset || !bytes.Equal(g.State, want.State) {
		t.Errorf("loaded %+v, want %+v", g, want)
	}
	if !strings.Contains(logged.String(), "no record for 300ms before offset 6") {
		t.Errorf("the stall is not in the log:\n%s", logged.String())
	}
	t.Logf("loaded after a stalled read in %v", time.Since(start).Round(time.Millisecond))
}

// TestLoadDefersBeyondRestoreBytes: with room for three states, Load holds
// at most three (and the chunked one, whose manifest does not locate its
// chunks) and returns the rest as where they lie; each is read back with Fetch as
// the newest state of its key.
func TestLoadDefersBeyondRestoreBytes(t *testing.T) {
	k := checkpointTopic(t, 3)
	ctx := context.Background()
	state := func(key string, n, version int) []byte {
		return bytes.Repeat([]byte(fmt.Sprintf("%s/%d;", key, version)), n)[:n]
	}
	want := map[string]Checkpoint{}
	for version := range 2 { // the newest wins, and only it counts against the bound
		var cps []Checkpoint
		for i := range 12 {
			key := fmt.Sprintf("s%d", i)
			c := Checkpoint{Key: key, Topic: "in", Partition: i % 3, Offset: int64(10*version + i), State: state(key, 100<<10, version)}
			cps, want[key] = append(cps, c), c
		}
		if err := k.Save(ctx, cps); err != nil {
			t.Fatal(err)
		}
	}
	wide := Checkpoint{Key: "wide", Topic: "in", Partition: 0, Offset: 77, State: state("wide", 3<<20, 0)}
	if err := k.Save(ctx, []Checkpoint{wide}); err != nil {
		t.Fatal(err)
	}
	want["wide"] = wide
	k.RestoreBytes = 3*(100<<10) + 1000
	got, err := k.Load(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	held, deferred := 0, 0 // bytes of the states held besides the wide one; locators
	for key, w := range want {
		g, ok := got[key]
		if !ok {
			t.Fatalf("%s: not loaded", key)
		}
		if g.State == nil {
			if g.At == nil {
				t.Fatalf("%s: neither state nor locator", key)
			}
			deferred++
			if g, err = k.Fetch(ctx, key, *g.At); err != nil {
				t.Fatalf("%s: %v", key, err)
			}
		} else if key != "wide" {
			held += len(g.State)
		}
		if g.Offset != w.Offset || !bytes.Equal(g.State, w.State) {
			t.Errorf("%s: offset %d, %d bytes; want the newest, offset %d", key, g.Offset, len(g.State), w.Offset)
		}
	}
	if got["wide"].State == nil || int64(held) > k.RestoreBytes || deferred < 9 {
		t.Errorf("%d bytes held besides the wide one (held: %v), %d deferred; want at most %d bytes and the wide one, at least 9 deferred",
			held, got["wide"].State != nil, deferred, k.RestoreBytes)
	}
}

// TestLoadReadsOnlyWantedPartitions: knowing the input topics, Load reads
// only the checkpoint partitions of the input partitions it is asked for,
// and partition 0 for the maintenance windows alone: a record that does not
// decode in another partition, or among partition 0's checkpoints, is
// never seen. Without them it reads all.
func TestLoadReadsOnlyWantedPartitions(t *testing.T) {
	k := checkpointTopic(t, 3)
	ctx := context.Background()
	saveSpread(t, k, 6, 3)
	// Undecodable records in partition 2 (not wanted) and in partition 0
	// (read only for the maintenance windows): neither is decoded.
	for _, p := range []int{2, 0} {
		if _, err := k.produce(ctx, p, fmt.Sprintf("junk%d", p), []byte("not a checkpoint")); err != nil {
			t.Fatal(err)
		}
	}
	window := &SilenceEntry{Silence: detector.Silence{Series: "s*", From: "2030-01-01T00:00:00Z", To: "2030-01-02T00:00:00Z"}}
	if err := k.SaveSilence(ctx, "w1", window); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	k.Log = slog.New(slog.NewTextHandler(&logs, nil))
	k.Silences = NewSilences()
	k.InputTopics = []string{"in"}
	got, err := k.Load(ctx, func(_ string, p int) bool { return p == 1 })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["s1"].State == nil || got["s4"].State == nil {
		t.Errorf("loaded %v; want s1 and s4 (input partition 1) only", got)
	}
	if strings.Contains(logs.String(), "failed to decode") {
		t.Errorf("a checkpoint of partition 2 or 0 was decoded: %s", logs.String())
	}
	if len(k.Silences.List()) != 1 {
		t.Errorf("maintenance windows read back: %v; want w1 from partition 0", k.Silences.List())
	}
	k.InputTopics = nil
	if _, err := k.Load(ctx, func(_ string, p int) bool { return p == 1 }); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "failed to decode") {
		t.Error("without the input topics Load did not read partition 2")
	}
}

// TestLoadReadsOnlyNewWindows: a Load that wants none of partition 0's
// checkpoints (a rebalance that kept it elsewhere) reads partition 0 only
// from where the last Load left its maintenance windows, and still sees
// the windows set and ended since; a Load into other Silences, or one that
// wants its checkpoints, reads it whole.
func TestLoadReadsOnlyNewWindows(t *testing.T) {
	k := checkpointTopic(t, 2)
	ctx := context.Background()
	saveSpread(t, k, 20, 2)
	window := func(series string) *SilenceEntry {
		return &SilenceEntry{Silence: detector.Silence{Series: series, From: "2030-01-01T00:00:00Z", To: "2030-01-02T00:00:00Z"}}
	}
	if err := k.SaveSilence(ctx, "w1", window("a*")); err != nil {
		t.Fatal(err)
	}
	k.Silences, k.InputTopics = NewSilences(), []string{"in"}
	partition1 := func(_ string, p int) bool { return p == 1 }
	if _, err := k.Load(ctx, partition1); err != nil {
		t.Fatal(err)
	}
	whole := k.part0Records
	if whole != 11 || len(k.Silences.List()) != 1 {
		t.Fatalf("first load read %d records of partition 0 (want 10 checkpoints and a window), windows %v", whole, k.Silences.List())
	}
	if err := k.SaveSilence(ctx, "w2", window("b*")); err != nil {
		t.Fatal(err)
	}
	if err := k.SaveSilence(ctx, "w1", nil); err != nil { // w1 ended early
		t.Fatal(err)
	}
	if _, err := k.Load(ctx, partition1); err != nil {
		t.Fatal(err)
	}
	ids := func() (out []string) {
		for _, w := range k.Silences.List() {
			out = append(out, w.ID)
		}
		return out
	}
	if k.part0Records != 2 || !slices.Equal(ids(), []string{"w2"}) {
		t.Errorf("second load read %d records of partition 0 (want the 2 written since), windows %v (want w2)", k.part0Records, ids())
	}
	if _, err := k.Load(ctx, partition1); err != nil || k.part0Records != 0 {
		t.Errorf("a load with nothing new read %d records of partition 0 (%v)", k.part0Records, err)
	}
	k.Silences = NewSilences()
	if _, err := k.Load(ctx, partition1); err != nil || k.part0Records != 13 || !slices.Equal(ids(), []string{"w2"}) {
		t.Errorf("a load into new Silences read %d records (want 13), windows %v (%v)", k.part0Records, ids(), err)
	}
	if _, err := k.Load(ctx, func(string, int) bool { return true }); err != nil || k.part0Records != 13 {
		t.Errorf("a load wanting partition 0's checkpoints read %d records of it (want 13; %v)", k.part0Records, err)
	}
}

// saveSpread saves checkpoints of n series s0, s1, ... of input topic
// "in", series i in input partition i % parts.
func saveSpread(t *testing.T, k *KafkaCheckpoints, n, parts int) {
	t.Helper()
	var cps []Checkpoint
	for i := range n {
		cps = append(cps, Checkpoint{Key: fmt.Sprintf("s%d", i), Topic: "in", Partition: i % parts, Offset: int64(i), State: []byte{byte(i)}})
	}
	if err := k.Save(context.Background(), cps); err != nil {
		t.Fatal(err)
	}
}

// TestReadBackUsesItsBatch: checkpoints read back in the order a round
// wrote them come mostly from the batch the first read fetched, and each
// equals what was saved, in that order and in reverse.
func TestReadBackUsesItsBatch(t *testing.T) {
	k := checkpointTopic(t, 1)
	ctx := context.Background()
	var cps []Checkpoint
	for i := range 40 {
		key := fmt.Sprintf("s%02d", i)
		cps = append(cps, Checkpoint{Key: key, Topic: "in", Partition: 0, Offset: int64(i), State: bytes.Repeat([]byte(key), 5000)})
	}
	if err := k.Save(ctx, cps); err != nil {
		t.Fatal(err)
	}
	k.RestoreBytes = 1
	got, err := k.Load(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, order := range []string{"written", "reversed"} {
		k.readAhead = readAhead{}
		for i := range cps {
			c := cps[i]
			if order == "reversed" {
				c = cps[len(cps)-1-i]
			}
			at := got[c.Key].At
			if at == nil {
				t.Fatalf("%s: not deferred", c.Key)
			}
			back, err := k.Fetch(ctx, c.Key, *at)
			if err != nil {
				t.Fatal(err)
			}
			if back.Key != c.Key || !bytes.Equal(back.State, c.State) {
				t.Fatalf("%s order: %s read back as %s, %d bytes", order, c.Key, back.Key, len(back.State))
			}
		}
		if hits := k.readAhead.hits; order == "written" && hits < 30 {
			t.Errorf("read in the order written, %d of 40 came from a batch already fetched; want >= 30", hits)
		}
	}
}

// TestReadAheadBound: beyond its byte bound the oldest kept records go
// first; a record is handed out once.
func TestReadAheadBound(t *testing.T) {
	var a readAhead
	msg := func(off int64) kafka.Message {
		return kafka.Message{Partition: 1, Offset: off, Value: make([]byte, 100)}
	}
	a.keep([]kafka.Message{msg(1), msg(2), msg(3)}, 250)
	if _, ok := a.take(Locator{1, 1}); ok {
		t.Error("the oldest record is still kept beyond the bound")
	}
	if _, ok := a.take(Locator{1, 3}); !ok {
		t.Error("the newest record was dropped")
	}
	if _, ok := a.take(Locator{1, 3}); ok {
		t.Error("a record was handed out twice")
	}
	if a.bytes != 100 {
		t.Errorf("%d bytes counted, want 100", a.bytes)
	}
}
