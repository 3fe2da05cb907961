package registry

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// Registry is a Confluent-compatible schema registry over a Store. Reads
// are answered from memory; the memory is what the store holds, read in
// order (follow.go). Writes are serialised, made only by the instance
// whose writer claim is in force (fence.go), and reach memory by being
// read back from the store.
type Registry struct {
	cfg   config
	store Store

	writeMu    sync.Mutex // serialises writers: catch up, check, store, read back
	reservedID int        // highest id ever attempted; guarded by writeMu

	followMu  sync.Mutex          // serialises catch-ups
	next      int64               // store position after the last applied record; guarded by followMu
	me        writerRecordValue   // our claim; epoch 0 when read-only; set before the follow loop starts
	shadowed  map[string]struct{} // keys of records that did not count; guarded by followMu
	fencedOwn int                 // our records that did not count, over all catch-ups; guarded by followMu

	mu sync.RWMutex // guards st
	st *state

	closed     atomic.Bool
	stopFollow context.CancelFunc // ends the follow loop, and a read it is in
	followDone chan struct{}
}

// New builds a registry over store: it reads every record the store holds,
// claims the store as its writer (unless WithReadOnly) and follows what
// other instances append from then on. The registry owns the store from
// here on: Close closes it. An unreadable record gives a
// *CorruptRecordError.
func New(store Store, opts ...Option) (*Registry, error) {
	if store == nil {
		return nil, fmt.Errorf("%w: store is nil", ErrConfig)
	}
	cfg := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.instance == "" {
		cfg.instance = defaultInstance()
	}
	r := &Registry{cfg: cfg, store: store, st: newState()}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.writeTimeout)
	defer cancel()
	if err := r.loadAll(ctx); err != nil {
		return nil, err
	}
	if !cfg.readOnly {
		if err := r.claim(ctx); err != nil {
			return nil, err
		}
		if aerr := r.repair(ctx); aerr != nil {
			cfg.logger.Error("registry: repairing records a fenced writer shadowed failed; the next sync retries", "err", aerr)
		}
	}
	if cfg.followEvery > 0 {
		var followCtx context.Context
		followCtx, r.stopFollow = context.WithCancel(context.Background())
		r.followDone = make(chan struct{})
		// The ticker is made here, not in the loop, so time moved after
		// New returns is never missed.
		go r.follow(followCtx, cfg.clock.NewTicker(cfg.followEvery), r.followDone)
	}
	return r, nil
}

// Close stops following, cancelling a read under way so that Close does
// not wait on an unreachable broker, and closes the store. It is safe to
// call twice.
func (r *Registry) Close() error {
	if r.closed.Swap(true) {
		return nil
	}
	if r.stopFollow != nil {
		r.stopFollow()
		<-r.followDone
	}
	return r.store.Close()
}

// commit stores recs one at a time, stamped with this instance's claim,
// then reads the store back to its end, which applies them to the index in
// order with whatever others stored. Called with writeMu held, after
// writable. Storing one record at a time tells the registry exactly which
// records a failing store kept, and those take effect when read back, so
// the index stays what a restart would replay. The changes are built so
// that any prefix of their records is a valid state (a permanent delete
// writes MAX_ID before its tombstones), and retrying the request finishes
// the change. A store failure gives ErrStorage; records fenced by a newer
// claim give ErrNotWriter.
func (r *Registry) commit(ctx context.Context, recs ...Record) *Error {
	if r.closed.Load() {
		return apiErr(ErrStorage, "the registry is closed; nothing was changed")
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.writeTimeout)
	defer cancel()
	// Writes are serialised, so every record of ours that stops counting
	// between here and the read-back below is one of this change's.
	fencedBefore := r.fencedOwnCount()
	stored := 0
	var err error
	for _, rec := range recs {
		if err = r.store.Append(ctx, stamped(rec, r.me.Epoch)); err != nil {
			break
		}
		stored++
	}
	_, rerr := r.catchUp(ctx)
	fenced := r.fencedOwnCount() - fencedBefore
	if rerr != nil {
		r.cfg.logger.Error("registry: reading stored records back failed", "records", len(recs), "stored", stored, "err", rerr)
		return apiErr(ErrStorage, "%d of the change's %d records were stored but could not be read back, so whether they took effect is not known yet (check the broker, then read before retrying): %v",
			stored, len(recs), rerr)
	}
	if fenced > 0 {
		return r.notWriter("instance %s took over writing while this change was being stored, so %d of its %d records did not take effect",
			quoted(r.writerNow().Instance), fenced, len(recs))
	}
	if err == nil {
		return nil
	}
	r.cfg.logger.Error("registry: storing records failed", "records", len(recs), "stored", stored, "err", err)
	if stored == 0 {
		return apiErr(ErrStorage, "storing the change failed, so nothing was changed (check the broker, then retry): %v", err)
	}
	return apiErr(ErrStorage, "storing the change failed after %d of its %d records, which took effect (check the broker, then retry to finish it): %v",
		stored, len(recs), err)
}
