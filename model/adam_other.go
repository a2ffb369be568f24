//go:build !amd64

package model

// adam is one Adam step (see adamGeneric).
func adam(p, m, v []float32, g []float64, k *adamConsts) { adamGeneric(p, m, v, g, k) }

// average moves avg towards p by rate (see averageGeneric).
func average(avg, p []float32, rate float64) { averageGeneric(avg, p, rate) }
