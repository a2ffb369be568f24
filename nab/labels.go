package nab

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Window is a labelled anomaly window, inclusive at both ends, in Unix
// nanoseconds.
type Window struct{ Start, End int64 }

// Labels maps a corpus-relative file path (slash-separated) to its windows.
type Labels map[string][]Window

// LoadLabels reads a file in the format of NAB's combined_windows.json.
func LoadLabels(path string) (Labels, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("labels: %w", err)
	}
	var raw map[string][][]string
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	out := make(Labels, len(raw))
	for file, wins := range raw {
		for i, w := range wins {
			if len(w) != 2 {
				return nil, fmt.Errorf("parsing %s: %s window %d: want [start, end] (got %d values)", path, file, i, len(w))
			}
			s, err1 := parseLabelTime(w[0])
			e, err2 := parseLabelTime(w[1])
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("parsing %s: %s window %d: bad time in %q", path, file, i, w)
			}
			if e < s {
				return nil, fmt.Errorf("parsing %s: %s window %d: end %s before start %s", path, file, i, w[1], w[0])
			}
			out[file] = append(out[file], Window{s, e})
		}
		if _, ok := out[file]; !ok {
			out[file] = nil
		}
	}
	return out, nil
}

func parseLabelTime(s string) (int64, error) {
	for _, layout := range []string{"2006-01-02 15:04:05.999999", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UnixNano(), nil
		}
	}
	return 0, fmt.Errorf("bad time %q", s)
}

// Lookup finds the windows of a file given by its path relative to the
// directory it was found in: an exact key, or the key that ends with it.
func (l Labels) Lookup(rel string) ([]Window, bool) {
	rel = filepath.ToSlash(rel)
	if w, ok := l[rel]; ok {
		return w, true
	}
	var found []Window
	n := 0
	for k, w := range l {
		if strings.HasSuffix(k, "/"+rel) || strings.HasSuffix(rel, "/"+k) {
			found = w
			n++
		}
	}
	return found, n == 1
}
