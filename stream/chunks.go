package stream

import (
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"

	"github.com/aewatch/aewatch/internal/statecodec"
)

// A checkpoint whose record would exceed the broker's limit (a
// multivariate detector of many channels) is written as chunk records,
// keyed "<key>\x01<i>", followed by a manifest under the key itself that
// gives their count, total length and CRC-32C, and (for an evicted
// detector) where each lies. A reader assembles the chunks it last saw
// before the manifest; a mismatch (a round cut short, then compacted) is
// detected and that series starts fresh.
const (
	chunkMagic    = "AEWK"
	manifestMagic = "AEWM"
	chunkSep      = "\x01" // names cannot hold control characters (bad_name)
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func crc32Of(v []byte) uint32 { return crc32.Checksum(v, castagnoli) }

// recordOverhead is what a record costs beside its key and value.
const recordOverhead = 256

func chunkKey(key string, i int) string { return key + chunkSep + strconv.Itoa(i) }

// splitKey returns the checkpoint key and index of a chunk key.
func splitKey(k string) (string, int, bool) {
	for i := len(k) - 1; i >= 0; i-- {
		if k[i] == chunkSep[0] {
			n, err := strconv.Atoi(k[i+1:])
			return k[:i], n, err == nil && n >= 0
		}
	}
	return "", 0, false
}

// chunked splits an encoded checkpoint of key into chunk values so that
// each record fits limit bytes.
func chunked(key string, v []byte, limit int) [][]byte {
	size := limit - len(key) - len(chunkSep) - 10 - len(chunkMagic) - recordOverhead
	var out [][]byte
	for len(v) > 0 {
		n := min(size, len(v))
		out = append(out, append([]byte(chunkMagic), v[:n]...))
		v = v[n:]
	}
	return out
}

type manifest struct {
	chunks int
	length int
	crc    uint32
	at     []Locator // where each chunk lies (evicted detectors only)
}

func encodeManifest(m manifest) []byte {
	e := &statecodec.Encoder{Buf: []byte(manifestMagic)}
	e.U64(1)
	e.Int(m.chunks)
	e.Int(m.length)
	e.U64(uint64(m.crc))
	e.Int(len(m.at))
	for _, l := range m.at {
		e.Int(l.Partition)
		e.I64(l.Offset)
	}
	return e.Buf
}

func decodeManifest(b []byte) (manifest, error) {
	d := statecodec.NewDecoder(b[len(manifestMagic):])
	if v := d.U64(); v != 1 {
		return manifest{}, fmt.Errorf("checkpoint manifest version %d, this build reads 1", v)
	}
	m := manifest{chunks: d.Int(), length: d.Int(), crc: uint32(d.U64())}
	n := d.Int()
	if d.Err() == nil && (m.chunks < 1 || m.chunks > 1<<20 || m.length < 0 || n < 0 || n > m.chunks) {
		return manifest{}, errors.New("checkpoint manifest out of range")
	}
	for range n {
		m.at = append(m.at, Locator{Partition: d.Int(), Offset: d.I64()})
	}
	return m, d.Done()
}

// assemble joins a manifest's chunks and checks them against it.
func assemble(m manifest, chunks [][]byte) ([]byte, error) {
	if len(chunks) != m.chunks {
		return nil, fmt.Errorf("checkpoint has %d of its %d chunks", len(chunks), m.chunks)
	}
	v := make([]byte, 0, m.length)
	for i, c := range chunks {
		if c == nil {
			return nil, fmt.Errorf("checkpoint chunk %d of %d is missing", i, m.chunks)
		}
		v = append(v, c...)
	}
	if len(v) != m.length || crc32.Checksum(v, castagnoli) != m.crc {
		return nil, errors.New("checkpoint chunks do not match their manifest")
	}
	return v, nil
}

// hasMagic reports whether b starts with magic.
func hasMagic(b []byte, magic string) bool {
	return len(b) >= len(magic) && string(b[:len(magic)]) == magic
}
