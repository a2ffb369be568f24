// Package numtext reads numbers from text as aewatch's inputs (CSV files,
// JSON and line protocol messages) write them. It holds no state: safe
// for concurrent use.
package numtext

import (
	"errors"
	"strconv"
)

// ParseFloat is strconv.ParseFloat with a number beyond float64's range
// read as what it rounds to, ±Inf or ±0 (for the caller to reject as not
// finite), not as a text that is no number.
func ParseFloat(s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if errors.Is(err, strconv.ErrRange) {
		return v, nil
	}
	return v, err
}
