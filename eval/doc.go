// Package eval runs the detector over sensor CSV files: the offline path of
// aewatch (the eval subcommand). Each file is an independent run with fresh
// detectors, scored through the same detector.Detector that the streaming
// path uses, and written as a CSV with one output row per input row. A
// file that cannot be read or scored is reported (FileErrors) without
// stopping the others.
// WriteReport renders a run as one self-contained HTML page with a figure
// of each file's signal, alerts and scores (gonum/plot, SVG). PointStats
// scores per-row labels pooled over files; ComparePairedF1 and
// ComparePairedNAB compare two runs on the same files with a paired
// bootstrap over files.
//
// Concurrency: Run scores files on a pool of goroutines, one file per
// goroutine at a time; each file's detectors belong to that goroutine. The
// Progress callback may be called from several goroutines at once.
// WriteReport and the comparisons run on the caller's goroutine.
package eval
