package stream

import (
	"context"
	"log/slog"

	"github.com/segmentio/kafka-go"
)

// Offset gaps in an input partition. A sensor topic's offsets are
// consecutive unless the log itself has no message there: compaction, or
// records a broker leaves out (kafka-go hands transaction markers over as
// messages, see transactionMarker). A reader that hands over a message
// past the next offset may also have skipped messages that exist (kafka-go
// has an open report of that, segmentio/kafka-go#360; one kill -9 run of
// ours lost 43 points in the middle of a run and nothing said why). The
// points of skipped messages would never be written while the offsets
// after them are committed. So a gap is read again, once: if the reader
// then hands over the offset it skipped, the messages are read and the
// skip is logged; if not, the gap is the log's own and is counted.

// transactionMarker reports whether m is the control record that ends a
// producer's transaction, and whether it committed or aborted it. kafka-go
// hands these over as messages: a 4-byte key (version 0, type 0 abort or 1
// commit) and a 6-byte value (version 0, coordinator epoch), which no
// sensor message in JSON or line protocol can be.
func transactionMarker(m kafka.Message) (commit, ok bool) {
	k, v := m.Key, m.Value
	if len(k) != 4 || len(v) != 6 || k[0] != 0 || k[1] != 0 || k[2] != 0 || k[3] > 1 || v[0] != 0 || v[1] != 0 {
		return false, false
	}
	return k[3] == 1, true
}

// abortSeen logs, once per partition, that a transaction was aborted on
// it: kafka-go does not filter the records of aborted transactions, so they
// were read and scored as any others.
func (p *Pipeline) abortSeen(m kafka.Message) {
	part := partitionKey{m.Topic, m.Partition}
	if p.aborts == nil {
		p.aborts = map[partitionKey]bool{}
	}
	if p.aborts[part] {
		return
	}
	p.aborts[part] = true
	p.o.Log.Warn("a producer aborted a transaction on this partition: its records were read and scored as any others (kafka-go does not leave them out); logged once per partition",
		"topic", m.Topic, "partition", m.Partition, "offset", m.Offset)
}

// partitionReader is what gapCheckedReader needs of a kafka-go Reader.
type partitionReader interface {
	FetchMessage(ctx context.Context) (kafka.Message, error)
	SetOffset(offset int64) error
}

// gapRereadLimit is how many gaps in a row the log confirms before a
// partition's gaps are no longer read again: a compacted topic may have
// one every few messages, and each costs a fetch (and the wait of the one
// in flight: up to kafka.max_wait at the log's end).
const gapRereadLimit = 64

// maxRereads is how often one gap is read again while the reader skips
// the offset its first read handed over.
const maxRereads = 3

// gapCheckedReader reads one partition through r and reads each offset gap
// again once (see above). It belongs to one goroutine.
type gapCheckedReader struct {
	r          partitionReader
	topic      string
	partition  int
	log        *slog.Logger // nil: skips are counted only
	metrics    *Metrics     // nil: not counted
	next       int64        // the offset expected next; -1 until a message came
	rereadFrom int64        // the first offset of the gap being read again; -1: none
	rereadTo   int64        // the offset the reader handed over past it
	rereads    int          // reads again of this gap
	confirmed  int          // gaps in a row the log confirmed; from gapRereadLimit on, gaps are only counted
}

// newGapCheckedReader reads r from offset from (-1 if not known: the first
// message sets it).
func newGapCheckedReader(r partitionReader, topic string, partition int, from int64, log *slog.Logger, m *Metrics) *gapCheckedReader {
	return &gapCheckedReader{r: r, topic: topic, partition: partition, log: log, metrics: m, next: max(from, -1), rereadFrom: -1}
}

// FetchMessage returns the partition's next message.
func (g *gapCheckedReader) FetchMessage(ctx context.Context) (kafka.Message, error) {
	for {
		m, err := g.r.FetchMessage(ctx)
		if err != nil {
			return m, err
		}
		switch {
		case g.next < 0 || m.Offset == g.next:
		case m.Offset < g.next:
			continue // handed over already (a reader cannot go back on its own)
		case g.rereadFrom < 0 && g.confirmed < gapRereadLimit, g.rereadFrom >= 0 && m.Offset > g.rereadTo && g.rereads < maxRereads:
			// A gap, or a read-again that skipped what the first read
			// handed over: read from the expected offset again.
			if err := g.r.SetOffset(g.next); err != nil {
				return kafka.Message{}, err
			}
			if g.rereadFrom < 0 {
				g.rereadFrom, g.rereadTo, g.rereads = g.next, m.Offset, 0
			}
			g.rereads++
			continue
		default: // the log has no message in [next, m.Offset)
			if g.rereadFrom >= 0 && m.Offset > g.rereadTo && g.log != nil {
				g.log.Error("the Kafka reader skipped messages each time they were read again; going on without them",
					"topic", g.topic, "partition", g.partition, "from_offset", g.next, "to_offset", m.Offset, "reads", g.rereads+1)
			}
			g.gap(m.Offset - g.next)
		}
		if g.rereadFrom >= 0 && m.Offset < g.rereadTo {
			g.skipped(m.Offset, g.rereadTo)
		}
		g.rereadFrom = -1
		g.next = m.Offset + 1
		return m, nil
	}
}

// skipped reports offsets [from, to) that the reader skipped and handed
// over when read again (from is a message's; the others may be gaps).
func (g *gapCheckedReader) skipped(from, to int64) {
	g.confirmed = 0
	if g.metrics != nil {
		g.metrics.SkipsReread.Add(float64(to - from))
	}
	if g.log != nil {
		g.log.Warn("the Kafka reader skipped messages; they were read again", "topic", g.topic, "partition", g.partition,
			"from_offset", from, "to_offset", to)
	}
}

// gap counts n offsets the log has no message at.
func (g *gapCheckedReader) gap(n int64) {
	if g.metrics != nil {
		g.metrics.OffsetGaps.Add(float64(n))
	}
	if g.confirmed >= gapRereadLimit {
		return
	}
	if g.confirmed++; g.confirmed == gapRereadLimit && g.log != nil {
		g.log.Info("the partition's log has gaps in its offsets (compaction): gaps are no longer read again",
			"topic", g.topic, "partition", g.partition, "gaps_confirmed", g.confirmed)
	}
}
