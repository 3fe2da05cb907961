// Following the store: a registry applies what other instances append, so
// a second instance serves every schema the writer registered, and the
// writer decides ids on everything stored (fence.go).

package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/matriz/pipelines/clock"
)

// WithClock sets the clock the follow loop ticks on. Default: the wall
// clock.
func WithClock(c clock.Clock) Option { return func(cfg *config) { cfg.clock = c } }

// WithFollowInterval sets how often the registry reads what others
// appended to its store. Writes catch up first whatever the interval.
// Default 1 s; 0 turns the loop off (Sync and writes still catch up).
func WithFollowInterval(d time.Duration) Option { return func(c *config) { c.followEvery = d } }

// Sync reads the store to its end and applies what other instances wrote,
// so a read after it sees everything stored before it began; the writer
// then repairs what a fenced writer's records shadow (repair.go).
func (r *Registry) Sync(ctx context.Context) error {
	if _, err := r.catchUp(ctx); err != nil {
		return err
	}
	if aerr := r.repair(ctx); aerr != nil {
		return aerr
	}
	return nil
}

// catchUp reads the store from where the registry stopped to its end and
// applies the records in order. It returns how many records stamped with
// this instance's epoch did not count: records of ours fenced by a newer
// claim; fencedOwn counts them over all catch-ups, since the follow loop
// may read a write's records back before the write does. An unreadable
// record from another writer is logged and skipped: the registry keeps
// serving what it has.
func (r *Registry) catchUp(ctx context.Context) (fencedMine int, err error) {
	r.followMu.Lock()
	defer r.followMu.Unlock()
	recs, next, err := r.store.ReadFrom(ctx, r.next)
	if err != nil {
		return 0, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, rec := range recs {
		ok, err := r.st.apply(rec)
		if err != nil {
			r.cfg.logger.Error("registry: skipping an unreadable stored record", "err", &CorruptRecordError{Index: int(r.next) + i, Key: string(rec.Key), Err: err})
			continue
		}
		if !ok {
			r.noteShadow(rec)
			if r.me.Epoch > 0 && stampOf(rec) == r.me.Epoch {
				fencedMine++
			}
		}
	}
	r.next = next
	r.fencedOwn += fencedMine
	return fencedMine, nil
}

// stampOf is the writer epoch a stored value carries, 0 without one.
func stampOf(rec Record) int {
	var s stampField
	if len(rec.Value) == 0 || json.Unmarshal(rec.Value, &s) != nil {
		return 0
	}
	return s.WriterEpoch
}

// follow catches up every followEvery until ctx ends. Failures are
// logged once per change of error, not once per tick.
func (r *Registry) follow(ctx context.Context, t clock.Ticker, done chan<- struct{}) {
	defer close(done)
	defer t.Stop()
	var lastErr string
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		tctx, cancel := context.WithTimeout(ctx, r.cfg.writeTimeout)
		err := r.Sync(tctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		switch {
		case err != nil && err.Error() != lastErr:
			r.cfg.logger.Error("registry: following the store failed; serving what was read so far", "err", err)
			lastErr = err.Error()
		case err == nil && lastErr != "":
			r.cfg.logger.Info("registry: following the store again")
			lastErr = ""
		}
	}
}

// loadAll reads every stored record at start. An unreadable record stops
// the start with a *CorruptRecordError: a registry that skipped one could
// give its id out again.
func (r *Registry) loadAll(ctx context.Context) error {
	recs, next, err := r.store.ReadFrom(ctx, 0)
	if err != nil {
		return fmt.Errorf("%w: loading stored schemas: %w", ErrStorage, err)
	}
	for i, rec := range recs {
		ok, err := r.st.apply(rec)
		if err != nil {
			return &CorruptRecordError{Index: i, Key: string(rec.Key), Err: err}
		}
		if !ok {
			r.noteShadow(rec)
		}
	}
	r.next = next
	return nil
}

// fencedOwnCount is how many of our records did not count so far.
func (r *Registry) fencedOwnCount() int {
	r.followMu.Lock()
	defer r.followMu.Unlock()
	return r.fencedOwn
}
