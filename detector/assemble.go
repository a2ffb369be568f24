package detector

import (
	"math"

	"github.com/aewatch/aewatch/window"
)

// A series of several channels may come as one message per channel, or
// per few, at one time (a gateway publishing each tag as it reads it), or
// each stamped when its tag was read, a little apart. Each would be a row
// of its own: the first scored with the others filled, the rest dropped
// as not after it or scored as rows of mostly filled values. So a row
// that lacks values is held until the next: one that carries only values
// the row lacks, at the row's time or less than half a typical step after
// the newest message merged into it (nearer this row than the next; while
// the series has no typical step yet, at any time before a value
// repeats, as the service gathers a new series' first row), fills them
// in, and the row goes in at its time once it is whole or the series
// moves on. One that repeats a value the row has is no part of it (a
// clock that stands still, or the next row): the row goes in, and the
// repeat is dropped as not after it or starts the next row, as before. A
// row that lacks nothing goes in at once. The messages merged into a held
// row come out after it, as Merged results of their own, so that every
// message has one.

// heldRow is a row of a multivariate series that lacks values, held for
// the next at the same time (assemble.go).
type heldRow struct {
	held bool
	t    int64 // the row's time: its first message's
	last int64 // the newest message's time merged into it
	x    []float64
	// spare takes the next row while the results of the one released
	// before it, which alias x, are still the caller's.
	spare  []float64
	merged int // messages merged into it
}

// partial reports whether x lacks some of its values but not all.
func partial(x []float64) bool {
	n := 0
	for _, v := range x {
		if math.IsNaN(v) {
			n++
		}
	}
	return n > 0 && n < len(x)
}

// completes reports whether x carries values and only ones row lacks.
func completes(row, x []float64) bool {
	n := 0
	for j, v := range x {
		if !math.IsNaN(v) {
			if !math.IsNaN(row[j]) {
				return false
			}
			n++
		}
	}
	return n > 0
}

// assemble is Push for a series of several channels: it merges a row at
// the held row's time that completes it into it, and holds a row that
// lacks values.
func (d *Detector) assemble(t int64, x []float64) []Result {
	row := &d.miss.row
	if row.held && d.joins(t) && completes(row.x, x) {
		for j, v := range x {
			if !math.IsNaN(v) {
				row.x[j] = v
			}
		}
		row.last = max(row.last, t)
		row.merged++
		if partial(row.x) {
			return nil
		}
		return d.releaseRow(false)
	}
	hold := partial(x)
	var first []Result
	if row.held {
		first = d.releaseRow(!hold)
		row = &d.miss.row // the push may have started the detector afresh (restartFor)
	}
	if hold {
		row.held, row.t, row.last, row.merged = true, t, t, 0
		row.x, row.spare = row.spare, row.x
		copy(row.x, x)
		return first
	}
	return append(first, d.pushTimed(t, x)...)
}

// joins reports whether a message at t is of the held row's time: at
// it, or less than half the series' typical step after the newest message
// merged into it (any time after it while the series has none).
func (d *Detector) joins(t int64) bool {
	row := &d.miss.row
	if t == row.t {
		return true
	}
	step := d.liveWindow().TypicalStep()
	return t >= row.last && (step == 0 || float64(t-row.last) < step/2)
}

// releaseRow pushes the held row and returns its results, then a Merged
// one for each message merged into it (once the row goes in, if it is
// held as dated ahead: settleAhead); copies (valid until the next Push)
// when those or, with more, the caller's next push would reuse the
// detector's buffers, which the row's own results otherwise stay in.
func (d *Detector) releaseRow(more bool) []Result {
	row := &d.miss.row
	row.held = false
	// The released row's own (its merged messages): the push may have
	// started the detector afresh (restartFor), whose row is another.
	res := d.pushTimed(row.t, row.x)
	if d.ahead.held {
		// The row is the sample now held as dated ahead (any held before
		// went in first): its merged messages' results follow its own.
		d.ahead.merged, row.merged = row.merged, 0
	}
	if !more && row.merged == 0 {
		return res
	}
	d.assembled = d.assembled[:0]
	for _, r := range res {
		d.assembled = append(d.assembled, r.clone())
	}
	for range row.merged {
		r := d.unscored(d.seq, row.t, window.Merged, row.x)
		d.seq++
		d.assembled = append(d.assembled, r[0].clone())
	}
	row.merged = 0
	return d.assembled
}
