package sensorcsv

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
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
		if want == "" {
			if err != nil {
				t.Errorf("%q: %v, want no error", in, err)
			}
			return
		}
		if err == nil || err.Error() != want {
			t.Errorf("got %v, want %q", err, want)
		}
	}
	f("", nil, "empty file: want a header row")
	f("timestamp\n", nil, `line 1: header "timestamp": want a timestamp column and at least one channel`)
	f("t,a,a\n", nil, `line 1: header column 3: duplicate name "a"`)
	f("t,a\nt,a\n", []string{"b"}, `line 2, column 1 (t): bad timestamp "t": `+timeFormats) // b is ignored, though the file lacks it
	f("t,a\n2024-03-01 00:00:00,1\n2024-03-01 00:05:00,x1\n", nil, `line 3, column 2 (a): not a number: "x1"`)
	f("t,a\n2024-03-01 00:00:00,1,2\n", nil, "line 2: want 2 fields (got 3)")
	f("t,a\nyesterday,1\n", nil, `line 2, column 1 (t): bad timestamp "yesterday": `+timeFormats)
	f("t,a\n12.3.4,1\n", nil, `line 2, column 1 (t): bad timestamp "12.3.4": `+timeFormats)
	f("t,a\n1709251200.1234567,1\n", nil, "")
	f("t,a\n\"2024-03-01 00:00:00,1\n", nil, `line 2: field 1: quote not closed`)
	f("t,a\n\"2024-03-01 00:00:00\"x,1\n", nil, `line 2: field 1: text after its closing quote`)
	f("t;a\n2024-03-01 00:00:00;1,5,0\n", nil, `line 2, column 2 (a): not a number: "1,5,0"`)
	f("t;a\n2024-03-01 00:00:00;1,5.0\n", nil, `line 2, column 2 (a): not a number: "1,5.0"`)
	f("t,a\n1709251200000.1234567,1\n", nil, `line 2, column 1 (t): bad timestamp "1709251200000.1234567": `+timeFormats)
	f("t,a\n"+strings.Repeat("1", 17<<20), nil, "line 2: longer than 16 MiB: not a sensor CSV file?")
	// A long text is cut in the message: a 2 MB field is not echoed.
	f("t,a\n2024-03-01 00:00:00,1\n2024-03-01 00:05:00,"+strings.Repeat("1x", 1e6)+"\n", nil, `line 3, column 2 (a): not a number: "`+strings.Repeat("1x", 20)+`"`)
}

// TestParseBeyondRange: a number beyond float64's range is read as what it
// rounds to, ±Inf (a non-finite value, as "inf" is) or 0, not refused as
// no number (with a hint that it is a text column).
func TestParseBeyondRange(t *testing.T) {
	f, err := Parse(strings.NewReader("t;a;b\n1709251200;1e999;-1e999\n1709251260;1e-999;1,5e999\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Values; !math.IsInf(got[0][0], 1) || !math.IsInf(got[0][1], -1) || got[1][0] != 0 || !math.IsInf(got[1][1], 1) {
		t.Errorf("read %v, want [[+Inf -Inf] [0 +Inf]]", got)
	}
}

// TestParseRowIndex reads files as pandas' to_csv writes them by default:
// the frame's index first, unnamed (or "Unnamed: 0" once read and written
// again), before the timestamp. The index is neither the time nor a
// channel, and errors still name the file's own column numbers.
func TestParseRowIndex(t *testing.T) {
	for _, in := range []string{
		",timestamp,a,b\n0,2024-03-01 00:00:00,1,2\n1,2024-03-01 00:00:01,3,4\n",
		"Unnamed: 0,timestamp,a,b\n0,2024-03-01T00:00:00Z,1,2\n1,2024-03-01T00:00:01Z,3,4\n",
	} {
		f, err := Parse(strings.NewReader(in), nil)
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if !f.RowIndex || f.Header[0] != "timestamp" || len(f.Rows[1]) != 3 || f.Rows[1][1] != "3" {
			t.Errorf("%q: row index %v, header %v, rows %v", in, f.RowIndex, f.Header, f.Rows)
		}
		if got := f.ChannelNames(); len(got) != 2 || got[0] != "a" || got[1] != "b" {
			t.Errorf("%q: channels %v, want [a b]", in, got)
		}
		if f.Times[1]-f.Times[0] != 1e9 || f.Values[1][1] != 4 {
			t.Errorf("%q: times %v, values %v", in, f.Times, f.Values)
		}
	}
	// Unix seconds first, then numbers: the first column is the time.
	f, err := Parse(strings.NewReader("t,a,b\n1709251200,5,6\n"), nil)
	if err != nil || f.RowIndex || len(f.Channels) != 2 {
		t.Errorf("Unix time first: %v, row index %v, channels %v", err, f != nil && f.RowIndex, f)
	}
	for in, want := range map[string]string{
		",t,a\n0,2024-03-01 00:00:00,x\n":   `line 2, column 3 (a): not a number: "x" (a text column? --ignore a leaves it out)`,
		",t,a\n0,2024-03-01 00:00:00,1,2\n": "line 2: want 3 fields (got 4)",
		",t,a\n0,yesterday,1\n":             `line 2, column 2 (t): bad timestamp "yesterday": ` + timeFormats,
		",t,t\n0,2024-03-01 00:00:00,1\n":   `line 1: header column 3: duplicate name "t"`,
		",t,a\n":                            "line 1: header column 1: empty name",
	} {
		if _, err := Parse(strings.NewReader(in), nil); err == nil || err.Error() != want {
			t.Errorf("%q: got %v, want %q", in, err, want)
		}
	}
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
}

// TestParseAsSpreadsheetsWrite reads a ';' file with decimal commas (dots
// grouping thousands) and quoted fields, as spreadsheets in most of Europe
// export them, and a ',' file quoted as pandas writes it.
func TestParseAsSpreadsheetsWrite(t *testing.T) {
	in := "\"Zeit\";\"Druck; bar\";Temp;Status\r\n" +
		"\"01.03.2024 08:00:00\";1,5;-0,25;\"ok\"\r\n" +
		"01.03.2024 08:00:01; \"1.234,5\" ;20;\"said \"\"hi\"\"\"\r\n"
	f, err := Parse(strings.NewReader(in), []string{"Status"})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.ChannelNames(); len(got) != 2 || got[0] != "Druck; bar" || got[1] != "Temp" {
		t.Fatalf("channels %q, want [Druck; bar Temp]", got)
	}
	if f.Values[0][0] != 1.5 || f.Values[0][1] != -0.25 || f.Values[1][0] != 1234.5 || f.Values[1][1] != 20 {
		t.Errorf("values %v, want [[1.5 -0.25] [1234.5 20]]", f.Values)
	}
	if want := int64(1709280000e9); f.Times[0] != want || f.Times[1] != want+1e9 {
		t.Errorf("times %v, want %d and one second later", f.Times, want)
	}
	if f.Rows[1][3] != `said "hi"` {
		t.Errorf("quoted field %q, want %q", f.Rows[1][3], `said "hi"`)
	}
	var b bytes.Buffer
	Join(&b, f.Rows[1])
	if got, want := b.String(), `01.03.2024 08:00:01,"1.234,5",20,"said ""hi"""`; got != want {
		t.Errorf("Join: %s, want %s", got, want)
	}
	back, err := Parse(strings.NewReader("t,a,b,s\n"+b.String()+"\n"), []string{"a", "s"})
	if err != nil || back.Rows[0][1] != "1.234,5" || back.Rows[0][3] != `said "hi"` {
		t.Errorf("Join's line read back: %v, %q", err, back.Rows)
	}
	pandas := "\"timestamp\",\"value\"\n\"2024-03-01 08:00:00\",\"1.5\"\n"
	if p, err := Parse(strings.NewReader(pandas), nil); err != nil || p.Values[0][0] != 1.5 {
		t.Errorf("quoted ',' file: %v", err)
	}
	tsv := "Zeit\tDruck\tText\n01.03.2024 08:00\t1,5\t\"a\tb\"\n01.03.2024 08:01\t\t\n"
	if p, err := Parse(strings.NewReader(tsv), []string{"Text"}); err != nil || p.Sep != '\t' || p.Values[0][0] != 1.5 ||
		p.Rows[0][2] != "a\tb" || !math.IsNaN(p.Values[1][0]) || p.Rows[1][2] != "" {
		t.Errorf("tab-separated: %v", err)
		if p != nil {
			t.Errorf("separator %q, values %v, rows %q", p.Sep, p.Values, p.Rows)
		}
	}
	if _, err := Parse(strings.NewReader("t,a\n2024-03-01 00:00:00,1,5\n"), nil); err == nil {
		t.Error("a decimal comma in a ',' file: want an error (it splits the field)")
	}
}

// TestParseTime reads the timestamps exports write.
func TestParseTime(t *testing.T) {
	const at = int64(1709280000e9) // 2024-03-01 08:00:00 UTC
	for s, want := range map[string]int64{
		"2024-03-01T08:00:00Z":      at,
		"2024-03-01T09:00:00+01:00": at,
		"2024-03-01 09:00:00+01:00": at,
		"2024-03-01 08:00:00.25":    at + 25e7,
		"2024-03-01 08:00":          at,
		"2024-03-01T08:00":          at,
		"2024/03/01 08:00:00":       at,
		"2024/03/01 08:00":          at,
		"01.03.2024 08:00:00":       at,
		"01.03.2024 08:00":          at,
		"3/1/2024 8:00:00 AM":       at,
		"03/01/2024 08:00 AM":       at,
		"3/1/2024 8:00:00.25 AM":    at + 25e7,
		"3/1/2024 12:00:00 AM":      at - 8*3600e9,
		"3/1/2024 1:30 PM":          at + 5.5*3600e9,
		"2024-03-01":                at - 8*3600e9,
		"1709280000":                at,
		"1709280000.5":              at + 5e8,
		"1709280000000":             at,
		"1709280000123":             at + 123e6,
		"1709280000000.5":           at + 5e5,
		"1709280000000000":          at,
		"1709280000000000000":       at,
		"1709280000000000001":       at + 1,
	} {
		got, err := ParseTime(s)
		if err != nil || got != want {
			t.Errorf("ParseTime(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
}

// TestTimeLayoutsReadDisjointTexts: a file tries first the layout that
// read its row before (File.parseTime), which gives ParseTime's results
// only while no text reads under two layouts.
func TestTimeLayoutsReadDisjointTexts(t *testing.T) {
	texts := []string{"2024-03-01T08:00:00Z", "2024-03-01T08:00:00.25Z", "2024-03-01T09:00:00+01:00",
		"2024-03-01 08:00:00", "2024-03-01 08:00:00.25", "2024-03-01T08:00:00", "2024-03-01T08:00:00.5",
		"2024-03-01 09:00:00+01:00", "2024-03-01 08:00:00Z", "2024-03-01 08:00", "2024-03-01T08:00",
		"2024/03/01 08:00:00", "2024/03/01 08:00:00.5", "2024/03/01 08:00", "01.03.2024 08:00:00",
		"01.03.2024 08:00:00.5", "01.03.2024 08:00", "2024-03-01", "3/1/2024 8:00:00 AM", "3/1/2024 8:00:00.5 PM",
		"3/1/2024 8:00 PM"}
	for _, s := range texts {
		var read []string
		for _, layout := range timeLayouts {
			if _, err := time.Parse(layout, s); err == nil {
				read = append(read, layout)
			}
		}
		if len(read) != 1 {
			t.Errorf("%q reads under %d layouts %q, want exactly one", s, len(read), read)
		}
	}
	// A file whose rows change layout reads each as ParseTime does.
	var f File
	for _, s := range append(texts, "1709280000", "2024-03-01 08:00:00") {
		got, err := f.parseTime(s)
		want, wantErr := ParseTime(s)
		if got != want || (err == nil) != (wantErr == nil) {
			t.Errorf("after the rows before it, %q reads as %d (%v), ParseTime %d (%v)", s, got, err, want, wantErr)
		}
	}
}

// TestParseDateAndTimeColumns reads a historian's export: the date and the
// time of day in two columns, which make one timestamp and no channel.
func TestParseDateAndTimeColumns(t *testing.T) {
	in := "Datum;Uhrzeit;Druck;Temp\n01.03.2024;08:00:00;1,5;20\n01.03.2024;08:00:01.5;1,6;21\n"
	f, err := Parse(strings.NewReader(in), nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.TimeColumns != 2 {
		t.Errorf("time columns %d, want 2", f.TimeColumns)
	}
	if got := f.ChannelNames(); len(got) != 2 || got[0] != "Druck" || got[1] != "Temp" {
		t.Errorf("channels %q, want [Druck Temp]", got)
	}
	if want := int64(1709280000e9); f.Times[0] != want || f.Times[1] != want+15e8 {
		t.Errorf("times %v, want %d and 1.5 s later", f.Times, want)
	}
	if _, err := Parse(strings.NewReader("d,t\n2024-03-01,08:00\n"), nil); err == nil {
		t.Error("a date and a time with no channel: want an error")
	}
	one, err := Parse(strings.NewReader("d,x\n2024-03-01,08\n2024-03-02,09\n"), nil)
	if err != nil || one.TimeColumns != 1 || one.Values[1][0] != 9 {
		t.Errorf("a date and a number: %v, time columns %d", err, one.TimeColumns)
	}
}

// TestParseMissingMarks: what pandas, R, spreadsheets and historians write
// for a value they lack reads as missing (NaN, a rejected sample), not as
// an error that stops the file; a word that is no such mark still does.
func TestParseMissingMarks(t *testing.T) {
	marks := []string{"", "NaN", "nan", "NA", "n/a", "N/A", "#N/A", "<NA>", "null", "NULL", "None", "nil", "-", "--"}
	var in strings.Builder
	in.WriteString("timestamp,a,b\n")
	for i, m := range marks {
		fmt.Fprintf(&in, "%d,%s,%d\n", 1709251200+60*i, m, i)
	}
	f, err := Parse(strings.NewReader(in.String()), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range marks {
		if !math.IsNaN(f.Values[i][0]) || f.Values[i][1] != float64(i) {
			t.Errorf("%q: read %v, want [NaN %d]", m, f.Values[i], i)
		}
	}
	if _, err := Parse(strings.NewReader("timestamp,a\n1709251200,offline\n"), nil); err == nil || !strings.Contains(err.Error(), `"offline"`) {
		t.Errorf(`"offline": error %v, want one naming the field`, err)
	}
}

// TestReadGzip: a gzip-compressed file (told by its first bytes) reads as
// the plain one does, and names its series without ".csv.gz".
func TestReadGzip(t *testing.T) {
	text := "timestamp;a;b\n2024-03-01 00:00:00;1,5;2\n2024-03-01 00:01:00;3;4\n"
	dir := t.TempDir()
	plain, zipped := filepath.Join(dir, "pump7.csv"), filepath.Join(dir, "pump7.csv.gz")
	os.WriteFile(plain, []byte(text), 0o644)
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write([]byte(text))
	zw.Close()
	os.WriteFile(zipped, z.Bytes(), 0o644)
	want, err := Read(plain, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Read(zipped, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Path = plain; !reflect.DeepEqual(got, want) {
		t.Errorf("gzip read %+v, want %+v", got, want)
	}
	if s := SeriesName(zipped); s != "pump7" {
		t.Errorf("series of %s: %q, want pump7", zipped, s)
	}
	os.WriteFile(zipped, z.Bytes()[:z.Len()/2], 0o644)
	if _, err := Read(zipped, nil); err == nil || !strings.Contains(err.Error(), zipped) {
		t.Errorf("a truncated gzip file: %v, want an error naming it", err)
	}
}

// TestLeaveOutEmptyChannels: channels without a finite value in any row
// become text columns and are named; the others keep their values in
// order; none is left out when every channel has one, nor when none does.
func TestLeaveOutEmptyChannels(t *testing.T) {
	f, err := Parse(strings.NewReader("t,a,b,c,d\n1,1,,NaN,4\n2,2,NA,inf,5\n3,,-,,6\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if left := f.LeaveOutEmptyChannels(); !slices.Equal(left, []string{"b", "c"}) {
		t.Errorf("left out %q, want b and c", left)
	}
	if names := f.ChannelNames(); !slices.Equal(names, []string{"a", "d"}) {
		t.Errorf("channels %q, want a and d", names)
	}
	if got := fmt.Sprint(f.Values); got != "[[1 4] [2 5] [NaN 6]]" {
		t.Errorf("values %s", got)
	}
	if len(f.Rows[0]) != 5 {
		t.Errorf("row %q: every column is kept as text", f.Rows[0])
	}
	if left := f.LeaveOutEmptyChannels(); left != nil {
		t.Errorf("left out %q the second time, want none", left)
	}
	none, err := Parse(strings.NewReader("t,a,b\n1,,\n2,NaN,\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if left := none.LeaveOutEmptyChannels(); left != nil || len(none.Channels) != 2 {
		t.Errorf("left out %q of channels without a value, want none", left)
	}
}
