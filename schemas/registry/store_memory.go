package registry

import (
	"context"
	"sync"
)

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
