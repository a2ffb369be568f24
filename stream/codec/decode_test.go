package codec

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestDecodeJSON(t *testing.T) {
	f := func(in string, want Sample) {
		t.Helper()
		got, err := DecodeJSON(nil, []byte(in))
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
			t.Fatalf("%s:\n got %+v\nwant %+v", in, got, want)
		}
	}
	f(`{"series":"pump7","time":"2024-03-01T00:00:00Z","value":1.25}`,
		Sample{Series: "pump7", Time: 1709251200e9, Channels: []string{"value"}, Values: []float64{1.25}})
	f(`{"series":"pump7","time":1709251200000000001,"values":{"temp":61.2,"pressure":5.02},"tags":{"site":"a"}}`,
		Sample{Series: "pump7", Tags: []Tag{{"site", "a"}}, Time: 1709251200000000001,
			Channels: []string{"pressure", "temp"}, Values: []float64{5.02, 61.2}})
	// A channel's null is a missing value: the others are carried.
	f(`{"series":"pump7","time":1,"values":{"temp":null,"pressure":5.02}}`,
		Sample{Series: "pump7", Time: 1, Channels: []string{"pressure"}, Values: []float64{5.02}})
	// A status text or a flag beside the readings is no signal and is
	// skipped, as line protocol's strings and booleans are; a reading sent
	// as text, as some gateways send every one, is read as its number.
	f(`{"series":"pump7","time":1,"values":{"temp":"61.2","state":"RUNNING","on":true,"note":"\u00e9t\u00e9","pressure":5.02,"level":" 3"}}`,
		Sample{Series: "pump7", Time: 1, Channels: []string{"pressure", "temp"}, Values: []float64{5.02, 61.2}})
	f(`{"series":"pump7","time":1,"value":"-1.5e2"}`,
		Sample{Series: "pump7", Time: 1, Channels: []string{"value"}, Values: []float64{-150}})
	f(`{"series":"pump7","time":1,"values":{"t\u0065mp":"6\u0031"}}`,
		Sample{Series: "pump7", Time: 1, Channels: []string{"temp"}, Values: []float64{61}})
}

func TestDecodeJSONRejects(t *testing.T) {
	f := func(in string, want Reason, detail string) {
		t.Helper()
		_, err := DecodeJSON(nil, []byte(in))
		if err == nil || ReasonOf(err) != want || !strings.Contains(err.Error(), detail) {
			t.Errorf("%s: got %v, want %s containing %q", in, err, want, detail)
		}
	}
	f(`{"series":"p","time":1,"value":1`, ReasonMalformed, "unexpected end")
	f(`{"series":"p","time":1,"value":NaN}`, ReasonMalformed, "invalid character")
	f(`{"time":1,"value":1}`, ReasonMissingField, `"series"`)
	f(`{"series":"p","value":1}`, ReasonMissingField, `"time"`)
	f(`{"series":"p","time":1}`, ReasonMissingField, `"value" or "values"`)
	f(`{"series":"p","time":1,"value":"high"}`, ReasonWrongType, `field "value": "high" is not a number`)
	f(`{"series":"p","time":1,"value":true}`, ReasonWrongType, `field "value": true is not a number`)
	f(`{"series":"p","time":1,"values":{"a":true,"b":"OK"}}`, ReasonMissingField, `field "values": no number in it ("values.a" is true)`)
	f(`{"series":"p","time":1,"values":{"a":{"b":1}}}`, ReasonWrongType, `"values.a"`)
	f(`{"series":"p","time":1,"values":{"a":1,"b":[1]}}`, ReasonWrongType, `field "values.b": [1] is not a number`)
	f(`{"series":"p","time":1,"values":{"a":1,"b":"NaN"}}`, ReasonNonFinite, `field "values.b": "NaN" is not finite`)
	f(`{"series":"p","time":1,"value":"-Infinity"}`, ReasonNonFinite, `"value"`)
	f(`{"series":7,"time":1,"value":1}`, ReasonWrongType, `"series"`)
	f(`{"series":"p","time":"yesterday","value":1}`, ReasonWrongType, `"time"`)
	f(`{"series":"p","time":1.5,"value":1}`, ReasonWrongType, `"time"`)
	// A number beyond float64's range is a number, and not finite.
	f(`{"series":"p","time":1,"value":1e999}`, ReasonNonFinite, `field "value": 1e999 is not finite`)
	f(`{"series":"p","time":1,"values":{"a":-1e999}}`, ReasonNonFinite, `"values.a"`)
	// Long texts are cut in the detail, which the dead-letter header and
	// the logs carry.
	if _, err := DecodeJSON(nil, []byte(`{"series":"p","time":1,"values":{"`+strings.Repeat("k", 5000)+`":"x"}}`)); err == nil || len(err.Error()) > 200 {
		t.Errorf("a 5,000-byte channel name: the error is %d bytes, want a clear one of at most 200: %.300v", len(fmt.Sprint(err)), err)
	}
	f(`{"series":"p","time":1,"value":1,"values":{"a":1}}`, ReasonWrongType, "both")
	f(`{"series":"p","time":1,"values":{"a":null,"b":null}}`, ReasonMissingField, "every channel is null")
	f(`{"series":"p","time":1,"value":null}`, ReasonMissingField, `"value" is null`)
	// Times InfluxDB cannot store (1677 would wrap to 2261 in UnixNano).
	f(`{"series":"p","time":"1677-01-01T00:00:00Z","value":1}`, ReasonBadTime, "1677-09-21")
	f(`{"series":"p","time":"2263-01-01T00:00:00Z","value":1}`, ReasonBadTime, "outside the times InfluxDB can store")
	f(`{"series":"p","time":9223372036854775807,"value":1}`, ReasonBadTime, "9223372036854775807")
	f(`{"series":"p","time":-9223372036854775808,"value":1}`, ReasonBadTime, "outside")
	// Names InfluxDB cannot store.
	f(`{"series":"p\\","time":1,"value":1}`, ReasonBadName, "series \"p\\\\\" ends in a backslash")
	f(`{"series":"p","time":1,"values":{"a\\":1}}`, ReasonBadName, "channel")
	f(`{"series":"p","time":1,"values":{"":1}}`, ReasonBadName, "channel is empty")
	f(`{"series":"p\n","time":1,"value":1}`, ReasonBadName, "control character")
	f(`{"series":"p","time":1,"value":1,"tags":{"":"x"}}`, ReasonBadName, "tag key is empty")
	f(`{"series":"p","time":1,"value":1,"tags":{"site":""}}`, ReasonBadName, `tag "site" is empty`)
	f(`{"series":"p","time":1,"value":1,"tags":{"site":"a\\"}}`, ReasonBadName, "backslash")
	f(`{"series":"p","time":1,"value":1,"tags":{"time":"x"}}`, ReasonBadName, `tag key "time" is reserved`)
	f(`{"series":"p","time":1,"value":1,"tags":{"_field":"x"}}`, ReasonBadName, "reserved")
	// Names too long for a point's key: InfluxDB would refuse every point.
	long := strings.Repeat("z", maxKeyNameBytes)
	f(`{"series":"`+long+`","time":1,"value":1}`, ReasonBadName, fmt.Sprintf("take %d bytes, over the %d", maxKeyNameBytes+5, maxKeyNameBytes))
	f(`{"series":"p","time":1,"value":1,"tags":{"k":"`+long+`"}}`, ReasonBadName, `series "p": its series, channel and tag names`)
	f(`{"series":"p","time":1,"values":{"`+long+`":1}}`, ReasonBadName, "over the")
	if _, err := DecodeJSON(nil, []byte(`{"series":"p","time":1,"values":{"`+long[:maxKeyNameBytes-1]+`":1,"b":2}}`)); err != nil {
		t.Errorf("a key of %d bytes: %v", maxKeyNameBytes, err)
	}
}

func TestDecodeLine(t *testing.T) {
	got, err := DecodeLine(nil, []byte("pump,site=a,asset=p7 temp=61.2,pressure=5i,state=\"on\",ok=t 1709251200000000000\n\nflow\\ meter,site=b v=1,v=4 2\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Sample{
		{Series: "pump,asset=p7,site=a", Tags: []Tag{{"asset", "p7"}, {"site", "a"}}, Time: 1709251200000000000,
			Channels: []string{"pressure", "temp"}, Values: []float64{5, 61.2}}, // sorted by name, as JSON's
		{Series: "flow meter,site=b", Tags: []Tag{{"site", "b"}}, Time: 2, Channels: []string{"v"}, Values: []float64{4}}, // a field twice: the last, as InfluxDB
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

func TestDecodeLineRejects(t *testing.T) {
	f := func(in string, want Reason) {
		t.Helper()
		_, err := DecodeLine(nil, []byte(in))
		if err == nil || ReasonOf(err) != want {
			t.Errorf("%q: got %v, want %s", in, err, want)
		}
	}
	f("", ReasonMalformed)
	f("pump", ReasonMalformed)
	f("pump temp=1", ReasonMissingField)
	f("pump temp=1 yesterday", ReasonWrongType)
	f("pump temp=abc 1", ReasonWrongType)
	f("pump state=\"on\" 1", ReasonMissingField)
	f("pump,site temp=1 1", ReasonMalformed)
	f("pump temp=NaN 1", ReasonNonFinite)
	f("pump temp=1e999 1", ReasonNonFinite)
	f("pump temp=1 9223372036854775807", ReasonBadTime)
	f(`pump,site=a\\ temp=1 1`, ReasonBadName)
	f("pump,time=x temp=1 1", ReasonBadName)
	f("pump,site=a,site=b temp=1 1", ReasonBadName)
	f("pump,site="+strings.Repeat("a", maxKeyNameBytes)+" temp=1 1", ReasonBadName)
}

func FuzzDecodeJSON(f *testing.F) {
	f.Add([]byte(`{"series":"pump7","time":"2024-03-01T00:00:00Z","value":1.25}`))
	f.Add([]byte(`{"series":"pump7","time":1709251200000000000,"values":{"temp":61.2,"pressure":5.02}}`))
	f.Add([]byte(`{"series":"p","time":1,"value":"x"}`))
	f.Fuzz(func(t *testing.T, msg []byte) { checkDecoded(t, DecodeJSON, msg) })
}

func FuzzDecodeLine(f *testing.F) {
	f.Add([]byte("pump,site=a,asset=p7 temp=61.2,pressure=5.02 1709251200000000000"))
	f.Add([]byte("a\\ b,t=x\\,y f=1i,s=\"a b\" 3\nc v=2 4"))
	f.Fuzz(func(t *testing.T, msg []byte) { checkDecoded(t, DecodeLine, msg) })
}

// checkDecoded: a decoder either rejects with a reason or yields samples
// with a series, matching channels (sorted by name, each once) and values,
// and finite values only.
func checkDecoded(t *testing.T, dec Decoder, msg []byte) {
	out, err := dec(nil, msg)
	if err != nil {
		if ReasonOf(err) == "" {
			t.Fatalf("error without reason: %v", err)
		}
		return
	}
	for _, s := range out {
		if s.Series == "" || len(s.Channels) == 0 || len(s.Channels) != len(s.Values) || !slices.IsSorted(s.Channels) ||
			len(slices.Compact(slices.Clone(s.Channels))) != len(s.Channels) {
			t.Fatalf("bad sample %+v", s)
		}
		for _, v := range s.Values {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("non-finite value in %+v", s)
			}
		}
	}
}

// FuzzDecodeJSONFastMatches: DecodeJSON (with its fast path) returns what
// encoding/json alone gives, samples and errors alike, for every message.
func FuzzDecodeJSONFastMatches(f *testing.F) {
	for _, m := range []string{
		`{"series":"pump7","time":"2024-03-01T00:00:00Z","value":1.25}`,
		` { "series" : "p", "time" : 1709251200000000000 , "values" : {"temp":61.2,"pressure":-5.02e-1}, "tags":{"site":"a","asset":"p7"} } `,
		`{"series":"p","time":1,"value":"x"}`, `{"series":"p","time":1,"value":1,"value":2}`,
		`{"Series":"p","time":1,"value":1}`, `{"series":"p\u0041","time":1,"value":1}`, `{"series":"p","time":1,"values":{}}`,
		`{"series":"p","time":01,"value":1}`, `{"series":"","time":1,"value":1e999}`, `{"series":"p","time":"x","values":{"a":1,"a":2}}`,
		`{"series":"p","time":1,"value":1,"extra":[1]}`, `{"series":"p","time":null,"value":1}`, `{"series":"p","time":1,"value":-}`,
		`{"series":"p","time":1,"values":{"a":null,"b":2}}`, `{"series":"p","time":1,"values":{"a":null}}`, `{"series":"p","time":1,"value":null}`,
		`{"series":"p","time":1709251200,"value":1}`, `{"series":"p","time":1709251200.25,"value":1}`, `{"series":"p","time":1e300,"value":1}`,
		` [{"series":"p","time":1,"value":1},{"series":"q","time":2,"values":{"a":1}}]`, `{"series":"p","time":"-12","value":1}`, `[{"series":"p","time":1,"value":1},{"time":2}]`, `[]`, `[[1]]`, `[1]`,
	} {
		f.Add([]byte(m))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		for _, unit := range []TimeUnit{Nanosecond, Second} {
			got, gerr := decodeJSON(nil, msg, unit)
			want, werr := decodeJSONSlow(nil, msg, unit)
			if (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
				t.Fatalf("%q (%s): error %v, encoding/json alone %v", msg, unit, gerr, werr)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%q (%s): %+v, encoding/json alone %+v", msg, unit, got, want)
			}
		}
	})
}

// TestJSONFastPathTakesCanonicalMessages: the messages produce and most
// producers write take the fast path (else it saves nothing).
func TestJSONFastPathTakesCanonicalMessages(t *testing.T) {
	for _, m := range []string{
		`{"series":"pump7","time":"2024-03-01T00:00:00Z","value":1.25}`,
		`{"series":"pump7","time":1709251200000000000,"values":{"temp":61.2,"pressure":5.02},"tags":{"site":"a"}}`,
	} {
		var f jsonFields
		if !scanJSON([]byte(m), &f) {
			t.Errorf("fast path refused %s", m)
		}
	}
}

func BenchmarkDecodeJSON(b *testing.B) {
	msg := []byte(`{"series":"pump7","time":1709251200000000000,"values":{"temp":61.2,"pressure":5.02}}`)
	for _, c := range []struct {
		name string
		dec  Decoder
	}{{"fast", DecodeJSON}, {"encoding-json", func(dst []Sample, msg []byte) ([]Sample, error) { return decodeJSONSlow(dst, msg, Nanosecond) }}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var dst []Sample
			for b.Loop() {
				dst, _ = c.dec(dst[:0], msg)
			}
		})
	}
}

// TestTimeUnits: integer times count kafka.time_unit; in nanoseconds, a
// time of this century only in a coarser unit is refused naming that unit
// (a producer's seconds would land in 1970), while small integers pass.
func TestTimeUnits(t *testing.T) {
	decode := func(format string, unit TimeUnit, msg string) (int64, error) {
		t.Helper()
		dec, err := DecoderFor(format, unit)
		if err != nil {
			t.Fatal(err)
		}
		got, err := dec(nil, []byte(msg))
		if err != nil {
			return 0, err
		}
		return got[0].Time, nil
	}
	const march = 1709251200 // 2024-03-01T00:00:00Z in seconds
	for _, c := range []struct {
		format string
		unit   TimeUnit
		msg    string
		want   int64
	}{
		{"json", Nanosecond, `{"series":"p","time":1,"value":1}`, 1},
		{"json", Nanosecond, `{"series":"p","time":1709251200000000000,"value":1}`, march * 1e9},
		{"json", Nanosecond, `{"series":"p","time":"1709251200000000001","value":1}`, march*1e9 + 1},
		{"json", Millisecond, `{"series":"p","time":"1709251200123","value":1}`, march*1e9 + 123e6},
		{"json", Second, `{"series":"p","time":1709251200,"value":1}`, march * 1e9},
		{"json", Second, `{"series":"p","time":1709251200.25,"value":1}`, march*1e9 + 25e7},
		{"json", Second, `{"series":"p","time":-1.5,"value":1}`, -15e8},
		{"json", Second, `{"series":"p","time":1.7092512e9,"value":1}`, march * 1e9},
		{"json", Second, `{"series":"p","time":"2024-03-01T00:00:00Z","value":1}`, march * 1e9},
		{"json", Millisecond, `{"series":"p","time":1709251200123,"value":1}`, march*1e9 + 123e6},
		{"json", Microsecond, `{"series":"p","time":1709251200123456,"value":1}`, march*1e9 + 123456e3},
		{"line", Second, "pump v=1 1709251200", march * 1e9},
		{"line", Nanosecond, "pump v=1 1709251200000000000", march * 1e9},
	} {
		got, err := decode(c.format, c.unit, c.msg)
		if err != nil || got != c.want {
			t.Errorf("%s in %s: %s: time %d, %v; want %d", c.format, c.unit, c.msg, got, err, c.want)
		}
	}
	for _, c := range []struct {
		format string
		unit   TimeUnit
		msg    string
		reason Reason
		says   []string
	}{
		{"json", Nanosecond, `{"series":"p","time":1709251200,"value":1}`, ReasonBadTime,
			[]string{`field "time"`, "1970-01-01T00:00:01.7092512Z", "as seconds it is 2024-03-01T00:00:00Z", "kafka.time_unit: s"}},
		{"json", Nanosecond, `{"series":"p","time":1709251200000,"value":1}`, ReasonBadTime, []string{"as milliseconds", "kafka.time_unit: ms"}},
		{"json", Nanosecond, `{"series":"p","time":"1709251200000","value":1}`, ReasonBadTime, []string{"as milliseconds", "kafka.time_unit: ms"}},
		{"json", Nanosecond, `{"series":"p","time":1709251200000000,"value":1}`, ReasonBadTime, []string{"as microseconds", "kafka.time_unit: us"}},
		{"line", Nanosecond, "pump v=1 1709251200", ReasonBadTime, []string{"line", "timestamp", "kafka.time_unit: s"}},
		{"json", Nanosecond, `{"series":"p","time":1709251200.5,"value":1}`, ReasonWrongType, []string{"integer Unix nanoseconds"}},
		{"json", Second, `{"series":"p","time":1e300,"value":1}`, ReasonBadTime, []string{"1e300 seconds", "kafka.time_unit is s"}},
		{"json", Second, `{"series":"p","time":1709251200000000000,"value":1}`, ReasonBadTime, []string{"outside the times InfluxDB can store"}},
		{"json", Second, `{"series":"p","time":"soon","value":1}`, ReasonWrongType, []string{"not RFC3339"}},
		{"line", Second, "pump v=1 1709251200.5", ReasonWrongType, []string{"not an integer"}},
		{"line", Millisecond, "pump v=1 x", ReasonWrongType, []string{"not an integer", "kafka.time_unit ms"}},
	} {
		_, err := decode(c.format, c.unit, c.msg)
		if ReasonOf(err) != c.reason {
			t.Errorf("%s in %s: %s: %v, want %s", c.format, c.unit, c.msg, err, c.reason)
			continue
		}
		for _, s := range c.says {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s in %s: %s: error %q lacks %q", c.format, c.unit, c.msg, err, s)
			}
		}
	}
	if _, err := ParseTimeUnit("sec"); err == nil || !strings.Contains(err.Error(), `"sec"`) {
		t.Errorf("ParseTimeUnit(sec): %v", err)
	}
}

// TestJSONBatch: a JSON array of samples is a batch, each element decoded
// as a message of its own is; a bad element rejects the message whole,
// naming it, as a bad line rejects a line protocol message.
func TestJSONBatch(t *testing.T) {
	got, err := DecodeJSON(nil, []byte(` [{"series":"p","time":"2024-03-01T00:00:00Z","value":1},
		{"series":"q","time":"2024-03-01T00:00:01Z","values":{"b":2,"a":3}}]`))
	if err != nil || len(got) != 2 || got[0].Series != "p" || got[1].Series != "q" || fmt.Sprint(got[1].Channels, got[1].Values) != "[a b] [3 2]" {
		t.Fatalf("batch of two: %+v, %v", got, err)
	}
	for msg, want := range map[string]struct {
		reason Reason
		says   string
	}{
		`[{"series":"p","time":1,"value":1},{"series":"p","time":2,"value":"high"}]`: {ReasonWrongType, `sample 2 of 2: field "value": "high" is not a number`},
		`[{"series":"p","time":1,"value":1},{"time":2,"value":1}]`:                   {ReasonMissingField, `sample 2 of 2: field "series"`},
		`[]`:                                  {ReasonMissingField, "an empty array"},
		`[[1]]`:                               {ReasonWrongType, "sample 1 of 1: an array in an array"},
		`[{"series":"p","time":1,"value":1},`: {ReasonMalformed, ""},
	} {
		dst := []Sample{{Series: "earlier"}}
		out, err := DecodeJSON(dst, []byte(msg))
		if ReasonOf(err) != want.reason || !strings.Contains(fmt.Sprint(err), want.says) {
			t.Errorf("%s: %v, want %s saying %q", msg, err, want.reason, want.says)
		}
		if len(out) != 1 {
			t.Errorf("%s: %d samples left in dst, want the 1 it held", msg, len(out))
		}
	}
	if _, err := DecodeJSON(nil, []byte(`{"series":"p","time":"2024-03-01 00:00:00","value":1}`)); !strings.Contains(fmt.Sprint(err), "has no time zone") {
		t.Errorf("a time without a zone: %v, want it said", err)
	}
}
