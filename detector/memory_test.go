package detector

import (
	"math/rand/v2"
	"testing"
)

// TestReferenceFreezesAfterItsPeriod: with reference.learn_every 0 (the
// default) the reference network drops its optimiser state, averaged
// weights and replay when its period and the seasonal search end, and the
// detector's memory falls by as much; with learn_every 4 it keeps them.
func TestReferenceFreezesAfterItsPeriod(t *testing.T) {
	training := func(d *Detector) int {
		n := 0
		for _, p := range d.MemoryByPart() {
			switch p.Name {
			case "reference network: optimiser moments", "reference network: averaged weights", "reference network: replay of normal windows":
				n += p.Bytes
			}
		}
		return n
	}
	xs := signal(2600, 5)
	for _, every := range []int{0, 4} {
		cfg := DefaultConfig()
		cfg.Reference.LearnEvery = every
		d, err := New(cfg, 1)
		if err != nil {
			t.Fatal(err)
		}
		var during, freed, fell int
		for i, v := range xs {
			held, mem := training(d), d.MemoryBytes()
			d.Push(int64(i+1), []float64{v})
			if i == 300 {
				during = training(d)
			}
			if held > 0 && training(d) == 0 {
				freed, fell = held, mem-d.MemoryBytes()
			}
		}
		after := training(d)
		if during == 0 {
			t.Fatalf("learn_every %d: no training state during the period", every)
		}
		switch {
		case every == 0 && (after != 0 || freed < during || fell < freed/2):
			t.Errorf("learn_every 0: %d bytes of training state after the period; %d freed at once, the detector's memory fell by %d", after, freed, fell)
		case every == 4 && after < during:
			t.Errorf("learn_every 4: training state %d bytes after the period, %d during it", after, during)
		}
	}
}

// TestUnivariateDetectorWithin32KB holds issue 17's bar: a univariate
// detector of the default configuration holds at most 32 KB once every
// history is full, and what it holds after a long series (its periods
// and its seasonal searches over, to season.long_learn and
// drift.long_learn, its histories filled) stays within that figure. Over
// noise no search finds a cycle, so each goes on to its end.
func TestUnivariateDetectorWithin32KB(t *testing.T) {
	cfg := DefaultConfig()
	d, err := New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	full := d.MemoryFullBytes()
	if full > 32<<10 {
		t.Fatalf("a univariate detector holds %d bytes once full, want at most %d", full, 32<<10)
	}
	n := max(cfg.Reference.Season.LongLearn, cfg.Drift.LongLearn) + 2000
	r := rand.New(rand.NewPCG(7, 7))
	for i := range n {
		d.Push(int64(i+1)*1e9, []float64{50 + r.NormFloat64()})
		if i == cfg.Drift.LongLearn/2 && !d.drift.season.searching() {
			t.Fatalf("the drift monitor's seasonal search is over at sample %d, before drift.long_learn", i)
		}
	}
	if d.drift.season.searching() || d.ref.season.searching() {
		t.Fatalf("a seasonal search still runs after %d samples", n)
	}
	if held := d.MemoryBytes(); held > full {
		t.Errorf("after %d samples the detector holds %d bytes, more than the %d its histories come to when full", n, held, full)
	}
	t.Logf("%d bytes once full, %d held after %d samples", full, d.MemoryBytes(), n)
}
