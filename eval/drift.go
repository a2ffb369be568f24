package eval

import (
	"sort"

	"github.com/aewatch/aewatch/nab"
)

// DriftStats summarises drift alerts against labelled windows (a drift's
// ramp): a window is detected when a drift alert opens inside it (late when
// one opens only after it); openings before a window or in files without
// windows are false alarms.
type DriftStats struct {
	Files, Windows, Detected, Late int
	FalseAlarms                    int
	// Unwatched counts the windows that end before the drift monitor had
	// its reference (no drift can be alerted there).
	Unwatched  int
	Monitored  int       // samples tested for drift, over all channels
	Delays     []int     // samples from window start to the opening, detected windows
	DelayShare []float64 // the same, as a share of the window's length
	Missed     []string  // files with a window not detected in time
	Falsely    []string  // files with a false alarm
	// OnsetErrors are, for detected windows, the estimated onset minus the
	// window's start, in rows.
	OnsetErrors []int
}

// AddDrift scores one file's drift alert openings against its windows;
// firstMonitored is the first row the monitor tested (-1: none).
func (d *DriftStats) AddDrift(name string, times []int64, opened []DriftOpening, monitored, firstMonitored int, wins []nab.Window) {
	d.Files++
	d.Monitored += monitored
	explained := make([]bool, len(opened)) // inside or after a window
	for _, w := range wins {
		d.Windows++
		start := sort.Search(len(times), func(k int) bool { return times[k] >= w.Start })
		end := sort.Search(len(times), func(k int) bool { return times[k] > w.End })
		if firstMonitored < 0 || end <= firstMonitored {
			d.Unwatched++
		}
		first, late := -1, false // first: index in opened of the earliest opening inside
		for i, o := range opened {
			switch {
			case o.Row >= start && o.Row < end:
				explained[i] = true
				if first < 0 || o.Row < opened[first].Row {
					first = i
				}
			case o.Row >= end:
				explained[i], late = true, true
			}
		}
		switch {
		case first >= 0:
			row := opened[first].Row
			d.Detected++
			d.Delays = append(d.Delays, row-start)
			d.DelayShare = append(d.DelayShare, float64(row-start)/float64(max(1, end-start)))
			onsetRow := sort.Search(len(times), func(k int) bool { return times[k] >= opened[first].Onset })
			d.OnsetErrors = append(d.OnsetErrors, onsetRow-start)
		case late:
			d.Late++
			d.Missed = append(d.Missed, name)
		default:
			d.Missed = append(d.Missed, name)
		}
	}
	falsely := false
	for _, ok := range explained {
		if !ok {
			d.FalseAlarms++
			falsely = true
		}
	}
	if falsely {
		d.Falsely = append(d.Falsely, name)
	}
}

// MedianOnsetError returns the median absolute onset error in rows (-1:
// none).
func (d DriftStats) MedianOnsetError() int {
	if len(d.OnsetErrors) == 0 {
		return -1
	}
	a := make([]int, len(d.OnsetErrors))
	for i, e := range d.OnsetErrors {
		a[i] = max(e, -e)
	}
	sort.Ints(a)
	return a[len(a)/2]
}

// FalseAlarmsPer10k is false alarms per 10,000 monitored samples.
func (d DriftStats) FalseAlarmsPer10k() float64 {
	if d.Monitored == 0 {
		return 0
	}
	return 1e4 * float64(d.FalseAlarms) / float64(d.Monitored)
}

// MedianDelay returns the median delay in samples and as a share of the
// window, or -1s when nothing was detected.
func (d DriftStats) MedianDelay() (int, float64) {
	if len(d.Delays) == 0 {
		return -1, -1
	}
	a := append([]int(nil), d.Delays...)
	b := append([]float64(nil), d.DelayShare...)
	sort.Ints(a)
	sort.Float64s(b)
	return a[len(a)/2], b[len(b)/2]
}
