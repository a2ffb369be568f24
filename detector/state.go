package detector

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/fnv"

	"github.com/aewatch/aewatch/internal/statecodec"
)

// Snapshot encoding, version 1:
//
//	"AEWD" | version u16 | config fingerprint u64 | body | CRC-32C (Castagnoli) of all before it
//
// The body is the window, normaliser, model (if any), calibrators, alert
// state and the detector's own counters, in that order (statecodec:
// little-endian; slices length-prefixed). The fingerprint hashes the
// configuration and channel count: a snapshot only restores into a detector
// built the same way, so a changed config starts fresh rather than wrong.
const (
	snapshotMagic   = "AEWD"
	snapshotVersion = 1
)

// ErrSnapshotMismatch: the snapshot was taken with another configuration.
var ErrSnapshotMismatch = errors.New("detector: snapshot was taken with a different configuration")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func (d *Detector) fingerprint() uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d|%#v", d.channels, d.cfg)
	return h.Sum64()
}

// MarshalBinary snapshots the detector's complete state: restoring it into
// a detector with the same configuration and feeding both the same samples
// gives bit-identical results.
func (d *Detector) MarshalBinary() ([]byte, error) {
	e := &statecodec.Encoder{Buf: make([]byte, 0, d.MemoryBytes())}
	e.Buf = append(e.Buf, snapshotMagic...)
	e.Buf = binary.LittleEndian.AppendUint16(e.Buf, snapshotVersion)
	e.U64(d.fingerprint())
	d.win.AppendState(e)
	d.norm.AppendState(e)
	if d.ae != nil {
		if err := d.ae.AppendState(e); err != nil {
			return nil, err
		}
	}
	d.cal.appendState(e)
	if d.calWin != nil {
		d.calWin.appendState(e)
	}
	a := &d.alert
	e.Bool(a.open)
	e.Int(a.below)
	e.Int(a.sinceShut)
	e.F64(a.peak)
	e.I64(a.openedAt)
	e.Int(a.length)
	e.U64(d.seq)
	e.Int(d.accepted)
	e.U64(d.windows)
	e.F64s(d.minVal)
	e.F64s(d.maxVal)
	e.Int(len(d.pending))
	for _, p := range d.pending {
		e.U64(p.seq)
		e.I64(p.time)
	}
	e.Buf = binary.LittleEndian.AppendUint32(e.Buf, crc32.Checksum(e.Buf, castagnoli))
	return e.Buf, nil
}

// UnmarshalBinary restores a snapshot into d, which must have been built
// with the configuration and channel count of the snapshotted detector. On
// any error d is left unusable: build a fresh one.
func (d *Detector) UnmarshalBinary(b []byte) error {
	if len(b) < len(snapshotMagic)+2+8+4 || string(b[:4]) != snapshotMagic {
		return errors.New("detector: not a detector snapshot")
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return errors.New("detector: snapshot checksum mismatch (corrupt)")
	}
	if v := binary.LittleEndian.Uint16(body[4:]); v != snapshotVersion {
		return fmt.Errorf("detector: snapshot version %d, this build reads %d", v, snapshotVersion)
	}
	dec := statecodec.NewDecoder(body[6:])
	if dec.U64() != d.fingerprint() {
		return ErrSnapshotMismatch
	}
	if err := d.win.ReadState(dec); err != nil {
		return err
	}
	if err := d.norm.ReadState(dec); err != nil {
		return err
	}
	if d.ae != nil {
		if err := d.ae.ReadState(dec); err != nil {
			return err
		}
	}
	if err := d.cal.readState(dec); err != nil {
		return err
	}
	if d.calWin != nil {
		if err := d.calWin.readState(dec); err != nil {
			return err
		}
	}
	a := &d.alert
	a.open, a.below, a.sinceShut = dec.Bool(), dec.Int(), dec.Int()
	a.peak, a.openedAt, a.length = dec.F64(), dec.I64(), dec.Int()
	d.seq, d.accepted, d.windows = dec.U64(), dec.Int(), dec.U64()
	dec.F64sInto(d.minVal, "running minimum")
	dec.F64sInto(d.maxVal, "running maximum")
	n := dec.Int()
	if dec.Err() == nil && (n < 0 || n > d.cfg.Window.Stride) {
		return fmt.Errorf("detector: snapshot has %d pending samples, stride is %d", n, d.cfg.Window.Stride)
	}
	d.pending = d.pending[:0]
	for i := 0; i < n; i++ {
		d.pending = append(d.pending, pendingSample{seq: dec.U64(), time: dec.I64()})
	}
	return dec.Done()
}

func (c *calibrator) appendState(e *statecodec.Encoder) {
	e.F64(c.errMean)
	e.Int(c.seen)
	e.F64s(c.avgRing)
	e.F64(c.avgSum)
	e.Int(c.avgPos)
	e.Int(c.avgN)
	e.F64s(c.hist)
	e.Int(c.histPos)
	e.Int(c.histN)
	e.F64(c.mean)
	e.F64(c.std)
	e.Int(c.sinceFit)
	e.Bool(c.fitted)
	e.F64(c.prevTail)
}

func (c *calibrator) readState(d *statecodec.Decoder) error {
	c.errMean, c.seen = d.F64(), d.Int()
	d.F64sInto(c.avgRing, "calibration average")
	c.avgSum, c.avgPos, c.avgN = d.F64(), d.Int(), d.Int()
	d.F64sInto(c.hist, "calibration history")
	c.histPos, c.histN = d.Int(), d.Int()
	c.mean, c.std, c.sinceFit, c.fitted, c.prevTail = d.F64(), d.F64(), d.Int(), d.Bool(), d.F64()
	if err := d.Err(); err != nil {
		return err
	}
	if c.avgPos < 0 || c.avgPos >= len(c.avgRing) || c.avgN < 0 || c.avgN > len(c.avgRing) ||
		c.histPos < 0 || c.histPos >= len(c.hist) || c.histN < 0 || c.histN > len(c.hist) {
		return errors.New("detector: calibration state out of range")
	}
	return nil
}
