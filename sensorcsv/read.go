package sensorcsv

import (
	"bufio"
	"bytes"
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
)

// File is a parsed sensor CSV.
type File struct {
	Path     string
	Header   []string   // every column, timestamp first
	Rows     [][]string // every field as read, for copying to output
	Times    []int64    // Unix nanoseconds, one per row
	Channels []int      // column indexes read as channels
	Values   [][]float64
	// Sep is the field separator, ',' or ';', detected from the header.
	Sep byte
}

// ChannelNames returns the header names of the channel columns.
func (f *File) ChannelNames() []string {
	out := make([]string, len(f.Channels))
	for i, c := range f.Channels {
		out[i] = f.Header[c]
	}
	return out
}

// Series is the series a file's rows belong to: the file name without
// extension, as aewatch produce keys them and eval names them.
func (f *File) Series() string { return SeriesName(f.Path) }

// SeriesName is the series the rows of the file at path belong to.
func SeriesName(path string) string {
	return strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
}

// Read parses the CSV at path. Columns named in ignore are kept as text and
// not parsed; every other column after the first is a channel.
func Read(path string, ignore []string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	f, err := Parse(fh, ignore)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f.Path = path
	return f, nil
}

// Parse reads a sensor CSV from r.
func Parse(r io.Reader, ignore []string) (*File, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	f := &File{}
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSuffix(sc.Text(), "\r")
		if line == 1 {
			text = strings.TrimPrefix(text, "\ufeff")
			f.Sep = detectSep(text)
			if err := f.setHeader(text, ignore); err != nil {
				return nil, fmt.Errorf("line 1: %w", err)
			}
			continue
		}
		if text == "" {
			continue
		}
		if err := f.addRow(text, line); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", line+1, err)
	}
	if line == 0 {
		return nil, errors.New("empty file: want a header row")
	}
	return f, nil
}

func (f *File) setHeader(text string, ignore []string) error {
	f.Header = splitFields(text, f.Sep)
	if len(f.Header) < 2 {
		return fmt.Errorf("header %q: want a timestamp column and at least one channel", text)
	}
	seen := map[string]bool{}
	for i, h := range f.Header {
		if h == "" {
			return fmt.Errorf("header column %d: empty name", i+1)
		}
		if seen[h] {
			return fmt.Errorf("header column %d: duplicate name %q", i+1, h)
		}
		seen[h] = true
		if i > 0 && !slices.Contains(ignore, h) {
			f.Channels = append(f.Channels, i)
		}
	}
	for _, ig := range ignore {
		if !seen[ig] {
			return fmt.Errorf("--ignore or --label-column: no column named %q", ig)
		}
	}
	if len(f.Channels) == 0 {
		return errors.New("no channel columns left after --ignore")
	}
	return nil
}

func (f *File) addRow(text string, line int) error {
	fields := splitFields(text, f.Sep)
	if len(fields) != len(f.Header) {
		return fmt.Errorf("line %d: want %d fields (got %d)", line, len(f.Header), len(fields))
	}
	t, err := ParseTime(fields[0])
	if err != nil {
		return fmt.Errorf("line %d, column 1 (%s): %w", line, f.Header[0], err)
	}
	vals := make([]float64, len(f.Channels))
	for k, c := range f.Channels {
		s := fields[c]
		if s == "" {
			vals[k] = math.NaN()
			continue
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("line %d, column %d (%s): not a number: %q", line, c+1, f.Header[c], s)
		}
		vals[k] = v
	}
	f.Rows = append(f.Rows, fields)
	f.Times = append(f.Times, t)
	f.Values = append(f.Values, vals)
	return nil
}

// detectSep picks the header's separator: ';' when it has more semicolons
// than commas (SKAB and many European exports, where ',' may be a decimal
// mark), else ','.
func detectSep(header string) byte {
	if strings.Count(header, ";") > strings.Count(header, ",") {
		return ';'
	}
	return ','
}

// splitFields splits on sep and trims surrounding spaces. Sensor CSVs do
// not quote; a quoted field keeps its quotes and fails to parse as a number.
func splitFields(s string, sep byte) []string {
	parts := strings.Split(s, string(sep))
	for i, p := range parts {
		parts[i] = strings.TrimSpace(p)
	}
	return parts
}

var timeLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999"}

// ParseTime reads a timestamp as RFC3339, "2006-01-02 15:04:05[.fff]" (UTC)
// or Unix seconds (integer or decimal).
func ParseTime(s string) (int64, error) {
	if s == "" {
		return 0, errors.New("empty timestamp")
	}
	if c := s[0]; c >= '0' && c <= '9' && !strings.ContainsAny(s, "-:T ") {
		return parseUnixSeconds(s)
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UnixNano(), nil
		}
	}
	return 0, fmt.Errorf("bad timestamp %q: want RFC3339, \"2006-01-02 15:04:05\" or Unix seconds", s)
}

func parseUnixSeconds(s string) (int64, error) {
	bad := fmt.Errorf("bad timestamp %q: want RFC3339, \"2006-01-02 15:04:05\" or Unix seconds", s)
	whole, frac, _ := strings.Cut(s, ".")
	sec, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || sec > math.MaxInt64/1_000_000_000-1 {
		return 0, bad
	}
	ns := int64(0)
	if frac != "" {
		if len(frac) > 9 || strings.Trim(frac, "0123456789") != "" {
			return 0, bad
		}
		n, _ := strconv.ParseInt((frac + "000000000")[:9], 10, 64)
		ns = n
	}
	return sec*1e9 + ns, nil
}

// FormatFloat writes x in the shortest form that reads back exactly.
func FormatFloat(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

// Join writes fields as one CSV line (without the line end).
func Join(buf *bytes.Buffer, fields []string) {
	for i, s := range fields {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(s)
	}
}
