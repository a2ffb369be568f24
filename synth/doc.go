// Package synth generates realistic industrial sensor signals with labelled
// faults: the project's own benchmark corpus, the demo's data and test
// fixtures. Signals have their own sampling steps (see Steps): a seasonal process
// temperature, a motor current on an on/off duty cycle, a vibration
// oscillation and a noisy flow. Faults include the in-range kinds a range
// check cannot see (changed frequency or shape, noise bursts, a stuck
// sensor) besides spikes and level shifts; fault-free controls are included.
// Labels use NAB's combined_windows.json format. Inject writes the same
// kinds of fault, a decoupled channel and, when asked, a growth on two
// correlated channels into files cut from a user's recording of normal
// operation (inject.go).
//
// Everything is a pure function of the seed. Concurrency: functions are safe
// for concurrent use.
package synth
