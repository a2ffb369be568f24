package eval

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aewatch/aewatch/detector"
	"github.com/aewatch/aewatch/nab"
	"github.com/aewatch/aewatch/synth"
)

// meanStandard scores a corpus with one detector kind over seeds and returns
// the mean standard-profile NAB score. limits false turns the new-extreme
// limit rule off (detector.spatial_tolerance 0), as the comparison
// of the autoencoder with its controls has it.
func meanStandard(t *testing.T, inputs []Input, lab nab.Labels, kind detector.Kind, limits bool, seeds []uint64) float64 {
	t.Helper()
	return meanStandardOf(t, inputs, lab, func(cfg *detector.Config) {
		cfg.Kind = kind
		if !limits {
			cfg.SpatialTolerance = 0
		}
	}, fmt.Sprintf("%-12s limit rule %-5v", kind, limits), seeds)
}

// meanStandardOf is meanStandard of the default configuration as set
// changes it (named what in the log).
func meanStandardOf(t *testing.T, inputs []Input, lab nab.Labels, set func(*detector.Config), what string, seeds []uint64) float64 {
	t.Helper()
	var sum float64
	for _, seed := range seeds {
		cfg := detector.DefaultConfig()
		set(&cfg)
		cfg.Seed = seed
		results, err := Run(context.Background(), inputs, Options{Detector: cfg, OutDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		var files []nab.File
		for _, r := range results {
			w, ok := lab.Lookup(r.Rel)
			if !ok {
				t.Fatalf("no labels for %s", r.Rel)
			}
			files = append(files, nab.File{Name: r.Rel, Times: r.File.Times, Scores: r.Score, Windows: w})
		}
		s := nab.Score(files, nab.Profiles[0]).Score
		t.Logf("%s seed %d: standard %.2f", what, seed, s)
		sum += s
	}
	return sum / float64(len(seeds))
}

var seeds = []uint64{1, 2, 3}

// datasetDir is $env, or the named corpus in ../shared/datasets beside the
// checkout.
func datasetDir(env, name string) string {
	if dir := os.Getenv(env); dir != "" {
		return dir
	}
	return filepath.Join("..", "..", "shared", "datasets", name)
}

// TestSyntheticAutoencoderEarnsItsKeep is the bar on the project's own
// corpus: with the new-extreme limit rule off in all of them, the
// autoencoder beats the best control by at least 6 NAB points
// (3-seed means; measured 23.8 when the reference model came in, 10.65
// before tied weights halved the network's memory, 9.96 after, 8.62 with
// the calibration's history in bytes, 10.40 with the window's error
// weighted towards its newest samples and one report per score episode,
// 6.93 once every kind scores block means too, persistence gaining most,
// 6.90 with the reference network's linear code, 8.03 with the
// reference's score shown where it reads a cycle by phase (8.40 as this
// test runs it), 8.42 with a daily repeat shown as such, 12.65 with the
// sample's score's tail half the series' own peaks';
// the bar is 5) on signals with in-range faults.
func TestSyntheticAutoencoderEarnsItsKeep(t *testing.T) {
	if testing.Short() {
		t.Skip("scores an 84-file corpus with four detectors over three seeds")
	}
	series, err := synth.Corpus(4032, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	inputs, lab := writeCorpus(t, series)
	ae := meanStandard(t, inputs, lab, detector.Autoencoder, false, seeds)
	best, bestKind := 0.0, detector.Kind("")
	for _, k := range detector.Kinds[1:] {
		if s := meanStandard(t, inputs, lab, k, false, seeds); s > best {
			best, bestKind = s, k
		}
	}
	t.Logf("autoencoder %.2f, best control %s %.2f, margin %.2f", ae, bestKind, best, ae-best)
	if ae < best+6 {
		t.Fatalf("autoencoder %.2f does not beat the best control (%s, %.2f) by 6 points", ae, bestKind, best)
	}
}

// TestNAB guards the Numenta Anomaly Benchmark figures: the default
// configuration's 3-seed mean on the standard profile at least 68, the
// issue's bar (69.31 measured; 59.46 with the new-extreme limit rule off),
// and, with that rule off in all of them as the comparison has it,
// every control at least 2 points below the autoencoder (the bar;
// the frozen network 57.08 against 59.46 measured), persistence at least
// 10 (45.85). It needs the corpus (../shared/datasets/nab or
// $AEWATCH_TEST_NAB_DIR) and skips without it.
func TestNAB(t *testing.T) {
	if testing.Short() {
		t.Skip("scores NAB with four detectors over three seeds")
	}
	inputs, lab := nabCorpus(t)
	if ae := meanStandard(t, inputs, lab, detector.Autoencoder, true, seeds); ae < 68 {
		t.Errorf("autoencoder NAB standard %.2f, want >= 68", ae)
	}
	ae := meanStandard(t, inputs, lab, detector.Autoencoder, false, seeds)
	for _, k := range detector.Kinds[1:] {
		s := meanStandard(t, inputs, lab, k, false, seeds)
		if s > ae-2 {
			t.Errorf("control %s scores %.2f, less than 2 below the autoencoder's %.2f", k, s, ae)
		}
		if k == detector.Persistence && s > ae-10 {
			t.Errorf("persistence scores %.2f, within 10 of the autoencoder's %.2f", s, ae)
		}
	}
}

// nabCorpus is NAB's files and labels (../shared/datasets/nab or
// $AEWATCH_TEST_NAB_DIR); the test skips without them.
func nabCorpus(t *testing.T) ([]Input, nab.Labels) {
	t.Helper()
	dir := datasetDir("AEWATCH_TEST_NAB_DIR", "nab")
	if _, err := os.Stat(filepath.Join(dir, "data")); err != nil {
		t.Skipf("NAB corpus not found at %s (set AEWATCH_TEST_NAB_DIR): %v", dir, err)
	}
	lab, err := nab.LoadLabels(filepath.Join(dir, "labels", "combined_windows.json"))
	if err != nil {
		t.Fatal(err)
	}
	inputs, err := Discover([]string{filepath.Join(dir, "data")})
	if err != nil {
		t.Fatal(err)
	}
	return inputs, lab
}

// TestNABVariants is issue 16's bar for the model variants: each at least
// 60 on NAB's standard profile, 3-seed means of the default configuration
// but for the variant (sparse 67.62 and variational 65.85 measured; 65.50
// and 64.24 without the reference's score shown where it reads a cycle by
// phase). It needs the corpus and skips without it.
func TestNABVariants(t *testing.T) {
	if testing.Short() {
		t.Skip("scores NAB with two variants over three seeds")
	}
	inputs, lab := nabCorpus(t)
	for _, v := range []string{"sparse", "variational"} {
		s := meanStandardOf(t, inputs, lab, func(cfg *detector.Config) { cfg.Model.Variant = v }, v, seeds)
		if s < 60 {
			t.Errorf("variant %s: NAB standard %.2f, want >= 60", v, s)
		}
	}
}

// skabInputs is SKAB's files under data/part (../shared/datasets/skab-valve1
// or $AEWATCH_TEST_SKAB_DIR); the test skips without them.
func skabInputs(t *testing.T, part string) []Input {
	t.Helper()
	dir := datasetDir("AEWATCH_TEST_SKAB_DIR", "skab-valve1")
	inputs, err := Discover([]string{filepath.Join(dir, "data", part)})
	if err != nil {
		t.Skipf("SKAB's %s not found at %s (set AEWATCH_TEST_SKAB_DIR): %v", part, dir, err)
	}
	return inputs
}

// TestSKABValve1 is the point-wise bar on real multivariate data: SKAB's
// valve1 files as they are (';'-separated, label columns ignored), one
// multivariate detector per file streaming from row 0, scored on rows 400
// onward as SKAB does. 3-seed mean F1 of alert at least 0.78, the issue's
// bar (0.860 measured; alerting on every row scores 0.698).
// It needs ../shared/datasets/skab-valve1 (or $AEWATCH_TEST_SKAB_DIR) and
// skips without it.
func TestSKABValve1(t *testing.T) {
	if testing.Short() {
		t.Skip("scores SKAB valve1 over three seeds")
	}
	inputs := skabInputs(t, "valve1")
	var f1 float64
	for _, seed := range seeds {
		cfg := detector.DefaultConfig()
		cfg.Seed = seed
		results, err := Run(context.Background(), inputs, Options{Detector: cfg, Multivariate: true,
			Ignore: []string{"anomaly", "changepoint"}, OutDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		var p PointStats
		for _, r := range results {
			labels, err := r.LabelColumn("anomaly")
			if err != nil {
				t.Fatal(err)
			}
			p.Add(labels, r.Alert, r.Score, 400)
		}
		t.Logf("seed %d: F1 %.3f precision %.3f recall %.3f FAR %.3f MAR %.3f", seed, p.F1(), p.Precision(), p.Recall(), p.FAR(), p.MAR())
		f1 += p.F1() / float64(len(seeds))
	}
	if f1 < 0.78 {
		t.Errorf("SKAB valve1 F1 %.3f (3-seed mean), want >= 0.78", f1)
	}
}

// TestRelationHoldsKeepSKABsCoDriftOut: on the test bed's fault-free
// recording the relation learning on after its period alerts on hardly
// more rows than with relation_learn_on off (it relates the second
// accelerometer and the temperature late: 0.040 against 0.038), because a
// relation must hold on relation_holds refits in a row; the thermocouple's
// co-drift with the motor's temperature held on a few and broke thousands
// of samples later, alerting on nearly half the rows when one was enough
// (nearly all of them at relation_learn_on_r2). It needs
// ../shared/datasets/skab-valve1 (or $AEWATCH_TEST_SKAB_DIR) and skips
// without it.
func TestRelationHoldsKeepSKABsCoDriftOut(t *testing.T) {
	if testing.Short() {
		t.Skip("scores SKAB's anomaly-free file three times")
	}
	inputs := skabInputs(t, "anomaly-free")
	alerted := func(change func(*detector.Config)) []bool {
		cfg := detector.DefaultConfig()
		change(&cfg)
		results, err := Run(context.Background(), inputs, Options{Detector: cfg, Multivariate: true, OutDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		return results[0].Alert[400:]
	}
	share := func(a []bool) float64 {
		n := 0
		for _, on := range a {
			if on {
				n++
			}
		}
		return float64(n) / float64(len(a))
	}
	learnOn := alerted(func(*detector.Config) {})
	off := alerted(func(c *detector.Config) { c.Reference.RelationLearnOn = false })
	once := alerted(func(c *detector.Config) { c.Reference.RelationHolds = 1 })
	t.Logf("rows alerted after row 400: %.3f learning on, %.3f not, %.3f with relation_holds 1", share(learnOn), share(off), share(once))
	if share(learnOn) > share(off)+0.005 {
		t.Errorf("learning on alerted %.3f of the rows, not learning on %.3f: want at most 0.005 more", share(learnOn), share(off))
	}
	if share(once) < 0.2 {
		t.Errorf("with relation_holds 1, %.3f of the rows alerted: want >= 0.2, or the test no longer sees the co-drift", share(once))
	}
}

// TestSKABAnomalyFree: 9,405 rows of the test bed's normal operation, with
// its slow temperature and vibration drifts. A reference that held its
// first level for good alerted on 99.7% of them; the bar is 15% of the
// rows after the first 400 (measured 8-11%).
func TestSKABAnomalyFree(t *testing.T) {
	if testing.Short() {
		t.Skip("scores SKAB's anomaly-free file over three seeds")
	}
	inputs := skabInputs(t, "anomaly-free")
	var alerted float64
	for _, seed := range seeds {
		cfg := detector.DefaultConfig()
		cfg.Seed = seed
		results, err := Run(context.Background(), inputs, Options{Detector: cfg, Multivariate: true, OutDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		rows, on := 0, 0
		for _, r := range results {
			for _, a := range r.Alert[min(400, len(r.Alert)):] {
				rows++
				if a {
					on++
				}
			}
		}
		t.Logf("seed %d: alert on %d of %d rows", seed, on, rows)
		alerted += float64(on) / float64(rows) / float64(len(seeds))
	}
	if alerted > 0.15 {
		t.Errorf("alert on %.3f of SKAB's fault-free rows (3-seed mean), want <= 0.15", alerted)
	}
}

// TestSustainedFaults holds the bars on the sustained-fault corpus (every
// signal with abnormal regimes of 400-1,200 samples that end, and without
// a fault; one draw): the trained autoencoder's alert beats every
// control's in point-wise F1 by at least 0.05 (0.43 when this test came
// in, 0.10 since the reference's model-free tests, stillness and then
// roughness, lift every detector alike), its alerts open on normal rows of the fault-free files at most
// 2 times per 10k, no drift alert opens on a stuck sensor, a noise burst,
// a changed frequency or a fault-free file, and with the quality checks
// most regimes are covered for at least 70% of their rows.
func TestSustainedFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("scores a 24-file corpus with four detectors")
	}
	series, err := synth.SustainedCorpus(6000, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	inputs, _ := writeCorpus(t, series)
	f1 := map[detector.Kind]float64{}
	for _, kind := range detector.Kinds {
		cfg := detector.DefaultConfig()
		cfg.Kind = kind
		results, err := Run(context.Background(), inputs, Options{Detector: cfg, OutDir: t.TempDir(), Ignore: []string{"anomaly"}})
		if err != nil {
			t.Fatal(err)
		}
		var all, faultFree, either PointStats
		for _, r := range results {
			labels, err := r.LabelColumn("anomaly")
			if err != nil {
				t.Fatal(err)
			}
			all.Add(labels, r.Alert, r.AlertScore, 0)
			alertOrQuality := make([]bool, len(r.Alert))
			for i := range alertOrQuality {
				alertOrQuality[i] = r.Alert[i] || r.Quality[i]
			}
			either.Add(labels, alertOrQuality, r.AlertScore, 0)
			if strings.Contains(r.Rel, "_none_") {
				faultFree.Add(labels, r.Alert, r.AlertScore, 0)
			}
			// Stuck sensors, noise bursts, changed oscillations and normal
			// data are not drift.
			if kind == detector.Autoencoder && !strings.Contains(r.Rel, "level_shift") && !strings.Contains(r.Rel, "shape") && len(r.DriftOpenings) > 0 {
				t.Errorf("%s: drift alert opened at row %d", r.Rel, r.DriftOpenings[0].Row)
			}
		}
		covered, median := either.Covered(0.7)
		f1[kind] = all.F1()
		t.Logf("%-12s F1 %.3f; with quality checks %d of %d regimes covered >= 70%% (median %.2f); fault-free: %.2f alerts opened per 10k",
			kind, all.F1(), covered, len(either.Coverage), median, faultFree.FalseOpensPer10k())
		if kind != detector.Autoencoder {
			continue
		}
		if fo := faultFree.FalseOpensPer10k(); fo > 2 {
			t.Errorf("autoencoder: %.2f alerts opened per 10k samples of fault-free files, want <= 2", fo)
		}
		if 10*covered < 6*len(either.Coverage) {
			t.Errorf("autoencoder with quality checks: %d of %d regimes covered >= 70%%, want at least 60%% of them", covered, len(either.Coverage))
		}
	}
	for _, kind := range detector.Kinds[1:] {
		if f1[detector.Autoencoder] < f1[kind]+0.05 {
			t.Errorf("autoencoder F1 %.3f, %s %.3f: want a lead of 0.05", f1[detector.Autoencoder], kind, f1[kind])
		}
	}
}
