// Package model owns the denoising autoencoder that scores windows: its
// weights, its optimiser state, its replay of recent normal windows and its
// random source.
//
// The network maps a window of n values through tanh hidden layers down to a
// small bottleneck and back to n linear outputs. Training corrupts the input
// (Gaussian noise, masking) and measures the loss against the clean input;
// scoring never corrupts. Config.Variant adds to that denoising network a
// sparsity penalty on the bottleneck (sparse) or makes the bottleneck an
// encoder of latent means and log-variances with reparameterised draws
// and a KL term (variational), whose Reconstruct averages several draws
// and reports their variance (ReconVar). Config.Tied makes each decoder
// layer its mirrored encoder layer's weights, transposed: half the
// parameters to train and hold. Every buffer a network keeps is
// allocated in New but the replay, which grows as windows are kept,
// doubling up to its size (internal/grow); a call (a training step or a
// reconstruction) borrows its activations, gradients and per-pass scratch
// from a pool shared by the networks of its shape (a sync.Pool: allocated
// only while more calls run at once than it holds, and again after the
// garbage collector drops idle ones), and keeps only its output and code;
// Reconstruct and Learn allocate nothing once the replay is full, as long
// as the pool keeps its scratch. Weights,
// their average, the optimiser moments and the replay are stored narrow
// (float32, the replay bfloat16) and every product and sum is taken in
// float64; weights are laid out row-major, as gonum's blas64.General. The dense products, tanh and the optimiser step run in
// small kernels written for these layer sizes (AVX2 where the CPU has it,
// with the same bits as their scalar forms), held to gonum's BLAS in the
// tests.
//
// Freeze keeps a network scoring as it does, to the rounding of its weights
// to bfloat16, and drops its training state (moments, averaged weights,
// which become its weights, and replay); Thaw takes training up again
// from its weights with fresh moments.
//
// Given the same Config, seed and sequence of calls, an Autoencoder produces
// bit-identical outputs: all randomness comes from its own PCG source.
//
// Concurrency: an Autoencoder belongs to one goroutine; the scratch pools
// behind it (sync.Pools, the list of them behind a mutex) serve every
// goroutine. Shape mismatches are
// programmer errors and panic, as in gonum; inputs are validated upstream, at
// the window.
package model
