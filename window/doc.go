// Package window owns the per-series sliding window: a fixed ring buffer of
// Size samples × Channels values that yields a window every Stride accepted
// samples, and the online Normaliser that maps raw values onto the scale the
// model sees.
//
// The window is the validation boundary of the scoring path: non-finite
// values, out-of-order timestamps and gaps are detected, counted and never
// stored, so nothing downstream has to check again.
//
// Normalisation is deliberately not per window: a per-window z-score would
// hide level shifts and drift. The Normaliser tracks slow running moments, so
// a shift stays visible to the model long after it happened.
//
// Concurrency: a Window or Normaliser belongs to one goroutine (the owner of
// its series). No method is safe for concurrent use; Stats may be copied out
// by the owner and published elsewhere.
//
// The package does no I/O, starts no goroutines, reads no clock and does not
// allocate after New.
package window
