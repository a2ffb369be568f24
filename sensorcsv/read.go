package sensorcsv

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/aewatch/aewatch/internal/numtext"
)

// File is a parsed sensor CSV.
type File struct {
	Path     string
	Header   []string   // every column, timestamp first
	Rows     [][]string // every field as read, for copying to output
	Times    []int64    // Unix nanoseconds, one per row
	Channels []int      // column indexes read as channels
	Values   [][]float64
	// Sep is the field separator, ',', ';' or a tab, detected from the
	// header.
	Sep byte
	// TimeColumns is how many columns the timestamp takes: 2 when the first
	// data row has a date in the first and a time of day in the second, as
	// historians and SCADA exports write it; else 1.
	TimeColumns int
	// RowIndex is whether the file's first column is a row number before
	// the timestamp, as pandas writes a frame's index (an unnamed first
	// column, or whole numbers next to a date): it is left out of Header
	// and Rows.
	RowIndex bool
	// layout is 1 + the index in timeLayouts of the layout that read the
	// last timestamp (0: none), tried first on the next.
	layout int
}

// ChannelNames returns the header names of the channel columns.
func (f *File) ChannelNames() []string {
	out := make([]string, len(f.Channels))
	for i, c := range f.Channels {
		out[i] = f.Header[c]
	}
	return out
}

// LeaveOutEmptyChannels makes every channel without a finite value in any
// row a column kept as text, as --ignore does, and returns their names:
// one detector over all channels would reject every row for the one that
// never has a value (an export's column for a tag that was not logged).
// It leaves every channel as it is, and returns nil, when none has a
// value.
func (f *File) LeaveOutEmptyChannels() []string {
	var keep []int
	var left []string
	for k, c := range f.Channels {
		if slices.ContainsFunc(f.Values, func(row []float64) bool { return !math.IsNaN(row[k]) && !math.IsInf(row[k], 0) }) {
			keep = append(keep, k)
		} else {
			left = append(left, f.Header[c])
		}
	}
	if len(left) == 0 || len(keep) == 0 {
		return nil
	}
	channels := make([]int, len(keep))
	for i, k := range keep {
		channels[i] = f.Channels[k]
	}
	for r, row := range f.Values {
		kept := make([]float64, len(keep))
		for i, k := range keep {
			kept[i] = row[k]
		}
		f.Values[r] = kept
	}
	f.Channels = channels
	return left
}

// Series is the series a file's rows belong to: the file name without
// extension, as aewatch produce keys them and eval names them.
func (f *File) Series() string { return SeriesName(f.Path) }

// SeriesName is the series the rows of the file at path belong to (of
// "pump7.csv.gz", pump7).
func SeriesName(path string) string {
	name := TrimGzip(filepath.Base(path))
	return strings.TrimSuffix(name, filepath.Ext(name))
}

// TrimGzip is name without a ".gz" ending.
func TrimGzip(name string) string {
	if n := len(name) - len(".gz"); n > 0 && strings.EqualFold(name[n:], ".gz") {
		return name[:n]
	}
	return name
}

// Read parses the CSV at path, gzip-compressed or not (told by its first
// bytes). Columns named in ignore are kept as text and not parsed (a name
// the file lacks is no error: one file of a corpus may lack the label
// columns of the others); every other column after the first is a
// channel.
func Read(path string, ignore []string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return ReadFrom(fh, path, ignore)
}

// ReadFrom parses the sensor CSV that in gives, gzip-compressed or not, as
// Read does the file at path.
func ReadFrom(in io.Reader, path string, ignore []string) (*File, error) {
	br := bufio.NewReader(in)
	var r io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		defer zr.Close()
		r = zr
	}
	f, err := Parse(r, ignore)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f.Path = path
	return f, nil
}

// maxLineBytes bounds a line of a sensor CSV.
const maxLineBytes = 16 << 20

// Parse reads a sensor CSV from r.
func Parse(r io.Reader, ignore []string) (*File, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), maxLineBytes)
	f := &File{}
	line := 0
	var header []string
	headed := false
	for sc.Scan() {
		line++
		text := strings.TrimSuffix(sc.Text(), "\r")
		if line == 1 {
			text = strings.TrimPrefix(text, "\ufeff")
			f.Sep = detectSep(text)
			var err error
			if header, err = splitFields(text, f.Sep); err != nil {
				return nil, fmt.Errorf("line 1: %w", err)
			}
			if len(header) < 2 {
				return nil, fmt.Errorf("line 1: header %.80q: want a timestamp column and at least one channel", text)
			}
			continue
		}
		if text == "" {
			continue
		}
		fields, err := splitFields(text, f.Sep)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if !headed {
			// The header is read once the first row shows whether a row
			// index comes before the timestamp.
			headed = true
			if f.RowIndex = isRowIndex(header, fields); f.RowIndex {
				header = header[1:]
			}
			if err := f.setHeader(header, ignore); err != nil {
				return nil, fmt.Errorf("line 1: %w", err)
			}
		}
		if f.RowIndex && len(fields) > 0 {
			fields = fields[1:]
		}
		if err := f.addRow(fields, line); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); errors.Is(err, bufio.ErrTooLong) {
		return nil, fmt.Errorf("line %d: longer than %d MiB: not a sensor CSV file?", line+1, maxLineBytes>>20)
	} else if err != nil {
		return nil, fmt.Errorf("line %d: %w", line+1, err)
	}
	if line == 0 {
		return nil, errors.New("empty file: want a header row")
	}
	if !headed {
		if err := f.setHeader(header, ignore); err != nil {
			return nil, fmt.Errorf("line 1: %w", err)
		}
	}
	return f, nil
}

// isRowIndex reports whether the first column is a row number ahead of the
// timestamp, as pandas' to_csv writes a frame's index: unnamed in the
// header, or named (a file pandas read and wrote again: "Unnamed: 0") but
// holding a whole number in a row whose second field is a date or a
// date-time, and a column for it and a channel to follow.
func isRowIndex(header, first []string) bool {
	if len(header) < 3 {
		return false
	}
	if header[0] == "" {
		return true
	}
	if len(first) != len(header) {
		return false
	}
	if _, err := strconv.ParseUint(first[0], 10, 64); err != nil {
		return false
	}
	second := first[1]
	if second == "" || strings.Trim(second, "0123456789.") == "" {
		return false // a number: Unix time or a value, not a date
	}
	_, err := ParseTime(second)
	return err == nil
}

func (f *File) setHeader(header, ignore []string) error {
	f.Header = header
	seen := map[string]bool{}
	for i, h := range f.Header {
		if h == "" {
			return fmt.Errorf("header column %d: empty name", f.column(i))
		}
		if seen[h] {
			return fmt.Errorf("header column %d: duplicate name %.60q", f.column(i), h)
		}
		seen[h] = true
		if i > 0 && !slices.Contains(ignore, h) {
			f.Channels = append(f.Channels, i)
		}
	}
	if len(f.Channels) == 0 {
		return errors.New("no channel columns left after --ignore")
	}
	return nil
}

// column is the file's column number (from 1) of Header[i].
func (f *File) column(i int) int {
	if f.RowIndex {
		return i + 2
	}
	return i + 1
}

func (f *File) addRow(fields []string, line int) error {
	if len(fields) != len(f.Header) {
		extra := f.column(0) - 1
		return fmt.Errorf("line %d: want %d fields (got %d)", line, len(f.Header)+extra, len(fields)+extra)
	}
	if f.TimeColumns == 0 {
		if err := f.detectTimeColumns(fields); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
	}
	stamp := fields[0]
	if f.TimeColumns == 2 {
		stamp += " " + fields[1]
	}
	t, err := f.parseTime(stamp)
	if err != nil {
		return fmt.Errorf("line %d, column %d (%.60s): %w", line, f.column(0), f.Header[0], err)
	}
	vals := make([]float64, len(f.Channels))
	for k, c := range f.Channels {
		s := fields[c]
		if Missing(s) {
			vals[k] = math.NaN()
			continue
		}
		v, err := ParseNumber(s, f.Sep)
		if err != nil {
			var hint string
			if len(f.Rows) == 0 && strings.IndexFunc(s, unicode.IsLetter) >= 0 {
				// Words in the first row: most likely a column of text (a
				// status, a label, an identifier), not one bad value.
				hint = fmt.Sprintf(" (a text column? --ignore %s leaves it out)", f.Header[c])
			}
			return fmt.Errorf("line %d, column %d (%.60s): not a number: %.40q%s", line, f.column(c), f.Header[c], s, hint)
		}
		vals[k] = v
	}
	f.Rows = append(f.Rows, fields)
	f.Times = append(f.Times, t)
	f.Values = append(f.Values, vals)
	return nil
}

// detectTimeColumns tells from the first data row whether the timestamp
// is a date and a time of day in two columns; the second is then not a
// channel.
func (f *File) detectTimeColumns(fields []string) error {
	f.TimeColumns = 1
	if len(fields) < 3 || !isDate(fields[0]) || !isTimeOfDay(fields[1]) {
		return nil
	}
	f.TimeColumns = 2
	f.Channels = slices.DeleteFunc(f.Channels, func(c int) bool { return c == 1 })
	if len(f.Channels) == 0 {
		return errors.New("no channel columns left after the date and time columns")
	}
	return nil
}

func isDate(s string) bool {
	for _, layout := range []string{"2006-01-02", "02.01.2006", "2006/01/02"} {
		if _, err := time.Parse(layout, s); err == nil {
			return true
		}
	}
	return false
}

func isTimeOfDay(s string) bool {
	for _, layout := range []string{"15:04:05.999999999", "15:04"} {
		if _, err := time.Parse(layout, s); err == nil {
			return true
		}
	}
	return false
}

// detectSep picks the header's separator: a tab when it has more tabs than
// commas and semicolons (a spreadsheet's "text" export), ';' when it has
// more semicolons than commas (SKAB and many European exports, where ','
// may be a decimal mark), else ','.
func detectSep(header string) byte {
	commas, semis, tabs := strings.Count(header, ","), strings.Count(header, ";"), strings.Count(header, "\t")
	switch {
	case tabs > commas && tabs > semis:
		return '\t'
	case semis > commas:
		return ';'
	}
	return ','
}

// splitFields splits a line on sep and trims the spaces around each field.
// A field may be quoted, as spreadsheets and pandas write them: "..." holds
// separators, and "" inside stands for one quote.
func splitFields(s string, sep byte) ([]string, error) {
	if !strings.Contains(s, `"`) {
		parts := strings.Split(s, string(sep))
		for i, p := range parts {
			parts[i] = strings.TrimSpace(p)
		}
		return parts, nil
	}
	blank := " \t" // around a field; a tab only where it does not separate
	if sep == '\t' {
		blank = " "
	}
	var parts []string
	for {
		s = strings.TrimLeft(s, blank)
		var field string
		if strings.HasPrefix(s, `"`) {
			var b strings.Builder
			i := 1
			for {
				j := strings.IndexByte(s[i:], '"')
				if j < 0 {
					return nil, fmt.Errorf("field %d: quote not closed", len(parts)+1)
				}
				b.WriteString(s[i : i+j])
				i += j + 1
				if i < len(s) && s[i] == '"' { // "" is one quote
					b.WriteByte('"')
					i++
					continue
				}
				break
			}
			field, s = b.String(), strings.TrimLeft(s[i:], blank)
			if s != "" && s[0] != sep {
				return nil, fmt.Errorf("field %d: text after its closing quote", len(parts)+1)
			}
		} else {
			end := strings.IndexByte(s, sep)
			if end < 0 {
				end = len(s)
			}
			field, s = strings.Trim(s[:end], blank), s[end:]
		}
		parts = append(parts, field)
		if s == "" {
			return parts, nil
		}
		s = s[1:] // the separator
	}
}

// missingMarks are what exports write for a value they do not have:
// pandas and R (NaN, NA, <NA>, None, null), spreadsheets (#N/A, N/A),
// historians (a dash, "nil").
var missingMarks = []string{"NA", "N/A", "#N/A", "<NA>", "NULL", "None", "nil", "-", "--"}

// Missing reports whether a numeric field holds no value: empty or one of
// the missing marks, in any case (NaN reads as a number already).
func Missing(s string) bool {
	if s == "" {
		return true
	}
	for _, m := range missingMarks {
		if strings.EqualFold(s, m) {
			return true
		}
	}
	return false
}

// ParseNumber reads a numeric field of a file separated by sep. In a file
// separated by ';' or tabs a comma is the decimal mark, as the spreadsheets
// that write such files use it ("1,5"; "1.234,5" with dots grouping
// thousands).
//
// A number beyond float64's range reads as what it rounds to: ±Inf (a
// non-finite value, as "inf" is) or ±0.
func ParseNumber(s string, sep byte) (float64, error) {
	v, err := numtext.ParseFloat(s)
	if err == nil || sep == ',' || strings.Count(s, ",") != 1 {
		return v, err
	}
	whole, frac, _ := strings.Cut(s, ",")
	if strings.Contains(frac, ".") {
		return 0, err
	}
	return numtext.ParseFloat(strings.ReplaceAll(whole, ".", "") + "." + frac)
}

var timeLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04", "2006-01-02T15:04",
	"2006/01/02 15:04:05.999999999", "2006/01/02 15:04", "02.01.2006 15:04:05.999999999", "02.01.2006 15:04",
	"2006-01-02", "1/2/2006 3:04:05.999999999 PM", "1/2/2006 3:04 PM"}

// timeFormats names the timestamps ParseTime reads, for its errors.
const timeFormats = `want RFC3339, "2006-01-02 15:04[:05[.fff]]" (also with a zone, "T" or "/"), "02.01.2006 15:04[:05]", "1/2/2006 3:04[:05] PM", "2006-01-02", or Unix seconds (milliseconds, microseconds or nanoseconds from 1e11, 1e14 or 1e17)`

// ParseTime reads a timestamp: RFC3339; "2006-01-02 15:04:05[.fff]" in
// UTC, or with a zone, or with "T", "/" or without seconds; "02.01.2006
// 15:04[:05]"; "1/2/2006 3:04[:05] PM", month first as a US spreadsheet
// writes it (its AM or PM tells it from a day-first date); a date; or
// Unix time, in seconds (integer or decimal) or, for integers too large
// to be seconds of this era, in milliseconds (from 1e11), microseconds
// (1e14) or nanoseconds (1e17).
func ParseTime(s string) (int64, error) {
	t, _, err := parseTimeLayout(s)
	return t, err
}

// parseTimeLayout is ParseTime that also returns 1 + the index of the
// layout that read s (0 for Unix time).
func parseTimeLayout(s string) (int64, int, error) {
	if s == "" {
		return 0, 0, errors.New("empty timestamp")
	}
	if c := s[0]; c >= '0' && c <= '9' && !strings.ContainsAny(s, "-:T /") && strings.Count(s, ".") <= 1 {
		t, err := parseUnix(s)
		return t, 0, err
	}
	for k, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UnixNano(), k + 1, nil
		}
	}
	return 0, 0, fmt.Errorf("bad timestamp %.40q: %s", s, timeFormats)
}

// parseTime reads a row's timestamp as ParseTime does, trying first the
// layout that read the row before: a file keeps to one, and each layout
// tried before it fails with an error value (on NAB's timestamps,
// RFC 3339 on every row). No two layouts read the same text, so the order
// changes no result.
func (f *File) parseTime(s string) (int64, error) {
	if f.layout > 0 {
		if t, err := time.Parse(timeLayouts[f.layout-1], s); err == nil {
			return t.UnixNano(), nil
		}
	}
	t, k, err := parseTimeLayout(s)
	f.layout = k
	return t, err
}

func parseUnix(s string) (int64, error) {
	bad := fmt.Errorf("bad timestamp %.40q: %s", s, timeFormats)
	whole, frac, _ := strings.Cut(s, ".")
	n, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, bad
	}
	digits := 9 // of a nanosecond in the unit
	switch {
	case n >= 1e17:
		digits = 0
	case n >= 1e14:
		digits = 3
	case n >= 1e11:
		digits = 6
	}
	unit := int64(math.Pow10(digits))
	if n > math.MaxInt64/unit-1 {
		return 0, bad
	}
	ns := int64(0)
	if frac != "" {
		if len(frac) > digits || strings.Trim(frac, "0123456789") != "" {
			return 0, bad
		}
		ns, _ = strconv.ParseInt((frac + "000000000")[:digits], 10, 64)
	}
	return n*unit + ns, nil
}

// FormatFloat writes x in the shortest form that reads back exactly.
func FormatFloat(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

// TextWriter is what Join and WriteField write to: a *bytes.Buffer, or a
// *bufio.Writer that streams a large file's lines to disk.
type TextWriter interface {
	io.StringWriter
	io.ByteWriter
}

// Join writes fields as one comma-separated line (without the line end),
// each as WriteField does.
func Join(buf TextWriter, fields []string) {
	for i, s := range fields {
		if i > 0 {
			buf.WriteByte(',')
		}
		WriteField(buf, s)
	}
}

// WriteField writes one field of a comma-separated line, quoted if it holds
// a comma or a quote (a decimal comma read from a ';'-separated file, a
// column name with a comma in it).
func WriteField(buf TextWriter, s string) {
	if !strings.ContainsAny(s, `,"`) {
		buf.WriteString(s)
		return
	}
	buf.WriteByte('"')
	buf.WriteString(strings.ReplaceAll(s, `"`, `""`))
	buf.WriteByte('"')
}
