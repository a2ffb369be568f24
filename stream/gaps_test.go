package stream

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"

	"github.com/aewatch/aewatch/internal/testsvc"
)

// skippingReader serves a log (the offsets it holds, ascending) and skips
// the offsets in skip on their first reads, as a faulty reader would: a
// stand-in for a kafka-go bug that cannot be had on demand.
type skippingReader struct {
	log   []int64
	skip  map[int64]int // offset -> how many more reads skip it
	pos   int           // index in log of the next message
	seeks []int64
	// skipLater, if set, also skips an offset on its nth read (from 1).
	skipLater func(off int64, nth int) bool
	reads     map[int64]int
}

func (r *skippingReader) FetchMessage(context.Context) (kafka.Message, error) {
	for r.pos < len(r.log) {
		off := r.log[r.pos]
		r.pos++
		if r.reads == nil {
			r.reads = map[int64]int{}
		}
		r.reads[off]++
		if r.skip[off] > 0 {
			r.skip[off]--
			continue
		}
		if r.skipLater != nil && r.skipLater(off, r.reads[off]) {
			continue
		}
		return kafka.Message{Offset: off, Value: []byte{byte(off)}}, nil
	}
	return kafka.Message{}, io.EOF
}

func (r *skippingReader) SetOffset(off int64) error {
	r.seeks = append(r.seeks, off)
	r.pos, _ = slices.BinarySearch(r.log, off)
	return nil
}

// offsets returns [from, to) without the offsets in holes.
func offsets(from, to int64, holes ...int64) []int64 {
	var out []int64
	for o := from; o < to; o++ {
		if !slices.Contains(holes, o) {
			out = append(out, o)
		}
	}
	return out
}

// readAll reads r to its end and returns the offsets handed over.
func readAll(t *testing.T, g *gapCheckedReader) []int64 {
	t.Helper()
	var got []int64
	for {
		m, err := g.FetchMessage(context.Background())
		if errors.Is(err, io.EOF) {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, m.Offset)
	}
}

// TestReaderReadsAgainFromAnEarlierOffset: what gapCheckedReader relies on
// of kafka-go's Reader against a Kafka-protocol broker: sent back to an
// offset it has handed over in the middle of a partition, it hands over
// the messages from there again, in order, none of the old fetch's left.
func TestReaderReadsAgainFromAnEarlierOffset(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a broker")
	}
	brokers := testsvc.Kafka(t, 1, "in")
	w := &kafka.Writer{Addr: kafka.TCP(brokers), Topic: "in", BatchSize: 50, BatchTimeout: 10 * time.Millisecond,
		RequiredAcks: kafka.RequireAll}
	defer w.Close()
	var msgs []kafka.Message
	for i := range 200 {
		msgs = append(msgs, kafka.Message{Value: []byte{byte(i)}})
	}
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
	// A read again waits for the fetch in flight: at the log's end, up to
	// MaxWait (kafka.max_wait, 250 ms by default; kafka-go's own is 10 s).
	r := PlainConn([]string{brokers}).Reader(kafka.ReaderConfig{Topic: "in", Partition: 0, MinBytes: 1, MaxBytes: 1 << 20,
		MaxWait: 100 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	next := func() int64 {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return m.Offset
	}
	for want := int64(0); want < 120; want++ {
		if got := next(); got != want {
			t.Fatalf("offset %d, want %d", got, want)
		}
	}
	if err := r.SetOffset(40); err != nil {
		t.Fatal(err)
	}
	for want := int64(40); want < 200; want++ {
		if got := next(); got != want {
			t.Fatalf("after SetOffset(40): offset %d, want %d", got, want)
		}
	}
}

func TestGapCheckedReaderReadsSkippedMessagesAgain(t *testing.T) {
	var logs bytes.Buffer
	m := NewMetrics(nil)
	// Offsets 40-82 skipped once, as the kill -9 run that lost 43 points.
	skip := map[int64]int{}
	for o := int64(40); o <= 82; o++ {
		skip[o] = 1
	}
	r := &skippingReader{log: offsets(0, 200), skip: skip}
	got := readAll(t, newGapCheckedReader(r, "sensors", 2, 0, slog.New(slog.NewJSONHandler(&logs, nil)), m))
	if want := offsets(0, 200); !slices.Equal(got, want) {
		t.Fatalf("offsets handed over %v, want every one of [0, 200) once in order", got)
	}
	if !slices.Equal(r.seeks, []int64{40}) {
		t.Fatalf("seeks %v, want one back to 40", r.seeks)
	}
	if n := testutil.ToFloat64(m.SkipsReread); n != 43 {
		t.Fatalf("skipped offsets read again: %v, want 43", n)
	}
	if n := testutil.ToFloat64(m.OffsetGaps); n != 0 {
		t.Fatalf("offset gaps counted: %v, want 0", n)
	}
	if s := logs.String(); !strings.Contains(s, `"from_offset":40,"to_offset":83`) || !strings.Contains(s, `"partition":2`) {
		t.Fatalf("log does not name the skip: %s", s)
	}
}

func TestGapCheckedReaderPassesTheLogsOwnGaps(t *testing.T) {
	m := NewMetrics(nil)
	// Compacted away: 10, 21, 32 and 50-59.
	holes := []int64{10, 21, 32, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59}
	r := &skippingReader{log: offsets(0, 100, holes...)}
	got := readAll(t, newGapCheckedReader(r, "sensors", 0, 0, nil, m))
	if want := offsets(0, 100, holes...); !slices.Equal(got, want) {
		t.Fatalf("offsets handed over %v, want %v", got, want)
	}
	if !slices.Equal(r.seeks, []int64{10, 21, 32, 50}) {
		t.Fatalf("seeks %v, want one per gap", r.seeks)
	}
	if n := testutil.ToFloat64(m.OffsetGaps); n != float64(len(holes)) {
		t.Fatalf("offset gaps counted: %v, want %d", n, len(holes))
	}
	if n := testutil.ToFloat64(m.SkipsReread); n != 0 {
		t.Fatalf("skipped offsets read again: %v, want 0", n)
	}
}

func TestGapCheckedReaderPartOfAGapSkipped(t *testing.T) {
	m := NewMetrics(nil)
	// The log lacks 20-24; the reader also skipped 25-29 once.
	r := &skippingReader{log: offsets(0, 60, 20, 21, 22, 23, 24), skip: map[int64]int{25: 1, 26: 1, 27: 1, 28: 1, 29: 1}}
	got := readAll(t, newGapCheckedReader(r, "sensors", 0, 0, nil, m))
	if want := offsets(0, 60, 20, 21, 22, 23, 24); !slices.Equal(got, want) {
		t.Fatalf("offsets handed over %v, want %v", got, want)
	}
	if a, b := testutil.ToFloat64(m.OffsetGaps), testutil.ToFloat64(m.SkipsReread); a != 5 || b != 5 {
		t.Fatalf("gaps %v and skips read again %v, want 5 and 5", a, b)
	}
}

func TestGapCheckedReaderGivesUpOnAReaderThatKeepsSkipping(t *testing.T) {
	var logs bytes.Buffer
	m := NewMetrics(nil)
	// 30 is skipped on every read; 31-35 on the first only.
	r := &skippingReader{log: offsets(0, 50), skip: map[int64]int{30: 100, 31: 1, 32: 1, 33: 1, 34: 1, 35: 1}}
	got := readAll(t, newGapCheckedReader(r, "sensors", 0, 0, slog.New(slog.NewJSONHandler(&logs, nil)), m))
	if want := offsets(0, 50, 30); !slices.Equal(got, want) {
		t.Fatalf("offsets handed over %v, want %v", got, want)
	}
	if len(r.seeks) != 1 {
		t.Fatalf("seeks %v: the second read handed over 31, before the first read's 36, so it is one read again", r.seeks)
	}
	if !strings.Contains(logs.String(), "skipped messages; they were read again") {
		t.Fatalf("the skip of 31-35 is not logged: %s", logs.String())
	}

	// A reader that skips further each time it reads again: read at
	// most maxRereads times, then logged as an error and passed.
	logs.Reset()
	// 10-19 are skipped on every read; 20 too once it has been handed
	// over, 21 after two reads, and so on.
	r = &skippingReader{log: offsets(0, 40), skipLater: func(off int64, nth int) bool {
		return off >= 10 && off < 20 || off >= 20 && nth > int(off-19)
	}}
	readAll(t, newGapCheckedReader(r, "sensors", 0, 0, slog.New(slog.NewJSONHandler(&logs, nil)), m))
	if len(r.seeks) != maxRereads {
		t.Fatalf("seeks %v, want %d", r.seeks, maxRereads)
	}
	if !strings.Contains(logs.String(), "skipped messages each time") {
		t.Fatalf("giving up is not logged: %s", logs.String())
	}
}

func TestGapCheckedReaderStopsReadingAgainOnACompactedLog(t *testing.T) {
	var logs bytes.Buffer
	var holes []int64
	for o := int64(1); o < 400; o += 2 { // every other offset compacted away
		holes = append(holes, o)
	}
	r := &skippingReader{log: offsets(0, 400, holes...)}
	got := readAll(t, newGapCheckedReader(r, "state", 0, 0, slog.New(slog.NewJSONHandler(&logs, nil)), NewMetrics(nil)))
	if want := offsets(0, 400, holes...); !slices.Equal(got, want) {
		t.Fatalf("offsets handed over %v, want %v", got, want)
	}
	if len(r.seeks) != gapRereadLimit {
		t.Fatalf("%d seeks, want %d: then gaps are only counted", len(r.seeks), gapRereadLimit)
	}
	if !strings.Contains(logs.String(), "no longer read again") {
		t.Fatalf("not logged: %s", logs.String())
	}
}

func TestTransactionMarker(t *testing.T) {
	for _, c := range []struct {
		key, value   string
		commit, want bool
	}{
		{"\x00\x00\x00\x01", "\x00\x00\x00\x00\x00\x05", true, true},
		{"\x00\x00\x00\x00", "\x00\x00\x00\x00\x00\x00", false, true},
		{"\x00\x00\x00\x02", "\x00\x00\x00\x00\x00\x00", false, false}, // no such type
		{"pump", "p v=1\n", false, false},
		{"\x00\x00\x00\x01", `{"v":1}`, false, false},
		{"", "\x00\x00\x00\x00\x00\x00", false, false},
		{"\x00\x00\x00\x01", "\x00\x01\x00\x00\x00\x00", false, false}, // value version 1
	} {
		commit, ok := transactionMarker(kafka.Message{Key: []byte(c.key), Value: []byte(c.value)})
		if ok != c.want || commit != c.commit {
			t.Errorf("key %q value %q: marker %v commit %v, want %v %v", c.key, c.value, ok, commit, c.want, c.commit)
		}
	}
}
