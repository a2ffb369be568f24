package detector

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/aewatch/aewatch/synth"
)

// harmlessStream is synth's recurring harmless bump with faults.
func harmlessStream(t *testing.T, seed uint64) (xs []float64, bumps, faults []int) {
	t.Helper()
	r, err := synth.GenerateRecurring(40000, seed)
	if err != nil {
		t.Fatal(err)
	}
	return r.Values, r.Bumps, r.Faults
}

// feedbackRun scores xs and, after each of the first verdicts alerts that
// open within a bump closes, gives it a false-positive verdict. It returns
// per sample whether the anomaly alert was open, and the outcomes.
func feedbackRun(t *testing.T, xs []float64, bumps []int, verdicts int) ([]bool, []FeedbackOutcome) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Drift.Enabled = false
	d, err := New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	inBump := func(i int) bool {
		for _, b := range bumps {
			if i >= b && i < b+synth.RecurringBumpLength {
				return true
			}
		}
		return false
	}
	open := make([]bool, len(xs))
	var outcomes []FeedbackOutcome
	var opened, closedAt int64 = -1, -1
	for i, x := range xs {
		ts := int64(i) * int64(time.Second)
		if closedAt >= 0 && len(outcomes) < verdicts {
			o := d.Feedback(opened, FalsePositive, ts)
			if !o.Applied {
				t.Fatalf("verdict on the alert opened at %d: %s", opened/int64(time.Second), o.Reason)
			}
			outcomes = append(outcomes, o)
			closedAt = -1
		}
		for _, r := range d.Push(ts, []float64{x}) {
			k := int(r.Seq)
			open[k] = r.Anomaly.Open
			switch r.Anomaly.Event {
			case Opened:
				opened = -1
				if inBump(k) {
					opened = r.Time
				}
			case Closed:
				if opened >= 0 {
					closedAt = r.Time
				}
			}
		}
	}
	return open, outcomes
}

// A false-positive verdict teaches its kind of departure: given on each of
// the first (up to three) bumps that alert, a recurring harmless bump stops
// alerting (issue bar: false alarms fall >= 80%), while drops (the other
// side) and steps larger than the bump still alert.
func TestFeedbackTeachesAHarmlessPattern(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		xs, bumps, faults := harmlessStream(t, seed)
		alerted := func(open []bool, from, length int) bool {
			for i := from; i < from+length; i++ {
				if open[i] {
					return true
				}
			}
			return false
		}
		count := func(open []bool) (later int, caught int) {
			for _, b := range bumps[4:] { // after the verdicts' bumps (and one more to be sure they were given)
				if alerted(open, b, synth.RecurringBumpLength) {
					later++
				}
			}
			for _, f := range faults {
				if alerted(open, f, synth.RecurringFaultLength) {
					caught++
				} else {
					t.Logf("seed %d: fault at %d not alerted", seed, f)
				}
			}
			return later, caught
		}
		before, _ := feedbackRun(t, xs, bumps, 0)
		after, outcomes := feedbackRun(t, xs, bumps, 3)
		b, cb := count(before)
		a, ca := count(after)
		t.Logf("seed %d: later bumps alerted: %d of %d without feedback, %d after %d false-positive verdicts (one per bump that alerted, up to three); faults caught %d and %d of %d",
			seed, b, len(bumps)-4, a, len(outcomes), cb, ca, len(faults))
		for _, o := range outcomes {
			t.Logf("seed %d: verdict: alert %ds-%ds peak %.2f -> tolerance %.2f (%d verdicts)", seed, o.Start/1e9, o.End/1e9, o.Peak, o.Tolerance, o.Verdicts)
		}
		if b < len(bumps)-5 {
			t.Fatalf("seed %d: without feedback only %d of %d later bumps alerted: the pattern is not a recurring false alarm", seed, b, len(bumps)-4)
		}
		if float64(a) > 0.2*float64(b) {
			t.Errorf("seed %d: after the false-positive verdicts %d of %d later bumps still alert, want a fall of >= 80%%", seed, a, b)
		}
		if ca != len(faults) {
			t.Errorf("seed %d: after feedback %d of %d faults alerted, want all", seed, ca, len(faults))
		}
	}
}

// Verdicts name an alert by a time it covered; the same verdict twice
// changes nothing, and what they taught survives a snapshot.
func TestFeedbackVerdicts(t *testing.T) {
	xs, bumps, _ := harmlessStream(t, 1)
	cfg := DefaultConfig()
	cfg.Drift.Enabled = false
	d, err := New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	sec := int64(time.Second)
	first := int64(bumps[0]+50) * sec
	for i, x := range xs[:bumps[0]+400] {
		d.Push(int64(i)*sec, []float64{x})
	}
	now := int64(bumps[0]+400) * sec
	if o := d.Feedback(int64(bumps[0]-500)*sec, FalsePositive, now); o.Applied || o.Reason == "" {
		t.Errorf("verdict on a time no alert covered: %+v, want refused with a reason", o)
	}
	o := d.Feedback(first, TruePositive, now)
	if !o.Applied || o.Tolerance != 0 || o.Side != 1 || o.Channel != 0 {
		t.Fatalf("true positive: %+v, want recorded, no tolerance, channel 0 upwards", o)
	}
	o = d.Feedback(first, FalsePositive, now)
	if !o.Applied || !(o.Tolerance > o.Peak) || o.Verdicts != 1 {
		t.Fatalf("false positive after a true one: %+v, want a tolerance above the peak from 1 verdict", o)
	}
	if again := d.Feedback(first, FalsePositive, now); again.Applied || again.Verdicts != 1 {
		t.Errorf("the same verdict twice: %+v, want not applied, still 1 verdict", again)
	}
	snap, err := d.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	e, _ := New(cfg, 1)
	if err := e.UnmarshalBinary(snap); err != nil {
		t.Fatal(err)
	}
	later := now + int64(cfg.Feedback.HalfLife)
	if got, want := e.fb.at(0, 1, later), o.Tolerance/2; math.Abs(got-want) > 1e-9*want {
		t.Errorf("restored tolerance one half-life later: %v, want %v", got, want)
	}
	for i, x := range xs[bumps[0]+400:] {
		a, b := d.Push(int64(bumps[0]+400+i)*sec, []float64{x}), e.Push(int64(bumps[0]+400+i)*sec, []float64{x})
		if a[0].Score != b[0].Score || a[0].Anomaly.Open != b[0].Anomaly.Open || a[0].Tolerated != b[0].Tolerated {
			t.Fatalf("sample %d: restored detector differs", bumps[0]+400+i)
		}
	}
}

func TestFeedbackConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		edit func(*FeedbackConfig)
		want string
	}{
		{func(c *FeedbackConfig) { c.Margin = -1 }, "detector.feedback.margin"},
		{func(c *FeedbackConfig) { c.MaxDeviations = 0 }, "detector.feedback.max_deviations"},
		{func(c *FeedbackConfig) { c.HalfLife = time.Second }, "detector.feedback.half_life"},
	} {
		cfg := DefaultConfig()
		tc.edit(&cfg.Feedback)
		if err := cfg.Validate(1); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want an error naming %s", err, tc.want)
		}
	}
	if _, err := ParseVerdict("maybe"); err == nil || !strings.Contains(err.Error(), `"maybe"`) {
		t.Errorf("ParseVerdict(maybe): %v, want an error naming the value", err)
	}
}

// A true positive says departures of its size matter: corrected from a
// false positive, it takes back the tolerance that verdict taught; on
// another alert of a taught kind, the tolerance drops below its peak.
func TestFeedbackTruePositiveLowersTheTolerance(t *testing.T) {
	cfg := DefaultFeedbackConfig()
	f := newFeedback(cfg, 1)
	bound := func(int) float64 { return 1e9 }
	alert := func(start, end int64, peak float64) {
		f.opened(start, 0, 1)
		f.during(peak)
		f.closed(end, bound)
	}
	alert(100, 200, 4)
	if o := f.judge(150, FalsePositive, 300, bound); !o.Applied || o.Tolerance != 4*(1+cfg.Margin) {
		t.Fatalf("false positive: %+v, want a tolerance of %v", o, 4*(1+cfg.Margin))
	}
	if o := f.judge(150, TruePositive, 300, bound); !o.Applied || o.Tolerance != 0 || o.Verdicts != 0 {
		t.Fatalf("corrected to a true positive: %+v, want no tolerance, no false positives", o)
	}
	if f.tolerates(0, 3, 400) {
		t.Error("a departure of 3 is still tolerated after the correction")
	}

	alert(1000, 1100, 6)
	f.judge(1050, FalsePositive, 1200, bound)
	alert(2000, 2100, 5) // a departure of the taught kind, judged real
	o := f.judge(2050, TruePositive, 2200, bound)
	if want := 5 / (1 + cfg.Margin); !o.Applied || o.Tolerance != want || o.Verdicts != 1 {
		t.Fatalf("true positive of a taught kind: %+v, want the tolerance lowered to %v with 1 false positive left", o, want)
	}
	if f.tolerates(0, 4.5, 2300) || !f.tolerates(0, 3.5, 2300) {
		t.Errorf("after the true positive of peak 5: 4.5 tolerated %v (want false), 3.5 %v (want true)", f.tolerates(0, 4.5, 2300), f.tolerates(0, 3.5, 2300))
	}
}
