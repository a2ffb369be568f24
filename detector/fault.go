package detector

import (
	"fmt"
	"runtime/debug"

	"github.com/aewatch/aewatch/window"
)

// A fault in the detector's own code on some sample (a panic: an index out
// of range, a model taught while frozen) must not stop a service that
// scores thousands of series, nor come back on every restart as the
// sample is read again from the committed offset. Push and Flush contain
// it: the detector starts afresh as a new detector of its configuration
// (startAfresh), the samples whose results it owed come out as Failed,
// and TakeFault hands the fault over, once, to be reported. Eval and the
// service run the same code, so they stay alike after a fault too.

// containFaults is false in this package's tests (TestMain), so that a
// fault fails whichever test meets it; the tests of containment turn it
// on.
var containFaults = true

// Fault is a failure of the detector's code on a sample.
type Fault struct {
	Seq   uint64 // the sample that met it; at Flush with nothing owed, the next sample's number
	Time  int64
	Owed  int    // the Failed results it gave
	Flush bool   // met in Flush (the end of a file, a series idle)
	Panic string // the panic's value
	Stack string // where it happened
}

// FailAt makes the Push of the first sample stamped t or later fail, once,
// as a bug in the detector's code would (a panic inside the call), for the
// tests of what its callers do with a fault (the service's log line,
// metrics and dropped samples; eval's warning), which have no other way to
// meet one. The detector that starts afresh does not keep it; 0 turns it
// off.
func (d *Detector) FailAt(t int64) { d.failAt = t }

// LastFault returns the newest fault the detector met (nil: none).
func (d *Detector) LastFault() *Fault { return d.fault }

// TakeFault returns the newest fault met since the last TakeFault and how
// many were met since (nil, 0: none). The service and eval call it after
// every Push and Flush, so that each fault is reported once, a fault that
// owed no result (in Flush, with nothing held) too.
func (d *Detector) TakeFault() (*Fault, int) {
	n := d.untakenFaults
	if n == 0 {
		return nil, 0
	}
	d.untakenFaults = 0
	return d.fault, n
}

// owed is what the detector owes results for when a call begins: the
// samples in the window waiting for the stride, and the sequence numbers
// the held messages (a sample dated ahead, a row lacking values, and the
// messages merged into either) will take.
type owed struct {
	seq     uint64 // the next sequence number
	unnamed uint64 // messages held without one yet
}

func (d *Detector) owing() owed {
	o := owed{seq: d.seq}
	if d.ahead.held {
		o.unnamed += 1 + uint64(d.ahead.merged)
	}
	if d.miss != nil && d.miss.row.held {
		o.unnamed += 1 + uint64(d.miss.row.merged)
	}
	d.faultPending = append(d.faultPending[:0], d.pending...)
	return o
}

// recoverFault is deferred by Push and Flush: after a panic it makes d a
// fresh detector and sets *res to a Failed result for each sample the
// call owed one: those waiting for the stride, then every message from
// o.seq on, the call's own (unless it was Flush) among them.
func (d *Detector) recoverFault(o owed, t int64, pushed bool, res *[]Result) {
	p := recover()
	if p == nil {
		return
	}
	if !containFaults {
		panic(p) // from here, the panicking frames are still on the stack
	}
	next := o.seq + o.unnamed
	if pushed {
		next++
	}
	fault := &Fault{Seq: next, Time: t, Flush: !pushed, Panic: fmt.Sprint(p), Stack: string(debug.Stack())}
	if next > o.seq {
		fault.Seq = next - 1 // the newest sample owed
	}
	waiting, untaken := d.faultPending, d.untakenFaults+1
	d.startAfresh()
	d.shadow = nil // it may be what failed; a maintenance window still on copies the fresh detector
	d.seq, d.fault, d.untakenFaults, d.faultPending = next, fault, untaken, waiting[:0]
	// Faults are rare: each result is a copy of unscored's, not a buffer kept.
	out := make([]Result, 0, len(waiting)+int(next-o.seq))
	for _, s := range waiting {
		out = append(out, d.unscored(s.seq, s.time, window.Failed, nil)[0].clone())
	}
	for s := o.seq; s < next; s++ {
		out = append(out, d.unscored(s, t, window.Failed, nil)[0].clone())
	}
	fault.Owed = len(out)
	*res = out
}
