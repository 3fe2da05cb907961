package schemas

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
)

// TestConcurrentMissesShareOneFetch: goroutines that miss the cache for
// the same id at once wait for one fetch, and all get the same schema; a
// failed fetch is shared by its waiters but not cached, so the next lookup
// fetches again.
func TestConcurrentMissesShareOneFetch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		fail := true
		cf := &countingFetcher{next: func(ctx context.Context, id uint32) (string, error) {
			<-release
			if fail {
				return "", errors.New("registry down")
			}
			return StaticFetcher(ownTexts(t))(ctx, id)
		}}
		l, err := NewSchemaLookup(cf.fetch)
		if err != nil {
			t.Fatal(err)
		}
		const n = 8
		lookupAll := func() ([]any, []error) {
			var wg sync.WaitGroup
			got, errs := make([]any, n), make([]error, n)
			for i := range n {
				wg.Go(func() {
					s, err := l.Writer(context.Background(), 2)
					got[i], errs[i] = s, err
				})
			}
			synctest.Wait() // every goroutine is blocked: one in the fetch, the rest waiting on it
			close(release)
			wg.Wait()
			return got, errs
		}
		_, errs := lookupAll()
		if cf.count(2) != 1 {
			t.Fatalf("%d fetches for %d concurrent misses, want 1", cf.count(2), n)
		}
		for _, err := range errs {
			var se *SchemaIDError
			if !errors.As(err, &se) || se.ID != 2 || err.Error() != errs[0].Error() {
				t.Fatalf("waiter got %v, want the fetch's error", err)
			}
		}
		release, fail = make(chan struct{}), false
		got, errs := lookupAll()
		if cf.count(2) != 2 {
			t.Fatalf("%d fetches after a failure, want a second one", cf.count(2))
		}
		for i := range n {
			if errs[i] != nil || got[i] != got[0] || got[0] == nil {
				t.Fatalf("lookup %d: %v, %p (first %p)", i, errs[i], got[i], got[0])
			}
		}
		if _, err := l.Writer(context.Background(), 2); err != nil || cf.count(2) != 2 {
			t.Fatalf("cached lookup fetched again (%d) or failed: %v", cf.count(2), err)
		}
	})
}

// TestWaiterLeavesOnItsOwnCancel: a caller waiting on another's fetch stops
// waiting when its own context ends.
func TestWaiterLeavesOnItsOwnCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		l, _ := NewSchemaLookup(func(ctx context.Context, id uint32) (string, error) {
			<-release
			return "", ErrUnknownSchemaID
		})
		go l.Writer(context.Background(), 5)
		synctest.Wait()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() {
			_, err := l.Writer(ctx, 5)
			done <- err
		}()
		synctest.Wait()
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
		close(release)
	})
}
