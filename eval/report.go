package eval

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/aewatch/aewatch/nab"
)

// The HTML report of an eval run: one self-contained page (the figures
// are SVG images inside it), a summary table and, per file, the signal
// with its alerts and the scores with the alert threshold.

// ReportOptions say what the report shows besides the results.
type ReportOptions struct {
	Title   string
	Summary string     // the run's printed summary, shown as it is
	Labels  nab.Labels // labelled windows, shaded where present
	// LabelColumn, when set, shades the rows whose label there is not 0.
	LabelColumn string
}

// reportPoints bounds the points drawn per line: longer series are drawn
// as the minimum and maximum of each of this many buckets.
const reportPoints = 1200

// WriteReport writes dir/index.html for results.
func WriteReport(dir string, results []FileResult, o ReportOptions) error {
	page := reportPage{Title: o.Title, Summary: o.Summary}
	for _, r := range results {
		f, err := reportFile(r, o)
		if err != nil {
			return fmt.Errorf("report: %s: %w", r.Rel, err)
		}
		page.Files = append(page.Files, f)
	}
	var b bytes.Buffer
	if err := reportTemplate.Execute(&b, page); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "index.html"), b.Bytes(), 0o644)
}

type reportPage struct {
	Title, Summary string
	Files          []reportEntry
}

type reportEntry struct {
	Name                     string
	Rows, Channels           int
	Alerts, Drifts, Quality  int
	Labelled, Found          int // labelled spans, and those an alert touched
	Signal, Scores           template.URL
	AlertShare, QualityShare string
	Start, End               string
}

// span is a run of rows [from, to).
type span struct{ from, to int }

func spansOf(on func(i int) bool, n int) []span {
	var out []span
	for i := 0; i < n; i++ {
		if !on(i) {
			continue
		}
		j := i
		for j < n && on(j) {
			j++
		}
		out = append(out, span{i, j})
		i = j
	}
	return out
}

func reportFile(r FileResult, o ReportOptions) (reportEntry, error) {
	n := len(r.File.Times)
	e := reportEntry{Name: r.Rel, Rows: n, Channels: len(r.File.Channels), Alerts: r.Alerts, Drifts: len(r.DriftOpenings)}
	if n == 0 {
		return e, nil
	}
	times := r.File.Times
	e.Start = time.Unix(0, times[0]).UTC().Format("2006-01-02 15:04")
	e.End = time.Unix(0, times[n-1]).UTC().Format("2006-01-02 15:04")
	var labelled []span
	if wins, ok := o.Labels.Lookup(r.Rel); ok {
		for _, w := range wins {
			labelled = append(labelled, spansOf(func(i int) bool { return times[i] >= w.Start && times[i] <= w.End }, n)...)
		}
	}
	if o.LabelColumn != "" {
		if labels, err := r.LabelColumn(o.LabelColumn); err == nil {
			labelled = append(labelled, spansOf(func(i int) bool { return labels[i] }, n)...)
		}
	}
	alerts := spansOf(func(i int) bool { return r.Alert[i] }, n)
	drifts := spansOf(func(i int) bool { return r.DriftAlert[i] }, n)
	quality := spansOf(func(i int) bool { return r.Quality[i] }, n)
	silenced := spansOf(func(i int) bool { return r.Silenced[i] }, n)
	for _, q := range quality {
		e.Quality += q.to - q.from
	}
	alerted := 0
	for _, a := range alerts {
		alerted += a.to - a.from
	}
	e.AlertShare = fmt.Sprintf("%.1f%%", 100*float64(alerted)/float64(n))
	e.QualityShare = fmt.Sprintf("%.1f%%", 100*float64(e.Quality)/float64(n))
	e.Labelled = len(labelled)
	for _, l := range labelled {
		for _, a := range alerts {
			if a.from < l.to && l.from < a.to {
				e.Found++
				break
			}
		}
	}
	x := func(i int) float64 { return float64(times[i]) / 1e9 }

	// The signal, its alerts and the labelled spans.
	sig := plot.New()
	sig.Title.Text = r.Rel
	sig.X.Tick.Marker = plot.TimeTicks{Format: "01-02\n15:04"}
	names := r.File.ChannelNames()
	scaled := len(names) > 1
	if scaled {
		sig.Y.Label.Text = "each channel over its own range"
	} else {
		sig.Y.Label.Text = names[0]
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	lines := make([]plotter.XYs, len(names))
	for j := range names {
		cmin, cmax := math.Inf(1), math.Inf(-1)
		for i := range n {
			if v := r.File.Values[i][j]; !math.IsNaN(v) && !math.IsInf(v, 0) {
				cmin, cmax = min(cmin, v), max(cmax, v)
			}
		}
		lines[j] = downsample(n, x, func(i int) float64 {
			v := r.File.Values[i][j]
			if scaled {
				v = (v - cmin) / max(cmax-cmin, 1e-12)
			}
			return v
		})
		for _, p := range lines[j] {
			lo, hi = min(lo, p.Y), max(hi, p.Y)
		}
	}
	if math.IsInf(lo, 0) {
		lo, hi = 0, 1
	}
	if hi == lo {
		hi = lo + 1
	}
	pad := 0.05 * (hi - lo)
	lo, hi = lo-pad, hi+pad
	shade := func(p *plot.Plot, spans []span, c color.Color, name string, from, to float64) {
		for k, s := range spans {
			last := min(s.to, n-1)
			poly, err := plotter.NewPolygon(plotter.XYs{{X: x(s.from), Y: from}, {X: x(last), Y: from}, {X: x(last), Y: to}, {X: x(s.from), Y: to}})
			if err != nil {
				continue
			}
			poly.Color, poly.LineStyle.Width = c, 0
			p.Add(poly)
			if k == 0 {
				p.Legend.Add(name, poly)
			}
		}
	}
	band := (hi - lo) / 10
	shade(sig, labelled, color.NRGBA{R: 40, G: 90, B: 220, A: 150}, "labelled", lo, lo+band)
	shade(sig, alerts, color.NRGBA{R: 230, G: 40, B: 40, A: 60}, "anomaly alert", lo+band, hi)
	shade(sig, drifts, color.NRGBA{R: 240, G: 150, B: 20, A: 70}, "drift alert", lo+band, hi)
	shade(sig, quality, color.NRGBA{R: 110, G: 110, B: 110, A: 70}, "quality alert", lo+band, hi)
	shade(sig, silenced, color.NRGBA{R: 130, G: 60, B: 200, A: 150}, "maintenance window", hi-band, hi)
	for j, l := range lines {
		ln, err := plotter.NewLine(l)
		if err != nil {
			return e, err
		}
		ln.Color = palette[j%len(palette)]
		ln.Width = vg.Points(0.7)
		sig.Add(ln)
		if len(names) > 1 && j < 8 {
			sig.Legend.Add(names[j], ln)
		}
	}
	sig.Y.Min, sig.Y.Max = lo, hi
	sig.Legend.Top, sig.Legend.Left = true, true
	var err error
	if e.Signal, err = svgURL(sig, 11*vg.Inch, 3.2*vg.Inch); err != nil {
		return e, err
	}

	// The scores and the alert threshold.
	sc := plot.New()
	sc.X.Tick.Marker = plot.TimeTicks{Format: "01-02\n15:04"}
	sc.Y.Label.Text = "score"
	sc.Y.Min, sc.Y.Max = 0, 1.02
	for k, s := range []struct {
		name string
		v    []float64
		c    color.Color
	}{
		{"anomaly_score", r.Score, color.RGBA{R: 60, G: 60, B: 60, A: 255}},
		{"alert_score", r.AlertScore, color.RGBA{R: 220, G: 40, B: 40, A: 255}},
		{"drift_score", r.Drift, color.RGBA{R: 240, G: 150, B: 20, A: 255}},
	} {
		ln, err := plotter.NewLine(downsample(n, x, func(i int) float64 { return s.v[i] }))
		if err != nil {
			return e, err
		}
		ln.Color, ln.Width = s.c, vg.Points(0.6)
		if k == 0 {
			ln.Width = vg.Points(0.4)
		}
		sc.Add(ln)
		sc.Legend.Add(s.name, ln)
	}
	thr, err := plotter.NewLine(plotter.XYs{{X: x(0), Y: r.Threshold}, {X: x(n - 1), Y: r.Threshold}})
	if err != nil {
		return e, err
	}
	thr.Color, thr.Dashes = color.Black, []vg.Length{vg.Points(3), vg.Points(3)}
	sc.Add(thr)
	sc.Legend.Add(fmt.Sprintf("alert.open %.2f", r.Threshold), thr)
	sc.Legend.Top, sc.Legend.Left = true, true
	if e.Scores, err = svgURL(sc, 11*vg.Inch, 2*vg.Inch); err != nil {
		return e, err
	}
	return e, nil
}

// downsample draws at most about 2×reportPoints points: each bucket's
// minimum and maximum, in their order, so that spikes stay visible.
func downsample(n int, x, y func(int) float64) plotter.XYs {
	if n <= 2*reportPoints {
		out := make(plotter.XYs, 0, n)
		for i := range n {
			if v := y(i); !math.IsNaN(v) && !math.IsInf(v, 0) {
				out = append(out, plotter.XY{X: x(i), Y: v})
			}
		}
		return out
	}
	out := make(plotter.XYs, 0, 2*reportPoints)
	for b := range reportPoints {
		from, to := b*n/reportPoints, (b+1)*n/reportPoints
		lo, hi := -1, -1
		for i := from; i < to; i++ {
			v := y(i)
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			if lo < 0 || v < y(lo) {
				lo = i
			}
			if hi < 0 || v > y(hi) {
				hi = i
			}
		}
		if lo < 0 {
			continue
		}
		first, second := min(lo, hi), max(lo, hi)
		out = append(out, plotter.XY{X: x(first), Y: y(first)})
		if second != first {
			out = append(out, plotter.XY{X: x(second), Y: y(second)})
		}
	}
	return out
}

var palette = []color.Color{
	color.RGBA{R: 31, G: 119, B: 180, A: 255}, color.RGBA{R: 44, G: 160, B: 44, A: 255},
	color.RGBA{R: 148, G: 103, B: 189, A: 255}, color.RGBA{R: 140, G: 86, B: 75, A: 255},
	color.RGBA{R: 227, G: 119, B: 194, A: 255}, color.RGBA{R: 23, G: 190, B: 207, A: 255},
	color.RGBA{R: 188, G: 189, B: 34, A: 255}, color.RGBA{R: 127, G: 127, B: 127, A: 255},
}

// svgURL renders p as an SVG data URL.
func svgURL(p *plot.Plot, w, h vg.Length) (template.URL, error) {
	c := vgsvg.New(w, h)
	p.Draw(draw.New(c))
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return "", err
	}
	return template.URL("data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString(b.Bytes())), nil
}

var reportTemplate = template.Must(template.New("report").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>
body { font-family: sans-serif; margin: 1.5em; color: #222 }
table { border-collapse: collapse; font-size: 0.9em }
td, th { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: right }
td:first-child, th:first-child { text-align: left }
pre { background: #f6f6f6; padding: 0.8em; white-space: pre-wrap }
section { margin-top: 2em } img { display: block; max-width: 100% }
</style></head>
<body>
<h1>{{.Title}}</h1>
<p id="status">figures not yet drawn</p>
{{if .Summary}}<pre>{{.Summary}}</pre>{{end}}
<table>
<tr><th>file</th><th>rows</th><th>channels</th><th>anomaly alerts</th><th>rows alerted</th><th>drift alerts</th><th>rows with a quality alert</th><th>labelled spans found</th></tr>
{{range .Files}}<tr><td><a href="#{{.Name}}">{{.Name}}</a></td><td>{{.Rows}}</td><td>{{.Channels}}</td><td>{{.Alerts}}</td><td>{{.AlertShare}}</td><td>{{.Drifts}}</td><td>{{.QualityShare}}</td><td>{{if .Labelled}}{{.Found}} of {{.Labelled}}{{else}}-{{end}}</td></tr>
{{end}}</table>
{{range .Files}}<section id="{{.Name}}">
<h2>{{.Name}}</h2>
<p>{{.Start}} to {{.End}} (UTC), {{.Rows}} rows: red spans are anomaly alerts, orange drift alerts, grey quality alerts, the blue strip labelled spans, the purple strip at the top maintenance windows.</p>
<img class="figure" alt="{{.Name}}: signal and alerts" src="{{.Signal}}">
<img class="figure" alt="{{.Name}}: scores and threshold" src="{{.Scores}}">
</section>
{{end}}
<script>
window.addEventListener("load", function () {
  var imgs = document.querySelectorAll("img.figure"), drawn = 0;
  imgs.forEach(function (i) { if (i.complete && i.naturalWidth > 0) drawn++; });
  document.getElementById("status").textContent = drawn + " of " + imgs.length + " figures drawn";
});
</script>
</body></html>
`))
