//go:build !amd64

package model

// adam is one Adam step (see adamGeneric).
func adam(p, m, v []float32, g []float64, k *adamConsts) { adamGeneric(p, m, v, g, k) }

// adamFactoredRow is adamFactored's step over one row (see
// adamFactoredRowGeneric).
func adamFactoredRow(p, m, cols []float32, g []float64, r float64, k *adamConsts) {
	adamFactoredRowGeneric(p, m, cols, g, r, k)
}

// average moves avg towards p by rate (see averageGeneric).
func average(avg, p []float32, rate float64) { averageGeneric(avg, p, rate) }
