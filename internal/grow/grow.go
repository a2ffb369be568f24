// Package grow sizes a detector's histories to what they hold: a buffer
// that will hold up to limit values is allocated as it fills, doubling,
// never beyond limit. A young series (most of a plant's tags, for their
// first hours) holds only what it wrote; one that has filled its buffers
// holds exactly the limit, as if it had allocated it at once.
//
// The functions are pure; callers own the slices they pass.
package grow

// minCap is the first allocation, in values: growing by doubling from one
// would cost a dozen copies for nothing.
const minCap = 64

// To returns s with length at least n (n <= limit), its first len(s)
// values kept and the rest zero; its capacity never exceeds limit.
func To[T any](s []T, n, limit int) []T {
	if n > limit {
		panic("grow: length beyond limit")
	}
	if n <= len(s) {
		return s
	}
	if n <= cap(s) {
		return s[:n]
	}
	t := make([]T, n, min(limit, max(n, 2*cap(s), minCap)))
	copy(t, s)
	return t
}

// Room returns s with capacity for at least one more value (len(s) <
// limit), growing as To does; its length is unchanged.
func Room[T any](s []T, limit int) []T {
	if len(s) < cap(s) {
		return s
	}
	return To(s, len(s)+1, limit)[:len(s)]
}

// Append appends v to s (len(s)+len(v) <= limit), growing as To does.
func Append[T any](s []T, limit int, v ...T) []T {
	n := len(s)
	s = To(s, n+len(v), limit)
	copy(s[n:], v)
	return s
}
