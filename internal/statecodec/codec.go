// Package statecodec is the little binary encoding of aewatch's state
// snapshots: little-endian fixed-width numbers and length-prefixed slices.
// Framing, versions and checksums are the caller's (see detector).
//
// Concurrency: an Encoder or Decoder belongs to one goroutine.
package statecodec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Encoder appends values to Buf.
type Encoder struct{ Buf []byte }

func (e *Encoder) U64(v uint64) { e.Buf = binary.LittleEndian.AppendUint64(e.Buf, v) }
func (e *Encoder) I64(v int64)  { e.U64(uint64(v)) }
func (e *Encoder) Int(v int)    { e.U64(uint64(int64(v))) }
func (e *Encoder) F64(v float64) {
	e.U64(math.Float64bits(v))
}
func (e *Encoder) Bool(v bool) {
	if v {
		e.Buf = append(e.Buf, 1)
	} else {
		e.Buf = append(e.Buf, 0)
	}
}
func (e *Encoder) F64s(v []float64) {
	e.Int(len(v))
	for _, x := range v {
		e.F64(x)
	}
}

// F32s writes float32 values: histories that need no more precision,
// at half the bytes.
func (e *Encoder) F32s(v []float32) {
	e.Int(len(v))
	for _, x := range v {
		e.Buf = binary.LittleEndian.AppendUint32(e.Buf, math.Float32bits(x))
	}
}

// U16s writes 16-bit values (bfloat16 histories and replays).
func (e *Encoder) U16s(v []uint16) {
	e.Int(len(v))
	for _, x := range v {
		e.Buf = binary.LittleEndian.AppendUint16(e.Buf, x)
	}
}
func (e *Encoder) Bytes(v []byte) {
	e.Int(len(v))
	e.Buf = append(e.Buf, v...)
}

// Decoder reads values in the order they were written; the first error
// sticks and later reads return zeros.
type Decoder struct {
	b   []byte
	err error
}

// NewDecoder reads b.
func NewDecoder(b []byte) *Decoder { return &Decoder{b: b} }

// Err is the first error met, or one if bytes are left over after done.
func (d *Decoder) Err() error { return d.err }

// Done reports an error if bytes remain.
func (d *Decoder) Done() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("statecodec: %d bytes left over", len(d.b))
	}
	return d.err
}

var errShort = errors.New("statecodec: truncated")

func (d *Decoder) U64() uint64 {
	if d.err != nil || len(d.b) < 8 {
		if d.err == nil {
			d.err = errShort
		}
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}
func (d *Decoder) I64() int64 { return int64(d.U64()) }
func (d *Decoder) Int() int   { return int(int64(d.U64())) }

// Fail records err as the decoder's error unless one came first: for a
// caller's own checks of what it read.
func (d *Decoder) Fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

// F64 reads a float64; state never holds NaN or ±Inf, so they are errors.
func (d *Decoder) F64() float64 {
	v := math.Float64frombits(d.U64())
	if math.IsNaN(v) || math.IsInf(v, 0) {
		if d.err == nil {
			d.err = errors.New("statecodec: non-finite value")
		}
		return 0
	}
	return v
}
func (d *Decoder) Bool() bool {
	if d.err != nil || len(d.b) < 1 {
		if d.err == nil {
			d.err = errShort
		}
		return false
	}
	v := d.b[0]
	d.b = d.b[1:]
	if v > 1 {
		d.err = fmt.Errorf("statecodec: bad bool %d", v)
	}
	return v == 1
}

// F64sInto reads a slice that must have exactly len(dst) values.
func (d *Decoder) F64sInto(dst []float64, what string) {
	n := d.Int()
	if d.err == nil && n != len(dst) {
		d.err = fmt.Errorf("statecodec: %s has %d values, want %d", what, n, len(dst))
	}
	for i := range dst {
		dst[i] = d.F64()
	}
}

// F64sAppend reads a slice of at most max values and appends it to dst.
func (d *Decoder) F64sAppend(dst []float64, max int, what string) []float64 {
	n := d.Int()
	if d.err == nil && (n < 0 || n > max || 8*n > len(d.b)) {
		d.err = fmt.Errorf("statecodec: %s has %d values (max %d)", what, n, max)
	}
	if d.err != nil {
		return dst
	}
	for range n {
		dst = append(dst, d.F64())
	}
	return dst
}

// F32sPrefix reads at most len(dst) float32 values into the start of dst
// and returns how many there were; state never holds NaN or ±Inf.
func (d *Decoder) F32sPrefix(dst []float32, what string) int {
	n := d.Int()
	if d.err == nil && (n < 0 || n > len(dst) || 4*n > len(d.b)) {
		d.err = fmt.Errorf("statecodec: %s has %d values (max %d)", what, n, len(dst))
	}
	if d.err != nil {
		return 0
	}
	for i := range n {
		v := math.Float32frombits(binary.LittleEndian.Uint32(d.b[4*i:]))
		if v != v || math.IsInf(float64(v), 0) {
			d.err = errors.New("statecodec: non-finite value")
			return 0
		}
		dst[i] = v
	}
	d.b = d.b[4*n:]
	return n
}

// U16sUpTo reads at most max 16-bit values into a new slice of exactly
// their number (nil for none), so that a restored history holds what was
// written and no more.
func (d *Decoder) U16sUpTo(max int, what string) []uint16 {
	n := d.Int()
	if d.err == nil && (n < 0 || n > max || 2*n > len(d.b)) {
		d.err = fmt.Errorf("statecodec: %s has %d values (max %d)", what, n, max)
	}
	if d.err != nil || n == 0 {
		return nil
	}
	dst := make([]uint16, n)
	for i := range dst {
		dst[i] = binary.LittleEndian.Uint16(d.b[2*i:])
	}
	d.b = d.b[2*n:]
	return dst
}

// F32sInto reads a float32 slice that must have exactly len(dst) values.
func (d *Decoder) F32sInto(dst []float32, what string) {
	if n := d.F32sPrefix(dst, what); d.err == nil && n != len(dst) {
		d.err = fmt.Errorf("statecodec: %s has %d values, want %d", what, n, len(dst))
	}
}

// Bytes reads a length-prefixed byte string of at most max bytes.
func (d *Decoder) Bytes(max int) []byte {
	n := d.Int()
	if d.err == nil && (n < 0 || n > max || n > len(d.b)) {
		d.err = fmt.Errorf("statecodec: byte string of %d bytes (max %d, %d left)", n, max, len(d.b))
	}
	if d.err != nil {
		return nil
	}
	v := append([]byte(nil), d.b[:n]...)
	d.b = d.b[n:]
	return v
}
