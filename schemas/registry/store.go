package registry

import "context"

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
	// durable. On error the first ones may be stored and the rest not;
	// the registry appends one record at a time, so it knows which.
	Append(ctx context.Context, recs ...Record) error
	// Close releases the store's connections. It is safe to call twice.
	Close() error
}
