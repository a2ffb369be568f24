package eval

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aewatch/aewatch/detector"
	"github.com/aewatch/aewatch/sensorcsv"
	"github.com/aewatch/aewatch/synth"
)

var update = flag.Bool("update", false, "rewrite golden files")

// writeInput builds a small two-channel file with an ignored text column,
// a missing value, a NaN and a duplicate timestamp.
func writeInput(t *testing.T, path string) {
	t.Helper()
	a, err := synth.Generate("oscillating", "frequency", 900, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := synth.Generate("seasonal", "spike", 900, 1)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	buf.WriteString("timestamp,vibration,shift,temperature\r\n")
	for i, ts := range a.Times {
		vib := fmt.Sprintf("%.4f", a.Values[i])
		temp := fmt.Sprintf("%.4f", b.Values[i])
		switch i {
		case 400:
			vib = ""
		case 401:
			temp = "NaN"
		}
		stamp := ts.Format("2006-01-02 15:04:05")
		if i == 500 {
			stamp = a.Times[i-1].Format("2006-01-02 15:04:05")
		}
		fmt.Fprintf(&buf, "%s,%s,%s,%s\r\n", stamp, vib, []string{"day", "night"}[i/144%2], temp)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func runDir(t *testing.T, in string, multivariate bool) []byte {
	t.Helper()
	out := t.TempDir()
	inputs, err := Discover([]string{in})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), inputs, Options{
		Detector: detector.DefaultConfig(), Multivariate: multivariate, Ignore: []string{"shift"}, OutDir: out,
	}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, inputs[0].Rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGolden pins the eval output format and values: any change to the
// scoring path shows here. Regenerate with go test ./eval -run Golden -update.
func TestGolden(t *testing.T) {
	in := filepath.Join("testdata", "input.csv")
	if _, err := os.Stat(in); *update && os.IsNotExist(err) {
		writeInput(t, in) // the input stays pinned once written
	}
	for _, multi := range []bool{false, true} {
		golden := filepath.Join("testdata", "univariate.golden.csv")
		if multi {
			golden = filepath.Join("testdata", "multivariate.golden.csv")
		}
		got := runDir(t, in, multi)
		if *update {
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run with -update to create it)", err)
		}
		if !bytes.Equal(got, want) {
			gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
			for i := range min(len(gl), len(wl)) {
				if gl[i] != wl[i] {
					t.Fatalf("%s: line %d differs:\n got %s\nwant %s", golden, i+1, gl[i], wl[i])
				}
			}
			t.Fatalf("%s: %d lines, want %d", golden, len(gl), len(wl))
		}
	}
}

// TestContract checks the eval CSV contract on the golden input: a header,
// one row per input row in order, input fields copied verbatim, scores in
// [0,1] written in shortest round-trip form, alert 0/1.
func TestContract(t *testing.T) {
	in := filepath.Join("testdata", "input.csv")
	src, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	inLines := strings.Split(strings.TrimRight(strings.ReplaceAll(string(src), "\r\n", "\n"), "\n"), "\n")
	outLines := strings.Split(strings.TrimRight(string(runDir(t, in, false)), "\n"), "\n")
	if len(outLines) != len(inLines) {
		t.Fatalf("%d output lines for %d input lines", len(outLines), len(inLines))
	}
	wantHeader := inLines[0] + ",anomaly_score,alert,error,threshold,reference_score,alert_score,drift_score,drift_alert,quality_alert,alert_kind,explanation,silenced," +
		"score_vibration,score_temperature,error_vibration,error_temperature,drift_score_vibration,drift_score_temperature," +
		"yhat_vibration,yhat_temperature,yhat_lower_vibration,yhat_lower_temperature,yhat_upper_vibration,yhat_upper_temperature"
	if outLines[0] != wantHeader {
		t.Fatalf("header %q, want %q", outLines[0], wantHeader)
	}
	alerts, prevAlert := 0, "0"
	for i := 1; i < len(inLines); i++ {
		if !strings.HasPrefix(outLines[i], inLines[i]+",") {
			t.Fatalf("line %d does not start with the input row %q: %q", i+1, inLines[i], outLines[i])
		}
		f := strings.Split(outLines[i][len(inLines[i])+1:], ",")
		var score float64
		if _, err := fmt.Sscan(f[0], &score); err != nil || score < 0 || score > 1 || math.IsNaN(score) {
			t.Fatalf("line %d: anomaly_score %q not in [0,1]", i+1, f[0])
		}
		if f[1] != "0" && f[1] != "1" {
			t.Fatalf("line %d: alert %q", i+1, f[1])
		}
		if f[1] == "1" {
			alerts++
		}
		for k, name := range map[int]string{4: "reference_score", 5: "alert_score", 6: "drift_score"} {
			if _, err := fmt.Sscan(f[k], &score); err != nil || score < 0 || score > 1 {
				t.Fatalf("line %d: %s %q not in [0,1]", i+1, name, f[k])
			}
		}
		for k, name := range map[int]string{7: "drift_alert", 8: "quality_alert", 11: "silenced"} {
			if f[k] != "0" && f[k] != "1" {
				t.Fatalf("line %d: %s %q", i+1, name, f[k])
			}
		}
		var kinds []string
		for _, k := range []struct {
			col  int
			kind string
		}{{1, "anomaly"}, {7, "drift"}, {8, "quality"}} {
			if f[k.col] == "1" {
				kinds = append(kinds, k.kind)
			}
		}
		if want := strings.Join(kinds, "+"); f[9] != want {
			t.Fatalf("line %d: alert_kind %q with alert %s, drift_alert %s, quality_alert %s", i+1, f[9], f[1], f[7], f[8])
		}
		// Each channel's band is empty before the row is scored, and holds
		// its expected value after.
		for j := range 2 {
			yhat, lo, hi := f[18+j], f[20+j], f[22+j]
			if yhat == "" && lo == "" && hi == "" {
				continue
			}
			var y, l, h float64
			if _, err := fmt.Sscan(yhat+" "+lo+" "+hi, &y, &l, &h); err != nil || !(l <= y && y <= h) {
				t.Fatalf("line %d channel %d: yhat %q, yhat_lower %q, yhat_upper %q: want yhat_lower <= yhat <= yhat_upper", i+1, j, yhat, lo, hi)
			}
		}
		// The alert opens when alert_score reaches the threshold.
		if a, _ := strconv.ParseFloat(f[5], 64); f[1] == "1" && prevAlert == "0" && a < 0.5 {
			t.Fatalf("line %d: alert opened with alert_score %v", i+1, a)
		}
		prevAlert = f[1]
	}
	if alerts == 0 {
		t.Fatal("no alert on a file with a frequency fault and a spike")
	}
}

func TestDeterministicBytes(t *testing.T) {
	dir := t.TempDir()
	series, err := synth.Corpus(1500, 1, 7)
	if err != nil {
		t.Fatal(err)
	}
	if err := synth.WriteCorpus(dir, series[:6]); err != nil {
		t.Fatal(err)
	}
	inputs, err := Discover([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	outs := [2]string{t.TempDir(), t.TempDir()}
	for i, workers := range []int{1, 3} {
		if _, err := Run(context.Background(), inputs, Options{Detector: detector.DefaultConfig(), OutDir: outs[i], Workers: workers}); err != nil {
			t.Fatal(err)
		}
	}
	for _, in := range inputs {
		a, _ := os.ReadFile(filepath.Join(outs[0], in.Rel))
		b, _ := os.ReadFile(filepath.Join(outs[1], in.Rel))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Fatalf("%s: output differs between runs (%d vs %d bytes)", in.Rel, len(a), len(b))
		}
	}
}

// TestOutputOverInputRefused: --out the inputs' own directory (or a link
// to it, or "." there) would write each output over its input; Run refuses before
// writing anything, and the inputs stay as they were.
func TestOutputOverInputRefused(t *testing.T) {
	dir := t.TempDir()
	const csv = "timestamp,value\n2024-03-01 00:00:00,1\n2024-03-01 00:05:00,2\n"
	os.WriteFile(filepath.Join(dir, "a.csv"), []byte(csv), 0o644)
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	inputs, _ := Discover([]string{dir})
	for _, out := range []string{dir, link} {
		_, err := Run(context.Background(), inputs, Options{Detector: detector.DefaultConfig(), OutDir: out})
		want := "--out " + out + ": the output " + filepath.Join(out, "a.csv") + " would overwrite the input " + filepath.Join(dir, "a.csv")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("--out %s: %v, want %q", out, err, want)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "a.csv")); string(b) != csv {
			t.Fatalf("--out %s: the input was changed: %q", out, b)
		}
	}
	// The input named by its absolute path, the output directory by a
	// relative one.
	t.Chdir(dir)
	if _, err := Run(context.Background(), inputs, Options{Detector: detector.DefaultConfig(), OutDir: "."}); err == nil || !strings.Contains(err.Error(), "would overwrite the input") {
		t.Errorf("--out . in the inputs' directory: %v, want it refused", err)
	}
}

// TestMalformedRowNamesFileLineColumn: a malformed row fails its file,
// named with line and column; the other files are scored and written.
func TestMalformedRowNamesFileLineColumn(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "bad.csv")
	os.WriteFile(p, []byte("timestamp,value\n2024-03-01 00:00:00,1\n2024-03-01 00:05:00,oops\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "good.csv"), []byte("timestamp,value\n2024-03-01 00:00:00,1\n2024-03-01 00:05:00,2\n"), 0o644)
	inputs, _ := Discover([]string{dir})
	out := t.TempDir()
	results, err := Run(context.Background(), inputs, Options{Detector: detector.DefaultConfig(), OutDir: out})
	want := p + `: line 3, column 2 (value): not a number: "oops"`
	var failed *FileErrors
	if !errors.As(err, &failed) || len(failed.Errs) != 1 || failed.Errs[0].Error() != want || failed.Files != 2 {
		t.Fatalf("got %v, want one of 2 files failed with %q", err, want)
	}
	if len(results) != 1 || results[0].Rel != "good.csv" || len(results[0].Score) != 2 {
		t.Fatalf("results %+v: want good.csv's 2 rows", results)
	}
	if _, err := os.Stat(filepath.Join(out, "good.csv")); err != nil {
		t.Fatalf("good.csv's output: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "bad.csv")); !os.IsNotExist(err) {
		t.Fatalf("bad.csv has an output (%v)", err)
	}
}

func TestDiscover(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"b/x.csv", "a/y.CSV", "a/notes.txt", "z.csv", "c/w.csv.gz", "c/notes.txt.gz"} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(dir, p), nil, 0o644)
	}
	got, err := Discover([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	var rels []string
	for _, in := range got {
		rels = append(rels, filepath.ToSlash(in.Rel))
	}
	if strings.Join(rels, " ") != "a/y.CSV b/x.csv c/w.csv z.csv" {
		t.Fatalf("found %v", rels)
	}
	if got[2].Path != filepath.Join(dir, "c/w.csv.gz") {
		t.Errorf("c/w.csv's path %s, want the .gz file's", got[2].Path)
	}
	os.WriteFile(filepath.Join(dir, "b/x.csv.gz"), nil, 0o644)
	if _, err := Discover([]string{dir}); err == nil || !strings.Contains(err.Error(), "would both write b/x.csv") {
		t.Errorf("x.csv beside x.csv.gz: %v, want an error naming both", err)
	}
	if _, err := Discover([]string{dir, filepath.Join(dir, "z.csv")}); err == nil {
		t.Fatal("two inputs writing z.csv accepted")
	}
	if _, err := Discover([]string{filepath.Join(dir, "missing")}); err == nil {
		t.Fatal("missing path accepted")
	}
}

// TestReportDownsampleKeepsSpikes: a long series is drawn from at most two
// points per bucket, and a one-sample spike is among them.
func TestReportDownsampleKeepsSpikes(t *testing.T) {
	const n = 50_000
	y := func(i int) float64 {
		if i == 31_337 {
			return 100
		}
		return float64(i%7) / 7
	}
	pts := downsample(n, func(i int) float64 { return float64(i) }, y)
	if len(pts) > 2*reportPoints {
		t.Fatalf("%d points drawn, want at most %d", len(pts), 2*reportPoints)
	}
	spike := false
	for k, p := range pts {
		spike = spike || p.Y == 100
		if k > 0 && p.X <= pts[k-1].X {
			t.Fatalf("points out of order at %d", k)
		}
	}
	if !spike {
		t.Error("the spike was lost")
	}
}

// TestLatentColumns: with Latent, eval writes each row's bottleneck code
// after the other columns, z0, z1, z2 for one detector over both channels
// (its code is model.multivariate_hidden's 3 units), z0_<col>, z1_<col>
// per channel otherwise; empty until the row is scored, then tanh
// activations in [-1, 1].
func TestLatentColumns(t *testing.T) {
	in := filepath.Join("testdata", "input.csv")
	inputs, err := Discover([]string{in})
	if err != nil {
		t.Fatal(err)
	}
	for _, multivariate := range []bool{true, false} {
		out := t.TempDir()
		if _, err := Run(context.Background(), inputs, Options{Detector: detector.DefaultConfig(), Multivariate: multivariate,
			Latent: true, Ignore: []string{"shift"}, OutDir: out}); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(out, inputs[0].Rel))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		header := strings.Split(lines[0], ",")
		want := []string{"z0_vibration", "z1_vibration", "z0_temperature", "z1_temperature"}
		if multivariate {
			want = []string{"z0", "z1", "z2"} // model.multivariate_hidden: a code of 3
		}
		if got := header[len(header)-len(want):]; !slices.Equal(got, want) {
			t.Fatalf("multivariate %v: last columns %v, want %v", multivariate, got, want)
		}
		scored := 0
		for i, line := range lines[1:] {
			f := strings.Split(line, ",")
			for _, cell := range f[len(f)-len(want):] {
				if cell == "" {
					continue
				}
				z, err := strconv.ParseFloat(cell, 64)
				if err != nil || z < -1 || z > 1 {
					t.Fatalf("multivariate %v line %d: code %q not in [-1, 1]", multivariate, i+2, cell)
				}
				scored++
			}
		}
		if scored < len(want)*(len(lines)-100) {
			t.Fatalf("multivariate %v: %d code values for %d rows", multivariate, scored, len(lines)-1)
		}
	}
}

// TestOutputReadsBack: a ';' file with decimal commas and a channel whose
// name holds a comma is scored into a ',' file that reads back with every
// row as wide as its header, explanations naming that channel included.
func TestOutputReadsBack(t *testing.T) {
	var in strings.Builder
	in.WriteString("Zeit;\"Druck, bar\";Temp\n")
	for i := range 1500 {
		p := 1.5 + 0.01*math.Sin(float64(i)/7)
		if i >= 1000 && i < 1200 {
			p += 0.5
		}
		fmt.Fprintf(&in, "2024-03-01 %02d:%02d:%02d;%s;%s\n", i/3600, i/60%60, i%60,
			strings.Replace(strconv.FormatFloat(p, 'f', 4, 64), ".", ",", 1), strings.Replace(strconv.FormatFloat(20+0.1*math.Cos(float64(i)/5), 'f', 3, 64), ".", ",", 1))
	}
	dir, out := t.TempDir(), t.TempDir()
	p := filepath.Join(dir, "pump.csv")
	if err := os.WriteFile(p, []byte(in.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	inputs, _ := Discover([]string{p})
	res, err := Run(context.Background(), inputs, Options{Detector: detector.DefaultConfig(), Multivariate: true, OutDir: out})
	if err != nil {
		t.Fatal(err)
	}
	explained := false
	for _, w := range res[0].Why {
		explained = explained || strings.Contains(w, "Druck, bar")
	}
	if !explained {
		t.Error("no explanation names the channel Druck, bar: the test does not test the quoting")
	}
	back, err := sensorcsv.Read(filepath.Join(out, "pump.csv"), []string{"Druck, bar", "Temp", "explanation", "alert_kind"})
	if err != nil {
		t.Fatalf("the output does not read back: %v", err)
	}
	if len(back.Rows) != 1500 || !strings.HasPrefix(back.Rows[1100][1], "2,") {
		t.Errorf("rows %d, row 1100's pressure %q", len(back.Rows), back.Rows[1100][1])
	}
}

// TestOutputStreamsWhole: a file's output, streamed to disk through a
// worker's buffer reused from file to file (each output over 1 MiB, four
// buffers' worth), is the scored file's CSV byte for byte.
func TestOutputStreamsWhole(t *testing.T) {
	dir := t.TempDir()
	for i, fault := range []string{"spike", "level_shift"} {
		s, err := synth.Generate("seasonal", fault, 12000, uint64(i+1))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fault+".csv"), s.CSV(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	inputs, err := Discover([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	cfg := detector.DefaultConfig()
	cfg.Kind = detector.Range
	out := t.TempDir()
	results, err := Run(context.Background(), inputs, Options{Detector: cfg, OutDir: out, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		var want bytes.Buffer
		w := bufio.NewWriter(&want)
		r.WriteCSV(w)
		w.Flush()
		got, err := os.ReadFile(filepath.Join(out, r.Rel))
		if err != nil {
			t.Fatal(err)
		}
		if want.Len() < 1<<20 || !bytes.Equal(got, want.Bytes()) {
			t.Errorf("%s: %d bytes written, want its CSV's %d (at least 1 MiB)", r.Rel, len(got), want.Len())
		}
	}
}

// TestEmptyChannelLeftOut: with one detector over several channels, a
// column with no value in any row (an export's column for a tag that was
// not logged) is left out and named, and the others are scored as with
// that column ignored, byte for byte. Kept, it had every row rejected.
func TestEmptyChannelLeftOut(t *testing.T) {
	var in strings.Builder
	in.WriteString("time,flow,spare,pressure\n")
	for i := range 600 {
		flow, pressure := 12+0.3*math.Sin(float64(i)/9), 3+0.05*math.Cos(float64(i)/13)
		if i >= 400 && i < 450 {
			flow += 2
		}
		fmt.Fprintf(&in, "%d,%.4f,,%.4f\n", 1_700_000_000+i, flow, pressure)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "pump.csv")
	if err := os.WriteFile(p, []byte(in.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	inputs, _ := Discover([]string{p})
	outs := map[bool][]byte{}
	for _, ignore := range []bool{false, true} {
		o := Options{Detector: detector.DefaultConfig(), Multivariate: true, OutDir: t.TempDir()}
		if ignore {
			o.Ignore = []string{"spare"}
		}
		res, err := Run(context.Background(), inputs, o)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"spare"}; !ignore && !slices.Equal(res[0].LeftOut, want) {
			t.Errorf("left out %q, want %q", res[0].LeftOut, want)
		}
		if !ignore && !slices.Contains(res[0].Alert, true) {
			t.Error("no alert on the flow's step: the file's rows were not scored")
		}
		if outs[ignore], err = os.ReadFile(filepath.Join(o.OutDir, "pump.csv")); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(outs[false], outs[true]) {
		t.Error("the output with the empty channel left out differs from the one with it ignored")
	}
}

// TestExplainQuality: eval's explanation of a quality alert names each
// failing channel's check, with the start of a stuck or missing run.
func TestExplainQuality(t *testing.T) {
	at := time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC).UnixNano()
	o := detector.Outcome{Event: detector.Opened, Why: &detector.Explanation{Onset: at,
		Failed: []string{"", detector.Missing, detector.Stuck, detector.AboveMax}, Departure: []float64{0, 0, 0, 2.5}}}
	want := "quality opened: b missing since 2024-03-01T08:00:00Z: c stuck since 2024-03-01T08:00:00Z: d above max by +2.5"
	if got := Explain("quality", o, []string{"a", "b", "c", "d"}); got != want {
		t.Errorf("%q, want %q", got, want)
	}
}

// TestEmptyCellsAreAbsent: without --multivariate, a column's empty cells
// in rows that hold other values are its channel absent from the series'
// samples, as a message without the field is to the service: 200 in a row
// after learning open a quality alert `missing` at the 60th, explained
// with the gap's first row, closed at the first value back; 200 rows
// holding no value at all (no message would be sent) open nothing.
func TestEmptyCellsAreAbsent(t *testing.T) {
	const blankFrom, blankTo, gapFrom, gapTo = 1200, 1400, 1500, 1700
	var in strings.Builder
	in.WriteString("timestamp,a,b\n")
	for i := range 2000 {
		a, b := fmt.Sprintf("%.3f", math.Sin(float64(i)/9)), fmt.Sprintf("%.3f", 20+math.Cos(float64(i)/13))
		switch {
		case i >= blankFrom && i < blankTo:
			a, b = "", ""
		case i >= gapFrom && i < gapTo:
			b = ""
		}
		fmt.Fprintf(&in, "%d,%s,%s\n", 1709251200+i, a, b)
	}
	f, err := sensorcsv.Parse(strings.NewReader(in.String()), nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ScoreFile(f, detector.DefaultConfig(), false, false)
	if err != nil {
		t.Fatal(err)
	}
	opensAt := gapFrom + detector.DefaultConfig().Quality.MissingSamples - 1
	var open []int
	for i, q := range s.Quality {
		if q {
			open = append(open, i)
		}
	}
	since := "b missing since " + time.Unix(0, f.Times[gapFrom]).UTC().Format(time.RFC3339)
	if len(open) != gapTo-opensAt || open[0] != opensAt || !strings.Contains(s.Why[opensAt], since) {
		t.Errorf("quality alert on %d rows from %v (%q), want rows %d-%d, %s", len(open), open[:min(1, len(open))], s.Why[opensAt], opensAt, gapTo-1, since)
	}
}

// TestEmptyCellsInMaintenanceWindow: a column's empty cells inside a
// maintenance window leave every later result of its channel on its own
// row: the window's copy of the detector numbers the rows it scores, and
// the rows without the channel are numbered past in it too. Before, each
// absent row put the copy's numbering one row behind, and its results
// went to earlier rows.
func TestEmptyCellsInMaintenanceWindow(t *testing.T) {
	const start, silenceFrom, silenceTo, gapFrom, gapTo = 1709251200, 1000, 1200, 1050, 1100
	var in strings.Builder
	in.WriteString("timestamp,a,b\n")
	for i := range 1400 {
		b := fmt.Sprintf("%.3f", 20+math.Cos(float64(i)/13))
		if i >= gapFrom && i < gapTo {
			b = ""
		}
		fmt.Fprintf(&in, "%d,%.3f,%s\n", start+i, math.Sin(float64(i)/9), b)
	}
	f, err := sensorcsv.Parse(strings.NewReader(in.String()), nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := detector.DefaultConfig()
	at := func(i int) string { return time.Unix(start+int64(i), 0).UTC().Format(time.RFC3339) }
	cfg.Silences = []detector.Silence{{From: at(silenceFrom), To: at(silenceTo), Reason: "test"}}
	s, err := ScoreFile(f, cfg, false, false)
	if err != nil {
		t.Fatal(err)
	}
	var wrong []int
	for k := 100; k < 1400; k++ {
		if math.IsNaN(s.Expected[1][k]) != (k >= gapFrom && k < gapTo) {
			wrong = append(wrong, k)
		}
	}
	if len(wrong) > 0 {
		t.Errorf("rows whose channel b's expected value is there but should not be, or the other way round: %d, from %d", len(wrong), wrong[0])
	}
}
