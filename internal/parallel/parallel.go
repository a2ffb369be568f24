// Package parallel runs numbered work items on a bounded number of
// goroutines, stopping at the first error: eval's files, produce's files.
//
// Concurrency: Each returns once every item it started has returned; do
// runs on several goroutines at once, each worker's calls one after
// another.
package parallel

import (
	"context"
	"sync"
)

// Each calls do for the items 0..n-1, handed out in order to at most
// workers goroutines (worker, in [0, workers), names the goroutine, for
// state it reuses between items). The first error cancels the context do
// is given, hands out no more items, and is returned once the started
// ones end; so is the cause of ctx ending.
func Each(ctx context.Context, n, workers int, do func(ctx context.Context, worker, item int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for w := range max(1, min(workers, n)) {
		wg.Go(func() {
			for i := range next {
				if err := do(ctx, w, i); err != nil {
					cancel(err)
				}
			}
		})
	}
feed:
	for i := range n {
		if ctx.Err() != nil {
			break // an item failed: select would hand out the next as readily
		}
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	return context.Cause(ctx)
}
