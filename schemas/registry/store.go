package registry

import (
	"context"
	"sync"
)

// Record is one stored key/value pair, as on a compacted topic: a later
// record with the same key replaces an earlier one, and a nil Value (a
// tombstone) removes it.
type Record struct {
	Key   []byte
	Value []byte
}

// Store is where a registry keeps its records. The registry is its only
// writer.
type Store interface {
	// Load returns every record stored so far, oldest first: those found
	// when the store was opened and those appended since.
	Load(ctx context.Context) ([]Record, error)
	// Append stores records in order and returns only once they are
	// durable; on error the registry acts as if none was written.
	Append(ctx context.Context, recs ...Record) error
	// Close releases the store's connections. It is safe to call twice.
	Close() error
}

// MemoryStore keeps records in memory, for tests and for a registry whose
// schemas may vanish with the process.
type MemoryStore struct {
	mu   sync.Mutex
	recs []Record
}

// NewMemoryStore returns an empty MemoryStore. A registry built over a
// MemoryStore that already holds records comes back with their state, as
// after a restart.
func NewMemoryStore() *MemoryStore { return &MemoryStore{} }

// Load returns a copy of every record appended so far.
func (m *MemoryStore) Load(context.Context) ([]Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Record(nil), m.recs...), nil
}

// Append keeps copies of recs.
func (m *MemoryStore) Append(_ context.Context, recs ...Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range recs {
		m.recs = append(m.recs, Record{Key: clone(r.Key), Value: clone(r.Value)})
	}
	return nil
}

// Close does nothing: the records stay, for a registry built later.
func (m *MemoryStore) Close() error { return nil }

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}
