// Package nab implements the scoring rules of the Numenta Anomaly Benchmark
// (NAB): labelled anomaly windows, the scaled sigmoid that rewards early
// detection and charges false positives by their distance from the last
// window, the probationary period (the first 15% of each file, at most 750
// rows), one threshold per profile optimised over the whole corpus, and
// normalisation so that the null detector scores 0 and a perfect one 100.
//
// It also scores the binary alert decisions as episodes against the same
// windows (precision, recall, F1).
//
// The package is pure: no I/O beyond LoadLabels, no goroutines. Values are
// safe for concurrent reads once built.
package nab
