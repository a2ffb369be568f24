package detector

import "fmt"

// AlertConfig sets the alert state machine that turns scores into a binary
// decision.
type AlertConfig struct {
	// Open is the score at or above which an alert opens.
	Open float64 `yaml:"open"`
	// Close is the score below which a sample counts towards closing.
	Close float64 `yaml:"close"`
	// CloseAfter is how many consecutive samples below Close close an alert.
	CloseAfter int `yaml:"close_after"`
	// MinGap is how many samples must pass after a close before a re-open.
	MinGap int `yaml:"min_gap"`
}

// DefaultAlertConfig returns the defaults.
func DefaultAlertConfig() AlertConfig {
	return AlertConfig{Open: 0.5, Close: 0.3, CloseAfter: 10, MinGap: 20}
}

// Validate names the first invalid field and its value.
func (c AlertConfig) Validate() error { return c.validate("detector.alert") }

func (c AlertConfig) validate(key string) error {
	switch {
	case !(c.Open > 0 && c.Open <= 1):
		return fmt.Errorf("%s.open: must be in (0, 1] (got %v)", key, c.Open)
	case !(c.Close >= 0 && c.Close <= c.Open):
		return fmt.Errorf("%s.close: must be in [0, %[1]s.open=%v] (got %v)", key, c.Open, c.Close)
	case c.CloseAfter < 1:
		return fmt.Errorf("%s.close_after: must be >= 1 (got %d)", key, c.CloseAfter)
	case c.MinGap < 0:
		return fmt.Errorf("%s.min_gap: must be >= 0 (got %d)", key, c.MinGap)
	}
	return nil
}

// Event says whether a sample opened or closed an alert.
type Event uint8

const (
	NoEvent Event = iota
	Opened
	Closed
)

func (e Event) String() string {
	switch e {
	case Opened:
		return "opened"
	case Closed:
		return "closed"
	}
	return "none"
}

// Outcome is one alert kind's state after a sample: the same type for the
// anomaly, drift and quality alerts.
type Outcome struct {
	Open     bool
	Event    Event
	Peak     float64      // with Closed: the alert's peak score
	Duration int64        // with Closed: nanoseconds from open to close
	Why      *Explanation // with an event: why it opened or closed
}

// alertState is the per-series alert state machine.
type alertState struct {
	cfg       AlertConfig
	open      bool
	below     int // consecutive samples below Close while open
	sinceShut int // samples since the last close
	peak      float64
	openedAt  int64
	length    int // samples the current alert has lasted
}

func newAlertState(cfg AlertConfig) alertState {
	return alertState{cfg: cfg, sinceShut: cfg.MinGap}
}

// step advances the machine by one scored sample at time t.
func (a *alertState) step(score float64, t int64) Event {
	if !a.open {
		a.sinceShut++
		if score >= a.cfg.Open && a.sinceShut > a.cfg.MinGap {
			a.open, a.below, a.peak, a.openedAt, a.length = true, 0, score, t, 1
			return Opened
		}
		return NoEvent
	}
	a.length++
	a.peak = max(a.peak, score)
	if score < a.cfg.Close {
		a.below++
		if a.below >= a.cfg.CloseAfter {
			a.open, a.sinceShut = false, 0
			return Closed
		}
	} else {
		a.below = 0
	}
	return NoEvent
}
