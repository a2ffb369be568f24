package codec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aewatch/aewatch/internal/numtext"
)

// Tag is one input tag, copied onto every point derived from the sample.
type Tag struct{ Key, Value string }

// Sample is one decoded measurement: a series at one event time with one or
// more named channels.
type Sample struct {
	Series string
	Tags   []Tag // sorted by key
	Time   int64 // event time, Unix nanoseconds
	// Channels are sorted by name, whatever order the message wrote them
	// in: a multivariate detector's inputs are laid out in that order, so
	// it is the same for JSON (whose objects have none) and line protocol,
	// and the same as eval's.
	Channels []string
	Values   []float64 // Values[j] is channel Channels[j]'s
}

// Reason classifies a rejected message; each has its own counter.
type Reason string

const (
	ReasonMalformed     Reason = "malformed"      // not JSON / not line protocol
	ReasonMissingField  Reason = "missing_field"  // series, time or values absent
	ReasonWrongType     Reason = "wrong_type"     // a field of the wrong type
	ReasonNonFinite     Reason = "non_finite"     // NaN or ±Inf value
	ReasonTooLarge      Reason = "too_large"      // over kafka.max_message_bytes
	ReasonUnknownSeries Reason = "unknown_series" // not in kafka.series
	ReasonSeriesLimit   Reason = "series_limit"   // a new series beyond pipeline.max_series
	ReasonOutOfOrder    Reason = "out_of_order"   // not after the series' previous time
	ReasonChannels      Reason = "channels"       // multivariate: no detector fits the series' channels
	ReasonBadTime       Reason = "bad_time"       // outside InfluxDB's range, or pipeline.max_future/max_past
	ReasonBadName       Reason = "bad_name"       // a name or tag InfluxDB cannot store
	ReasonChannelLimit  Reason = "channel_limit"  // more channels than pipeline.max_channels
	ReasonOutOfRange    Reason = "out_of_range"   // beyond ±detector.window.max_abs (a bad-value sentinel)
	ReasonWild          Reason = "wild"           // a sample: an isolated glitch held back from its series' models
	ReasonTimeJump      Reason = "time_jump"      // a sample dated far ahead of its series, the next sample between the two (a clock glitch)
	ReasonDetectorFault Reason = "detector_fault" // a sample its detector failed on, or owed a result when it did (a bug in aewatch)
)

// Reasons lists every reason, for pre-registering counters.
var Reasons = []Reason{ReasonMalformed, ReasonMissingField, ReasonWrongType, ReasonNonFinite,
	ReasonTooLarge, ReasonUnknownSeries, ReasonSeriesLimit, ReasonOutOfOrder, ReasonChannels, ReasonBadTime, ReasonBadName, ReasonChannelLimit, ReasonOutOfRange, ReasonWild, ReasonTimeJump, ReasonDetectorFault}

// DecodeError says why a message was rejected.
type DecodeError struct {
	Reason Reason
	Detail string
}

func (e *DecodeError) Error() string { return string(e.Reason) + ": " + e.Detail }

// Reject returns a DecodeError of reason r; the pipeline's own checks
// (size, series, channels, times) reject with it too.
func Reject(r Reason, format string, args ...any) error {
	return &DecodeError{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// ReasonOf returns the reason of a decode error (malformed for others).
func ReasonOf(err error) Reason {
	var de *DecodeError
	if errors.As(err, &de) {
		return de.Reason
	}
	return ReasonMalformed
}

// Decoder turns one message value into samples, appended to dst.
type Decoder func(dst []Sample, msg []byte) ([]Sample, error)

// DecoderFor returns the decoder of a format name ("json" or "line")
// whose integer times count unit.
func DecoderFor(format string, unit TimeUnit) (Decoder, error) {
	switch format {
	case "json":
		if unit == Nanosecond {
			return DecodeJSON, nil
		}
		return func(dst []Sample, msg []byte) ([]Sample, error) { return decodeJSON(dst, msg, unit) }, nil
	case "line":
		if unit == Nanosecond {
			return DecodeLine, nil
		}
		return func(dst []Sample, msg []byte) ([]Sample, error) { return decodeLine(dst, msg, unit) }, nil
	}
	return nil, fmt.Errorf("unknown format %q (want json or line)", format)
}

type jsonSample struct {
	Series *string                    `json:"series"`
	Time   json.RawMessage            `json:"time"`
	Value  json.RawMessage            `json:"value"`
	Values map[string]json.RawMessage `json:"values"`
	Tags   map[string]string          `json:"tags"`
}

// DecodeJSON reads {"series":S,"time":T,"value":V} or
// {"series":S,"time":T,"values":{"ch":V,...}}, with T in RFC3339 or Unix
// nanoseconds (DecoderFor: another unit) and an optional "tags" object of
// strings. A value may be a string holding a number; texts and booleans
// in "values" are skipped (jsonNumber).
func DecodeJSON(dst []Sample, msg []byte) ([]Sample, error) { return decodeJSON(dst, msg, Nanosecond) }

func decodeJSON(dst []Sample, msg []byte, unit TimeUnit) ([]Sample, error) {
	if isJSONArray(msg) {
		return decodeJSONArray(dst, msg, unit, decodeJSON)
	}
	var f jsonFields
	if !scanJSON(msg, &f) {
		return decodeJSONSlow(dst, msg, unit)
	}
	return buildJSONSample(dst, &f, unit)
}

// decodeJSONSlow is decodeJSON through encoding/json, for every message.
func decodeJSONSlow(dst []Sample, msg []byte, unit TimeUnit) ([]Sample, error) {
	if isJSONArray(msg) {
		return decodeJSONArray(dst, msg, unit, decodeJSONSlow)
	}
	var js jsonSample
	if err := json.Unmarshal(msg, &js); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return dst, Reject(ReasonWrongType, "field %q: got JSON %s", te.Field, te.Value)
		}
		return dst, Reject(ReasonMalformed, "%v", err)
	}
	var f jsonFields
	if js.Series != nil {
		f.series, f.hasSeries = *js.Series, true
	}
	f.time, f.value, f.valuesSet = js.Time, js.Value, js.Values != nil
	for k, v := range js.Values {
		f.values = append(f.values, rawField{k, v})
	}
	for k, v := range js.Tags {
		f.tags = append(f.tags, Tag{k, v})
	}
	return buildJSONSample(dst, &f, unit)
}

// isJSONArray reports whether msg is a JSON array: a batch of samples.
func isJSONArray(msg []byte) bool {
	for _, b := range msg {
		switch b {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return b == '['
	}
	return false
}

// decodeJSONArray decodes a batch, an array of sample objects, each with
// one; a bad one rejects the whole message, as a bad line does a line
// protocol message, its error saying which.
func decodeJSONArray(dst []Sample, msg []byte, unit TimeUnit, one func([]Sample, []byte, TimeUnit) ([]Sample, error)) ([]Sample, error) {
	var elems []json.RawMessage
	if err := json.Unmarshal(msg, &elems); err != nil {
		return dst, Reject(ReasonMalformed, "%v", err)
	}
	if len(elems) == 0 {
		return dst, Reject(ReasonMissingField, "an empty array: no sample")
	}
	start := len(dst)
	for i, e := range elems {
		if isJSONArray(e) {
			return dst[:start], Reject(ReasonWrongType, "sample %d of %d: an array in an array", i+1, len(elems))
		}
		var err error
		if dst, err = one(dst, e, unit); err != nil {
			detail := err.Error()
			if de, ok := errors.AsType[*DecodeError](err); ok {
				detail = de.Detail
			}
			return dst[:start], Reject(ReasonOf(err), "sample %d of %d: %s", i+1, len(elems), detail)
		}
	}
	return dst, nil
}

// buildJSONSample checks the fields of one message and appends its sample.
func buildJSONSample(dst []Sample, f *jsonFields, unit TimeUnit) ([]Sample, error) {
	if !f.hasSeries || f.series == "" {
		return dst, Reject(ReasonMissingField, `field "series" is missing or empty`)
	}
	if len(f.time) == 0 {
		return dst, Reject(ReasonMissingField, `field "time" is missing`)
	}
	t, err := jsonTime(f.time, unit)
	if err != nil {
		return dst, err
	}
	s := Sample{Series: f.series, Time: t, Tags: f.tags}
	slices.SortFunc(s.Tags, func(a, b Tag) int { return strings.Compare(a.Key, b.Key) })
	// A channel's null is a missing value (as pandas' to_json writes NaN):
	// the message carries its other channels.
	if len(f.values) > 0 {
		if f.values = slices.DeleteFunc(f.values, func(v rawField) bool { return string(v.raw) == "null" }); len(f.values) == 0 {
			return dst, Reject(ReasonMissingField, `field "values": every channel is null`)
		}
	}
	switch {
	case len(f.value) > 0 && f.valuesSet:
		return dst, Reject(ReasonWrongType, `fields "value" and "values" are both set`)
	case string(f.value) == "null":
		return dst, Reject(ReasonMissingField, `field "value" is null`) // a missing value: nothing to score
	case len(f.value) > 0:
		v, text, err := jsonNumber("", "value", f.value)
		if err != nil {
			return dst, err
		}
		if text {
			return dst, notANumber("", "value", f.value)
		}
		s.Channels, s.Values = []string{"value"}, []float64{v}
	case len(f.values) > 0:
		slices.SortFunc(f.values, func(a, b rawField) int { return strings.Compare(a.key, b.key) })
		s.Channels, s.Values = make([]string, 0, len(f.values)), make([]float64, 0, len(f.values))
		for _, fv := range f.values {
			v, text, err := jsonNumber("values.", fv.key, fv.raw)
			if err != nil {
				return dst, err
			}
			if !text {
				s.Channels, s.Values = append(s.Channels, fv.key), append(s.Values, v)
			}
		}
		if len(s.Channels) == 0 {
			// Texts and booleans are not signals (a status beside the
			// readings is skipped, as line protocol's are), but a message
			// of nothing else has nothing to score.
			return dst, Reject(ReasonMissingField, `field "values": no number in it (%.60q is %.40s)`, "values."+f.values[0].key, f.values[0].raw)
		}
	default:
		return dst, Reject(ReasonMissingField, `field "value" or "values" is missing`)
	}
	if err := checkNames(&s); err != nil {
		return dst, err
	}
	return append(dst, s), nil
}

func jsonTime(raw []byte, unit TimeUnit) (int64, error) {
	if raw[0] == '"' {
		var str string
		if plainString(raw) {
			str = string(raw[1 : len(raw)-1])
		} else if err := json.Unmarshal(raw, &str); err != nil {
			return 0, Reject(ReasonMalformed, "field \"time\": %v", err)
		}
		if digits := strings.TrimPrefix(str, "-"); digits != "" && strings.TrimLeft(digits, "0123456789") == "" {
			// An integer sent as a string, as JavaScript producers send
			// nanoseconds beyond its numbers' 53 bits.
			return unitTime(str, unit, "")
		}
		t, err := time.Parse(time.RFC3339Nano, str)
		if err != nil {
			if zoneless(str) {
				return 0, Reject(ReasonWrongType, "field \"time\": %.40q has no time zone: send RFC3339 with its zone (2024-03-01T00:00:00Z, or +01:00 for an offset)", str)
			}
			return 0, Reject(ReasonWrongType, "field \"time\": %.40q is not RFC3339", str)
		}
		if t.Before(minStorable) || t.After(maxStorable) { // UnixNano would wrap
			return 0, outsideStorable(timeWhere(""), str)
		}
		return t.UnixNano(), nil
	}
	return unitTime(raw, unit, "")
}

// zoneless reports whether s is a date and time without a zone, which
// could be any of them.
func zoneless(s string) bool {
	for _, layout := range []string{"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999"} {
		if _, err := time.Parse(layout, s); err == nil {
			return true
		}
	}
	return false
}

// InfluxDB stores times in [MinInt64+2, MaxInt64-1] nanoseconds
// (1677-09-21 to 2262-04-11); outside it a time would be refused or, in
// Go's UnixNano, silently wrapped (1677 stored as 2261).
const (
	minStorableNanos = math.MinInt64 + 2
	maxStorableNanos = math.MaxInt64 - 1
)

var minStorable, maxStorable = time.Unix(0, minStorableNanos), time.Unix(0, maxStorableNanos)

// reservedTagKeys are tag keys InfluxDB refuses or gives a meaning of its
// own; aewatch's own tag keys (series, channel, ...) are not here: input
// tags of those names are written with an "input_" prefix (sink).
var reservedTagKeys = map[string]bool{"time": true, "_measurement": true, "_field": true}

// maxKeyNameBytes bounds a sample's names that go into one point's series
// key (its series, a channel, every tag key and value): InfluxDB refuses a
// key over 65,535 bytes (then every point of the series, each logged), line
// protocol's escaping can double a name, and aewatch adds tags of its own.
const maxKeyNameBytes = 16 << 10

// checkNames rejects a sample with a name InfluxDB cannot store: empty, a
// control character, or a trailing backslash (it escapes the separator
// after it in line protocol); tag keys InfluxDB reserves; and names too
// long for a point's key.
func checkNames(s *Sample) error {
	bad := func(what, name string) error {
		switch {
		case name == "":
			return Reject(ReasonBadName, "%s is empty", what)
		case strings.HasSuffix(name, `\`):
			return Reject(ReasonBadName, "%s %.60q ends in a backslash", what, name)
		case strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
			return Reject(ReasonBadName, "%s %.60q holds a control character", what, name)
		}
		return nil
	}
	if err := bad("series", s.Series); err != nil {
		return err
	}
	for _, c := range s.Channels {
		if err := bad("channel", c); err != nil {
			return err
		}
	}
	for i, t := range s.Tags {
		if err := bad("tag key", t.Key); err != nil {
			return err
		}
		if err := bad("tag "+strconv.Quote(t.Key), t.Value); err != nil {
			return err
		}
		if reservedTagKeys[t.Key] {
			return Reject(ReasonBadName, "tag key %.60q is reserved by InfluxDB", t.Key)
		}
		if i > 0 && s.Tags[i-1].Key == t.Key {
			return Reject(ReasonBadName, "tag key %.60q appears twice", t.Key)
		}
	}
	if n := keyNameBytes(s); n > maxKeyNameBytes {
		return Reject(ReasonBadName, "series %.60q: its series, channel and tag names take %d bytes, over the %d a point's key may hold", s.Series, n, maxKeyNameBytes)
	}
	return nil
}

// keyNameBytes is the bytes of s's names in its largest point key: the
// series, its longest channel and its tags.
func keyNameBytes(s *Sample) int {
	n := len(s.Series)
	longest := 0
	for _, c := range s.Channels {
		longest = max(longest, len(c))
	}
	n += longest
	for _, t := range s.Tags {
		n += len(t.Key) + len(t.Value)
	}
	return n
}

// jsonNumber parses field prefix+key: a number, or a string holding one
// (as gateways that send every reading as text do). text reports a
// string holding no number, or a boolean: no signal. The name is joined
// only for an error, not for every message.
func jsonNumber(prefix, key string, raw []byte) (v float64, text bool, err error) {
	if len(raw) == 0 || raw[0] == '{' || raw[0] == '[' || raw[0] == 'n' {
		return 0, false, notANumber(prefix, key, raw)
	}
	switch raw[0] {
	case 't', 'f':
		return 0, true, nil
	case '"':
		var num string
		if plainString(raw) {
			num = string(raw[1 : len(raw)-1])
		} else if json.Unmarshal(raw, &num) != nil {
			return 0, false, notANumber(prefix, key, raw)
		}
		if v, err = numtext.ParseFloat(num); err != nil {
			return 0, true, nil
		}
	default:
		if v, err = numtext.ParseFloat(string(raw)); err != nil {
			return 0, false, notANumber(prefix, key, raw)
		}
	}
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, false, Reject(ReasonNonFinite, "field %.60q: %.40s is not finite", prefix+key, raw)
	}
	return v, false, nil
}

func notANumber(prefix, key string, raw []byte) error {
	return Reject(ReasonWrongType, "field %.60q: %.40s is not a number", prefix+key, raw)
}

// DecodeLine reads InfluxDB line protocol, one sample per line, as
// Telegraf's Kafka output writes it. The series is the measurement and its
// sorted tags ("pump,asset=p7,site=a"); numeric fields are channels
// (integers with an i or u suffix too; strings and booleans are skipped);
// the timestamp is required, in nanoseconds (DecoderFor: another unit).
func DecodeLine(dst []Sample, msg []byte) ([]Sample, error) { return decodeLine(dst, msg, Nanosecond) }

func decodeLine(dst []Sample, msg []byte, unit TimeUnit) ([]Sample, error) {
	start := len(dst)
	for len(msg) > 0 {
		var line []byte
		if i := bytes.IndexByte(msg, '\n'); i >= 0 {
			line, msg = msg[:i], msg[i+1:]
		} else {
			line, msg = msg, nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		s, err := decodeLineOf(string(line), unit)
		if err != nil {
			return dst[:start], err
		}
		dst = append(dst, s)
	}
	if len(dst) == start {
		return dst, Reject(ReasonMalformed, "no line protocol line")
	}
	return dst, nil
}

func decodeLineOf(line string, unit TimeUnit) (Sample, error) {
	key, rest, ok := cutUnescaped(line, ' ')
	if !ok {
		return Sample{}, Reject(ReasonMalformed, "line %.60q: want measurement, fields and timestamp", line)
	}
	fieldSet, ts, ok := cutUnescaped(rest, ' ')
	if !ok || strings.TrimSpace(ts) == "" {
		return Sample{}, Reject(ReasonMissingField, "line %.60q: no timestamp", line)
	}
	t, err := unitTime(strings.TrimSpace(ts), unit, line)
	if err != nil {
		return Sample{}, err
	}
	parts := splitUnescaped(key, ',')
	if parts[0] == "" {
		return Sample{}, Reject(ReasonMissingField, "line %.60q: empty measurement", line)
	}
	s := Sample{Time: t}
	for _, p := range parts[1:] {
		k, v, ok := cutUnescaped(p, '=')
		if !ok || k == "" || v == "" {
			return Sample{}, Reject(ReasonMalformed, "line %.60q: bad tag %.60q", line, p)
		}
		s.Tags = append(s.Tags, Tag{unescape(k), unescape(v)})
	}
	slices.SortFunc(s.Tags, func(a, b Tag) int { return strings.Compare(a.Key, b.Key) })
	var sb strings.Builder
	sb.WriteString(unescape(parts[0]))
	for _, tg := range s.Tags {
		sb.WriteString("," + tg.Key + "=" + tg.Value)
	}
	s.Series = sb.String()
	for _, f := range splitUnescaped(fieldSet, ',') {
		k, v, ok := cutUnescaped(f, '=')
		if !ok || k == "" || v == "" {
			return Sample{}, Reject(ReasonMalformed, "line %.60q: bad field %.60q", line, f)
		}
		if v[0] == '"' || v == "t" || v == "T" || v == "true" || v == "True" || v == "TRUE" ||
			v == "f" || v == "F" || v == "false" || v == "False" || v == "FALSE" {
			continue // strings and booleans are not signals
		}
		if last := v[len(v)-1]; last == 'i' || last == 'u' {
			v = v[:len(v)-1]
		}
		x, err := numtext.ParseFloat(v)
		if err != nil {
			return Sample{}, Reject(ReasonWrongType, "line %.60q: field %.60q: %.40q is not a number", line, k, v)
		}
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return Sample{}, Reject(ReasonNonFinite, "line %.60q: field %.60q is not finite", line, k)
		}
		s.Channels = append(s.Channels, unescape(k))
		s.Values = append(s.Values, x)
	}
	if len(s.Channels) == 0 {
		return Sample{}, Reject(ReasonMissingField, "line %.60q: no numeric field", line)
	}
	sortChannels(&s)
	if err := checkNames(&s); err != nil {
		return Sample{}, err
	}
	return s, nil
}

// sortChannels sorts s's channels by name, their values with them (stable,
// so that of a field written twice the last stays last), and keeps the
// last value of such a field, as InfluxDB does (and encoding/json for a
// repeated key): twice, it would be scored twice at one time.
func sortChannels(s *Sample) {
	if !slices.IsSorted(s.Channels) {
		sort.Stable(channelsByName{s})
	}
	n := 0
	for i, ch := range s.Channels {
		if n > 0 && s.Channels[n-1] == ch {
			s.Values[n-1] = s.Values[i]
			continue
		}
		s.Channels[n], s.Values[n] = ch, s.Values[i]
		n++
	}
	s.Channels, s.Values = s.Channels[:n], s.Values[:n]
}

// channelsByName sorts a sample's channels and values together.
type channelsByName struct{ s *Sample }

func (c channelsByName) Len() int           { return len(c.s.Channels) }
func (c channelsByName) Less(i, j int) bool { return c.s.Channels[i] < c.s.Channels[j] }
func (c channelsByName) Swap(i, j int) {
	c.s.Channels[i], c.s.Channels[j] = c.s.Channels[j], c.s.Channels[i]
	c.s.Values[i], c.s.Values[j] = c.s.Values[j], c.s.Values[i]
}

// cutUnescaped cuts s at the first sep that is not backslash-escaped and
// not inside a double-quoted string.
func cutUnescaped(s string, sep byte) (string, string, bool) {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case c == sep && !quoted:
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func splitUnescaped(s string, sep byte) []string {
	var out []string
	for {
		a, b, ok := cutUnescaped(s, sep)
		out = append(out, a)
		if !ok {
			return out
		}
		s = b
	}
}

func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
