package registry

import "context"

// Record is one stored key/value pair, as on a compacted topic: a later
// record with the same key replaces an earlier one, and a nil Value (a
// tombstone) removes it.
type Record struct {
	Key   []byte
	Value []byte
}

// Store is where a registry keeps its records. Several registries may
// share one store (two processes on one _schemas topic): each follows what
// the others append, and the writer claim (fence.go) lets one of them write
// at a time.
type Store interface {
	// ReadFrom returns the records stored at positions from onwards,
	// oldest first, up to the end the store has when it is called, and
	// the position after them, where the next ReadFrom starts. Positions
	// only grow; ReadFrom(ctx, 0) returns every record. A position may
	// have no record (a compacted one is gone).
	ReadFrom(ctx context.Context, from int64) ([]Record, int64, error)
	// Append stores records in order and returns only once they are
	// durable. On error the first ones may be stored and the rest not;
	// the registry appends one record at a time, so it knows which.
	Append(ctx context.Context, recs ...Record) error
	// Close releases the store's connections. It is safe to call twice.
	Close() error
}
