package detector

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// runSilenced feeds xs at times ts to a detector with the given maintenance
// windows and returns a copy of every result, indexed by sample.
func runSilenced(t *testing.T, cfg Config, windows []TimeRange, ts []int64, xs []float64) []Result {
	t.Helper()
	d, err := New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	d.SetSilences(windows)
	out := make([]Result, len(xs))
	for i := range xs {
		for _, r := range d.Push(ts[i], []float64{xs[i]}) {
			out[r.Seq] = kept(r)
		}
	}
	return out
}

// kept is r without what aliases the detector's buffers, the band of a
// scored sample copied (an unscored one's is NaN, which DeepEqual never
// finds equal).
func kept(r Result) Result {
	r.Values, r.ChannelError, r.Anomaly.Why, r.DriftAlert.Why, r.Quality.Why = nil, nil, nil, nil, nil
	if r.Scored {
		r.Expected, r.Lower, r.Upper, r.Code = slices.Clone(r.Expected), slices.Clone(r.Lower), slices.Clone(r.Upper), slices.Clone(r.Code)
	} else {
		r.Expected, r.Lower, r.Upper = nil, nil, nil
	}
	return r
}

// TestSilenceLeavesNoTrace: a fault inside a maintenance window is scored
// and flagged but opens no alert, and after the window every result equals
// those of a run whose window held normal samples; a fault that outlasts
// the window is alerted once the window ends.
func TestSilenceLeavesNoTrace(t *testing.T) {
	const n, from, to = 3000, 1500, 1900
	ts := times(n)
	window := []TimeRange{{ts[from], ts[to]}}
	cfg := DefaultConfig()
	normal := runSilenced(t, cfg, window, ts, shifted(n, 0, 0, 0, 1))
	faulty := runSilenced(t, cfg, window, ts, shifted(n, from, to, 3, 1))
	for i := range faulty {
		in := i >= from && i < to
		if faulty[i].Silenced != in || normal[i].Silenced != in {
			t.Fatalf("sample %d: silenced %v / %v, want %v", i, faulty[i].Silenced, normal[i].Silenced, in)
		}
		if in {
			if faulty[i].Anomaly.Event != NoEvent || faulty[i].Anomaly.Open {
				t.Fatalf("sample %d, in the window: anomaly %+v", i, faulty[i].Anomaly)
			}
			continue
		}
		if !reflect.DeepEqual(faulty[i], normal[i]) {
			t.Fatalf("sample %d: results differ after the window:\n%+v\n%+v", i, faulty[i], normal[i])
		}
	}
	var peak float64
	for _, r := range faulty[from:to] {
		peak = max(peak, r.AlertScore())
	}
	if peak < 0.5 {
		t.Errorf("the fault in the window peaks at %.2f: it is not scored", peak)
	}

	// The same fault running on 600 samples after the window.
	longer := runSilenced(t, cfg, window, ts, shifted(n, from, to+600, 3, 1))
	opened := -1
	for i, r := range longer[from:] {
		if r.Anomaly.Event == Opened {
			opened = from + i
			break
		}
	}
	if opened < to || opened > to+50 {
		t.Errorf("a fault outlasting the window: alert opened at sample %d, want within 50 samples of the window's end %d", opened, to)
	}
}

// TestSilenceSurvivesSnapshot: a snapshot taken inside a maintenance
// window carries the window's copy, so a restored detector goes on
// bit-identically.
func TestSilenceSurvivesSnapshot(t *testing.T) {
	const n, from, to, cut = 2600, 1500, 1900, 1700
	ts := times(n)
	window := []TimeRange{{ts[from], ts[to]}}
	xs := shifted(n, from, to+300, 3, 2)
	cfg := DefaultConfig()
	want := runSilenced(t, cfg, window, ts, xs)

	d, _ := New(cfg, 1)
	d.SetSilences(window)
	for i := range cut {
		d.Push(ts[i], []float64{xs[i]})
	}
	snap, err := d.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	restored, _ := New(cfg, 1)
	if err := restored.UnmarshalBinary(snap); err != nil {
		t.Fatal(err)
	}
	restored.SetSilences(window)
	for i := cut; i < n; i++ {
		for _, r := range restored.Push(ts[i], []float64{xs[i]}) {
			if r = kept(r); !reflect.DeepEqual(r, want[r.Seq]) {
				t.Fatalf("sample %d after restoring: %+v, want %+v", r.Seq, r, want[r.Seq])
			}
		}
	}
}

func TestSilenceConfigErrors(t *testing.T) {
	at := func(h int) string { return time.Date(2024, 3, 1, h, 0, 0, 0, time.UTC).Format(time.RFC3339) }
	for _, c := range []struct {
		s    Silence
		want string
	}{
		{Silence{From: "yesterday", To: at(2)}, `detector.silences[0].from: not an RFC 3339 time such as 2024-03-01T08:00:00Z (got "yesterday")`},
		{Silence{From: at(1)}, `detector.silences[0].to: not an RFC 3339 time`},
		{Silence{From: at(3), To: at(2)}, "detector.silences[0].to: must be after from=2024-03-01T03:00:00Z (got 2024-03-01T02:00:00Z)"},
		{Silence{Series: "pump-[", From: at(1), To: at(2)}, `detector.silences[0].series: not a path pattern (got "pump-[")`},
	} {
		cfg := DefaultConfig()
		cfg.Silences = []Silence{c.s}
		if err := cfg.Validate(1); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want %q", c.s, err, c.want)
		}
	}
	cfg := DefaultConfig()
	cfg.Silences = []Silence{{Series: "pump-*", From: at(4), To: at(5)}, {From: at(1), To: at(2)}, {Series: "fan", From: at(1), To: at(3)}}
	got := cfg.SilencesFor("pump-7")
	if len(got) != 2 || got[0].From != time.Date(2024, 3, 1, 1, 0, 0, 0, time.UTC).UnixNano() || got[1].To != time.Date(2024, 3, 1, 5, 0, 0, 0, time.UTC).UnixNano() {
		t.Errorf("SilencesFor(pump-7) = %v", got)
	}
}
