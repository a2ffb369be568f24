package eval

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/aewatch/aewatch/detector"
	"github.com/aewatch/aewatch/nab"
	"github.com/aewatch/aewatch/synth"
)

// meanStandard scores a corpus with one detector kind over seeds and returns
// the mean standard-profile NAB score.
func meanStandard(t *testing.T, inputs []Input, lab nab.Labels, kind detector.Kind, seeds []uint64) float64 {
	t.Helper()
	var sum float64
	for _, seed := range seeds {
		cfg := detector.DefaultConfig()
		cfg.Kind, cfg.Seed = kind, seed
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
		t.Logf("%-12s seed %d: standard %.2f", kind, seed, s)
		sum += s
	}
	return sum / float64(len(seeds))
}

var seeds = []uint64{1, 2, 3}

// TestSyntheticAutoencoderEarnsItsKeep is the bar on the project's own
// corpus: the autoencoder beats the best control by at least 5 NAB points
// (3-seed means) on signals with in-range faults.
func TestSyntheticAutoencoderEarnsItsKeep(t *testing.T) {
	if testing.Short() {
		t.Skip("scores an 84-file corpus with four detectors over three seeds")
	}
	series, err := synth.Corpus(4032, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	inputs, lab := writeCorpus(t, series)
	ae := meanStandard(t, inputs, lab, detector.Autoencoder, seeds)
	best, bestKind := 0.0, detector.Kind("")
	for _, k := range detector.Kinds[1:] {
		if s := meanStandard(t, inputs, lab, k, seeds); s > best {
			best, bestKind = s, k
		}
	}
	t.Logf("autoencoder %.2f, best control %s %.2f, margin %.2f", ae, bestKind, best, ae-best)
	if ae < best+5 {
		t.Fatalf("autoencoder %.2f does not beat the best control (%s, %.2f) by 5 points", ae, bestKind, best)
	}
}

// TestNAB is the bar on the Numenta Anomaly Benchmark: a 3-seed mean of at
// least 60 on the standard profile, and no control more than 2 points
// above the autoencoder. It needs the corpus (../shared/datasets/nab or
// $AEWATCH_TEST_NAB_DIR) and skips without it.
func TestNAB(t *testing.T) {
	if testing.Short() {
		t.Skip("scores NAB with four detectors over three seeds")
	}
	dir := os.Getenv("AEWATCH_TEST_NAB_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "datasets", "nab")
	}
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
	ae := meanStandard(t, inputs, lab, detector.Autoencoder, seeds)
	if ae < 60 {
		t.Errorf("autoencoder NAB standard %.2f, want >= 60", ae)
	}
	for _, k := range detector.Kinds[1:] {
		if s := meanStandard(t, inputs, lab, k, seeds); s > ae+2 {
			t.Errorf("control %s scores %.2f, more than 2 above the autoencoder's %.2f", k, s, ae)
		}
	}
}
