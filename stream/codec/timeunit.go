package codec

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// TimeUnit is what one unit of a message's integer time counts, in
// nanoseconds (kafka.time_unit): producers stamp Unix seconds (Python's
// time.time()), milliseconds (Java's currentTimeMillis, Kafka's own record
// times) or nanoseconds (InfluxDB's line protocol).
type TimeUnit int64

const (
	Nanosecond  TimeUnit = 1
	Microsecond TimeUnit = 1e3
	Millisecond TimeUnit = 1e6
	Second      TimeUnit = 1e9
)

var timeUnitNames = []struct {
	name string
	unit TimeUnit
}{{"ns", Nanosecond}, {"us", Microsecond}, {"ms", Millisecond}, {"s", Second}}

// ParseTimeUnit reads ns, us, ms or s; empty is ns.
func ParseTimeUnit(s string) (TimeUnit, error) {
	if s == "" {
		return Nanosecond, nil
	}
	for _, n := range timeUnitNames {
		if n.name == s {
			return n.unit, nil
		}
	}
	return 0, fmt.Errorf("unknown unit %q (want ns, us, ms or s)", s)
}

func (u TimeUnit) String() string {
	for _, n := range timeUnitNames {
		if n.unit == u {
			return n.name
		}
	}
	return strconv.FormatInt(int64(u), 10) + "ns"
}

// This century, 2000-2100, in Unix nanoseconds: an integer that falls in
// it when read in a coarser unit, and in 1970 (seconds to weeks after the
// epoch) when read in nanoseconds, is a producer's unit mistaken.
var plausibleFrom, plausibleTo = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano(), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()

// unitTime reads an integer time raw counting unit (with a unit coarser than
// nanoseconds, a fraction too: Python's time.time()) as Unix nanoseconds.
// line names the line protocol line it came from; empty, the JSON field.
// In nanoseconds, a time that is of this century only in a coarser unit
// is refused, naming the unit: taken as it is, a producer's seconds would
// be written to 1970 and every Grafana panel would show nothing.
func unitTime[T string | []byte](raw T, unit TimeUnit, line string) (int64, error) {
	n, err := strconv.ParseInt(string(raw), 10, 64) // no copy: raw does not escape here
	if err == nil {
		if unit != Nanosecond && n <= maxStorableNanos/int64(unit) && n >= minStorableNanos/int64(unit) {
			return n * int64(unit), nil
		}
		if _, coarse := coarserUnit(n); unit == Nanosecond && n >= minStorableNanos && n <= maxStorableNanos && !coarse {
			return n, nil
		}
	}
	v := string(raw) // copied off the common path: the errors keep it
	switch {
	case err == nil && unit != Nanosecond:
		return 0, unitBadTime(v, unit, line)
	case err == nil && (n < minStorableNanos || n > maxStorableNanos):
		return 0, outsideStorable(timeWhere(line), v)
	case err == nil:
		u, _ := coarserUnit(n)
		return 0, Reject(ReasonBadTime, "%s: %d read as Unix nanoseconds is %s; as %s it is %s: set kafka.time_unit: %s, or send nanoseconds",
			timeWhere(line), n, time.Unix(0, n).UTC().Format(time.RFC3339Nano), unitWord(u), time.Unix(0, n*int64(u)).UTC().Format(time.RFC3339Nano), u)
	case unit != Nanosecond && line == "": // a JSON number with a fraction; line protocol's are integers
		if t, ok := decimalTime(v, unit); ok {
			return t, nil
		}
		if x, ferr := strconv.ParseFloat(v, 64); ferr == nil {
			ns := math.Round(x * float64(unit))
			if !(ns >= minStorableNanos && ns < maxStorableNanos) { // NaN too
				return 0, unitBadTime(v, unit, line)
			}
			return int64(ns), nil
		}
	}
	switch {
	case line != "":
		return 0, Reject(ReasonWrongType, "line %.60q: timestamp %.40q is not an integer (kafka.time_unit %s)", line, v, unit)
	case unit != Nanosecond:
		return 0, Reject(ReasonWrongType, "field \"time\": %.40s is not RFC3339 or a number of Unix %s (kafka.time_unit)", v, unitWord(unit))
	}
	return 0, Reject(ReasonWrongType, "field \"time\": %.40s is not RFC3339 or integer Unix nanoseconds", v)
}

// coarserUnit is the unit coarser than nanoseconds in which n is a time
// of this century, if there is one.
func coarserUnit(n int64) (TimeUnit, bool) {
	for _, b := range coarseBounds {
		if n >= b.from && n < b.to {
			return b.unit, true
		}
	}
	return 0, false
}

// coarseBounds are this century's Unix times in each coarser unit.
var coarseBounds = func() (bs [3]struct {
	unit     TimeUnit
	from, to int64
}) {
	for i, u := range []TimeUnit{Microsecond, Millisecond, Second} {
		bs[i].unit, bs[i].from, bs[i].to = u, plausibleFrom/int64(u), plausibleTo/int64(u)
	}
	return bs
}()

// decimalTime reads a plain decimal v ("1709251200.25") counting unit as
// nanoseconds exactly, where float64 would be off by up to 128 ns;
// digits beyond the nanosecond are dropped. ok is false for any other
// form, or a time outside what InfluxDB stores.
func decimalTime(v string, unit TimeUnit) (int64, bool) {
	whole, frac, ok := strings.Cut(v, ".")
	if !ok || frac == "" || strings.TrimLeft(frac, "0123456789") != "" {
		return 0, false
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > maxStorableNanos/int64(unit)-1 || w < minStorableNanos/int64(unit)+1 {
		return 0, false
	}
	var f, scale int64 = 0, 1
	for _, d := range frac[:min(len(frac), 9)] {
		f, scale = 10*f+int64(d-'0'), 10*scale
	}
	f = f * int64(unit) / scale
	if strings.HasPrefix(whole, "-") {
		f = -f
	}
	return w*int64(unit) + f, true
}

func unitWord(u TimeUnit) string {
	switch u {
	case Second:
		return "seconds"
	case Millisecond:
		return "milliseconds"
	case Microsecond:
		return "microseconds"
	}
	return "nanoseconds"
}

func unitBadTime(v string, unit TimeUnit, line string) error {
	return Reject(ReasonBadTime, "%s: %.40s %s is outside the times InfluxDB can store (%s to %s; kafka.time_unit is %s)",
		timeWhere(line), v, unitWord(unit), storableFrom(), storableTo(), unit)
}

// timeWhere names where a time came from: the line protocol line, or
// (line empty) the JSON field.
func timeWhere(line string) string {
	if line != "" {
		return fmt.Sprintf("line %.60q: timestamp", line)
	}
	return `field "time"`
}

// outsideStorable rejects a time v (from where) that InfluxDB cannot store.
func outsideStorable(where, v string) error {
	return Reject(ReasonBadTime, "%s: %.40s is outside the times InfluxDB can store (%s to %s)", where, v, storableFrom(), storableTo())
}

func storableFrom() string { return minStorable.UTC().Format(time.RFC3339) }
func storableTo() string   { return maxStorable.UTC().Format(time.RFC3339) }
