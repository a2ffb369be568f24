package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aewatch/aewatch/config"
	"github.com/aewatch/aewatch/detector"
	"github.com/aewatch/aewatch/eval"
	"github.com/aewatch/aewatch/nab"
	"github.com/aewatch/aewatch/stream"
)

func runEval(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: aewatch eval [--config FILE] [--detector KIND] [--seed N] [--multivariate] [--ignore COL,COL] [--context COL,COL] [--labels FILE] [--label-column COL [--skip-rows N]] [--versus KIND,KIND] [--memory] [--report DIR] [--feedback FILE] --out DIR PATH...\n\n")
		fs.PrintDefaults()
	}
	cfgPath := fs.String("config", "", "YAML configuration `file` (defaults apply to unset keys)")
	kind := fs.String("detector", "", "detector `kind`: autoencoder, frozen, persistence or range (default: detector.kind, autoencoder)")
	seed := fs.Uint64("seed", 0, "random seed (default: detector.seed, 1)")
	multi := fs.Bool("multivariate", false, "score all channels of a file as one multivariate series")
	ignore := fs.String("ignore", "", "comma-separated `columns` to copy to the output without scoring")
	context := fs.String("context", "", "comma-separated context `columns` (inputs such as setpoints: seen by the models, never alerted on; added to detector.context)")
	labels := fs.String("labels", "", "NAB combined_windows.json `file`: print NAB scores and alert F1")
	labelCol := fs.String("label-column", "", "per-row label `column` (0 or false normal, another number or true abnormal; not scored): print point-wise precision, recall, F1, false- and missed-alarm rates of alert, pooled over files")
	skipRows := fs.Int("skip-rows", 0, "with --label-column: leave the first `N` rows of each file out of the point-wise scores")
	versus := fs.String("versus", "", "with --label-column or --labels: also run these detector `kinds` (comma-separated: frozen, persistence, range, autoencoder) on the same files with the same configuration (outputs in DIR/versus-KIND), and print each one's point-wise F1 (and alerting on every row's) or NAB scores beside this run's, with a 95% interval of the difference from a paired bootstrap over files")
	out := fs.String("out", "", "output `directory` (required)")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	memory := fs.Bool("memory", false, "print the memory one detector holds, by component")
	feedbackFile := fs.String("feedback", "", "JSON `file`: a list of operators' verdicts on alerts, as POST /feedback and kafka.feedback_topic take them ({\"series\", \"channel\", \"at\", \"verdict\", \"given\"}; a file's series is its name without .csv), each applied when the file reaches its given time (default: at)")
	report := fs.String("report", "", "also write a self-contained HTML report (plots of every file's signal, alerts and scores) to `directory`/index.html")
	paths, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if *out == "" || len(paths) == 0 {
		fs.Usage()
		return errors.New("--out DIR and at least one PATH are required")
	}
	cfg, err := config.LoadOrEnv(*cfgPath)
	if err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["detector"] {
		cfg.Detector.Kind = detector.Kind(*kind)
	}
	if set["seed"] {
		cfg.Detector.Seed = *seed
	}
	for _, col := range splitList(*context) {
		if !slices.Contains(cfg.Detector.Context, col) {
			cfg.Detector.Context = append(cfg.Detector.Context, col)
		}
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if *skipRows < 0 {
		return fmt.Errorf("--skip-rows: must be >= 0 (got %d)", *skipRows)
	}
	controls, err := parseVersus(*versus, *labelCol != "" || *labels != "", cfg.Detector.Kind)
	if err != nil {
		return err
	}
	ignored := splitList(*ignore)
	if *labelCol != "" && !slices.Contains(ignored, *labelCol) {
		ignored = append(ignored, *labelCol)
	}
	var lab nab.Labels
	if *labels != "" {
		if lab, err = nab.LoadLabels(*labels); err != nil {
			return err
		}
	}
	verdicts, err := loadVerdicts(*feedbackFile)
	if err != nil {
		return err
	}
	inputs, err := eval.Discover(paths)
	if err != nil {
		return err
	}
	var progress io.Writer = os.Stderr
	if *quiet {
		progress = io.Discard
	}
	p := newEvalProgress(progress, len(inputs))
	start := time.Now()
	opts := eval.Options{
		Detector: cfg.Detector, Latent: cfg.Output.Latent, Multivariate: *multi, Ignore: ignored,
		OutDir: *out, Progress: p.fileDone, Verdicts: verdicts,
	}
	results, err := eval.Run(ctx, inputs, opts)
	p.line.finish()
	// A file that cannot be scored is named on stderr; the others are
	// scored and written, but a score over the whole corpus (NAB,
	// point-wise) would silently be over part of it, so it is left out and
	// the command fails once the rest is done.
	var failed *eval.FileErrors
	if errors.As(err, &failed) {
		for _, e := range failed.Errs {
			fmt.Fprintf(os.Stderr, "aewatch eval: %v\n", e)
		}
		if len(results) == 0 {
			return fmt.Errorf("none of the %d files could be scored", failed.Files)
		}
	} else if err != nil {
		return err
	}
	if err := requireNamedColumns(results, splitList(*ignore), *labelCol); err != nil {
		return err
	}
	var summary bytes.Buffer // the report shows what was printed
	w := io.MultiWriter(os.Stdout, &summary)
	printSummary(w, results, cfg.Detector, time.Since(start))
	if failed != nil && (*labelCol != "" || lab != nil) {
		fmt.Fprintf(w, "corpus scores left out: %d of %d files could not be scored (stderr names them)\n", len(failed.Errs), failed.Files)
		*labelCol, lab = "", nil
	}
	if cfg.Detector.Model.Bottleneck == "auto" {
		if err := printBottlenecks(w, results, *out, *multi); err != nil {
			return err
		}
	}
	if *memory && len(results) > 0 {
		channels := 1
		if *multi {
			channels = len(results[0].File.Channels)
		}
		if err := printMemory(w, cfg.Detector, channels); err != nil {
			return err
		}
		printHeld(w, results)
	}
	if *labelCol != "" {
		if err := printPointwise(w, results, *labelCol, *skipRows); err != nil {
			return err
		}
	}
	var nabScores []nab.Result
	if lab != nil {
		if nabScores, err = printNAB(w, results, lab, *out); err != nil {
			return err
		}
	}
	if len(controls) > 0 && (*labelCol != "" || lab != nil) {
		if err := printVersus(ctx, w, progress, inputs, opts, results, controls, versusLabels{*labelCol, *skipRows, lab, nabScores}); err != nil {
			return err
		}
	}
	if *report == "" {
		return scoredAll(failed)
	}
	title := fmt.Sprintf("aewatch eval: %s detector, seed %d, %d files", cfg.Detector.Kind, cfg.Detector.Seed, len(results))
	if err := eval.WriteReport(*report, results, eval.ReportOptions{Title: title, Summary: summary.String(), Labels: lab, LabelColumn: *labelCol}); err != nil {
		return err
	}
	fmt.Printf("report: %s\n", filepath.Join(*report, "index.html"))
	return scoredAll(failed)
}

// scoredAll is the command's outcome once the files that could be scored
// are: an error if some could not.
func scoredAll(failed *eval.FileErrors) error {
	if failed == nil {
		return nil
	}
	return fmt.Errorf("%d of %d files could not be scored (named above)", len(failed.Errs), failed.Files)
}

// printMovesByJumps advises naming as context the channels of a detector
// over several that held levels exactly and moved only by jumps between
// them: a valve's command or a setpoint, set by an operator or a
// controller, is an input; judged as a measurement, every move the
// relation to it has not learnt is alerted.
func printMovesByJumps(w io.Writer, results []eval.FileResult) {
	var named []string
	files := 0
	for _, r := range results {
		if len(r.MovesByJumps) > 0 {
			files++
		}
		for _, j := range r.MovesByJumps {
			named = append(named, r.Rel+":"+r.File.ChannelNames()[j])
		}
	}
	if len(named) == 0 {
		return
	}
	fmt.Fprintf(w, "channels that held levels exactly and moved only by jumps between them, not named as context: %d in %d files (%s", len(named), files, strings.Join(named[:min(len(named), 5)], ", "))
	if len(named) > 5 {
		fmt.Fprintf(w, ", and %d more", len(named)-5)
	}
	fmt.Fprintln(w, "); if an operator or a controller sets them (a valve's command, a setpoint), name them with --context")
}

// printMemory prints the memory of one detector of the given channels, by
// component: once its histories have filled and its reference network is
// frozen, as built, and the most it holds at any time (histories are
// allocated as they fill).
func printMemory(w io.Writer, cfg detector.Config, channels int) error {
	d, err := detector.New(cfg, channels)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "memory of one detector (%d channel(s), %s): %.1f KB once its histories are full, %.1f KB as built, at most %.1f KB at any time\n",
		channels, cfg.Kind, float64(d.MemoryFullBytes())/1024, float64(d.MemoryBytes())/1024, float64(d.MemoryPeakBytes())/1024)
	fmt.Fprintf(w, "  %-56s %12s %12s %12s\n", "", "full", "as built", "at most")
	for _, p := range d.MemoryByPart() {
		fmt.Fprintf(w, "  %-56s %9.1f KB %9.1f KB %9.1f KB\n", p.Name, float64(p.Full)/1024, float64(p.Bytes)/1024, float64(p.Peak)/1024)
	}
	if b := d.TrainingScratchBytes(); b > 0 {
		fmt.Fprintf(w, "besides, once per goroutine scoring at once (not per detector): training and calibration scratch %.1f KB\n", float64(b)/1024)
	}
	return nil
}

// printHeld prints what the detectors held at the end of their files:
// measured, where printMemory's figures are what one holds new and at most.
func printHeld(w io.Writer, results []eval.FileResult) {
	var sum, most, n int
	for _, r := range results {
		for _, b := range r.HeldBytes {
			sum, most, n = sum+b, max(most, b), n+1
		}
	}
	if n > 0 {
		fmt.Fprintf(w, "held by the %d detectors at the end of their files: mean %.1f KB, at most %.1f KB\n", n, float64(sum)/float64(n)/1024, float64(most)/1024)
	}
}

// printBottlenecks prints how often model.bottleneck: auto chose each
// size and writes each file's choice, per detector, to
// outDir/bottleneck.csv.
func printBottlenecks(w io.Writer, results []eval.FileResult, outDir string, multivariate bool) error {
	var byFile bytes.Buffer
	byFile.WriteString("file,channel,bottleneck\n")
	count := map[int]int{}
	for _, r := range results {
		names := r.File.ChannelNames()
		for j, k := range r.Bottlenecks {
			ch := "all"
			if !multivariate {
				ch = names[j]
			}
			fmt.Fprintf(&byFile, "%s,%s,%d\n", r.Rel, ch, k)
			count[k]++
		}
	}
	if err := os.WriteFile(filepath.Join(outDir, "bottleneck.csv"), byFile.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprint(w, "bottleneck chosen (model.bottleneck: auto; per file in bottleneck.csv):")
	for _, k := range slices.Sorted(maps.Keys(count)) {
		if k == 0 {
			fmt.Fprintf(w, " none yet (series shorter than the search) %d,", count[k])
			continue
		}
		fmt.Fprintf(w, " %d unit(s) %d,", k, count[k])
	}
	fmt.Fprintln(w)
	return nil
}

// printBand prints how often the expected-value band held the value on
// the rows described.
func printBand(w io.Writer, b eval.BandStats, rows string) {
	fmt.Fprintf(w, "band: value within [yhat_lower, yhat_upper] on %.2f%% of %d scored %s (finite on both sides on %.2f%%)\n",
		100*b.Coverage(), b.Rows, rows, 100*b.FiniteShare())
}

// requireNamedColumns fails where a column named by --ignore or
// --label-column is in none of the files scored (a misspelt name). A name
// only some files lack is no error: SKAB's anomaly-free recording has no
// label columns.
func requireNamedColumns(results []eval.FileResult, ignore []string, labelCol string) error {
	if len(results) == 0 {
		return nil
	}
	check := func(flag, name string) error {
		for _, r := range results {
			if slices.Contains(r.File.Header, name) {
				return nil
			}
		}
		return fmt.Errorf("%s: no file has a column named %q (the first file's columns: %s)", flag, name, strings.Join(results[0].File.Header, ", "))
	}
	for _, name := range ignore {
		if err := check("--ignore", name); err != nil {
			return err
		}
	}
	if labelCol == "" {
		return nil
	}
	return check("--label-column", labelCol)
}

// printPointwise prints the point-wise scores of alert against the label
// column, pooled over files from row skip on; files without the column
// are scored, named and left out.
func printPointwise(w io.Writer, results []eval.FileResult, col string, skip int) error {
	var p, q eval.PointStats // alert; alert or quality_alert
	var band eval.BandStats
	quality := 0
	var lacking []string // files without the column
	for _, r := range results {
		if !slices.Contains(r.File.Header, col) {
			lacking = append(lacking, r.Rel)
			continue
		}
		labels, err := r.LabelColumn(col)
		if err != nil {
			return err
		}
		normal := make([]bool, len(labels))
		for i := skip; i < len(labels); i++ {
			normal[i] = !labels[i]
		}
		band.Add(r.Scored, normal)
		either := make([]bool, len(r.Score))
		for i := range either {
			either[i] = r.Alert[i] || r.Quality[i]
			if r.Quality[i] {
				quality++
			}
		}
		p.Add(labels, r.Alert, r.AlertScore, skip)
		q.Add(labels, either, r.AlertScore, skip)
	}
	if len(lacking) > 0 {
		fmt.Fprintf(w, "files without column %s, scored but left out of the point-wise figures: %s\n", col, strings.Join(lacking, ", "))
	}
	fmt.Fprintf(w, "point-wise vs %s (rows %d on, %d files): precision %.3f recall %.3f F1 %.3f FAR %.3f MAR %.3f (TP %d FP %d FN %d TN %d) alert evidence ROC-AUC %.3f\n",
		col, skip, len(results)-len(lacking), p.Precision(), p.Recall(), p.F1(), p.FAR(), p.MAR(), p.TP, p.FP, p.FN, p.TN, p.AUC())
	fmt.Fprintf(w, "alerting on every row instead: F1 %.3f (%d of %d rows labelled), the control any alert must beat\n", p.EveryRowF1(), p.TP+p.FN, p.TP+p.FP+p.FN+p.TN)
	spans := func(name string, s *eval.PointStats) {
		n, median := s.Covered(0.7)
		fmt.Fprintf(w, "%s vs labelled spans: %d of %d covered for >= 70%% of their rows (median coverage %.2f); %.2f alerts opened per 10k normal rows\n",
			name, n, len(s.Coverage), median, s.FalseOpensPer10k())
	}
	spans("alert", &p)
	if quality > 0 {
		fmt.Fprintf(w, "alert or quality_alert: precision %.3f recall %.3f F1 %.3f FAR %.3f MAR %.3f\n", q.Precision(), q.Recall(), q.F1(), q.FAR(), q.MAR())
		spans("alert or quality_alert", &q)
	}
	printBand(w, band, "normal rows "+strconv.Itoa(skip)+" on")
	return nil
}

// evalProgress counts files and rows for the progress line.
type evalProgress struct {
	mu           sync.Mutex
	line         *progressLine
	total, files int
	rows         int
	start        time.Time
}

func newEvalProgress(w io.Writer, total int) *evalProgress {
	return &evalProgress{line: newProgressLine(w, "eval", "files", time.Second, nil), total: total, start: time.Now()}
}

func (p *evalProgress) fileDone(_ eval.Input, rows int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.files++
	p.rows += rows
	rate := float64(p.rows) / max(time.Since(p.start).Seconds(), 1e-9)
	p.line.show(int64(p.files), int64(p.total), fmt.Sprintf("%d rows, %.0f rows/s", p.rows, rate))
}

func printSummary(w io.Writer, results []eval.FileResult, cfg detector.Config, took time.Duration) {
	var rows, alerts, drifts, monitored int
	var nonFinite, outOfRange, wild, filled, held, merged, extremes, extremeAlerts, phased, dailyRepeats, outOfOrder, timeJumps, gaps uint64
	var phasedFiles, dailyFiles, counters, counterFiles int
	for _, r := range results {
		counters += r.Counters
		if r.Counters > 0 {
			counterFiles++
		}
		rows += len(r.Score)
		alerts += r.Alerts
		drifts += len(r.DriftOpenings)
		monitored += r.Monitored
		nonFinite += r.NonFinite
		outOfRange += r.OutOfRange
		wild += r.Wild
		filled += r.Filled
		held += r.Held
		merged += r.Merged
		extremes += r.Extremes
		extremeAlerts += r.ExtremeAlerts
		phased += r.Phased
		if r.Phased > 0 {
			phasedFiles++
		}
		dailyRepeats += r.DailyRepeats
		if r.DailyRepeats > 0 {
			dailyFiles++
		}
		outOfOrder += r.OutOfOrder
		timeJumps += r.TimeJumps
		gaps += r.Gaps
	}
	fmt.Fprintf(w, "detector %s seed %d: %d files, %d rows in %.2fs (%.0f rows/s)\n",
		cfg.Kind, cfg.Seed, len(results), rows, took.Seconds(), float64(rows)/max(took.Seconds(), 1e-9))
	fmt.Fprintf(w, "alerts opened: %d anomaly, %d drift (%d samples tested for drift); rejected samples: %d non-finite, %d beyond ±window.max_abs, %d out of order, %d dated ahead (clock glitches); wild values held back: %d; gaps: %d\n",
		alerts, drifts, monitored, nonFinite, outOfRange, outOfOrder, timeJumps, wild, gaps)
	printMovesByJumps(w, results)
	if counters > 0 {
		fmt.Fprintf(w, "counters judged on their rises from their first %d steps on, wraps and resets unwrapped: %d channels in %d files\n", detector.CounterWatch, counters, counterFiles)
	}
	if filled > 0 {
		fmt.Fprintf(w, "missing values filled: %d (rows scored on their other channels), %d of them held as a slower tag's newest reading\n", filled, held)
	}
	if cfg.SpatialTolerance > 0 {
		fmt.Fprintf(w, "new extremes (detector.spatial_tolerance, spatial_error): %d samples scored 1, %d anomaly alerts opened on one\n", extremes, extremeAlerts)
	}
	if cfg.Reference.Enabled && cfg.Reference.Season.Score {
		fmt.Fprintf(w, "scores the reference gave, reading a cycle by phase (detector.reference.season.score): %d samples in %d files\n", phased, phasedFiles)
	}
	if cfg.DailyRepeat.Days > 0 {
		fmt.Fprintf(w, "scores shown as repeats, having reached the alert threshold near the same time of day before (detector.daily_repeat): %d samples in %d files\n", dailyRepeats, dailyFiles)
	}
	if merged > 0 {
		fmt.Fprintf(w, "rows merged into the row before (at its time or within half a typical step), which lacked their values: %d\n", merged)
	}
	for _, r := range results {
		if len(r.Faults) > 0 {
			f, where := r.Faults[0], "at the file's end"
			if f.Owed > 0 {
				where = fmt.Sprintf("on data row %d", f.Seq+1)
			}
			fmt.Fprintf(w, "warning: %s: a detector failed %d times (a bug in aewatch: please report it with this line and the stack below), each time starting afresh; %d rows left unscored; first %s (%s): %s\n%s",
				r.Rel, r.FaultCount, r.FaultRows, where, time.Unix(0, f.Time).UTC().Format(time.RFC3339Nano), f.Panic, f.Stack)
		}
		// A file whose first column is no time (a value column, or one
		// in a format read as Unix seconds) loses most rows as out of
		// order; say which column was taken for the time.
		if n := len(r.Score); r.OutOfOrderRows*10 > uint64(n) {
			// A time written coarser than the rows come (whole seconds
			// for several rows a second) repeats: a different fault.
			if repeats := repeatedTimes(r.File.Times); repeats*2 >= r.OutOfOrderRows {
				fmt.Fprintf(w, "warning: %s: %d of %d rows out of order, %d of them at the time of the row before in column %q: is the time written coarser than the rows come? A series' samples need rising times\n",
					r.Rel, r.OutOfOrderRows, n, repeats, r.File.Header[0])
			} else {
				fmt.Fprintf(w, "warning: %s: %d of %d rows out of order in column %q, taken as the time: is it the file's time column?\n",
					r.Rel, r.OutOfOrderRows, n, r.File.Header[0])
			}
		}
		if len(r.LeftOut) > 0 {
			fmt.Fprintf(w, "warning: %s: no value in any row of %s: left out of the detector over the file's channels, as the service never sees them (--ignore %s says so)\n",
				r.Rel, strings.Join(r.LeftOut, ", "), strings.Join(r.LeftOut, ","))
		}
		// One detector over several channels rejects a row missing any of
		// them: tags sampled at different rates leave most rows short.
		if n := len(r.Score); len(r.HeldBytes) == 1 && len(r.File.Channels) > 1 && r.NonFinite*2 > uint64(n) {
			fmt.Fprintf(w, "warning: %s: %d of %d rows left unscored, a channel's value missing or not finite in each: without --multivariate each channel is scored on the rows it has\n",
				r.Rel, r.NonFinite, n)
		}
		// A filled value masks its channel for a window and stops the
		// models learning: a dropout. A channel sampled more slowly at a
		// steady cadence is held instead; one whose gaps are irregular or
		// long stays masked most of the time.
		if n := len(r.Score); r.MaskedRows*2 > uint64(n) {
			fmt.Fprintf(w, "warning: %s: %d of %d rows lack a channel's value that could not be held (filled, that channel not judged and nothing learnt while a window holds one): tags sampled at irregular or slow rates leave most rows short; without --multivariate each channel is scored on the rows it has\n",
				r.Rel, r.MaskedRows, n)
		}
	}
}

// repeatedTimes counts the rows whose time is the row before's.
func repeatedTimes(times []int64) uint64 {
	var n uint64
	for i := 1; i < len(times); i++ {
		if times[i] == times[i-1] {
			n++
		}
	}
	return n
}

// printNAB prints the NAB profiles and alert F1, writes each file's part
// of each profile's score to outDir/nab_files.csv, and returns the
// profiles' results (nab.Profiles' order).
func printNAB(w io.Writer, results []eval.FileResult, lab nab.Labels, outDir string) ([]nab.Result, error) {
	var files []nab.File
	var st nab.AlertStats
	var drift eval.DriftStats
	var band eval.BandStats
	for _, r := range results {
		wins, ok := lab.Lookup(r.Rel)
		if !ok {
			fmt.Fprintf(os.Stderr, "eval: no labels for %s; left out of NAB scoring\n", r.Rel)
			continue
		}
		files = append(files, nab.File{Name: r.Rel, Times: r.File.Times, Scores: r.Score, Windows: wins})
		st.Add(r.File.Times, r.Alert, wins)
		band.Add(r.Scored, nab.NormalRows(r.File.Times, wins))
		drift.AddDrift(r.Rel, r.File.Times, r.DriftOpenings, r.Monitored, r.FirstMonitored, wins)
	}
	if len(files) == 0 {
		return nil, errors.New("--labels: no scored file has labels")
	}
	fmt.Fprintf(w, "NAB (%d files):", len(files))
	var byFile bytes.Buffer
	byFile.WriteString("profile,file,raw,windows,found,false_positives\n")
	scores := nabScoresOf(files)
	for _, res := range scores {
		fmt.Fprintf(w, " %s %.2f (threshold %.4g)", res.Profile, res.Score, res.Threshold)
		for _, f := range res.Files {
			fmt.Fprintf(&byFile, "%s,%s,%.4f,%d,%d,%d\n", res.Profile, f.Name, f.Raw, f.Windows, f.Found, f.FalsePos)
		}
	}
	if err := os.WriteFile(filepath.Join(outDir, "nab_files.csv"), byFile.Bytes(), 0o644); err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "\nalert vs windows: precision %.3f recall %.3f F1 %.3f (%d of %d windows found; of the %[7]d alerts after NAB's probation, the first 15%% of each file, %[6]d in a window)\n",
		st.Precision(), st.Recall(), st.F1(), st.Found, st.Windows, st.TrueEps, st.Episodes)
	in, outside := st.RatesPer10k()
	fmt.Fprintf(w, "anomaly alerts opened per 10k samples: %.2f inside windows, %.2f outside\n", in, outside)
	printBand(w, band, "rows outside windows after probation")
	// Delays are measured only where a drift alert opened in a window; with
	// none, there is nothing to print but that.
	timing := "no delay to measure"
	if drift.Detected > 0 {
		med, share := drift.MedianDelay()
		timing = fmt.Sprintf("median delay %d samples (%.0f%% of the window), median onset error %d samples", med, 100*share, drift.MedianOnsetError())
	}
	unwatched := ""
	if drift.Unwatched > 0 {
		unwatched = fmt.Sprintf(", %d of them ending before the drift monitor had its reference", drift.Unwatched)
	}
	fmt.Fprintf(w, "drift alerts vs windows: %d of %d windows with a drift alert opened inside (%d only after%s), %s; %d opened outside any window, %.3f per 10k tested samples\n",
		drift.Detected, drift.Windows, drift.Late, unwatched, timing, drift.FalseAlarms, drift.FalseAlarmsPer10k())
	return scores, nil
}

// loadVerdicts reads eval's --feedback file ("": none).
func loadVerdicts(path string) ([]eval.Verdict, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--feedback: %w", err)
	}
	var reqs []json.RawMessage
	if err := json.Unmarshal(b, &reqs); err != nil {
		return nil, fmt.Errorf("--feedback %s: a JSON list of verdicts: %w", path, err)
	}
	out := make([]eval.Verdict, len(reqs))
	for i, raw := range reqs {
		r, err := stream.ParseFeedback(raw)
		if err != nil {
			return nil, fmt.Errorf("--feedback %s: verdict %d: %w", path, i+1, err)
		}
		v, _ := detector.ParseVerdict(r.Verdict)
		out[i] = eval.Verdict{Series: r.Series, Channel: r.Channel, At: r.At, Given: r.Given, Verdict: v}
	}
	return out, nil
}

// parseVersus checks --versus: detector kinds other than the one
// evaluated, with labels (per-row or NAB's windows) to compare them on.
func parseVersus(list string, labelled bool, kind detector.Kind) ([]detector.Kind, error) {
	if list == "" {
		return nil, nil
	}
	if !labelled {
		return nil, fmt.Errorf("--versus %s: needs --label-column or --labels (labels to compare the detectors on)", list)
	}
	var kinds []detector.Kind
	for _, name := range splitList(list) {
		k := detector.Kind(name)
		switch {
		case !slices.Contains(detector.Kinds, k):
			return nil, fmt.Errorf("--versus: %q is not a detector kind (autoencoder, frozen, persistence, range)", name)
		case k == kind:
			return nil, fmt.Errorf("--versus: %q is the detector evaluated (--detector or detector.kind)", name)
		case !slices.Contains(kinds, k):
			kinds = append(kinds, k)
		}
	}
	if len(kinds) == 0 {
		return nil, fmt.Errorf("--versus: no detector kind in %q", list)
	}
	return kinds, nil
}

// versusResamples and versusSeed fix the paired bootstrap: the same files,
// the same interval.
const (
	versusResamples = 2000
	versusSeed      = 1
)

// versusLabels are the labels --versus compares on: a per-row label
// column (col, "" for none) from row skip on, NAB's windows (nil for none)
// with the run's own NAB results (printNAB's), or both.
type versusLabels struct {
	col    string
	skip   int
	nab    nab.Labels
	scored []nab.Result
}

// versusLine prints one paired comparison.
func versusLine(w io.Writer, name, stat string, p eval.Paired, digits int, how string) {
	fmt.Fprintf(w, "versus %s: %s %.*f against %.*f, difference %+.*f, 95%% interval %+.*f to %+.*f (paired bootstrap over %d files, %d resamples%s; ahead in %.0f%% of them): %s\n",
		name, stat, digits, p.A, digits, p.B, digits, p.Diff, digits, p.Low, digits, p.High, p.Files, p.Resamples, how, 100*p.Ahead, p.Verdict())
}

// nabFileScores scores the labelled files of a run by NAB's rules, files
// in the run's order (unlabelled ones left out).
func nabFileScores(results []eval.FileResult, lab nab.Labels) []nab.Result {
	var files []nab.File
	for _, r := range results {
		if wins, ok := lab.Lookup(r.Rel); ok {
			files = append(files, nab.File{Name: r.Rel, Times: r.File.Times, Scores: r.Score, Windows: wins})
		}
	}
	return nabScoresOf(files)
}

// nabScoresOf is each NAB profile's result over files, in nab.Profiles'
// order.
func nabScoresOf(files []nab.File) []nab.Result { return nab.ScoreAll(files, nab.Profiles) }

// printVersus runs each control kind on the inputs with the run's options
// and prints, beside the run's, its pooled point-wise F1 (and alerting on
// every row's, first; its false-alarm rate where no scored row is
// labelled) or its NAB scores, each with a 95% interval of the difference
// from a paired bootstrap over files.
func printVersus(ctx context.Context, w, progress io.Writer, inputs []eval.Input, opts eval.Options, results []eval.FileResult, controls []detector.Kind, by versusLabels) error {
	// Pooled over the files with the label column (the same files, in
	// the same order, in every kind's results).
	counts := func(rs []eval.FileResult) ([]eval.Counts, error) {
		var out []eval.Counts
		for _, r := range rs {
			if !slices.Contains(r.File.Header, by.col) {
				continue
			}
			labels, err := r.LabelColumn(by.col)
			if err != nil {
				return nil, err
			}
			out = append(out, eval.CountRows(labels, r.Alert, by.skip))
		}
		return out, nil
	}
	var mine []eval.Counts
	compare, stat := eval.ComparePairedF1, "F1"
	if by.col != "" {
		var err error
		if mine, err = counts(results); err != nil {
			return err
		}
		labelled := 0
		for _, c := range mine {
			labelled += c.TP + c.FN
		}
		if labelled == 0 {
			// Normal operation only: F1 is 0 for every alert.
			compare, stat = eval.ComparePairedFAR, "false-alarm rate"
			fmt.Fprintf(w, "no scored row is labelled in %s: the controls are compared by their false-alarm rates, the lower ahead\n", by.col)
		} else {
			every := make([]eval.Counts, len(mine))
			for i, c := range mine {
				every[i] = c.EveryRow()
			}
			p, err := eval.ComparePairedF1(mine, every, versusResamples, versusSeed)
			if err != nil {
				return err
			}
			versusLine(w, "alerting on every row", "F1", p, 3, "")
		}
	}
	for _, k := range controls {
		o := opts
		o.Detector.Kind = k
		o.OutDir = filepath.Join(opts.OutDir, "versus-"+string(k))
		p := newEvalProgress(progress, len(inputs))
		o.Progress = p.fileDone
		theirs, err := eval.Run(ctx, inputs, o)
		p.line.finish()
		if err != nil {
			return fmt.Errorf("--versus %s: %w", k, err)
		}
		if len(theirs) != len(results) {
			return fmt.Errorf("--versus %s: scored %d files of the run's %d", k, len(theirs), len(results))
		}
		if by.col != "" {
			tc, err := counts(theirs)
			if err != nil {
				return err
			}
			p, err := compare(mine, tc, versusResamples, versusSeed)
			if err != nil {
				return err
			}
			versusLine(w, string(k), stat, p, 3, "")
		}
		if by.nab != nil {
			for i, res := range nabFileScores(theirs, by.nab) {
				p, err := eval.ComparePairedNAB(by.scored[i].Files, res.Files, nab.Profiles[i], versusResamples, versusSeed)
				if err != nil {
					return err
				}
				versusLine(w, string(k), "NAB "+nab.Profiles[i].Name, p, 2, ", each one's threshold as chosen over all the files")
			}
		}
	}
	return nil
}
