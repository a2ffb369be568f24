package stream

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aewatch/aewatch/detector"
)

// MaxSilences bounds the maintenance windows set at run time; beyond it
// the ones that ended longest ago make room, and if none has ended a new
// one is refused.
const MaxSilences = 10000

// ErrTooManySilences: MaxSilences windows are set and none has ended.
var ErrTooManySilences = errors.New("too many maintenance windows are set")

// SilenceEntry is a maintenance window an operator set at run time.
type SilenceEntry struct {
	ID string `json:"id"`
	detector.Silence
	By      string    `json:"by"`
	Created time.Time `json:"created"`
}

// Silences holds the maintenance windows set at run time (POST /silence,
// aewatch silence, and those read back from the checkpoint topic), beside
// the configured ones; each series' shard applies them to its detector at
// the series' next sample after they change. Safe for concurrent use.
type Silences struct {
	mu      sync.Mutex
	byID    map[string]silence
	version atomic.Uint64 // bumped at every change
}

// silence is an entry with its window, parsed once when it was added.
type silence struct {
	SilenceEntry
	win detector.TimeRange
}

// NewSilences returns an empty set.
func NewSilences() *Silences { return &Silences{byID: map[string]silence{}} }

// NewSilenceID returns a fresh random identifier.
func NewSilenceID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// validID: identifiers travel in URLs and record keys.
func validID(id string) error {
	if id == "" || len(id) > 64 || strings.IndexFunc(id, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}) >= 0 {
		return fmt.Errorf("id: 1-64 letters, digits, '-' or '_' (got %q)", id)
	}
	return nil
}

// Add sets e, replacing a window of the same ID. Errors name the field
// and its value.
func (s *Silences) Add(e SilenceEntry, now time.Time) error {
	if err := validID(e.ID); err != nil {
		return err
	}
	win, err := e.Window()
	if err != nil {
		return err
	}
	if len(e.By) > 1024 {
		return fmt.Errorf("by: at most 1024 bytes (got %d)", len(e.By))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byID[e.ID]; !ok && len(s.byID) >= MaxSilences && !s.dropEnded(now) {
		return fmt.Errorf("%w (%d, none ended)", ErrTooManySilences, len(s.byID))
	}
	s.byID[e.ID] = silence{e, win}
	s.version.Add(1)
	return nil
}

// dropEnded removes the window that ended longest ago, if any (mu held).
func (s *Silences) dropEnded(now time.Time) bool {
	oldest, end := "", now.UnixNano()
	for id, e := range s.byID {
		if e.win.To <= end {
			oldest, end = id, e.win.To
		}
	}
	if oldest == "" {
		return false
	}
	delete(s.byID, oldest)
	return true
}

// Remove lifts the window id; it reports whether one was set.
func (s *Silences) Remove(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.byID[id]
	if ok {
		delete(s.byID, id)
		s.version.Add(1)
	}
	return ok
}

// List returns the windows sorted by start.
func (s *Silences) List() []SilenceEntry {
	s.mu.Lock()
	all := make([]silence, 0, len(s.byID))
	for _, e := range s.byID {
		all = append(all, e)
	}
	s.mu.Unlock()
	slices.SortFunc(all, func(a, b silence) int {
		if a.win.From != b.win.From {
			return int(min(1, max(-1, a.win.From-b.win.From)))
		}
		return strings.Compare(a.ID, b.ID)
	})
	out := make([]SilenceEntry, len(all))
	for i, e := range all {
		out[i] = e.SilenceEntry
	}
	return out
}

// Version changes whenever the set does.
func (s *Silences) Version() uint64 {
	if s == nil {
		return 0
	}
	return s.version.Load()
}

// For returns the windows set at run time that apply to series.
func (s *Silences) For(series string) []detector.TimeRange {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []detector.TimeRange
	for _, e := range s.byID {
		if e.Matches(series) {
			out = append(out, e.win)
		}
	}
	return out
}

// silenceKeyPrefix marks a maintenance window's record in the checkpoint
// topic; no detector key starts with a zero byte.
const silenceKeyPrefix = "\x00silence\x00"

// SaveSilence records a maintenance window set at run time (nil e: lifted)
// in the checkpoint topic, so that every instance reads it back at its
// next Load, after a restart or a rebalance.
func (k *KafkaCheckpoints) SaveSilence(ctx context.Context, id string, e *SilenceEntry) error {
	var value []byte // nil: a tombstone
	if e != nil {
		var err error
		if value, err = json.Marshal(e); err != nil {
			return err
		}
	}
	_, err := k.produce(ctx, 0, silenceKeyPrefix+id, value)
	return err
}

// readSilence applies one maintenance window's record to k.Silences.
func (k *KafkaCheckpoints) readSilence(id string, value []byte) {
	if k.Silences == nil {
		return
	}
	if len(value) == 0 {
		k.Silences.Remove(id)
		return
	}
	var e SilenceEntry
	err := json.Unmarshal(value, &e)
	if err == nil {
		e.ID = id
		err = k.Silences.Add(e, time.Now())
	}
	if err != nil && k.Log != nil {
		k.Log.Warn("a maintenance window's record in the checkpoint topic was skipped", "id", id, "err", err)
	}
}
