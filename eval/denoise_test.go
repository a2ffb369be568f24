package eval

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/aewatch/aewatch/detector"
	"github.com/aewatch/aewatch/sensorcsv"
)

// TestDenoisedNABTwin measures the denoiser outside the project's own
// generator: NAB's art_daily_small_noise is art_daily_no_noise (a daily
// square wave with shoulders) plus noise, so the twin is the clean
// signal. The eval column denoised lies at least 40% nearer it than the
// raw values (47.4% when this test came in). It needs
// ../shared/datasets/nab (or $AEWATCH_TEST_NAB_DIR) and skips without it.
func TestDenoisedNABTwin(t *testing.T) {
	dir := filepath.Join(datasetDir("AEWATCH_TEST_NAB_DIR", "nab"), "data", "artificialNoAnomaly")
	noisyPath, cleanPath := filepath.Join(dir, "art_daily_small_noise.csv"), filepath.Join(dir, "art_daily_no_noise.csv")
	if _, err := os.Stat(noisyPath); err != nil {
		t.Skipf("NAB corpus not found at %s (set AEWATCH_TEST_NAB_DIR): %v", dir, err)
	}
	noisy, err := sensorcsv.Read(noisyPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	clean, err := sensorcsv.Read(cleanPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := detector.DefaultConfig()
	cfg.Denoise.Enabled = true
	s, err := ScoreFile(noisy, cfg, false, false)
	if err != nil {
		t.Fatal(err)
	}
	var raw, den float64
	n := 0
	for i, v := range s.Denoised[0] {
		if math.IsNaN(v) {
			continue
		}
		c := clean.Values[i][0]
		raw += (noisy.Values[i][0] - c) * (noisy.Values[i][0] - c)
		den += (v - c) * (v - c)
		n++
	}
	less := 1 - math.Sqrt(den/raw)
	t.Logf("%d rows denoised: RMS to the noise-free twin %.3f raw, %.3f denoised (%.1f%% less)", n, math.Sqrt(raw/float64(n)), math.Sqrt(den/float64(n)), 100*less)
	if n < len(noisy.Values)-cfg.Denoise.Learn-cfg.Denoise.Delay || less < 0.40 {
		t.Errorf("%d of %d rows denoised, %.1f%% nearer the clean twin (want >= 40%%)", n, len(noisy.Values), 100*less)
	}
}
