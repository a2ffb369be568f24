package sensorcsv

import (
	"math"
	"strings"
	"testing"
)

func TestParseFormats(t *testing.T) {
	in := "timestamp,temp,site,pressure\r\n" +
		"2024-03-01T00:00:00Z,61.5,a,5.02\r\n" +
		"2024-03-01 00:05:00,,b,NaN\r\n" +
		"1709251500,62,c,5.1\r\n" +
		"1709251800.5,63,d,-1e3\n"
	f, err := Parse(strings.NewReader(in), []string{"site"})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.ChannelNames(); len(got) != 2 || got[0] != "temp" || got[1] != "pressure" {
		t.Fatalf("channels %v, want [temp pressure]", got)
	}
	wantT := []int64{1709251200e9, 1709251500e9, 1709251500e9, 1709251800e9 + 5e8}
	for i, w := range wantT {
		if f.Times[i] != w {
			t.Errorf("row %d time %d, want %d", i, f.Times[i], w)
		}
	}
	if !math.IsNaN(f.Values[1][0]) || !math.IsNaN(f.Values[1][1]) {
		t.Errorf("empty and NaN fields should read as NaN, got %v", f.Values[1])
	}
	if f.Values[3][1] != -1000 || f.Rows[3][2] != "d" {
		t.Errorf("row 3: values %v, fields %v", f.Values[3], f.Rows[3])
	}
}

func TestParseErrors(t *testing.T) {
	f := func(in string, ignore []string, want string) {
		t.Helper()
		_, err := Parse(strings.NewReader(in), ignore)
		if err == nil || err.Error() != want {
			t.Errorf("got %v, want %q", err, want)
		}
	}
	f("", nil, "empty file: want a header row")
	f("timestamp\n", nil, `line 1: header "timestamp": want a timestamp column and at least one channel`)
	f("t,a,a\n", nil, `line 1: header column 3: duplicate name "a"`)
	f("t,a\n", []string{"b"}, `line 1: --ignore or --label-column: no column named "b"`)
	f("t,a\n2024-03-01 00:00:00,1\n2024-03-01 00:05:00,x1\n", nil, `line 3, column 2 (a): not a number: "x1"`)
	f("t,a\n2024-03-01 00:00:00,1,2\n", nil, "line 2: want 2 fields (got 3)")
	f("t,a\nyesterday,1\n", nil, `line 2, column 1 (t): bad timestamp "yesterday": want RFC3339, "2006-01-02 15:04:05" or Unix seconds`)
	f("t,a\n12.3.4,1\n", nil, `line 2, column 1 (t): bad timestamp "12.3.4": want RFC3339, "2006-01-02 15:04:05" or Unix seconds`)
}

func FuzzParse(f *testing.F) {
	f.Add("timestamp,value\n2024-03-01 00:00:00,1\n")
	f.Add("t,a,b\r\n1709251200,1,NaN\r\n1709251500.25,,3\r\n")
	f.Fuzz(func(t *testing.T, in string) {
		file, err := Parse(strings.NewReader(in), nil)
		if err != nil {
			return
		}
		if len(file.Rows) != len(file.Times) || len(file.Rows) != len(file.Values) {
			t.Fatalf("rows %d, times %d, values %d", len(file.Rows), len(file.Times), len(file.Values))
		}
		for _, v := range file.Values {
			if len(v) != len(file.Channels) {
				t.Fatalf("row has %d values for %d channels", len(v), len(file.Channels))
			}
		}
	})
}

// TestParseSemicolons reads a file as SKAB and many European exports write
// it: ';'-separated, a zone-less timestamp, CRLF line ends, label columns.
func TestParseSemicolons(t *testing.T) {
	in := "datetime;Current;Pressure;anomaly\r\n" +
		"2020-03-09 10:14:33;1.3302;0.054711;0.0\r\n" +
		"2020-03-09 10:14:34;1.35399;0.382638;1.0\r\n"
	f, err := Parse(strings.NewReader(in), []string{"anomaly"})
	if err != nil {
		t.Fatal(err)
	}
	if f.Sep != ';' {
		t.Errorf("separator %q, want ';'", f.Sep)
	}
	if got := f.ChannelNames(); len(got) != 2 || got[0] != "Current" || got[1] != "Pressure" {
		t.Fatalf("channels %v, want [Current Pressure]", got)
	}
	if f.Values[1][1] != 0.382638 || f.Rows[1][3] != "1.0" {
		t.Errorf("row 1: values %v, fields %v", f.Values[1], f.Rows[1])
	}
	if _, err := Parse(strings.NewReader("t;a\n2020-03-09 10:14:33;1,5\n"), nil); err == nil ||
		!strings.Contains(err.Error(), `column 2 (a): not a number: "1,5"`) {
		t.Errorf("decimal comma: got %v, want an error naming column 2 and the value", err)
	}
}
