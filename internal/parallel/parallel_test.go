package parallel

import (
	"context"
	"errors"
	"sync"
	"testing"
)

func TestEachRunsEveryItemOnce(t *testing.T) {
	const n, workers = 100, 4
	var mu sync.Mutex
	seen := map[int]int{}
	err := Each(context.Background(), n, workers, func(_ context.Context, w, i int) error {
		if w < 0 || w >= workers {
			t.Errorf("worker %d outside [0, %d)", w, workers)
		}
		mu.Lock()
		seen[i]++
		mu.Unlock()
		return nil
	})
	if err != nil || len(seen) != n {
		t.Fatalf("err %v, %d items seen, want nil and %d", err, len(seen), n)
	}
	for i, k := range seen {
		if k != 1 {
			t.Errorf("item %d run %d times", i, k)
		}
	}
}

func TestEachStopsAtTheFirstError(t *testing.T) {
	const workers = 2
	boom := errors.New("boom")
	var mu sync.Mutex
	late := 0 // items begun once the failure had cancelled the context
	err := Each(context.Background(), 1000, workers, func(ctx context.Context, _, i int) error {
		if ctx.Err() != nil {
			mu.Lock()
			late++
			mu.Unlock()
		}
		if i == 10 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err %v, want boom", err)
	}
	// Each other worker may hold an item it took before the failure, and
	// the feeder may hand out one more while it sees the failure.
	if late > workers {
		t.Errorf("%d items begun after the failure, want at most %d", late, workers)
	}
}
