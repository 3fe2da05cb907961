package registry

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// Registry is a Confluent-compatible schema registry over a Store. Reads
// are answered from memory; writes are serialised and reach memory only
// after the store acknowledged them.
type Registry struct {
	cfg   config
	store Store

	writeMu    sync.Mutex // serialises writers: check, store, apply
	reservedID int        // highest id ever attempted; guarded by writeMu

	mu sync.RWMutex // guards st
	st *state

	closed atomic.Bool
}

// New builds a registry over store, replaying every record the store holds.
// The registry owns the store from here on: Close closes it. An unreadable
// record gives a *CorruptRecordError.
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
	ctx, cancel := context.WithTimeout(context.Background(), cfg.writeTimeout)
	defer cancel()
	recs, err := store.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: loading stored schemas: %w", ErrStorage, err)
	}
	st := newState()
	for i, rec := range recs {
		if err := st.apply(rec); err != nil {
			return nil, &CorruptRecordError{Index: i, Key: string(rec.Key), Err: err}
		}
	}
	return &Registry{cfg: cfg, store: store, st: st}, nil
}

// Close closes the store. It is safe to call twice.
func (r *Registry) Close() error {
	if r.closed.Swap(true) {
		return nil
	}
	return r.store.Close()
}

// commit stores recs one at a time, then applies the stored ones to the
// index in one step, so readers see a change whole. Called with writeMu
// held. Storing one record at a time tells the registry exactly which
// records a failing store kept: those are applied, so the index stays what
// a restart would replay. The changes are built so that any prefix of
// their records is a valid state (a permanent delete writes MAX_ID before
// its tombstones), and retrying the request finishes the change. A store
// failure gives ErrStorage.
func (r *Registry) commit(ctx context.Context, recs ...Record) *Error {
	if r.closed.Load() {
		return apiErr(ErrStorage, "the registry is closed; nothing was changed")
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.writeTimeout)
	defer cancel()
	stored := 0
	var err error
	for _, rec := range recs {
		if err = r.store.Append(ctx, rec); err != nil {
			break
		}
		stored++
	}
	if aerr := r.apply(recs[:stored]); aerr != nil {
		return aerr
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

// apply applies stored records to the index.
func (r *Registry) apply(recs []Record) *Error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range recs {
		if err := r.st.apply(rec); err != nil {
			// Our own records always apply; this is a bug, reported
			// rather than hidden.
			return apiErr(ErrStorage, "applying a stored record failed: %v", err)
		}
	}
	return nil
}
