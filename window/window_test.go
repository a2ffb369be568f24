package window

import (
	"math"
	"testing"
	"time"
)

func newTestWindow(t *testing.T, mut func(*Config)) *Window {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Size, cfg.Stride = 4, 2
	if mut != nil {
		mut(&cfg)
	}
	w, err := New(cfg, 2)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestWindowStride(t *testing.T) {
	w := newTestWindow(t, nil)
	want := []Status{Filling, Filling, Filling, Ready, Filling, Ready, Filling, Ready}
	for i, st := range want {
		if got := w.Push(int64(i+1), []float64{float64(i), -float64(i)}); got != st {
			t.Fatalf("sample %d: got %v, want %v", i, got, st)
		}
	}
	if got := w.Newest(0); got[0] != 7 || got[1] != -7 {
		t.Fatalf("newest sample is %v, want [7 -7]", got)
	}
	if got := w.Newest(3); got[0] != 4 {
		t.Fatalf("oldest sample is %v, want [4 -4]", got)
	}
	if st := w.Stats(); st.Accepted != 8 || st.Windows != 3 {
		t.Fatalf("stats %+v: want 8 accepted, 3 windows", st)
	}
}

func TestWindowRejects(t *testing.T) {
	w := newTestWindow(t, nil)
	f := func(ts int64, x []float64, want Status) {
		t.Helper()
		if got := w.Push(ts, x); got != want {
			t.Fatalf("Push(%d, %v) = %v, want %v", ts, x, got, want)
		}
	}
	f(10, []float64{1, 1}, Filling)
	f(11, []float64{math.NaN(), 1}, NonFinite)
	f(11, []float64{1, math.Inf(-1)}, NonFinite)
	f(11, []float64{9.9e37, 1}, OutOfRange) // a transmitter's bad-value mark
	f(11, []float64{1, -1e16}, OutOfRange)
	f(10, []float64{1, 1}, OutOfOrder) // same time as the last accepted
	f(9, []float64{1, 1}, OutOfOrder)
	f(11, []float64{2, 2}, Filling)
	f(12, []float64{3, 3}, Filling)
	f(13, []float64{4, 4}, Ready)
	st := w.Stats()
	if w.LastTime() != 13 {
		t.Fatalf("LastTime %d, want 13: rejected samples moved it", w.LastTime())
	}
	if st.NonFinite != 2 || st.OutOfRange != 2 || st.OutOfOrder != 2 || st.Accepted != 4 {
		t.Fatalf("stats %+v: want 2 non-finite, 2 out of range, 2 out of order, 4 accepted", st)
	}
	// Rejected samples never reached the ring.
	for back, want := range []float64{4, 3, 2, 1} {
		if got := w.Newest(back)[0]; got != want {
			t.Fatalf("Newest(%d) = %v, want %v", back, got, want)
		}
	}
}

func TestWindowGap(t *testing.T) {
	w := newTestWindow(t, func(c *Config) { c.MaxGap = 10 * time.Second })
	sec := int64(time.Second)
	for i := int64(0); i < 4; i++ {
		w.Push(i*sec, []float64{1, 1})
	}
	if !w.Full() {
		t.Fatal("window not full after 4 samples")
	}
	if got := w.Push(3*sec+10*sec, []float64{1, 1}); got != Filling {
		t.Fatalf("a step of exactly MaxGap is continuous: got %v", got)
	}
	if got := w.Push(13*sec+11*sec, []float64{2, 2}); got != Filling || w.Full() {
		t.Fatalf("a step beyond MaxGap restarts the window: got %v, full %v", got, w.Full())
	}
	if st := w.Stats(); st.Gaps != 1 {
		t.Fatalf("gaps = %d, want 1", st.Gaps)
	}
	for i := int64(1); i < 4; i++ {
		w.Push(24*sec+i*sec, []float64{3, 3})
	}
	if !w.Full() {
		t.Fatal("window not full 4 samples after the gap")
	}
}

func TestNormaliserKeepsLevelShiftVisible(t *testing.T) {
	cfg := DefaultConfig()
	n, err := NewNormaliser(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 1000; i++ {
		n.Observe([]float64{10 + math.Sin(float64(i))})
	}
	if m := n.Mean(0); math.Abs(m-10) > 0.1 {
		t.Fatalf("mean %v, want about 10", m)
	}
	// A level shift of 5 std units still sits over 2 std from the mean 500 samples later.
	for i := 0; i < 500; i++ {
		n.Observe([]float64{15 + math.Sin(float64(i))})
	}
	if z := n.Apply(0, 15); z < 2 {
		t.Fatalf("shifted level normalises to %v: the shift is no longer visible", z)
	}
}

func TestNormaliserConstantSignal(t *testing.T) {
	n, err := NewNormaliser(DefaultConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 500; i++ {
		n.Observe([]float64{3})
	}
	if z := n.Apply(0, 3); z != 0 {
		t.Fatalf("constant maps to %v, want 0", z)
	}
	if z := n.Apply(0, 4); math.IsInf(z, 0) || math.IsNaN(z) {
		t.Fatalf("departure from a constant maps to %v, want finite", z)
	}
}

// TestNormaliserIsWild: a register read as 1e10 on a signal of unit
// spread is wild, a value 50 deviations out is not, and judging changes
// nothing. Before the moments have samples enough, magnitudes decide: a
// first sample of 1e10 makes a second of 10 wild and the other way round,
// a quantised channel's step is not wild, and after exact zeros nothing
// is.
func TestNormaliserIsWild(t *testing.T) {
	newN := func(first ...float64) *Normaliser {
		n, err := NewNormaliser(DefaultConfig(), 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range first {
			n.Observe([]float64{v})
		}
		return n
	}
	for _, c := range []struct {
		first []float64
		v     float64
		wild  bool
	}{
		{nil, 1e10, false},
		{[]float64{1e10}, 10, true},
		{[]float64{10}, 1e10, true},
		{[]float64{10, 10.5, 9.8}, 1e10, true},
		{[]float64{0.054, 0.054, 0.054, 0.054}, -0.27, false},
		{[]float64{0, 0, 0}, 2.4, false},
		{[]float64{0.001}, 1.5, false}, // a signal around 0 that began near it
		{[]float64{10, 10.5, 9.8}, 200, false},
	} {
		if got := newN(c.first...).IsWild(0, c.v); got != c.wild {
			t.Errorf("after %v: IsWild(%v) = %v, want %v", c.first, c.v, got, c.wild)
		}
	}
	n := newN()
	for i := range 400 {
		n.Observe([]float64{10 + math.Sin(float64(i))})
	}
	m, sd := n.Mean(0), n.Std(0)
	if !n.IsWild(0, 1e10) || !n.IsWild(0, -1e4) || n.IsWild(0, 10+50*sd) {
		t.Fatalf("wild: 1e10 %v, -1e4 %v, 50 deviations %v", n.IsWild(0, 1e10), n.IsWild(0, -1e4), n.IsWild(0, 10+50*sd))
	}
	if n.Mean(0) != m || n.Std(0) != sd {
		t.Fatal("IsWild changed the moments")
	}
}

func TestConfigValidate(t *testing.T) {
	f := func(mut func(*Config), want string) {
		t.Helper()
		c := DefaultConfig()
		mut(&c)
		if err := c.Validate(); err == nil || err.Error() != want {
			t.Errorf("got %v, want %q", err, want)
		}
	}
	f(func(c *Config) { c.Size = 2 }, "window.size: must be in [4, 4096] (got 2)")
	f(func(c *Config) { c.Stride = 40 }, "window.stride: must be in [1, window.size=32] (got 40)")
	f(func(c *Config) { c.MaxGap = -time.Second }, "window.max_gap: must be >= 0 (got -1s)")
	f(func(c *Config) { c.Clip = math.NaN() }, "window.clip: must be in (0, 1e6] (got NaN)")
	f(func(c *Config) { c.MaxAbs = 0 }, "window.max_abs: must be in (0, 1e300] (got 0)")
	f(func(c *Config) { c.SpreadFloor = -1 }, "window.spread_floor: must be in [0, 1] (got -1)")
}

func TestPushAllocatesNothing(t *testing.T) {
	w := newTestWindow(t, nil)
	n, _ := NewNormaliser(DefaultConfig(), 2)
	dst := make([]float64, 8)
	x := []float64{1, 2}
	ts := int64(0)
	allocs := testing.AllocsPerRun(100, func() {
		ts++
		if w.Push(ts, x) == Ready {
			w.Values(dst, n)
		}
		n.Observe(x)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per sample, want 0", allocs)
	}
}
