package detector

import (
	"math"
	"os"
	"strings"
	"testing"

	"github.com/aewatch/aewatch/window"
)

func TestMain(m *testing.M) {
	containFaults = false
	os.Exit(m.Run())
}

// containing turns containment on for the test that calls it.
func containing(t *testing.T) {
	containFaults = true
	t.Cleanup(func() { containFaults = false })
}

// provokeFault breaks d as a bug would: its reference network is frozen
// while its period still learns, so the next window it learns from
// panics (model: Learn on a frozen network).
func provokeFault(t *testing.T, d *Detector) {
	t.Helper()
	if d.ref == nil || d.ref.ae == nil || !d.ref.learning() {
		t.Fatal("no learning reference network to break")
	}
	d.ref.ae.Freeze()
}

// TestFaultIsContained: a fault in the detector's code on a sample is
// contained: the detector starts afresh, every sample still gets exactly
// one result (the ones the detector owed when it failed Failed), the fault
// is reported once, and scoring goes on; with a stride the samples waiting
// for it are owed too.
func TestFaultIsContained(t *testing.T) {
	containing(t)
	const n, at = 1500, 200
	xs := signal(n, 1)
	ts := times(n)
	for _, stride := range []int{1, 4} {
		cfg := DefaultConfig()
		cfg.Window.Stride = stride
		d, err := New(cfg, 1)
		if err != nil {
			t.Fatal(err)
		}
		results := make([]int, n)
		var failed []uint64
		var taken []*Fault
		scoredAfter := 0
		for i := range xs {
			if i == at {
				provokeFault(t, d)
			}
			res := d.Push(ts[i], xs[i:i+1])
			if i < at && d.LastFault() != nil {
				t.Fatalf("stride %d: a fault at sample %d before any was provoked: %s", stride, i, d.LastFault().Panic)
			}
			if f, n := d.TakeFault(); n > 0 {
				taken = append(taken, f)
				if n != 1 || f.Flush {
					t.Errorf("stride %d: sample %d: %d faults taken at once, in Flush %v: want 1, in Push", stride, i, n, f.Flush)
				}
			}
			for _, r := range res {
				results[r.Seq]++
				if r.Status == window.Failed {
					failed = append(failed, r.Seq)
					if r.Scored || len(r.Expected) != 1 || !math.IsNaN(r.Expected[0]) || len(r.ChannelError) != 1 {
						t.Errorf("stride %d: failed result %+v: want unscored, with NaN expectations", stride, r)
					}
				} else if r.Scored && r.Seq > at+200 {
					scoredAfter++
				}
			}
		}
		for _, r := range d.Flush() {
			results[r.Seq]++
		}
		if f, n := d.TakeFault(); n > 0 {
			taken = append(taken, f)
		}
		for seq, c := range results {
			if c != 1 {
				t.Errorf("stride %d: sample %d: %d results, want 1", stride, seq, c)
			}
		}
		f := d.LastFault()
		if len(taken) != 1 || f == nil || !strings.Contains(f.Panic, "frozen") || !strings.Contains(f.Stack, "LearnSampled") {
			t.Fatalf("stride %d: faults %d, last %+v: want one, the frozen network's, with its stack", stride, len(taken), f)
		}
		// The fault struck when a window was learnt from: at the provoked
		// sample with stride 1, at the stride's next window otherwise,
		// with the samples waiting for it.
		want := []uint64{at}
		if stride > 1 {
			end := uint64(at)
			for (end+1-uint64(cfg.Window.Size))%uint64(stride) != 0 {
				end++
			}
			want = want[:0]
			for s := end + 1 - uint64(stride); s <= end; s++ {
				want = append(want, s)
			}
		}
		if f.Seq != want[len(want)-1] || f.Owed != len(want) || len(failed) != len(want) || failed[0] != want[0] {
			t.Errorf("stride %d: fault on sample %d owing %d, failed results %v: want %v", stride, f.Seq, f.Owed, failed, want)
		}
		if len(taken) != 1 || taken[0] != f {
			t.Errorf("stride %d: faults taken %v: want the one fault, once", stride, taken)
		}
		if scoredAfter < n-at-400 {
			t.Errorf("stride %d: %d samples scored 200 after the fault: the fresh detector does not go on", stride, scoredAfter)
		}
	}
}

// TestFaultOwesHeldMessages: a multivariate series sent one channel a
// message holds each row until the next; a fault while rows and the
// messages merged into them are held leaves no message without its one
// result, and sequence numbers go on as the messages came.
func TestFaultOwesHeldMessages(t *testing.T) {
	containing(t)
	const rows, at = 900, 300
	d, err := New(DefaultConfig(), 2)
	if err != nil {
		t.Fatal(err)
	}
	xs := signal(rows, 2)
	var results []int
	pushes := 0
	count := func(res []Result) {
		for _, r := range res {
			for int(r.Seq) >= len(results) {
				results = append(results, 0)
			}
			results[r.Seq]++
		}
	}
	nan := math.NaN()
	for i := range rows {
		if i == at {
			provokeFault(t, d)
		}
		tm := int64(i+1) * 60e9
		count(d.Push(tm, []float64{xs[i], nan}))
		count(d.Push(tm, []float64{nan, 2 * xs[i]}))
		pushes += 2
	}
	count(d.Flush())
	if _, faults := d.TakeFault(); faults != 1 {
		t.Fatalf("%d faults, want 1", faults)
	}
	if len(results) != pushes {
		t.Fatalf("%d sequence numbers for %d messages", len(results), pushes)
	}
	for seq, c := range results {
		if c != 1 {
			t.Errorf("message %d: %d results, want 1", seq, c)
		}
	}
}

// TestStartAfreshKeepsContext: a detector that starts afresh (here after
// a glitch as a series' first sample) keeps its context channels: a fresh
// one forgot them, and scored and alerted on the inputs it was told to
// leave alone.
func TestStartAfreshKeepsContext(t *testing.T) {
	d, err := New(DefaultConfig(), 2)
	if err != nil {
		t.Fatal(err)
	}
	d.SetContext([]bool{false, true})
	xs := signal(50, 3)
	for i, x := range xs {
		v := x
		if i == 0 {
			v = 1e10
		}
		d.Push(int64(i+1)*60e9, []float64{v, 2 * x})
	}
	if d.accepted == len(xs) {
		t.Fatal("the glitch went in: the detector never started afresh")
	}
	if d.context == nil || !d.context[1] || d.scored != 1 {
		t.Fatalf("context %v, %d channels scored after starting afresh: want the second channel context, one scored", d.context, d.scored)
	}
}
