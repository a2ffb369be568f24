// Package detector owns the one scoring path of aewatch: for one series it
// chains the window, the normaliser, a raw-error source (the autoencoder or
// a control), the calibration into a score in [0,1] and the alert state
// machine. eval, run and replay all score through a Detector, so their
// outputs agree bit for bit.
//
// Kinds of raw-error source:
//   - autoencoder: the online denoising autoencoder's reconstruction error of
//     the newest sample(s) of each window;
//   - frozen: the same network with its random initial weights, never trained;
//   - persistence: the error of predicting each sample by the previous one;
//   - range: the sample's departure from the running min/max.
//
// Every kind shares the windows, the calibration, the spatial (new-extreme)
// check and the alert logic, so the controls differ from the autoencoder
// only in where the raw error comes from.
//
// Beside the anomaly path, a drift monitor per series (drift.go) compares
// slow averages of each channel's level and spread with a reference taken
// over the series' first samples and frozen until Rebaseline, with CUSUM
// tests and an alert state machine of its own: a departure the adapting
// model learns as normal is still alerted, as kind drift. What the other
// kinds alert is theirs: samples under a quality alert stay out of the
// drift tests, and under an anomaly alert (and for an eighth of the
// horizon after it) out of the spread's. Every alert event carries an
// Explanation (channel shares, departure in sensor units, and for drift
// the onset and rate).
//
// A coarse track (coarse.go) scores the series at a longer time scale:
// means over blocks of samples, a window of them reconstructed by a small
// network of its own (for the controls, their own rule on the same block
// means) and calibrated on its own history; the sample's score is the
// larger of the two scales.
//
// The reference takes a cycle longer than its window off what it sees
// (season.go), found over a series' first samples (and, where none is,
// looked for again each time the samples double); the drift monitor
// does the same with cycles longer than its horizon, its later searches
// taking only a cycle that keeps to the clock (a day sampled every second).
// Model-free tests of each channel's part of a window against normal
// windows' add their evidence (channeltest.go: stillness, roughness,
// swing). A channel that switches between separate states has them learnt
// as a histogram of visited levels (marginal.go) and the lengths of its
// runs followed (runs.go: short cycling; for one that moves only by jumps
// between levels it holds, a valve's positions, also the runs between its
// jumps: hunting); a reference period that saw such a channel jump only a
// few times starts again, long enough to see its levels, and a regime that
// recurs restarts the period over its cycle and on to the regime's next
// onset, at its second visit where it lies beyond the period's levels and
// at its third where it does not (recurrence.go). With several channels,
// each window row's channel is also reconstructed from the row's others
// where that relation is strong and held on data it was not fitted on
// (relation.go). It learns on after
// the reference period (reference.relation_learn_on) and relates a channel
// once its relation has held on a run of refits (a load that wanders
// further than the period saw); a related channel's level is then the
// relation's to judge, and the drift monitor reads it against the others.
//
// A channel that counts (a totaliser, a meter: it never fell over its
// first 256 steps but by a wrap, and rose on nine in ten) is seen as its
// rises per sample from then on, the series started afresh, and its wraps
// and resets are unwrapped (counter.go); results keep its own values.
//
// A sample of several channels that lacks some values (NaN) is scored on
// the others (missing.go): each missing value is filled with its
// channel's newest, and while the window holds a filled value that channel
// is masked as a context channel's errors are, nothing learns, and an open
// alert that holds it stays open. A channel sampled more slowly at a
// steady cadence is held at its newest reading between readings instead,
// and judged as any other. A row lacking values waits for the next: one
// carrying only values it lacks, at its time or less than half a typical
// step after the newest merged into it, is merged into it (assemble.go).
//
// Context channels (SetContext, Config.Context) are inputs to the process,
// such as setpoints: every model sees them, no error, test, quality check
// or drift counts them, and no alert gives them a share. With them the
// relation learns on from the reference period's end, in a frame of its
// own and through first-order lags of the inputs, and relates a channel
// the first time its relation holds, so a process value following its
// setpoint is normal.
//
// Each scored sample carries, per channel, the source's expected value and
// the band of values that would keep its score below the alert threshold,
// the calibration inverted (band.go); the calibration also scores each
// error unaveraged, so that one wild sample can reach the threshold. With
// model.bottleneck: auto, candidates of several bottleneck sizes train side
// by side over a series' first samples and one is kept (bottleneck.go).
//
// With detector.denoise, each channel's samples also pass through a
// linear denoising autoencoder of its windows (denoise.go: singular
// spectrum analysis, fitted once over a series' first samples; a channel
// with states takes its run's level), whose values come denoise.delay
// samples late through Denoised.
//
// Maintenance windows (silence.go) score their samples on a copy of the
// detector taken at the window's first sample and drop it when the window
// ends, so nothing learns from them and no alert opens in them.
//
// Operators' verdicts on anomaly alerts (feedback.go): a false positive
// tolerates departures of its kind (channel and side) up to a little
// beyond its peak, decaying with event time; a true positive lowers its
// kind's tolerance below its own peak.
//
// Quality checks (quality.go) are rules with an alert kind of their own,
// apart from every score: a stuck or flat-lined channel and values beyond
// operator-set limits. While a quality alert is open no model learns.
//
// Nothing poisons a model: rejected samples (NaN, ±Inf, beyond
// window.max_abs, out of order) are never stored, nor is an isolated wild
// value (holdBackWild: a quality event instead) or a sample dated far
// ahead that the next shows to be a clock glitch (Push holds it until
// then: window.Config.HoldAhead), and neither
// the normaliser nor the network learns from a window scored at or above
// the learning threshold, while an alert is open, or holding a filled
// missing value (missing.go).
//
// Memory: histories (replays, calibration and tail histories, a
// reference period's sample, seasonal block means) are allocated as they
// fill, doubling up to their length, and the period-only ones are freed
// when their period ends: a young series holds less than half of what a
// full one does (MemoryByPart). The reference network drops its training
// state (moments, averaged weights, replay) once its period and the
// seasonal search are over (reference.learn_every 0), and takes it up
// again when a new period begins.
//
// A fault in the detector's own code on a sample (a panic) is contained by
// Push and Flush (fault.go): the detector starts afresh, the samples it
// owed results for come out Failed, and TakeFault hands each fault over once.
//
// Concurrency: a Detector belongs to one goroutine. It does no I/O, reads no
// clock and starts no goroutines; once its histories are full it
// allocates nothing per sample (the seasonal context allocates its
// profile once, when its learning ends; a calibration fit and a
// relation's refit borrow their scratch from pools shared by every
// detector).
package detector
