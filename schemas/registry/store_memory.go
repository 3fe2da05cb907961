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

// ReadFrom returns a copy of the records appended at positions from
// onwards; a record's position is its index.
func (m *MemoryStore) ReadFrom(_ context.Context, from int64) ([]Record, int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	end := int64(len(m.recs))
	if from >= end {
		return nil, end, nil
	}
	return append([]Record(nil), m.recs[max(from, 0):]...), end, nil
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
